"""Today's sentence scorers on the reader's benchmarks, through the code the assistant runs:
e5 cosine (the bi-encoder alone) and the hand-weighted heuristic
(:func:`helse_qa.answering.heuristic.support_scores`). Each benchmark passage becomes one
chunk and its sentences the candidates; vectors are cached in the work directory. (The
learned MLP scorer measured here until issue 35 was removed; its figures stay in
eval/results/reader.md.)"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from helse_qa.answering.heuristic import support_scores
from helse_qa.text.analysis import Analyzer, build_vocabulary
from helse_qa.training.data import Dataset
from helse_qa.training.report import Ranked
from helse_qa.types import Chunk, Hit, SentenceRecord

log = logging.getLogger(__name__)


class Vectors:
    def __init__(self, model_dir: Path, cache: Path) -> None:
        self.model_dir = model_dir
        self.cache = cache
        self._model: Any = None

    def encode(self, texts: list[str], prompt: str) -> np.ndarray:
        key = hashlib.sha1(("\x1e".join(texts) + prompt).encode()).hexdigest()[:16]
        path = self.cache / f"vectors-{key}.npy"
        if path.is_file():
            return np.load(path)
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_dir), device="cpu")
        vecs = np.asarray(
            self._model.encode(
                texts,
                prompt=prompt,
                batch_size=32,
                normalize_embeddings=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )
        self.cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vecs)
        return vecs


def rank_baselines(ds: Dataset, vectors: Vectors) -> dict[str, list[Ranked]]:
    """{"e5-cosine", "heuristic"} -> ranked benchmark questions."""
    questions = ds.answerable()
    pids = sorted({q.pid for q in questions})
    chunks: dict[str, Chunk] = {}
    records: dict[str, list[SentenceRecord]] = {}
    for pid in pids:
        p = ds.passages[pid]
        chunks[pid] = Chunk(pid, pid, p.title, p.language, p.text, 0, len(p.text), None, (), 0)
        records[pid] = [SentenceRecord(pid, pid, a, b) for a, b in p.spans]
    sent_texts = [r.text_in(chunks[pid]) for pid in pids for r in records[pid]]
    log.info(
        "embedding %d sentences, %d passages, %d questions for the baselines",
        len(sent_texts),
        len(pids),
        len(questions),
    )
    s_vecs = vectors.encode(sent_texts, "passage: ")
    p_vecs = vectors.encode([chunks[pid].embedding_text for pid in pids], "passage: ")
    q_vecs = vectors.encode([q.text for q in questions], "query: ")
    at, by_pid_s, by_pid_p = 0, {}, {}
    for n, pid in enumerate(pids):
        k = len(records[pid])
        by_pid_s[pid] = s_vecs[at : at + k]
        by_pid_p[pid] = p_vecs[n]
        at += k
    texts = [ds.passages[pid].text for pid in pids]
    analyzer = Analyzer(build_vocabulary(texts))
    df: dict[str, int] = {}
    for t in texts:
        for term in set(analyzer.terms(t, ["nb", "en"])):
            df[term] = df.get(term, 0) + 1
    analyzer.doc_freq, analyzer.n_docs = df, len(texts)
    out: dict[str, list[Ranked]] = {"e5-cosine": [], "heuristic": []}
    for q, qv in zip(questions, q_vecs, strict=True):
        p = ds.passages[q.pid]
        gold = p.overlapping(q.answer_start, q.answer_end)
        chunk, recs, sv = chunks[q.pid], records[q.pid], by_pid_s[q.pid]
        cos = sv @ qv
        hit = Hit(chunk, 1.0, 1, 1, float(by_pid_p[q.pid] @ qv))
        out["e5-cosine"].append(Ranked(q, cos.astype(np.float64), gold))
        starts = {r.start: i for i, r in enumerate(recs)}
        h = np.full(len(recs), -1.0)
        for rec, _, _, _, support in support_scores(q.text, qv, [hit], recs, sv, analyzer):
            h[starts[rec.start]] = support
        out["heuristic"].append(Ranked(q, h, gold))
    return out
