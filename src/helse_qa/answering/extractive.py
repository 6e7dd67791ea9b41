"""Extractive answers: pick the retrieved sentences that answer the question, cite them.

Each sentence of the retrieved passages gets a support score from its embedding
similarity to the question (cross-lingual: works for an English question about Norwegian
text) and the share of the question's content words it contains. The best sentences are
quoted verbatim with [n] markers; when even the best is below the abstention threshold
the assistant says it could not find the answer and shows the closest passages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from helse_qa.config import Settings
from helse_qa.messages import ABSTAIN_MESSAGES
from helse_qa.text.analysis import Analyzer, words
from helse_qa.types import Citation, Hit, SentenceRecord

# Cosine similarities of e5 models live in a narrow band; this maps it onto 0..1.
_COS_FLOOR = 0.76
_COS_SPAN = 0.14
_SENTENCE_WEIGHT = 0.3
_NUMBER_BONUS = 0.1  # a question about a quantity or date prefers sentences with digits
_PASSAGE_WEIGHT = 0.15
_QUANTITY = re.compile(
    r"\b(how (much|many|large|big)|hvor (mye|mange|stor|store|høy|høye)|share|andel|"
    r"percent|prosent|amount|beløp|turnover|omsetning|omsatte|revenue|inntekt\w*|"
    r"when|når|what year|hvilket år|date|dato|number|antall)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
# A short label line is worth quoting only when it carries a figure ("Diagnostikk: 54%",
# "Legemidler: 26 mrd"), not just a year.
_FIGURE = re.compile(r"(?<!\d)(?!(?:19|20)\d\d(?!\d))\d+(?:[.,]\d+)?")
_WHEN = re.compile(r"\b(when|når|what year|which year|hvilket år|date|dato|hvilken dato)\b", re.I)
_DATE = re.compile(
    r"\b(1[89]\d\d|20\d\d)\b|\b(januar[y]?|februar[y]?|march|mars|april|may|mai|june?|juni|"
    r"july|juli|august|september|o[ck]tober|november|de[cs]ember)\b",
    re.I,
)
_DUPLICATE_OVERLAP = 0.8  # share of the shorter sentence's words found in the other
_LIST_ITEMS = 6  # lines quoted after a sentence that introduces a list
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
# A question that names a year the passage never mentions is a near miss (asked about
# 2022, the text is about 2017): its support is scaled down by this factor.
_YEAR_MISMATCH = 0.6  # a second sentence must score at least this share of the best


@dataclass(frozen=True)
class SupportWeights:
    """How a sentence's support score is made (chosen by measurement on the check set)."""

    sentence: float = _SENTENCE_WEIGHT
    passage: float = _PASSAGE_WEIGHT
    number_bonus: float = _NUMBER_BONUS
    rank_bonus: float = 0.04


def _squash(cos: float) -> float:
    return float(np.clip((cos - _COS_FLOOR) / _COS_SPAN, 0.0, 1.0))


@dataclass(frozen=True)
class ScoredSentence:
    record: SentenceRecord
    text: str
    hit: Hit
    rank: int  # 1-based rank of its passage
    dense: float
    lexical: float
    support: float


def score_sentences(
    question: str,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    records: Sequence[SentenceRecord],
    vectors: np.ndarray,
    analyzer: Analyzer,
    weights: SupportWeights = SupportWeights(),
) -> list[ScoredSentence]:
    """Support score in 0..1 for every sentence of the retrieved passages, best first."""
    by_chunk = {h.chunk.chunk_id: (i + 1, h) for i, h in enumerate(hits)}
    concepts = analyzer.query_concepts(question)
    idf = [analyzer.idf(c) for c in concepts]
    total_idf = sum(idf)
    wants_number = bool(_QUANTITY.search(question))
    wants_date = bool(_WHEN.search(question))
    years = set(_YEAR.findall(question))
    heading_titles = {title for h in hits for title in h.chunk.section}
    cosines: list[float] = (
        (vectors @ np.asarray(query_vector, dtype=np.float32)).tolist() if len(records) else []
    )
    scored: list[ScoredSentence] = []
    for record, cos in zip(records, cosines, strict=False):
        found = by_chunk.get(record.chunk_id)
        if found is None:
            continue
        rank, hit = found
        chunk = hit.chunk
        text = chunk.text[record.start - chunk.start : record.end - chunk.start]
        if text in heading_titles or (len(text.split()) < 4 and not _FIGURE.search(text)):
            continue  # headings and figure captions ("fordeling eksport 2017") answer nothing
        s_terms = set(analyzer.terms(text, ["nb", "en"]))
        matched = sum(w for c, w in zip(concepts, idf, strict=False) if c & s_terms)
        lexical = matched / total_idf if total_idf else 0.0
        dense = _squash(float(cos))
        passage = _squash(hit.dense_score) if hit.dense_score is not None else 0.0
        support = (
            weights.sentence * dense
            + weights.passage * passage
            + (1 - weights.sentence - weights.passage) * lexical
        )
        if (wants_date and _DATE.search(text)) or (
            wants_number and not wants_date and _DIGIT.search(text)
        ):
            support += weights.number_bonus
        support += weights.rank_bonus / rank
        if years and not all(y in chunk.text for y in years):
            support *= _YEAR_MISMATCH
        scored.append(ScoredSentence(record, text, hit, rank, dense, lexical, min(support, 1.0)))
    scored.sort(key=lambda s: (-s.support, s.rank, s.record.start))
    return scored


def select_sentences(scored: Sequence[ScoredSentence], settings: Settings) -> list[ScoredSentence]:
    """The best sentence plus close runners-up; a sentence ending in ':' brings its list."""
    if not scored or scored[0].support < settings.abstain_threshold:
        return []
    best = scored[0]
    if best.text.rstrip().endswith(":"):
        following = sorted(
            (
                s
                for s in scored
                if s.record.chunk_id == best.record.chunk_id and s.record.start > best.record.start
            ),
            key=lambda s: s.record.start,
        )
        return [best, *following[:_LIST_ITEMS]]
    chosen = [best]
    floor = max(settings.abstain_threshold, settings.runner_up * best.support)
    for s in scored[1:]:
        if len(chosen) >= settings.max_answer_sentences:
            break
        if s.support >= floor and not any(_same_content(s.text, c.text) for c in chosen):
            chosen.append(s)
    return chosen


def _same_content(a: str, b: str) -> bool:
    """Near-duplicate sentences (the article repeats its facts): quote only one of them."""
    wa, wb = set(words(a)), set(words(b))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= _DUPLICATE_OVERLAP


def compose(chosen: Sequence[ScoredSentence], language: str) -> tuple[str, tuple[Citation, ...]]:
    """Answer text with [n] markers and the matching citations (numbered in order)."""
    if not chosen:
        return ABSTAIN_MESSAGES.get(language, ABSTAIN_MESSAGES["en"]), ()
    # Quote in reading order within a passage, passages in order of their best sentence.
    first_seen: dict[str, int] = {}
    for i, s in enumerate(chosen):
        first_seen.setdefault(s.record.chunk_id, i)
    ordered = sorted(chosen, key=lambda s: (first_seen[s.record.chunk_id], s.record.start))
    citations: list[Citation] = []
    parts: list[str] = []
    for number, s in enumerate(ordered, start=1):
        citations.append(Citation.of(number, s.hit.chunk, s.record.start, s.record.end))
        parts.append(f"{s.text} [{number}]")
    return " ".join(parts), tuple(citations)
