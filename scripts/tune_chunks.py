"""Sweep chunk size on a gold file: builds a temporary index per size and evaluates it fully.

Usage: .venv/bin/python scripts/tune_chunks.py [eval/gold.jsonl]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.evaluation.evaluate import evaluate_assistant, load_gold
from helse_qa.models.embedding import load_embedder

METRICS = ("hit@1", "hit@5", "mrr", "answer_fact_recall", "abstention_tnr", "answered_rate")


def main() -> int:
    gold = Path(sys.argv[1] if len(sys.argv) > 1 else "eval/gold.jsonl")
    sizes = [int(x) for x in sys.argv[2:]] or [60, 90, 130, 180]
    base = Settings.load()
    embedder = load_embedder(base)
    items = load_gold(gold)
    print("| chunk words | " + " | ".join(METRICS) + " |")
    print("|---" * (len(METRICS) + 1) + "|")
    for words in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            settings = base.model_copy(update={"chunk_words": words, "index_dir": Path(tmp)})
            assistant = Assistant.open(settings, embedder=embedder, ingest_if_missing=True)
            summary = evaluate_assistant(assistant, items).summary()
            assistant.close()
        print(f"| {words} | " + " | ".join(f"{summary[m]:.3f}" for m in METRICS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
