"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused by reciprocal rank."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from helse_qa.config import Settings
from helse_qa.storage.bm25 import LexicalIndex
from helse_qa.storage.vectors import VectorStore
from helse_qa.types import Chunk, Hit, RetrievalMode

log = logging.getLogger(__name__)


class Retriever:
    """Ranks chunks for a query; ``k`` is clamped to the number of searchable chunks."""

    def __init__(
        self,
        store: VectorStore,
        lexical: LexicalIndex,
        chunks: dict[str, Chunk],
        settings: Settings,
    ) -> None:
        self.store = store
        self.lexical = lexical
        self.chunks = chunks
        self.settings = settings

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
        return self._fuse(dense, lexical, k, mode)

    def _fuse(
        self,
        dense: list[tuple[str, float]],
        lexical: list[tuple[str, float]],
        k: int,
        mode: RetrievalMode,
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
        else:
            for ranking, weight in ((dense, s.dense_weight), (lexical, 1.0)):
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
