"""Sentence vectors from the passage's own encoder pass (issue 15, ``sentence_encoding =
"in-context"``): passage vectors unchanged, one sentence vector per stored sentence, spans
past the model's length limit encoded on their own, and a change of the setting re-embeds."""

from __future__ import annotations

import shutil
import threading

import numpy as np
from tests.helpers import ARTICLE, CountingEmbedder

from helse_qa.answering.sentence_vectors import (
    MERGE_AFTER_FILES,
    DiskCache,
    SentenceVectors,
    disk_cache_folder,
)
from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.ingest.pipeline import ingest
from helse_qa.storage.layout import IndexLayout, read_chunks, read_manifest
from helse_qa.storage.vectors import chunk_sentences, generation_store
from helse_qa.text.sentences import sentence_spans

TEXTS = [
    "Helseklyngen fikk 140 medlemmer i 2024. Eksporten av diagnostikk økte med 12 prosent.",
    "Norway Health Tech will lead the merged cluster. Its CEO is Lena Nymo Helli.",
]


def _article_settings(tmp_path, encoding: str, index: str = "index") -> Settings:
    """Settings over a documents folder holding the English article alone."""
    docs = tmp_path / "documents"
    docs.mkdir(exist_ok=True)
    shutil.copy(ARTICLE, docs / "article.txt")
    return Settings(documents_dir=docs, index_dir=tmp_path / index, sentence_encoding=encoding)


def test_passage_vectors_are_unchanged_and_each_sentence_gets_its_own(embedder):
    spans = [list(sentence_spans(t)) for t in TEXTS]
    assert [len(s) for s in spans] == [2, 2]
    passages, sentences = embedder.embed_in_context(TEXTS, spans)
    alone = embedder.embed_passages(TEXTS)
    assert np.allclose(passages, alone, atol=1e-5)
    assert [v.shape for v in sentences] == [(2, embedder.dim), (2, embedder.dim)]
    flat = np.vstack(sentences)
    assert np.allclose(np.linalg.norm(flat, axis=1), 1.0, atol=1e-5)
    pieces = [t[a:b] for t, sp in zip(TEXTS, spans, strict=True) for a, b in sp]
    separate = embedder.embed_passages(pieces)
    agreement = (flat * separate).sum(1)
    # Same meaning, other context: close to the separate vector, but not the passage's.
    assert agreement.min() > 0.8
    assert not np.allclose(flat[0], flat[1], atol=1e-3)
    # They still tell a passage's sentences apart for a question about one of them.
    for question, best in (
        ("Who is the CEO?", 3),
        ("Hvor mange medlemmer fikk helseklyngen?", 0),
    ):
        q = embedder.embed_queries([question])[0]
        passage = 0 if best < 2 else 1
        pair = sentences[passage] @ q
        assert int(pair.argmax()) == best % 2, (question, pair)


def test_a_span_past_the_length_limit_is_encoded_on_its_own(embedder):
    long = " ".join(["Helseindustrien vokser raskt i Norge."] * 120)  # far over 512 tokens
    text = long + " Eksportinntektene var 3,4 milliarder kroner i 2017."
    spans = [list(sentence_spans(text))]
    _, sentences = embedder.embed_in_context([text], spans)
    a, b = spans[0][-1]
    alone = embedder.embed_passages([text[a:b]])[0]
    assert float(sentences[0][-1] @ alone) > 0.9999  # truncated away: its own pass
    assert float(sentences[0][0] @ alone) < 0.99


def test_ingest_in_context_stores_every_sentence_and_a_change_reembeds(tmp_path, embedder):
    settings = _article_settings(tmp_path, "in-context")
    report = ingest(settings, embedder)
    generation = IndexLayout(settings.index_dir).require_current()
    manifest = read_manifest(generation)
    assert manifest.sentence_encoding == "in-context"
    store = generation_store(settings.index_dir, generation, None)
    chunks = read_chunks(generation)
    wanted = [r for c in chunks for r in chunk_sentences(c)]
    records, vectors = store.sentence_vectors(chunks)
    assert len(records) == len(wanted) == store.sentence_count() > len(chunks)
    # The stored vector of each sentence is its in-context one, not its separate one.
    texts = {r.sentence_id: r.text_in(c) for c in chunks for r in chunk_sentences(c)}
    separate = embedder.embed_passages([texts[r.sentence_id] for r in records])
    agreement = (vectors * separate).sum(1)
    assert agreement.max() < 0.9999 and agreement.min() > 0.6
    store.close()
    # Switching the setting back embeds every document again (nothing counts as unchanged).
    again = ingest(settings.model_copy(update={"sentence_encoding": "separate"}), embedder)
    assert again.unchanged == () and again.added + again.updated
    assert report.added
    generation = IndexLayout(settings.index_dir).require_current()
    assert read_manifest(generation).sentence_encoding == "separate"
    store = generation_store(settings.index_dir, generation, None)
    records, vectors = store.sentence_vectors(read_chunks(generation))
    separate = embedder.embed_passages([texts[r.sentence_id] for r in records])
    assert np.allclose((vectors * separate).sum(1), 1.0, atol=1e-4)
    store.close()


