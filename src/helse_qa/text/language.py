"""Tiny Norwegian/English language detector (stop-word counts): no model, no network."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-zæøåé]+")

# Function words: shared with the lexical analyzer, which drops them from questions.
NB_STOPWORDS = frozenset(
    """
    altså andre at av ble blir bør de den der dere det dette disse eller en er et ett
    etter for fra han har her hun hva hvem hvilke hvilken hvis hvor hvordan hvorfor i
    ikke jeg kan mange med mellom men mer mye må når og også om over på samt seg sin
    sine sitt skal som så til under var vi vil
    """.split()
)
EN_STOPWORDS = frozenset(
    """
    about an and are as at be been by can could did do does for from had has have he her
    his how in into is it its not of on or our over she should than that the their them
    then there these they this those to under was we were what when where which who
    whose why will with would you
    """.split()
)
# Detection also counts a few words that are content words for retrieval.
# Request verbs and "the report/article/documents" settle short questions with no function
# word ("Oppsummer hovedfunnene" was taken for English).
_NB = NB_STOPWORDS | {
    "norge",
    "norsk",
    "norske",
    "oppsummer",
    "beskriv",
    "forklar",
    "nevn",
    "rapporten",
    "artikkelen",
    "dokumentet",
    "dokumentene",
}
_EN = EN_STOPWORDS | {"after", "between"}


def detect_language(text: str, default: str = "en") -> str:
    """Return 'nb' (Norwegian bokmål) or 'en'.

    Norwegian letters (æ, ø, å) count as strong evidence; otherwise stop words decide.
    """
    lowered = text.lower()
    words = _WORD.findall(lowered)
    if not words:
        return default
    nb = sum(w in _NB for w in words) + 2 * sum(ch in "æøå" for ch in lowered)
    en = sum(w in _EN for w in words)
    if nb == en:
        return default
    return "nb" if nb > en else "en"
