"""Extractive answers: quote the retrieved sentences that answer the question, cite them.

Every sentence of the retrieved passages is scored by the learned answer scorer
(:mod:`.scorer`): the probability that it answers the question, from the e5 vectors of the
question, the sentence and its passage plus lexical and question-type features. Then:

- **abstain** when even the best sentence is below the model's threshold (the closest
  passages are still shown);
- **a near miss** (the question names a year the documents do not give, and they give
  another) is said plainly: "The documents give the figure for 2017, not 2022: ... [1]";
- **no padding**: a further sentence is quoted only when the model says it answers too;
- **names**: a sentence that does not name what the question names (a name, a country,
  what a how-many question counts) is no answer to it (:mod:`.names`);
- **lists**: a lead-in that ends in ':' brings the item lines that belong to it (also when
  the PDF text put them further down the page) (:mod:`.list_answers`);
- **overviews** ("Summarise ...", "Oppsummer ...", "main findings"): :mod:`.overview`.

The sentences themselves (:class:`~.scored.ScoredSentence`) and what each is in its
passage live in :mod:`.scored`; this module decides and composes the answer.

Quotes are always verbatim spans of the parsed document text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from helse_qa.answering.heuristic import asks_quantity
from helse_qa.answering.list_answers import is_item_line, list_selection, with_items
from helse_qa.answering.names import (
    HOW_MANY,
    NOT_ABOUT,
    NOT_COUNTED,
    NOT_NAMED,
    counted_words,
    countries_in,
    counts,
    keep_named,
    place_named,
)
from helse_qa.answering.scored import (
    ScoredSentence,
    Selection,
    candidates,
    figure_lines,
    leads_list,
    overlaps,
    quotable,
    same_content,
    with_antecedent,
)
from helse_qa.answering.scorer import AnswerScorer
from helse_qa.messages import ABSTAIN_MESSAGES, say
from helse_qa.text.analysis import Analyzer
from helse_qa.text.language import detect_language
from helse_qa.text.listing import (
    is_list_question,
)
from helse_qa.text.numbers import AMOUNT, FIGURE, YEAR
from helse_qa.types import Chunk, Citation, Hit, SentenceRecord

_NUMBER_WORD = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|"
    r"thousands?|millions?|billions?|half|tre|fire|fem|seks|sju|syv|åtte|ni|ti|elleve|tolv|"
    r"hundre|tusen|millioner|milliarder|mrd|halvparten|dobbelt)\b",
    re.IGNORECASE,
)
# A question about which countries is answered by sentences that name one (other than the
# countries the question itself names): "Danmark og Sverige" has no word for "land".
_WHICH_COUNTRIES = re.compile(
    r"\b(hvilke|hvilket|which|what)\s+(?:andre\s+|other\s+)?"
    r"(land|landene|country|countries|nasjoner|nations)\b",
    re.IGNORECASE,
)
NEAR_MISS = {
    "nb": "Dokumentene oppgir tallet for {found}, ikke {asked}:",
    "en": "The documents give the figure for {found}, not {asked}:",
}
QUOTED_FROM = {
    ("nb", "en"): "Sitert fra engelsk kilde.",
    ("en", "nb"): "Quoted from the Norwegian source.",
}


def score_sentences(
    question: str,
    language: str,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    records: Sequence[SentenceRecord],
    vectors: np.ndarray,
    chunk_vectors: dict[str, np.ndarray],
    scorer: AnswerScorer,
) -> list[ScoredSentence]:
    """P(answers the question) for every quotable sentence, best first."""
    cands = [c for c in candidates(hits, records, vectors) if c[0].chunk_id in chunk_vectors]
    if not cands:
        return []
    probs = scorer.score(
        question,
        [(text, hit.chunk.text, v, chunk_vectors[rec.chunk_id]) for rec, text, hit, _, v in cands],
        query_vector,
        language,
        [hit.chunk.language for _, _, hit, _, _ in cands],
    )
    scored = [
        ScoredSentence(rec, text, hit, rank, float(p))
        for (rec, text, hit, rank, _), p in zip(cands, probs, strict=True)
    ]
    scored = [s for s in scored if quotable(s)]
    scored.sort(key=lambda s: (-s.probability, s.rank, s.record.start))
    return scored


def select(
    question: str,
    scored: Sequence[ScoredSentence],
    threshold: float,
    further: float,
    most: int,
    language: str,
    analyzer: Analyzer,
    following: Sequence[Hit] = (),
    topic: str = "",
) -> Selection:
    """Decide what to quote: abstain, a near miss, a fact, or a list.

    ``following`` are the passages that come after the retrieved ones in their documents:
    a list's items may stand there when the PDF text detached them from their lead-in.
    ``topic`` is what the question is about when it leans on earlier turns (the retrieval
    query: "Hvor store var eksportinntektene i 2017? Og hva var tallet i 2022?").
    """
    if not scored:
        return Selection(kind="abstain")
    scored, not_named = keep_named(question, scored, language, analyzer)
    if not_named:
        if scored[0].probability < threshold:  # said only when it would otherwise be quoted
            return Selection(kind="abstain")
        place = place_named(not_named, language)
        if place is not None:  # another country's figure is no answer, however close
            return Selection(kind="abstain", lead=say(NOT_ABOUT, language).format(name=place))
        line = say(NOT_NAMED, language).format(name=not_named)
        return Selection([scored[0]], "near_miss", line)
    if HOW_MANY.search(question) and not is_list_question(question):
        scored = [
            s
            for s in scored
            if AMOUNT.search(s.text) or _NUMBER_WORD.search(s.text) or figure_lines(s)
        ]  # (a chart's caption stands for its figures)
        if not scored:
            return Selection(kind="abstain")
        counted = counted_words(question)
        kept = [s for s in scored if counts(s, counted, language, analyzer)]
        if not kept:  # figures, but of something else ("370 members" for "employees")
            if scored[0].probability < threshold:
                return Selection(kind="abstain")
            line = say(NOT_COUNTED, language).format(counted=" ".join(counted))
            return Selection([scored[0]], "near_miss", line)
        scored = kept
    if _WHICH_COUNTRIES.search(question):
        asked = countries_in(question)
        naming = [s for s in scored if countries_in(s.text) - asked]
        scored = naming or list(scored)
    best = scored[0]
    near = _near_miss(question, scored, language, analyzer, topic=topic)
    if near is not None:
        line, sentence = near
        return Selection([sentence], "near_miss", line) if sentence else Selection(kind="abstain")
    if best.probability < threshold:
        return Selection(kind="abstain")
    leads = [best]
    if is_list_question(question) and is_item_line(best.text):
        # the best sentence is an item line: its lead-in may be a runner-up (a complete
        # best sentence answers itself, and a runner-up list would push it aside; tried
        # for every best sentence that names no several things, it cost 3 gold answers)
        leads += [s for s in scored[1:4] if s.probability >= threshold]
    as_list = list_selection(leads, following, language)
    if as_list is not None:
        return as_list
    chosen = [best]
    # A further sentence must itself be likely to answer, relative to the best one (an
    # unsure best brings alternatives, a sure one stands alone).
    floor = max(threshold, further * best.probability)
    for s in scored[1:]:
        if len(chosen) >= most:
            break
        if s.probability >= floor and not any(same_content(s.text, c.text) for c in chosen):
            chosen.append(s)
    widened: list[ScoredSentence] = []
    for s in map(with_antecedent, chosen):  # a quote is never repeated inside another
        if not any(overlaps(s, c) for c in widened):
            widened.append(s)
    return Selection(with_items(widened, following), "fact")


# A question that asks who or which one, not how much ("Hvilken andel …" asks a figure).
_ASKS_WHO = re.compile(r"^\W*(who|whom|which|hvem|hvilken|hvilket|hvilke)\b", re.IGNORECASE)


def _near_miss(
    question: str,
    scored: Sequence[ScoredSentence],
    language: str,
    analyzer: Analyzer,
    look: int = 5,
    topic: str = "",
) -> tuple[str, ScoredSentence | None] | None:
    """A question about a year that none of the best passages mentions.

    Returns None when it is not one; else the plain-words line and the best-scored sentence
    (among the ``look`` best) that gives another year ("The documents give the figure for
    2017, not 2022:"), or no sentence when none gives a year at all (then: abstain). The
    question must not ask who or which one (unless for a figure), and the sentence must
    share a word with it besides the year: "Who won the 2018 FIFA World Cup?" is not
    answered with "The merger will … take effect on January 1, 2025". ``topic`` stands for
    the question's words when it leans on earlier turns."""
    asked = list(dict.fromkeys(YEAR.findall(question)))
    top = list(scored[:look])
    if not asked or not top or any(y in s.hit.chunk.text for s in top for y in asked):
        return None
    if _ASKS_WHO.match(question) and not asks_quantity(question):
        # "the figure for 2025" answers no question about who or which ("Hvilken
        # organisasjon satt i styringsgruppen i 2018, …?" got the merger's date)
        return "", None
    concepts = analyzer.query_concepts(YEAR.sub(" ", topic or question))

    def on_topic(s: ScoredSentence) -> bool:
        terms = set(analyzer.terms(s.text, ["nb", "en"]))
        return any(c & terms for c in concepts)

    # a sentence that gives a figure for its year first ("23,6 milliarder kroner i 2017"),
    # then one that only names a year
    for s in sorted(top, key=lambda s: not FIGURE.search(s.text)):
        found = [y for y in dict.fromkeys(YEAR.findall(s.text)) if y not in asked]
        if found and on_topic(s):
            line = say(NEAR_MISS, language).format(found=" / ".join(found), asked=" / ".join(asked))
            return line, s
    return "", None


def language_note(chosen: Sequence[ScoredSentence], language: str) -> str:
    """One short line when every quote is in the other language than the question."""
    # the sentence's own language: an English article can hold a Norwegian photo caption
    sources = {detect_language(s.text, default=s.hit.chunk.language) for s in chosen}
    if len(sources) != 1:
        return ""
    return QUOTED_FROM.get((language, sources.pop()), "")


def compose(
    selection: Selection, language: str, merge_items: bool = True
) -> tuple[str, tuple[Citation, ...]]:
    """Answer text with [n] markers and the matching citations (numbered in order).

    List items that follow each other in the text are quoted as one citation.
    """
    chosen = selection.chosen
    if not chosen:
        return selection.lead or say(ABSTAIN_MESSAGES, language), ()
    if selection.kind in ("overview", "list"):
        ordered = list(chosen) if selection.kind == "list" else chosen
    else:
        # The best sentence first (what the user reads first answers the question); the
        # others in reading order within a passage, passages in order of their best sentence.
        first_seen: dict[str, int] = {}
        for i, s in enumerate(chosen):
            first_seen.setdefault(s.record.chunk_id, i)
        rest = sorted(chosen[1:], key=lambda s: (first_seen[s.record.chunk_id], s.record.start))
        ordered = [chosen[0], *rest]
    spans = _spans(ordered, merge=merge_items, every=selection.kind == "list")
    citations: list[Citation] = []
    parts: list[str] = [selection.lead] if selection.lead else []
    phrases = {(s.record.chunk_id, s.record.start, s.record.end): s.span for s in ordered if s.span}
    titled = selection.kind == "overview" and len({c.doc_id for c, _, _ in spans}) > 1
    for number, (chunk, start, end) in enumerate(spans, start=1):
        if titled and (number == 1 or spans[number - 2][0].doc_id != chunk.doc_id):
            parts.append(f"{chunk.title}:")  # one short block per document, titled
        citation = Citation.of(number, chunk, start, end)
        phrase = phrases.get((chunk.chunk_id, start, end))
        if phrase is not None and phrase[0] < phrase[1] <= end - start:
            citation = replace(citation, phrase=phrase)
        citations.append(citation)
        parts.append(f"{citation.quote} [{number}]")
    joiner = "\n" if selection.kind in ("list", "overview") else " "
    return joiner.join(parts), tuple(citations)


def _spans(
    ordered: Sequence[ScoredSentence], merge: bool, every: bool = False
) -> list[tuple[Chunk, int, int]]:
    """(chunk, start, end) per quote; with ``merge``, a lead-in and the item lines right
    after it become one span (only whitespace lies between them): one citation. With
    ``every`` (a list answer) any quotes that follow each other in the text are joined."""
    spans: list[tuple[Chunk, int, int]] = []
    in_list = False
    for i, s in enumerate(ordered):
        chunk = s.hit.chunk
        joinable = merge and (every or in_list) and i > 0
        if joinable and spans and spans[-1][0].chunk_id == chunk.chunk_id:
            prev_chunk, prev_start, prev_end = spans[-1]
            gap = chunk.text[prev_end - chunk.start : s.record.start - chunk.start]
            if prev_end <= s.record.start and not gap.strip():
                spans[-1] = (prev_chunk, prev_start, s.record.end)
                continue
        spans.append((chunk, s.record.start, s.record.end))
        in_list = leads_list(s) or (in_list and is_item_line(s.text))
    return spans
