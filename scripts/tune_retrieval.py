"""Sweep retrieval settings on a gold file (retrieval only): hit@1/5, MRR per setting.

Usage: .venv/bin/python scripts/tune_retrieval.py [eval/gold.jsonl]   (index built first)
"""

from __future__ import annotations

import itertools
import statistics
import sys
from pathlib import Path

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.evaluation.evaluate import evidence_rank, load_gold


def main() -> int:
    gold = Path(sys.argv[1] if len(sys.argv) > 1 else "eval/gold.jsonl")
    base = Settings.load()
    assistant = Assistant.open(base)
    items = [i for i in load_gold(gold) if i.answerable]
    print("| fusion | dense weight | cross-lingual boost | hit@1 | hit@5 | MRR@10 |")
    print("|---|---|---|---|---|---|")
    for fusion, weight, boost in itertools.product(
        ("rrf", "weighted"), (0.5, 0.7, 1.0, 1.5), (0.0, 0.02, 0.04, 0.06)
    ):
        settings = base.model_copy(
            update={"fusion": fusion, "dense_weight": weight, "cross_lingual_boost": boost}
        )
        assistant.index.retriever.settings = settings
        ranks = [
            evidence_rank(assistant.retrieve(i.question, i.history, k=10), i.evidence)
            for i in items
        ]
        hit1 = statistics.fmean(r == 1 for r in ranks)
        hit5 = statistics.fmean(bool(r and r <= 5) for r in ranks)
        mrr = statistics.fmean(1 / r if r else 0.0 for r in ranks)
        print(f"| {fusion} | {weight} | {boost} | {hit1:.3f} | {hit5:.3f} | {mrr:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
