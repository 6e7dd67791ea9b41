"""Lists put back with their lead-ins, one PDF page at a time (issue 26).

Text extracted from a PDF often loses a list's place: the lead-in ("… har to store
fordeler:") stands in the prose, and its items, set in a box or a second column, come out
further down the page, before it, or after another lead-in. Re-attached at parse time,
chunks, citations and answers see the list where the reader of the page sees it.

On one page:

- a **lead-in** is a paragraph that ends in ':' with at least three words in its last
  sentence ("Konklusjon:" is a label, not a lead-in);
- an **item block** is a run of at least two consecutive item paragraphs (short, no
  sentence end, not starting in lower case) of one shape (plain phrases, or lines with
  figures and dates or broken over several lines: two lists printed one after the other
  are two blocks), or one paragraph of at least two short item lines;
- lead-ins and blocks are paired in reading order (a PDF extractor moves a box of items,
  it does not reorder the boxes among themselves), each block to at most one lead-in, a
  block whose size differs from the number a lead-in announces ("to store fordeler") never
  to that lead-in, and among equally many pairs the one that moves least (a block right
  after its lead-in stays there);
- a paired block is moved to directly after its lead-in; everything else keeps its order. A
  lead-in that gets no block is left alone.

Charts come out the other way round: their data ("Legemidler: 26 mrd" / "Diagnostikk: 15
mrd", one paragraph of "Label: figure" lines per chart) first, then their captions
("Helseindustrien – omsettning 2017"). A run of figure paragraphs followed directly by as
many caption paragraphs is paired in order, each caption moved to just before its
figures; a run whose counts differ is left alone. Chart paragraphs are never a lead-in's
items.

Moving a block moves whole paragraphs: every quote stays a verbatim span of the source.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from dataclasses import dataclass
from functools import cache

from helse_qa.text.listing import announced, figure_lines, is_caption, is_item_text, item_lines

_LEAD_MIN_WORDS = 3
_LAST_SENTENCE = re.compile(r"(?:^|[.!?]\s+)([^.!?]*)$")


@dataclass(frozen=True)
class Block:
    """One heading or paragraph of a page, as the parser met it."""

    kind: str  # "heading" | "paragraph"
    text: str  # a paragraph's joined text (short lines keep their line breaks)
    level: int = 0
    lines: tuple[str, ...] = ()  # a paragraph's raw lines


@dataclass(frozen=True)
class Pairing:
    """A lead-in (its block index) and the item block (first and last index) it gets."""

    lead: int
    first: int
    last: int


def is_lead_in(block: Block) -> bool:
    if block.kind != "paragraph" or not block.text.rstrip().endswith(":"):
        return False
    last = _LAST_SENTENCE.search(block.text.strip())
    return len((last.group(1) if last else block.text).split()) >= _LEAD_MIN_WORDS


def is_item_paragraph(block: Block) -> bool:
    return block.kind == "paragraph" and is_item_text(block.text)


def _shape(block: Block) -> bool:
    """Items of one list look alike: label lines with figures or dates, or broken over
    several lines (a figure's boxes), against plain one-line phrases."""
    return "\n" in block.text or bool(re.search(r"\d", block.text))


def _split(first: int, last: int, blocks: Sequence[Block]) -> list[tuple[int, int]]:
    """A run of item paragraphs split where the items change shape (the interview guide's
    topics, then the interviewed names and dates): a group of at least two paragraphs of
    one shape is a list of its own; a single odd one stays with its neighbours."""
    groups: list[list[int]] = []
    for i in range(first, last + 1):
        if groups and _shape(blocks[groups[-1][-1]]) == _shape(blocks[i]):
            groups[-1].append(i)
        else:
            groups.append([i])
    merged: list[list[int]] = []
    for group in groups:
        if merged and (len(group) < 2 or len(merged[-1]) < 2):
            merged[-1] += group
        else:
            merged.append(group)
    return [(g[0], g[-1]) for g in merged]


def item_blocks(blocks: Sequence[Block]) -> list[tuple[int, int, int]]:
    """(first, last, number of items) of every item block on the page, in order."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(blocks):
        if not is_item_paragraph(blocks[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(blocks) and is_item_paragraph(blocks[j + 1]):
            j += 1
        if j > i:
            out += [(a, b, b - a + 1) for a, b in _split(i, j, blocks)]
        else:
            lines = item_lines(blocks[i].text)
            if lines:
                out.append((i, i, len(lines)))
        i = j + 1
    return out


def chart_captions(blocks: Sequence[Block]) -> dict[int, int]:
    """{figure paragraph: its caption paragraph} for the charts of a page (see the module
    docstring)."""

    def kind(block: Block) -> str:
        if block.kind != "paragraph":
            return ""
        if figure_lines(block.text):
            return "figures"
        return "caption" if is_caption(block.text) else ""

    kinds = [kind(b) for b in blocks]
    out: dict[int, int] = {}
    i = 0
    while i < len(blocks):
        if kinds[i] != "figures":
            i += 1
            continue
        j = i
        while j + 1 < len(blocks) and kinds[j + 1] == "figures":
            j += 1
        k = j
        while k + 1 < len(blocks) and kinds[k + 1] == "caption":
            k += 1
        if k - j == j - i + 1:
            out.update({i + n: j + 1 + n for n in range(j - i + 1)})
        i = k + 1
    return out


def pair(blocks: Sequence[Block], charts: Container[int] = ()) -> list[Pairing]:
    """The lead-ins of a page paired with item blocks (see the module docstring); blocks
    in ``charts`` are no items."""
    leads = [i for i, b in enumerate(blocks) if is_lead_in(b)]
    runs = [
        r
        for r in item_blocks(blocks)
        if not any(r[0] <= i <= r[1] for i in leads)
        and not any(i in charts for i in range(r[0], r[1] + 1))
    ]
    if not leads or not runs:
        return []

    def fits(lead: int, run: tuple[int, int, int]) -> bool:
        wanted = announced(blocks[lead].text)
        return wanted is None or wanted == run[2]

    def cost(lead: int, run: tuple[int, int, int]) -> int:
        # how far the block moves: 0 when it already follows its lead-in
        return 0 if run[0] == lead + 1 else 1 + abs(run[0] - lead)

    @cache
    def best(a: int, b: int) -> tuple[int, int, tuple[tuple[int, int], ...]]:
        """(-pairs, moved, chosen) for leads[a:] and runs[b:], monotone."""
        if a == len(leads) or b == len(runs):
            return (0, 0, ())
        options = [best(a + 1, b), best(a, b + 1)]
        if fits(leads[a], runs[b]):
            n, moved, chosen = best(a + 1, b + 1)
            options.append((n - 1, moved + cost(leads[a], runs[b]), ((a, b), *chosen)))
        return min(options)

    return [Pairing(leads[a], runs[b][0], runs[b][1]) for a, b in best(0, 0)[2]]


def reattach(blocks: Sequence[Block]) -> list[Block]:
    """The page's blocks with every paired item block moved to directly after its lead-in
    and every chart caption to directly before its figures."""
    captions = chart_captions(blocks)
    if captions:
        taken_captions = set(captions.values())
        ordered: list[Block] = []
        for i, block in enumerate(blocks):
            if i in taken_captions:
                continue
            if i in captions:
                ordered.append(blocks[captions[i]])
            ordered.append(block)
        blocks = ordered
        charts = {i for i, b in enumerate(blocks) if figure_lines(b.text) or is_caption(b.text)}
    else:
        charts = set()
    pairings = pair(blocks, charts)
    moved = {p.lead: p for p in pairings if p.first != p.lead + 1}
    if not moved:
        return list(blocks)
    taken = {i for p in moved.values() for i in range(p.first, p.last + 1)}
    out: list[Block] = []
    for i, block in enumerate(blocks):
        if i in taken:
            continue
        out.append(block)
        p = moved.get(i)
        if p is not None:
            out.extend(blocks[p.first : p.last + 1])
    return out
