"""Sentence spans for Norwegian and English text, aware of common abbreviations."""

from __future__ import annotations

import re

# Abbreviations after which a full stop does not end a sentence.
_ABBREV = frozenset(
    [
        "ca",
        "evt",
        "dvs",
        "kapt",
        "ift",
        "osv",
        "mrd",
        "mill",
        "nr",
        "bl",
        "a",
        "f",
        "eks",
        "jf",
        "mfl",
        "pga",
        "spes",
        "etc",
        "e",
        "g",
        "i",
        "e",
        "vs",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "inc",
        "ltd",
        "st",
        "no",
        "fig",
        "approx",
    ]
)
_BOUNDARY = re.compile(r"([.!?])([»”\"')\]]*)(\s+)(?=[«“\"'(\[]?[A-ZÆØÅ0-9])")
_LINE = re.compile(r"\n+")
# A "sentence" longer than this (a run-on line without full stops, a table flattened
# into one line, a 300 000-character token) is cut at a space, or hard if it has none, so
# a quote stays readable and a passage stays within what the embedder reads.
MAX_SENTENCE_CHARS = 600


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Split ``text`` into sentence spans ``(start, end)`` (offsets + ``offset``).

    Line breaks always end a sentence (lists and figure labels sit on their own lines);
    '.', '!' or '?' followed by whitespace and a capital or digit ends one unless the word
    before is a known abbreviation ("ca.", "evt.", "dvs.") or a single letter ("i)").
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for line_match in [*_LINE.finditer(text), None]:
        line_end = line_match.start() if line_match else len(text)
        start = pos
        for m in _BOUNDARY.finditer(text, pos, line_end):
            word = re.search(r"(\w+)$", text[start : m.start(1)])
            if (
                m.group(1) == "."
                and word
                and (word.group(1).lower() in _ABBREV or len(word.group(1)) == 1)
            ):
                continue
            end = m.end(2)
            _add(spans, text, start, end, offset)
            start = m.end(3)
        _add(spans, text, start, line_end, offset)
        pos = line_match.end() if line_match else len(text)
    return spans


def _add(spans: list[tuple[int, int]], text: str, start: int, end: int, offset: int) -> None:
    while True:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end <= start:
            return
        if end - start <= MAX_SENTENCE_CHARS:
            spans.append((start + offset, end + offset))
            return
        limit = start + MAX_SENTENCE_CHARS
        cut = text.rfind(" ", start + MAX_SENTENCE_CHARS // 2, limit)
        cut = limit if cut == -1 else cut
        spans.append((start + offset, cut + offset))
        start = cut


# A sentence that leans on what came before it makes no sense quoted alone: it opens with
# a reference ("Dette betyr …", "These …", "I sum …") or carries one ("… i et slikt
# perspektiv …").
_LEANS_BACK = re.compile(
    r"^(dette|disse|denne|dermed|derfor|her|slik|i sum|videre|også|samtidig|resultatet|"
    r"(den|de) (er|var|har|blir|kan|vil|bør)|når det er sagt|med andre ord|"
    r"that said|in other words|"
    r"this|these|that|those|such|here|therefore|thus|in sum|it|they|also|the result)\b",
    re.IGNORECASE,
)
_LEANS_INSIDE = re.compile(
    r"\b(i et slikt perspektiv|slik en|som nevnt|nevnt ovenfor|in this perspective|"
    r"as mentioned|the above)\b",
    re.IGNORECASE,
)


def self_contained(text: str) -> bool:
    """Whether a sentence can stand alone (no unresolved "Dette"/"This" at its start)."""
    stripped = text.strip().lstrip("«“\"'(")
    return not _LEANS_BACK.match(stripped) and not _LEANS_INSIDE.search(stripped)


# A sentence that opens by pointing at what came before ("I dette tallet ligger …", "Of
# these …"): it is read with that sentence when what it is about matters (a total or a
# part, answering/names.py); quoted alone it still reads as a statement.
_OPENS_WITH_REFERENCE = re.compile(
    r"^(i|av|blant|for|fra|med|på|til|in|of|among|from|with|to)\s+"
    r"(dette|disse|denne|dem|this|these|that|those|them)\b",
    re.IGNORECASE,
)


def refers_back(text: str) -> bool:
    """Whether a sentence leans on the one before it or opens by pointing at it."""
    stripped = text.strip().lstrip("«“\"'(")
    return not self_contained(text) or bool(_OPENS_WITH_REFERENCE.match(stripped))


def paragraph_at(text: str, at: int) -> tuple[int, int]:
    """The (start, end) offsets of the paragraph of ``text`` that holds offset ``at``
    (paragraphs are separated by a blank line)."""
    found = text.rfind("\n\n", 0, at)
    end = text.find("\n\n", at)
    return (found + 2 if found >= 0 else 0), (end if end >= 0 else len(text))


def antecedent_start(text: str, at: int) -> int | None:
    """Where the sentence before the one at offset ``at`` of ``text`` starts, when both
    stand in one paragraph; None when the sentence at ``at`` opens its paragraph or a line
    (a list line stands before it)."""
    paragraph_start, _ = paragraph_at(text, at)
    before = text[paragraph_start:at]
    if not before.strip() or "\n" in before:
        return None
    spans = sentence_spans(before.rstrip())
    return paragraph_start + spans[-1][0] if spans else None


PROSE_MIN_WORDS = 6
_ENDS_SENTENCE = re.compile(r"[.!?][»”\"')\]]*$")


def first_prose(text: str) -> int | None:
    """Where the first sentence of ``text`` that reads as prose starts (at least six words,
    ending in '.', '!' or '?'): a passage shown without a cited sentence starts there, not
    at a chart's label lines, and one with none ("Norden / Norge / Helseindustrien /
    Bedriftene", issue 38) is not shown as a closest passage. None when it has none."""
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        if len(sentence.split()) >= PROSE_MIN_WORDS and _ENDS_SENTENCE.search(sentence):
            return start
    return None
