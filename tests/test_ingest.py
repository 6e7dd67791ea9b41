"""Incremental ingest with the real model and a real Chroma store."""

from __future__ import annotations

import logging

import pytest
from tests.helpers import CountingEmbedder

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.errors import IndexNotBuiltError
from helse_qa.ingest.chunking import CHUNKER_VERSION
from helse_qa.ingest.pipeline import ingest
from helse_qa.storage.layout import IndexLayout, read_manifest
from helse_qa.storage.vectors import _server_prefix, generation_store, make_client


def test_incremental_ingest(small_corpus, embedder):
    counting = CountingEmbedder(embedder)
    first = ingest(small_corpus, counting)
    assert sorted(first.added) == ["article", "notat"]
    assert counting.passages > 0

    counting.passages = 0
    again = ingest(small_corpus, counting)
    assert not again.changed and counting.passages == 0
    assert sorted(again.unchanged) == ["article", "notat"]

    docs = small_corpus.documents_dir
    (docs / "notat.md").write_text(
        "# Notat om eksport\n\nEksporten vokste med 14 prosent i 2024.\n", encoding="utf-8"
    )
    (docs / "ny.txt").write_text("Helseklyngen i Bergen fikk 40 nye medlemmer i 2024.")
    changed = ingest(small_corpus, counting)
    assert changed.updated == ("notat",) and changed.added == ("ny",)
    notat_and_new = counting.passages
    assert 0 < notat_and_new < 10  # only the two small documents were embedded

    (docs / "article.txt").unlink()
    removed = ingest(small_corpus, counting)
    assert removed.removed == ("article",)
    generation = IndexLayout(small_corpus.index_dir).require_current()
    assert set(read_manifest(generation).documents) == {"notat", "ny"}
    store = generation_store(small_corpus.index_dir, generation, small_corpus.chroma_url)
    assert store.chunk_ids() and all(not cid.startswith("article:") for cid in store.chunk_ids())
    if small_corpus.chroma_url:
        # the live generation's collections and, for questions still in flight on another
        # instance, the previous one's stay on the server; older ones are dropped
        names = [c.name for c in make_client(None, small_corpus.chroma_url).list_collections()]
        mine = [n for n in names if n.startswith(_server_prefix(small_corpus.index_dir))]
        previous = f"gen-{int(generation.name[4:]) - 1:06d}"
        assert sorted(mine) == sorted(
            f"{_server_prefix(small_corpus.index_dir)}{g}-{k}"
            for g in (previous, generation.name)
            for k in ("chunks", "sentences")
        )

    assistant = Assistant.open(small_corpus, embedder=embedder)
    answer = assistant.ask("Hvor mye vokste eksporten i 2024?")
    assert "14 prosent" in answer.text
    assert "12 prosent" not in answer.text


def test_bad_files_are_skipped_and_named(small_corpus, embedder, caplog):
    docs = small_corpus.documents_dir
    (docs / "tom.txt").write_bytes(b"")
    (docs / "bilde.png").write_bytes(b"\x89PNG\r\n")
    (docs / "binar.txt").write_bytes(b"\x00\x01" * 100)
    (docs / "latin.txt").write_bytes(
        "Søknaden om støtte til prosjektet i Tromsø ble innvilget i mars.".encode("cp1252")
    )
    with caplog.at_level(logging.WARNING):
        report = ingest(small_corpus, embedder)
    skipped = dict(report.skipped)
    assert set(skipped) == {"tom.txt", "bilde.png", "binar.txt"}
    assert "empty" in skipped["tom.txt"] and "unsupported" in skipped["bilde.png"]
    for name in skipped:
        assert name in caplog.text
    assert "latin" in report.added
    assistant = Assistant.open(small_corpus, embedder=embedder)
    assert "Tromsø" in assistant.document_text("latin")


def test_asking_before_ingest_says_what_to_do(tmp_path, embedder):
    settings = Settings(documents_dir=tmp_path, index_dir=tmp_path / "index")
    with pytest.raises(IndexNotBuiltError, match="helse-qa ingest"):
        Assistant.open(settings, embedder=embedder)


def test_ingest_if_missing_builds_the_index(small_corpus, embedder):
    assistant = Assistant.open(small_corpus, embedder=embedder, ingest_if_missing=True)
    assert {d["doc_id"] for d in assistant.documents()} == {"article", "notat"}


class DyingEmbedder(CountingEmbedder):
    """Dies (as on Ctrl-C) part-way through embedding."""

    def embed_passages(self, texts, progress=None):
        raise KeyboardInterrupt


