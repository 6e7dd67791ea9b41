"""What a list looks like in extracted text: its lead-in, its items, the number it
announces; a chart's caption and its "Label: figure" lines; a label line over the prose
paragraphs of one point of a report. Shared by the parser (which puts a detached list or
caption back, ``ingest.lists``) and the answer (which quotes a lead-in with its items, a
caption with its figures, a label with its paragraphs, ``answering.list_answers``)."""

from __future__ import annotations

import re
from collections.abc import Container

ITEM_MAX_WORDS = 40  # an item paragraph ("Gjennom prosessen konkludere …") can wrap
LINE_MAX_WORDS = 14  # one item line of a paragraph of item lines
# A question that asks for several things.
_LIST = re.compile(
    r"\b(hvilke|which (\w+ )?(are|were|companies|areas|organisations|organizations|partners|"
    r"challenges|members)|what are|what were|who are|who were|list|nevn|name the|hva er \w+ne)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?:;]['\"»”)]*$")


# A question about how a figure divides: a chart answers it ("How did the 2017 turnover
# break down by segment?", "Hvordan fordelte eksporten seg?", "How were the exports divided
# between segments?", "What share did each segment have?", "Hvilket segment hadde størst
# omsetning?": the chart shows every segment).
_BREAKDOWN = re.compile(
    r"\b(break(s|ing)? down|breakdown|split|divid(e|ed|es|ing)|fordel(te|t|ing\w*|es)|"
    r"(by|per|each|every|between|across|which|what) (the )?segments?|"
    r"(på|per|etter|mellom|hvert|hvilket|hvilke) (de )?(ulike )?segment\w*)\b",
    re.IGNORECASE,
)


def is_list_question(question: str) -> bool:
    """A question that asks for several things, or for how a figure divides."""
    return bool(_LIST.search(question)) or asks_breakdown(question)


# Three or more things named in a row ("HOD, KD, KRD og NFD", "public-private
# partnerships, testing, EU advisory services, and access to private capital").
_SEVERAL = re.compile(r"[^,;]+(?:[,;][^,;]+)+,?\s+(?:og|and|samt|eller|or|&)\s+\S", re.IGNORECASE)


def names_several(text: str) -> bool:
    """Whether ``text`` names three or more things in a row."""
    return bool(_SEVERAL.search(text))


# Two names joined ("Frankrike og Portugal", "Irland og Georgia"): a list of two.
_TWO_NAMES = re.compile(r"\b[A-ZÆØÅ][\w-]+(?:\s+[A-ZÆØÅ][\w-]+)*,?\s+(?:og|and|&)\s+[A-ZÆØÅ][\w-]+")


def names_two(text: str) -> bool:
    """Whether ``text`` names two things by name, joined by og/and."""
    return bool(_TWO_NAMES.search(text))


def asks_breakdown(question: str) -> bool:
    return bool(_BREAKDOWN.search(question))


def is_item_text(text: str, max_words: int = ITEM_MAX_WORDS) -> bool:
    """A list item: short, no sentence end, not starting in lower case."""
    stripped = text.strip()
    return (
        0 < len(stripped.split()) <= max_words
        and not _SENTENCE_END.search(stripped)
        and not stripped[:1].islower()
    )


_PARAGRAPH = re.compile(r"[^\n](?:.|\n(?!\n))*")

Span = tuple[int, int]


def item_run(text: str, offset: int, stop: Container[str] = ()) -> tuple[list[Span], Span | None]:
    """The item paragraphs of ``text`` from ``offset`` on, as (start, end) offsets, and the
    paragraph that ends the run: the first that is no item, or a heading named in ``stop``
    (None when the text ends first)."""
    spans: list[Span] = []
    for m in _PARAGRAPH.finditer(text, offset):
        span = (m.start(), m.start() + len(m.group(0).rstrip()))
        paragraph = text[span[0] : span[1]]
        if not is_item_text(paragraph) or paragraph in stop:
            return spans, span
        spans.append(span)
    return spans, None


def line_spans(text: str, start: int, end: int) -> list[Span]:
    """The short item lines of the paragraph ``text[start:end]`` as (start, end) offsets;
    [] when it is not made of them (see :func:`item_lines`)."""
    paragraph = text[start:end]
    out, at = [], 0
    for line in item_lines(paragraph):
        at = paragraph.index(line, at)
        out.append((start + at, start + at + len(line)))
        at += len(line)
    return out


