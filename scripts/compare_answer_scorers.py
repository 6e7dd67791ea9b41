#!/usr/bin/env python3
"""Compare the answer sentence scorers on the gold sets: eval/results/answer-scorer.md.

Runs the same evaluation as ``helse-qa eval`` once per scorer (the heuristic support score,
the shipped learned model, and any further model given with ``--model``) over
eval/gold.jsonl and eval/answers.jsonl, and writes one table per gold set plus one per
question type. Uses the index in ``index/`` (``helse-qa ingest`` first).

    .venv/bin/python scripts/compare_answer_scorers.py
    .venv/bin/python scripts/compare_answer_scorers.py --model runtime=/path/to/model.npz
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.evaluation.evaluate import evaluate_assistant, load_gold, splits
from helse_qa.models.embedding import load_embedder

ROOT = Path(__file__).resolve().parent.parent
METRICS = (
    "answer_fact_recall",
    "answer_precision",
    "abstention_tnr",
    "answered_rate",
    "citation_support",
    "citation_validity",
)
GOLD = {
    "gold.jsonl": ROOT / "eval" / "gold.jsonl",
    "answers.jsonl": ROOT / "eval" / "answers.jsonl",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a further learned model (.npz) to compare, e.g. runtime=/tmp/m.npz",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "results" / "answer-scorer")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    base = Settings.load()
    embedder = load_embedder(base)
    systems: list[tuple[str, Settings]] = [
        ("heuristic (default)", base.model_copy(update={"answer_scorer": "heuristic"})),
        ("learned (shipped model)", base.model_copy(update={"answer_scorer": "learned"})),
    ]

    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for gold_name, gold_path in GOLD.items():
        items = load_gold(gold_path)
        for system, settings in systems:
            assistant = Assistant.open(settings, embedder=embedder)
            run = evaluate_assistant(assistant, items, name=system)
            results.setdefault(gold_name, {})[system] = splits(run)
            assistant.close()

    lines = [
        "# Answer sentence scorers compared",
        "",
        "Written by `.venv/bin/python scripts/compare_answer_scorers.py`"
        + (" " + " ".join(f"--model {m}" for m in args.model) if args.model else "")
        + ". The learned models were trained on NorQuAD and XQuAD only "
        "(eval/results/answer-model.md); the gold sets were never used for training. "
        "Latency is measured by the benchmarks, not here.",
    ]
    for gold_name, by_system in results.items():
        lines += ["", f"## {gold_name}", "", _table(by_system, "all")]
        kinds = sorted({k for s in by_system.values() for k in s if k.startswith("type:")}, key=str)
        for kind in kinds:
            lines += ["", f"### {gold_name}, {kind.removeprefix('type:')} questions", ""]
            lines.append(_table(by_system, kind))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print("\n".join(lines))
    return 0


def _table(by_system: dict[str, dict[str, dict[str, float]]], split: str) -> str:
    rows = [
        "| scorer | items | " + " | ".join(METRICS) + " |",
        "|---|" + "---|" * (len(METRICS) + 1),
    ]
    for system, summaries in by_system.items():
        s = summaries.get(split, {})
        cells = [_fmt(s.get(m)) for m in METRICS]
        rows.append(f"| {system} | {int(s.get('items', 0))} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _fmt(value: float | None) -> str:
    if value is None or value != value:  # NaN: nothing to measure in this split
        return "-"
    return f"{value:.1f}" if value > 1.5 else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
