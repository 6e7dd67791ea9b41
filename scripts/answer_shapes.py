"""Overviews and lists a briefing can use (issue 26): the figures, by question type.

1. The re-attachment fixture (tests/data/lead_ins.json: the report's lead-ins ending in ':'
   with their true items, written by reading the PDF text): how many lead-ins the parser
   gives their true items, and how many get a block that is not theirs.
2. The answer-shape gold set (eval/answers.jsonl) through the assistant, by question type:
   overview point coverage and list item recall (the share of an item's reference points
   or list items the answer holds: ``answer_fact_share``), all of them
   (``answer_fact_recall``) and ``answer_precision``.

    .venv/bin/python scripts/answer_shapes.py [--out eval/results/answer-shapes.md]

Needs the index of documents/ (`helse-qa ingest`).
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.evaluation.evaluate import evaluate_assistant, load_gold, splits
from helse_qa.ingest.readers import parse_document
from helse_qa.text.listing import is_item_text

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "lead_ins.json"
METRICS = ("answer_fact_share", "answer_fact_recall", "answer_precision", "answered_rate")


def reattachment() -> tuple[int, int, int, list[str]]:
    """(right, wrong, total, lines): lead-ins of the fixture followed by exactly their items
    in the parsed text; a lead-in followed by other item paragraphs counts as wrong."""
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    text = parse_document(ROOT / fixture["document"]).text
    right = wrong = 0
    lines = []
    for case in fixture["lead_ins"]:
        at = text.index(case["lead"]) + len(case["lead"])
        after = text[at:].lstrip("\n").split("\n\n")
        n = case["items"]
        ok = (
            after[0].startswith(case["first"])
            and after[n - 1].startswith(case["last"])
            and all(is_item_text(p) for p in after[:n])
        )
        detached_wrongly = not ok and is_item_text(after[0])
        right += ok
        wrong += detached_wrongly
        verdict = "right items" if ok else ("a wrong block" if detached_wrongly else "left alone")
        lines.append(f"| {case['lead']} | {n} | {verdict} |")
    return right, wrong, len(fixture["lead_ins"]), lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=ROOT / "eval" / "answers.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "eval" / "results" / "answer-shapes.md")
    args = ap.parse_args()

    right, wrong, total, rows = reattachment()
    assistant = Assistant.open(Settings.load())
    run = evaluate_assistant(assistant, load_gold(args.gold))
    by_type = splits(run)
    table = [
        "| type | items | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for kind in ("overview", "list"):
        summary = by_type[f"type:{kind}"]
        values = " | ".join(f"{summary[m]:.3f}" for m in METRICS)
        table.append(f"| {kind} | {int(summary['items'])} | {values} |")
    out = [
        "# Overviews and lists (issue 26)",
        "",
        f"Measured {date.today().isoformat()} with `.venv/bin/python scripts/answer_shapes.py`"
        " (the default, heuristic answer scorer).",
        "",
        "## Lists put back with their lead-ins at parse time",
        "",
        f"{right} of {total} lead-ins of the report get their true items, {wrong} a block that"
        " is not theirs (fixture: `tests/data/lead_ins.json`, written by reading the PDF text).",
        "",
        "| lead-in | items | after parsing |",
        "|---|---|---|",
        *rows,
        "",
        f"## Answers by question type (`eval/{args.gold.name}`)",
        "",
        "answer_fact_share is an overview's point coverage (the share of its reference points"
        " the answer holds) and a list's item recall; answer_fact_recall asks for all of them.",
        "",
        *table,
        "",
    ]
    args.out.write_text("\n".join(out), encoding="utf-8")
    print("\n".join(out))


if __name__ == "__main__":
    main()
