"""helse-qa in llama-index: a retriever and a query engine over an open :class:`Assistant`.

- :class:`HelseRetriever` is a llama-index ``BaseRetriever``: helse-qa's retrieval (dense +
  BM25, fused; Norwegian-aware and cross-lingual) returning ``NodeWithScore``, one per passage.
  Each node is a ``TextNode`` whose text is the passage verbatim, whose id is the chunk id and
  whose metadata holds ``title``, ``page``, ``section``, ``doc_id``, ``language`` and a
  ``citation`` ("Title, s. 12 · Section"); its score is the fused retrieval score. Put it in
  llama-index's own ``RetrieverQueryEngine`` with any llama-index LLM.
- :class:`HelseQueryEngine` is a llama-index query engine that returns helse-qa's own answer
  (``Assistant.ask``: quoted in extractive mode, checked sentence by sentence in LLM mode) as
  a ``Response`` whose ``source_nodes`` are the cited passages and whose metadata holds the
  citations (quote, document, page, span).

Nothing here reads or sets llama-index's global ``Settings``: every llama-index object made
here gets its own ``CallbackManager``, and the LLM of LLM mode is helse-qa's own, built from
helse-qa's settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import (
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)

from helse_qa.closing import Closing
from helse_qa.config import Settings
from helse_qa.errors import ConfigError
from helse_qa.types import RETRIEVAL_MODES, Answer, Chunk, Citation, RetrievalMode

if TYPE_CHECKING:
    from helse_qa.assistant import Assistant

__all__ = ["HelseQueryEngine", "HelseRetriever", "answer_response", "citation_label", "node_of"]

# The same bound as Settings.top_k.
MAX_TOP_K = 100
# What an embedding model re-embedding the node sees: title and section give a passage its
# context (helse-qa embeds them the same way); what an LLM sees: the citation line, which
# already names title, page and section.
EMBED_METADATA = ("title", "section")
LLM_METADATA = ("citation",)


def citation_label(title: str, page: int | None, section: str, language: str) -> str:
    """How a passage is cited: ``Title, s. 12 · Section`` ("p." for an English document); no
    page where the document has none, and the section path without a heading that only
    repeats the title."""
    label = title
    if page:
        label += f", {'s.' if language == 'nb' else 'p.'} {page}"
    parts = [p for p in section.split(" > ") if p]
    if parts and parts[0].casefold() == title.casefold():
        parts = parts[1:]
    if parts:
        label += " · " + " > ".join(parts)
    return label


def node_of(chunk: Chunk) -> TextNode:
    """The passage as a llama-index ``TextNode``: its verbatim text, the chunk id as a stable
    node id, its place in the parsed document and the citation line."""
    metadata: dict[str, Any] = {
        "title": chunk.title,
        "page": chunk.page,
        "section": chunk.section_label,
        "doc_id": chunk.doc_id,
        "language": chunk.language,
        "citation": citation_label(chunk.title, chunk.page, chunk.section_label, chunk.language),
    }
    return TextNode(
        id_=chunk.chunk_id,
        text=chunk.text,
        metadata=metadata,
        excluded_embed_metadata_keys=[k for k in metadata if k not in EMBED_METADATA],
        excluded_llm_metadata_keys=[k for k in metadata if k not in LLM_METADATA],
        # offsets in the parsed document text, the same that citation spans use
        start_char_idx=chunk.start,
        end_char_idx=chunk.end,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.doc_id)},
    )


def _citation_dict(citation: Citation, language: str) -> dict[str, Any]:
    return {
        **citation.to_dict(),
        "citation": citation_label(citation.title, citation.page, citation.section, language),
    }


def answer_response(answer: Answer) -> Response:
    """helse-qa's answer as a llama-index ``Response``.

    ``response`` is the answer text exactly as helse-qa gives it, with its ``[n]`` markers.
    ``source_nodes`` are the cited passages, in the order of their first citation, each with
    ``quotes`` and ``citation_numbers`` added to its metadata (kept out of embed and LLM
    text); an answer that cites nothing (it abstained) has none. ``metadata`` holds the
    citations (number, quote, doc_id, title, page, section, span, chunk_id, citation),
    ``abstained``, ``mode``, ``kind``, ``language``, ``notice``, ``language_note``,
    ``confidence``, the per-sentence checks of an LLM answer (``sentences``) and every
    retrieved passage as ``NodeWithScore`` (``retrieved_nodes``: the closest passages when
    it abstained).
    """
    hits = {h.chunk.chunk_id: h for h in answer.passages}
    cited: dict[str, list[Citation]] = {}
    for citation in answer.citations:
        cited.setdefault(citation.chunk_id, []).append(citation)
    source_nodes = []
    for chunk_id, citations in cited.items():
        hit = hits.get(chunk_id)
        if hit is None:  # the Assistant lists every cited passage among answer.passages
            continue
        node = node_of(hit.chunk)
        node.metadata["quotes"] = [c.quote for c in citations]
        node.metadata["citation_numbers"] = [c.number for c in citations]
        node.excluded_embed_metadata_keys += ["quotes", "citation_numbers"]
        node.excluded_llm_metadata_keys += ["quotes", "citation_numbers"]
        source_nodes.append(NodeWithScore(node=node, score=hit.score))
    language_of = {h.chunk.chunk_id: h.chunk.language for h in answer.passages}
    metadata: dict[str, Any] = {
        "citations": [
            _citation_dict(c, language_of.get(c.chunk_id, answer.language))
            for c in answer.citations
        ],
        "abstained": answer.abstained,
        "mode": answer.mode,
        "kind": answer.kind,
        "language": answer.language,
        "notice": answer.notice,
        "language_note": answer.language_note,
        "confidence": answer.confidence,
        "sentences": [s.to_dict() for s in answer.sentences],
        "retrieved_nodes": [
            NodeWithScore(node=node_of(h.chunk), score=h.score) for h in answer.passages
        ],
    }
    return Response(response=answer.text, source_nodes=source_nodes, metadata=metadata)


def _checked_top_k(top_k: object) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise ConfigError(
            f"top_k must be a whole number of passages from 1 to {MAX_TOP_K}, got {top_k!r} "
            "- pass e.g. top_k=5 (fewer passages than asked are returned when the index holds "
            "fewer)"
        )
    return top_k


def _checked_retrieval(retrieval: object) -> RetrievalMode:
    for mode in RETRIEVAL_MODES:
        if retrieval == mode:
            return mode
    raise ConfigError(
        f"retrieval must be one of {', '.join(RETRIEVAL_MODES)}, got {retrieval!r} "
        "- 'hybrid' (the default) fuses both retrievers"
    )


def _open_assistant(settings: Settings | None, ingest_if_missing: bool) -> Assistant:
    from helse_qa.assistant import Assistant

    return Assistant.open(settings, ingest_if_missing=ingest_if_missing)


class _Owned(Closing):
    """Closing: an object made by ``open`` closes the Assistant it opened; one given an
    Assistant leaves it open (its owner closes it)."""

    assistant: Assistant
    _owns_assistant: bool = False

    def close(self) -> None:
        """Close the Assistant if this object opened it."""
        if self._owns_assistant:
            self.assistant.close()
            self._owns_assistant = False

    def _scope(
        self, assistant: Assistant, doc_ids: Sequence[str] | None, retrieval: RetrievalMode
    ) -> None:
        """What both kinds search: the Assistant, the documents (all: None) and how."""
        self.assistant = assistant
        self.doc_ids = tuple(doc_ids) if doc_ids else None
        self.retrieval = _checked_retrieval(retrieval)


_O = TypeVar("_O", bound=_Owned)


def _open_owned(
    kind: Callable[..., _O],
    settings: Settings | None,
    top_k: int | None,
    ingest_if_missing: bool,
    doc_ids: Sequence[str] | None,
    retrieval: RetrievalMode,
) -> _O:
    """A ``kind`` over an Assistant opened here, which it then owns (closes); the arguments
    are checked before anything is opened (``top_k`` None: the settings' top_k)."""
    if top_k is not None:
        _checked_top_k(top_k)
    _checked_retrieval(retrieval)
    assistant = _open_assistant(settings, ingest_if_missing)
    owned = kind(assistant, top_k, doc_ids=doc_ids, retrieval=retrieval)
    owned._owns_assistant = True
    return owned


class HelseRetriever(_Owned, BaseRetriever):
    """helse-qa's retrieval as a llama-index retriever: the ``top_k`` best passages for a
    question, as ``NodeWithScore`` (see :func:`node_of`), best first.

    ``doc_ids`` limits the search to those documents; ``retrieval`` is ``hybrid`` (dense and
    BM25 fused, the default), ``dense`` or ``bm25``.
    """

    def __init__(
        self,
        assistant: Assistant,
        top_k: int = 5,
        *,
        doc_ids: Sequence[str] | None = None,
        retrieval: RetrievalMode = "hybrid",
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(callback_manager=callback_manager or CallbackManager([]), verbose=verbose)
        self.top_k = _checked_top_k(top_k)
        self._scope(assistant, doc_ids, retrieval)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        top_k: int = 5,
        *,
        ingest_if_missing: bool = False,
        doc_ids: Sequence[str] | None = None,
        retrieval: RetrievalMode = "hybrid",
    ) -> HelseRetriever:
        """Open an Assistant (``settings``, or ``Settings.load()``: helse-qa.toml and
        ``HELSE_QA_`` variables) and return a retriever over it; ``close()`` closes it."""
        top_k = _checked_top_k(top_k)  # None too: a retriever has no default of the settings
        return _open_owned(cls, settings, top_k, ingest_if_missing, doc_ids, retrieval)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.assistant.retrieve(
            query_bundle.query_str, k=self.top_k, doc_ids=self.doc_ids, retrieval=self.retrieval
        )
        return [NodeWithScore(node=node_of(h.chunk), score=h.score) for h in hits]


class HelseQueryEngine(_Owned, BaseQueryEngine):
    """helse-qa's verified, cited answer as a llama-index query engine (see
    :func:`answer_response` for the ``Response``).

    The answer is written as ``settings.answer_mode`` says: quoted sentences (extractive, the
    default) or an LLM answer whose every sentence is checked against the passages it cites
    (``answer_mode = "llm"`` with ``llm_base_url`` etc.). ``top_k`` passages are retrieved
    (default: ``settings.top_k``).
    """

    def __init__(
        self,
        assistant: Assistant,
        top_k: int | None = None,
        *,
        doc_ids: Sequence[str] | None = None,
        retrieval: RetrievalMode = "hybrid",
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager or CallbackManager([]))
        self.top_k = None if top_k is None else _checked_top_k(top_k)
        self._scope(assistant, doc_ids, retrieval)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        top_k: int | None = None,
        *,
        ingest_if_missing: bool = False,
        doc_ids: Sequence[str] | None = None,
        retrieval: RetrievalMode = "hybrid",
    ) -> HelseQueryEngine:
        """Open an Assistant (``settings``, or ``Settings.load()``) and return a query engine
        over it; ``close()`` closes it."""
        return _open_owned(cls, settings, top_k, ingest_if_missing, doc_ids, retrieval)

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}

    def retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """The passages the answer is written from, as :class:`HelseRetriever` gives them."""
        top_k = self.top_k or self.assistant.settings.top_k
        retriever = HelseRetriever(
            self.assistant,
            top_k,
            doc_ids=self.doc_ids,
            retrieval=self.retrieval,
            callback_manager=self.callback_manager,
        )
        return retriever.retrieve(query_bundle)

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self.assistant.ask(
            query_bundle.query_str, k=self.top_k, doc_ids=self.doc_ids, retrieval=self.retrieval
        )
        return answer_response(answer)

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        # The Assistant is synchronous (and thread-safe): answer in a worker thread so the
        # event loop is not blocked for the seconds an LLM answer takes.
        return await asyncio.to_thread(self._query, query_bundle)
