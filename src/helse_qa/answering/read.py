"""Read: the retrieved passages -> their candidate sentences, scored, best first.

The stage between retrieval and the decision (:mod:`.decide`). Every sentence of the
passages is scored by the hand-weighted heuristic (:func:`.heuristic.support_scores`:
similarity, word overlap, the question's kind); headings, captions and schedule lines are
no candidates (:func:`.scored.quotable`). Then, by the settings:

- **the heuristic with the reader ordering** (default, ``reader_orders = true``): a list
  question's lead-in with its items and a label or chart the question names go first
  (:mod:`.list_answers`); otherwise the trained reader chooses the first quote among the
  heuristic's best (:func:`reader_first`);
- **the heuristic alone** (``reader_orders = false``): no reader is loaded;
- **the reader deciding** (``answer_scorer = "reader"``): the reader's probability replaces
  the heuristic's score for the heuristic's best ``reader_candidates`` (:func:`reader_scores`).

What a sentence is in its passage (a lead-in, a chart caption, the sentence it leans on)
lives in :mod:`.scored`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from helse_qa.answering.heuristic import MONEY, asks_money, support_scores
from helse_qa.answering.list_answers import is_item_line, promote_list, promote_named
from helse_qa.answering.names import without_markup
from helse_qa.answering.scored import ScoredSentence, figure_lines, quotable
from helse_qa.models.reader import Reader
from helse_qa.text.analysis import Analyzer
from helse_qa.text.listing import as_read, asks_breakdown, is_list_question
from helse_qa.types import Hit, SentenceInContext, SentenceRecord


@dataclass(frozen=True)
class Passages:
    """The retrieved passages with the records and vectors of their sentences."""

    hits: Sequence[Hit]
    records: Sequence[SentenceRecord]
    vectors: np.ndarray

    def every_sentence(self) -> list[ScoredSentence]:
        """Every sentence of the passages, unscored (the reader's context: the sentence
        before each)."""
        ranked = {h.chunk.chunk_id: (i + 1, h) for i, h in enumerate(self.hits)}
        return [
            ScoredSentence(r, r.text_in(hit.chunk), hit, rank, 0.0)
            for r in self.records
            if r.chunk_id in ranked
            for rank, hit in [ranked[r.chunk_id]]
        ]

    def vector_of(self) -> dict[str, np.ndarray]:
        return {r.sentence_id: v for r, v in zip(self.records, self.vectors, strict=True)}


@dataclass(frozen=True)
class Reading:
    """The candidates, best first. ``promoted``: a lead-in, label or chart was put first
    for what the question asks (the reader does not reorder it)."""

    scored: list[ScoredSentence]
    promoted: bool = False


def heuristic(
    question: str, query_vector: np.ndarray, passages: Passages, analyzer: Analyzer
) -> list[ScoredSentence]:
    """The quotable sentences with the heuristic's support (0..1), best first."""
    support = support_scores(
        question, query_vector, passages.hits, passages.records, passages.vectors, analyzer
    )
    scored = [ScoredSentence(r, t, h, rank, p) for r, t, h, rank, p in support]
    return [s for s in scored if quotable(s)]


def promoted(
    question: str,
    scored: list[ScoredSentence],
    passages: Passages,
    query_vector: np.ndarray,
    analyzer: Analyzer,
    embed: Callable[[list[str]], np.ndarray],
) -> Reading:
    """A list question's lead-in with its items, then a label or chart the question
    names, put first (:mod:`.list_answers`)."""
    if not scored:
        return Reading(scored)
    scored = promote_list(question, scored, passages.vector_of(), query_vector, embed, analyzer)
    before = scored[0] if scored else None
    if before is not None and figure_lines(before) and asks_breakdown(question):
        # the chart a breakdown question reads is chosen by its caption (promote_list);
        # a row label it names ("helseindustrien" in another chart) does not override it
        return Reading(scored)
    scored = promote_named(question, scored, analyzer)
    return Reading(scored, bool(scored) and scored[0] is not before)


