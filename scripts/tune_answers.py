"""Sweep answer settings on a gold file: fact recall, abstention TNR, answered rate.

Usage: .venv/bin/python scripts/tune_answers.py [eval/gold.jsonl]   (index built first)
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.evaluation.evaluate import evaluate_assistant, load_gold

METRICS = ("answer_fact_recall", "abstention_tnr", "answered_rate", "citation_support")


def main() -> int:
    gold = Path(sys.argv[1] if len(sys.argv) > 1 else "eval/gold.jsonl")
    base = Settings.load()
    assistant = Assistant.open(base)
    items = load_gold(gold)
    print("| threshold | max sentences | runner-up | " + " | ".join(METRICS) + " |")
    print("|---" * (len(METRICS) + 3) + "|")
    for threshold, most, runner_up in itertools.product(
        (0.3, 0.4, 0.5, 0.55), (2, 3, 4), (0.7, 0.8, 0.9)
    ):
        assistant.settings = base.model_copy(
            update={
                "abstain_threshold": threshold,
                "max_answer_sentences": most,
                "runner_up": runner_up,
            }
        )
        summary = evaluate_assistant(assistant, items).summary()
        cells = " | ".join(f"{summary[m]:.3f}" for m in METRICS)
        print(f"| {threshold} | {most} | {runner_up} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
