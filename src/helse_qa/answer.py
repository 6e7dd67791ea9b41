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

from .config import Settings
from .lexical import Analyzer
from .store import SentenceRecord
from .types import Citation, Hit

ABSTAIN_MESSAGES = {
    "nb": "Jeg fant ikke svar på dette i dokumentene.",
    "en": "I could not find this in the documents.",
}
CLOSEST_LABEL = {
    "nb": "Nærmeste avsnitt som kan være relevante:",
    "en": "Closest passages that may be relevant:",
}

# Cosine similarities of e5 models live in a narrow band; this maps it onto 0..1.
_COS_FLOOR = 0.76
_COS_SPAN = 0.14
_DENSE_WEIGHT = 0.65
_QUANTITY = re.compile(
    r"\b(how (much|many|large|big)|hvor (mye|mange|stor|store|høy|høye)|share|andel|"
    r"percent|prosent|amount|beløp|turnover|omsetning|omsatte|revenue|inntekt\w*|"
    r"when|når|what year|hvilket år|date|dato|number|antall)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_LIST_ITEMS = 6  # lines quoted after a sentence that introduces a list
_RUNNER_UP = 0.85  # a second sentence must score at least this share of the best


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
) -> list[ScoredSentence]:
    """Support score in 0..1 for every sentence of the retrieved passages, best first."""
    by_chunk = {h.chunk.chunk_id: (i + 1, h) for i, h in enumerate(hits)}
    q_terms = set(analyzer.query_terms(question))
    wants_number = bool(_QUANTITY.search(question))
    heading_titles = {title for h in hits for title in h.chunk.section}
    cosines = vectors @ np.asarray(query_vector, dtype=np.float32) if len(records) else []
    scored: list[ScoredSentence] = []
    for record, cos in zip(records, cosines):
        found = by_chunk.get(record.chunk_id)
        if found is None:
            continue
        rank, hit = found
        chunk = hit.chunk
        text = chunk.text[record.start - chunk.start : record.end - chunk.start]
        if text in heading_titles or (len(text.split()) < 3 and not _DIGIT.search(text)):
            continue
        s_terms = set(analyzer.terms(text, ["nb", "en"]))
        lexical = len(q_terms & s_terms) / len(q_terms) if q_terms else 0.0
        dense = float(np.clip((float(cos) - _COS_FLOOR) / _COS_SPAN, 0.0, 1.0))
        support = _DENSE_WEIGHT * dense + (1 - _DENSE_WEIGHT) * lexical
        if wants_number and _DIGIT.search(text):
            support += 0.05
        support += 0.04 / rank
        scored.append(
            ScoredSentence(record, text, hit, rank, dense, lexical, min(support, 1.0))
        )
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
    floor = max(settings.abstain_threshold, _RUNNER_UP * best.support)
    for s in scored[1:]:
        if len(chosen) >= settings.max_answer_sentences:
            break
        if s.support >= floor and s.text != best.text:
            chosen.append(s)
    return chosen


def compose(
    chosen: Sequence[ScoredSentence], language: str
) -> tuple[str, tuple[Citation, ...]]:
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
        chunk = s.hit.chunk
        citations.append(
            Citation(
                number=number,
                doc_id=chunk.doc_id,
                title=chunk.title,
                page=chunk.page,
                section=chunk.section_label,
                quote=s.text,
                start=s.record.start,
                end=s.record.end,
                chunk_id=chunk.chunk_id,
            )
        )
        parts.append(f"{s.text} [{number}]")
    return " ".join(parts), tuple(citations)
