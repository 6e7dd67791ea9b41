"""The sentence vectors an answer is picked with: stored at ingest, or made on demand.

With ``sentence_encoding = "on-demand"`` (the default) ingest embeds passages only (half the
encoder work) and the sentences of the passages a question retrieves are embedded when it
is answered, separately and with the passage prompt, exactly as ingest's ``separate``
encoding would have made them. They are kept in a bounded in-memory cache keyed by the
sentence text, so a passage is embedded once per process, whatever generation or document
it turns up in, and in an on-disk cache (``index/sentence-cache/``) so that the next
process (a ``helse-qa ask``, a restarted app) finds them without loading the passage model.
The disk cache is a cache, not part of the index: it is keyed by the model's fingerprint
and the passage prompt, written a file at a time with an atomic rename, and a broken or
missing file only means those sentences are embedded again. The same path fills in any
sentence an index lacks (a retrieval-only index, say).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from helse_qa.models.embedding import Embedder
from helse_qa.storage.vectors import VectorStore, chunk_sentences, read_text
from helse_qa.types import Chunk, SentenceRecord

log = logging.getLogger(__name__)

# About 75 MB of 384-dimensional float32 vectors: every sentence of a few thousand pages.
DEFAULT_CACHE_SIZE = 50_000
# Files in a disk cache before they are merged into one (each on-demand batch adds one).
MERGE_AFTER_FILES = 32
CACHE_SUBDIR = "sentence-cache"


def text_key(text: str) -> str:
    """The cache key of a sentence: a digest of its exact text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class DiskCache:
    """Sentence vectors on disk, one ``.npz`` file (keys and vectors) per batch.

    ``folder`` is specific to one model and prompt (see :func:`disk_cache_folder`). Files
    are written to a temporary name and renamed into place, so a reader sees a whole file
    or none; unreadable files are skipped with a warning (and replaced at the next merge).
    """

    def __init__(self, folder: Path, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        self.folder = folder
        self._max = max_entries

    def load(self) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        files = self._files()
        for path in files:
            try:
                with np.load(path, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
                    found.update(zip((str(k) for k in keys), vectors, strict=True))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
                log.warning("skipping unreadable sentence cache file %s (%s)", path, err)
        if len(files) > MERGE_AFTER_FILES:
            self._merge(found, files)
        return found

    def _files(self) -> list[Path]:
        """The finished files, oldest first: their names start with the time they were
        written (a name starting with a dot is being written)."""
        return sorted(p for p in self.folder.glob("*.npz") if not p.name.startswith("."))

    def save(self, fresh: dict[str, np.ndarray]) -> None:
        if not fresh:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write(fresh)
        except OSError as err:  # a read-only index, a full disk: answers still work
            log.warning("could not write the sentence cache in %s (%s)", self.folder, err)

    def _write(self, vectors: dict[str, np.ndarray]) -> Path:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    keys=np.array(list(vectors), dtype="U40"),
                    vectors=np.stack(list(vectors.values())).astype(np.float32),
                )
            final = self.folder / f"{time.time_ns():020d}-{os.path.basename(tmp)[5:]}"
            os.replace(tmp, final)
            return final
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _merge(self, found: dict[str, np.ndarray], files: Iterable[Path]) -> None:
        """One file for many: the newest ``max_entries`` vectors, then the old files go
        (a process reading them meanwhile loses nothing it cannot embed again)."""
        keep = dict(list(found.items())[-self._max :])
        try:
            merged = self._write(keep)
            for path in files:
                if path != merged:
                    path.unlink(missing_ok=True)
        except OSError as err:
            log.warning("could not merge the sentence cache in %s (%s)", self.folder, err)


def disk_cache_folder(index_dir: Path, fingerprint: str, passage_prompt: str) -> Path:
    """The disk cache of one model and passage prompt under the index folder."""
    key = hashlib.sha256(f"{fingerprint}\0{passage_prompt}".encode()).hexdigest()[:16]
    return index_dir / CACHE_SUBDIR / key


class SentenceVectors:
    """The vectors of the sentences of some chunks: the store's, then the cache's, then
    embedded now. Thread-safe; the embedding itself runs outside the lock."""

    def __init__(
        self,
        embedder: Embedder,
        max_entries: int = DEFAULT_CACHE_SIZE,
        disk: DiskCache | None = None,
    ) -> None:
        self._embedder = embedder
        self._max = max_entries
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._disk = disk
        self._disk_loaded = disk is None
        self.embedded = 0  # sentences embedded on demand so far (tests, logging)
        # Questions being answered right now: background work waits for none (it shares
        # the model and two cores with them).
        self._asking = 0

    def get(
        self, store: VectorStore, chunks: Sequence[Chunk], background: bool = False
    ) -> tuple[list[SentenceRecord], np.ndarray]:
        """Records and vectors (rows in the same order) of every sentence of ``chunks``.
        ``background`` (the warm-up): wait until no question is being answered."""
        if background:
            while self._asking:
                time.sleep(0.05)
            return self._get(store, chunks)
        with self._lock:
            self._asking += 1
        try:
            return self._get(store, chunks)
        finally:
            with self._lock:
                self._asking -= 1

    def _get(
        self, store: VectorStore, chunks: Sequence[Chunk]
    ) -> tuple[list[SentenceRecord], np.ndarray]:
        records, vectors = store.sentence_vectors(chunks)
        have = {r.sentence_id for r in records}
        missing = [
            (r, read_text(r, c))
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
            keyed = {text_key(t): v for t, v in fresh.items()}
            self._remember(keyed)
            if self._disk is not None:
                self._disk.save(keyed)
            found.update(fresh)
            self.embedded += len(todo)
            log.debug("embedded %d sentences on demand", len(todo))
        extra = np.stack([found[t] for _, t in missing])
        rows = extra if len(records) == 0 else np.concatenate([vectors, extra])
        return [*records, *(r for r, _ in missing)], rows

    def _lookup(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        self._load_disk()
        with self._lock:
            found = {}
            for t in texts:
                key = text_key(t)
                v = self._cache.get(key)
                if v is not None:
                    self._cache.move_to_end(key)
                    found[t] = v
            return found

    def _load_disk(self) -> None:
        if self._disk_loaded:
            return
        with self._lock:
            if self._disk_loaded or self._disk is None:
                return
            for key, vector in self._disk.load().items():
                self._cache[key] = vector
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
            self._disk_loaded = True

    def _remember(self, keyed: dict[str, np.ndarray]) -> None:
        """Cache vectors by their text keys (:func:`text_key`)."""
        with self._lock:
            self._cache.update(keyed)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
