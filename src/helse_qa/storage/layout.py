"""The index on disk: generations, the current pointer and the manifest.

``index/CURRENT`` names the live generation (``gen-000007``). An ingest copies it to a
hidden working directory, applies its changes there and only then switches ``CURRENT``
with an atomic rename, so a killed ingest leaves the previous index fully usable.
Each generation holds ``manifest.json`` (model, fingerprint, chunker, documents),
``chroma/`` (vectors), ``lexical/`` (BM25), ``chunks.jsonl`` and ``texts/`` (parsed texts
that citation spans point into).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helse_qa.errors import HelseQAError, IndexNotBuiltError, ModelMismatchError
from helse_qa.types import Chunk

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
# Index directories whose lock the current thread holds (the lock is re-entrant per thread).
_HELD = threading.local()
_GEN = re.compile(r"^gen-(\d{6})$")


@dataclass
class DocumentEntry:
    doc_id: str
    file: str
    title: str
    language: str
    publisher: str
    year: int | None
    kind: str
    content_hash: str
    chunks: int
    pages: int
    indexed_at: str


@dataclass
class VectorLocation:
    """Where a generation's vectors live and how many each collection held at publication.

    ``kind`` is "embedded" (a Chroma directory inside the generation) or "server" (a
    ``chroma run`` at ``url``, in ``tenant``/``database``); ``collections`` maps the role
    ("chunks", "sentences") to the collection's name, ``counts`` the role to its vectors.
    """

    kind: str
    url: str = ""
    tenant: str = ""
    database: str = ""
    collections: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        if self.kind == "server":
            return f"the Chroma server at {self.url} ({self.tenant}/{self.database})"
        return "the embedded Chroma store inside the index directory"

    def same_store(self, other: VectorLocation) -> bool:
        return (self.kind, self.url.rstrip("/"), self.tenant, self.database) == (
            other.kind,
            other.url.rstrip("/"),
            other.tenant,
            other.database,
        )


@dataclass
class Manifest:
    embedding_model: str
    model_fingerprint: str
    dim: int
    chunker_version: str
    chunk_words: int
    documents: dict[str, DocumentEntry] = field(default_factory=dict)
    version: int = MANIFEST_VERSION
    # False for retrieval-only indexes (benchmarks): no sentence vectors were stored.
    sentences: bool = True
    # How the sentence vectors were made (Settings.sentence_encoding); indexes from before
    # the setting existed encoded every sentence separately.
    sentence_encoding: str = "separate"
    # Where the vectors live, written when the generation is published (None: an index
    # built before this was recorded; its vector counts are still checked on opening).
    vectors: VectorLocation | None = None

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data: dict[str, Any] = json.loads(text)
        docs = {k: DocumentEntry(**v) for k, v in data.pop("documents", {}).items()}
        vectors = data.pop("vectors", None)
        return cls(
            documents=docs,
            vectors=VectorLocation(**vectors) if vectors else None,
            **data,
        )

    def check_model(self, model_id: str, fingerprint: str, index_dir: Path) -> None:
        """Refuse an index built with another embedding model."""
        if self.embedding_model != model_id or self.model_fingerprint != fingerprint:
            raise ModelMismatchError(
                f"the index in {index_dir} was built with embedding model "
                f"'{self.embedding_model}' (weights {self.model_fingerprint[:12]}), but the "
                f"settings select '{model_id}' (weights {fingerprint[:12]}). Rebuild it with "
                "'helse-qa ingest --rebuild', or set HELSE_QA_EMBEDDING_MODEL back to the "
                "model it was built with."
            )


class IndexLayout:
    """Generations under one index directory."""

    LOCK_FILE = ".lock"

    def __init__(self, index_dir: Path) -> None:
        self.root = index_dir

    @contextmanager
    def lock(self, timeout: float = 600.0) -> Iterator[None]:
        """Serialise writers (ingests, repairs) across processes with an advisory lock.

        The kernel releases it when the holder dies, even on SIGKILL, so a killed ingest
        never blocks the next one. Readers never take it. Where ``fcntl`` does not exist
        (Windows) writers are not serialised across processes. Re-entrant within a thread:
        a repair that holds the lock can run an ingest, which takes it again.
        """
        key = str(self.root.resolve())
        held = _HELD.__dict__.setdefault("paths", set())
        if key in held:
            yield
            return
        held.add(key)
        try:
            with self._flock(timeout):
                yield
        finally:
            held.discard(key)

    @contextmanager
    def _flock(self, timeout: float) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # not on Linux/macOS
            log.warning("no fcntl on this platform: concurrent ingests are not serialised")
            yield
            return

        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / self.LOCK_FILE
        with path.open("a+", encoding="utf-8") as fh:
            deadline = time.monotonic() + timeout
            waited = False
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not waited:
                        fh.seek(0)
                        holder = fh.read().strip() or "?"
                        log.warning(
                            "another ingest (pid %s) is updating %s - waiting for it",
                            holder,
                            self.root,
                        )
                        waited = True
                    if time.monotonic() > deadline:
                        raise HelseQAError(
                            f"another ingest has held {path} for over {timeout:.0f} s - wait "
                            "for it to finish, or stop it and run 'helse-qa doctor --repair'"
                        ) from None
                    time.sleep(0.2)
            try:
                fh.seek(0)
                fh.truncate()
                fh.write(f"{os.getpid()}\n")
                fh.flush()
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def generations(self) -> list[Path]:
        """Every published generation directory, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if _GEN.match(p.name) and p.is_dir())

    def leftovers(self) -> list[Path]:
        """Unfinished working directories and generations that are not current."""
        if not self.root.is_dir():
            return []
        current = self.current()
        work = [p for p in self.root.iterdir() if p.name.startswith(".work-gen-")]
        stale = [p for p in self.generations() if current is not None and p != current]
        return sorted([*work, *stale])

    def point_to(self, generation: Path) -> None:
        """Make ``generation`` current (atomic: a reader sees the old or the new name)."""
        tmp = self.root / "CURRENT.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(generation.name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / "CURRENT")
        _fsync_dir(self.root)

    def current(self) -> Path | None:
        pointer = self.root / "CURRENT"
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.root / name
        return path if _GEN.match(name) and (path / "manifest.json").is_file() else None

    def require_current(self) -> Path:
        path = self.current()
        if path is None:
            raise IndexNotBuiltError(self.root)
        return path

    def begin(self, copy: bool = True) -> Path:
        """A fresh working directory, seeded with a copy of the current generation."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.cleanup()
        numbers = [int(m.group(1)) for p in self.root.iterdir() if (m := _GEN.match(p.name))]
        # A unique name per attempt: Chroma caches clients by path, so a path that was
        # removed must never be reused within one process.
        work = self.root / (
            f".work-gen-{max(numbers, default=0) + 1:06d}-{os.getpid()}-{time.monotonic_ns()}"
        )
        current = self.current()
        if current is not None and copy:
            shutil.copytree(current, work)
        else:
            work.mkdir()
        return work

    def commit(self, work: Path) -> Path:
        """Publish a working directory as the current generation (atomic switch)."""
        final = self.root / work.name.removeprefix(".work-")[: len("gen-000000")]
        _fsync_tree(work)
        os.replace(work, final)
        self.point_to(final)
        self.cleanup()
        return final

    def abort(self, work: Path) -> None:
        shutil.rmtree(work, ignore_errors=True)

    def cleanup(self) -> None:
        """Remove unfinished working directories and generations other than the current.

        Without a valid ``CURRENT`` no generation is removed: ``helse-qa doctor --repair``
        can point ``CURRENT`` back at the newest complete one.
        """
        for p in self.leftovers():
            shutil.rmtree(p, ignore_errors=True)


def read_manifest(generation: Path) -> Manifest:
    return Manifest.from_json((generation / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(generation: Path, manifest: Manifest) -> None:
    tmp = generation / "manifest.json.tmp"
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(tmp, generation / "manifest.json")


def write_chunks(generation: Path, chunks: list[Chunk]) -> None:
    with (generation / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for c in chunks:
            record = asdict(c)
            record["section"] = list(c.section)
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_chunks(generation: Path) -> list[Chunk]:
    path = generation / "chunks.jsonl"
    if not path.is_file():
        return []
    chunks = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            record["section"] = tuple(record["section"])
            chunks.append(Chunk(**record))
    return chunks


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))
