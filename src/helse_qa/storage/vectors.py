"""The vector store: Chroma, embedded (PersistentClient) or a server (HttpClient).

Only this module imports chromadb. Embeddings are always passed explicitly (Chroma would
otherwise fetch its own ONNX model from the internet), the cosine space is set explicitly,
and telemetry is off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from helse_qa import offline
from helse_qa.errors import HelseQAError
from helse_qa.storage.layout import Manifest, VectorLocation
from helse_qa.text.listing import as_read
from helse_qa.text.sentences import sentence_spans
from helse_qa.types import Chunk, SentenceRecord

log = logging.getLogger(__name__)

CHUNKS = "chunks"
SENTENCES = "sentences"


def chunk_sentences(chunk: Chunk) -> list[SentenceRecord]:
    """The sentences of a chunk, as ingest stores them: their ids follow from the text."""
    return [
        SentenceRecord(chunk.chunk_id, chunk.doc_id, start, end)
        for start, end in sentence_spans(chunk.text, chunk.start)
    ]


def read_text(record: SentenceRecord, chunk: Chunk) -> str:
    """What a sentence's vector is made of: its text, or a chart row with its caption in
    front ("Helseindustrien – omsettning 2017 · Legemidler: 26 mrd", issue 37)."""
    return as_read(chunk.text, record.start - chunk.start, record.end - chunk.start)


class VectorStore(Protocol):
    """The seam another vector store (e.g. a llama-index one) would implement."""

    def add_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def add_sentences(self, records: Sequence[SentenceRecord], vectors: np.ndarray) -> None: ...

    def delete_document(self, doc_id: str) -> None: ...

    def query(
        self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]: ...

    def sentence_vectors(
        self, chunks: Sequence[Chunk]
    ) -> tuple[list[SentenceRecord], np.ndarray]: ...

    def chunk_ids(self) -> set[str]: ...

    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


# Chroma keeps one process-wide cache of embedded systems keyed by path; building (or
# closing) clients from several threads at once races inside it ("RustBindingsAPI object
# has no attribute bindings", seen when an upload's ingest and a question both opened the
# new generation). Client construction and closing are therefore serialised.
_CLIENTS_LOCK = threading.RLock()


def make_client(path: Path | None, url: str | None = None) -> Any:
    """The one place a Chroma client is built: embedded at ``path`` or a server at ``url``."""
    with _CLIENTS_LOCK:
        return _make_client(path, url)


def _make_client(path: Path | None, url: str | None) -> Any:
    offline.apply()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if url:
        from urllib.parse import urlparse

        parsed = urlparse(url if "://" in url else f"http://{url}")
        try:
            return chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or 8000,
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises plain Exception/ValueError when unreachable
            raise HelseQAError(
                f"cannot reach the Chroma server at {url} ({exc}) - start it with "
                "'chroma run --path DIR' or unset HELSE_QA_CHROMA_URL"
            ) from exc
    assert path is not None
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _batched(n: int, size: int) -> list[tuple[int, int]]:
    return [(i, min(i + size, n)) for i in range(0, n, size)]


class ChromaStore:
    """Chunks and their sentences in two cosine-space collections."""

    def __init__(self, client: Any, prefix: str = "", url: str | None = None) -> None:
        self._client = client
        self._url = url or ""
        config = {"hnsw": {"space": "cosine"}}
        self._chunks = client.get_or_create_collection(
            f"{prefix}{CHUNKS}", configuration=config, embedding_function=None
        )
        self._sentences = client.get_or_create_collection(
            f"{prefix}{SENTENCES}", configuration=config, embedding_function=None
        )
        self._batch = int(client.get_max_batch_size())

    def add_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for a, b in _batched(len(chunks), self._batch):
            self._chunks.upsert(
                ids=[c.chunk_id for c in chunks[a:b]],
                embeddings=vectors[a:b],
                metadatas=[{"doc_id": c.doc_id, "ordinal": c.ordinal} for c in chunks[a:b]],
            )

    def add_sentences(self, records: Sequence[SentenceRecord], vectors: np.ndarray) -> None:
        for a, b in _batched(len(records), self._batch):
            self._sentences.upsert(
                ids=[r.sentence_id for r in records[a:b]],
                embeddings=vectors[a:b],
                metadatas=[
                    {"chunk_id": r.chunk_id, "doc_id": r.doc_id, "start": r.start, "end": r.end}
                    for r in records[a:b]
                ],
            )

    def delete_document(self, doc_id: str) -> None:
        self._chunks.delete(where={"doc_id": doc_id})
        self._sentences.delete(where={"doc_id": doc_id})

    def query(
        self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, cosine similarity), best first."""
        total = self._chunks.count()
        k = min(k, total)
        if k <= 0:
            return []
        where: dict[str, Any] | None = None
        if doc_ids:
            where = {"doc_id": {"$in": list(doc_ids)}}
        result = self._chunks.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=k,
            where=where,
            include=["distances"],
        )
        ids = result["ids"][0]
        distances = result["distances"][0] if result["distances"] else [1.0] * len(ids)
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=False)]

    def sentence_vectors(self, chunks: Sequence[Chunk]) -> tuple[list[SentenceRecord], np.ndarray]:
        """The stored sentences of ``chunks``. Their ids follow from the chunk text (the
        same sentence splitter made them at ingest), so this is a lookup by id, which stays
        fast at any index size, not a metadata scan."""
        wanted = {r.sentence_id: r for chunk in chunks for r in chunk_sentences(chunk)}
        if not wanted:
            return [], np.zeros((0, 0), dtype=np.float32)
        result = self._sentences.get(ids=list(wanted), include=["embeddings"])
        records = [wanted[i] for i in result["ids"]]
        vectors = np.asarray(result["embeddings"], dtype=np.float32)
        return records, vectors

    def chunk_ids(self) -> set[str]:
        return set(self._chunks.get(include=[])["ids"])

    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        result = self._chunks.get(ids=list(chunk_ids), include=["embeddings"])
        return {
            cid: np.asarray(v, dtype=np.float32)
            for cid, v in zip(result["ids"], result["embeddings"], strict=True)
        }

    def count(self) -> int:
        return int(self._chunks.count())

    def sentence_count(self) -> int:
        return int(self._sentences.count())

    def location(self) -> VectorLocation:
        """Where these vectors live, with the count of each collection now."""
        server = bool(self._url)
        return VectorLocation(
            kind="server" if server else "embedded",
            url=self._url,
            tenant=str(getattr(self._client, "tenant", "")) if server else "",
            database=str(getattr(self._client, "database", "")) if server else "",
            collections={CHUNKS: self._chunks.name, SENTENCES: self._sentences.name},
            counts={CHUNKS: self.count(), SENTENCES: self.sentence_count()},
        )

    def sentence_ids(self) -> set[str]:
        return set(self._sentences.get(include=[])["ids"])

    def delete_ids(self, chunk_ids: Sequence[str] = (), sentence_ids: Sequence[str] = ()) -> None:
        """Remove single vectors (``helse-qa doctor --repair``: orphans)."""
        for collection, ids in ((self._chunks, chunk_ids), (self._sentences, sentence_ids)):
            ids = list(ids)
            for a, b in _batched(len(ids), self._batch):
                collection.delete(ids=ids[a:b])

    def dims(self) -> set[int]:
        """The vector lengths found in a sample of the stored vectors."""
        found: set[int] = set()
        for collection in (self._chunks, self._sentences):
            embeddings = collection.get(include=["embeddings"], limit=5)["embeddings"]
            if embeddings is not None:
                found.update(len(v) for v in embeddings)
        return found

    def copy_from(self, other: ChromaStore, batch: int = 1000) -> None:
        """Copy every vector and its metadata (server mode: seeding a new generation)."""
        for source, target in ((other._chunks, self._chunks), (other._sentences, self._sentences)):
            total = source.count()
            for offset in range(0, total, batch):
                got = source.get(include=["embeddings", "metadatas"], limit=batch, offset=offset)
                if got["ids"]:
                    target.upsert(
                        ids=got["ids"], embeddings=got["embeddings"], metadatas=got["metadatas"]
                    )

    def close(self) -> None:
        """Release the client (an embedded store's files can then be moved or deleted)."""
        close = getattr(self._client, "close", None)
        if close is not None:
            with _CLIENTS_LOCK:
                close()


