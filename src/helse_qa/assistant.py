"""The Python API: ``Assistant.open(settings)`` and ``assistant.ask(question, history)``.

The CLI, the chat UI, the evaluation and the llama-index adapter all go through this class.
It owns the index's lifecycle (open, reload when another process publishes a generation,
ingest, remove and restore documents) and the public API; how a question is answered is
:mod:`helse_qa.answering.pipeline`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from helse_qa.answering.pipeline import AnswerPipeline, LoadedIndex
from helse_qa.answering.question import Turn, check_retrieval, clean_question, retrieval_query
from helse_qa.answering.retrieve import Retriever
from helse_qa.answering.sentence_vectors import DiskCache, SentenceVectors, disk_cache_folder
from helse_qa.config import Settings
from helse_qa.errors import HelseQAError, IndexFormatError, IndexNotBuiltError, VectorStoreError
from helse_qa.ingest.chunking import CHUNKER_VERSION
from helse_qa.ingest.removal import RemovedFile
from helse_qa.models.embedding import Embedder, load_embedder
from helse_qa.models.llm import LLM
from helse_qa.models.reader import Reader
from helse_qa.storage.bm25 import LexicalIndex
from helse_qa.storage.layout import IndexLayout, Manifest, read_chunks, read_manifest
from helse_qa.storage.vectors import generation_store, vector_problem
from helse_qa.text.language import detect_language
from helse_qa.types import Answer, Chunk, Hit, IngestReport, RetrievalMode

log = logging.getLogger(__name__)

__all__ = ["Assistant", "Turn"]


class Assistant:
    """Question answering over the indexed documents, with citations."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._index: LoadedIndex | None = None
        # Sentence vectors the index does not hold (sentence_encoding = "on-demand"), made
        # for the passages a question retrieves, cached in memory and under the index folder.
        disk = DiskCache(
            disk_cache_folder(settings.index_dir, embedder.fingerprint, settings.passage_prompt)
        )
        self.sentence_vectors = SentenceVectors(embedder, disk=disk)
        self.pipeline = AnswerPipeline(settings, embedder, self.sentence_vectors)
        self._reload_lock = threading.RLock()
        # Generations replaced by a reload, and how many questions still use each: a
        # replaced generation's store is closed when its last question ends.
        self._retired: list[LoadedIndex] = []
        self._users: dict[int, int] = {}

    # -- lifecycle -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        ingest_if_missing: bool = False,
        embedder: Embedder | None = None,
        progress: bool = False,
        preload_reader: bool = False,
    ) -> Assistant:
        """Load the model and the index; build the index first if asked and missing.
        ``preload_reader``: when the settings use the reader, load it in a background
        thread meanwhile (a one-question process: ``helse-qa ask``)."""
        settings = settings or Settings.load()
        assistant = cls(settings, embedder or load_embedder(settings))
        if preload_reader and settings.uses_reader:
            assistant.pipeline.preload_reader()
        current = IndexLayout(settings.index_dir).current()
        if current is None:
            if not ingest_if_missing:
                raise IndexNotBuiltError(settings.index_dir)
            assistant.ingest(progress=progress)
        elif (found := read_manifest(current).chunker_version) != CHUNKER_VERSION:
            # an older index is never read as if it were this format (issue 37)
            if not ingest_if_missing:
                raise IndexFormatError(settings.index_dir, found, CHUNKER_VERSION)
            log.warning(
                "the index in %s has format %s, this helse-qa reads format %s - ingesting "
                "the documents again (once)",
                settings.index_dir,
                found,
                CHUNKER_VERSION,
            )
            assistant.ingest(progress=progress)
        assistant.reload()
        return assistant

    def reload(self) -> None:
        """(Re)open the current index generation.

        The previous store is closed once no question uses it any more (a question being
        answered in another thread keeps its generation; see ``_using_index``), so repeated
        uploads do not leak a Chroma client each. Reloads are serialised: an upload's ingest
        and a question may both reload at once. A store that does not hold this index's
        vectors (another store, or lost data) raises VectorStoreError naming the fix.
        """
        with self._reload_lock:
            self._reload()

    def _reload(self, attempts: int = 3) -> None:
        layout = IndexLayout(self.settings.index_dir)
        for attempt in range(1, attempts + 1):
            generation = layout.require_current()
            try:
                self._load(generation)
                return
            except FileNotFoundError:
                # Another process published a newer generation and removed this one while
                # it was being read: read the newer one (a file missing from the current
                # generation is a real fault and is raised).
                if attempt == attempts or layout.current() == generation:
                    raise

    def _load(self, generation: Path) -> None:
        manifest = read_manifest(generation)
        manifest.check_model(
            self.embedder.model_id, self.embedder.fingerprint, self.settings.index_dir
        )
        chunks = {c.chunk_id: c for c in read_chunks(generation)}
        store = generation_store(self.settings.index_dir, generation, self.settings.chroma_url)
        try:
            problem = vector_problem(manifest, store, len(chunks))
            if problem is not None:
                # Never answer from half an index (BM25 alone would answer almost nothing).
                raise VectorStoreError(f"{problem} - {self._vector_fix(manifest)}")
            lexical = LexicalIndex.load(generation / "lexical")
        except BaseException:
            store.close()
            raise
        by_doc: dict[str, list[Chunk]] = {}
        for c in sorted(chunks.values(), key=lambda c: (c.doc_id, c.ordinal)):
            by_doc.setdefault(c.doc_id, []).append(c)
        retriever = Retriever(
            store,
            lexical,
            chunks,
            self.settings,
            sentences=lambda passages: self.sentence_vectors.get(store, passages),
        )
        previous = self._index
        self._index = LoadedIndex(generation, manifest, retriever, by_doc)
        if previous is not None:
            self._retired.append(previous)
            self._close_unused()

    @contextmanager
    def _using_index(self) -> Iterator[LoadedIndex]:
        index = self.index
        with self._reload_lock:
            self._users[id(index)] = self._users.get(id(index), 0) + 1
        try:
            yield index
        finally:
            with self._reload_lock:
                self._users[id(index)] -= 1
                if not self._users[id(index)]:
                    del self._users[id(index)]
                self._close_unused()

    def _close_unused(self) -> None:
        """Close the stores of replaced generations that no question uses (lock held)."""
        still: list[LoadedIndex] = []
        for old in self._retired:
            if self._users.get(id(old)):
                still.append(old)
            else:
                old.retriever.store.close()
        self._retired = still

    def _vector_fix(self, manifest: Manifest) -> str:
        fix = "run 'helse-qa ingest' to embed the documents again into the current store"
        recorded = manifest.vectors
        if recorded is not None and recorded.kind == "server":
            if (self.settings.chroma_url or "").rstrip("/") != recorded.url.rstrip("/"):
                fix += f", or set HELSE_QA_CHROMA_URL={recorded.url} again"
        elif recorded is not None and self.settings.chroma_url:
            fix += ", or unset HELSE_QA_CHROMA_URL to use the embedded store it was built in"
        return fix

    def ingest(
        self,
        *,
        rebuild: bool = False,
        progress: bool = False,
        on_progress: Callable[[float, str], None] | None = None,
    ) -> IngestReport:
        """Bring the index up to date with the documents folder, then reload it."""
        from helse_qa.ingest.pipeline import ingest

        report = ingest(
            self.settings,
            self.embedder,
            rebuild=rebuild,
            progress=progress,
            on_progress=on_progress,
        )
        if report.changed or self._index is None or rebuild:
            self.reload()
        return report

    def warm_sentence_vectors(
        self, stop: threading.Event | None = None, chunks_per_batch: int = 4
    ) -> int:
        """Embed ahead of the questions the sentences the current index does not store
        (``sentence_encoding = "on-demand"``), passage by passage in reading order, into
        the in-memory and disk caches; returns how many were embedded. ``serve`` runs it in
        a background thread after start and after every upload; small batches, each begun
        only while no question is being answered, so that a question waits for at most one
        batch. Stops early when ``stop`` is set.
        """
        before = self.sentence_vectors.embedded
        if self.settings.uses_reader:
            _ = self.pipeline.reader  # loaded here, not on the first question
        with self._using_index() as index:
            chunks = [c for doc in index.by_doc.values() for c in doc]
            for start in range(0, len(chunks), chunks_per_batch):
                if stop is not None and stop.is_set():
                    break
                self.sentence_vectors.get(
                    index.retriever.store,
                    chunks[start : start + chunks_per_batch],
                    background=True,
                )
        return self.sentence_vectors.embedded - before

    def remove_document(self, doc_id: str) -> tuple[RemovedFile, IngestReport]:
        """Move an indexed document's file to ``documents/.removed/<date>/`` (never
        deleted; see :meth:`restore_document`) and drop it from the index."""
        from helse_qa.ingest.removal import move_aside

        entry = self.manifest.documents.get(doc_id)
        if entry is None:
            known = ", ".join(self.manifest.documents) or "none"
            raise HelseQAError(f"no indexed document '{doc_id}' - indexed: {known}")
        moved = move_aside(self.settings.documents_dir, entry.file, title=entry.title)
        return moved, self.ingest()

    def restore_document(self, name: str) -> tuple[Path, IngestReport]:
        """Move a removed file back (by its path, file name or label) and index it."""
        from helse_qa.ingest.removal import restore

        path = restore(self.settings.documents_dir, name)
        return path, self.ingest()

    def removed_documents(self) -> list[RemovedFile]:
        from helse_qa.ingest.removal import removed_files

        return removed_files(self.settings.documents_dir)

    def close(self) -> None:
        """Release the vector store clients."""
        with self._reload_lock:
            for old in self._retired:
                old.retriever.store.close()
            self._retired = []
            if self._index is not None:
                self._index.retriever.store.close()
                self._index = None

    @property
    def index(self) -> LoadedIndex:
        if self._index is None:
            raise IndexNotBuiltError(self.settings.index_dir)
        current = IndexLayout(self.settings.index_dir).current()
        if current is not None and current != self._index.generation:
            # Another process (a second app instance, a CLI ingest) published a newer
            # generation: switch to it. One small file read per question; of several
            # questions arriving at once, one reloads and the others use its result.
            with self._reload_lock:
                if self._index.generation != current:
                    self.reload()
        return self._index

    @property
    def manifest(self) -> Manifest:
        return self.index.manifest

    def document_text(self, doc_id: str) -> str:
        """The parsed text that citation spans point into."""
        return (self.index.generation / "texts" / f"{doc_id}.txt").read_text(encoding="utf-8")

    # -- asking ----------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        """The question, cleaned of control characters; refused if empty or too long."""
        return clean_question(question, self.settings.max_question_chars)

    def retrieval_query(self, question: str, history: Sequence[Turn] = ()) -> str:
        """The text retrieval uses: a follow-up question is prefixed by recent user turns."""
        return retrieval_query(question, history, self.settings.history_turns)

    def retrieve(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int | None = None,
        doc_ids: Sequence[str] | None = None,
        retrieval: RetrievalMode = "hybrid",
    ) -> list[Hit]:
        """Retrieval only: the ranked passages for a question (no answer composed)."""
        check_retrieval(retrieval)
        text = self.check_question(question)
        query = self.retrieval_query(text, history)
        vector = self.embedder.embed_queries([query])[0] if retrieval != "bm25" else None
        return self.index.retriever.search(
            query,
            vector,
            k or self.settings.top_k,
            doc_ids,
            retrieval,
            query_language=detect_language(text, default="en"),
        )

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int | None = None,
        doc_ids: Sequence[str] | None = None,
        retrieval: RetrievalMode = "hybrid",
    ) -> Answer:
        """Answer ``question`` from the documents, citing the passages it rests on."""
        final: Answer | None = None
        for event in self.ask_stream(question, history, k=k, doc_ids=doc_ids, retrieval=retrieval):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def ask_stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int | None = None,
        doc_ids: Sequence[str] | None = None,
        retrieval: RetrievalMode = "hybrid",
    ) -> Iterator[str | Answer]:
        """Yield the answer as it is written (text pieces, LLM mode only), then the final,
        verified :class:`Answer`. The extractive mode yields the Answer at once.

        ``retrieval`` chooses how passages are found (``hybrid``, ``dense``, ``bm25``); how
        the answer is written (extractive or LLM) is ``settings.answer_mode``.
        """
        check_retrieval(retrieval)
        text = self.check_question(question)
        # One generation answers the whole question, even if an upload publishes a newer
        # one meanwhile; its store is closed once no question uses it any more.
        with self._using_index() as index:
            yield from self.pipeline.run(
                index, text, history, k or self.settings.top_k, doc_ids, retrieval
            )

    @property
    def reader(self) -> Reader:
        """The trained reader (loaded on first use; see AnswerPipeline.reader)."""
        return self.pipeline.reader

    @property
    def llm(self) -> LLM:
        return self.pipeline.llm

    def chunks(self) -> list[Chunk]:
        """Every indexed chunk (for tools that measure the index)."""
        return list(self.index.retriever.chunks.values())

    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, Any]:
        """The stored passage vectors of ``chunk_ids`` (for benchmarks)."""
        return self.index.retriever.store.chunk_vectors(chunk_ids)

    def documents(self) -> list[dict[str, Any]]:
        """The indexed documents (for listings)."""
        from dataclasses import asdict

        return [asdict(d) for d in self.manifest.documents.values()]
