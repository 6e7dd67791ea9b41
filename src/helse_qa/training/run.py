"""``helse-qa train-reader``: from ``../shared/benchmarks`` to the shipped reader weights and
``eval/results/reader.json`` + ``reader.md``, in one resumable command.

1. the candidates (recipes in :data:`helse_qa.training.loop.CANDIDATES`) are trained for an
   equal, short budget and measured on a slice of the held-out benchmarks;
2. the chosen recipe is trained for its full schedule (checkpoints every 50 steps; a rerun
   resumes where a killed one stopped, and a finished one is not trained again);
3. its weights are exported (int8 deltas over the packaged base model), loaded back as the
   assistant loads them, and measured on every benchmark beside today's scorers;
4. it is calibrated on the calibration split (temperature, abstention threshold, answer
   phrase threshold) and its reliability is plotted on NorQuAD validation.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from helse_qa.models.reader import (
    META_FILE,
    READER_FORMAT,
    WEIGHTS_FILE,
    CrossEncoderReader,
    base_state,
    build_network,
    load_reader,
    pack_delta,
    sha256_file,
)
from helse_qa.training.data import Splits, load_splits
from helse_qa.training.loop import CANDIDATES, CHOSEN, Recipe, Trainer
from helse_qa.training.report import (
    calibration_cases,
    choose_span_threshold,
    choose_threshold,
    ece,
    fit_temperature,
    plot_reliability,
    rank_benchmark,
    sigmoid,
    span_cases,
    summarise,
    write_json,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    benchmarks: Path
    model_dir: Path
    base_fingerprint: str
    workdir: Path
    weights_dir: Path
    results_dir: Path
    chosen: str = CHOSEN
    steps: int | None = None  # the chosen recipe's steps (default: its own)
    compare_steps: int = 150  # each candidate's budget in the comparison (0: skip it)
    compare_questions: int = 150  # per benchmark, in the comparison
    train_candidates: bool = True  # False: report only candidates already measured
    threads: int = 2
    limit: int | None = None  # questions per benchmark in the final report (tests)


def export(trainer: Trainer, opts: TrainOptions, recipe: Recipe, splits: Splits) -> None:
    """Write reader.npz (what training changed) and a first reader.json."""
    base = base_state(build_network(opts.model_dir, recipe.layers))
    packed = pack_delta(trainer.net, base)
    opts.weights_dir.mkdir(parents=True, exist_ok=True)
    weights = opts.weights_dir / WEIGHTS_FILE
    if not _same_arrays(weights, packed):  # a rerun that trained nothing keeps the file
        tmp = weights.with_name("reader.tmp.npz")
        np.savez_compressed(tmp, **packed)  # type: ignore[arg-type]
        tmp.replace(weights)
    meta = {
        "format": READER_FORMAT,
        "name": recipe.name,
        "layers": recipe.layers,
        "context": recipe.context,
        "max_length": recipe.max_length,
        "threshold": 0.5,
        "temperature": 1.0,
        "span_threshold": 1.0,
        "sha256": sha256_file(weights),
        "base_fingerprint": opts.base_fingerprint,
        "recipe": asdict(recipe),
        "split": splits.description,
        "trained": datetime.now(UTC).strftime("%Y-%m-%d"),
        "training_seconds": round(trainer.seconds),
    }
    write_json(opts.weights_dir / META_FILE, meta)


def _same_arrays(path: Path, packed: dict[str, np.ndarray]) -> bool:
    """Whether ``path`` holds exactly ``packed`` (an .npz is not byte-stable: its zip
    entries carry the time they were written, so an unchanged model would be a new file)."""
    if not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as z:
            return set(z.files) == set(packed) and all(
                np.array_equal(z[k], v) for k, v in packed.items()
            )
    except (OSError, ValueError):
        return False


def reader_scorer(reader: CrossEncoderReader) -> Any:
    def score(question: str, sentences: Any) -> np.ndarray:
        return reader.logits(question, sentences)[0]

    return score


def compare(opts: TrainOptions, splits: Splits) -> dict[str, dict[str, dict[str, float]]]:
    """Each candidate trained for ``compare_steps`` and measured on a slice."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, recipe in CANDIDATES.items():
        short = replace(recipe, steps=opts.compare_steps, warmup=min(recipe.warmup, 30))
        results_file = opts.workdir / f"compare-{short.name}-{short.key()}.json"
        if results_file.is_file():
            out[name] = json.loads(results_file.read_text())
            continue
        if not opts.train_candidates:
            log.warning("candidate %s not measured yet (--no-train-candidates)", name)
            continue
        trainer = Trainer(short, opts.model_dir, opts.workdir, splits.train, opts.threads)
        trainer.run()
        from transformers import AutoTokenizer

        from helse_qa.models.reader import ReaderMeta

        meta = ReaderMeta(short.layers, short.context, short.max_length, 0.5, 1.0, 1.0, "", "", {})
        reader = CrossEncoderReader(
            trainer.net, AutoTokenizer.from_pretrained(str(opts.model_dir)), meta
        )
        scores = {
            bench: summarise(
                rank_benchmark(
                    reader_scorer(reader), splits.benchmarks[bench], opts.compare_questions
                )
            )
            for bench in ("norquad_validation", "xquad_heldout_en_de")
        }
        scores["_training"] = {"steps": short.steps, "seconds": round(trainer.seconds)}
        write_json(results_file, scores)
        out[name] = scores
        log.info("candidate %s after %d steps: %s", name, short.steps, scores)
    return out


