"""Decide: the scored candidates -> what to quote (a :class:`~.scored.Selection`).

One of: abstain, a near miss (said plainly, "The documents give the figure for 2017, not
2022: …"), a fact (the best sentence and the further ones likely to answer too), a list
(a lead-in with its items) or an overview. The candidates come from :mod:`.read`, best
first; the shapes are built by :mod:`.list_answers` and :mod:`.overview`, the text by
:mod:`.compose`.

Two deciders, by the settings:

- :func:`decide` (default): on the heuristic's scores, with the rules that a sentence
  must name what the question names (:mod:`.names`), a question about one part on its own
  is not answered by a figure for several together, how much
  something grew not by its level, a how-many question wants a count of what it counts, a
  question for a name a sentence that gives one, a which-countries question a sentence
  naming one, and a year the documents do not give is a near miss; a why-question's
  conclusion is quoted with its reason;
- :func:`decide_with_reader` (``answer_scorer = "reader"``): on the reader's calibrated
  P(answers); no question-pattern rule, the reader reads question and sentence together.

Overviews (:func:`decide_overview`) are chosen over whole documents, not retrieved
passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from helse_qa.answering.heuristic import asks_growth, asks_quantity
from helse_qa.answering.list_answers import is_item_line, list_selection, with_items
from helse_qa.answering.names import (
    HOW_MANY,
    NOT_ABOUT,
    NOT_COUNTED,
    NOT_NAMED,
    NOT_PART,
    asks_part,
    counted_words,
    countries_in,
    counts,
    fits_part,
    keep_named,
    place_named,
    question_names,
)
from helse_qa.answering.overview import overview
from helse_qa.answering.read import reader_scores
from helse_qa.answering.scored import (
    ScoredSentence,
    Selection,
    figure_lines,
    overlaps,
    quotable,
    read_with_antecedent,
    same_content,
    with_antecedent,
    with_reason,
)
from helse_qa.messages import NEAR_MISS, NO_CHANGE, say
from helse_qa.models.reader import Reader
from helse_qa.text.analysis import STOPWORDS, Analyzer, has_translation, words
from helse_qa.text.listing import is_list_question
from helse_qa.text.numbers import AMOUNT, FIGURE, YEAR, YEAR_DIGITS
from helse_qa.types import Hit

# The heuristic's defaults (settings abstain_threshold / runner_up override them), chosen
# on the check set (eval/results/tune-answers.md).
HEURISTIC_THRESHOLD = 0.35
HEURISTIC_RUNNER_UP = 0.7
# The reader's further quote: at least this share of the best one's P, and this many
# content words the quotes before it do not have.
SECOND_SHARE = 0.8
NEW_WORDS = 3

_NUMBER_WORD = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|"
    r"thousands?|millions?|billions?|half|tre|fire|fem|seks|sju|syv|åtte|ni|ti|elleve|tolv|"
    r"hundre|tusen|millioner|milliarder|mrd|halvparten|dobbelt)\b",
    re.IGNORECASE,
)
# A share or a sum of money is no count: "54 prosent av bedriftene" does not say how many
# companies there are, "142 milliarder kroner" not how many people work there.
_SCALE = r"(?:milliard\w*|million\w*|mrd|mill|billion\w*)\b\.?"
_SHARE_OR_SUM = re.compile(
    r"(?<![^\W\d_])\d+(?:[.,]\d+)?\s*(?:%|prosent\w*|percent\w*|per cent|"
    rf"(?:{_SCALE}\s*)?(?:kroner|kr\b|nok\b|euro\b|eur\b|usd\b|dollars?\b)|"
    # "2,6 milliarder i 2017" is a sum; "25 millioner mennesker" counts people
    rf"{_SCALE}(?!\s+(?!(?:i|in|for|på|og|and|av|of|til|to|fra|from|per)\b)[^\W\d_]{{3}}))",
    re.IGNORECASE,
)


def gives_count(text: str) -> bool:
    """Whether ``text`` gives a number that can count things ("ca. 30 aktører", "ett av
    seks", "370 members"), not only shares, sums of money or years."""
    rest = _SHARE_OR_SUM.sub(" ", text)
    return bool(AMOUNT.search(rest) or _NUMBER_WORD.search(rest))


# A question about which countries is answered by sentences that name one (other than the
# countries the question itself names): "Danmark og Sverige" has no word for "land".
_WHICH_COUNTRIES = re.compile(
    r"\b(hvilke|hvilket|which|what)\s+(?:andre\s+|other\s+)?"
    r"(land|landene|country|countries|nasjoner|nations)\b",
    re.IGNORECASE,
)
# A question about how much a figure grew ("How much did R&D investments grow?", "Hvor mye
# økte omsetningen?"); not a count that names growth ("How many opportunity areas for
# export growth …?").
_HOW_MUCH_GREW = re.compile(
    r"\b(how much|by how much|hvor mye|med hvor mye|hvor mange prosent)\b.*\b(grow|grew|grown|"
    r"growing|increased?|increasing|rise|rose|risen|økte|øke|økt|vokste|vokse|vokst|steg|"
    r"stige)\b",
    re.IGNORECASE,
)
# A question that asks why (the reason, not the conclusion drawn from it).
_ASKS_WHY = re.compile(r"^\W*(why|hvorfor)\b", re.IGNORECASE)
# A question that asks what something is called ("What will the merged cluster be called?",
# "Hva heter …?"): answered only by a sentence that gives a name.
_ASKS_NAME = re.compile(
    r"(?<!so-)\bcalled\b|\b(the name of|named|heter|kalles|navnet på|hva het)\b",
    re.IGNORECASE,
)
# A question that asks who or which one, not how much ("Hvilken andel …" asks a figure).
_ASKS_WHO = re.compile(r"^\W*(who|whom|which|hvem|hvilken|hvilket|hvilke)\b", re.IGNORECASE)
# "i 2019", "in 2019", "for 2019", "(2019)": the year and the word that ties it in.
_YEAR_PHRASE = re.compile(
    r"\s*\b(?:i|in|for|fra|from|år|year|during|under|per)?\s*\(?" + YEAR_DIGITS + r"\)?",
    re.IGNORECASE,
)


def _list_answer(
    scored: Sequence[ScoredSentence],
    threshold: float,
    runners: int,
    following: Sequence[Hit],
    language: str,
) -> Selection | None:
    """A list answer starting from the best sentence or one of up to ``runners`` next ones
    at or above ``threshold`` (a lead-in and its items), or None."""
    leads = [scored[0], *(s for s in scored[1 : 1 + runners] if s.probability >= threshold)]
    return list_selection(leads, following, language)


def _with_further(
    scored: Sequence[ScoredSentence],
    floor: float,
    share: float,
    most: int,
    adds: Callable[[ScoredSentence, list[ScoredSentence]], bool],
) -> list[ScoredSentence]:
    """The best sentence, then the next ones (best first) that ``adds`` to those chosen,
    ``most`` in all, each at least ``floor`` and ``share`` of the best one's probability."""
    chosen = [scored[0]]
    floor = max(floor, share * scored[0].probability)
    for s in scored[1:]:
        if len(chosen) >= most:
            break
        if s.probability >= floor and adds(s, chosen):
            chosen.append(s)
    return chosen


def decide(
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
    """Decide what to quote from the heuristic's candidates: abstain, a near miss, a fact,
    or a list.

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
    if asks_part(question) or asks_part(topic):
        # read with the sentence it leans on ("I dette tallet …" is about the total before
        # it); none left: only the whole's figure for a part's
        kept = [s for s in scored if fits_part(read_with_antecedent(s))]
        if not kept:
            return _near_miss_or_abstain(scored[0], threshold, say(NOT_PART, language))
        scored = kept
    if _HOW_MUCH_GREW.search(question):
        # how much something grew: a sentence that states a level only ("De samlede
        # FoU-investeringene … var på 2,6 milliarder i 2017") does not say
        kept = [s for s in scored if asks_growth(read_with_antecedent(s))]
        if not kept:
            return _near_miss_or_abstain(scored[0], threshold, say(NO_CHANGE, language))
        scored = kept
    if HOW_MANY.search(question) and not is_list_question(question):
        scored = [
            s
            for s in scored
            if AMOUNT.search(s.text) or _NUMBER_WORD.search(s.text) or figure_lines(s)
        ]  # (a chart's caption stands for its figures)
        if not scored:
            return Selection(kind="abstain")
        counted = counted_words(question)
        if counted:  # it counts things: a share or a sum of them is no answer
            scored = [s for s in scored if gives_count(s.text) or figure_lines(s)]
            if not scored:
                return Selection(kind="abstain")
        kept = [s for s in scored if counts(s, counted, language, analyzer)]
        if not kept:  # figures, but of something else ("370 members" for "employees")
            line = say(NOT_COUNTED, language).format(counted=" ".join(counted))
            return _near_miss_or_abstain(scored[0], threshold, line)
        scored = kept
        # a count of several, one of them asked about ("Norway Health Tech and Norwegian
        # Smart Care Cluster together count 370 members" for a question about one of them)
        if question_names(question):
            asked_words = set(words(question))
            kept = [s for s in scored if not sums_others(asked_words, s)]
            if not kept:
                return _near_miss_or_abstain(scored[0], threshold, say(NOT_PART, language))
            scored = kept
    if _ASKS_NAME.search(question):
        # what something is called: a sentence that names nothing the question does not
        # ("The newly merged cluster will represent 370 members") gives no name
        asked_names = {n.lower() for n in question_names(question)}
        naming = [
            s
            for s in scored
            if {n.lower() for n in question_names(s.text)} - asked_names
            or _ASKS_NAME.search(s.text)  # "… kalles for dødsmarker": a name in lower case
        ]
        if not naming:
            return Selection(kind="abstain")
        scored = naming
    if _WHICH_COUNTRIES.search(question):
        asked = countries_in(question)
        naming = [s for s in scored if countries_in(s.text) - asked]
        scored = naming or list(scored)
    best = scored[0]
    near = _year_near_miss(question, scored, language, analyzer, topic=topic)
    if near is not None:
        line, sentence = near
        return Selection([sentence], "near_miss", line) if sentence else Selection(kind="abstain")
    if best.probability < threshold:
        return Selection(kind="abstain")
    if (other_year := _sentence_other_year(question, best, language, analyzer)) is not None:
        if not other_year:
            return Selection(kind="abstain")
        return Selection([best], "near_miss", other_year)
    # A list question whose best sentence is an item line: its lead-in may be a runner-up
    # (a complete best sentence answers itself, and a runner-up list would push it aside;
    # tried for every best sentence that names no several things, it cost 3 gold answers).
    runners = 3 if is_list_question(question) and is_item_line(best.text) else 0
    if (as_list := _list_answer(scored, threshold, runners, following, language)) is not None:
        return as_list
    # A further sentence must itself be likely to answer, relative to the best one (an
    # unsure best brings alternatives, a sure one stands alone).
    chosen = _with_further(
        scored,
        threshold,
        further,
        most,
        lambda s, c: not any(same_content(s.text, x.text) for x in c),
    )
    widened: list[ScoredSentence] = []
    widen = with_reason if _ASKS_WHY.match(question) else with_antecedent
    for s in map(widen, chosen):  # a quote is never repeated inside another
        if not any(overlaps(s, c) for c in widened):
            widened.append(s)
    return Selection(with_items(widened, following), "fact")


def sums_others(asked_words: set[str], s: ScoredSentence) -> bool:
    """Whether ``s`` sums what a question that names someone names with others: it names
    someone none of whose words the question (``asked_words``) has, and sums over parts
    ("together", "merged")."""
    if fits_part(s.text):
        return False
    return any(not set(words(n)) & asked_words for n in question_names(s.text))


def _near_miss_or_abstain(best: ScoredSentence, threshold: float, line: str) -> Selection:
    """No candidate answers what was asked: the near miss (``line`` and the best sentence)
    when that sentence would otherwise have been quoted, else a plain decline."""
    if best.probability < threshold:
        return Selection(kind="abstain")
    return Selection([best], "near_miss", line)


def asked_years(question: str) -> list[str]:
    """The years a question names, once each, in its order."""
    return list(dict.fromkeys(YEAR.findall(question)))


def _year_near_miss(
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
    asked = asked_years(question)
    top = list(scored[:look])
    if not asked or not top or any(y in s.hit.chunk.text for s in top for y in asked):
        return None
    if _ASKS_WHO.match(question) and not asks_quantity(question):
        # "the figure for 2025" answers no question about who or which one ("Hvilken
        # organisasjon satt i styringsgruppen i 2018, …?" got the merger's date)
        return "", None

    def on_topic(s: ScoredSentence) -> bool:
        return holds_subject(topic or question, s, analyzer)

    # a sentence that gives a figure for its year first ("23,6 milliarder kroner i 2017"),
    # then one that only names a year
    for s in sorted(top, key=lambda s: not FIGURE.search(s.text)):
        line = _other_year(s, asked, language)
        if line and on_topic(s):
            return line, s
    return "", None


def holds_subject(question: str, s: ScoredSentence, analyzer: Analyzer) -> bool:
    """Whether the sentence ``s`` is about what the question asks (its years aside): it
    shares a word with the question, and every word of the question that the glossary
    translates stands in the sentence, its headings or its document's title - "How large
    were pharmaceutical exports in 2020?" is not met by the whole industry's exports in 2017
    ("legemidler" is nowhere there), "Hvor store var eksportinntektene til norsk
    helseindustri i 2022?" is (the industry is the chapter's subject)."""
    asked = YEAR.sub(" ", question)
    terms = set(analyzer.terms(s.text, ["nb", "en"]))
    if not any(c & terms for c in analyzer.query_concepts(asked)):
        return False
    chunk = s.hit.chunk
    around = terms | set(analyzer.terms(" ".join([*chunk.section, chunk.title]), ["nb", "en"]))
    translated = " ".join(w for w in words(asked) if w not in STOPWORDS and has_translation(w))
    return all(c & around for c in analyzer.query_concepts(translated)) if translated else True


def _sentence_other_year(
    question: str, best: ScoredSentence, language: str, analyzer: Analyzer
) -> str | None:
    """When the question asks about a year and the best sentence gives its figure for
    another year only ("i 2018?" -> "... 142 milliarder kroner i 2017"), even though the
    asked year stands elsewhere in its passage: the near-miss line ("" when the sentence is
    not about the question's subject: then decline); else None."""
    asked = asked_years(question)
    if not asked or any(y in best.text for y in asked):
        return None
    line = _other_year(best, asked, language)
    if not line:
        return None
    return line if holds_subject(question, best, analyzer) else ""


def _other_year(s: ScoredSentence, asked: Sequence[str], language: str) -> str:
    """The near-miss line when ``s`` names a year other than the ``asked`` ones, else ""."""
    found = [y for y in dict.fromkeys(YEAR.findall(s.text)) if y not in asked]
    if not found:
        return ""
    return say(NEAR_MISS, language).format(found=" / ".join(found), asked=" / ".join(asked))


def decide_with_reader(
    question: str,
    scored: Sequence[ScoredSentence],
    threshold: float,
    language: str,
    reader: Reader,
    every: Sequence[ScoredSentence],
    most: int = 2,
    following: Sequence[Hit] = (),
) -> Selection:
    """Decide what to quote from reader-scored sentences (best first):

    - **abstain** when the best P is below the reader's threshold (calibrated on held-out
      external data to answer 90% of answerable questions);
    - **a near miss by year** only when the asked year is in none of the retrieved
      passages *and* the reader says a sentence answers the question with the year taken
      out; otherwise abstain;
    - **a second sentence** only when the reader says it answers too (P above the
      threshold and close to the best) and it adds words the first does not have;
    - **lists**: a chosen lead-in ending in ':' brings its item lines.
    """
    if not scored:
        return Selection(kind="abstain")
    asked = asked_years(question)
    passages = {s.hit.chunk.chunk_id: s.hit.chunk.text for s in scored}
    if asked and not any(y in text for text in passages.values() for y in asked):
        return _reader_near_miss(question, asked, scored, threshold, language, reader, every)
    best = scored[0]
    if best.probability < threshold:
        return Selection(kind="abstain")
    runners = 2 if is_list_question(question) else 0
    if (as_list := _list_answer(scored, threshold, runners, following, language)) is not None:
        return as_list
    chosen = _with_further(
        scored, threshold, SECOND_SHARE, most, lambda s, c: adds_fact(s.text, [x.text for x in c])
    )
    return Selection(with_items(chosen, following), "fact")


def adds_fact(text: str, before: Sequence[str]) -> bool:
    """Not a near-duplicate of a quote before it, and with content words of its own."""
    if any(same_content(text, b) for b in before):
        return False
    seen = {w for b in before for w in words(b)}
    new = {w for w in words(text) if w not in STOPWORDS and w not in seen and len(w) > 2}
    return len(new) >= NEW_WORDS


def without_years(question: str) -> str:
    """The question with its years (and the word that ties each in) taken out."""
    return re.sub(r"\s+([?.!,])", r"\1", " ".join(_YEAR_PHRASE.sub(" ", question).split()))


def _reader_near_miss(
    question: str,
    asked: list[str],
    scored: Sequence[ScoredSentence],
    threshold: float,
    language: str,
    reader: Reader,
    every: Sequence[ScoredSentence],
) -> Selection:
    """The asked year is in no retrieved passage: say what the documents give instead, but
    only when the reader says that sentence answers the question with the year taken out
    and the sentence names another year."""
    rescored = reader_scores(without_years(question), scored, every, reader)
    for s in rescored:
        if s.probability < threshold:
            break
        line = _other_year(s, asked, language)
        if line:
            return Selection([s], "near_miss", line)
    return Selection(kind="abstain")


def decide_overview(
    question: str,
    documents: Sequence[tuple[Sequence[ScoredSentence], dict[str, np.ndarray]]],
    query_vector: np.ndarray,
    most: int,
) -> Selection:
    """An overview: for each document (its sentences in reading order and their vectors)
    the sentences :func:`.overview.overview` picks, at most ``most`` each."""
    chosen: list[ScoredSentence] = []
    for sentences, vectors in documents:
        picked = overview(question, sentences, vectors, query_vector, most)
        chosen += [s for s in picked if quotable(s)]
    return Selection(chosen, "overview" if chosen else "abstain")