# -- generations ---------------------------------------------------------------------------
# Embedded: each index generation has its own Chroma directory (<generation>/chroma).
# Server: each generation has its own pair of collections, named after the index directory
# and the generation ("hq1a2b3c4d-gen-000007-chunks"), so several app instances that share
# one index directory see the same generation, and an unfinished ingest never touches the
# live collections.


def _server_prefix(index_dir: Path) -> str:
    import hashlib

    digest = hashlib.sha256(str(index_dir.resolve()).encode()).hexdigest()[:8]
    return f"hq{digest}-"


def generation_store(
    index_dir: Path, generation: Path, chroma_url: str | None, copy_from: str | None = None
) -> ChromaStore:
    """The store of one generation; with ``copy_from`` (server mode) seeded from that one.

    ``generation`` may be a working directory (``.work-gen-000007-...``): collections are
    named after the generation it will become.
    """
    if not chroma_url:
        return ChromaStore(make_client(generation / "chroma"))
    client = make_client(None, chroma_url)
    name = generation.name.removeprefix(".work-")[: len("gen-000000")]
    base = _server_prefix(index_dir)
    if generation.name.startswith(".work-"):
        # Leftovers of an ingest that was killed before it could clean up: never live.
        for collection in client.list_collections():
            cname = collection if isinstance(collection, str) else collection.name
            if cname.startswith(f"{base}{name}-"):
                client.delete_collection(cname)
    store = ChromaStore(client, prefix=f"{base}{name}-", url=chroma_url)
    if copy_from and copy_from != name:
        store.copy_from(ChromaStore(client, prefix=f"{base}{copy_from}-", url=chroma_url))
    return store


