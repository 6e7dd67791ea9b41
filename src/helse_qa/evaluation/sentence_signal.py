"""Retrieval with a sentence-level signal, measured (issue 37, item 1).

    python -m helse_qa.evaluation.sentence_signal [--squad FILE] [--out eval/results]

Today's hybrid (dense passage vectors and BM25, fused by reciprocal rank) against the same
with a third ranking of the candidate passages by their sentences' cosine with the question
(``sentence_signal``: the best sentence, ``max``; the mean of the best two, ``top2``; at two
weights). Measured on the project's eval sets (hit@1, hit@5 and MRR of the first passage
that holds an evidence snippet, k = 10; per set and per language pair, question -> evidence
passage) and on NorQuAD validation end to end (every context indexed as one corpus; the
question's own context must come back: hit@1, recall@5, MRR), which no setting of helse-qa
was fitted on. Writes ``sentence-signal.md`` and ``.json``. A benchmark of quality, not a
test; the default is chosen by NorQuAD first, the eval sets second.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helse_qa import offline
from helse_qa.evaluation.args import module_parser, path_arg

log = logging.getLogger(__name__)

DEFAULT_SQUAD = "../shared/benchmarks/norquad/validation_dataset_flattened.json"
RERANK = "hybrid, the cross-encoder reranks the top 10 by their best sentences"
SETS = ("gold", "answers", "paraphrases", "followups", "charts")
VARIANTS: dict[str, dict[str, Any]] = {
    "hybrid (sentence_signal off)": {"sentence_signal": "off"},
    "+ best sentence (max)": {"sentence_signal": "max", "sentence_weight": 1.0},
    "+ mean of best two (top2)": {"sentence_signal": "top2", "sentence_weight": 1.0},
    "+ best sentence, weight 2": {"sentence_signal": "max", "sentence_weight": 2.0},
    "+ best sentence, weight 0.5": {"sentence_signal": "max", "sentence_weight": 0.5},
    RERANK: {"sentence_signal": "off"},
}
K = 10
PER_PASSAGE = 2  # the sentences of each passage the cross-encoder reads (closest by e5)


def reranked(assistant: Any, question: str, hits: Sequence[Any]) -> list[Any]:
    """``hits`` (the first :data:`K`) reordered by the reader's (cross-encoder's) best
    P(answers) over each passage's :data:`PER_PASSAGE` sentences closest to the question
    (e5), ties in the hybrid's order; the hits after the first K keep their place."""
    import numpy as np

    from helse_qa.answering.read import reader_scores

    head, tail = list(hits[:K]), list(hits[K:])
    if not head:
        return list(hits)
    passages = assistant.pipeline._passages(assistant.index, head)
    every = passages.every_sentence()
    vectors = passages.vector_of()
    q = np.asarray(assistant.embedder.embed_queries([question])[0], dtype=np.float32)
    by_chunk: dict[str, list[Any]] = {}
    for sentence in every:
        if sentence.record.sentence_id in vectors:
            by_chunk.setdefault(sentence.record.chunk_id, []).append(sentence)
    candidates = [
        sentence
        for group in by_chunk.values()
        for sentence in sorted(group, key=lambda x: -float(vectors[x.record.sentence_id] @ q))[
            :PER_PASSAGE
        ]
    ]
    best: dict[str, float] = {}
    if candidates:
        for read in reader_scores(question, candidates, every, assistant.pipeline.reader):
            cid = read.record.chunk_id
            best[cid] = max(best.get(cid, 0.0), read.probability)
    order = sorted(range(len(head)), key=lambda i: (-best.get(head[i].chunk.chunk_id, 0.0), i))
    return [head[i] for i in order] + tail


def _retrieve(assistant: Any, variant: str, question: str, history: Any, k: int) -> list[Any]:
    hits = assistant.retrieve(question, history, k=k)
    return reranked(assistant, question, hits) if variant == RERANK else hits


def summarise(ranks: Sequence[int | None]) -> dict[str, float]:
    """hit@1, hit@5 and MRR (within the first ``K``) of 1-based ranks (None: not found)."""
    n = len(ranks)
    if not n:
        return {"questions": 0}
    return {
        "questions": n,
        "hit@1": round(sum(1 for r in ranks if r == 1) / n, 4),
        "hit@5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 4),
    }


def _eval_sets(assistant: Any, folder: Path, variant: str) -> dict[str, dict[str, Any]]:
    from helse_qa.evaluation.evaluate import evidence_rank, load_gold, relevant

    chunks = list(assistant.index.retriever.chunks.values())
    out: dict[str, dict[str, Any]] = {}
    pairs: dict[str, list[int | None]] = {}
    seconds: dict[str, float] = {}
    for name in SETS:
        started = time.perf_counter()
        ranks: list[int | None] = []
        for item in load_gold(folder / f"{name}.jsonl"):
            if not item.answerable or not item.evidence:
                continue
            hits = _retrieve(assistant, variant, item.question, item.history, K)
            rank = evidence_rank(hits, item.evidence)
            ranks.append(rank)
            holder = next((c for c in chunks if relevant(c.text, item.evidence)), None)
            pair = f"{item.language}->{holder.language if holder else '?'}"
            pairs.setdefault(pair, []).append(rank)
        out[name] = summarise(ranks)
        seconds[name] = round(time.perf_counter() - started, 1)
    out["by language pair (all sets)"] = {p: summarise(r) for p, r in sorted(pairs.items())}
    out["seconds"] = seconds
    return out


