"""The ``helse-qa`` command. Errors become one readable line and an exit code here only.

Exit codes: 0 ok, 1 error (one line on stderr, no stack trace), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from helse_qa import __version__, offline
from helse_qa.errors import HelseQAError

if TYPE_CHECKING:
    from helse_qa.assistant import Assistant
    from helse_qa.config import Settings
    from helse_qa.types import Answer, IngestReport

log = logging.getLogger("helse_qa")

EPILOG = """examples:
  helse-qa ingest
  helse-qa ask "Hvor store var eksportinntektene i 2017?"
  helse-qa ask "Who sits in the steering group?" --json
  helse-qa chat
"""


def _parser() -> argparse.ArgumentParser:
    from helse_qa.evaluation.args import path_arg

    p = argparse.ArgumentParser(
        prog="helse-qa",
        description="Ask questions about Norwegian health-industry documents, in Norwegian "
        "or English, and get short answers with verbatim, cited quotes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"helse-qa {__version__}")
    p.add_argument("--config", type=Path, help="settings TOML file (default: ./helse-qa.toml)")
    p.add_argument("--documents-dir", type=Path, help="folder of source documents")
    p.add_argument("--index-dir", type=Path, help="folder for the index")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    ing = sub.add_parser("ingest", help="index the documents (only changed files are redone)")
    ing.add_argument(
        "--rebuild",
        action="store_true",
        help="drop the index and build it from scratch (e.g. after a model change)",
    )
    ing.add_argument("--no-progress", action="store_true", help="no progress bar")

    def retrieval_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--k", type=int, help="number of passages to retrieve (default 5)")
        sp.add_argument(
            "--doc",
            action="append",
            metavar="DOC_ID",
            help="search only this document (repeatable); see 'helse-qa docs'",
        )

    def answer_mode_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--mode",
            choices=["extractive", "llm"],
            dest="answer_mode",
            help="extractive quotes (default) or an LLM answer checked per sentence "
            "(needs HELSE_QA_LLM_BASE_URL and HELSE_QA_LLM_MODEL)",
        )

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question", help="the question, in Norwegian or English")
    retrieval_args(ask)
    answer_mode_arg(ask)
    ask.add_argument("--json", action="store_true", help="print the full answer as JSON")
    ask.add_argument(
        "--retrieval",
        choices=["hybrid", "dense", "bm25"],
        default="hybrid",
        help="retrieval used (default hybrid; dense and bm25 are for comparisons)",
    )

    chat = sub.add_parser("chat", help="a conversation in the terminal (follow-ups allowed)")
    retrieval_args(chat)
    answer_mode_arg(chat)

    docs = sub.add_parser(
        "docs",
        help="list, remove or restore documents",
        description="List the indexed documents and the removed files. --remove moves a "
        "document's file to documents/.removed/<date>/ (never deletes it) and re-indexes; "
        "--restore moves it back.",
    )
    docs_action = docs.add_mutually_exclusive_group()
    docs_action.add_argument("--remove", metavar="ID", help="remove the document with this id")
    docs_action.add_argument(
        "--restore", metavar="NAME", help="restore a removed file (its path or file name)"
    )

    models = sub.add_parser("models", help="show or prepare the embedding model")
    models.add_argument(
        "--prepare",
        action="store_true",
        help="convert the default model now (done on first use otherwise)",
    )

    tr = sub.add_parser(
        "train-reader",
        help="train the reader (cross-encoder) on ../shared/benchmarks and write its weights "
        "and eval/results/reader.*",
        description="Train the reader on external data only (NorQuAD, SweQUAD-MC, SQuAD, "
        "XQuAD), never eval/. Fixed seed, offline, resumable: checkpoints go to --workdir "
        "every 50 steps and a rerun continues where a killed run stopped. About 1.5 hours on "
        "2 CPU cores (candidates at an equal short budget, then the chosen recipe).",
    )
    path_arg(
        tr,
        "--benchmarks",
        "../shared/benchmarks",
        "folder with norquad/, swequad-mc/, squad/, xquad/ (default %(default)s)",
    )
    path_arg(
        tr, "--workdir", ".train-reader", "checkpoints and cached vectors (default %(default)s)"
    )
    path_arg(
        tr,
        "--weights",
        None,
        "where the trained weights go (default: the package's reader_weights)",
    )
    path_arg(
        tr, "--results", "eval/results", "where reader.json, reader.md and the reliability plot go"
    )
    tr.add_argument("--steps", type=int, help="training steps of the chosen recipe")
    tr.add_argument(
        "--compare-steps",
        type=int,
        default=150,
        help="each candidate's budget in the comparison (0: skip it; default 150)",
    )
    tr.add_argument(
        "--compare-questions",
        type=int,
        default=150,
        help="questions per benchmark in the comparison (default 150)",
    )
    tr.add_argument(
        "--no-train-candidates",
        action="store_true",
        help="report only the candidates already measured in --workdir (do not train the rest)",
    )
    tr.add_argument("--limit", type=int, help="questions per benchmark in the report (tests)")
    tr.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")

    ev = sub.add_parser(
        "eval",
        help="evaluate on a gold question set (the CI quality gate)",
        description="Run every gold item through the assistant and report retrieval, answer "
        "and latency metrics, overall and by language and answerability.",
    )
    path_arg(ev, "--gold", "eval/gold.jsonl", "gold JSONL file (default: %(default)s)")
    ev.add_argument(
        "--init-gold",
        action="store_true",
        help="write a commented template gold file at the --gold path (never overwrites) and "
        "thresholds.toml beside it if missing, then stop",
    )
    ev.add_argument(
        "--documents",
        type=Path,
        metavar="DIR",
        help="evaluate over this documents folder instead of the settings' one; its index is "
        "--index, else one kept for DIR in the cache (~/.cache/helse-qa/eval-index/), "
        "brought up to date first - the project's index/ is never used",
    )
    ev.add_argument(
        "--index",
        type=Path,
        metavar="DIR",
        help="index folder for this evaluation (built or updated from the documents)",
    )
    ev.add_argument(
        "--junit",
        type=Path,
        metavar="FILE",
        help="write JUnit XML: a suite per gold file (an item fails when its evidence is not "
        "in the top k, with the question, evidence, ranks and answer) and a suite "
        "'thresholds' (one case per --check metric)",
    )
    ev.add_argument("--k", type=int, default=5, help="passages per question (default 5)")
    answer_mode_arg(ev)
    ev.add_argument("--json", type=Path, metavar="OUT", help="write summary and items as JSON")
    ev.add_argument(
        "--baselines",
        action="store_true",
        help="also run BM25 only, dense only and the plain llama-index pipeline",
    )
    ev.add_argument(
        "--squad",
        type=Path,
        metavar="FILE",
        help="also run a SQuAD-format benchmark (e.g. NorQuAD): retrieval of each question's "
        "own context, and every question asked through the assistant (first_quote_contains, "
        "answer_containment, answered_rate, quotes per answer)",
    )
    ev.add_argument(
        "--report", type=Path, metavar="DIR", help="write DIR/latest.md and DIR/metrics.png"
    )
    ev.add_argument(
        "--check",
        type=Path,
        metavar="THRESHOLDS",
        help="fail (exit 1) when a metric is below its minimum in this TOML file",
    )
    ev.add_argument(
        "--check-table",
        default="gold",
        metavar="NAME",
        help="the table of the thresholds file to check against (default gold)",
    )
    ev.add_argument(
        "--rank-table",
        type=Path,
        metavar="OUT",
        help="write a per-question table of ranks under dense/BM25/hybrid",
    )

    bench = sub.add_parser(
        "bench",
        help="benchmark ingest, query latency, cold start (writes eval/results/bench.md)",
        description="A benchmark, not a test: measures this machine and writes a report.",
    )
    path_arg(
        bench,
        "--squad",
        "../shared/benchmarks/norquad/validation_dataset_flattened.json",
        "SQuAD-format file whose contexts are ingested too (default NorQuAD)",
    )
    bench.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=[1000, 10000, 50000],
        help="synthetic index sizes in chunks (default 1000 10000 50000)",
    )
    bench.add_argument("--no-server", action="store_true", help="skip the Chroma server runs")
    bench.add_argument(
        "--ingest-only",
        action="store_true",
        help="only the ingest comparison (a few minutes): replaces bench.md's ingest section",
    )
    path_arg(bench, "--out", "eval/results", "output folder (default %(default)s)")

    doctor = sub.add_parser(
        "doctor",
        help="check that manifest, vectors and BM25 index agree (and repair them)",
        description="Compare the manifest, the vector store and the lexical index of the "
        "current index generation. Exit code 0: consistent (warnings such as a killed "
        "ingest's leftovers allowed), 1: errors found (or left after --repair).",
    )
    doctor.add_argument(
        "--repair",
        action="store_true",
        help="fix what is found: orphans deleted, missing vectors embedded, BM25 rebuilt, "
        "damaged documents ingested again, model mismatch rebuilt",
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")

    rel = sub.add_parser(
        "reliability",
        help="fault injection and load: writes eval/results/reliability.md",
        description="Kill ingests with SIGKILL, ingest damaged files, ask hostile questions, "
        "run concurrent web clients during an upload and probe the web surface; writes "
        "reliability.md and reliability.json. Takes about 5 minutes with the defaults.",
    )
    rel.add_argument("--kills", type=int, default=30, help="ingests to kill (default 30)")
    rel.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    rel.add_argument(
        "--seconds", type=float, default=60, help="length of the load test (default 60)"
    )
    rel.add_argument("--seed", type=int, default=7, help="random seed for the kill times")
    path_arg(rel, "--out", "eval/results", "output folder (default %(default)s)")

    serve = sub.add_parser("serve", help="start the web chat UI (Gradio)")
    serve.add_argument(
        "--host",
        default=None,
        help="interface to bind (default: setting host, 127.0.0.1 = this machine only)",
    )
    serve.add_argument("--port", type=int, default=None, help="port (default: setting port, 7860)")
    serve.add_argument(
        "--ingest",
        action="store_true",
        help="bring the index up to date with the documents folder first, in this process "
        "(make run does: the passage model an ingest loads then serves the first questions)",
    )
    return p


def _settings(args: argparse.Namespace) -> Settings:
    from helse_qa.config import Settings

    return Settings.load(
        args.config,
        documents_dir=args.documents_dir,
        index_dir=args.index_dir,
        answer_mode=getattr(args, "answer_mode", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
    )


def _open(
    settings: Settings, ingest_if_missing: bool = True, preload_reader: bool = False
) -> Assistant:
    from helse_qa.assistant import Assistant
    from helse_qa.storage.layout import IndexLayout

    if ingest_if_missing and IndexLayout(settings.index_dir).current() is None:
        print("No index yet - building it from", settings.documents_dir, file=sys.stderr)
    return Assistant.open(
        settings,
        ingest_if_missing=ingest_if_missing,
        progress=sys.stderr.isatty(),
        preload_reader=preload_reader,
    )


def format_answer(answer: Answer, width: int = 100) -> str:
    """Readable terminal rendering: the answer, then numbered sources."""
    lines = [f"({answer.language_note})"] if answer.language_note else []
    lines += [textwrap.fill(part, width) for part in answer.text.split("\n")]
    if answer.removed and not answer.abstained:
        # an LLM answer's sentences the sources do not support: apart, below it, each with
        # its reason and without its markers (issue 38)
        from helse_qa.messages import REMOVED, removed_reason, say, without_markers

        lines.append("")
        lines.append(say(REMOVED, answer.language).format(n=len(answer.removed)) + ":")
        for gone in answer.removed:
            reason = removed_reason(gone.reason, answer.language)
            item = f"- {without_markers(gone.text)} ({reason})"
            lines.append(textwrap.fill(item, width, subsequent_indent="  "))
    if answer.notice:
        lines.append("")
        lines.append(f"note: {answer.notice}")
    if answer.citations:
        lines.append("")
        # "not sure": the closest passages, never presented as the answer's sources
        unsure = answer.kind == "unsure"
        lines.append("Nærmeste avsnitt / Closest passages:" if unsure else "Kilder / Sources:")
        for c in answer.citations:
            page = f"{'s.' if answer.language == 'nb' else 'p.'} {c.page}" if c.page else ""
            where = ", ".join(x for x in (page, c.section) if x)
            lines.append(f"[{c.number}] {c.title}" + (f" ({where})" if where else ""))
            quoted = f"{c.caption} · «{c.quote}»" if c.caption else f"«{c.quote}»"  # a chart row
            lines.append(textwrap.indent(textwrap.fill(quoted, width - 4), "    "))
    elif answer.passages:
        from helse_qa.messages import CLOSEST_LABEL
        from helse_qa.text.sentences import first_prose

        lines.append("")
        lines.append(CLOSEST_LABEL.get(answer.language, CLOSEST_LABEL["en"]))
        # passages that read as text, from their first prose sentence; a block of chart
        # labels ("Norden Norge Helseindustrien Bedriftene") is no closest passage
        starts = [(h, first_prose(h.chunk.text)) for h in answer.passages]
        prose = [(h, at) for h, at in starts if at is not None]
        for i, (h, at) in enumerate(prose[:3], start=1):
            page = (
                f", {'s.' if answer.language == 'nb' else 'p.'} {h.chunk.page}"
                if h.chunk.page
                else ""
            )
            lines.append(f"  {i}. {h.chunk.title}{page}: {_shorten(h.chunk.text[at:], 160)}")
    return "\n".join(lines)


def _shorten(text: str, n: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def _cmd_ingest(args: argparse.Namespace) -> int:
    from helse_qa.ingest.pipeline import ingest
    from helse_qa.models.embedding import load_embedder

    settings = _settings(args)
    report = ingest(
        settings, load_embedder(settings), rebuild=args.rebuild, progress=not args.no_progress
    )
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(_report_line(report))
    return 0


def _report_line(report: IngestReport) -> str:
    return (
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} "
        f"removed, {len(report.unchanged)} unchanged, {len(report.skipped)} skipped; "
        f"{report.chunks} chunks in the index ({report.seconds:.1f} s)"
    )


def _cmd_ask(args: argparse.Namespace) -> int:
    settings = _settings(args)
    # the reader loads while the index opens (the first answer of a fresh process)
    assistant = _open(settings, preload_reader=True)
    answer = _stream(assistant, args.question, [], args, show=not args.json)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_answer(answer))
    return 0


def _stream(
    assistant: Assistant,
    question: str,
    history: list[dict[str, str]],
    args: argparse.Namespace,
    show: bool,
) -> Answer:
    """Print an LLM answer as it is written, sentence by sentence, each only once it has
    been checked against the sources (on stderr when stdout is not a terminal), then
    return the final answer, which is printed in full with its sources."""
    from helse_qa.types import Answer

    final: Answer | None = None
    streamed = False
    out = sys.stdout if sys.stdout.isatty() else sys.stderr
    for event in assistant.ask_stream(
        question,
        history,
        k=args.k,
        doc_ids=args.doc,
        retrieval=getattr(args, "retrieval", "hybrid"),
    ):
        if isinstance(event, Answer):
            final = event
        elif show:
            out.write(event)
            out.flush()
            streamed = True
    if streamed:
        out.write("\n\n-- the answer with its sources --\n")
        out.flush()
    assert final is not None
    return final


def _cmd_chat(args: argparse.Namespace) -> int:
    from helse_qa.errors import QuestionError

    assistant = _open(_settings(args))
    history: list[dict[str, str]] = []
    interactive = sys.stdin.isatty()
    if interactive:
        print("Still et spørsmål / ask a question (/reset starts over, /quit or Ctrl-D ends).")
    while True:
        try:
            question = input("> " if interactive else "")
        except EOFError:
            break
        if question.strip() in ("/quit", "/exit", "/q"):
            break
        if question.strip() == "/reset":
            history.clear()
            continue
        if not question.strip():
            continue
        try:
            answer = _stream(assistant, question, history, args, show=True)
        except QuestionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        print(format_answer(answer) + "\n")
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from helse_qa.ingest.removal import removed_files
    from helse_qa.storage.layout import IndexLayout, read_manifest

    settings = _settings(args)
    if args.remove or args.restore:
        assistant = _open(settings)
        if args.remove:
            moved, report = assistant.remove_document(args.remove)
            print(f"removed {args.remove}: {moved.relative} moved to {moved.path}")
        else:
            path, report = assistant.restore_document(args.restore)
            print(f"restored {path}")
        print(_report_line(report))
        assistant.close()
        return 0
    manifest = read_manifest(IndexLayout(settings.index_dir).require_current())
    for d in manifest.documents.values():
        print(f"{d.doc_id}\t{d.language}\t{d.pages} p.\t{d.chunks} chunks\t{d.title}")
    for r in removed_files(settings.documents_dir):
        print(f"removed {r.date}\t{r.relative}\t(helse-qa docs --restore {r.relative})")
    return 0


def _cmd_train_reader(args: argparse.Namespace) -> int:
    from helse_qa.models.embedding import model_fingerprint, resolve_model
    from helse_qa.models.reader import DEFAULT_WEIGHTS_DIR
    from helse_qa.training.run import TrainOptions, train_reader

    settings = _settings(args)
    if not (args.benchmarks / "norquad").is_dir():
        raise HelseQAError(
            f"{args.benchmarks} holds no norquad/ folder - pass --benchmarks with the folder "
            "of the external data (../shared/benchmarks)"
        )
    logging.getLogger("helse_qa").setLevel(logging.INFO)
    ref = resolve_model(settings, prepare=True)
    assert ref.local_dir is not None
    opts = TrainOptions(
        benchmarks=args.benchmarks,
        model_dir=ref.local_dir,
        base_fingerprint=model_fingerprint(ref, settings.cache_dir),
        workdir=args.workdir,
        weights_dir=args.weights or DEFAULT_WEIGHTS_DIR,
        results_dir=args.results,
        steps=args.steps,
        compare_steps=args.compare_steps,
        compare_questions=args.compare_questions,
        train_candidates=not args.no_train_candidates,
        threads=args.threads,
        limit=args.limit,
    )
    report = train_reader(opts)
    chosen = report["candidates"][report["chosen"]]
    for bench, figures in chosen.items():
        print(f"{bench}: top-1 {figures['top1']:.3f}, MRR {figures['mrr']:.3f}")
    print(f"weights: {opts.weights_dir}; report: {opts.results_dir / 'reader.md'}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    import time

    from helse_qa.models.embedding import model_fingerprint, resolve_model
    from helse_qa.models.reader import DEFAULT_WEIGHTS_DIR as DEFAULT_READER_WEIGHTS

    settings = _settings(args)
    started = time.perf_counter()
    ref = resolve_model(settings, prepare=args.prepare)
    ready = ref.local_dir is None or ref.local_dir.is_dir()
    print(f"embedding model: {ref.model_id}")
    print(f"location:        {ref.location}")
    print(f"ready:           {'yes' if ready else 'no - run helse-qa models --prepare'}")
    if ready:
        print(f"fingerprint:     {model_fingerprint(ref, settings.cache_dir)}")
    from helse_qa.models.reader import describe

    try:
        reader = describe(settings.reader_weights or DEFAULT_READER_WEIGHTS)
        print(f"reader:          {reader['location']}")
        print(
            f"                 {reader['layers']} layers, context {reader['context']}, "
            f"{reader['size_mb']} MB, threshold {reader['threshold']}, trained {reader['trained']}"
        )
        print(f"reader sha256:   {reader['fingerprint']}")
        print(f"reader used:     {_reader_use(settings)}")
    except HelseQAError as exc:
        print(f"reader:          not usable - {exc}")
    if args.prepare:
        print(f"prepared in {time.perf_counter() - started:.1f} s")
    return 0


def _reader_use(settings: Settings) -> str:
    """What the reader does with these settings, in the words of ``helse-qa models``."""
    if settings.answer_scorer == "reader":
        return "decides what to quote (answer_scorer = reader)"
    uses = []
    if settings.reader_orders:
        uses.append(
            "chooses the first quote among the heuristic's sentences (reader_orders = true)"
        )
    if settings.answer_confidence:
        uses.append(
            "judges how sure a fact answer is: answer, 'not sure' or decline "
            "(answer_confidence = true)"
        )
    if uses:
        return "; ".join(uses)
    return "not used (reader_orders = false, answer_confidence = false)"


def _eval_settings(args: argparse.Namespace) -> Settings:
    """The settings, with ``--documents`` / ``--index`` applied.

    With ``--documents DIR`` the index is ``--index`` (or the global ``--index-dir``), else
    the one kept for DIR in the cache: the settings' index_dir belongs to another corpus.
    """
    from helse_qa.evaluation.workspace import eval_index_dir

    settings = _settings(args)
    index = args.index or args.index_dir
    if args.documents is not None:
        if not args.documents.is_dir():
            raise HelseQAError(
                f"documents folder {args.documents} does not exist - pass --documents with "
                "the folder of your documents"
            )
        index = index or eval_index_dir(settings.cache_dir, args.documents)
        return settings.model_copy(update={"documents_dir": args.documents, "index_dir": index})
    return settings.model_copy(update={"index_dir": index}) if index else settings


def _read_limits(args: argparse.Namespace) -> dict[str, float]:
    """The ``--check`` table, read before the (slow) evaluation so a typo fails at once."""
    import tomllib

    try:
        tables = tomllib.loads(args.check.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HelseQAError(f"cannot read thresholds {args.check}: {exc}") from exc
    if args.check_table not in tables:
        raise HelseQAError(
            f"{args.check} has no table [{args.check_table}] - add it or pass "
            f"--check-table with one of: {', '.join(tables) or '(none)'}"
        )
    limits = tables[args.check_table]
    for metric, limit in limits.items():
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            raise HelseQAError(
                f"{args.check} [{args.check_table}]: {metric} = {limit!r} is not a number - "
                f'write e.g. "{metric}" = 0.8'
            )
    return dict(limits)  # as written (2000 stays 2000 in the messages)


def _open_for_eval(args: argparse.Namespace, settings: Settings) -> Assistant:
    if args.documents is None:
        # The gate measures the index of these documents, never a stale or foreign one.
        from helse_qa.ingest.pipeline import index_differences

        differences = index_differences(settings)
        if differences and differences != ["no index built yet"]:
            shown = "; ".join(differences[:5]) + ("; ..." if len(differences) > 5 else "")
            raise HelseQAError(
                f"the index in {settings.index_dir} was not built from the files in "
                f"{settings.documents_dir} ({shown}) - run 'helse-qa ingest' first (make gate "
                "does), or pass --documents DIR to evaluate another folder"
            )
        return _open(settings)
    # A user's corpus: bring its own index up to date (only changed files are embedded).
    return _open_ingested(settings)


def _open_ingested(settings: Settings) -> Assistant:
    """An assistant over an index first brought up to date with the documents folder
    (built when missing; only changed files are embedded), in this process."""
    from helse_qa.assistant import Assistant
    from helse_qa.models.embedding import load_embedder

    assistant = Assistant(settings, load_embedder(settings))
    report = assistant.ingest(progress=sys.stderr.isatty())
    print(f"index {settings.index_dir}: {_report_line(report)}", file=sys.stderr)
    return assistant


def _cmd_eval(args: argparse.Namespace) -> int:
    import shlex

    from helse_qa.evaluation import evaluate
    from helse_qa.evaluation.report import squad_table, systems_table, write_report

    if args.init_gold:
        from helse_qa.evaluation.workspace import write_templates

        for path in write_templates(args.gold):
            print(f"wrote {path}")
        print(f"next: edit it, then helse-qa eval --gold {args.gold} --documents YOUR_DOCUMENTS")
        return 0
    settings = _eval_settings(args)
    items = evaluate.load_gold(args.gold)
    limits = _read_limits(args) if args.check else None
    if settings.answer_mode == "llm":
        print(
            f"answer mode: llm ({settings.llm_backend}, model {settings.llm_model or '?'})",
            file=sys.stderr,
        )
    assistant = _open_for_eval(args, settings)
    if settings.sentence_encoding == "on-demand":
        # Measure the app's steady state: it fills the sentence cache at start (serve's
        # warm-up); usually nothing is left to embed, the cache being on disk.
        import time

        started = time.perf_counter()
        made = assistant.warm_sentence_vectors()
        print(
            f"sentence cache: {made} sentences embedded before the questions "
            f"({time.perf_counter() - started:.1f} s), as the app does at start",
            file=sys.stderr,
        )
    main_run = evaluate.evaluate_assistant(assistant, items, k=args.k)
    runs = [main_run]
    if args.baselines:
        from helse_qa.evaluation.baselines import llama_index_baseline

        runs.append(evaluate.mode_baseline(assistant, items, "bm25", args.k))
        runs.append(evaluate.mode_baseline(assistant, items, "dense", args.k))
        runs.append(llama_index_baseline(settings, assistant.embedder, items, args.k))
    squad = None
    if args.squad:
        from helse_qa.evaluation.baselines import squad_benchmark

        squad = squad_benchmark(args.squad, settings, assistant.embedder)
    print(systems_table(runs))
    if squad is not None:
        print()
        print(squad_table(squad))
    if args.json:
        evaluate.write_json(main_run, args.json)
    if args.report:
        command = "helse-qa " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        path = write_report(args.report, args.gold, main_run, runs[1:], squad, command)
        print(f"\nreport: {path}")
    if args.rank_table:
        args.rank_table.parent.mkdir(parents=True, exist_ok=True)
        args.rank_table.write_text(evaluate.rank_table(assistant, items) + "\n", encoding="utf-8")
    checked = (
        evaluate.threshold_results(evaluate.gate_values(main_run), limits)
        if limits is not None
        else []
    )
    if args.junit:
        from helse_qa.evaluation import junit

        suites = [junit.gold_suite(str(args.gold), main_run, args.k)]
        if limits is not None:
            source = f"{args.check} [{args.check_table}]"
            suites.append(junit.thresholds_suite(checked, source))
        print(f"junit: {junit.write_junit(args.junit, suites)}")
    if limits is not None:
        failures = [r.line for r in checked if not r.ok]
        if failures:
            for line in failures:
                print(f"quality gate: {line}", file=sys.stderr)
            raise HelseQAError(
                f"quality below the minimums in {args.check} ({len(failures)} metric(s))"
            )
        print(f"\nquality gate passed ({len(limits)} thresholds in {args.check})")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from helse_qa.evaluation.bench import run_bench

    settings = _settings(args)
    squad = args.squad if args.squad and args.squad.is_file() else None
    if squad is None:
        print(f"note: {args.squad} not found - NorQuAD is left out", file=sys.stderr)
    if args.ingest_only:
        from helse_qa.evaluation.bench import run_ingest_bench

        path = run_ingest_bench(settings, squad, args.out)
    else:
        path = run_bench(settings, squad, args.sizes, args.out, with_server=not args.no_server)
    print(path.read_text(encoding="utf-8"))
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from helse_qa.ingest import doctor
    from helse_qa.models.embedding import load_embedder

    settings = _settings(args)
    embedder = load_embedder(settings)
    report = (doctor.repair if args.repair else doctor.check)(settings, embedder)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return 0 if report.ok else 1
    print(f"index {report.index_dir}, generation {report.generation or '-'}")
    if report.checked:
        print(
            "checked: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.checked.items())
        )
    for line in report.repaired:
        print(f"repaired: {line}")
    for f in report.findings:
        print(f"{f.severity}: [{f.code}] {f.message} -> --repair will {f.repair}")
    if report.clean:
        print("ok: manifest, vectors and BM25 index agree")
    elif report.ok:
        print("ok: consistent (warnings only)")
    else:
        print("problems found - run 'helse-qa doctor --repair'", file=sys.stderr)
    return 0 if report.ok else 1


def _cmd_reliability(args: argparse.Namespace) -> int:
    from helse_qa.evaluation.reliability import run_report
    from helse_qa.models.embedding import load_embedder

    settings = _settings(args)
    path = run_report(
        settings,
        load_embedder(settings),
        args.out,
        kills=args.kills,
        clients=args.clients,
        seconds=args.seconds,
        seed=args.seed,
    )
    print(path.read_text(encoding="utf-8").split("\n## 1.")[0])
    print(f"full report: {path}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from helse_qa.web import ports

    settings = _settings(args)
    settings.auth_pairs()  # a malformed HELSE_QA_AUTH fails before the model loads
    # The port is tried before the model loads. Chosen (--port, make run PORT=, HELSE_QA_PORT,
    # helse-qa.toml: any source that set it) and taken: one error line naming a free port.
    # The default and taken: the next free port, said in the address line.
    chosen = "port" in settings.model_fields_set
    port, note = ports.choose_port(settings.host, settings.port, chosen=chosen)
    # --ingest (make run): one ingest, whose loaded passage model then serves the questions
    assistant = _open_ingested(settings) if args.ingest else _open(settings)
    from helse_qa.web.app import launch

    try:
        demo = launch(
            assistant, host=settings.host, port=port, block=False, auth=settings.auth_pairs()
        )
    except OSError:  # taken while the model loaded? Then our line, not Gradio's.
        ports.choose_port(settings.host, port, chosen=True)  # raises PortError when taken
        raise
    # The address is printed only once the server is listening on it.
    where = note or f"helse-qa is running on {ports.serve_url(settings.host, port)}"
    print(f"{where} (Ctrl-C stops it)", file=sys.stderr)
    demo.block_thread()  # until Ctrl-C, as launch(block=True) does
    return 0


COMMANDS = {
    "ingest": _cmd_ingest,
    "ask": _cmd_ask,
    "chat": _cmd_chat,
    "docs": _cmd_docs,
    "models": _cmd_models,
    "eval": _cmd_eval,
    "serve": _cmd_serve,
    "bench": _cmd_bench,
    "doctor": _cmd_doctor,
    "reliability": _cmd_reliability,
    "train-reader": _cmd_train_reader,
}


def main(argv: Sequence[str] | None = None) -> int:
    offline.apply()
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        for noisy in ("chromadb", "sentence_transformers", "transformers", "bm25s", "httpx"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return COMMANDS[args.command](args)
    except HelseQAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort at the edge: one line, no stack trace
        if args.verbose:
            log.exception("unexpected error")
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (rerun with -v for details)",
            file=sys.stderr,
        )
        return 1


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
