"""Retrieval checks against a question file (JSONL, the gold-set schema).

Each line: ``{"id", "question", "history"?, "answerable", "evidence": [snippets],
"answer_facts": [str | [alternatives]]}``. A passage is relevant when its text, with
whitespace collapsed, contains an evidence snippet (collapsed the same way).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .assistant import Assistant
from .errors import HelseQAError
from .retrieve import Mode
from .types import Hit

MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
_WS = re.compile(r"\s+")


def collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


def load_items(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise HelseQAError(f"question file {path} not found - pass --gold FILE")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HelseQAError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        if "question" not in item or "id" not in item:
            raise HelseQAError(f"{path}:{n}: each item needs 'id' and 'question'")
        items.append(item)
    return items


def evidence_rank(hits: Sequence[Hit], snippets: Sequence[str]) -> int | None:
    """1-based rank of the first passage containing an evidence snippet."""
    wanted = [collapse(s) for s in snippets if s.strip()]
    for i, hit in enumerate(hits, start=1):
        text = collapse(hit.chunk.text)
        if any(s in text for s in wanted):
            return i
    return None


def facts_ok(answer_text: str, facts: Sequence[str | Sequence[str]]) -> bool:
    text = collapse(answer_text).lower()
    for fact in facts:
        options = [fact] if isinstance(fact, str) else list(fact)
        if not any(collapse(o).lower() in text for o in options):
            return False
    return True


@dataclass(frozen=True)
class QuickResult:
    item_id: str
    question: str
    ranks: dict[str, int | None]
    answer: str
    facts_ok: bool


def run_quickcheck(
    assistant: Assistant,
    gold: Path,
    k: int = 10,
    json_out: Path | None = None,
    markdown_out: Path | None = None,
) -> str:
    """Rank of the right passage under dense, BM25 and hybrid retrieval; Markdown table."""
    results: list[QuickResult] = []
    for item in load_items(gold):
        ranks: dict[str, int | None] = {}
        answer_text = ""
        for mode in MODES:
            answer = assistant.ask(item["question"], item.get("history", ()), k=k, mode=mode)
            ranks[mode] = evidence_rank(answer.passages, item.get("evidence", []))
            if mode == "hybrid":
                answer_text = answer.text
        results.append(
            QuickResult(
                item["id"],
                item["question"],
                ranks,
                answer_text,
                facts_ok(answer_text, item.get("answer_facts", [])),
            )
        )
    table = _markdown(results, k)
    if markdown_out is not None:
        markdown_out.parent.mkdir(parents=True, exist_ok=True)
        markdown_out.write_text(table + "\n", encoding="utf-8")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(
            json.dumps([r.__dict__ for r in results], ensure_ascii=False, indent=2),
            encoding="utf-8",
        )
    return table


def _markdown(results: Sequence[QuickResult], k: int) -> str:
    def cell(rank: int | None) -> str:
        return str(rank) if rank is not None else f">{k}"

    lines = [
        "| id | question | dense | BM25 | hybrid | answer has the facts |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.item_id} | {r.question} | {cell(r.ranks['dense'])} | "
            f"{cell(r.ranks['bm25'])} | {cell(r.ranks['hybrid'])} | "
            f"{'yes' if r.facts_ok else 'no'} |"
        )
    n = len(results)
    for mode in MODES:
        ranks = [r.ranks[mode] for r in results]
        mrr = sum(1 / x for x in ranks if x) / n if n else 0.0
        top1 = sum(1 for x in ranks if x == 1)
        top5 = sum(1 for x in ranks if x is not None and x <= 5)
        lines.append(f"\n{mode}: hit@1 {top1}/{n}, hit@5 {top5}/{n}, MRR {mrr:.3f}")
    lines.append(f"\nanswers containing the expected facts: {sum(r.facts_ok for r in results)}/{n}")
    return "\n".join(lines)
