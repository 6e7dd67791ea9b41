"""The Python API: ``Assistant.open(settings)`` and ``assistant.ask(question, history)``.

The CLI, the chat UI and the evaluation all go through this class.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from helse_qa.answering.extractive import compose, language_note, score_sentences, select
from helse_qa.answering.guard import StreamGuard, guarded
from helse_qa.answering.heuristic import support_scores
from helse_qa.answering.list_answers import is_item_line, promote_list, promote_named
from helse_qa.answering.overview import (
    COLLECTION_SENTENCES,
    OVERVIEW_SENTENCES,
    is_collection_request,
    is_overview_question,
    overview,
    overview_document,
)
from helse_qa.answering.prompts import answer_messages, condense_messages, fold_system
from helse_qa.answering.retrieve import Retriever
from helse_qa.answering.scored import ScoredSentence, Selection, quotable
from helse_qa.answering.scorer import AnswerScorer
from helse_qa.answering.select import choose, read
from helse_qa.answering.sentence_vectors import DiskCache, SentenceVectors, disk_cache_folder
from helse_qa.answering.verify import SentenceChecker, StreamChecker, cite
from helse_qa.config import Settings
from helse_qa.errors import (
    ConfigError,
    HelseQAError,
    IndexNotBuiltError,
    LLMError,
    QuestionError,
    VectorStoreError,
)
from helse_qa.ingest.removal import RemovedFile
from helse_qa.messages import (
    ABSTAIN_MESSAGES,
    DENSE_MISSING,
    FALLBACK,
    FALLBACK_CONDENSE,
    LLM_PARTIAL,
    LLM_REJECTED,
    LLM_STOPPED,
    say,
)
from helse_qa.models.embedding import Embedder, load_embedder
from helse_qa.models.llm import LLM, make_llm
from helse_qa.models.reader import Reader
from helse_qa.storage.bm25 import LexicalIndex
from helse_qa.storage.layout import IndexLayout, Manifest, read_chunks, read_manifest
from helse_qa.storage.vectors import generation_store, vector_problem
from helse_qa.text.language import detect_language
from helse_qa.text.listing import is_list_question
from helse_qa.types import (
    RETRIEVAL_MODES,
    Answer,
    Chunk,
    Hit,
    IngestReport,
    RetrievalMode,
    SentenceCheck,
)

log = logging.getLogger(__name__)

Turn = Mapping[str, str]  # {"role": "user" | "assistant", "content": "..."}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def _rejected(reason: str, language: str, **values: Any) -> str:
    """Why the language model's answer is not shown, in the question's language."""
    why = say(LLM_STOPPED[reason], language).format(**values)
    return say(LLM_REJECTED, language).format(why=why)


def _partial(reason: str, language: str, **values: Any) -> str:
    """Why only part of the language model's answer is shown (its checked sentences)."""
    why = say(LLM_STOPPED[reason], language).format(**values)
    return say(LLM_PARTIAL, language).format(why=why)


def _says_abstain(text: str) -> bool:
    """The model's text is (or holds) the rules' one line for "not in the documents"."""
    said = _normalise(text)
    return any(_normalise(m) in said for m in ABSTAIN_MESSAGES.values() if said)


_FOLLOW_UP_START = re.compile(
    r"^(og|and|men|but|hva med|what about|how about|enn|also|også|then|så|samme)\b", re.I
)
_ANAPHORA = re.compile(
    r"\b(den andre|det andre|de andre|the other|denne|dette|disse|dem|they|them|it|its|that|"
    r"those|these|this one|hun|han|he|she|his|her|der|there)\b",
    re.I,
)


# Defaults of each sentence scorer (settings abstain_threshold / runner_up override them):
# the heuristic's were chosen on the check set (eval/results/tune-answers.md); the learned
# scorer's threshold comes with the model (chosen on its training data), and a further
# sentence needs half the best one's probability (the probabilities are calibrated).
HEURISTIC_THRESHOLD = 0.35
HEURISTIC_RUNNER_UP = 0.7
LEARNED_RUNNER_UP = 0.5


def _check_retrieval(retrieval: str) -> None:
    if retrieval not in RETRIEVAL_MODES:
        raise ConfigError(
            f"unknown retrieval mode {retrieval!r} - use one of {', '.join(RETRIEVAL_MODES)} "
            "(the answer mode, extractive or llm, is the setting answer_mode)"
        )


