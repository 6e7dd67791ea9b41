"""Warm answer latency on the eval questions (a benchmark, not a test).

    python -m helse_qa.evaluation.warm_latency [--out eval/results/warm-latency.md]

Opens the project's index once per variant (the default settings, and the default with
``answer_confidence`` off), loads the reader, and asks every question of the eval sets
(gold, answers, paraphrases, followups; a follow-up with its conversation) twice: the first
pass is what ``helse-qa eval`` times (models loaded, the passages' sentence vectors made on
first use), the second has every cache warm. Reports p50 and p95 of each pass and the p50
of each stage. Machines are shared and noisy: run it on an idle machine.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helse_qa import offline
from helse_qa.evaluation.args import module_parser, path_arg
from helse_qa.evaluation.measure import nearest_rank, time_asks

SETS = ("gold", "answers", "paraphrases", "followups")


def questions(eval_dir: Path) -> list[tuple[str, Sequence[Mapping[str, str]]]]:
    """Every question of the eval sets with the conversation before it."""
    from helse_qa.evaluation.evaluate import load_gold

    return [
        (item.question, item.history)
        for name in SETS
        for item in load_gold(eval_dir / f"{name}.jsonl")
    ]


def timed(
    assistant: Any, asked: Sequence[tuple[str, Sequence[Mapping[str, str]]]]
) -> dict[str, Any]:
    """One pass: p50 and p95 of the answers' ms, and the p50 of each stage."""
    totals, stages = time_asks(assistant, asked)
    return {
        "p50": nearest_rank(totals, 0.5),
        "p95": nearest_rank(totals, 0.95),
        "stages_p50": {k: nearest_rank(v, 0.5) for k, v in stages.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = module_parser("warm_latency", __doc__)
    path_arg(parser, "--out", "eval/results/warm-latency.md", "the report (default %(default)s)")
    path_arg(parser, "--eval-dir", "eval", "the folder of the eval sets (default %(default)s)")
    args = parser.parse_args(argv)
    offline.apply()

    from helse_qa.assistant import Assistant
    from helse_qa.config import Settings

    asked = questions(args.eval_dir)
    base = Settings.load()
    variants = {
        "default (answer_confidence on)": base.model_copy(update={"answer_confidence": True}),
        "answer_confidence off": base.model_copy(update={"answer_confidence": False}),
    }
    rows = []
    for name, settings in variants.items():
        assistant = Assistant.open(settings)
        try:
            assistant.pipeline.reader  # loaded before timing  # noqa: B018
            first, second = timed(assistant, asked), timed(assistant, asked)
        finally:
            assistant.close()
        rows.append((name, first, second))

    lines = [
        "# Warm answer latency on the eval questions",
        "",
        f"Produced by `python -m helse_qa.evaluation.warm_latency` on "
        f"{time.strftime('%Y-%m-%d')}; {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}. {len(asked)} questions ({', '.join(SETS)}), "
        "extractive mode, k = 5, models loaded before timing. First pass: what `helse-qa "
        "eval` times (sentence vectors of a passage made on its first use); second pass: "
        "every cache warm. A benchmark, not a test: numbers vary with load.",
        "",
        "| variant | first pass p50 (ms) | p95 | second pass p50 (ms) | p95 | second pass "
        "p50 by stage: embed / retrieve / answer |",
        "|---|---|---|---|---|---|",
    ]
    for name, first, second in rows:
        st = second["stages_p50"]
        lines.append(
            f"| {name} | {first['p50']:.0f} | {first['p95']:.0f} | {second['p50']:.0f} | "
            f"{second['p95']:.0f} | {st['embed']:.0f} / {st['retrieve']:.0f} / "
            f"{st['answer']:.0f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
