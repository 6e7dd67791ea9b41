"""Build the README's quality table from the committed eval results
(eval/results/quality-*.json, written by 'helse-qa eval --json'; 'make quality' measures them
again). Without an option: print the table.

The table is generated, never typed by hand.

The figures come from the JSON that ``helse-qa eval --json`` writes, committed under
``eval/results/`` (``make quality`` measures again and rewrites them):
``quality-gold.json`` (eval/gold.jsonl), ``quality-answers.json`` (eval/answers.jsonl) and
``quality-paraphrases.json`` (eval/paraphrases.jsonl), plus ``quality-run.json``, which says
when and at which commit they were measured. The table goes between the markers
``<!-- quality-table:start -->`` and ``<!-- quality-table:end -->`` in README.md and
docs/evaluation.md.

    python -m helse_qa.evaluation.quality_table            # print the table
    python -m helse_qa.evaluation.quality_table --write    # README.md and docs/evaluation.md
    python -m helse_qa.evaluation.quality_table --check    # exit 1 when either copy is stale

Standard library only: it reads JSON and Markdown, nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helse_qa.evaluation.args import module_parser, path_arg
from helse_qa.evaluation.metric_names import ANSWER_METRICS, OUTCOME_METRICS

START = "<!-- quality-table:start -->"
END = "<!-- quality-table:end -->"
TARGETS = (Path("README.md"), Path("docs/evaluation.md"))
RUN_FILE = Path("eval/results/quality-run.json")


@dataclass(frozen=True)
class Source:
    """One eval set: its gold file, the committed result and the rows taken from it."""

    gold: str
    result: Path
    splits: tuple[str, ...]  # "all", or a question type's split such as "type:list"


SOURCES = (
    Source("eval/gold.jsonl", Path("eval/results/quality-gold.json"), ("all", "type:list")),
    Source(
        "eval/answers.jsonl",
        Path("eval/results/quality-answers.json"),
        ("all", "type:list", "type:overview", "type:near_miss"),
    ),
    Source("eval/paraphrases.jsonl", Path("eval/results/quality-paraphrases.json"), ("all",)),
    Source("eval/followups.jsonl", Path("eval/results/quality-followups.json"), ("all",)),
    Source("eval/charts.jsonl", Path("eval/results/quality-charts.json"), ("all",)),
    Source("eval/topics.jsonl", Path("eval/results/quality-topics.json"), ("all",)),
)
# eval's answer metrics, with first_quote_fact (the first quote holds a fact) after the two
# fact metrics, then what a reader takes away (right, wrong, hedged, declined; precision)
COLUMNS = (
    "hit@5",
    "mrr",
    *ANSWER_METRICS[:2],
    "first_quote_fact",
    *ANSWER_METRICS[2:],
    *OUTCOME_METRICS,
)
REFRESH = "python -m helse_qa.evaluation.quality_table --write"


class QualityTableError(Exception):
    """A result file is missing or unreadable, or a target has no markers."""


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise QualityTableError(
            f"missing eval result {path}: run 'make quality' (helse-qa eval --json) to "
            f"measure it, then '{REFRESH}'"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise QualityTableError(f"cannot read eval result {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("splits"), dict):
        raise QualityTableError(
            f"{path} is not the JSON that 'helse-qa eval --json' writes (no 'splits')"
        )
    return data


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{float(value):.3f}"


def _row_name(source: Source, split: str) -> str:
    name = Path(source.gold).name
    return name if split == "all" else f"{name}: {split.removeprefix('type:').replace('_', ' ')}"


def render(root: Path = Path(".")) -> str:
    """The table (with its caption) from the committed results under ``root``."""
    header = ["set", "items", *COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for source in SOURCES:
        data = _load(root / source.result)
        for split in source.splits:
            summary = data["splits"].get(split)
            if summary is None:
                raise QualityTableError(f"{source.result} has no split '{split}'")
            items = summary.get("items")
            cells = [_fmt(summary.get(metric)) for metric in COLUMNS]
            count = "-" if items is None else str(int(items))
            lines.append(f"| {_row_name(source, split)} | {count} | " + " | ".join(cells) + " |")
    run = _run_note(root)
    files = ", ".join(f"`{s.result.as_posix()}`" for s in SOURCES)
    caption = (
        f"Measured with the default settings{run} (`helse-qa eval --json`, `make quality`); "
        f"generated from {files} by `{REFRESH}`. A dash: not measured on that set (no "
        "answerable or no unanswerable items)."
    )
    wrapped = textwrap.fill(caption, width=96, break_long_words=False, break_on_hyphens=False)
    return "\n".join([*lines, "", wrapped])


def _run_note(root: Path) -> str:
    path = root / RUN_FILE
    if not path.is_file():
        return ""
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise QualityTableError(f"cannot read {path}: {exc}") from exc
    parts = [f"on {run['measured']}" if run.get("measured") else ""]
    if run.get("commit"):
        parts.append(f"at commit {str(run['commit'])[:7]}")
    return " " + " ".join(p for p in parts if p) if any(parts) else ""


def replace_table(text: str, table: str, where: str = "the text") -> str:
    """``text`` with everything between the markers replaced by ``table``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise QualityTableError(f"{where} has no '{START}' ... '{END}' markers")
    return f"{text[: start + len(START)]}\n{table}\n{text[end:]}"


def stale(root: Path = Path(".")) -> list[Path]:
    """The targets whose table differs from the generated one."""
    table = render(root)
    out = []
    for target in TARGETS:
        path = root / target
        if not path.is_file():
            raise QualityTableError(f"missing {target}")
        text = path.read_text(encoding="utf-8")
        if replace_table(text, table, str(target)) != text:
            out.append(target)
    return out


def write(root: Path = Path(".")) -> list[Path]:
    """Rewrite the table in every target; returns those that changed."""
    table = render(root)
    changed = []
    for target in TARGETS:
        path = root / target
        text = path.read_text(encoding="utf-8")
        new = replace_table(text, table, str(target))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(target)
    return changed


def stamp(root: Path = Path("."), commit: str | None = None) -> dict[str, str]:
    """Record today's date and the commit (default: git HEAD) of a fresh measurement."""
    if commit is None:
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = ""
    run = {"measured": dt.date.today().isoformat(), "commit": commit}
    (root / RUN_FILE).write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = module_parser("quality_table", __doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--write", action="store_true", help="rewrite the table in README.md and docs/evaluation.md"
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when the table in README.md or docs/evaluation.md is stale",
    )
    parser.add_argument(
        "--stamp",
        action="store_true",
        help=f"first record today's date and the commit in {RUN_FILE} (after a measurement)",
    )
    parser.add_argument("--commit", help="with --stamp: the commit measured (default: git HEAD)")
    path_arg(parser, "--root", ".", "repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.stamp:
            stamp(args.root, args.commit)
        if args.check:
            outdated = stale(args.root)
            for path in outdated:
                print(f"{path}: the quality table is stale - run '{REFRESH}'", file=sys.stderr)
            return 1 if outdated else 0
        if args.write:
            for path in write(args.root):
                print(f"rewrote the quality table in {path}")
            return 0
        print(render(args.root))
        return 0
    except QualityTableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