def _squad(assistant: Any, questions: Sequence[Any], variant: str) -> dict[str, float]:
    ranks: list[int | None] = []
    for q in questions:
        seen: list[str] = []
        for h in _retrieve(assistant, variant, q.question, (), K * 2):
            if h.chunk.doc_id not in seen:
                seen.append(h.chunk.doc_id)
        rank = seen.index(q.context_id) + 1 if q.context_id in seen else None
        ranks.append(rank if rank is not None and rank <= K else None)
    return summarise(ranks)


def _table(results: dict[str, Any]) -> str:
    rows = [
        "| variant | set | questions | hit@1 | hit@5 | MRR | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for variant, by_set in results.items():
        for name, row in by_set.items():
            if name in ("settings", "seconds", "by language pair (all sets)"):
                continue
            rows.append(
                f"| {variant} | {name} | {row.get('questions', 0)} | {row.get('hit@1', 0):.3f} "
                f"| {row.get('hit@5', 0):.3f} | {row.get('mrr', 0):.3f} | "
                f"{by_set['seconds'].get(name, '')} |"
            )
    pair_rows = [
        "| variant | pair | questions | hit@1 | hit@5 | MRR |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for variant, by_set in results.items():
        for pair, row in by_set.get("by language pair (all sets)", {}).items():
            pair_rows.append(
                f"| {variant} | {pair} | {row['questions']} | {row['hit@1']:.3f} | "
                f"{row['hit@5']:.3f} | {row['mrr']:.3f} |"
            )
    pairs = "By language pair (question -> evidence passage), the five eval sets together:"
    return "\n".join(rows) + f"\n\n{pairs}\n\n" + "\n".join(pair_rows)


def main(argv: list[str] | None = None) -> int:
    parser = module_parser("sentence_signal", __doc__)
    path_arg(parser, "--squad", DEFAULT_SQUAD, "SQuAD-format file (default %(default)s)")
    path_arg(parser, "--out", "eval/results", "output folder (default %(default)s)")
    path_arg(parser, "--gold", "eval", "folder with the eval sets (default %(default)s)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N SQuAD questions")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(VARIANTS),
        help="measure only this variant (repeatable); the others keep their figures from "
        "the existing sentence-signal.json",
    )
    args = parser.parse_args(argv)
    offline.apply()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from helse_qa.assistant import Assistant
    from helse_qa.config import Settings
    from helse_qa.evaluation.baselines import squad_index
    from helse_qa.models.embedding import load_embedder

    settings = Settings.load()
    embedder = load_embedder(settings)
    squad = args.squad if args.squad.is_file() else None
    if squad is None:
        print(f"note: {args.squad} not found - NorQuAD is left out", file=sys.stderr)
    else:
        squad_settings, _, questions = squad_index(squad, settings, embedder)
        questions = questions[: args.limit or None]
    results: dict[str, Any] = {}
    earlier = args.out / "sentence-signal.json"
    if args.only and earlier.is_file():
        results = json.loads(earlier.read_text(encoding="utf-8")).get("results", {})
    for variant, update in VARIANTS.items():
        if args.only and variant not in args.only:
            continue
        row: dict[str, Any] = {"settings": update, "seconds": {}}
        started = time.perf_counter()
        assistant = Assistant.open(settings.model_copy(update=update), embedder=embedder)
        try:
            measured = _eval_sets(assistant, args.gold, variant)
            row["seconds"].update(measured.pop("seconds"))
            row.update(measured)
        finally:
            assistant.close()
        row["seconds"]["eval sets"] = round(time.perf_counter() - started, 1)
        if squad is not None:
            started = time.perf_counter()
            assistant = Assistant.open(squad_settings.model_copy(update=update), embedder=embedder)
            try:
                row["NorQuAD validation"] = _squad(assistant, questions, variant)
            finally:
                assistant.close()
            row["seconds"]["NorQuAD validation"] = round(time.perf_counter() - started, 1)
        log.info("%s: %s", variant, {k: v for k, v in row.items() if k != "settings"})
        results[variant] = row
    results = {v: results[v] for v in VARIANTS if v in results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sentence-signal.json").write_text(
        json.dumps({"produced": time.strftime("%Y-%m-%d"), "k": K, "results": results}, indent=1)
        + "\n",
        encoding="utf-8",
    )
    text = (
        "# Retrieval with a sentence-level signal (issue 37)\n\n"
        f"Produced by `python -m helse_qa.evaluation.sentence_signal` on "
        f"{time.strftime('%Y-%m-%d')}. Evidence (eval sets) or the question's own context "
        f"(NorQuAD validation, every context one corpus) among the first {K} passages; the "
        "seconds include the first use of each passage's sentence vectors (made on demand "
        "and cached, as the app does).\n\n" + _table(results) + "\n"
    )
    (args.out / "sentence-signal.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
