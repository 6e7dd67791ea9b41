"""Evaluation report: Markdown tables and a PNG chart of the main metrics per system."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from helse_qa.evaluation.evaluate import SystemRun, splits
from helse_qa.evaluation.metric_names import (
    ANSWER_METRICS,
    LATENCY_METRICS,
    OUTCOME_METRICS,
    RETRIEVAL_METRICS,
)

CHART_METRICS = ("hit@1", "hit@5", "mrr", "ndcg@5", "evidence_recall@5")


def _fmt(value: float | None, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric.startswith("latency"):
        return f"{value:.1f}"
    if metric in ("items", "llm_fallbacks"):
        return f"{value:.0f}"
    return f"{value:.3f}"


def systems_table(runs: Sequence[SystemRun]) -> str:
    metrics: tuple[str, ...] = (
        *RETRIEVAL_METRICS,
        *ANSWER_METRICS,
        *OUTCOME_METRICS,
        *LATENCY_METRICS,
    )
    if any("supported_sentence_share" in r.summary() for r in runs):
        metrics = (*metrics, "supported_sentence_share", "llm_fallbacks")
    lines = ["| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for run in runs:
        summary = run.summary()
        cells = " | ".join(_fmt(summary.get(m), m) for m in metrics)
        lines.append(f"| {run.name} | {cells} |")
    return "\n".join(lines)


def splits_table(run: SystemRun) -> str:
    metrics = ("items", *RETRIEVAL_METRICS, *ANSWER_METRICS, *OUTCOME_METRICS, *LATENCY_METRICS)
    lines = ["| split | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for name, summary in splits(run).items():
        lines.append(f"| {name} | " + " | ".join(_fmt(summary.get(m), m) for m in metrics) + " |")
    return "\n".join(lines)


def squad_table(results: dict[str, dict[str, float]]) -> str:
    corpus = results.get("_corpus", {})
    metrics = [m for m in ("hit@1", "hit@5", "hit@10", "mrr") if m in results.get("hybrid", {})]
    lines = [
        f"{corpus.get('questions', 0):.0f} questions over {corpus.get('contexts', 0):.0f} "
        "distinct contexts; a hit is the question's own context among the top k contexts.",
        "",
        "| retriever | " + " | ".join(metrics) + " |",
        "|---" * (len(metrics) + 1) + "|",
    ]
    for mode in ("bm25", "dense", "hybrid"):
        if mode in results:
            row = results[mode]
            lines.append(f"| {mode} | " + " | ".join(f"{row[m]:.3f}" for m in metrics) + " |")
    answers = results.get("answers")
    if answers:
        names = ("first_quote_contains", "answer_containment", "answered_rate", "quotes_per_answer")
        lines += [
            "",
            f"Answers through the assistant ({answers['questions']:.0f} questions with a gold "
            "answer; first_quote_contains: the first quote holds a gold answer string, "
            "answer_containment: the answer text does):",
            "",
            "| " + " | ".join(names) + " |",
            "|---" * len(names) + "|",
            "| " + " | ".join(f"{answers[m]:.3f}" for m in names) + " |",
        ]
    return "\n".join(lines)


def failures_table(run: SystemRun, limit: int = 40) -> str:
    lines = ["| id | question | hit rank | abstained | answer (start) |", "|---|---|---|---|---|"]
    shown = 0
    for r in run.results:
        wrong = (r.item.answerable and not r.facts_ok) or (
            not r.item.answerable and r.answer is not None and not r.answer.abstained
        )
        if not wrong or shown >= limit:
            continue
        shown += 1
        text = (r.answer.text if r.answer else "").replace("|", "/").replace("\n", " ")[:110]
        abstained = "yes" if r.answer and r.answer.abstained else "no"
        lines.append(
            f"| {r.item.id} | {r.item.question.replace('|', '/')} | {r.hit_rank or '-'} | "
            f"{abstained} | {text} |"
        )
    return "\n".join(lines)


def chart(runs: Sequence[SystemRun], out: Path) -> None:
    """Grouped bars: main retrieval metrics per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    width = 0.8 / max(1, len(runs))
    for i, run in enumerate(runs):
        summary = run.summary()
        values = [summary.get(m, 0.0) for m in CHART_METRICS]
        xs = [j + i * width for j in range(len(CHART_METRICS))]
        bars = ax.bar(xs, values, width, label=run.name)
        for bar, value in zip(bars, values, strict=True):
            ax.annotate(
                f"{value:.2f}",
                (bar.get_x() + bar.get_width() / 2, value),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.set_xticks([j + width * (len(runs) - 1) / 2 for j in range(len(CHART_METRICS))])
    ax.set_xticklabels(CHART_METRICS)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score (answerable gold items)")
    ax.set_title("Retrieval quality on eval/gold.jsonl, per system")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def write_report(
    out_dir: Path,
    gold: Path,
    main: SystemRun,
    baselines: Sequence[SystemRun],
    squad: dict[str, dict[str, float]] | None,
    command: str,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [main, *baselines]
    chart(runs, out_dir / "metrics.png")
    parts = [
        "# Evaluation report",
        "",
        f"Produced by `{command}`. Gold set: `{gold}` ({len(main.results)} items). "
        "Retrieval metrics are over answerable items; answer metrics as defined in "
        "`src/helse_qa/evaluate.py`. Latency is per question on this machine (ms).",
        "",
        "## Systems side by side",
        "",
        systems_table(runs),
        "",
        "![metrics per system](metrics.png)",
        "",
        f"## {main.name}: splits",
        "",
        splits_table(main),
    ]
    if squad is not None:
        parts += ["", "## External benchmark: NorQuAD (SQuAD format)", "", squad_table(squad)]
    parts += ["", "## Items answered wrongly", "", failures_table(main), ""]
    path = out_dir / "latest.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