def in_context(s: ScoredSentence, by_chunk: dict[str, list[ScoredSentence]]) -> SentenceInContext:
    """The sentence as the reader was trained to see it: the heading of its passage (or
    the document title) and the sentence before it in the passage."""
    chunk = s.hit.chunk
    heading = chunk.section[-1] if chunk.section else chunk.title
    previous = ""
    for other in by_chunk.get(chunk.chunk_id, []):
        if other.record.end <= s.record.start:
            previous = other.text
    # a chart row is read with its caption ("Helseindustrien – omsettning 2017 · Legemidler:
    # 26 mrd"), not after the row above it
    text = as_read(chunk.text, s.record.start - chunk.start, s.record.end - chunk.start)
    return SentenceInContext(text, "" if text != s.text else previous, heading)


def reader_scores(
    question: str,
    candidates: Sequence[ScoredSentence],
    every: Sequence[ScoredSentence],
    reader: Reader,
) -> list[ScoredSentence]:
    """``candidates`` with the reader's P(answers the question) as their probability,
    best first. ``every`` holds all sentences of the passages (for the sentence before
    each)."""
    by_chunk: dict[str, list[ScoredSentence]] = {}
    for s in sorted(every, key=lambda s: s.record.start):
        by_chunk.setdefault(s.record.chunk_id, []).append(s)
    # the reader reads words: "<b>Hvem</b> leder ..." is read as "Hvem leder ..."
    scores = reader.score(without_markup(question), [in_context(s, by_chunk) for s in candidates])
    floor = reader.span_threshold
    out = [
        replace(s, probability=r.p_answer, span=r.span if r.span_p >= floor else None)
        for s, r in zip(candidates, scores, strict=True)
    ]
    out.sort(key=lambda s: (-s.probability, s.rank, s.record.start))
    return out


def key(s: ScoredSentence) -> tuple[str, int, int]:
    """What the reader read of ``s``: its passage and its span there."""
    return (s.record.chunk_id, s.record.start, s.record.end)


def reader_first(
    question: str,
    scored: list[ScoredSentence],
    passages: Passages,
    reader: Callable[[], Reader],
    threshold: float,
    candidates: int,
    seen: dict[tuple[str, int, int], float] | None = None,
) -> list[ScoredSentence]:
    """The heuristic's sentences with the reader's choice first: among those above the
    heuristic's threshold (the best ``candidates``), the one the reader gives the highest
    P(answers the question); the rest keep the heuristic's order, so whether to answer and
    what else is quoted stay the heuristic's. A list question, or one whose best line is a
    list item or a lead-in ending in ':', keeps the heuristic's order (a lead-in with its
    items: the reader judges sentences, not lists); item lines are not read (the reader was
    trained on sentences). ``reader`` gives the reader, loaded on first use.

    Measured (docs/experiments, 'The reader'): reordering every candidate by the reader
    quoted more answer facts on the gold set but lost a list's lead-in on
    eval/answers.jsonl; reading item lines too took gold first_quote_fact from 0.638 to
    0.631."""
    best = scored[0]
    if (
        is_list_question(question)
        or is_item_line(best.text)
        or best.text.rstrip().endswith(":")
        or best.probability < threshold
    ):
        return scored
    above = [s for s in scored if s.probability >= threshold and not is_item_line(s.text)]
    above = above[:candidates]
    if asks_money(question) and any(MONEY.search(s.text) for s in above):
        # a question about a sum of money is answered by a sentence that gives one: the
        # reader alone put "Bare i 2017 vokste … eksport med om lag 15 prosent" above
        # "eksportinntektene utgjorde 23,6 milliarder kroner" (issue 36)
        above = [s for s in above if MONEY.search(s.text)]
    if len(above) < 2:
        if above and above[0] is not scored[0]:
            return [above[0], *(s for s in scored if s is not above[0])]
        return scored
    every = passages.every_sentence()
    read = reader_scores(question, above, every, reader())
    if seen is not None:  # what the reader said, for the confidence judge to reuse
        seen.update({key(s): s.probability for s in read})
    first = read[0].record.sentence_id
    return [s for s in scored if s.record.sentence_id == first] + [
        s for s in scored if s.record.sentence_id != first
    ]
