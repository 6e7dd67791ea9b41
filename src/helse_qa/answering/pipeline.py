"""The answer path: a question (with its conversation) -> a cited :class:`Answer`.

The only place the stages are wired, in this order::

    question.py   clean the question; a follow-up's retrieval query from its turns
    retrieve.py   the passages: chunk vectors + BM25, fused
    read.py       the passages' sentences, scored (heuristic; the reader orders or scores)
    decide.py     abstain / near miss / fact / list / overview (a Selection)
    compose.py    the text with [n] markers and verbatim citations
    generate.py   LLM mode only: the model writes, verify.py checks every sentence while
                  it streams; the extractive answer is the fallback

The :class:`~helse_qa.assistant.Assistant` owns the index's lifecycle and hands the
pipeline one :class:`LoadedIndex` per question (a generation stays open while a question
uses it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from helse_qa.answering import overview
from helse_qa.answering.compose import compose, language_note
from helse_qa.answering.confidence import (
    WEAK_CANDIDATES,
    Thresholds,
    about_topic,
    closest,
    further_kept,
    judge,
    naming_first,
    pair_group,
    shape_doubt,
    units,
    weak_outcome,
)
from helse_qa.answering.decide import (
    HEURISTIC_RUNNER_UP,
    HEURISTIC_THRESHOLD,
    adds_fact,
    decide,
    decide_overview,
    decide_with_reader,
)
from helse_qa.answering.generate import condense, llm_answer
from helse_qa.answering.list_answers import is_item_line
from helse_qa.answering.question import Turn, retrieval_query, topic_of
from helse_qa.answering.read import (
    Passages,
    heuristic,
    key,
    promoted,
    reader_first,
    reader_scores,
)
from helse_qa.answering.retrieve import Retriever
from helse_qa.answering.scored import ScoredSentence, Selection, quotable, row_caption_of
from helse_qa.answering.sentence_vectors import SentenceVectors
from helse_qa.config import Settings
from helse_qa.errors import ConfigError, LLMError
from helse_qa.messages import DENSE_MISSING, FALLBACK, UNSURE, say
from helse_qa.models.embedding import Embedder
from helse_qa.models.llm import LLM, make_llm
from helse_qa.models.reader import Reader
from helse_qa.storage.layout import Manifest
from helse_qa.text.analysis import Analyzer
from helse_qa.text.language import detect_language
from helse_qa.types import Answer, Chunk, Hit, RetrievalMode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedIndex:
    """One index generation, opened: what a question is answered from."""

    generation: Path
    manifest: Manifest
    retriever: Retriever
    # Each document's chunks in reading order (overviews, list items after a lead-in);
    # built once per generation, not per question.
    by_doc: dict[str, list[Chunk]]


@dataclass(frozen=True)
class Asked:
    """A question as the read and decide stages take it: its text and language, its query
    vector, the passages retrieval found, the documents it is limited to, and ``topic``,
    the retrieval query (a follow-up with the turns it leans on)."""

    question: str
    language: str
    vector: Any
    hits: list[Hit]
    doc_ids: Sequence[str] | None = None
    topic: str = ""


class AnswerPipeline:
    """The stages, with the models they need (the reader and the LLM load on first use)."""

    def __init__(
        self, settings: Settings, embedder: Embedder, sentence_vectors: SentenceVectors
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.sentence_vectors = sentence_vectors
        self._reader: Reader | None = None
        self._reader_lock = threading.Lock()
        self._llm: LLM | None = None
        self._thresholds: Thresholds | None = None

    @property
    def thresholds(self) -> Thresholds:
        """The answer decision's calibrated thresholds (loaded on first use)."""
        if self._thresholds is None:
            self._thresholds = Thresholds.load()
        return self._thresholds

    @property
    def reader(self) -> Reader:
        """The trained reader (loaded once: the packaged base model and the shipped delta,
        run in numpy)."""
        with self._reader_lock:
            if self._reader is None:
                from helse_qa.models.embedding import resolve_model
                from helse_qa.models.reader import DEFAULT_WEIGHTS_DIR, load_reader

                ref = resolve_model(self.settings, prepare=True)
                if ref.local_dir is None:
                    raise ConfigError(
                        "the reader needs the packaged base model - set embedding_model to "
                        "'default' or to a local multilingual-e5-small directory, or answer "
                        "without the reader: reader_orders = false (HELSE_QA_READER_ORDERS="
                        "false) and answer_scorer other than 'reader'"
                    )
                self._reader = load_reader(
                    ref.local_dir, self.settings.reader_weights or DEFAULT_WEIGHTS_DIR
                )
            return self._reader

    def preload_reader(self) -> threading.Thread:
        """Load the reader in a background thread (a fresh ``helse-qa ask`` overlaps it with
        opening the index: numpy releases the GIL for most of the load). A failure is left
        for the first use to raise, in the caller's thread, with its message."""

        def load() -> None:
            try:
                _ = self.reader
            except Exception:  # raised again, where it can be reported, on first use
                log.debug("background reader load failed", exc_info=True)

        thread = threading.Thread(target=load, name="helse-qa-reader-load", daemon=True)
        thread.start()
        return thread

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = make_llm(self.settings)
        return self._llm

    def run(
        self,
        index: LoadedIndex,
        question: str,
        history: Sequence[Turn],
        k: int,
        doc_ids: Sequence[str] | None,
        retrieval: RetrievalMode,
    ) -> Iterator[str | Answer]:
        """Answer a checked question from ``index``: yields the LLM's checked sentences as
        they stream (LLM mode only), then the final Answer."""
        settings = self.settings
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        language = detect_language(question, default="en")
        notices: list[str] = []
        query = retrieval_query(question, history, settings.history_turns)
        on_topic = query == topic_of(question)  # "What does the report say about X?": X
        if settings.answer_mode == "llm" and query != question and not on_topic:
            query = condense(self.llm, settings, question, history, notices) or query
        # the sentences of a topic question are read for the topic, not the frame around it
        texts = [question] if query == question else [query] if on_topic else [question, query]
        vectors = self.embedder.embed_queries(texts)
        q_vec, r_vec = vectors[0], vectors[-1]
        t1 = time.perf_counter()
        timings["embed"] = (t1 - t0) * 1000
        hits = index.retriever.search(query, r_vec, k, doc_ids, retrieval, query_language=language)
        t2 = time.perf_counter()
        timings["retrieve"] = (t2 - t1) * 1000
        if retrieval != "bm25" and hits and all(h.dense_rank is None for h in hits):
            notices.append(DENSE_MISSING[language])  # logged as an error by the retriever
        answer = self.extractive(index, Asked(question, language, q_vec, hits, doc_ids, query))
        answer = replace(answer, retrieval_query=query)
        if settings.answer_mode == "llm" and hits:
            try:
                answer = yield from llm_answer(
                    self.llm, settings, self.embedder, index.retriever, answer, hits
                )
                notices += [answer.notice] if answer.notice else []
            except LLMError as exc:
                notices.append(f"{exc} - {FALLBACK[language]}")
                log.warning("LLM answer failed, extractive fallback: %s", exc)
        timings["answer"] = (time.perf_counter() - t2) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        yield replace(answer, notice=" ".join(notices), timings_ms=timings)

    def extractive(self, index: LoadedIndex, asked: Asked) -> Answer:
        """Quote what answers: a fact, a list, an overview; a near miss; or abstain."""
        question, language = asked.question, asked.language
        if asked.hits and overview.is_overview_question(question):
            selection = self._overview(index, asked)
        else:
            selection = self._select(index, asked)
        passages = list(asked.hits)
        known = {h.chunk.chunk_id for h in passages}
        for chosen in selection.chosen:  # a cited passage is among those shown
            if chosen.hit.chunk.chunk_id not in known:
                passages.append(chosen.hit)
                known.add(chosen.hit.chunk.chunk_id)
        text, citations = compose(selection, language)
        return Answer(
            question=question,
            text=text,
            citations=citations,
            abstained=not selection.answers,
            passages=tuple(passages),
            language=language,
            kind=selection.kind,
            language_note=language_note(selection.chosen, language) if citations else "",
            confidence=selection.confidence
            if selection.confidence is not None
            else (selection.chosen[0].probability if selection.chosen else None),
        )

    def _select(self, index: LoadedIndex, asked: Asked) -> Selection:
        """read -> decide over the retrieved passages."""
        question, language, q_vec, hits = asked.question, asked.language, asked.vector, asked.hits
        settings = self.settings
        use_reader = settings.answer_scorer == "reader"
        threshold = settings.abstain_threshold
        if threshold is None:
            threshold = self.reader.threshold if use_reader else HEURISTIC_THRESHOLD
        analyzer = index.retriever.lexical.analyzer
        following = [
            Hit(c, 0.0)
            for h in hits
            for c in index.by_doc.get(h.chunk.doc_id, [])
            if 0 < c.ordinal - h.chunk.ordinal <= 2
        ]
        if not hits:
            return Selection(kind="abstain")
        passages = self._passages(index, hits)
        scored = heuristic(question, q_vec, passages, analyzer)
        if use_reader:
            every = passages.every_sentence()
            read = reader_scores(question, scored[: settings.reader_candidates], every, self.reader)
            most = min(2, settings.max_answer_sentences)
            return decide_with_reader(
                question, read, threshold, language, self.reader, every, most, following
            )
        reading = promoted(
            question, scored, passages, q_vec, analyzer, self.embedder.embed_passages
        )
        scored = reading.scored
        seen: dict[tuple[str, int, int], float] = {}  # the reader's P, read once
        if scored and settings.reader_orders and not reading.promoted:
            scored = reader_first(
                question,
                scored,
                passages,
                lambda: self.reader,
                threshold,
                settings.reader_order_candidates,
                seen,
            )
        further = settings.runner_up if settings.runner_up is not None else HEURISTIC_RUNNER_UP
        selection = decide(
            question,
            scored,
            threshold,
            further,
            settings.max_answer_sentences,
            language,
            analyzer,
            following,
            asked.topic,
        )
        weak = (
            settings.answer_confidence
            and settings.abstain_threshold is None  # a threshold the user set decides alone
            and selection.kind == "abstain"
            and not selection.lead  # a decline with its reason ("not about Sweden") stands
            and bool(scored)
            and scored[0].probability < threshold
            and not reading.promoted
        )
        if weak:  # the heuristic finds too little support: the reader reads its best ones
            selection = (
                self._weak_support(
                    asked, scored, passages, threshold, further, analyzer, following, seen
                )
                or selection
            )
        # A chart row put first because the question names its label and a word of its
        # caption stands on that match, as a named chart or label did before it (the
        # reader, trained on sentences, gave the row "Diagnostikk: 54%" with its caption P
        # 0.099 for gold en-004, "What share of the health industry's 2017 exports came from
        # diagnostics?", and hedged a right answer; issue 37)
        named_row = (
            reading.promoted
            and selection.kind == "fact"
            and bool(selection.chosen)
            and selection.chosen[0].record == scored[0].record
            and bool(row_caption_of(scored[0]))
        )
        if named_row:  # the row answers; nothing else is quoted beside it (no padding)
            selection = replace(selection, chosen=selection.chosen[:1])
        judged = selection.kind == "fact" and bool(selection.chosen) and not named_row
        if settings.answer_confidence and judged:
            # the question as asked: a follow-up read with its earlier turns prefixed
            # ("... i 2017? Og eksporten?") kept as many wrong and one right fewer
            kinds = {d: e.kind for d, e in index.manifest.documents.items()}
            named = overview.named_document(question, asked.doc_ids, kinds)
            selection = self._judge(question, language, selection, passages, seen, analyzer, named)

        return selection

    def _weak_support(
        self,
        asked: Asked,
        scored: Sequence[ScoredSentence],
        passages: Passages,
        threshold: float,
        further: float,
        analyzer: Analyzer,
        following: Sequence[Hit],
        seen: dict[tuple[str, int, int], float],
    ) -> Selection | None:
        """Where the heuristic would decline for weak support: the reader's best of the
        heuristic's best sentences as the answer, or under "not sure", by the calibrated
        thresholds (:func:`weak_outcome`); None: the decline stands. The sentence still
        passes the question's checks (``decide``: part or whole, counts, names …)."""
        question, language = asked.question, asked.language
        candidates = [s for s in scored if quotable(s) and not is_item_line(s.text)]
        if not candidates:
            return None
        read = reader_scores(
            question, candidates[:WEAK_CANDIDATES], passages.every_sentence(), self.reader
        )
        seen.update({key(s): s.probability for s in read})  # the judge reads none again
        best = read[0]
        group = pair_group(language, detect_language(best.text, default=best.hit.chunk.language))
        outcome = weak_outcome(best.probability, group, self.thresholds)
        if outcome == "abstain":
            return None
        lifted = replace(best, probability=max(best.probability, threshold))
        decided = decide(
            question, [lifted], threshold, further, 1, language, analyzer, following, asked.topic
        )
        if outcome == "fact" and decided.kind == "fact" and decided.chosen:
            return replace(decided, confidence=best.probability)
        quotes = decided.chosen if decided.kind == "fact" and decided.chosen else [best]
        return Selection(closest(quotes), "unsure", say(UNSURE, language), best.probability)

    def _judge(
        self,
        question: str,
        language: str,
        selection: Selection,
        passages: Passages,
        seen: dict[tuple[str, int, int], float],
        analyzer: Analyzer,
        named: str = "",
    ) -> Selection:
        """The fact answer kept, hedged or declined by the reader's confidence in its
        first quote (answering/confidence.py); one that stands keeps only the further
        quotes the reader is as sure of and that add content. A topic question whose
        first quote holds its topic (in the document it names, ``named``) is answered with
        the quotes that hold it."""
        thresholds = self.thresholds
        chosen = selection.chosen
        unread = [head for head, *_ in units(chosen) if key(head) not in seen]  # not items
        if unread:
            read = reader_scores(question, unread, passages.every_sentence(), self.reader)
            seen.update({key(s): s.probability for s in read})

        def probability(s: ScoredSentence) -> float:
            return seen[key(s)]

        def group(s: ScoredSentence) -> str:
            return pair_group(language, detect_language(s.text, default=s.hit.chunk.language))

        def sure(s: ScoredSentence) -> bool:
            return probability(s) >= thresholds.answer[group(s)]

        chosen = naming_first(question, chosen, sure)
        selection = replace(selection, chosen=chosen)
        first = chosen[0]
        doubt = shape_doubt(question, chosen)
        judged = judge(selection, probability(first), group(first), thresholds, language, doubt)
        topic = topic_of(question)
        if judged.kind != "fact" and topic:
            return about_topic(selection, topic, analyzer, probability(first), named) or judged
        if judged.kind != "fact":
            return judged
        kept = further_kept(chosen, sure, adds_fact)
        return replace(judged, chosen=kept)

    def _overview(self, index: LoadedIndex, asked: Asked) -> Selection:
        """An overview of the document the question is about (or one short block per
        document when it asks about the whole collection), over every sentence of it."""
        question, hits, doc_ids = asked.question, asked.hits, asked.doc_ids
        kinds = {d: e.kind for d, e in index.manifest.documents.items()}
        allowed = [d for d in kinds if not doc_ids or d in doc_ids]
        if overview.is_collection_request(question) and len(allowed) > 1:
            docs, most = allowed, overview.COLLECTION_SENTENCES  # one short block per document
        else:
            docs = [overview.overview_document(question, hits, doc_ids, kinds)]
            most = overview.OVERVIEW_SENTENCES
        documents = []
        for doc in docs:
            passages = self._passages(index, [Hit(c, 0.0) for c in index.by_doc.get(doc, [])])
            documents.append((passages.every_sentence(), passages.vector_of()))
        return decide_overview(question, documents, asked.vector, most)

    def _passages(self, index: LoadedIndex, hits: Sequence[Hit]) -> Passages:
        """The passages with their sentences' records and vectors (stored, cached or made
        now: ``sentence_encoding``)."""
        records, vectors = self.sentence_vectors.get(index.retriever.store, [h.chunk for h in hits])
        return Passages(hits, records, vectors)
