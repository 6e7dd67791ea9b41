"""The sentence vectors an answer is picked with: stored at ingest, or made on demand.

With ``sentence_encoding = "on-demand"`` ingest embeds passages only (half the encoder work)
and the sentences of the passages a question retrieves are embedded when it is answered,
separately and with the passage prompt, exactly as ingest's ``separate`` encoding would have
made them. They are kept in a bounded in-memory cache keyed by the sentence text, so a
passage is embedded once per process, whatever generation or document it turns up in.
The same path fills in any sentence an index lacks (a retrieval-only index, say).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from helse_qa.models.embedding import Embedder
from helse_qa.storage.vectors import VectorStore, chunk_sentences
from helse_qa.types import Chunk, SentenceRecord

log = logging.getLogger(__name__)

# About 75 MB of 384-dimensional float32 vectors: every sentence of a few thousand pages.
DEFAULT_CACHE_SIZE = 50_000


class SentenceVectors:
    """The vectors of the sentences of some chunks: the store's, then the cache's, then
    embedded now. Thread-safe; the embedding itself runs outside the lock."""

    def __init__(self, embedder: Embedder, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        self._embedder = embedder
        self._max = max_entries
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.embedded = 0  # sentences embedded on demand so far (tests, logging)

    def get(
        self, store: VectorStore, chunks: Sequence[Chunk]
    ) -> tuple[list[SentenceRecord], np.ndarray]:
        """Records and vectors (rows in the same order) of every sentence of ``chunks``."""
        records, vectors = store.sentence_vectors(chunks)
        have = {r.sentence_id for r in records}
        missing = [
            (r, r.text_in(c))
            for c in chunks
            for r in chunk_sentences(c)
            if r.sentence_id not in have
        ]
        if not missing:
            return records, vectors
        found = self._lookup([t for _, t in missing])
        todo = sorted({t for _, t in missing if t not in found})
        if todo:
            made = self._embedder.embed_passages(todo)
            fresh = dict(zip(todo, np.asarray(made, dtype=np.float32), strict=True))
            self._remember(fresh)
            found.update(fresh)
            self.embedded += len(todo)
            log.debug("embedded %d sentences on demand", len(todo))
        extra = np.stack([found[t] for _, t in missing])
        rows = extra if len(records) == 0 else np.concatenate([vectors, extra])
        return [*records, *(r for r, _ in missing)], rows

    def _lookup(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            found = {}
            for t in texts:
                v = self._cache.get(t)
                if v is not None:
                    self._cache.move_to_end(t)
                    found[t] = v
            return found

    def _remember(self, fresh: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._cache.update(fresh)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
