"""The assistant on NorQuAD validation (held out from the reader's training: its passages are
not among the training passages), each context one document: first_quote_contains,
answer_containment, answered_rate and quotes per answer, for each answer scorer.

    .venv/bin/python scripts/reader_squad.py                 # heuristic and reader
    .venv/bin/python scripts/reader_squad.py --scorers reader

Writes eval/results/reader-squad.json and .md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from helse_qa import offline


def main() -> None:
    offline.apply()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--squad",
        type=Path,
        default=Path("../shared/benchmarks/norquad/validation_dataset_flattened.json"),
    )
    ap.add_argument("--scorers", nargs="*", default=["heuristic", "reader"])
    ap.add_argument("--out", type=Path, default=Path("eval/results/reader-squad"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from helse_qa.config import Settings
    from helse_qa.evaluation.baselines import squad_benchmark
    from helse_qa.models.embedding import load_embedder

    base = Settings()
    embedder = load_embedder(base)
    out_path = args.out.with_suffix(".json")
    results = json.loads(out_path.read_text()) if out_path.is_file() else {}
    for scorer in args.scorers:
        settings = base.model_copy(update={"answer_scorer": scorer})
        started = time.perf_counter()
        found = squad_benchmark(args.squad, settings, embedder)
        results[scorer] = {**found["answers"], "seconds": round(time.perf_counter() - started)}
        logging.info("%s: %s", scorer, results[scorer])
        out_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# The assistant on NorQuAD validation (held out from the reader's training)",
        "",
        f"`.venv/bin/python scripts/reader_squad.py`: {args.squad.name}, each distinct context "
        "one document, every question asked through the assistant (extractive, default "
        "settings but the answer scorer). first_quote_contains: the first quote holds a gold "
        "answer string (an abstention counts as a miss); answer_containment: the answer text "
        "does; quotes_per_answer: citations per answered question.",
        "",
        "| answer_scorer | questions | first_quote_contains | answer_containment | "
        "answered_rate | quotes_per_answer |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for scorer, r in results.items():
        lines.append(
            f"| {scorer} | {r['questions']:.0f} | {r['first_quote_contains']:.3f} | "
            f"{r['answer_containment']:.3f} | {r['answered_rate']:.3f} | "
            f"{r['quotes_per_answer']:.2f} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
