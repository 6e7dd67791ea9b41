"""Split a parsed document into passages that keep page, section and exact spans.

Chunks never cross a page or a section boundary, are built from whole paragraphs where
possible (long paragraphs are cut between sentences), and stay far below the embedder's
512-token limit (a Norwegian word is ~1.6 tokens for e5; 180 words ~ 300 tokens; the
hard cap of 1.25 x target keeps even a long paragraph near 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from helse_qa.text.sentences import sentence_spans
from helse_qa.types import Chunk, ParsedDocument

CHUNKER_VERSION = "6"  # bump when parsing, chunking or what is embedded changes (6: chart rows)

_PARA_SEP = re.compile(r"\n\n+")


@dataclass
class _Block:
    start: int
    end: int
    words: int
    key: tuple[int | None, tuple[str, ...]]


def _words(text: str) -> int:
    return len(text.split())


def _blocks(doc: ParsedDocument, max_words: int, max_chars: int) -> list[_Block]:
    """Paragraphs (and sentence runs of over-long paragraphs) with their page/section key."""
    blocks: list[_Block] = []
    pos = 0
    for sep in [*_PARA_SEP.finditer(doc.text), None]:
        end = sep.start() if sep else len(doc.text)
        start = pos
        pos = sep.end() if sep else len(doc.text)
        if end <= start:
            continue
        key = (doc.page_at(start), doc.heading_path_at(start))
        text = doc.text[start:end]
        if _words(text) <= max_words and end - start <= max_chars:
            blocks.append(_Block(start, end, _words(text), key))
            continue
        run_start: int | None = None
        run_end = start
        run_words = 0
        for s, e in sentence_spans(text, start):
            n = _words(doc.text[s:e])
            if run_start is not None and (run_words + n > max_words or e - run_start > max_chars):
                blocks.append(_Block(run_start, run_end, run_words, key))
                run_start = None
                run_words = 0
            if run_start is None:
                run_start = s
            run_end = e
            run_words += n
        if run_start is not None:
            blocks.append(_Block(run_start, run_end, run_words, key))
    return blocks


def chunk_document(doc: ParsedDocument, target_words: int = 180) -> list[Chunk]:
    """Group paragraphs into chunks of about ``target_words`` words."""
    max_words = int(target_words * 1.25)
    # Text with very long "words" (URLs, tokens, a line without spaces) is bounded by
    # characters too; ordinary prose (6-7 characters a word) never reaches this.
    max_chars = target_words * 10
    groups: list[list[_Block]] = []
    for block in _blocks(doc, max_words, max_chars):
        last = groups[-1] if groups else None
        if (
            last is not None
            and last[0].key == block.key
            and sum(b.words for b in last) + block.words <= target_words
            and block.end - last[0].start <= max_chars
        ):
            last.append(block)
        else:
            groups.append([block])
    # Fold a small trailing group into its predecessor when they share page and section.
    merged: list[list[_Block]] = []
    for group in groups:
        words = sum(b.words for b in group)
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev[0].key == group[0].key
            and words < target_words // 4
            and sum(b.words for b in prev) + words <= max_words
            and group[-1].end - prev[0].start <= max_chars
        ):
            prev.extend(group)
        else:
            merged.append(list(group))
    chunks: list[Chunk] = []
    for ordinal, group in enumerate(merged):
        start, end = group[0].start, group[-1].end
        page, section = group[0].key
        chunks.append(
            Chunk(
                chunk_id=f"{doc.info.doc_id}:{ordinal:04d}",
                doc_id=doc.info.doc_id,
                title=doc.info.title,
                language=doc.info.language,
                text=doc.text[start:end],
                start=start,
                end=end,
                page=page,
                section=section,
                ordinal=ordinal,
            )
        )
    return chunks
