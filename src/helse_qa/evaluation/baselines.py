"""Baselines and the external benchmark, run side by side with the assistant.

- The plain llama-index pipeline a user would write first: ``VectorStoreIndex`` over the raw
  files with its default ``SentenceSplitter``, the same embedding model, top-k 5. Nothing of
  llama-index's global ``Settings`` is touched: the embed model is passed explicitly.
- A SQuAD-format benchmark (NorQuAD): distinct contexts indexed as a separate corpus in their
  own index directory; for each question, is its own context retrieved?
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helse_qa import offline
from helse_qa.config import Settings
from helse_qa.errors import HelseQAError
from helse_qa.evaluation.evaluate import GoldItem, SystemRun, evaluate_retrieval, relevant
from helse_qa.ingest.readers import SUPPORTED_EXTENSIONS, parse_document
from helse_qa.models.embedding import Embedder
from helse_qa.types import DocumentInfo, Page, ParsedDocument

log = logging.getLogger(__name__)


def llama_embedding(embedder: Embedder) -> Any:
    """Our embedder behind llama-index's BaseEmbedding interface (prompts included)."""
    offline.apply()
    from llama_index.core.embeddings import BaseEmbedding

    class _Adapter(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in embedder.embed_queries([query])[0]]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return [float(x) for x in embedder.embed_passages([text])[0]]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in v] for v in embedder.embed_passages(texts)]

    return _Adapter(model_name=embedder.model_id, embed_batch_size=16)


def llama_index_baseline(
    settings: Settings, embedder: Embedder, items: Sequence[GoldItem], k: int = 5
) -> SystemRun:
    """The plain pipeline over the same files (raw text, default splitter, top-k ``k``)."""
    from llama_index.core import Document, VectorStoreIndex

    documents = []
    for path in sorted(settings.documents_dir.rglob("*")):
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS or path.name == "README.md":
            continue
        if path.suffix.lower() in (".txt", ".md"):
            text = path.read_text(encoding="utf-8", errors="replace")
        else:
            text = parse_document(path).text  # a user would use a reader; same text here
        documents.append(Document(text=text, metadata={"file": path.name}))
    index = VectorStoreIndex.from_documents(documents, embed_model=llama_embedding(embedder))
    retriever = index.as_retriever(similarity_top_k=k)
    nodes = list(index.docstore.docs.values())

    def search(item: GoldItem) -> list[str]:
        return [n.node.get_content() for n in retriever.retrieve(item.question)]

    def n_relevant(item: GoldItem) -> int:
        return sum(1 for n in nodes if relevant(n.get_content(), item.evidence))

    return evaluate_retrieval("llama-index plain (VectorStoreIndex)", items, search, n_relevant)


# -- SQuAD-format benchmark ---------------------------------------------------------------


@dataclass(frozen=True)
class SquadQuestion:
    qid: str
    question: str
    context_id: str
    answers: tuple[str, ...] = ()  # the gold answer strings (SQuAD "answers" texts)


