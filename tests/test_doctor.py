"""`helse-qa doctor`: damage a real index in known ways, check that it is found and repaired."""

from __future__ import annotations

import json
import threading

import numpy as np

from helse_qa.assistant import Assistant
from helse_qa.cli import main
from helse_qa.ingest import doctor
from helse_qa.ingest.pipeline import ingest
from helse_qa.storage.layout import IndexLayout, read_chunks, read_manifest, write_manifest
from helse_qa.storage.vectors import generation_store


def _codes(report: doctor.DoctorReport) -> set[str]:
    return {f.code for f in report.findings}


def _answers(settings, embedder) -> bool:
    assistant = Assistant.open(settings, embedder=embedder)
    try:
        return "370" in assistant.ask("How many members will the merged cluster have?").text
    finally:
        assistant.close()


def test_a_fresh_index_is_clean(small_corpus, embedder):
    ingest(small_corpus, embedder)
    report = doctor.check(small_corpus, embedder)
    assert report.clean and report.ok, report.findings
    assert report.checked["chunks"] == report.checked["chunk_vectors"] > 0
    assert report.checked["sentence_vectors"] > report.checked["chunks"]


def test_orphans_missing_vectors_and_bm25_are_found_and_repaired(small_corpus, embedder):
    ingest(small_corpus, embedder)
    generation = IndexLayout(small_corpus.index_dir).require_current()
    chunks = read_chunks(generation)
    store = generation_store(small_corpus.index_dir, generation, small_corpus.chroma_url)
    try:
        lost = chunks[0]
        store.delete_ids([lost.chunk_id], [])  # a chunk without its vector
        ghost = type(lost)(**{**lost.__dict__, "chunk_id": "ghost:0001", "doc_id": "ghost"})
        store.add_chunks([ghost], np.ones((1, embedder.dim), dtype=np.float32) / 20)  # orphan
        sentence_ids = sorted(store.sentence_ids())
        store.delete_ids([], sentence_ids[:3])  # sentences without vectors
    finally:
        store.close()
    lexical = generation / "lexical" / "lexical.json"
    meta = json.loads(lexical.read_text(encoding="utf-8"))
    meta["chunk_ids"] = meta["chunk_ids"][:-1]
    lexical.write_text(json.dumps(meta), encoding="utf-8")

    report = doctor.check(small_corpus, embedder)
    assert not report.ok
    assert {"missing-vectors", "orphan-vectors", "missing-sentences", "lexical"} <= _codes(report)

    repaired = doctor.repair(small_corpus, embedder)
    assert repaired.clean, repaired.findings
    assert any("embedded 1 chunks" in line for line in repaired.repaired)
    assert any("embedded 3 sentences" in line for line in repaired.repaired)
    assert doctor.check(small_corpus, embedder).clean
    assert _answers(small_corpus, embedder)


def test_model_mismatch_is_rebuilt(small_corpus, embedder):
    ingest(small_corpus, embedder)
    generation = IndexLayout(small_corpus.index_dir).require_current()
    manifest = read_manifest(generation)
    manifest.model_fingerprint = "0" * 64
    write_manifest(generation, manifest)
    assert "model-mismatch" in _codes(doctor.check(small_corpus, embedder))
    repaired = doctor.repair(small_corpus, embedder)
    assert repaired.clean and any("rebuilt" in line for line in repaired.repaired)
    current = read_manifest(IndexLayout(small_corpus.index_dir).require_current())
    assert current.model_fingerprint == embedder.fingerprint
    assert _answers(small_corpus, embedder)


def test_a_document_with_a_broken_text_is_ingested_again(small_corpus, embedder):
    ingest(small_corpus, embedder)
    generation = IndexLayout(small_corpus.index_dir).require_current()
    (generation / "texts" / "notat.txt").write_text("something else entirely", encoding="utf-8")
    assert "span" in _codes(doctor.check(small_corpus, embedder))
    repaired = doctor.repair(small_corpus, embedder)
    assert repaired.clean, repaired.findings
    assert any("dropped 'notat'" in line for line in repaired.repaired)
    assert any("ingested again: notat" in line for line in repaired.repaired)
    assistant = Assistant.open(small_corpus, embedder=embedder)
    assert "12 prosent" in assistant.ask("Hvor mye vokste eksporten av medisinsk utstyr?").text
    assistant.close()


def test_a_lost_current_pointer_is_restored(small_corpus, embedder):
    ingest(small_corpus, embedder)
    generation = IndexLayout(small_corpus.index_dir).require_current()
    (small_corpus.index_dir / "CURRENT").write_text("garbage\n", encoding="utf-8")
    (small_corpus.index_dir / ".work-gen-000099-1-2").mkdir()  # a killed ingest's copy
    report = doctor.check(small_corpus, embedder)
    assert "no-current" in _codes(report) and not report.ok
    # Without a valid CURRENT, nothing may be cleaned away (it is the last good index).
    assert generation.is_dir()
    repaired = doctor.repair(small_corpus, embedder)
    assert repaired.clean, repaired.findings
    assert IndexLayout(small_corpus.index_dir).require_current() == generation
    assert not (small_corpus.index_dir / ".work-gen-000099-1-2").exists()


def test_cli_exit_codes(small_corpus, embedder, capsys, monkeypatch):
    if small_corpus.chroma_url:
        monkeypatch.setenv("HELSE_QA_CHROMA_URL", small_corpus.chroma_url)
    ingest(small_corpus, embedder)
    generation = IndexLayout(small_corpus.index_dir).require_current()
    (generation / "lexical" / "lexical.json").write_text("{broken", encoding="utf-8")
    base = ["--documents-dir", str(small_corpus.documents_dir)]
    base += ["--index-dir", str(small_corpus.index_dir)]
    assert main([*base, "doctor"]) == 1
    out = capsys.readouterr()
    assert "[lexical]" in out.out and "--repair" in out.err
    assert main([*base, "doctor", "--repair"]) == 0
    assert "rebuilt the BM25 index" in capsys.readouterr().out
    assert main([*base, "doctor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []


def test_two_ingests_at_once_are_serialised(small_corpus, embedder):
    ingest(small_corpus, embedder)
    docs = small_corpus.documents_dir
    (docs / "a.txt").write_text("Klynge A har 11 ansatte i Bergen.", encoding="utf-8")
    (docs / "b.txt").write_text("Klynge B har 22 ansatte i Trondheim.", encoding="utf-8")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ingest(small_corpus, embedder)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    manifest = read_manifest(IndexLayout(small_corpus.index_dir).require_current())
    assert {"a", "b", "article", "notat"} == set(manifest.documents)
    assert doctor.check(small_corpus, embedder).clean
