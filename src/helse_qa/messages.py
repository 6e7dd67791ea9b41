"""User-facing strings in both languages, in one place (the answer's own words, not the UI's
labels, which live in :mod:`helse_qa.web.render`)."""

from __future__ import annotations

ABSTAIN_MESSAGES = {
    "nb": "Jeg fant ikke svar på dette i dokumentene.",
    "en": "I could not find this in the documents.",
}
CLOSEST_LABEL = {
    "nb": "Nærmeste avsnitt som kan være relevante:",
    "en": "Closest passages that may be relevant:",
}
# Appended to the reason an LLM answer could not be used.
FALLBACK = {
    "nb": "viser det uttrekte svaret i stedet.",
    "en": "showing the extractive answer instead.",
}
FALLBACK_CONDENSE = "the follow-up question was expanded without the language model."


def say(table: dict[str, str], language: str) -> str:
    """The string for ``language``, English when the language has none."""
    return table.get(language, table["en"])
