"""Real Chroma store with the real embedding model."""

from __future__ import annotations

import numpy as np
import pytest

from helse_qa.assistant import Assistant
from helse_qa.errors import ModelMismatchError
from helse_qa.storage.layout import IndexLayout, read_manifest, write_manifest
from helse_qa.storage.vectors import ChromaStore, generation_store, make_client
from helse_qa.types import Chunk, SentenceRecord


def _chunk(i: int, doc: str = "d1") -> Chunk:
    return Chunk(f"{doc}:{i:04d}", doc, "T", "nb", f"tekst {i}", i * 10, i * 10 + 7, 1, (), i)


@pytest.fixture(params=["embedded", "server"])
def open_store(request, tmp_path):
    """Opens the same logical store again: an embedded directory or a real Chroma server."""
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    generation = tmp_path / "index" / "gen-000001"

    def _open() -> ChromaStore:
        return generation_store(tmp_path / "index", generation, url)

    return _open


def test_roundtrip_with_real_vectors(open_store, embedder):
    texts = [
        "Eksportinntektene var 23,6 milliarder kroner.",
        "Klyngen har 370 medlemmer.",
        "Styringsgruppen består av fem aktører.",
    ]
    vectors = embedder.embed_passages(texts)
    store = open_store()
    chunks = [_chunk(i) for i in range(3)]
    store.add_chunks(chunks, vectors)
    store.add_sentences([SentenceRecord(c.chunk_id, "d1", c.start, c.end) for c in chunks], vectors)
    q = embedder.embed_queries(["How many members does the cluster have?"])[0]
    top = store.query(q, 10)  # k above the corpus size is clamped
    assert len(top) == 3
    assert top[0][0] == "d1:0001"
    assert top[0][1] == pytest.approx(float(vectors[1] @ q), abs=1e-4)  # cosine space
    records, svecs = store.sentence_vectors([chunks[2]])
    assert [r.chunk_id for r in records] == ["d1:0002"]
    assert np.allclose(svecs[0], vectors[2], atol=1e-5)
    # Reopen: persisted.
    again = open_store()
    assert again.count() == 3
    again.delete_document("d1")
    assert again.count() == 0 and again.chunk_ids() == set()


def test_filter_by_document(open_store, embedder):
    store = open_store()
    chunks = [_chunk(0, "a"), _chunk(1, "b")]
    store.add_chunks(chunks, embedder.embed_passages(["eksport", "eksport og import"]))
    q = embedder.embed_queries(["eksport"])[0]
    assert [cid for cid, _ in store.query(q, 5, doc_ids=["b"])] == ["b:0001"]


def test_collection_space_is_cosine(tmp_path):
    client = make_client(tmp_path / "chroma")
    ChromaStore(client)
    assert client.get_collection("chunks").configuration["hnsw"]["space"] == "cosine"


def test_index_from_another_model_is_refused(corpus_settings, corpus_assistant, embedder):
    generation = IndexLayout(corpus_settings.index_dir).require_current()
    manifest = read_manifest(generation)
    original = manifest.model_fingerprint
    manifest.model_fingerprint = "0" * 64
    write_manifest(generation, manifest)
    try:
        with pytest.raises(ModelMismatchError, match="ingest --rebuild"):
            Assistant.open(corpus_settings, embedder=embedder)
    finally:
        manifest.model_fingerprint = original
        write_manifest(generation, manifest)
    Assistant.open(corpus_settings, embedder=embedder)