def load_squad(path: Path) -> tuple[dict[str, str], list[SquadQuestion]]:
    """Distinct contexts (id -> text) and questions mapped to their context id."""
    if not path.is_file():
        raise HelseQAError(f"SQuAD file {path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise HelseQAError(f"{path} is not valid JSON ({exc.msg})") from exc
    contexts: dict[str, str] = {}
    questions: list[SquadQuestion] = []
    for article in data.get("data", []):
        for para in article.get("paragraphs", []):
            text = para["context"]
            cid = "ctx-" + hashlib.sha256(text.encode()).hexdigest()[:12]
            contexts.setdefault(cid, text)
            for qa in para.get("qas", []):
                answers = tuple(
                    dict.fromkeys(str(a["text"]) for a in qa.get("answers", []) if a.get("text"))
                )
                questions.append(SquadQuestion(str(qa["id"]), qa["question"], cid, answers))
    if not questions:
        raise HelseQAError(f"{path} holds no SQuAD questions (expected data/paragraphs/qas)")
    return contexts, questions


def contains(text: str, answers: Sequence[str]) -> bool:
    """Whether ``text`` holds one of the ``answers`` (case and spacing aside)."""
    flat = " ".join(text.split()).lower()
    return any(" ".join(a.split()).lower() in flat for a in answers if a.strip())


def squad_answer_scores(assistant: Any, questions: Sequence[SquadQuestion]) -> dict[str, float]:
    """Every question through ``assistant.ask`` (all contexts searchable, no filter):

    - ``first_quote_contains``: the first quoted sentence holds a gold answer string (over all
      questions; an abstention counts as a miss);
    - ``answer_containment``: the composed answer text holds one;
    - ``answered_rate``; ``quotes_per_answer`` (citations per answered question).
    """
    first = contained = answered = quotes = 0
    scored = [q for q in questions if q.answers]
    for q in scored:
        answer = assistant.ask(q.question)
        if answer.abstained:
            continue
        answered += 1
        quotes += len(answer.citations)
        first += bool(answer.citations) and contains(answer.citations[0].quote, q.answers)
        contained += contains(answer.text, q.answers)
    n = len(scored) or 1
    return {
        "questions": float(len(scored)),
        "first_quote_contains": first / n,
        "answer_containment": contained / n,
        "answered_rate": answered / n,
        "quotes_per_answer": quotes / answered if answered else 0.0,
    }


def squad_documents(contexts: dict[str, str]) -> list[ParsedDocument]:
    """Each distinct SQuAD context as a one-page Norwegian document."""
    return [
        ParsedDocument(
            info=DocumentInfo(doc_id=cid, title=text.split("\n", 1)[0][:80], language="nb"),
            text=text,
            pages=(Page(1, 0, len(text)),),
            headings=(),
            content_hash=cid,
        )
        for cid, text in contexts.items()
    ]


def squad_index(
    path: Path, settings: Settings, embedder: Embedder, with_sentences: bool = True
) -> tuple[Settings, dict[str, str], list[SquadQuestion]]:
    """The settings of an index of every context of the SQuAD file at ``path`` (built into
    ``<index_dir>/squad-<hash>/`` on first use, then reused), its contexts and questions.
    ``with_sentences``: sentence vectors too (the questions are answered, not only
    retrieved)."""
    from helse_qa.ingest.chunking import CHUNKER_VERSION
    from helse_qa.ingest.pipeline import build_index
    from helse_qa.storage.layout import IndexLayout

    contexts, questions = load_squad(path)
    key = (
        f"{embedder.fingerprint}|{CHUNKER_VERSION}|{settings.chunk_words}|{with_sentences}|"
        + "".join(sorted(contexts))
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    index_dir = settings.index_dir / f"squad-{digest}"
    squad_settings = settings.model_copy(update={"index_dir": index_dir})
    if IndexLayout(index_dir).current() is None:
        docs = squad_documents(contexts)
        log.info("indexing %d SQuAD contexts into %s", len(docs), index_dir)
        build_index(squad_settings, embedder, docs, progress=True, with_sentences=with_sentences)
    return squad_settings, contexts, questions


def squad_benchmark(
    path: Path,
    settings: Settings,
    embedder: Embedder,
    ks: Sequence[int] = (1, 5, 10),
    answers: bool = True,
) -> dict[str, dict[str, float]]:
    """hit@k and MRR of retrieving each question's own context, for BM25, dense and hybrid;
    with ``answers``, also every question asked through the assistant (extractive), scored by
    :func:`squad_answer_scores`.

    The contexts are indexed once into ``<index_dir>/squad-<hash>/`` and reused.
    """
    from helse_qa.assistant import Assistant

    squad_settings, contexts, questions = squad_index(path, settings, embedder, answers)
    assistant = Assistant.open(squad_settings, embedder=embedder)
    kmax = max(ks)
    results: dict[str, dict[str, float]] = {}
    for mode in ("bm25", "dense", "hybrid"):
        ranks: list[int | None] = []
        for q in questions:
            hits = assistant.retrieve(q.question, k=kmax * 4, retrieval=mode)  # chunks -> contexts
            seen: list[str] = []
            for h in hits:
                if h.chunk.doc_id not in seen:
                    seen.append(h.chunk.doc_id)
            rank = seen.index(q.context_id) + 1 if q.context_id in seen else None
            ranks.append(rank if rank is not None and rank <= kmax else None)
        n = len(ranks)
        row = {f"hit@{k}": sum(1 for r in ranks if r and r <= k) / n for k in ks}
        row["mrr"] = sum(1 / r for r in ranks if r) / n
        row["questions"] = float(n)
        results[mode] = row
    results["_corpus"] = {"contexts": float(len(contexts)), "questions": float(len(questions))}
    if answers:
        results["answers"] = squad_answer_scores(assistant, questions)
    assistant.close()
    return {
        k: {m: (v if not math.isnan(v) else 0.0) for m, v in row.items()}
        for k, row in results.items()
    }
