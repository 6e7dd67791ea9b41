"""Compare fusion settings on a question file (retrieval only): hit@1, hit@5, MRR at k = 10.

Usage: .venv/bin/python scripts/fusion_sweep.py [eval/quickcheck.jsonl]  (index built first)
"""

from __future__ import annotations

import sys
from pathlib import Path

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.evaluate import evidence_rank, load_items


def main() -> int:
    gold = Path(sys.argv[1] if len(sys.argv) > 1 else "eval/quickcheck.jsonl")
    base = Settings.load()
    assistant = Assistant.open(base)
    items = load_items(gold)
    print("| fusion | dense weight | hit@1 | hit@5 | MRR |\n|---|---|---|---|---|")
    for fusion in ("rrf", "weighted"):
        for weight in (0.3, 0.5, 0.7, 1.0, 1.5):
            settings = base.model_copy(update={"fusion": fusion, "dense_weight": weight})
            assistant.index.retriever.settings = settings
            ranks = [
                evidence_rank(assistant.ask(it["question"], k=10).passages, it["evidence"])
                for it in items
            ]
            mrr = sum(1 / r for r in ranks if r) / len(ranks)
            hit1 = sum(r == 1 for r in ranks)
            hit5 = sum(1 for r in ranks if r and r <= 5)
            print(
                f"| {fusion} | {weight} | {hit1}/{len(ranks)} | {hit5}/{len(ranks)} | {mrr:.3f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