def vector_problem(manifest: Manifest, store: ChromaStore, chunks: int) -> str | None:
    """Why ``store`` cannot serve this generation (None when it can): the vectors were
    written to another store (the server, or the embedded one), or its collections are
    missing or short of what the generation holds (``chunks`` passages; the sentence count
    as recorded at publication)."""
    here = store.location()
    recorded = manifest.vectors
    if recorded is not None and not recorded.same_store(here):
        return (
            f"this index keeps its vectors in {recorded.describe()}, but the settings use "
            f"{here.describe()}"
        )
    short = []
    if here.counts[CHUNKS] < chunks:
        short.append(f"{here.counts[CHUNKS]} of {chunks} passage vectors")
    wanted = recorded.counts.get(SENTENCES, 0) if recorded is not None else 0
    if here.counts[SENTENCES] < wanted:
        short.append(f"{here.counts[SENTENCES]} of {wanted} sentence vectors")
    if short:
        return f"{here.describe()} holds only {' and '.join(short)} of this index"
    return None


def stale_server_collections(
    index_dir: Path, chroma_url: str | None, keep: str | None
) -> list[str]:
    """This index's server collections that no instance needs any more (server mode): every
    generation but ``keep`` and the one before it. The previous generation is kept until
    the next publication, so that a question in flight on another app instance, which has
    not switched yet, never finds its collections gone."""
    if not chroma_url:
        return []
    client = make_client(None, chroma_url)
    base = _server_prefix(index_dir)
    names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
    ours = [n for n in names if n.startswith(base)]
    kept = {keep} if keep else set()
    if keep:
        older = sorted({g for g in (_generation_of(n, base) for n in ours) if g and g < keep})
        kept.update(older[-1:])
    return [n for n in ours if _generation_of(n, base) not in kept]


def _generation_of(name: str, base: str) -> str:
    """ "gen-000007" of "hq1a2b3c4d-gen-000007-chunks" ("" for a name of another shape)."""
    rest = name.removeprefix(base)
    generation = rest[: len("gen-000000")]
    return generation if rest.startswith("gen-") and rest[len(generation) :][:1] == "-" else ""


def drop_server_generations(index_dir: Path, chroma_url: str | None, keep: str | None) -> None:
    """Delete this index's collections of every generation but ``keep`` (server mode)."""
    if not chroma_url:
        return
    client = make_client(None, chroma_url)
    for name in stale_server_collections(index_dir, chroma_url, keep):
        client.delete_collection(name)
