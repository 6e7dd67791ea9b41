"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused by reciprocal rank; with
``sentence_signal``, a third ranking of the candidates by their best sentences (issue 37)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from helse_qa.config import Settings
from helse_qa.storage.bm25 import LexicalIndex
from helse_qa.storage.vectors import VectorStore
from helse_qa.types import Chunk, Hit, RetrievalMode, SentenceRecord

# The sentences of some passages with their vectors (rows in the same order): the answer
# step's sentence vectors (stored, cached or made on demand).
SentenceSource = Callable[[Sequence[Chunk]], tuple[list[SentenceRecord], np.ndarray]]

log = logging.getLogger(__name__)


class Retriever:
    """Ranks chunks for a query; ``k`` is clamped to the number of searchable chunks."""

    def __init__(
        self,
        store: VectorStore,
        lexical: LexicalIndex,
        chunks: dict[str, Chunk],
        settings: Settings,
        sentences: SentenceSource | None = None,
    ) -> None:
        self.store = store
        self.lexical = lexical
        self.chunks = chunks
        self.settings = settings
        self.sentences = sentences

    def search(
        self,
        query: str,
        query_vector: np.ndarray | None,
        k: int,
        doc_ids: Sequence[str] | None = None,
        mode: RetrievalMode = "hybrid",
        lexical_query: str | None = None,
        query_language: str | None = None,
    ) -> list[Hit]:
        wanted = set(doc_ids) if doc_ids else None
        allowed = {cid for cid, c in self.chunks.items() if c.doc_id in wanted} if wanted else None
        available = len(allowed) if allowed is not None else len(self.chunks)
        k = max(0, min(k, available))
        if k == 0:
            return []
        n = min(max(self.settings.candidates, k), available)
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if mode in ("hybrid", "dense") and query_vector is not None:
            dense = [
                (cid, s)
                for cid, s in self.store.query(query_vector, n, doc_ids)
                if cid in self.chunks
            ]
            boost = self.settings.cross_lingual_boost
            if boost and query_language:
                # e5 scores a passage in the question's own language higher than an equally
                # relevant one in the other language; level the field before ranking.
                dense = sorted(
                    (
                        (cid, sim + (boost if self.chunks[cid].language != query_language else 0))
                        for cid, sim in dense
                    ),
                    key=lambda kv: -kv[1],
                )
            if not dense:
                log.error(
                    "dense retrieval returned nothing for %d searchable passages: the vector "
                    "store has lost this index's vectors - run 'helse-qa doctor'",
                    available,
                )
        if mode in ("hybrid", "bm25"):
            lexical = self.lexical.search(lexical_query or query, n, allowed)
        by_sentence: list[tuple[str, float]] = []
        if mode == "hybrid" and query_vector is not None and self.settings.sentence_signal != "off":
            candidates = list(dict.fromkeys(cid for cid, _ in [*dense, *lexical]))
            by_sentence = self._by_sentence(candidates, query_vector, query_language)
        return self._fuse(dense, lexical, k, mode, by_sentence)

    def _by_sentence(
        self, candidates: Sequence[str], query_vector: np.ndarray, query_language: str | None
    ) -> list[tuple[str, float]]:
        """The candidate passages ranked by their best sentence's cosine with the query
        (``max``) or the mean of their best two (``top2``), the cross-lingual boost added as
        for passages."""
        if self.sentences is None or not candidates:
            return []
        records, vectors = self.sentences([self.chunks[cid] for cid in candidates])
        if not records:
            return []
        cosines = np.asarray(vectors, dtype=np.float32) @ np.asarray(query_vector, np.float32)
        per_chunk: dict[str, list[float]] = {}
        for record, cos in zip(records, cosines.tolist(), strict=True):
            per_chunk.setdefault(record.chunk_id, []).append(cos)
        boost = self.settings.cross_lingual_boost
        scored = []
        for cid, values in per_chunk.items():
            if cid not in self.chunks:
                continue
            best = sorted(values, reverse=True)
            score = best[0] if self.settings.sentence_signal == "max" else float(np.mean(best[:2]))
            if boost and query_language and self.chunks[cid].language != query_language:
                score += boost
            scored.append((cid, score))
        return sorted(scored, key=lambda kv: (-kv[1], kv[0]))

    def _fuse(
        self,
        dense: list[tuple[str, float]],
        lexical: list[tuple[str, float]],
        k: int,
        mode: RetrievalMode,
        by_sentence: Sequence[tuple[str, float]] = (),
    ) -> list[Hit]:
        s = self.settings
        d_rank = {cid: i + 1 for i, (cid, _) in enumerate(dense)}
        l_rank = {cid: i + 1 for i, (cid, _) in enumerate(lexical)}
        d_score = dict(dense)
        scores: dict[str, float] = {}
        if mode == "dense":
            scores = dict(dense)
        elif mode == "bm25":
            scores = dict(lexical)
        elif s.fusion == "rrf":
            for cid, r in d_rank.items():
                scores[cid] = scores.get(cid, 0.0) + s.dense_weight / (s.rrf_k + r)
            for cid, r in l_rank.items():
                scores[cid] = scores.get(cid, 0.0) + 1.0 / (s.rrf_k + r)
            for r, (cid, _) in enumerate(by_sentence, start=1):
                scores[cid] = scores.get(cid, 0.0) + s.sentence_weight / (s.rrf_k + r)
        else:
            rankings = ((dense, s.dense_weight), (lexical, 1.0), (by_sentence, s.sentence_weight))
            for ranking, weight in rankings:
                if not ranking:
                    continue
                values = np.array([v for _, v in ranking])
                lo, hi = float(values.min()), float(values.max())
                for cid, v in ranking:
                    norm = (v - lo) / (hi - lo) if hi > lo else 1.0
                    scores[cid] = scores.get(cid, 0.0) + weight * norm
        ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [
            Hit(
                chunk=self.chunks[cid],
                score=score,
                dense_rank=d_rank.get(cid),
                lexical_rank=l_rank.get(cid),
                dense_score=d_score.get(cid),
            )
            for cid, score in ordered
        ]
