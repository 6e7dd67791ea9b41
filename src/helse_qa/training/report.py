"""Measure readers on held-out external data, calibrate the chosen one, write the report.

A *scorer* here is any function ``(question, sentences) -> scores`` (higher = more likely
to answer): the trained cross-encoders, e5 cosine, today's heuristic formula and today's
MLP. Each benchmark question is scored against every sentence of its passage; top-1 counts
the best-scored sentence as right when it overlaps the answer span, MRR uses the rank of
the first sentence that does.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helse_qa.training.data import Dataset, NearestPassages, Question, name_pool, near_miss, overlap
from helse_qa.types import SentenceInContext

log = logging.getLogger(__name__)

Scorer = Callable[[str, Sequence[SentenceInContext]], np.ndarray]
OTHER_SENTENCES = 12  # of the nearest other passage, in a calibration case


@dataclass
class Ranked:
    question: Question
    scores: np.ndarray
    answer: set[int]

    @property
    def top1(self) -> bool:
        return int(np.argmax(self.scores)) in self.answer

    @property
    def reciprocal_rank(self) -> float:
        order = np.argsort(-self.scores, kind="stable")
        for rank, i in enumerate(order, start=1):
            if int(i) in self.answer:
                return 1.0 / rank
        return 0.0


def rank_benchmark(
    scorer: Scorer, ds: Dataset, limit: int | None = None, progress: bool = False
) -> list[Ranked]:
    questions = ds.answerable()[:limit] if limit else ds.answerable()
    out = []
    for n, q in enumerate(questions):
        p = ds.passages[q.pid]
        sentences = [p.sentence(i) for i in range(len(p.spans))]
        scores = np.asarray(scorer(q.text, sentences), dtype=np.float64)
        out.append(Ranked(q, scores, p.overlapping(q.answer_start, q.answer_end)))
        if progress and n and n % 100 == 0:
            log.info("  %d/%d questions", n, len(questions))
    return out


def summarise(ranked: Sequence[Ranked]) -> dict[str, float]:
    if not ranked:
        return {"top1": 0.0, "mrr": 0.0, "n": 0}
    return {
        "top1": round(sum(r.top1 for r in ranked) / len(ranked), 4),
        "mrr": round(sum(r.reciprocal_rank for r in ranked) / len(ranked), 4),
        "n": len(ranked),
    }


# -- calibration ------------------------------------------------------------------------


@dataclass
class CalibrationSet:
    """Raw logits for answerable cases (own passage + the nearest other passage) and for
    unanswerable ones (only the other passages' sentences; the answer sentence with the
    question's year, number or name changed)."""

    pair_logits: np.ndarray  # every scored pair
    pair_labels: np.ndarray
    answerable_max: np.ndarray
    unanswerable_max: np.ndarray


def calibration_cases(
    logit_fn: Scorer, ds: Dataset, seed: int, limit: int | None = None
) -> CalibrationSet:
    import random

    nearest = NearestPassages(ds.passages)
    names = name_pool(ds)
    rng = random.Random(seed)
    logits: list[float] = []
    labels: list[float] = []
    answerable: list[float] = []
    unanswerable: list[float] = []
    questions = ds.answerable()
    if limit and len(questions) > limit:  # an even sample across the sources
        questions = questions[:: len(questions) // limit][:limit]
    for q in questions:
        p = ds.passages[q.pid]
        own, others = question_sentences(ds, nearest, q)
        gold = p.overlapping(q.answer_start, q.answer_end)
        own_l = np.asarray(logit_fn(q.text, own))
        other_l = np.asarray(logit_fn(q.text, others)) if others else np.zeros(0)
        logits += own_l.tolist() + other_l.tolist()
        labels += [1.0 if i in gold else 0.0 for i in range(len(own))] + [0.0] * len(other_l)
        answerable.append(float(max(own_l.max(), other_l.max() if len(other_l) else -1e9)))
        if len(other_l):
            unanswerable.append(float(other_l.max()))
        changed = near_miss(q, p, rng, names.get(p.language, []))
        if changed:
            pos = p.index_of(q.answer_start)
            assert pos is not None
            miss = float(np.asarray(logit_fn(changed, [p.sentence(pos)]))[0])
            logits.append(miss)
            labels.append(0.0)
            unanswerable.append(miss)
    return CalibrationSet(
        np.asarray(logits), np.asarray(labels), np.asarray(answerable), np.asarray(unanswerable)
    )


def question_sentences(
    ds: Dataset, nearest: NearestPassages, q: Question
) -> tuple[list[SentenceInContext], list[SentenceInContext]]:
    """The sentences of the question's own passage, and the dozen most word-overlapping
    sentences of the nearest other passage (what the assistant's pre-filter keeps)."""
    p = ds.passages[q.pid]
    own = [p.sentence(i) for i in range(len(p.spans))]
    others = [
        ds.passages[pid].sentence(i)
        for pid in nearest.nearest(q.text, q.pid, p.language, k=1)
        for i in range(len(ds.passages[pid].spans))
    ]
    return own, sorted(others, key=lambda s: -overlap(q.text, s.text))[:OTHER_SENTENCES]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -35, 35))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the log loss of sigmoid(logit / T) (grid search)."""
    best, best_loss = 1.0, math.inf
    for t in np.exp(np.linspace(math.log(0.25), math.log(8.0), 121)):
        p = np.clip(sigmoid(logits / t), 1e-7, 1 - 1e-7)
        loss = float(-(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean())
        if loss < best_loss:
            best, best_loss = float(t), loss
    return best


def choose_threshold(answerable: np.ndarray, rate: float = 0.9) -> float:
    """The highest probability threshold that still answers ``rate`` of answerable cases."""
    return float(np.quantile(answerable, 1.0 - rate))


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[float, list[dict[str, float]]]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    table, total = [], 0.0
    for lo, hi in itertools.pairwise(edges):
        mask = (p >= lo) & ((p < hi) if hi < 1.0 else (p <= hi))
        if not mask.any():
            continue
        conf, acc = float(p[mask].mean()), float(y[mask].mean())
        total += mask.sum() / len(p) * abs(conf - acc)
        table.append(
            {"lo": float(lo), "hi": float(hi), "n": int(mask.sum()), "p": conf, "observed": acc}
        )
    return float(total), table


def plot_reliability(table: list[dict[str, float]], value: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
    ax.plot([r["p"] for r in table], [r["observed"] for r in table], marker="o")
    for r in table:
        ax.annotate(
            str(r["n"]),
            (r["p"], r["observed"]),
            fontsize=7,
            xytext=(3, -9),
            textcoords="offset points",
        )
    ax.set_xlabel("P(answers) from the reader")
    ax.set_ylabel("observed share of answer sentences")
    ax.set_title(f"{title}\nECE {value:.3f}", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# -- the answer phrase --------------------------------------------------------------------

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def _norm_tokens(text: str) -> list[str]:
    return _PUNCT.sub(" ", text.lower()).split()


def token_f1(predicted: str, gold: str) -> float:
    p, g = _norm_tokens(predicted), _norm_tokens(gold)
    if not p or not g:
        return float(p == g)
    common = sum(min(p.count(t), g.count(t)) for t in set(p))
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def span_cases(
    span_fn: Callable[[str, SentenceInContext], tuple[tuple[int, int] | None, float]],
    ds: Dataset,
    limit: int | None = None,
) -> list[tuple[float, float]]:
    """(span probability, token F1 against the gold answer) for each question's answer
    sentence."""
    out = []
    for q in ds.answerable()[:limit] if limit else ds.answerable():
        p = ds.passages[q.pid]
        pos = p.index_of(q.answer_start)
        if pos is None:
            continue
        s = p.sentence(pos)
        span, prob = span_fn(q.text, s)
        predicted = s.text[span[0] : span[1]] if span else ""
        out.append((prob, token_f1(predicted, p.text[q.answer_start : q.answer_end])))
    return out


def choose_span_threshold(cases: Sequence[tuple[float, float]], target: float = 0.7) -> float:
    """The lowest span probability above which the shown phrases reach ``target`` mean F1."""
    ordered = sorted(cases, reverse=True)
    best = 1.0
    total = 0.0
    for n, (p, f1) in enumerate(ordered, start=1):
        total += f1
        if total / n >= target:
            best = p
    return float(best)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