def looks_like_follow_up(question: str) -> bool:
    """A question that leans on the conversation: starts with 'and ...', or is short and
    points back with a pronoun ('And the other cluster?', 'Hvem leder den?')."""
    q = question.strip()
    return bool(_FOLLOW_UP_START.match(q)) or (len(q.split()) <= 8 and bool(_ANAPHORA.search(q)))


@dataclass(frozen=True)
class _Index:
    generation: Path
    manifest: Manifest
    retriever: Retriever
    # Each document's chunks in reading order (overviews, list items after a lead-in);
    # built once per generation, not per question.
    by_doc: dict[str, list[Chunk]]


class Assistant:
    """Question answering over the indexed documents, with citations."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._index: _Index | None = None
        self._llm: LLM | None = None
        self._scorer: AnswerScorer | None = None
        self._reader: Reader | None = None
        self._reader_lock = threading.Lock()
        # Sentence vectors the index does not hold (sentence_encoding = "on-demand"), made
        # for the passages a question retrieves, cached in memory and under the index folder.
        disk = DiskCache(
            disk_cache_folder(settings.index_dir, embedder.fingerprint, settings.passage_prompt)
        )
        self.sentence_vectors = SentenceVectors(embedder, disk=disk)
        self._reload_lock = threading.RLock()
        # Generations replaced by a reload, and how many questions still use each: a
        # replaced generation's store is closed when its last question ends.
        self._retired: list[_Index] = []
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
    ) -> Assistant:
        """Load the model and the index; build the index first if asked and missing."""
        settings = settings or Settings.load()
        assistant = cls(settings, embedder or load_embedder(settings))
        if IndexLayout(settings.index_dir).current() is None:
            if not ingest_if_missing:
                raise IndexNotBuiltError(settings.index_dir)
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
        previous = self._index
        self._index = _Index(
            generation, manifest, Retriever(store, lexical, chunks, self.settings), by_doc
        )
        if previous is not None:
            self._retired.append(previous)
            self._close_unused()

    @contextmanager
    def _using_index(self) -> Iterator[_Index]:
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
        still: list[_Index] = []
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
            _ = self.reader  # loaded here, not on the first question
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
    def index(self) -> _Index:
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
        text = _CONTROL.sub(" ", question).strip() if isinstance(question, str) else ""
        if not text:
            raise QuestionError("the question is empty - type a question")
        if len(text) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(text)} characters long; the limit is "
                f"{self.settings.max_question_chars} - shorten it"
            )
        return text

    def retrieval_query(self, question: str, history: Sequence[Turn] = ()) -> str:
        """The text retrieval uses: a follow-up question is prefixed by recent user turns."""
        if not history or not looks_like_follow_up(question):
            return question
        earlier = [
            t.get("content", "") for t in history if t.get("role") == "user" and t.get("content")
        ]
        recent = earlier[-self.settings.history_turns :] if self.settings.history_turns else []
        return " ".join([*recent, question]).strip()

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
        _check_retrieval(retrieval)
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
        _check_retrieval(retrieval)
        text = self.check_question(question)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        language = detect_language(text, default="en")
        notices: list[str] = []
        query = self.retrieval_query(text, history)
        if self.settings.answer_mode == "llm" and query != text:
            query = self._condense(text, history, notices) or query
        vectors = self.embedder.embed_queries([text] if query == text else [text, query])
        q_vec, r_vec = vectors[0], vectors[-1]
        t1 = time.perf_counter()
        timings["embed"] = (t1 - t0) * 1000
        # One generation answers the whole question, even if an upload publishes a newer
        # one meanwhile; its store is closed once no question uses it any more.
        with self._using_index() as index:
            hits = index.retriever.search(
                query, r_vec, k or self.settings.top_k, doc_ids, retrieval, query_language=language
            )
            t2 = time.perf_counter()
            timings["retrieve"] = (t2 - t1) * 1000
            if retrieval != "bm25" and hits and all(h.dense_rank is None for h in hits):
                notices.append(DENSE_MISSING[language])  # logged as an error by the retriever
            answer = self._extractive(index, text, language, q_vec, hits, doc_ids, query)
            answer = replace(answer, retrieval_query=query)
            if self.settings.answer_mode == "llm" and hits:
                try:
                    answer = yield from self._llm_answer(index, answer, hits)
                    notices += [answer.notice] if answer.notice else []
                except LLMError as exc:
                    notices.append(f"{exc} - {FALLBACK[language]}")
                    log.warning("LLM answer failed, extractive fallback: %s", exc)
        timings["answer"] = (time.perf_counter() - t2) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        yield replace(answer, notice=" ".join(notices), timings_ms=timings)

    @property
    def scorer(self) -> AnswerScorer:
        """The learned answer-sentence scorer (loaded once, a few KB of numpy weights)."""
        if self._scorer is None:
            path = self.settings.answer_model
            self._scorer = AnswerScorer(path) if path is not None else AnswerScorer()
        return self._scorer

    def _reader_order(
        self,
        question: str,
        scored: list[ScoredSentence],
        hits: Sequence[Hit],
        records: Any,
        threshold: float,
    ) -> list[ScoredSentence]:
        """The heuristic's sentences with the reader's choice first: among those above the
        heuristic's threshold (the best ``reader_order_candidates``), the one the reader gives the
        highest P(answers the question); the rest keep the heuristic's order, so whether to
        answer and what else is quoted stay the heuristic's. A list question, or one whose
        best line is a list item or a lead-in ending in ':', keeps the heuristic's order (a
        lead-in with its items: the reader judges sentences, not lists); item lines are not
        read (the reader was trained on sentences).

        Measured (README, 'The reader'): reordering every candidate by the reader quoted
        more answer facts on the gold set but lost a list's lead-in on eval/answers.jsonl;
        reading item lines too took gold first_quote_fact from 0.638 to 0.631."""
        best = scored[0]
        if (
            is_list_question(question)
            or is_item_line(best.text)
            or best.text.rstrip().endswith(":")
            or best.probability < threshold
        ):
            return scored
        above = [s for s in scored if s.probability >= threshold and not is_item_line(s.text)]
        above = above[: self.settings.reader_order_candidates]
        if len(above) < 2:
            return scored
        every = _every_sentence(hits, records)
        read_ = read(question, above, every, self.reader)
        first = read_[0].record.sentence_id
        return [s for s in scored if s.record.sentence_id == first] + [
            s for s in scored if s.record.sentence_id != first
        ]

    @property
    def reader(self) -> Reader:
        """The trained reader (loaded once: the packaged base model and the shipped delta,
        run in numpy)."""
        with self._reader_lock:
            if self._reader is None:
                from helse_qa.models.embedding import resolve_model
                from helse_qa.models.reader import DEFAULT_WEIGHTS_DIR, load_reader

                ref = resolve_model(self.settings, prepare=True)
                if ref.local_dir is None:
                    raise ConfigError(
                        "the reader needs the packaged base model - set embedding_model to "
                        "'default' or to a local multilingual-e5-small directory, or answer "
                        "without the reader: reader_orders = false (HELSE_QA_READER_ORDERS="
                        "false) and answer_scorer other than 'reader'"
                    )
                self._reader = load_reader(
                    ref.local_dir, self.settings.reader_weights or DEFAULT_WEIGHTS_DIR
                )
            return self._reader

    def _extractive(
        self,
        index: _Index,
        question: str,
        language: str,
        q_vec: Any,
        hits: list[Hit],
        doc_ids: Sequence[str] | None,
        topic: str = "",
    ) -> Answer:
        """Quote what answers: a fact, a list, an overview; a near miss; or abstain.
        ``topic`` is the retrieval query (a follow-up with the turns it leans on)."""
        retriever = index.retriever
        store = retriever.store
        learned = self.settings.answer_scorer == "learned"
        use_reader = self.settings.answer_scorer == "reader"
        threshold = self.settings.abstain_threshold
        if threshold is None:
            if use_reader:
                threshold = self.reader.threshold
            else:
                threshold = self.scorer.threshold if learned else HEURISTIC_THRESHOLD
        further = self.settings.runner_up
        if further is None:
            further = LEARNED_RUNNER_UP if learned else HEURISTIC_RUNNER_UP
        passages = list(hits)

        def scored_for(
            chosen_hits: Sequence[Hit], use_learned: bool, records: Any, svecs: Any
        ) -> list[ScoredSentence]:
            if not use_learned:
                support = support_scores(
                    question, q_vec, chosen_hits, records, svecs, retriever.lexical.analyzer
                )
                heuristic = [ScoredSentence(r, t, h, rank, p) for r, t, h, rank, p in support]
                return [s for s in heuristic if quotable(s)]
            cvecs = store.chunk_vectors([h.chunk.chunk_id for h in chosen_hits])
            return score_sentences(
                question, language, q_vec, chosen_hits, records, svecs, cvecs, self.scorer
            )

        by_doc = index.by_doc
        if hits and is_overview_question(question):
            kinds = {d: e.kind for d, e in index.manifest.documents.items()}
            allowed = [d for d in kinds if not doc_ids or d in doc_ids]
            if is_collection_request(question) and len(allowed) > 1:
                docs, most = allowed, COLLECTION_SENTENCES  # one short block per document
            else:
                docs, most = [overview_document(question, hits, doc_ids, kinds)], OVERVIEW_SENTENCES
            chosen = []
            for doc in docs:
                doc_hits = [Hit(c, 0.0) for c in by_doc.get(doc, [])]
                records, svecs = self.sentence_vectors.get(store, [h.chunk for h in doc_hits])
                ranked = {h.chunk.chunk_id: (i + 1, h) for i, h in enumerate(doc_hits)}
                sentences = [
                    ScoredSentence(r, r.text_in(hit.chunk), hit, rank, 0.0)
                    for r in records
                    for rank, hit in [ranked[r.chunk_id]]
                ]
                vectors = {r.sentence_id: v for r, v in zip(records, svecs, strict=True)}
                picked = overview(question, sentences, vectors, q_vec, most)
                chosen += [s for s in picked if quotable(s)]
            selection = Selection(chosen, "overview" if chosen else "abstain")
        else:
            scored: list[ScoredSentence] = []
            following = [
                Hit(c, 0.0)
                for h in hits
                for c in by_doc.get(h.chunk.doc_id, [])
                if 0 < c.ordinal - h.chunk.ordinal <= 2
            ]
            if hits and use_reader:
                records, svecs = self.sentence_vectors.get(store, [h.chunk for h in hits])
                every = _every_sentence(hits, records)
                prefiltered = scored_for(hits, False, records, svecs)
                prefiltered = prefiltered[: self.settings.reader_candidates]
                scored = read(question, prefiltered, every, self.reader)
                selection = choose(
                    question,
                    scored,
                    threshold,
                    language,
                    self.reader,
                    every,
                    most=min(2, self.settings.max_answer_sentences),
                    following=following,
                )
            elif hits:
                records, svecs = self.sentence_vectors.get(store, [h.chunk for h in hits])
                scored = scored_for(hits, learned, records, svecs)
                veto = self.settings.learned_veto
                promoted = False
                if scored and not learned and veto is not None:
                    # The learned scorer vetoes an answer when it is sure that no retrieved
                    # sentence answers (near misses the heuristic cannot tell from answers).
                    learned_scores = scored_for(hits, True, records, svecs)
                    if not learned_scores or learned_scores[0].probability < veto:
                        scored = []
                if scored and not learned:
                    by_id = {r.sentence_id: v for r, v in zip(records, svecs, strict=True)}
                    scored = promote_list(
                        question, scored, by_id, q_vec, self.embedder.embed_passages
                    )
                    before = scored[0] if scored else None
                    scored = promote_named(question, scored, retriever.lexical.analyzer)
                    promoted = bool(scored) and scored[0] is not before
                if scored and not learned and self.settings.reader_orders and not promoted:
                    scored = self._reader_order(question, scored, hits, records, threshold)
            if not (hits and use_reader):
                selection = select(
                    question,
                    scored,
                    threshold,
                    further,
                    self.settings.max_answer_sentences,
                    language,
                    retriever.lexical.analyzer,
                    following,
                    topic,
                )
        known = {h.chunk.chunk_id for h in passages}
        for chosen_sentence in selection.chosen:  # a cited passage is among those shown
            if chosen_sentence.hit.chunk.chunk_id not in known:
                passages.append(chosen_sentence.hit)
                known.add(chosen_sentence.hit.chunk.chunk_id)
        answer_text, citations = compose(selection, language)
        return Answer(
            question=question,
            text=answer_text,
            citations=citations,
            abstained=not selection.answers,
            passages=tuple(passages),
            language=language,
            kind=selection.kind,
            language_note=language_note(selection.chosen, language) if citations else "",
            confidence=selection.chosen[0].probability if selection.chosen else None,
        )

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = make_llm(self.settings)
        return self._llm

    def _condense(self, question: str, history: Sequence[Turn], notices: list[str]) -> str:
        """A standalone version of a follow-up question, written by the LLM."""
        try:
            rewritten = self.llm.complete(
                self._for_template(condense_messages(question, [dict(t) for t in history]))
            ).strip()
        except LLMError as exc:
            notices.append(f"{exc} - {FALLBACK_CONDENSE}")
            return ""
        return rewritten if 0 < len(rewritten) <= self.settings.max_question_chars else ""

    def _for_template(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """The messages as the model's chat template can take them: with
        ``llm_system_role = False`` the rules open the user's message instead (Gemma's
        template, as llama.cpp applies it, drops a system message without a word)."""
        return messages if self.settings.llm_system_role else fold_system(messages)

    def _llm_answer(
        self, index: _Index, extractive: Answer, hits: Sequence[Hit]
    ) -> Generator[str, None, Answer]:
        """Stream the model's answer under a guard (deadline, length, loops, echoes) and
        check it sentence by sentence *while it streams*: a sentence is passed on only once
        it is complete and the check has passed it, so nothing unchecked is ever shown. An
        unsupported sentence is never streamed (the final answer flags or drops it, a
        setting). When nothing could be shown (stopped early, nothing supported), LLMError
        with a line in the question's language, and the caller shows the extractive answer;
        once a checked sentence has been shown, the answer keeps it (with a notice) instead
        of being replaced by the extractive one."""
        language = extractive.language
        messages = self._for_template(answer_messages(extractive.question, hits, language))
        settings = self.settings
        rules = answer_messages(extractive.question, [], language)[0]["content"]
        for said in ABSTAIN_MESSAGES.values():  # the one line of the rules an answer may be
            rules = rules.replace(said, "|")
        guard = StreamGuard(
            deadline=settings.llm_deadline, max_chars=6 * settings.llm_max_tokens, echo_of=rules
        )
        retriever = index.retriever
        checker = StreamChecker(
            SentenceChecker(
                hits, self.embedder, retriever.store, retriever.lexical.analyzer, settings
            )
        )
        shown: list[SentenceCheck] = []

        def passed(checks: Sequence[SentenceCheck]) -> Iterator[str]:
            for check in checks:
                if check.supported and not _says_abstain(check.text):
                    yield (" " if shown else "") + check.text
                    shown.append(check)

        written = ""
        for delta in guarded(self.llm.stream(messages), guard):
            written += delta
            yield from passed(checker.feed(written))
        notice = ""
        if guard.stopped is not None:
            log.warning("LLM answer stopped (%s) at %d characters", guard.stopped, len(guard.text))
            if not shown:
                raise LLMError(_rejected(guard.stopped, language, seconds=settings.llm_deadline))
            notice = _partial(guard.stopped, language, seconds=settings.llm_deadline)
        else:
            raw = guard.kept
            if not raw:
                raise LLMError("the language model returned an empty or malformed answer")
            yield from passed(checker.finish(raw))
            if not shown and _says_abstain(raw):
                return replace(
                    extractive,
                    text=say(ABSTAIN_MESSAGES, language),
                    citations=(),
                    abstained=True,
                    mode="llm",
                    language_note="",
                )
        if checker.removed:
            log.info("removed citation markers to missing passages: %s", checker.removed)
        checks = [c for c in checker.checks if not _says_abstain(c.text)]
        if not shown:
            raise LLMError(_rejected("unsupported", language))
        if not notice and len(shown) < len(checks):
            notice = _partial("few-supported", language, supported=len(shown), total=len(checks))
        text, citations = cite(checks, hits, retriever.lexical.analyzer, settings)
        return replace(
            extractive,
            text=text,
            citations=citations,
            abstained=False,
            mode="llm",
            language_note="",
            sentences=tuple(checks),
            notice=notice,
        )

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


def _every_sentence(hits: Sequence[Hit], records: Any) -> list[ScoredSentence]:
    """Every sentence of the retrieved passages, unscored (the reader's context: the
    sentence before each)."""
    ranked = {h.chunk.chunk_id: (i + 1, h) for i, h in enumerate(hits)}
    return [
        ScoredSentence(r, r.text_in(hit.chunk), hit, rank, 0.0)
        for r in records
        if r.chunk_id in ranked
        for rank, hit in [ranked[r.chunk_id]]
    ]
