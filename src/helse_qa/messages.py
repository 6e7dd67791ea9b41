"""User-facing strings in both languages, in one place (the answer's own words, not the UI's
labels, which live in :mod:`helse_qa.web.render`)."""

from __future__ import annotations

import re

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
# Dense retrieval returned nothing although the index has passages: the answer rests on
# word matches alone, which the user must know (helse-qa doctor finds the cause).
DENSE_MISSING = {
    "nb": "Vektorsøket ga ingen treff, så svaret bygger bare på ordsøk; vektorlageret kan "
    "mangle data (kjør 'helse-qa doctor').",
    "en": "The vector search returned nothing, so this answer rests on word matches alone; "
    "the vector store may have lost data (run 'helse-qa doctor').",
}
# The language model's answer was stopped or could not be checked: the extractive answer is
# shown instead, with this line (then FALLBACK). {why} is one of LLM_STOPPED's lines.
LLM_REJECTED = {
    "nb": "Språkmodellens svar kunne ikke kontrolleres mot kildene ({why})",
    "en": "The language model's answer could not be checked against the sources ({why})",
}
# Part of the language model's answer has been shown (each sentence only after its check):
# the answer keeps those sentences and says why the rest is missing or listed apart.
LLM_PARTIAL = {
    "nb": "Bare setningene som er kontrollert mot kildene, vises som svar ({why}); resten står "
    "for seg under svaret eller er utelatt.",
    "en": "Only the sentences checked against the sources are shown as the answer ({why}); "
    "the rest is listed apart under it or left out.",
}
LLM_STOPPED = {
    "echo": {
        "nb": "den gjentok spørsmålet eller chat-malen",
        "en": "it echoed the prompt or its chat template",
    },
    "repetition": {"nb": "den gjentok seg selv", "en": "it repeated itself"},
    "no-citations": {"nb": "den viste ikke til noen kilde", "en": "it cited no source"},
    "too-long": {"nb": "den stoppet ikke", "en": "it did not stop"},
    "deadline": {
        "nb": "den ble ikke ferdig innen {seconds:g} s",
        "en": "it took over {seconds:g} s",
    },
    "unsupported": {
        "nb": "ingen av setningene var støttet av kildene",
        "en": "none of its sentences was supported by the sources",
    },
    "few-supported": {
        "nb": "bare {supported} av {total} setninger var støttet av kildene",
        "en": "only {supported} of {total} sentences were supported by the sources",
    },
}
# A near miss: the question asks for a year the documents do not give, and they give another.
NEAR_MISS = {
    "nb": "Dokumentene oppgir tallet for {found}, ikke {asked}:",
    "en": "The documents give the figure for {found}, not {asked}:",
}
# A near miss: the question asks how much a figure changed, the documents give its level.
NO_CHANGE = {
    "nb": "Dokumentene oppgir ikke hvor mye dette endret seg. Nærmeste treff:",
    "en": "The documents do not give how much this changed. The closest they come:",
}
# A fact answer whose first quote the reader is not sure of (issue 36): shown as the closest
# passages, never as the answer.
UNSURE = {
    "nb": "Jeg er ikke sikker på at dokumentene svarer på dette. Nærmeste avsnitt:",
    "en": "I am not sure the documents answer this. The closest passages:",
}
# LLM answers (issue 38): the sentences that failed the check, listed apart from the answer,
# each with its reason in the reader's language and no citation link.
REMOVED = {
    "nb": "Fjernet fordi kildene ikke støtter dem ({n})",
    "en": "Removed: not supported by the sources ({n})",
}
_REMOVED_REASONS = {
    "no citation": {"nb": "viser ikke til noen kilde", "en": "cites no source"},
    "not supported by the cited passages": {
        "nb": "kildene den viser til, sier ikke dette",
        "en": "the sources it cites do not say this",
    },
}
_NUMBER_REASONS = {
    "number": {"nb": "tallet {x} står ikke i kilden", "en": "the number {x} is not in the source"},
    "numbers": {
        "nb": "tallene {x} står ikke i kilden",
        "en": "the numbers {x} are not in the source",
    },
}
_NUMBER_REASON = re.compile(r"^(numbers?) (.+) not in passage \[\d+\]$")
_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


def removed_reason(reason: str, language: str) -> str:
    """The checker's reason for an unsupported sentence in ``language``, without a marker
    ("numbers 99 not in passage [2]" -> "tallet 99 står ikke i kilden")."""
    m = _NUMBER_REASON.match(reason)
    if m:
        return say(_NUMBER_REASONS[m.group(1)], language).format(x=m.group(2))
    table = _REMOVED_REASONS.get(reason)
    return say(table, language) if table else _MARKERS.sub("", reason)


def without_markers(text: str) -> str:
    """A sentence without its [n] markers (a removed sentence links to no source)."""
    return _MARKERS.sub("", text).strip()


# Every quote is in the other language than the question (question language, source).
QUOTED_FROM = {
    ("nb", "en"): "Sitert fra engelsk kilde.",
    ("en", "nb"): "Quoted from the Norwegian source.",
}
FALLBACK_CONDENSE = "the follow-up question was expanded without the language model."


def say(table: dict[str, str], language: str) -> str:
    """The string for ``language``, English when the language has none."""
    return table.get(language, table["en"])
