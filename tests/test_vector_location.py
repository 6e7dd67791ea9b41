"""The index knows where its vectors live (issue 14): a store that does not hold them is
refused with the fix, `ingest` repairs it, dense retrieval that finds nothing is said, and a
re-ingest on one instance never breaks a question on another. Real `chroma run` servers."""

from __future__ import annotations

import json
import logging
import shutil
import threading

import pytest
from tests.helpers import ARTICLE

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.errors import VectorStoreError
from helse_qa.ingest.pipeline import ingest
from helse_qa.storage.layout import IndexLayout, Manifest, VectorLocation, read_manifest
from helse_qa.storage.vectors import _server_prefix, make_client

QUESTION = "How many members will the merged health cluster have?"


def _settings(tmp_path, url: str | None = None) -> Settings:
    docs = tmp_path / "documents"
    if not docs.exists():
        docs.mkdir()
        shutil.copy(ARTICLE, docs / "article.txt")
    # Stored sentence vectors, so that both collections of a generation are checked.
    return Settings(
        documents_dir=docs,
        index_dir=tmp_path / "index",
        chroma_url=url,
        sentence_encoding="separate",
    )


def _manifest(settings: Settings) -> Manifest:
    return read_manifest(IndexLayout(settings.index_dir).require_current())


def test_the_manifest_records_where_the_vectors_live(tmp_path, embedder):
    settings = _settings(tmp_path)
    ingest(settings, embedder)
    vectors = _manifest(settings).vectors
    assert vectors is not None and vectors.kind == "embedded" and vectors.url == ""
    assert vectors.collections == {"chunks": "chunks", "sentences": "sentences"}
    chunks = sum(d.chunks for d in _manifest(settings).documents.values())
    assert vectors.counts["chunks"] == chunks > 0 and vectors.counts["sentences"] > chunks
    # an older manifest without the record still loads (its counts are checked on opening)
    data = json.loads(_manifest(settings).to_json())
    del data["vectors"]
    legacy = Manifest.from_json(json.dumps(data))
    assert legacy.vectors is None and legacy.documents == _manifest(settings).documents
    assert isinstance(_manifest(settings).vectors, VectorLocation)


def test_built_on_a_server_then_opened_embedded_is_refused_and_ingest_rebuilds(
    tmp_path, embedder, own_chroma_server, caplog
):
    served = _settings(tmp_path, own_chroma_server.url)
    ingest(served, embedder)
    vectors = _manifest(served).vectors
    assert vectors is not None and vectors.kind == "server"
    assert vectors.url == own_chroma_server.url and vectors.tenant and vectors.database
    assert all(n.startswith(_server_prefix(served.index_dir)) for n in vectors.collections.values())
    own_chroma_server.stop()

    embedded = _settings(tmp_path)
    with pytest.raises(VectorStoreError) as info:
        Assistant.open(embedded, embedder=embedder)
    message = str(info.value)
    assert own_chroma_server.url in message and "embedded Chroma store" in message
    assert f"HELSE_QA_CHROMA_URL={own_chroma_server.url}" in message
    assert "helse-qa ingest" in message

    with caplog.at_level(logging.WARNING, logger="helse_qa.ingest.pipeline"):
        report = ingest(embedded, embedder)  # not "unchanged": it embeds into this store
    assert report.added == ("article",) and "embedding every document again" in caplog.text
    answer = Assistant.open(embedded, embedder=embedder).ask(QUESTION)
    assert "370" in answer.text and not answer.notice
    assert all(h.dense_rank is not None for h in answer.passages[:1])


def test_server_collections_dropped_behind_the_index_are_refused_then_repaired(
    tmp_path, embedder, chroma_server
):
    settings = _settings(tmp_path, chroma_server)
    ingest(settings, embedder)
    client = make_client(None, chroma_server)
    vectors = _manifest(settings).vectors
    assert vectors is not None
    client.delete_collection(vectors.collections["chunks"])  # the server lost its data

    with pytest.raises(VectorStoreError) as info:
        Assistant.open(settings, embedder=embedder)
    assert f"holds only 0 of {vectors.counts['chunks']} passage vectors" in str(info.value)

    report = ingest(settings, embedder)
    assert report.changed and report.added == ("article",)
    answer = Assistant.open(settings, embedder=embedder).ask(QUESTION)
    assert "370" in answer.text and answer.passages[0].dense_rank is not None


def test_dense_retrieval_that_finds_nothing_is_an_error_and_a_notice(tmp_path, embedder, caplog):
    settings = _settings(tmp_path)
    ingest(settings, embedder)
    assistant = Assistant.open(settings, embedder=embedder)
    store = assistant.index.retriever.store
    store.delete_ids(chunk_ids=sorted(store.chunk_ids()))  # vectors lost while running
    with caplog.at_level(logging.ERROR):
        answer = assistant.ask(QUESTION)
    assert "vector search returned nothing" in answer.notice
    assert "dense retrieval returned nothing" in caplog.text
    norsk = assistant.ask("Hvor mange medlemmer får den sammenslåtte klyngen?")
    assert "Vektorsøket ga ingen treff" in norsk.notice


