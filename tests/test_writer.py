"""The one index transaction: published on a clean exit, nothing changed on an exception."""

from __future__ import annotations

import numpy as np
import pytest

from helse_qa.config import Settings
from helse_qa.storage.bm25 import DIRECTORY, LexicalIndex
from helse_qa.storage.layout import IndexLayout, Manifest
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
