"""Time to the first shown sentence of an LLM answer, against the scripted OpenAI-protocol
server (issue 25): what checking each sentence before it is shown costs the reader.

    .venv/bin/python scripts/stream_timing.py [--gold eval/quickcheck.jsonl]
        [--word-delay 0.03] [--out eval/results/stream-timing.md]

For every answerable question of the gold file the scripted server streams, word by word with
``--word-delay`` seconds between words (0.03: about 33 words a second, a small local model on
a laptop), an answer of three sentences: the extractive answer's first quote cited with its
marker (supported), an invented figure cited as [9], and a claim no passage supports. It
records, from the moment the question is asked: the first piece the server sent (what a raw
stream would show), the first sentence helse-qa shows (checked), and the final answer. Only
the checked sentence may be shown; the script fails if anything else was. A measurement, not
a test; `make llm-check` reports the same figure against a real model.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fake_llm import FakeOpenAI, Reply  # noqa: E402

from helse_qa import offline  # noqa: E402
from helse_qa.assistant import Assistant  # noqa: E402
from helse_qa.config import Settings  # noqa: E402
from helse_qa.evaluation.evaluate import load_gold  # noqa: E402
from helse_qa.evaluation.measure import nearest_rank  # noqa: E402
from helse_qa.models.embedding import load_embedder  # noqa: E402

UNCHECKED = ("99 milliarder", "Pasientforeningene")


def _reply(quote: str, number: int) -> str:
    return (
        f"{quote.rstrip('.')} [{number}]. "
        "Eksporten ble tredoblet til 99 milliarder kroner i 2018 [9]. "
        f"Pasientforeningene bestemmer alle prisene på legemidler i Europa [{number}]."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "quickcheck.jsonl")
    parser.add_argument("--word-delay", type=float, default=0.03)
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "results" / "stream-timing.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    offline.apply()
    base = Settings.load()
    embedder = load_embedder(base)
    fake = FakeOpenAI()
    url = fake.start()
    settings = base.model_copy(
        update={"answer_mode": "llm", "llm_base_url": url, "llm_model": "scripted"}
    )
    extractive = Assistant.open(base, embedder=embedder, ingest_if_missing=True)
    assistant = Assistant.open(settings, embedder=embedder)
    rows = []
    raw_first: list[float] = []
    llm = assistant.llm
    server_stream = llm.stream

    def timed(messages):  # type: ignore[no-untyped-def]
        for i, delta in enumerate(server_stream(messages)):
            if i == 0:
                raw_first.append(time.perf_counter())
            yield delta

    llm.stream = timed  # type: ignore[method-assign]
    try:
        for item in load_gold(args.gold):
            if not item.answerable:
                continue
            plain = extractive.ask(item.question)
            if not plain.citations:
                continue
            first = plain.citations[0]
            number = next(  # the prompt numbers the retrieved passages in their order
                i for i, hit in enumerate(plain.passages, 1) if hit.chunk.chunk_id == first.chunk_id
            )
            fake.script.append(Reply(_reply(first.quote, number), word_delay=args.word_delay))
            sent_before = len(fake.requests)
            started = time.perf_counter()
            first_shown = None
            shown = ""
            for event in assistant.ask_stream(item.question):
                if isinstance(event, str):
                    shown += event
                    if first_shown is None:
                        first_shown = time.perf_counter() - started
                    if any(bad in shown for bad in UNCHECKED):
                        raise SystemExit(f"unchecked text was shown: {shown!r}")
            total = time.perf_counter() - started
            assert len(fake.requests) == sent_before + 1
            rows.append((item.question, raw_first[-1] - started, first_shown, total))
    finally:
        fake.stop()
    raw = [r[1] for r in rows]
    shown_times = [r[2] for r in rows if r[2] is not None]
    totals = [r[3] for r in rows]
    lines = [
        "# Time to the first shown sentence, LLM mode (scripted server)",
        "",
        f"Produced by `scripts/stream_timing.py` on {date.today().isoformat()}: "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"gold file `{args.gold.name}`, {len(rows)} answerable questions; the scripted "
        f"server sends one word every {args.word_delay:g} s. Each answer: the extractive "
        "first quote cited (supported), an invented figure cited [9], an unsupported claim. "
        "Every sentence is shown only after its check; the invented and unsupported ones "
        "were never shown (the script stops otherwise). A measurement, not a test.",
        "",
        "| figure | p50 (s) | p95 (s) |",
        "|---|---:|---:|",
        f"| first word from the server (what a raw stream showed) | {statistics.median(raw):.2f} "
        f"| {nearest_rank(raw, 0.95):.2f} |",
        f"| first shown (checked) sentence | {statistics.median(shown_times):.2f} | "
        f"{nearest_rank(shown_times, 0.95):.2f} |",
        f"| whole answer, checked | {statistics.median(totals):.2f} | "
        f"{nearest_rank(totals, 0.95):.2f} |",
        "",
        f"Questions where no sentence was shown: {len(rows) - len(shown_times)} of {len(rows)}.",
        "",
        "| question | first word (s) | first shown (s) | whole answer (s) |",
        "|---|---:|---:|---:|",
        *(
            f"| {q} | {w:.2f} | {'-' if s is None else f'{s:.2f}'} | {t:.2f} |"
            for q, w, s, t in rows
        ),
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:12]))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
