"""Ask every eval-set question and compare the answers with a snapshot (or write it). Uses
the settings as `helse-qa ask` does (helse-qa.toml, HELSE_QA_*); the index must exist
(helse-qa ingest).

Every answer on the eval sets, item by item: a snapshot that a refactor must keep.

A restructure of the answer path (issue 35: one pipeline in answering/) must not change
what users are told. This module asks every question of the eval sets (with its history)
through :meth:`Assistant.ask` and records what a user sees: the answer text, its kind,
whether it abstained, each citation's document and span, the language note and the
confidence. ``--write`` stores the snapshot; ``--check`` compares a fresh run with it and
lists every item that differs (exit status 1).

    python -m helse_qa.evaluation.snapshot --check
    python -m helse_qa.evaluation.snapshot --write   # after a change meant to move answers

A change meant to move answers rewrites the snapshot in the same commit, so the diff shows
which answers moved.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from helse_qa.assistant import Assistant
from helse_qa.evaluation.args import module_parser
from helse_qa.evaluation.evaluate import load_gold
from helse_qa.types import Answer

log = logging.getLogger(__name__)

EVAL_SETS = (
    Path("eval/gold.jsonl"),
    Path("eval/answers.jsonl"),
    Path("eval/paraphrases.jsonl"),
    Path("eval/followups.jsonl"),
)
DEFAULT_SNAPSHOT = Path("eval/results/answer-snapshot.json")


def record(answer: Answer) -> dict[str, Any]:
    """What a user sees of one answer (timings and retrieval scores left out)."""
    return {
        "text": answer.text,
        "kind": answer.kind,
        "abstained": answer.abstained,
        "citations": [[c.doc_id, c.start, c.end] for c in answer.citations],
        "language_note": answer.language_note,
        "confidence": None if answer.confidence is None else round(answer.confidence, 3),
    }


def take(assistant: Assistant, sets: Iterable[Path] = EVAL_SETS) -> dict[str, dict[str, Any]]:
    """``{"<set file name>/<item id>": record}`` for every item of ``sets``."""
    out: dict[str, dict[str, Any]] = {}
    for path in sets:
        for item in load_gold(path):
            answer = assistant.ask(item.question, item.history)
            out[f"{path.name}/{item.id}"] = {"question": item.question, **record(answer)}
    return out


def differences(
    expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]
) -> list[str]:
    """One line per item that is missing, new or answered differently."""
    lines = []
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            lines.append(f"{key}: missing from this run")
        elif key not in expected:
            lines.append(f"{key}: not in the snapshot")
        elif expected[key] != actual[key]:
            fields = [f for f in expected[key] if expected[key][f] != actual[key].get(f)]
            lines.append(f"{key}: {', '.join(fields)} differ")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = module_parser("snapshot", __doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="compare with the snapshot")
    action.add_argument("--write", action="store_true", help="write the snapshot")
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    assistant = Assistant.open()
    try:
        actual = take(assistant)
    finally:
        assistant.close()
    if args.write:
        args.snapshot.parent.mkdir(parents=True, exist_ok=True)
        args.snapshot.write_text(
            json.dumps(actual, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        print(f"wrote {len(actual)} answers to {args.snapshot}")
        return 0
    if not args.snapshot.exists():
        parser.error(f"no snapshot at {args.snapshot} - write one first with --write")
    expected = json.loads(args.snapshot.read_text(encoding="utf-8"))
    lines = differences(expected, actual)
    for line in lines:
        print(line)
    print(f"{len(actual) - len(lines)} of {len(actual)} answers as in {args.snapshot}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