def test_interrupted_ingest_keeps_previous_index(small_corpus, embedder):
    ingest(small_corpus, embedder)
    before = IndexLayout(small_corpus.index_dir).require_current()
    (small_corpus.documents_dir / "ny.txt").write_text("Et nytt dokument om 77 klynger.")
    with pytest.raises(KeyboardInterrupt):
        ingest(small_corpus, DyingEmbedder(embedder))
    assert IndexLayout(small_corpus.index_dir).require_current() == before
    assert not [p for p in small_corpus.index_dir.iterdir() if p.name.startswith(".work-")]
    answer = Assistant.open(small_corpus, embedder=embedder).ask("How many members?")
    assert "370" in answer.text
    assert ingest(small_corpus, embedder).added == ("ny",)


def test_second_instance_sees_new_documents(small_corpus, embedder):
    # Two app instances sharing one index directory (and, in server mode, one Chroma server).
    first = Assistant.open(small_corpus, embedder=embedder, ingest_if_missing=True)
    second = Assistant.open(small_corpus, embedder=embedder)
    (small_corpus.documents_dir / "ny.txt").write_text(
        "Helseklyngen i Bodø fikk 42 nye medlemmer i 2025.", encoding="utf-8"
    )
    first.ingest()
    answer = second.ask("Hvor mange nye medlemmer fikk klyngen i Bodø?")
    assert "42 nye medlemmer" in answer.text


def test_a_file_without_catalog_title_or_heading_is_titled_by_its_name(tmp_path, embedder):
    """An upload of plain text (no catalog entry, no heading) is named in every list and
    citation by its file name, never by an empty title."""
    docs = tmp_path / "documents"
    docs.mkdir()
    (docs / "klynge_notat-2025.txt").write_text(
        "Klyngen i Tromsø fikk 11 nye medlemmer i 2025.\n", encoding="utf-8"
    )
    settings = Settings(documents_dir=docs, index_dir=tmp_path / "index")
    ingest(settings, embedder)
    manifest = read_manifest(IndexLayout(settings.index_dir).require_current())
    assert [d.title for d in manifest.documents.values()] == ["Klynge notat 2025"]
    answer = Assistant.open(settings, embedder=embedder).ask("Hvor mange nye medlemmer?")
    assert answer.citations and answer.citations[0].title == "Klynge notat 2025"


def test_index_differences_name_new_changed_and_removed_files(tmp_path, embedder):
    import shutil

    from tests.helpers import ARTICLE

    from helse_qa.ingest.pipeline import index_differences

    docs = tmp_path / "documents"
    docs.mkdir()
    shutil.copy(ARTICLE, docs / "article.txt")
    (docs / "notat.txt").write_text("Klyngen fikk 12 nye medlemmer i 2025.", encoding="utf-8")
    settings = Settings(documents_dir=docs, index_dir=tmp_path / "index")
    assert index_differences(settings) == ["no index built yet"]
    ingest(settings, embedder)
    assert index_differences(settings) == []
    (docs / "notat.txt").write_text("Klyngen fikk 13 nye medlemmer i 2025.", encoding="utf-8")
    (docs / "ny.txt").write_text("Et nytt notat om eksport i 2025.", encoding="utf-8")
    (docs / "article.txt").unlink()
    assert index_differences(settings) == [
        "new: ny.txt",
        "removed: article.txt",
        "changed: notat.txt",
    ]


def _mark_older_format(settings: Settings) -> None:
    """Rewrite the current generation's manifest as an older helse-qa wrote it."""
    current = IndexLayout(settings.index_dir).require_current()
    path = current / "manifest.json"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            f'"chunker_version": "{CHUNKER_VERSION}"', '"chunker_version": "5"'
        ),
        encoding="utf-8",
    )
    assert read_manifest(current).chunker_version == "5"


def test_an_older_index_is_never_read_as_the_new_format(tmp_path, embedder):
    """Issue 37: the chart rows' sentence vectors changed (a row is embedded with its
    caption), so an index of the older format is refused by the library with the fix, and
    rebuilt once by helse-qa serve and ask (ingest_if_missing); the eval names it stale."""
    from helse_qa.errors import IndexFormatError
    from helse_qa.ingest.pipeline import index_differences

    docs = tmp_path / "documents"
    docs.mkdir()
    (docs / "notat.txt").write_text("Klyngen fikk 12 nye medlemmer i 2025.", encoding="utf-8")
    settings = Settings(documents_dir=docs, index_dir=tmp_path / "index")
    ingest(settings, embedder)
    _mark_older_format(settings)
    with pytest.raises(IndexFormatError, match=r"format 5.*'helse-qa ingest'"):
        Assistant.open(settings, embedder=embedder)
    assert index_differences(settings) == [f"index format 5, this helse-qa reads {CHUNKER_VERSION}"]
    assistant = Assistant.open(settings, embedder=embedder, ingest_if_missing=True)
    manifest = read_manifest(IndexLayout(settings.index_dir).require_current())
    assert manifest.chunker_version == CHUNKER_VERSION
    assert index_differences(settings) == []
    assert "12 nye medlemmer" in assistant.ask("Hvor mange nye medlemmer fikk klyngen?").text
