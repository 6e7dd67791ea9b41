"""Sentence support (answering/heuristic.py) with the real model and the corpus analyzer."""

from __future__ import annotations

from helse_qa.answering.heuristic import support_scores
from helse_qa.storage.vectors import chunk_sentences
from helse_qa.types import Chunk, Hit


def _chunk(cid: str, text: str) -> Chunk:
    return Chunk(cid, "d", "T", "nb", text, 0, len(text), None, (), 0)


def test_a_passage_without_the_asked_year_is_penalised(corpus_assistant, embedder):
    """Two passages with the same first sentence; only the lower-ranked one gives the year
    the question asks about. Without the year penalty the higher rank would win."""
    same = "Eksportinntektene utgjorde 23,6 milliarder kroner."
    with_year = _chunk("d:with", f"{same} Tallene gjelder 2022.")
    without = _chunk("d:without", f"{same} Tallene gjelder 2017.")
    hits = [Hit(without, 0.5, dense_score=0.8), Hit(with_year, 0.4, dense_score=0.8)]
    records = [r for h in hits for r in chunk_sentences(h.chunk)]
    vectors = embedder.embed_passages(
        [r.text_in(h.chunk) for h in hits for r in chunk_sentences(h.chunk)]
    )
    question = "Hva var eksportinntektene i 2022?"
    analyzer = corpus_assistant.index.retriever.lexical.analyzer
    scored = support_scores(
        question, embedder.embed_queries([question])[0], hits, records, vectors, analyzer
    )
    first = {hit.chunk.chunk_id: support for _, text, hit, _, support in scored if text == same}
    assert first["d:with"] > first["d:without"]