def train_reader(opts: TrainOptions) -> dict[str, Any]:
    started = time.perf_counter()
    recipe = CANDIDATES[opts.chosen]
    if opts.steps is not None:
        recipe = replace(recipe, steps=opts.steps)
    splits = load_splits(opts.benchmarks, recipe.seed)
    log.info("data: %s", splits.description)
    comparison = compare(opts, splits) if opts.compare_steps else {}

    trainer = Trainer(recipe, opts.model_dir, opts.workdir, splits.train, opts.threads)
    trainer.run()
    export(trainer, opts, recipe, splits)
    del trainer

    reader = load_reader(opts.model_dir, opts.weights_dir, threads=opts.threads)
    score = reader_scorer(reader)
    report: dict[str, Any] = {"chosen": f"cross-encoder:{recipe.name}", "candidates": {}}
    chosen_name = f"cross-encoder:{recipe.name}"
    report["candidates"][chosen_name] = {}
    for bench, ds in splits.benchmarks.items():
        log.info("measuring the reader on %s", bench)
        ranked = rank_benchmark(score, ds, opts.limit, progress=True)
        if bench == "norquad_validation":
            pass
        report["candidates"][chosen_name][bench] = summarise(ranked)

    from helse_qa.training.baselines import Vectors, rank_baselines

    vectors = Vectors(opts.model_dir, opts.workdir / "vectors")
    for bench, ds in splits.benchmarks.items():
        log.info("measuring today's scorers on %s", bench)
        small = ds
        if opts.limit:
            from helse_qa.training.data import Dataset

            keep = ds.answerable()[: opts.limit]
            small = Dataset({q.pid: ds.passages[q.pid] for q in keep}, keep)
        for name, ranked in rank_baselines(small, vectors).items():
            report["candidates"].setdefault(name, {})[bench] = summarise(ranked)

    # calibration on the calibration split; reliability on NorQuAD validation
    log.info("calibrating")
    cal = calibration_cases(score, splits.calibration, recipe.seed, opts.limit or 160)
    temperature = fit_temperature(cal.pair_logits, cal.pair_labels)
    threshold = choose_threshold(sigmoid(cal.answerable_max / temperature), 0.9)
    held = calibration_cases(
        score, splits.benchmarks["norquad_validation"], recipe.seed, opts.limit or 120
    )
    p_held = sigmoid(held.pair_logits / temperature)
    ece_value, table = ece(p_held, held.pair_labels)
    answered = float((sigmoid(held.answerable_max / temperature) >= threshold).mean())
    declined = float((sigmoid(held.unanswerable_max / temperature) < threshold).mean())

    def span_fn(question: str, sentence: Any) -> Any:
        _, spans, probs = reader.logits(question, [sentence])
        return spans[0], float(probs[0])

    cal_spans = span_cases(span_fn, splits.calibration, opts.limit)
    span_threshold = choose_span_threshold(cal_spans, 0.7)
    val_spans = span_cases(span_fn, splits.benchmarks["norquad_validation"], opts.limit)
    shown = [f for p, f in val_spans if p >= span_threshold]

    meta_path = opts.weights_dir / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.update(
        threshold=round(threshold, 4),
        temperature=round(temperature, 4),
        span_threshold=round(span_threshold, 4),
    )
    write_json(meta_path, meta)

    opts.results_dir.mkdir(parents=True, exist_ok=True)
    plot = opts.results_dir / "reader-reliability.png"
    plot_reliability(table, ece_value, plot, "Reader on NorQuAD validation (sentence pairs)")
    report.update(
        {
            "comparison": {
                "note": f"each candidate trained {opts.compare_steps} steps (same seed, same "
                f"data order), measured on the first {opts.compare_questions} questions",
                "candidates": comparison,
            },
            "calibration": {
                "temperature": round(temperature, 4),
                "threshold": round(threshold, 4),
                "threshold_rule": "answers 90% of answerable calibration questions",
                "calibration_questions": len(cal.answerable_max),
                "reliability_questions": len(held.answerable_max),
                "norquad_validation": {
                    "ece": round(ece_value, 4),
                    "reliability": table,
                    "answered_rate": round(answered, 4),
                    "declined_unanswerable": round(declined, 4),
                    "unanswerable_cases": len(held.unanswerable_max),
                },
            },
            "span": {
                "threshold": round(span_threshold, 4),
                "norquad_validation_f1_all": round(float(np.mean([f for _, f in val_spans])), 4),
                "norquad_validation_f1_shown": round(float(np.mean(shown)), 4) if shown else 0.0,
                "norquad_validation_shown_share": round(len(shown) / max(1, len(val_spans)), 4),
            },
            "training": {
                "recipe": asdict(recipe),
                "seconds": meta.get("training_seconds"),
                "machine": f"{platform.machine()}, {opts.threads} threads",
            },
            "weights": {
                "sha256": meta["sha256"],
                "size_bytes": (opts.weights_dir / WEIGHTS_FILE).stat().st_size,
            },
            "split": splits.description,
            "seconds_total_this_run": round(time.perf_counter() - started),
        }
    )
    write_json(opts.results_dir / "reader.json", report)
    (opts.results_dir / "reader.md").write_text(markdown(report), encoding="utf-8")
    return report