def test_on_demand_ingest_stores_no_sentences_and_answers_as_separate_does(tmp_path, embedder):
    """``sentence_encoding = "on-demand"``: ingest embeds passages only; the answer path
    embeds the retrieved passages' sentences once (cached) and gives the same answers as an
    index whose sentence vectors were made at ingest."""
    lazy = _article_settings(tmp_path, "on-demand", "lazy")
    eager = lazy.model_copy(
        update={"index_dir": tmp_path / "eager", "sentence_encoding": "separate"}
    )
    report = ingest(lazy, embedder)
    stages = dict(report.stages)
    assert "chunk vectors" in stages and "sentence vectors" not in stages
    eager_stages = dict(ingest(eager, embedder).stages)
    assert eager_stages["sentence vectors"] > 0
    generation = IndexLayout(lazy.index_dir).require_current()
    manifest = read_manifest(generation)
    assert manifest.sentence_encoding == "on-demand" and manifest.sentences is False
    store = generation_store(lazy.index_dir, generation, None)
    assert store.sentence_count() == 0 and store.count() == len(read_chunks(generation))
    store.close()

    questions = [
        "Who is the CEO of Norway Health Tech?",
        "Hvor mange medlemmer får den nye klyngen?",
        "How many employees work in the Swedish health industry?",
    ]
    on_demand = Assistant.open(lazy, embedder=embedder)
    stored = Assistant.open(eager, embedder=embedder)
    try:
        for question in questions:
            a, b = on_demand.ask(question), stored.ask(question)
            assert (a.text, a.abstained, a.kind) == (b.text, b.abstained, b.kind), question
            assert [c.quote for c in a.citations] == [c.quote for c in b.citations]
        assert on_demand.sentence_vectors.embedded > 0
        assert stored.sentence_vectors.embedded == 0  # the index held every sentence
        before = on_demand.sentence_vectors.embedded
        on_demand.ask(questions[0])
        assert on_demand.sentence_vectors.embedded == before  # cached, not embedded again
    finally:
        on_demand.close()
        stored.close()


def test_switching_from_on_demand_to_separate_embeds_the_sentences(tmp_path, embedder):
    settings = _article_settings(tmp_path, "on-demand")
    ingest(settings, embedder)
    again = ingest(settings.model_copy(update={"sentence_encoding": "separate"}), embedder)
    assert again.unchanged == () and again.added + again.updated
    generation = IndexLayout(settings.index_dir).require_current()
    store = generation_store(settings.index_dir, generation, None)
    chunks = read_chunks(generation)
    assert store.sentence_count() == sum(len(chunk_sentences(c)) for c in chunks) > 0
    store.close()


def test_on_demand_is_the_default():
    assert Settings().sentence_encoding == "on-demand"


def test_the_disk_cache_serves_the_next_process_and_survives_a_broken_file(tmp_path, embedder):
    """A second SentenceVectors over the same folder (the next `helse-qa ask`) embeds
    nothing; a truncated cache file is skipped, its sentences embedded again."""
    settings = _article_settings(tmp_path, "on-demand")
    ingest(settings, embedder)
    generation = IndexLayout(settings.index_dir).require_current()
    store = generation_store(settings.index_dir, generation, None)
    chunks = read_chunks(generation)[:2]
    folder = disk_cache_folder(settings.index_dir, embedder.fingerprint, settings.passage_prompt)
    try:
        first = SentenceVectors(CountingEmbedder(embedder), disk=DiskCache(folder))
        records, vectors = first.get(store, chunks)
        n = len({r.text_in(c) for c in chunks for r in chunk_sentences(c)})
        assert first.embedded == n > 0 and len(list(folder.glob("*.npz"))) == 1

        counting = CountingEmbedder(embedder)
        second = SentenceVectors(counting, disk=DiskCache(folder))
        again_records, again_vectors = second.get(store, chunks)
        assert counting.passages == 0 and second.embedded == 0
        assert again_records == records and np.array_equal(again_vectors, vectors)

        # Another model or prompt has a folder of its own.
        assert disk_cache_folder(settings.index_dir, embedder.fingerprint, "x: ") != folder

        (cache_file,) = folder.glob("*.npz")
        cache_file.write_bytes(cache_file.read_bytes()[:100])  # a torn write
        counting = CountingEmbedder(embedder)
        third = SentenceVectors(counting, disk=DiskCache(folder))
        _, third_vectors = third.get(store, chunks)
        assert counting.passages == n
        assert np.allclose(third_vectors, vectors, atol=1e-5)
    finally:
        store.close()


