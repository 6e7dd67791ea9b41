"""What a question names, and the sentences that name it: a name ("Oslo Cancer Cluster"),
a place or nationality ("Danish"), the countries of a which-countries question, and what a
how-many question counts ("ansatte"). A sentence that does not name what the question
names is no answer to it (:func:`keep_named`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from helse_qa.answering.scored import ScoredSentence
from helse_qa.text.analysis import STOPWORDS, Analyzer, has_translation
from helse_qa.text.glossary import COUNTRY_NAMES
from helse_qa.text.numbers import YEAR
from helse_qa.text.sentences import paragraph_at

# A name in the question: a capitalised word (not the question's first) or an acronym,
# with the capitalised words that follow it ("Oslo Cancer Cluster", "Denmark's", "DRG").
_NAME_TOKEN = re.compile(r"[^\W\d_][\w&-]*(?:['’]s)?", re.UNICODE)
NOT_NAMED = {
    "nb": "Dokumentene sier ikke dette om {name}. Nærmeste treff:",
    "en": "The documents do not say this about {name}. The closest they come:",
}
# A question that asks how many / how much is answered only by a sentence with a figure.
HOW_MANY = re.compile(
    r"\b(how (many|much)|hvor (mange|mye)|what (share|percentage|proportion)|"
    r"hvor stor andel|hvilken andel)\b",
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
# Scale and time words after a number: a sum or a span, not a count of things.
_SCALES = frozenset(
    "mrd mill mill. prosent percent år years year årene måneder months timer hours "
    "minutter minutes dager days uker weeks".split()
)
NOT_COUNTED = {
    "nb": "Dokumentene oppgir ikke antall {counted}. Nærmeste treff:",
    "en": "The documents do not give the number of {counted}. The closest they come:",
}


# Part and whole (issue 36): "on its own" / "alene" asks for one part's figure, and a
# sentence that gives a figure summed over parts ("together count 370 members", "omsatte
# samlet for 142 milliarder", "the newly merged cluster will represent …") does not answer
# it; one that says both ("isolert …, samlet …") may. Not the reverse: "den totale
# omsetningen i helseindustrien" is answered by "helseindustrien isolert" (a question's
# total may be of the very part a sentence sets apart).
_PART = re.compile(
    r"\b(alone|by (?:itself|themselves)|on (?:its|their) own|in isolation|separately|"
    r"alene|isolert|hver for seg|for seg selv)\b",
    re.IGNORECASE,
)
# Words that sum over several parts ("together", "omsatte samlet"); not the adjectives
# "samlede" / "total", which total one thing ("De samlede FoU-investeringene i industrien"
# is the industry's own figure).
_WHOLE = re.compile(
    r"\b(together|combined|in total|altogether|in all|jointly|merged|samlet|til sammen|"
    r"totalt|i alt|sammenlagt|sammenslåtte|sammenslått)\b",
    re.IGNORECASE,
)
NOT_PART = {
    "nb": "Dokumentene oppgir bare tallet for helheten, ikke for én del alene. Nærmeste treff:",
    "en": "The documents give only the figure for the whole, not for one part on its own. "
    "The closest they come:",
}


def asks_part(question: str) -> bool:
    """Whether the question asks for one part on its own ("alene", "by itself")."""
    return bool(_PART.search(question))


def fits_part(text: str) -> bool:
    """Whether a sentence may give one part's own figure: it sums over no parts, or it
    sets the part apart too."""
    return not _WHOLE.search(text) or bool(_PART.search(text))


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
    concepts = [c for w in checkable for c in analyzer.query_concepts(w)]
    terms = set(analyzer.terms(s.text, ["nb", "en"]))
    if not any(c & terms for c in concepts):
        return False
    # the word must be what a number of the sentence counts, when one counts something:
    # "370 members from industry, municipalities, hospitals …" counts members, not
    # hospitals
    counting = counting_words(s.text)
    if not counting:
        return True
    counted_terms = set(analyzer.terms(" ".join(counting), ["nb", "en"]))
    return any(c & counted_terms for c in concepts)


# A number (in digits or a word: "fem VM-gull") and the (one or two) words after it: what it
# counts ("370 members", "ca. 30 aktører", "370 new members"), and a word joined to them by
# "og"/"and" ("3150 leiligheter og studenthybler"); a unit after it is no such word ("54
# prosent"). English "to" is no number ("to accelerate"); Norwegian "to" is ("to OL-gull").
_COUNT_PHRASE = re.compile(
    r"(?<![\w.,])(\d+(?![.,]?\d)|(?:two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|tre|fire|fem|seks|sju|syv|åtte|ni|ti|elleve|tolv)\b)\s+([^\W\d_][\w-]*)"
    r"(?:\s+(?!(?:og|and|eller|or)\b)([^\W\d_][\w-]*))?"
    r"(?:\s+(?:og|and|eller|or)\s+([^\W\d_][\w-]*))?",
    re.UNICODE | re.IGNORECASE,
)


def counting_words(text: str) -> list[str]:
    """The words right after each number of ``text`` (not a year) followed by no unit."""
    found: list[str] = []
    for m in _COUNT_PHRASE.finditer(text):
        number, first, second, joined = m.groups()
        if YEAR.fullmatch(number) or first.lower() in _UNITS | _SCALES | STOPWORDS:
            continue
        words = [first, *([second] if second else []), *([joined] if joined else [])]
        found += [w for part in words for w in re.findall(r"[^\W\d_]+", part)]
    return found


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


def without_markup(question: str) -> str:
    """The question's words: its markup tags ("<b>Hvem</b> leder ...") taken out."""
    return " ".join(_MARKUP.sub(" ", question).split())


def place_named(name: str, language: str) -> str | None:
    """The country a name is, or whose nationality it is ("Danish" -> "Denmark"; "danske"
    -> "Danmark" for a Norwegian question); None when it is not a place."""
    low = name.lower()
    if _NATIONALITY.match(low) or _NATIONALITY_EN.match(name):
        en, nb = _COUNTRY_OF[low[:4]]
        return nb if language == "nb" else en
    return name if countries_in(name) else None


def question_names(question: str, acronyms: bool = False) -> list[str]:
    """The names a question asks about, as written ("Oslo Cancer Cluster", "Denmark"): runs
    of capitalised words that do not start a sentence; acronyms are left out unless asked
    for (documents often spell them out: "BNP", "bruttonasjonalprodukt")."""
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
        if (
            starts_sentence
            or not word[:1].isupper()
            or (word.isupper() and not (acronyms and len(word) > 1))
        ):
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
    counting = bool(HOW_MANY.search(question))
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
