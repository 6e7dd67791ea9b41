"""Extractive answers: quote the retrieved sentences that answer the question, cite them.

Every sentence of the retrieved passages is scored by the learned answer scorer
(:mod:`.scorer`): the probability that it answers the question, from the e5 vectors of the
question, the sentence and its passage plus lexical and question-type features. Then:

- **abstain** when even the best sentence is below the model's threshold (the closest
  passages are still shown);
- **a near miss** (the question names a year the documents do not give, and they give
  another) is said plainly: "The documents give the figure for 2017, not 2022: ... [1]";
- **no padding**: a further sentence is quoted only when the model says it answers too;
- **lists**: a lead-in that ends in ':' brings the item lines that belong to it (also when
  the PDF text put them further down the page);
- **overviews** ("Summarise ...", "Oppsummer ...", "main findings"): :mod:`.overview`.

Quotes are always verbatim spans of the parsed document text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from helse_qa.answering.heuristic import all_named, asks_quantity, chart_named
from helse_qa.answering.scorer import AnswerScorer
from helse_qa.messages import ABSTAIN_MESSAGES, say
from helse_qa.text.analysis import STOPWORDS, Analyzer, has_translation, words
from helse_qa.text.glossary import COUNTRY_NAMES
from helse_qa.text.language import detect_language
from helse_qa.text.listing import (
    announced,
    asks_breakdown,
    caption_figures,
    is_item_text,
    is_list_question,
    item_run,
    items_after,
    label_section,
    line_spans,
    prose_run,
)
from helse_qa.text.numbers import AMOUNT, FIGURE, YEAR
from helse_qa.text.sentences import antecedent_start, paragraph_at, self_contained
from helse_qa.types import Chunk, Citation, Hit, SentenceRecord

_DUPLICATE_OVERLAP = 0.8  # share of the shorter sentence's words found in the other
_LIST_ITEMS = 8  # item paragraphs always quoted after a lead-in ...
_LIST_WORDS = 120  # ... and more while the items stay within this many words (a table of
# twelve short names is quoted whole; eight long item paragraphs are enough)
_ITEM_WORDS = 14  # an item line is short ...
# A date ("23.01.18"): a short line of dates answers only when it also carries a figure
# ("Diagnostikk: 54%" answers, "Smart Care Cluster 02.02.18" does not).
_DATE_ONLY = re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{2,4}\b")


# A name in the question: a capitalised word (not the question's first) or an acronym,
# with the capitalised words that follow it ("Oslo Cancer Cluster", "Denmark's", "DRG").
_NAME_TOKEN = re.compile(r"[^\W\d_][\w&-]*(?:['’]s)?", re.UNICODE)
NOT_NAMED = {
    "nb": "Dokumentene sier ikke dette om {name}. Nærmeste treff:",
    "en": "The documents do not say this about {name}. The closest they come:",
}
# A question that asks how many / how much is answered only by a sentence with a figure.
_HOW_MANY = re.compile(
    r"\b(how (many|much)|hvor (mange|mye)|what (share|percentage|proportion)|"
    r"hvor stor andel|hvilken andel)\b",
    re.IGNORECASE,
)
_NUMBER_WORD = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|"
    r"thousands?|millions?|billions?|half|tre|fire|fem|seks|sju|syv|åtte|ni|ti|elleve|tolv|"
    r"hundre|tusen|millioner|milliarder|mrd|halvparten|dobbelt)\b",
    re.IGNORECASE,
)
# What a how-many question counts: the words after "how many" / "hvor mange" up to the
# first function word or verb ("ansatte" in "Hvor mange ansatte har ...").
_COUNTED = re.compile(r"\b(?:how many|hvor mange)\s+(.*)", re.IGNORECASE)
_COUNTED_STOP = frozenset(
    "bor live lives lived work works worked working jobber jobbet arbeider arbeidet "
    "finnes exist exists får fikk got get gets består consist consists gjennomføres "
    "gjennomført tested testet represent represents representerer count counts teller "
    "employ employs sysselsetter".split()
)
# Units are not what is counted ("hvor mange prosent", "how many billion kroner").
_UNITS = frozenset(
    "prosent percent andel share kroner nok million millioner milliard milliarder billion "
    "billions mrd".split()
)
# A question about which countries is answered by sentences that name one (other than the
# countries the question itself names): "Danmark og Sverige" has no word for "land".
_WHICH_COUNTRIES = re.compile(
    r"\b(hvilke|hvilket|which|what)\s+(?:andre\s+|other\s+)?"
    r"(land|landene|country|countries|nasjoner|nations)\b",
    re.IGNORECASE,
)
# A list answer says how many items there are when its lead-in announces a number, and
# which part it quotes when the list is longer than it shows.
LIST_COUNT = {"nb": "{n} punkter:", "en": "{n} items:"}
LIST_FIRST = {"nb": "De første {shown} av {n} punktene:", "en": "The first {shown} of {n} items:"}
NOT_COUNTED = {
    "nb": "Dokumentene oppgir ikke antall {counted}. Nærmeste treff:",
    "en": "The documents do not give the number of {counted}. The closest they come:",
}
NEAR_MISS = {
    "nb": "Dokumentene oppgir tallet for {found}, ikke {asked}:",
    "en": "The documents give the figure for {found}, not {asked}:",
}
QUOTED_FROM = {
    ("nb", "en"): "Sitert fra engelsk kilde.",
    ("en", "nb"): "Quoted from the Norwegian source.",
}


@dataclass(frozen=True)
class ScoredSentence:
    record: SentenceRecord
    text: str
    hit: Hit
    rank: int  # 1-based rank of its passage
    probability: float  # that it answers the question (the learned scorer)
    span: tuple[int, int] | None = None  # the answer phrase in ``text`` (the reader)


@dataclass
class Selection:
    """What an extractive answer quotes, and how it is framed."""

    chosen: list[ScoredSentence] = field(default_factory=list)
    kind: str = "fact"  # fact | list | overview | near_miss | abstain
    lead: str = ""  # a line before the quotes (the near-miss sentence)

    @property
    def answers(self) -> bool:
        return self.kind not in ("abstain", "near_miss")


def candidates(
    hits: Sequence[Hit], records: Sequence[SentenceRecord], vectors: np.ndarray
) -> list[tuple[SentenceRecord, str, Hit, int, np.ndarray]]:
    """Every sentence of the retrieved passages, in passage then reading order (the scorer
    sees them all: several of its features are relative to the whole set)."""
    by_chunk = {h.chunk.chunk_id: (i + 1, h) for i, h in enumerate(hits)}
    out = []
    for record, vector in zip(records, vectors, strict=False):
        found = by_chunk.get(record.chunk_id)
        if found is not None:
            rank, hit = found
            out.append((record, record.text_in(hit.chunk), hit, rank, vector))
    out.sort(key=lambda c: (c[3], c[0].start))
    return out


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
    return n_words >= 2 and (s.text.rstrip().endswith(":") or bool(_section(s)))


def _figures(s: ScoredSentence) -> list[tuple[int, int]]:
    """The figure lines of the chart ``s`` is the caption of ("Helseindustrien –
    omsettning 2017" before "Legemidler: 26 mrd" …), as offsets in its passage; []
    when it is none."""
    chunk = s.hit.chunk
    return caption_figures(chunk.text, s.record.start - chunk.start, s.record.end - chunk.start)


def _section(s: ScoredSentence) -> list[tuple[int, int]]:
    """The prose paragraphs under ``s`` when it is a label over them ("Endringer i
    rammevilkår"), as offsets in its passage; [] when it is none."""
    chunk = s.hit.chunk
    start = s.record.start - chunk.start
    return label_section(chunk.text, start, s.record.end - chunk.start, chunk.section)


def leads_list(s: ScoredSentence) -> bool:
    """A lead-in ("… har to store fordeler:"), a chart's caption or a label over its
    paragraphs: quoted with the items, figure lines or paragraphs that follow it."""
    return s.text.rstrip().endswith(":") or bool(_figures(s)) or bool(_section(s))


def promote_named(
    question: str, scored: Sequence[ScoredSentence], analyzer: Analyzer, look: int = 10
) -> list[ScoredSentence]:
    """A question that names a point of a report by its label ("Hva foreslår rapporten
    under punktet om endrede incentivordninger?") is answered by the label with its
    paragraphs, and one that asks for a figure of a chart ("What share of the exports came
    from pharmaceuticals?") by the chart: the first such label or chart caption among the
    ``look`` best sentences goes first."""
    if not scored:
        return list(scored)
    concepts = analyzer.query_concepts(question)

    def named(s: ScoredSentence) -> bool:
        if _section(s):
            return all_named(s.text, concepts, analyzer)
        figures = _figures(s)
        return bool(figures) and chart_named(s.text, s.hit.chunk.text, figures, concepts, analyzer)

    for s in scored[:look]:
        if named(s):
            lead = replace(s, probability=max(s.probability, scored[0].probability))
            return [lead, *(t for t in scored if t is not s)]
    return list(scored)


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
    if _HOW_MANY.search(question) and not is_list_question(question):
        scored = [
            s for s in scored if AMOUNT.search(s.text) or _NUMBER_WORD.search(s.text) or _figures(s)
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
    if is_list_question(question) and _is_item(best.text):
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
        if not any(_overlap(s, c) for c in widened):
            widened.append(s)
    return Selection(with_items(widened, following), "fact")


def _overlap(a: ScoredSentence, b: ScoredSentence) -> bool:
    return (
        a.record.doc_id == b.record.doc_id
        and a.record.start < b.record.end
        and b.record.start < a.record.end
    )


def _antecedent(s: ScoredSentence) -> int | None:
    """Where the sentence that ``s`` leans on starts (document offset), when ``s`` leans on
    one in its paragraph ("I sum skaper dette …"); None when it stands alone."""
    if self_contained(s.text):
        return None
    chunk = s.hit.chunk
    start = antecedent_start(chunk.text, s.record.start - chunk.start)
    return None if start is None else chunk.start + start


def with_antecedent(s: ScoredSentence) -> ScoredSentence:
    """A sentence that leans on the one before it ("I sum skaper dette et meget robust
    grunnlag …") quoted from that one on, when both stand in one paragraph: one quote that
    makes sense alone."""
    start = _antecedent(s)
    if start is None:
        return s
    record = SentenceRecord(s.record.chunk_id, s.record.doc_id, start, s.record.end)
    return replace(s, record=record, text=record.text_in(s.hit.chunk), span=None)


def promote_list(
    question: str,
    scored: Sequence[ScoredSentence],
    vectors: dict[str, np.ndarray],
    query_vector: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    look: int = 10,
) -> list[ScoredSentence]:
    """A list question reads a lead-in with its items: a lead-in among the ``look`` best
    sentences whose text with its items is closer to the question (e5) than the best
    sentence alone goes first ("Intervjuguiden hadde fokus på følgende hovedtema:" with
    its seven topics, for "Which topics were the actors asked about?")."""
    if not scored or not is_list_question(question) or scored[0].record.sentence_id not in vectors:
        return list(scored)
    q = np.asarray(query_vector, dtype=np.float32)
    leads = []
    breakdown = asks_breakdown(question)
    for s in scored[:look]:
        chunk = s.hit.chunk
        figures = _figures(s) if breakdown else []
        if figures:
            items = "\n".join(chunk.text[a:b] for a, b in figures)
        else:
            items = items_after(chunk.text, s.record.end - chunk.start)
        if items and (figures or s.text.rstrip().endswith(":")):
            leads.append((s, f"{s.text}\n{items}"))
    if not leads:
        return list(scored)
    best = _closeness(scored[0], vectors, q)
    # a lead-in is as close as its own words ("Følgende aktører intervjuet:" for "Who
    # were interviewed?") or its words with its items (the topics for "Which topics …?")
    closeness = np.maximum(
        embed([text for _, text in leads]) @ q,
        [float(vectors.get(s.record.sentence_id, q * 0) @ q) for s, _ in leads],
    )
    # the closest test is a gate; among the lead-ins that pass it the scorer's order holds
    closer = [i for i, c in enumerate(closeness) if float(c) > best]
    if not closer:
        return list(scored)
    i = closer[0]
    lead = replace(leads[i][0], probability=max(leads[i][0].probability, scored[0].probability))
    return [lead, *(s for s in scored if s is not leads[i][0])]


def _closeness(s: ScoredSentence, vectors: dict[str, np.ndarray], q: np.ndarray) -> float:
    """How close a sentence is to the question (e5), read as it is quoted: a sentence that
    leans on the one before it ("Dette har vi vist i næringer som olje og gass …") is as
    close as that one, when it is the closer (:func:`with_antecedent`)."""
    close = float(vectors[s.record.sentence_id] @ q)
    start = _antecedent(s)
    before = None if start is None else vectors.get(f"{s.record.chunk_id}@{start}")
    return close if before is None else max(close, float(before @ q))


def with_items(
    chosen: Sequence[ScoredSentence], following: Sequence[Hit] = ()
) -> list[ScoredSentence]:
    """A quoted lead-in ("… har to store fordeler:") never stands without its items."""
    out: list[ScoredSentence] = []
    for s in chosen:
        if s is not chosen[0] and _section(s):
            continue  # a label ("Flere kliniske studier og mer produksjon") as a runner-up:
            # alone a heading, with its paragraphs padding
        items = list_items(s, following) if leads_list(s) else []
        if items or len(s.text.split()) >= 4 or s is chosen[0]:
            out += [s, *capped(items)]
    return out


def countries_in(text: str) -> set[str]:
    """The country names in ``text`` (lower-cased, English or Norwegian)."""
    low = text.lower()
    return {
        name
        for name in COUNTRY_NAMES
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", low)
        and (len(name) > 2 or re.search(rf"\b{re.escape(name.upper())}\b", text))
    }


def counted_words(question: str) -> list[str]:
    """The words naming what a how-many question counts, as written (at most three):
    ["ansatte"] for "Hvor mange ansatte har Oslo Cancer Cluster?", ["industry", "players"]
    for "How many industry players were interviewed?"; [] for units ("hvor mange prosent")."""
    m = _COUNTED.search(question)
    if m is None:
        return []
    found: list[str] = []
    for word in re.findall(r"[^\W\d_]+", m.group(1))[:3]:
        low = word.lower()
        if low in STOPWORDS or low in _COUNTED_STOP:
            break
        found.append(word)
    return [] if any(w.lower() in _UNITS for w in found) else found


def counts(s: ScoredSentence, counted: Sequence[str], language: str, analyzer: Analyzer) -> bool:
    """Whether the sentence names what the question counts (any of its words, in either
    language). A word is checked only where that is possible: the glossary translates it,
    or question and passage are in the same language; otherwise the sentence passes."""
    same_language = s.hit.chunk.language == language
    checkable = [w for w in counted if same_language or has_translation(w)]
    if not checkable:
        return True
    terms = set(analyzer.terms(s.text, ["nb", "en"]))
    return any(c & terms for w in checkable for c in analyzer.query_concepts(w))


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


# Norwegian writes nationalities in lower case ("den svenske helseindustrien"); they name a
# country as much as "Swedish" does.
_NATIONALITY = re.compile(
    r"^(norsk|norske|svensk|svenske|dansk|danske|finsk|finske|islandsk|islandske|tysk|tyske|"
    r"britisk|britiske|amerikansk|amerikanske|fransk|franske|nederlandsk|nederlandske)$"
)
# A nationality names its country: the near-miss line says "about Denmark", not "about
# Danish" (issue 25). Stems, lower case -> the country in English and in Norwegian.
_COUNTRY_OF = {
    "norw": ("Norway", "Norge"),
    "nors": ("Norway", "Norge"),
    "swed": ("Sweden", "Sverige"),
    "sven": ("Sweden", "Sverige"),
    "dani": ("Denmark", "Danmark"),
    "dans": ("Denmark", "Danmark"),
    "finn": ("Finland", "Finland"),
    "fins": ("Finland", "Finland"),
    "icel": ("Iceland", "Island"),
    "isla": ("Iceland", "Island"),
    "germ": ("Germany", "Tyskland"),
    "tysk": ("Germany", "Tyskland"),
    "brit": ("the United Kingdom", "Storbritannia"),
    "amer": ("the United States", "USA"),
    "fren": ("France", "Frankrike"),
    "fran": ("France", "Frankrike"),
    "dutc": ("the Netherlands", "Nederland"),
    "nede": ("the Netherlands", "Nederland"),
}
_NATIONALITY_EN = re.compile(
    r"^(Norwegian|Swedish|Danish|Finnish|Icelandic|German|British|American|French|Dutch)$"
)
# A question's markup ("<b>Hvem</b> leder ...") is shown as text, and never read as words.
_MARKUP = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
NOT_ABOUT = {
    "nb": "Dokumentene sier ikke dette om {name}.",
    "en": "The documents do not say this about {name}.",
}


def place_named(name: str, language: str) -> str | None:
    """The country a name is, or whose nationality it is ("Danish" -> "Denmark"; "danske"
    -> "Danmark" for a Norwegian question); None when it is not a place."""
    low = name.lower()
    if _NATIONALITY.match(low) or _NATIONALITY_EN.match(name):
        en, nb = _COUNTRY_OF[low[:4]]
        return nb if language == "nb" else en
    return name if countries_in(name) else None


def question_names(question: str) -> list[str]:
    """The names a question asks about, as written ("Oslo Cancer Cluster", "Denmark"): runs
    of capitalised words that do not start a sentence; acronyms are left out (documents
    often spell them out: "BNP", "bruttonasjonalprodukt")."""
    names: list[list[str]] = []
    previous_end = -2
    question = _MARKUP.sub(lambda m: " " * len(m.group()), question)
    for m in _NAME_TOKEN.finditer(question):
        word = re.sub(r"['’]s$", "", m.group())
        before = question[: m.start()].rstrip(" «»\"'“”‘’(")
        starts_sentence = not before or before.endswith((".", "?", "!", ":"))
        if _NATIONALITY.match(word.lower()):
            names.append([word])
            previous_end = -2
            continue
        if starts_sentence or not word[:1].isupper() or word.isupper():
            previous_end = -2
            continue
        if names and m.start() - previous_end <= 1:
            names[-1].append(word)
        else:
            names.append([word])
        previous_end = m.end()
    return [" ".join(n) for n in names]


# A name word found in more than this share of all passages is what the corpus is about
# ("Norge" in a corpus on Norway's health industry): it constrains nothing.
_COMMON_NAME = 0.2


def keep_named(
    question: str, scored: Sequence[ScoredSentence], language: str, analyzer: Analyzer
) -> tuple[list[ScoredSentence], str]:
    """Only sentences whose paragraph names what the question names (in either language),
    and for a how-many question only those that name it or no one else; when none does,
    the name the documents say nothing about."""

    def uncommon(name: str) -> list[frozenset[str]]:
        return [
            c
            for c in analyzer.query_concepts(name)
            if max((analyzer.doc_freq.get(t, 0) for t in c), default=0)
            <= _COMMON_NAME * max(1, analyzer.n_docs)
        ]

    names = [(name, concepts) for name in question_names(question) if (concepts := uncommon(name))]
    counting = bool(_HOW_MANY.search(question))
    if not names or not scored:
        return list(scored), ""

    def holds(text: str, name: str, concepts: list[frozenset[str]]) -> bool:
        """Whether ``text`` names ``name``: it holds the name's rarest word ("Cancer" of
        "Oslo Cancer Cluster": "Norwegian Smart Care Cluster" is another cluster), or a
        name made of its words ("says Kristensen" names Arild Kristensen)."""
        have = set(analyzer.terms(text, ["nb", "en"]))
        # how often the word is used in any of its forms (its translations' forms too)
        use = [max(analyzer.doc_freq.get(t, 0) for t in c) for c in concepts]
        if any(c & have for c, n in zip(concepts, use, strict=True) if n == min(use)):
            return True
        asked = set(name.lower().split())
        spelled = (set(n.lower().split()) - STOPWORDS for n in question_names(text))
        return any(words and words <= asked for words in spelled)  # not "The" of a title

    def named(s: ScoredSentence, name: str, concepts: list[frozenset[str]]) -> bool:
        chunk = s.hit.chunk
        start, end = paragraph_at(chunk.text, s.record.start - chunk.start)
        paragraph = chunk.text[start:end]
        # its paragraph, under the title and headings of its passage, names it ...
        if not holds(" ".join([chunk.title, *chunk.section, paragraph]), name, concepts):
            return False
        # ... but a figure in a sentence that names others and not it is theirs ("Norway
        # Health Tech and Norwegian Smart Care Cluster together count 370 members" for "How
        # many members does Oslo Cancer Cluster have?"); a sentence that names no one
        # ("They offer services in …") may be about it, and one that names others answers
        # a question about others ("Hvilke land sammenlignes Norge med?")
        return (
            not counting
            or holds(s.text, name, concepts)
            or not any(uncommon(n) for n in question_names(s.text))
        )

    kept = [s for s in scored if all(named(s, n, c) for n, c in names)]
    if kept:
        return kept, ""
    missing = [n for n, c in names if not named(scored[0], n, c)]
    return list(scored), missing[0]


def list_selection(
    leads: Sequence[ScoredSentence], following: Sequence[Hit] = (), language: str = "en"
) -> Selection | None:
    """The first lead-in among ``leads`` that ends in ':' and has item lines, quoted with
    its items (as many as :func:`capped` keeps); None when none has. The answer says how many items
    there are when the lead-in announces a number ("to store fordeler") or when not all
    of them are quoted."""
    for lead in leads:
        if leads_list(lead):
            items = list_items(lead, following)
            wanted = announced(lead.text)
            if items and wanted not in (None, len(items)):
                continue  # "to store fordeler" and six lines: not its items
            if items:
                shown = capped(items)
                if len(shown) < len(items):
                    line = say(LIST_FIRST, language).format(shown=len(shown), n=len(items))
                elif wanted is not None:
                    line = say(LIST_COUNT, language).format(n=len(items))
                else:
                    line = ""
                return Selection([lead, *shown], "list", line)
    return None


def capped(items: Sequence[ScoredSentence], at_least: int = _LIST_ITEMS) -> list[ScoredSentence]:
    """The items a list answer quotes: the first ``at_least``, and after them more while
    all quoted items together stay within ``_LIST_WORDS`` words."""
    shown: list[ScoredSentence] = []
    n_words = 0
    for item in items:
        n_words += len(item.text.split())
        if len(shown) >= at_least and n_words > _LIST_WORDS:
            break
        shown.append(item)
    return shown


def _is_item(text: str) -> bool:
    """An item line (the best sentence may be one item of a list)."""
    return is_item_text(text, _ITEM_WORDS)


def list_items(lead: ScoredSentence, following: Sequence[Hit] = ()) -> list[ScoredSentence]:
    """The items of a lead-in, as the parser left them (a list the PDF text detached is
    put back at parse time, :mod:`helse_qa.ingest.lists`): the item paragraphs right after
    it, or the short item lines of the one paragraph right after it, continued at the
    start of the document's next passage when the list runs past the end of this one.
    Never a block further away: a lead-in whose items are not there gets none."""
    hit = lead.hit
    figures = _figures(lead)
    if figures:  # a chart's caption: the figure lines of its one paragraph
        return [_item(hit, lead.rank, *span) for span in figures]
    nxt = next(
        (
            h
            for h in following
            if h.chunk.doc_id == hit.chunk.doc_id and h.chunk.ordinal == hit.chunk.ordinal + 1
        ),
        None,
    )
    paragraphs = _section(lead)
    if paragraphs:  # a label: its paragraphs (on into the next passage), within the cap
        found = [(hit, span) for span in paragraphs]
        if nxt is not None and paragraphs[-1][1] == len(hit.chunk.text.rstrip()):
            more, _ = prose_run(nxt.chunk.text, 0, nxt.chunk.section)
            found += [(nxt, span) for span in more]
        return capped([_item(where, lead.rank, *span) for where, span in found], at_least=1)
    rest = hit.chunk.text[lead.record.end - hit.chunk.start :]
    if rest.strip() and not rest.startswith("\n\n"):
        return []  # the lead-in does not end its paragraph
    items: list[ScoredSentence] = []
    for candidate, after in ((hit, lead.record.end), (nxt, nxt.chunk.start if nxt else 0)):
        if candidate is None:
            break
        chunk = candidate.chunk
        # a heading of the passage ends the list
        spans, stopper = item_run(chunk.text, after - chunk.start, chunk.section)
        items += [_item(candidate, lead.rank, *span) for span in spans]
        if stopper is not None:
            if not items:  # one paragraph of short item lines ("Legemidler: 26 mrd")
                items = [_item(candidate, lead.rank, *s) for s in line_spans(chunk.text, *stopper)]
            break
    if len(items) == 1:  # one paragraph of short lines, then the passage ends
        only, chunk = items[0], items[0].hit.chunk
        spans = line_spans(
            chunk.text, only.record.start - chunk.start, only.record.end - chunk.start
        )
        items = [_item(only.hit, lead.rank, *span) for span in spans]
    return items if len(items) >= 2 else []


def _item(hit: Hit, rank: int, start: int, end: int) -> ScoredSentence:
    """An item at ``start:end`` of its passage's text, as a quotable sentence."""
    chunk = hit.chunk
    record = SentenceRecord(chunk.chunk_id, chunk.doc_id, chunk.start + start, chunk.start + end)
    return ScoredSentence(record, record.text_in(chunk), hit, rank, 0.0)


def states_figure(text: str) -> bool:
    """A figure or a year: an overview prefers a sentence that states one."""
    return bool(AMOUNT.search(text) or YEAR.search(text))


def same_content(a: str, b: str) -> bool:
    """Near-duplicate sentences (the article repeats its facts): quote only one of them."""
    wa, wb = set(words(a)), set(words(b))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= _DUPLICATE_OVERLAP


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
        in_list = leads_list(s) or (in_list and _is_item(s.text))
    return spans
