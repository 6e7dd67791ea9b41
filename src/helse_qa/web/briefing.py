"""Briefing export: answers as Markdown with numbered references, ready to paste."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_MARKER = re.compile(r"\[(\d+)\]")

LABELS = {
    "nb": {
        "title": "Briefing fra helse-qa",
        "q": "Spørsmål",
        "a": "Svar",
        "refs": "Referanser",
        "page": "s.",
        "none": "Ingen kilder: dokumentene svarte ikke på spørsmålet.",
    },
    "en": {
        "title": "Briefing from helse-qa",
        "q": "Question",
        "a": "Answer",
        "refs": "References",
        "page": "p.",
        "none": "No sources: the documents did not answer the question.",
    },
}


def _renumber(text: str, offset: int) -> str:
    def shift(match: re.Match[str]) -> str:
        return f"[{int(match.group(1)) + offset}]"

    return _MARKER.sub(shift, text)


def _reference(number: int, c: Mapping[str, Any], doc: Mapping[str, Any], page_label: str) -> str:
    parts = [str(doc.get("title") or c["title"])]
    if doc.get("publisher"):
        parts.append(str(doc["publisher"]))
    if doc.get("year"):
        parts.append(str(doc["year"]))
    if c.get("page"):
        parts.append(f"{page_label} {c['page']}")
    if c.get("section"):
        parts.append(str(c["section"]))
    quote = " ".join(str(c["quote"]).split())
    return f"{number}. {', '.join(parts)}: «{quote}»"


def to_markdown(
    turns: Sequence[Mapping[str, Any]],
    documents: Mapping[str, Mapping[str, Any]],
    language: str = "nb",
) -> str:
    """``turns``: answers as produced by ``Answer.to_dict()``; references are numbered
    across the whole export, and each answer's markers are renumbered to match."""
    text = LABELS.get(language, LABELS["en"])
    lines = [f"# {text['title']}", ""]
    references: list[str] = []
    for turn in turns:
        offset = len(references)
        answer = _renumber(str(turn["answer"]), offset)
        lines += [f"**{text['q']}:** {turn['question']}", "", f"**{text['a']}:** {answer}", ""]
        for c in turn.get("citations", []):
            doc = documents.get(str(c["doc_id"]), {})
            references.append(_reference(offset + int(c["number"]), c, doc, text["page"]))
    lines += [f"## {text['refs']}", ""]
    lines += references or [text["none"]]
    return "\n".join(lines) + "\n"
