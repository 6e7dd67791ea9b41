"""The hand-weighted sentence support score (the default until the learned scorer wins on
the gold set; see eval/results/answer-scorer.md).

Support of a sentence = weighted embedding similarity to the question (sentence and its
passage) + the IDF-weighted share of the question's content words it holds, a bonus for a
number or date when the question asks for one, a small bonus for the passage's rank, and a
penalty when the question names a year the passage lacks. Weights were chosen on the
check set (eval/results/tune-*.md). For a list question, a bonus for a sentence that names
several things; short lines are skipped unless they lead a list or are a label the
question names ("Endringer i rammevilkår").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from helse_qa.text.analysis import STOPWORDS, Analyzer, with_siblings, words
from helse_qa.text.listing import (
    as_read,
    asks_breakdown,
    caption_figures,
    is_list_question,
    items_after,
    label_section,
)
from helse_qa.text.numbers import FIGURE, YEAR, YEAR_DIGITS
from helse_qa.text.sentences import antecedent_start, self_contained
from helse_qa.types import Hit, SentenceRecord

# Cosine similarities of e5 models live in a narrow band; this maps it onto 0..1.
_COS_FLOOR = 0.76
_COS_SPAN = 0.14
_SENTENCE_WEIGHT = 0.3
_NUMBER_BONUS = 0.1  # a question about a quantity or date prefers sentences with digits
_PASSAGE_WEIGHT = 0.15
_QUANTITY = re.compile(
    r"\b(how (much|many|large|big)|hvor (mye|mange|stor|store|høy|høye)|share|andel|"
    r"percent|prosent|amount|beløp|turnover|omsetning|omsatte|revenue|inntekt\w*|"
    r"when|når|what year|hvilket år|date|dato|number|antall)s?\b",  # "revenues", "shares"
    re.IGNORECASE,
)


# A sum of money: the unit a revenue, turnover or spending question is answered in.
MONEY = re.compile(
    r"\b(kroner|kr|nok|mrd|milliard\w*|million\w*|mill|billion\w*|euro|eur|usd|dollars?)\b",
    re.IGNORECASE,
)
# (a sum's verb too: "amount to", "utgjorde")
_ASKS_MONEY = re.compile(
    r"(inntekt|omsetning|omsatte|omsette|revenue|turnover|earn|spen[dt]|invest|budsjett|"
    r"budget|kostnad|cost|kroner|amount|beløp|utgjorde)",
    re.IGNORECASE,
)
# Words of growth, shared by a share-or-growth question and a change question.
_GROWTH_WORDS = (
    r"vekst\w*|growth|grow\w*|grew|vokste|vokse|økt\w*|økte|øke|økning\w*|increase\w*|"
    r"steg|rose|risen"
)
_ASKS_SHARE = re.compile(
    rf"\b(andel\w*|prosent\w*|shares?|percent\w*|{_GROWTH_WORDS})\b", re.IGNORECASE
)

# A question about a change ("Hvor mye økte omsetningen …?", "How much did exports grow?"):
# a chart of levels or shares does not answer it, one whose caption says growth may.
_ASKS_GROWTH = re.compile(rf"\b({_GROWTH_WORDS}|endr\w*|change\w*)\b", re.IGNORECASE)


def asks_growth(text: str) -> bool:
    """Whether ``text`` asks about (or, a caption, shows) a change of a figure."""
    return bool(_ASKS_GROWTH.search(text))


_ASKS_WHEN = re.compile(r"(når|when|hvilket år|what year)\b", re.IGNORECASE)
_WHAT_WAS = re.compile(r"(hva (var|er|blir)|what (was|were|is|are|will be))\b", re.IGNORECASE)


def asks_money(question: str) -> bool:
    """Whether a question asks for a sum of money ("Hvor store eksportinntekter …?", "How
    much did the industry spend on R&D?"), not a share or a growth rate of one."""
    return (
        bool(asks_quantity(question) or _WHAT_WAS.match(question.strip()))
        and bool(_ASKS_MONEY.search(question))  # in a compound too: "eksportinntekter"
        and not _ASKS_SHARE.search(question)
        and not _ASKS_WHEN.match(question.strip())
    )


def asks_quantity(question: str) -> bool:
    """Whether a question asks for a figure or a date ("How much …", "export revenues",
    "Hvor mange …", "når")."""
    return bool(_QUANTITY.search(question))


_DIGIT = re.compile(r"\d")
# A list question prefers a sentence that names several things ("som klynger,
# organisasjoner, universiteter, TTO-er og bedrifter", "i) … ii) … iii) …").
_LIST_BONUS = 0.1
_SERIES = re.compile(r"[^,;]+(?:[,;][^,;]+){2,}\s(?:og|and|samt|eller|or)\s", re.IGNORECASE)
_NUMBERED = re.compile(r"\bii\)")


def all_named(text: str, concepts: Sequence[frozenset[str]], analyzer: Analyzer) -> bool:
    """Whether the question (its ``concepts``, :meth:`Analyzer.query_concepts`) holds every
    content word of ``text``, at least two ("Endrede incentivordninger" in "Hva foreslår
    rapporten under punktet om endrede incentivordninger?")."""
    content = _content(text)
    asked = _asked(concepts)
    return len(content) >= 2 and all(_names(w, asked, analyzer) for w in content)


def chart_named(
    caption: str,
    text: str,
    figures: Sequence[tuple[int, int]],
    concepts: Sequence[frozenset[str]],
    analyzer: Analyzer,
) -> bool:
    """Whether a question asks for a figure of a chart: it names one of its labels
    ("pharmaceuticals" for "Legemidler: 34%") and a word of its caption other than a year
    ("exports" for "Helseindustrien – fordeling eksport 2017")."""
    return bool(rows_named(text, figures, concepts, analyzer)) and bool(
        _caption_words_named(caption, concepts, analyzer)
    )


def _caption_words_named(
    caption: str, concepts: Sequence[frozenset[str]], analyzer: Analyzer
) -> list[str]:
    """The words of a chart's caption other than a year that the question names (a
    misspelt one too: "turnover" names "omsettning"), in any of its glossary forms
    ("omsatte" names "omsetning")."""
    asked = with_siblings(_asked(concepts))
    return [
        w
        for w in _content(caption)
        if not YEAR.fullmatch(w)
        and (_names(w, asked, analyzer) or _names_misspelt(w, asked, analyzer))
    ]


def caption_weight(caption: str, concepts: Sequence[frozenset[str]], analyzer: Analyzer) -> float:
    """How strongly a question names a chart's caption: the summed IDF of the caption's
    words it names (a misspelt one too: "turnover" names "omsettning"), not counting a year
    or the breakdown word ("split" for "fordeling"); 0 unless one of them stands in at
    most half the passages ("helseindustrien", in almost every one, tells no chart apart).
    """
    weight, distinctive = 0.0, False
    for w in _caption_words_named(caption, concepts, analyzer):
        if asks_breakdown(w):
            continue
        # the forms the corpus uses ("helseindustri", not the unseen "helseindustrien")
        forms = analyzer.terms(w, ["nb", "en"])[:2]
        seen = frozenset(t for t in forms if analyzer.doc_freq.get(t, 0)) or frozenset(forms)
        weight += analyzer.idf(seen)
        df = max(analyzer.doc_freq.get(t, 0) for t in seen)
        distinctive = distinctive or df <= analyzer.n_docs / 2
    return weight if distinctive else 0.0


def _names_misspelt(word: str, asked: set[str], analyzer: Analyzer) -> bool:
    """Whether the question's terms hold ``word`` but for one letter: a chart caption set
    as a picture is not proof-read ("Helseindustrien – omsettning 2017" is the report's
    own spelling of "omsetning")."""
    stems = analyzer.terms(word, ["nb", "en"])[:2]
    return any(len(s) >= 6 and any(_one_edit(s, a) for a in asked) for s in stems)


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by one inserted, deleted or changed letter."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = next((k for k in range(len(a)) if a[k] != b[k]), len(a))
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


def rows_named(
    text: str,
    figures: Sequence[tuple[int, int]],
    concepts: Sequence[frozenset[str]],
    analyzer: Analyzer,
) -> list[tuple[int, int]]:
    """The rows of a chart (``figures``: offsets in ``text``) whose label the question
    names ("pharmaceuticals" for "Legemidler: 34%")."""
    return [(a, b) for a, b in figures if names_label(text[a:b], concepts, analyzer)]


# A word a chart's label shortens ("Spes." of "Spes. underleverandører: 8%").
_ABBREVIATION = re.compile(r"\b([^\W\d_]{3,})\.(?=\s)")


def names_label(row: str, concepts: Sequence[frozenset[str]], analyzer: Analyzer) -> bool:
    """Whether ``concepts`` (a question's or a sentence's, :meth:`Analyzer.query_concepts`)
    hold every content word of the label of ``row`` ("Legemidler" of "Legemidler: 34%"); a
    shortened word is held by a term it begins ("spesialiserte" holds "Spes.")."""
    label = row.split(":", 1)[0]
    short = {w.lower() for w in _ABBREVIATION.findall(label)}
    content = _content(label)
    asked = _asked(concepts)
    return bool(content) and all(
        _names(w, asked, analyzer)
        or (w in short and any(a.startswith(w) for a in asked))
        or _cognate(w, asked)
        for w in content
    )


def _cognate(word: str, asked: set[str]) -> bool:
    """Whether a term of the question begins like ``word`` for at least six letters and
    most of its length: an English word and its Norwegian twin ("distribution" /
    "Distribusjon", "production" / "produksjon")."""
    return len(word) >= 6 and any(
        len(a) >= 6 and _common_prefix(a, word) >= max(6, 0.75 * min(len(a), len(word)))
        for a in asked
    )


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _content(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def _asked(concepts: Sequence[frozenset[str]]) -> set[str]:
    """Every term of a question's concepts."""
    return set().union(*concepts) if concepts else set()


def _names(word: str, asked: set[str], analyzer: Analyzer) -> bool:
    """Whether the question's terms hold ``word`` (its stem in either language)."""
    return bool(set(analyzer.terms(word, ["nb", "en"])[:2]) & asked)


def _enumerates(text: str) -> bool:
    return bool(_SERIES.search(text) or _NUMBERED.search(text))


_WHEN = re.compile(r"\b(when|når|what year|which year|hvilket år|date|dato|hvilken dato)\b", re.I)
_DATE = re.compile(
    rf"\b{YEAR_DIGITS}\b|"
    r"\b(januar[y]?|februar[y]?|march|mars|april|may|mai|june?|juni|"
    r"july|juli|august|september|o[ck]tober|november|de[cs]ember)\b",
    re.I,
)
# Words by which a question names its source ("what does the report say about ...") say
# nothing about the answer; a sentence is not better for containing "rapporten".
_SOURCE_WORDS = re.compile(
    r"\b(report|reports|rapport|rapporten|article|artikkel|artikkelen|document|documents|"
    r"dokument|dokumentet|dokumentene|text|teksten)\b",
    re.IGNORECASE,
)
# A question that names a year the passage never mentions is a near miss (asked about
# 2022, the text is about 2017): its support is scaled down by this factor.
_YEAR_MISMATCH = 0.6


@dataclass(frozen=True)
class SupportWeights:
    """How a sentence's support score is made (chosen by measurement on the check set)."""

    sentence: float = _SENTENCE_WEIGHT
    passage: float = _PASSAGE_WEIGHT
    number_bonus: float = _NUMBER_BONUS
    rank_bonus: float = 0.04
    list_bonus: float = _LIST_BONUS


def _squash(cos: float) -> float:
    return float(np.clip((cos - _COS_FLOOR) / _COS_SPAN, 0.0, 1.0))


def support_scores(
    question: str,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    records: Sequence[SentenceRecord],
    vectors: np.ndarray,
    analyzer: Analyzer,
    weights: SupportWeights = SupportWeights(),
) -> list[tuple[SentenceRecord, str, Hit, int, float]]:
    """(record, text, hit, passage rank, support in 0..1) per quotable sentence, best first."""
    by_chunk = {h.chunk.chunk_id: (i + 1, h) for i, h in enumerate(hits)}
    concepts = analyzer.query_concepts(_SOURCE_WORDS.sub(" ", question))
    idf = [analyzer.idf(c) for c in concepts]
    total_idf = sum(idf)
    wants_number = asks_quantity(question)
    wants_date = bool(_WHEN.search(question))
    wants_list = is_list_question(question)
    wants_breakdown = asks_breakdown(question)
    years = set(YEAR.findall(question))
    heading_titles = {title for h in hits for title in h.chunk.section}
    cosines: list[float] = (
        (vectors @ np.asarray(query_vector, dtype=np.float32)).tolist() if len(records) else []
    )
    scored: list[tuple[SentenceRecord, str, Hit, int, float]] = []
    for record, cos in zip(records, cosines, strict=False):
        found = by_chunk.get(record.chunk_id)
        if found is None:
            continue
        rank, hit = found
        chunk = hit.chunk
        text = chunk.text[record.start - chunk.start : record.end - chunk.start]
        # a short lead-in with its items answers a list question ("Følgende aktører
        # intervjuet:"); its items are not read: an item that shares a word with the
        # question ("Få lokomotiver og frontrunnere") does not make a list the answer
        lead_in = wants_list and text.rstrip().endswith(":")
        items = items_after(chunk.text, record.end - chunk.start) if lead_in else ""
        # a short label line is worth quoting only when it carries a figure
        # ("Diagnostikk: 54%", "Legemidler: 26 mrd"), not just a year
        short = len(text.split()) < 4 and not FIGURE.search(text)
        start, end = record.start - chunk.start, record.end - chunk.start
        # a point of the report the question names ("Endringer i rammevilkår")
        named_label = (
            short
            and not items
            and bool(label_section(chunk.text, start, end, chunk.section))
            and all_named(text, concepts, analyzer)
        )
        if text in heading_titles or (short and not items and not named_label):
            continue  # headings and figure captions ("fordeling eksport 2017") answer nothing
        figures = caption_figures(chunk.text, start, end)
        if figures and not (
            wants_breakdown or chart_named(text, chunk.text, figures, concepts, analyzer)
        ):
            continue  # a chart answers how a figure divides, or a figure of it asked for
        # a sentence that leans on the one before it ("Dette har vi vist i næringer som
        # olje og gass …") is read with it: it is quoted with it (with_antecedent)
        read = as_read(chunk.text, start, end)  # a chart row with its caption
        if read != text and not names_label(text, concepts, analyzer):
            continue  # a row whose label the question does not name ("Medtech: 3%" for
            # the industry's exports: its caption's words are no answer)
        if read == text and not self_contained(text):
            before = antecedent_start(chunk.text, start)
            read = chunk.text[before:end] if before is not None else text
        s_terms = set(analyzer.terms(read, ["nb", "en"]))
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
        if wants_list and _enumerates(text):
            support += weights.list_bonus
        support += weights.rank_bonus / rank
        if years and not all(y in chunk.text for y in years):
            support *= _YEAR_MISMATCH
        scored.append((record, text, hit, rank, min(support, 1.0)))
    scored.sort(key=lambda s: (-s[4], s[3], s[0].start))
    return scored