def items_after(text: str, offset: int) -> str:
    """The item paragraphs right after ``offset`` in ``text`` (a lead-in's end), joined by
    line breaks (or the item lines of the one paragraph there); "" when the next paragraph
    is not an item or nothing follows."""
    if not text[offset:].startswith("\n\n"):
        return ""
    spans, stopper = item_run(text, offset)
    if not spans and stopper is not None:
        spans = line_spans(text, *stopper)
    items = [text[start:end].strip() for start, end in spans]
    return "\n".join(items) if len(items) >= 2 or "\n" in "".join(items) else ""


# A chart's data as the PDF text gives it: one "Label: figure" per line ("Legemidler: 26
# mrd", "Diagnostikk: 54%"), and its caption, a short line of its own ("Helseindustrien –
# omsettning 2017").
_FIGURE_LINE = re.compile(r"^[^:\n]{1,40}:\s*\d[\d\s,.]{0,20}(?:%|[^\W\d]{1,12}\.?)?$")
CAPTION_MAX_WORDS = 8


def figure_lines(paragraph: str) -> list[str]:
    """The lines of a paragraph made of at least two "Label: figure" lines, else []."""
    lines = item_lines(paragraph)
    return lines if lines and all(_FIGURE_LINE.match(line.strip()) for line in lines) else []


def is_caption(text: str) -> bool:
    """A short line with no sentence end and no label colon: a chart's title."""
    stripped = text.strip()
    return (
        "\n" not in stripped
        and ":" not in stripped
        and is_item_text(stripped, CAPTION_MAX_WORDS)
        and not figure_lines(stripped)
    )


def caption_figures(text: str, start: int, end: int) -> list[Span]:
    """The figure lines of the chart whose caption is the paragraph ``text[start:end]``:
    the "Label: figure" lines of the paragraph right after it, as (start, end) offsets;
    [] when ``text[start:end]`` is no whole caption paragraph or no figures follow."""
    whole = _whole_paragraph(text, start, end) and text[end:].startswith("\n\n")
    if not whole or not is_caption(text[start:end]):
        return []
    m = _PARAGRAPH.search(text, end)
    if m is None or not figure_lines(m.group(0)):
        return []
    return line_spans(text, m.start(), m.start() + len(m.group(0).rstrip()))


# A chart row is read and shown with its caption (issue 37): "Helseindustrien – omsettning
# 2017 · Legemidler: 26 mrd". The quote stays the row, a verbatim span of the source.
ROW_JOIN = " · "


def row_caption(text: str, start: int, end: int) -> str:
    """The caption of the chart that ``text[start:end]`` is one row of (a "Label: figure"
    line of a paragraph of such lines, right after a caption paragraph; ingest puts a
    caption the PDF text gives after its figures back before them), on one line; "" when
    it is no chart row or its caption is not in ``text``."""
    row = text[start:end]
    if "\n" in row or not _FIGURE_LINE.match(row.strip()):
        return ""
    top = text.rfind("\n\n", 0, start)
    para_start = 0 if top < 0 else top + 2
    bottom = text.find("\n\n", end)
    if not figure_lines(text[para_start : len(text) if bottom < 0 else bottom]):
        return ""
    if top < 0:
        return ""
    before = text[:top].rstrip()
    caption = before[before.rfind("\n\n") + 2 :] if "\n\n" in before else before
    caption = " ".join(caption.split())
    return caption if caption and is_caption(caption) else ""


def as_read(text: str, start: int, end: int) -> str:
    """``text[start:end]`` as the models read it: a chart row with its caption in front
    (:func:`row_caption`), any other sentence as it is."""
    caption = row_caption(text, start, end)
    return f"{caption}{ROW_JOIN}{text[start:end]}" if caption else text[start:end]


# A point of a report the PDF text gives as a short label line over its prose ("Endringer i
# rammevilkår", then three paragraphs of proposals): a sub-heading the parser cannot tell
# from a list item, but a question can name it.
_HEADING_LINE = re.compile(r"^\d{1,2}(\.\d{1,2})?\s+\S")