def markdown(report: dict[str, Any]) -> str:
    benches = ["norquad_validation", "swequad_test", "xquad_heldout_en_en", "xquad_heldout_en_de"]
    lines = [
        "# The reader (cross-encoder): held-out figures",
        "",
        "Written by `make train-reader` (`helse-qa train-reader`); every figure is on data the "
        "reader never saw (split rules below). top-1: the best-scored sentence of the passage "
        "overlaps the answer; MRR: reciprocal rank of the first such sentence.",
        "",
        "| scorer | " + " | ".join(f"{b} top-1 | MRR" for b in benches) + " |",
        "|---|" + "---:|---:|" * len(benches),
    ]
    for name, figures in report["candidates"].items():
        cells = []
        for b in benches:
            f = figures.get(b, {})
            cells += [f"{f.get('top1', float('nan')):.3f}", f"{f.get('mrr', float('nan')):.3f}"]
        mark = " (chosen)" if name == report["chosen"] else ""
        lines.append(f"| {name}{mark} | " + " | ".join(cells) + " |")
    comp = report.get("comparison", {})
    if comp.get("candidates"):
        lines += [
            "",
            "## Candidates at an equal budget",
            "",
            comp["note"] + ".",
            "",
            "| candidate | NorQuAD val top-1 | MRR | XQuAD en-de top-1 | MRR | seconds |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, f in comp["candidates"].items():
            nq, xq = f["norquad_validation"], f["xquad_heldout_en_de"]
            lines.append(
                f"| {name} | {nq['top1']:.3f} | {nq['mrr']:.3f} | {xq['top1']:.3f} | "
                f"{xq['mrr']:.3f} | {f['_training']['seconds']} |"
            )
    cal = report["calibration"]
    nv = cal["norquad_validation"]
    span = report["span"]
    lines += [
        "",
        "## Calibration and abstention",
        "",
        f"Temperature {cal['temperature']} and threshold {cal['threshold']} "
        f"({cal['threshold_rule']}) fitted on {cal['calibration_questions']} questions of the "
        f"calibration split (an even sample). On {cal['reliability_questions']} NorQuAD "
        f"validation questions (held out): expected calibration error {nv['ece']:.3f} over "
        "sentence pairs "
        "(`reader-reliability.png`); the best sentence of the own passage plus the nearest "
        f"other passage is above the threshold for {nv['answered_rate']:.3f} of the questions; "
        f"of {nv['unanswerable_cases']} unanswerable cases (only the other passages, or the "
        "question with its year, number or name changed), "
        f"{nv['declined_unanswerable']:.3f} are declined.",
        "",
        "![reliability](reader-reliability.png)",
        "",
        "## The answer phrase",
        "",
        f"Token F1 of the predicted phrase in the answer sentence on NorQuAD validation: "
        f"{span['norquad_validation_f1_all']:.3f} over all; shown only above span probability "
        f"{span['threshold']} (chosen on calibration for mean F1 >= 0.7): "
        f"{span['norquad_validation_shown_share']:.3f} of them shown, F1 "
        f"{span['norquad_validation_f1_shown']:.3f}.",
        "",
        "## Training",
        "",
        f"Recipe: `{json.dumps(report['training']['recipe'])}`; "
        f"{report['training']['seconds']} s of training on {report['training']['machine']}. "
        f"Weights: {report['weights']['size_bytes'] / 1e6:.1f} MB, sha256 "
        f"`{report['weights']['sha256'][:16]}...`.",
        "",
        "Split: " + str(report["split"]["rule"]) + ".",
        "",
    ]
    return "\n".join(lines)