def test_a_replaced_store_is_closed_once_no_question_uses_it(tmp_path, embedder, monkeypatch):
    settings = _settings(tmp_path)
    ingest(settings, embedder)
    assistant = Assistant.open(settings, embedder=embedder)
    first = assistant.index.retriever.store
    closed: list[str] = []
    monkeypatch.setattr(first, "close", lambda: closed.append("first"))
    with assistant._using_index() as in_flight:  # a question still running on it
        (settings.documents_dir / "ny.txt").write_text("Klyngen fikk 12 nye medlemmer i 2025.")
        assistant.ingest()
        assert assistant.index.retriever.store is not first and closed == []
        assert in_flight.retriever.store is first
    assert closed == ["first"]
    second = assistant.index.retriever.store
    monkeypatch.setattr(second, "close", lambda: closed.append("second"))
    (settings.documents_dir / "ny.txt").write_text("Klyngen fikk 13 nye medlemmer i 2025.")
    assistant.ingest()  # no question in flight: closed at once
    assert closed == ["first", "second"]


def test_one_instance_reingests_while_another_answers_200_questions(
    tmp_path, embedder, chroma_server
):
    settings = _settings(tmp_path, chroma_server)
    ingest(settings, embedder)
    answering = Assistant.open(settings, embedder=embedder)
    writer = Assistant.open(settings, embedder=embedder)
    errors: list[str] = []
    answered: list[bool] = []

    def ask_200() -> None:
        for i in range(200):
            try:
                answered.append("370" in answering.ask(QUESTION).text)
            except Exception as exc:
                errors.append(f"{i}: {type(exc).__name__}: {exc}")

    thread = threading.Thread(target=ask_200)
    thread.start()
    generations = 0
    while thread.is_alive():
        (settings.documents_dir / "ny.txt").write_text(
            f"Klyngen i Bodø fikk {generations + 10} nye medlemmer i 2025.", encoding="utf-8"
        )
        writer.ingest()
        generations += 1
    thread.join()
    assert errors == [] and len(answered) == 200 and all(answered)
    assert generations >= 2, "the re-ingests must overlap the questions"


def test_a_question_in_flight_on_another_instance_keeps_its_collections(
    tmp_path, embedder, chroma_server
):
    """The deterministic form of the race above: a question pinned to the old generation
    still reads its server collections after another instance published a new one."""
    settings = _settings(tmp_path, chroma_server)
    ingest(settings, embedder)
    reader = Assistant.open(settings, embedder=embedder)
    writer = Assistant.open(settings, embedder=embedder)
    vector = embedder.embed_queries([QUESTION])[0]
    with reader._using_index() as pinned:
        (settings.documents_dir / "ny.txt").write_text("Klyngen fikk 12 nye medlemmer i 2025.")
        writer.ingest()
        assert IndexLayout(settings.index_dir).require_current() != pinned.generation
        hits = pinned.retriever.search(QUESTION, vector, 3)
        assert hits and hits[0].dense_rank is not None
        records, _ = pinned.retriever.store.sentence_vectors([hits[0].chunk])
        assert records
    # one publication later, the generation two back is dropped
    (settings.documents_dir / "ny.txt").write_text("Klyngen fikk 13 nye medlemmer i 2025.")
    writer.ingest()
    # (the server is shared with other tests: only this index's collections count)
    ours = _server_prefix(settings.index_dir)
    names = [c.name for c in make_client(None, chroma_server).list_collections()]
    assert not [n for n in names if n.startswith(f"{ours}{pinned.generation.name}-")]
    current = IndexLayout(settings.index_dir).require_current().name
    assert {f"{ours}{current}-chunks", f"{ours}{current}-sentences"} <= set(names)


def test_a_generation_removed_while_it_is_read_gives_way_to_the_newer_one(
    tmp_path, embedder, monkeypatch
):
    # Another instance published a newer generation and removed the one this instance had
    # just read from CURRENT: the reload reads the newer one instead of failing.
    settings = _settings(tmp_path)
    ingest(settings, embedder)
    assistant = Assistant.open(settings, embedder=embedder)
    stale = assistant.index.generation
    (settings.documents_dir / "ny.txt").write_text("Klyngen fikk 12 nye medlemmer i 2025.")
    ingest(settings, embedder)  # publishes a newer generation and removes the stale one
    layout = IndexLayout(settings.index_dir)
    newer = layout.current()
    assert newer is not None and newer != stale and not stale.exists()
    calls: list[int] = []
    real = IndexLayout.require_current

    def stale_first(self):
        calls.append(1)
        return stale if len(calls) == 1 else real(self)

    monkeypatch.setattr(IndexLayout, "require_current", stale_first)
    assistant.reload()
    assert assistant.index.generation == newer and len(calls) == 2
    # a file missing from the current generation itself is a fault, not a race
    monkeypatch.setattr(IndexLayout, "require_current", real)
    (newer / "lexical" / "lexical.json").unlink()
    with pytest.raises(FileNotFoundError):
        assistant.reload()