def starts_paragraph(text: str, offset: int) -> bool:
    """Whether a paragraph of ``text`` begins at ``offset``."""
    return offset == 0 or text[max(0, offset - 2) : offset] == "\n\n"


def _whole_paragraph(text: str, start: int, end: int) -> bool:
    return starts_paragraph(text, start) and (
        end == len(text.rstrip()) or text[end:].startswith("\n\n")
    )


def label_section(text: str, start: int, end: int, stop: Container[str] = ()) -> list[Span]:
    """The prose paragraphs under the label ``text[start:end]``, as (start, end) offsets:
    those right after it, up to the next paragraph that is no prose (another label, an
    item, a heading in ``stop`` or a numbered one) or the end of ``text``. [] when
    ``text[start:end]`` is no label (a whole paragraph: a caption-like line of at least
    two words, not a numbered heading), when the next paragraph is no prose, or when it
    is the second of two labels between prose paragraphs or after the start of ``text``
    (a two-column page: the two columns' paragraphs interleave below them; after a
    figure's box labels a label is taken)."""
    label = text[start:end]
    if (
        len(label.split()) < 2
        or not is_caption(label)
        or _HEADING_LINE.match(label)
        or not _whole_paragraph(text, start, end)
    ):
        return []
    before = [p.strip() for p in text[:start].rstrip().split("\n\n")[-2:]]
    if is_caption(before[-1]) and (len(before) == 1 or _is_prose(before[0])):
        return []  # (one label before it and the passage starts there: the same two columns)
    if under_lead_in(text, start):
        return []  # the last item of a list ("Få kliniske studier"), then prose
    return prose_run(text, end, stop)[0]


def prose_run(text: str, offset: int, stop: Container[str] = ()) -> tuple[list[Span], bool]:
    """The prose paragraphs of ``text`` from ``offset`` on (see :func:`label_section`),
    and whether they run to the end of ``text`` (then they may go on in the next
    passage)."""
    spans: list[Span] = []
    for m in _PARAGRAPH.finditer(text, offset):
        paragraph = m.group(0).rstrip()
        if not _is_prose(paragraph) or paragraph in stop or _HEADING_LINE.match(paragraph):
            return spans, False
        spans.append((m.start(), m.start() + len(paragraph)))
    return spans, True


def _is_prose(paragraph: str) -> bool:
    """Running text: a sentence end, or longer than an item line (a PDF may drop the
    full stop of a paragraph's last sentence); no lead-in, no chart figures."""
    return (
        not is_item_text(paragraph, LINE_MAX_WORDS)
        and not paragraph.endswith(":")
        and not figure_lines(paragraph)
    )


def under_lead_in(text: str, start: int) -> bool:
    """Whether the paragraph at ``start`` comes after a lead-in with only item paragraphs
    between: an item of that list."""
    if not starts_paragraph(text, start):
        return False
    for previous in reversed(text[:start].rstrip().split("\n\n")):
        if not is_item_text(previous):
            return previous.rstrip().endswith(":")
    return False


def item_lines(paragraph: str) -> list[str]:
    """The item lines of a paragraph made of at least two short item lines, else []."""
    lines = [line for line in paragraph.split("\n") if line.strip()]
    ok = len(lines) >= 2 and all(is_item_text(line, LINE_MAX_WORDS) for line in lines)
    return lines if ok else []


_NUMBERS = {
    "to": 2, "two": 2, "tre": 3, "three": 3, "fire": 4, "four": 4, "fem": 5, "five": 5,
    "seks": 6, "six": 6, "sju": 7, "syv": 7, "seven": 7, "åtte": 8, "eight": 8,
}  # fmt: skip
_ANNOUNCED = re.compile(
    r"\b(" + "|".join(_NUMBERS) + r"|\d{1,2})"
    r"(?!\s+(?:the|these|those|this|that|a|an|our|its|their|følgende|disse|de)\b)\s+(?:[\wæøåÆØÅ-]+\s+){0,2}[\wæøåÆØÅ-]+\s*:\s*$",
    re.IGNORECASE,
)


def announced(lead: str) -> int | None:
    """The number of items a lead-in announces ("… har to store fordeler:" -> 2)."""
    m = _ANNOUNCED.search(lead)
    if not m:
        return None
    word = m.group(1).lower()
    return int(word) if word.isdigit() else _NUMBERS[word]
