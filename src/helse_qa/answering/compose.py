"""Compose: a :class:`~.scored.Selection` -> the answer text with [n] markers and its
citations.

Quotes are always verbatim spans of the parsed document text. A fact answer puts the best
sentence first, the others in reading order; a list or an overview keeps its order (an
overview of several documents is titled per document); list items that follow each other
in the text are one citation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from helse_qa.answering.list_answers import is_item_line
from helse_qa.answering.scored import ScoredSentence, Selection, leads_list
from helse_qa.messages import ABSTAIN_MESSAGES, QUOTED_FROM, say
from helse_qa.text.language import detect_language
from helse_qa.text.listing import row_caption
from helse_qa.types import Chunk, Citation


def language_note(chosen: Sequence[ScoredSentence], language: str) -> str:
    """One short line when every quote is in the other language than the question."""
    # the sentence's own language: an English article can hold a Norwegian photo caption
    sources = {detect_language(s.text, default=s.hit.chunk.language) for s in chosen}
    if len(sources) != 1:
        return ""
    return QUOTED_FROM.get((language, sources.pop()), "")


def compose(selection: Selection, language: str) -> tuple[str, tuple[Citation, ...]]:
    """Answer text with [n] markers and the matching citations (numbered in order)."""
    chosen = selection.chosen
    if not chosen:
        return selection.lead or say(ABSTAIN_MESSAGES, language), ()
    if selection.kind in ("overview", "list"):
        ordered = list(chosen)
    else:
        # The best sentence first (what the user reads first answers the question); the
        # others in reading order within a passage, passages in order of their best sentence.
        first_seen: dict[str, int] = {}
        for i, s in enumerate(chosen):
            first_seen.setdefault(s.record.chunk_id, i)
        rest = sorted(chosen[1:], key=lambda s: (first_seen[s.record.chunk_id], s.record.start))
        ordered = [chosen[0], *rest]
    spans = _spans(ordered, every=selection.kind == "list")
    citations: list[Citation] = []
    parts: list[str] = [selection.lead] if selection.lead else []
    phrases = {(s.record.chunk_id, s.record.start, s.record.end): s.span for s in ordered if s.span}
    titled = selection.kind == "overview" and len({c.doc_id for c, _, _ in spans}) > 1
    for number, (chunk, start, end) in enumerate(spans, start=1):
        if titled and (number == 1 or spans[number - 2][0].doc_id != chunk.doc_id):
            parts.append(f"{chunk.title}:")  # one short block per document, titled
        citation = Citation.of(number, chunk, start, end)
        caption = row_caption(chunk.text, start - chunk.start, end - chunk.start)
        if caption:  # a chart row is shown with its caption
            citation = replace(citation, caption=caption)
        phrase = phrases.get((chunk.chunk_id, start, end))
        if phrase is not None and phrase[0] < phrase[1] <= end - start:
            citation = replace(citation, phrase=phrase)
        citations.append(citation)
        parts.append(f"{citation.shown} [{number}]")
    joiner = "\n" if selection.kind in ("list", "overview") else " "
    return joiner.join(parts), tuple(citations)


def _spans(ordered: Sequence[ScoredSentence], every: bool = False) -> list[tuple[Chunk, int, int]]:
    """(chunk, start, end) per quote; a lead-in and the item lines right after it become
    one span (only whitespace lies between them): one citation. With ``every`` (a list
    answer) any quotes that follow each other in the text are joined."""
    spans: list[tuple[Chunk, int, int]] = []
    in_list = False
    for i, s in enumerate(ordered):
        chunk = s.hit.chunk
        joinable = (every or in_list) and i > 0
        if joinable and spans and spans[-1][0].chunk_id == chunk.chunk_id:
            prev_chunk, prev_start, prev_end = spans[-1]
            gap = chunk.text[prev_end - chunk.start : s.record.start - chunk.start]
            if prev_end <= s.record.start and not gap.strip():
                spans[-1] = (prev_chunk, prev_start, s.record.end)
                continue
        spans.append((chunk, s.record.start, s.record.end))
        in_list = leads_list(s) or (in_list and is_item_line(s.text))
    return spans
