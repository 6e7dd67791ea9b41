"""Sentences scored for an extractive answer, and what each is in its passage.

:class:`ScoredSentence` (a sentence with its passage, rank and P(answers)) and
:class:`Selection` (what an answer quotes); whether a sentence can be quoted at all, whether
it leads a list, a chart or a label's paragraphs, and the sentence it leans on
("I sum skaper dette …" is quoted from the sentence before it on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from helse_qa.text.analysis import words
from helse_qa.text.listing import (
    caption_figures,
    label_section,
    row_caption,
)
from helse_qa.text.numbers import AMOUNT, FIGURE, YEAR
from helse_qa.text.sentences import antecedent_start, refers_back, self_contained
from helse_qa.types import Hit, SentenceRecord

_DUPLICATE_OVERLAP = 0.8  # share of the shorter sentence's words found in the other
# A date ("23.01.18"): a short line of dates answers only when it also carries a figure
# ("Diagnostikk: 54%" answers, "Smart Care Cluster 02.02.18" does not).
_DATE_ONLY = re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{2,4}\b")


@dataclass(frozen=True)
class ScoredSentence:
    record: SentenceRecord
    text: str
    hit: Hit
    rank: int  # 1-based rank of its passage
    # how likely it answers the question: the heuristic's support (0..1) or, where the
    # reader scored it, the reader's calibrated P; 0.0 for list items and overview lines
    probability: float
    span: tuple[int, int] | None = None  # the answer phrase in ``text`` (the reader)


@dataclass
class Selection:
    """What an extractive answer quotes, and how it is framed."""

    chosen: list[ScoredSentence] = field(default_factory=list)
    kind: str = "fact"  # fact | list | overview | near_miss | unsure | abstain
    lead: str = ""  # a line before the quotes (the near-miss or the "not sure" sentence)
    # the reader's calibrated P(the first quote answers), where it judged the answer
    confidence: float | None = None

    @property
    def answers(self) -> bool:
        return self.kind not in ("abstain", "near_miss", "unsure")


def quotable(s: ScoredSentence) -> bool:
    """Headings, short captions without a figure ("fordeling eksport 2017") and schedule
    lines ("Smart Care Cluster 02.02.18") answer nothing, whatever their score."""
    if s.text in s.hit.chunk.section:
        return False
    n_words = len(s.text.split())
    if n_words < 6 and _DATE_ONLY.search(s.text) and not FIGURE.search(_DATE_ONLY.sub("", s.text)):
        return False
    if n_words >= 4 or FIGURE.search(s.text):
        return True
    # a short lead-in ("Følgende aktører intervjuet:") or label is quoted with what follows
    return n_words >= 2 and (s.text.rstrip().endswith(":") or bool(label_paragraphs(s)))


def figure_lines(s: ScoredSentence) -> list[tuple[int, int]]:
    """The figure lines of the chart ``s`` is the caption of ("Helseindustrien –
    omsettning 2017" before "Legemidler: 26 mrd" …), as offsets in its passage; []
    when it is none."""
    chunk = s.hit.chunk
    return caption_figures(chunk.text, s.record.start - chunk.start, s.record.end - chunk.start)


def row_caption_of(s: ScoredSentence) -> str:
    """The caption of the chart ``s`` is a row of ("" when it is none)."""
    chunk = s.hit.chunk
    return row_caption(chunk.text, s.record.start - chunk.start, s.record.end - chunk.start)


def label_paragraphs(s: ScoredSentence) -> list[tuple[int, int]]:
    """The prose paragraphs under ``s`` when it is a label over them ("Endringer i
    rammevilkår"), as offsets in its passage; [] when it is none."""
    chunk = s.hit.chunk
    start = s.record.start - chunk.start
    return label_section(chunk.text, start, s.record.end - chunk.start, chunk.section)


def leads_list(s: ScoredSentence) -> bool:
    """A lead-in ("… har to store fordeler:"), a chart's caption or a label over its
    paragraphs: quoted with the items, figure lines or paragraphs that follow it."""
    return s.text.rstrip().endswith(":") or bool(figure_lines(s)) or bool(label_paragraphs(s))


def overlaps(a: ScoredSentence, b: ScoredSentence) -> bool:
    return (
        a.record.doc_id == b.record.doc_id
        and a.record.start < b.record.end
        and b.record.start < a.record.end
    )


def antecedent(s: ScoredSentence) -> int | None:
    """Where the sentence that ``s`` leans on starts (document offset), when ``s`` leans on
    one in its paragraph ("I sum skaper dette …"); None when it stands alone."""
    if self_contained(s.text):
        return None
    chunk = s.hit.chunk
    start = antecedent_start(chunk.text, s.record.start - chunk.start)
    return None if start is None else chunk.start + start


def _from_sentence_before(s: ScoredSentence) -> ScoredSentence:
    """``s`` quoted from the sentence before it in its paragraph; ``s`` itself when it
    opens its paragraph or a line."""
    chunk = s.hit.chunk
    start = antecedent_start(chunk.text, s.record.start - chunk.start)
    if start is None:
        return s
    record = SentenceRecord(s.record.chunk_id, s.record.doc_id, chunk.start + start, s.record.end)
    return replace(s, record=record, text=record.text_in(chunk), span=None)


def read_with_antecedent(s: ScoredSentence) -> str:
    """The text of ``s`` with the sentence before it in its paragraph when it leans on
    that one or points at it ("I dette tallet ligger …" is about the total before it)."""
    return _from_sentence_before(s).text if refers_back(s.text) else s.text


# A sentence that draws a conclusion from the one before it ("En norsk posisjon bør derfor
# bygges på en nordisk grunnmur."): the reason stands before it.
_CONCLUDES_FROM = re.compile(
    r"\b(derfor|dermed|følgelig|av den grunn|therefore|thus|hence|consequently|for this "
    r"reason)\b",
    re.IGNORECASE,
)


def with_reason(s: ScoredSentence) -> ScoredSentence:
    """For a why-question: a sentence that draws a conclusion ("… bør derfor …") quoted
    from the sentence before it in its paragraph, which gives the reason; otherwise as
    :func:`with_antecedent`."""
    return _from_sentence_before(s) if _CONCLUDES_FROM.search(s.text) else with_antecedent(s)


def with_antecedent(s: ScoredSentence) -> ScoredSentence:
    """A sentence that leans on the one before it ("I sum skaper dette et meget robust
    grunnlag …") quoted from that one on, when both stand in one paragraph: one quote that
    makes sense alone."""
    return s if self_contained(s.text) else _from_sentence_before(s)


def states_figure(text: str) -> bool:
    """A figure or a year: an overview prefers a sentence that states one."""
    return bool(AMOUNT.search(text) or YEAR.search(text))


def same_content(a: str, b: str) -> bool:
    """Near-duplicate sentences (the article repeats its facts): quote only one of them."""
    wa, wb = set(words(a)), set(words(b))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= _DUPLICATE_OVERLAP
