"""The one index transaction: published on a clean exit, nothing changed on an exception."""

from __future__ import annotations

import numpy as np
import pytest

from helse_qa.config import Settings
from helse_qa.storage import writer
from helse_qa.storage.bm25 import DIRECTORY, LexicalIndex
from helse_qa.storage.layout import IndexLayout, Manifest, read_manifest
from helse_qa.storage.vectors import generation_store
from helse_qa.storage.writer import IndexWriter
from helse_qa.types import Chunk


def _chunk(i: int, text: str) -> Chunk:
    return Chunk(
        f"doc:{i:04d}", "doc", "Eksportrapport", "nb", text, 0, len(text), 1, ("2 Fakta",), i
    )


def _publish(settings: Settings, texts: list[str]) -> None:
    chunks = [_chunk(i, t) for i, t in enumerate(texts)]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(chunks), 8)).astype(np.float32)
    with IndexWriter(settings).begin(copy_current=False) as gen:
        gen.store.add_chunks(chunks, vectors)
        gen.write_bm25(chunks)
        gen.write_chunks(chunks)
        gen.write_text("doc", " ".join(texts))
        gen.write_manifest(
            Manifest(
                embedding_model="m",
                model_fingerprint="f",
                dim=8,
                chunker_version="3",
                chunk_words=180,
            )
        )
    assert gen.published is not None and IndexLayout(settings.index_dir).current() == gen.published


def test_clean_exit_publishes_and_bm25_sees_title_and_section(tmp_path):
    settings = Settings(index_dir=tmp_path / "index")
    _publish(settings, ["Eksporten vokste kraftig.", "Omsetningen falt."])
    current = IndexLayout(settings.index_dir).require_current()
    lexical = LexicalIndex.load(current / DIRECTORY)
    # "fakta" stands only in the section title: the one BM25 builder indexes it
    assert {cid for cid, _ in lexical.search("fakta", 5)} == {"doc:0000", "doc:0001"}
    assert (current / "texts" / "doc.txt").is_file()


def test_an_exception_leaves_the_current_generation_untouched(tmp_path):
    settings = Settings(index_dir=tmp_path / "index")
    _publish(settings, ["Eksporten vokste kraftig."])
    layout = IndexLayout(settings.index_dir)
    before = layout.current()
    assert before is not None
    with pytest.raises(KeyboardInterrupt), IndexWriter(settings).begin() as gen:
        gen.remove_document("doc")
        gen.write_chunks([])
        raise KeyboardInterrupt
    assert layout.current() == before
    assert layout.leftovers() == []
    assert (before / "texts" / "doc.txt").is_file()


def test_the_lock_is_reentrant_within_a_thread(tmp_path):
    settings = Settings(index_dir=tmp_path / "index")
    with IndexLayout(settings.index_dir).lock():
        _publish(settings, ["Eksporten vokste kraftig."])  # takes the lock again: no deadlock


def test_publishing_records_where_the_vectors_live_and_how_many(tmp_path):
    settings = Settings(index_dir=tmp_path / "index")
    _publish(settings, ["Eksporten vokste kraftig.", "Omsetningen falt."])
    vectors = read_manifest(IndexLayout(settings.index_dir).require_current()).vectors
    assert vectors is not None and vectors.kind == "embedded"
    assert vectors.counts == {"chunks": 2, "sentences": 0}


def test_a_generation_carries_the_current_one_over_by_default(tmp_path):
    """begin() copies the current generation: a second document's text is written beside
    the first one's (their folder exists already), and the first is still there."""
    settings = Settings(index_dir=tmp_path / "index")
    _publish(settings, ["Eksporten vokste kraftig."])
    with IndexWriter(settings).begin() as gen:
        assert gen.store.count() == 1
        gen.write_text("doc", "Eksporten vokste mindre.")
        gen.write_text("notat", "Et notat.")
        gen.remove_document("never-indexed")  # no vectors, no text: nothing to remove
    published = IndexLayout(settings.index_dir).require_current()
    texts = published / "texts"
    assert (texts / "doc.txt").read_text(encoding="utf-8") == "Eksporten vokste mindre."
    assert (texts / "notat.txt").read_text(encoding="utf-8") == "Et notat."
    assert (published / "chunks.jsonl").is_file()


def test_an_error_before_the_store_opens_is_raised_as_itself(tmp_path, monkeypatch):
    settings = Settings(index_dir=tmp_path / "index")
    _publish(settings, ["Eksporten vokste kraftig."])
    layout = IndexLayout(settings.index_dir)
    before = layout.current()

    def unreachable(*args, **kwargs):
        raise ConnectionError("chroma server down")

    monkeypatch.setattr(writer, "generation_store", unreachable)
    with pytest.raises(ConnectionError, match="server down"), IndexWriter(settings).begin():
        pass
    assert layout.current() == before and layout.leftovers() == []


def test_an_aborted_generation_closes_its_store(tmp_path, monkeypatch):
    settings = Settings(index_dir=tmp_path / "index")
    closed: list[bool] = []
    real = writer.generation_store

    def spied(*args, **kwargs):
        store = real(*args, **kwargs)
        close = store.close

        def counting_close() -> None:
            closed.append(True)
            close()

        store.close = counting_close
        return store

    monkeypatch.setattr(writer, "generation_store", spied)
    with pytest.raises(KeyboardInterrupt), IndexWriter(settings).begin():
        raise KeyboardInterrupt
    assert closed == [True]


def test_server_generations_are_seeded_from_the_current_one_and_survive_an_abort(
    tmp_path, chroma_server
):
    """Server mode: a copying generation starts from the current collections, a fresh one
    from nothing; an aborted generation leaves the current collections in place."""
    settings = Settings(index_dir=tmp_path / "index", chroma_url=chroma_server)
    _publish(settings, ["Eksporten vokste kraftig.", "Omsetningen falt."])
    layout = IndexLayout(settings.index_dir)
    current = layout.require_current()
    with pytest.raises(KeyboardInterrupt), IndexWriter(settings).begin() as gen:
        assert gen.store.count() == 2  # seeded
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt), IndexWriter(settings).begin(copy_current=False) as gen:
        assert gen.store.count() == 0  # not seeded
        raise KeyboardInterrupt
    assert layout.require_current() == current
    store = generation_store(settings.index_dir, current, chroma_server)
    try:
        assert store.count() == 2
    finally:
        store.close()
