"""Decide: an answer, "not sure", or a decline, from the reader's calibrated confidence in
the first quote (issue 36).

A fact answer's first quote is read by the trained reader (with the sentence before it and
its heading). Its calibrated probability is compared with two thresholds of the question's
language-pair group, ``same`` (question and quote in one language) or ``cross`` (an English
question on a Norwegian sentence scores lower): at or above ``answer`` the answer stands;
from ``hedge`` up to ``answer`` it is shown as "not sure" with at most two of its quotes;
below ``hedge`` it is declined. The thresholds are fitted on external calibration data only
(``python -m helse_qa.training.confidence``: NorQuAD and SweQUAD-MC calibration splits,
XQuAD cross-lingual pairs; ``eval/results/confidence.md``) and shipped in
``confidence.json`` next to this module. Lists, overviews and near misses are not judged
here: the sentence reader was not trained on them.

A topic question ("What does the report say about the DRG system?", "Hva sier artikkelen om
HealthCatalyst?") asks for what a document says about a topic, not for a fact; the reader,
trained on factoid questions, gives every sentence of it a probability near zero (0.002 to
0.14 on eval/topics.jsonl, right sentences included). It is answered when its first quote
holds every word of the topic (in either language, by the glossary and compound parts:
:func:`holds_topic`), with the quotes among the closest that hold it too; otherwise it is
judged like any other question.

Weak support: where the heuristic finds too little support for any sentence and would
decline (an English question about a Norwegian sentence often scores below its threshold),
the reader reads the heuristic's best ``WEAK_CANDIDATES`` sentences; its best one is the
answer when the reader is as sure of it as of any answer (``answer``), "not sure" from the
``weak`` floor (fitted on the same external cases: all but 5% of the right first quotes lie
above it), else the decline stands (:func:`weak_outcome`).

No padding: a fact answer that stands keeps a further quote only when the reader is as sure
of it as of an answer (its group's ``answer`` threshold) and it adds content words the
quotes before it lack (:func:`further_kept`); otherwise the first quote stands alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from helse_qa.answering.list_answers import is_item_line
from helse_qa.answering.names import question_names
from helse_qa.answering.scored import ScoredSentence, Selection, leads_list
from helse_qa.errors import ConfigError
from helse_qa.messages import UNSURE, say
from helse_qa.text.analysis import Analyzer
from helse_qa.text.listing import is_list_question, names_several, names_two

DEFAULT_THRESHOLDS = Path(__file__).with_name("confidence.json")
HEDGED_QUOTES = 2
GROUPS = ("same", "cross")
# How many of the heuristic's best sentences the reader reads when the heuristic would
# decline for weak support (8: the right sentence of a fresh English question about the
# Norwegian report stood 5th, "Samtalene ble gjennomført som gruppeintervjuer på om lag to
# timers varighet …").
WEAK_CANDIDATES = 8


@dataclass(frozen=True)
class Thresholds:
    """Per language-pair group: answer at or above ``answer``, "not sure" from ``hedge``;
    where the heuristic would decline for weak support, "not sure" from ``weak``."""

    answer: dict[str, float]
    hedge: dict[str, float]
    weak: dict[str, float]

    @classmethod
    def load(cls, path: Path = DEFAULT_THRESHOLDS) -> Thresholds:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            answer = {g: float(data["answer"][g]) for g in GROUPS}
            hedge = {g: float(data["hedge"][g]) for g in GROUPS}
            # a file written before the weak floor existed: only a sure reader rescues
            weak = {g: float((data.get("weak") or data["answer"])[g]) for g in GROUPS}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"cannot read the confidence thresholds {path} ({exc}) - reinstall helse-qa, "
                "or write them with 'python -m helse_qa.training.confidence', or set "
                "answer_confidence = false"
            ) from exc
        for g in GROUPS:
            if not 0.0 <= hedge[g] <= answer[g] <= 1.0 or not 0.0 <= weak[g] <= answer[g]:
                raise ConfigError(
                    f"{path}: the '{g}' thresholds must satisfy 0 <= hedge <= answer <= 1 "
                    f"and 0 <= weak <= answer (got hedge {hedge[g]}, weak {weak[g]}, answer "
                    f"{answer[g]}) - rewrite them with 'python -m helse_qa.training.confidence'"
                )
        return cls(answer, hedge, weak)


def pair_group(question_language: str, quote_language: str) -> str:
    """``same`` or ``cross``: whether the question and its first quote share a language."""
    return "same" if question_language == quote_language else "cross"


def judge(
    selection: Selection,
    probability: float,
    group: str,
    thresholds: Thresholds,
    language: str,
    doubt: bool = False,
) -> Selection:
    """The fact ``selection`` kept, hedged ("not sure", at most two quotes) or declined;
    with ``doubt`` (the answer's shape does not fit the question: :func:`shape_doubt`)
    never kept."""
    if selection.kind != "fact" or not selection.chosen:
        return selection
    if probability >= thresholds.answer[group] and not doubt:
        return replace(selection, confidence=probability)
    if probability >= thresholds.hedge[group]:
        lead = say(UNSURE, language)
        return Selection(closest(selection.chosen), "unsure", lead, probability)
    return Selection(kind="abstain", confidence=probability)


def holds_topic(topic: str, text: str, analyzer: Analyzer) -> bool:
    """Whether every content word of ``topic`` stands in ``text`` (its stems, compound parts
    or glossary translations): "DRG system" in "Dagens DRG-system oppleves å være et problem
    …"; "the merged cluster's annual budget" not in "The newly merged cluster will represent
    370 members …" (no budget)."""
    concepts = analyzer.query_concepts(topic)
    terms = set(analyzer.terms(text, ["nb", "en"]))
    return bool(concepts) and all(c & terms for c in concepts)


def about_topic(
    selection: Selection,
    topic: str,
    analyzer: Analyzer,
    probability: float,
    document: str = "",
) -> Selection | None:
    """A topic question's answer when its first quote holds the topic (and stands in the
    ``document`` the question names, "What does the article say about …?", when it names
    one): the closest quotes that hold it, given as the answer (``probability`` stays the
    reader's, reported as it is); None otherwise."""
    chosen = closest(selection.chosen)
    if not chosen or not holds_topic(topic, chosen[0].text, analyzer):
        return None
    if document and chosen[0].hit.chunk.doc_id != document:
        return None
    kept = [s for unit in units(chosen) for s in unit if holds_topic(topic, unit[0].text, analyzer)]
    return Selection(kept, "fact", "", probability)


def weak_outcome(probability: float, group: str, thresholds: Thresholds) -> str:
    """For a question the heuristic would decline for weak support, from the reader's P of
    its best sentence: ``fact`` (as sure as of an answer), ``unsure`` (from the ``weak``
    floor) or ``abstain`` (the decline stands)."""
    if probability >= thresholds.answer[group]:
        return "fact"
    return "unsure" if probability >= thresholds.weak[group] else "abstain"


# A question that asks who (a person or an organisation, by name or by role).
_ASKS_PERSON = re.compile(r"^\W*(who|whom|hvem)\b", re.IGNORECASE)


def naming_first(
    question: str, chosen: Sequence[ScoredSentence], sure: Callable[[ScoredSentence], bool]
) -> list[ScoredSentence]:
    """For a who-question whose first quote names no one the question does not: a further
    chosen quote that does (an acronym is a name here) and that the reader is ``sure`` of
    goes first ("Hvem gjennomførte intervjuene?": "Det er konsulentselskapet ZYNK som har
    gjennomført intervjuene …" before "Samtalene ble gjennomført som gruppeintervjuer …").
    Without the reader's word it was a rule that cost right answers whose answer is no name
    ("Hvem har oversvømmelsene vært et problem for?" -> "… for befolkningen": 6 of NorQuAD
    validation's who-questions)."""
    out = list(chosen)
    if not out or not _ASKS_PERSON.match(question):
        return out
    asked = {n.lower() for n in question_names(question, acronyms=True)}

    def names_someone(s: ScoredSentence) -> bool:
        return bool({n.lower() for n in question_names(s.text, acronyms=True)} - asked)

    quotes = units(out)
    if names_someone(quotes[0][0]):
        return out
    for unit in quotes[1:]:
        if names_someone(unit[0]) and sure(unit[0]):
            return [*unit, *(s for other in quotes if other is not unit for s in other)]
    return out


def shape_doubt(question: str, chosen: Sequence[ScoredSentence]) -> bool:
    """A question that asks for several things whose first quote names no several
    ("Hvilke forbedringsområder peker rapporten på?" -> "Samtidig pekes det på en rekke
    forhold som kan og bør forbedres."): the reader judged a sentence, not a list."""
    if not chosen or not is_list_question(question):
        return False
    first = units(chosen)[0]
    text = first[0].text
    return len(first) == 1 and not names_several(text) and not names_two(text)


def units(chosen: Sequence[ScoredSentence]) -> list[list[ScoredSentence]]:
    """The quotes of ``chosen``, each lead-in with the item lines after it (a lead-in never
    stands without its items). An item line after a quote that leads no list (a chart's
    caption after a sentence about something else) is a quote of its own."""
    out: list[list[ScoredSentence]] = []
    for i, s in enumerate(chosen):
        if i and is_item_line(s.text) and leads_list(out[-1][0]):
            out[-1].append(s)
        else:
            out.append([s])
    return out


def further_kept(
    chosen: Sequence[ScoredSentence],
    sure: Callable[[ScoredSentence], bool],
    adds: Callable[[str, Sequence[str]], bool],
) -> list[ScoredSentence]:
    """The first quote (with its item lines) and each further quote that the reader is
    ``sure`` of and that ``adds`` content the kept ones lack (item lines go with the quote
    they follow)."""
    kept: list[ScoredSentence] = []
    for i, (head, *items) in enumerate(units(chosen)):
        if i == 0 or (sure(head) and adds(head.text, [k.text for k in kept])):
            kept += [head, *items]
    return kept


def closest(chosen: Sequence[ScoredSentence], most: int = HEDGED_QUOTES) -> list[ScoredSentence]:
    """The first ``most`` quotes, each with the item lines that follow it."""
    return [s for unit in units(chosen)[:most] for s in unit]