def test_many_cache_files_are_merged_into_one_and_kept_within_bounds(tmp_path):
    folder = tmp_path / "cache"
    rng = np.random.default_rng(0)
    writer = DiskCache(folder)
    for i in range(MERGE_AFTER_FILES + 1):
        writer.save({f"{i:040d}": rng.standard_normal(4).astype(np.float32)})
    assert len(list(folder.glob("*.npz"))) == MERGE_AFTER_FILES + 1
    loaded = DiskCache(folder).load()
    assert sorted(loaded) == [f"{i:040d}" for i in range(MERGE_AFTER_FILES + 1)]
    assert len(list(folder.glob("*.npz"))) == 1
    assert DiskCache(folder).load().keys() == loaded.keys()
    # a bounded merge keeps the newest entries
    for i in range(MERGE_AFTER_FILES + 1):
        writer.save({f"{100 + i:040d}": rng.standard_normal(4).astype(np.float32)})
    kept = DiskCache(folder, max_entries=5).load()
    assert len(kept) == MERGE_AFTER_FILES + 1 + 33  # loaded whole, then merged to 5 on disk
    assert sorted(DiskCache(folder).load()) == [f"{100 + i:040d}" for i in range(28, 33)]


def test_warm_up_embeds_every_sentence_once_and_questions_then_embed_none(tmp_path, embedder):
    settings = _article_settings(tmp_path, "on-demand")
    ingest(settings, embedder)
    assistant = Assistant.open(settings, embedder=embedder)
    try:
        chunks = read_chunks(IndexLayout(settings.index_dir).require_current())
        unique = {r.text_in(c) for c in chunks for r in chunk_sentences(c)}
        # The warm-up waits while a question is being answered.
        assistant.sentence_vectors._asking = 1
        made: list[int] = []
        thread = threading.Thread(target=lambda: made.append(assistant.warm_sentence_vectors()))
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive() and assistant.sentence_vectors.embedded == 0
        assistant.sentence_vectors._asking = 0
        thread.join(timeout=120)
        assert made == [len(unique)] and len(unique) > 0
        assert assistant.warm_sentence_vectors() == 0
        before = assistant.sentence_vectors.embedded
        assistant.ask("Who is the CEO of Norway Health Tech?")
        assert assistant.sentence_vectors.embedded == before
    finally:
        assistant.close()
    other = _article_settings(tmp_path, "on-demand", "other-index")  # an empty disk cache
    ingest(other, embedder)
    fresh = Assistant.open(other, embedder=embedder)
    try:
        stop = threading.Event()
        stop.set()
        assert fresh.warm_sentence_vectors(stop) == 0  # stopped before its first batch
        assert fresh.warm_sentence_vectors() == len(unique)
    finally:
        fresh.close()


def test_the_app_warms_the_cache_in_the_background_only_when_on_demand(tmp_path, embedder):
    from helse_qa.web.app import ChatApp

    settings = _article_settings(tmp_path, "on-demand")
    ingest(settings, embedder)
    assistant = Assistant.open(settings, embedder=embedder)
    try:
        app = ChatApp(assistant)
        thread = app.warm_sentences()
        assert thread is not None
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert assistant.sentence_vectors.embedded > 0
        assert assistant.warm_sentence_vectors() == 0  # nothing left to embed
    finally:
        assistant.close()
    separate = _article_settings(tmp_path, "separate", "index-separate")
    ingest(separate, embedder)
    eager = Assistant.open(separate, embedder=embedder)
    try:
        assert ChatApp(eager).warm_sentences() is None
    finally:
        eager.close()
