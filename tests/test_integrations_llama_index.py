"""helse-qa inside llama-index, with real components: the repository corpus indexed by the
real embedder, llama-index's own RetrieverQueryEngine and MockLLM as a user's LLM, and the
loopback OpenAI-compatible server for LLM mode."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Settings as LlamaSettings
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers.no_text import NoText
from llama_index.core.schema import QueryBundle
from tests.fake_llm import FakeOpenAI, Reply
from tests.helpers import llm_settings

from helse_qa.assistant import Assistant
from helse_qa.errors import ConfigError
from helse_qa.integrations.llama_index import (
    HelseQueryEngine,
    HelseRetriever,
    citation_label,
)

EXPORT_Q = "How large were the export revenues in 2017?"
EXPORT_FACT = "23,6 milliarder kroner"
METADATA = {"title", "page", "section", "doc_id", "language", "citation"}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.url = server.start()  # type: ignore[attr-defined]
    yield server
    server.stop()


def _globals() -> dict[str, Any]:
    """llama-index's global Settings, field by field (the objects themselves)."""
    return dict(vars(LlamaSettings))


def _same(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return before.keys() == after.keys() and all(after[k] is v for k, v in before.items())


@pytest.mark.parametrize(
    ("title", "page", "section", "language", "label"),
    [
        ("Rapport", 12, "2 Fakta", "nb", "Rapport, s. 12 · 2 Fakta"),
        ("Report", 12, "2 Facts > 2.1 Exports", "en", "Report, p. 12 · 2 Facts > 2.1 Exports"),
        ("Rapport", None, "2 Fakta", "nb", "Rapport · 2 Fakta"),
        ("Rapport", 3, "", "nb", "Rapport, s. 3"),
        ("Clusters", None, "Clusters", "en", "Clusters"),
        ("Clusters", None, "clusters > Facts", "en", "Clusters · Facts"),
    ],
)
def test_citation_label(title, page, section, language, label):
    assert citation_label(title, page, section, language) == label


def test_importing_leaves_llama_index_settings_alone_and_helse_qa_stays_lazy():
    code = (
        "import sys\n"
        "import helse_qa, helse_qa.integrations\n"
        "from helse_qa import Assistant, Settings\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'llama_index'], 'eager'\n"
        "from llama_index.core import Settings as S\n"
        "before = dict(vars(S))\n"
        "from helse_qa.integrations.llama_index import HelseQueryEngine, HelseRetriever\n"
        "after = dict(vars(S))\n"
        "assert all(v is None for v in after.values()), after\n"
        "assert all(after[k] is v for k, v in before.items()) and after.keys() == before.keys()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_retriever_in_llama_index_retriever_query_engine(corpus_assistant):
    retriever = HelseRetriever(corpus_assistant, top_k=3)
    before = _globals()
    nodes = retriever.retrieve(EXPORT_Q)
    assert _same(before, _globals())
    # response_mode="no_text": the synthesizer made here, since from_args does not hand its
    # llm to NoText, which then reaches for the global Settings.llm (llama-index #10970)
    user_llm = MockLLM()
    engine = RetrieverQueryEngine.from_args(
        retriever,
        llm=user_llm,
        response_synthesizer=NoText(llm=user_llm, callback_manager=CallbackManager([])),
        callback_manager=CallbackManager([]),
    )
    response = engine.query(EXPORT_Q)
    hits = corpus_assistant.retrieve(EXPORT_Q, k=3)
    assert len(hits) == 3
    # llama-index's engine passes on exactly helse-qa's passages, best first, with its scores
    for sources in (response.source_nodes, nodes):
        assert [n.node.node_id for n in sources] == [h.chunk.chunk_id for h in hits]
        assert [n.node.get_content() for n in sources] == [h.chunk.text for h in hits]
        assert [n.score for n in sources] == pytest.approx([h.score for h in hits])
    assert any(EXPORT_FACT in n.node.get_content() for n in response.source_nodes)
    for node, hit in zip(response.source_nodes, hits, strict=True):
        chunk = hit.chunk
        meta = node.node.metadata
        assert set(meta) == METADATA
        assert (meta["title"], meta["page"], meta["section"], meta["doc_id"]) == (
            chunk.title,
            chunk.page,
            chunk.section_label,
            chunk.doc_id,
        )
        # the Norwegian report has pages and numbered sections: "Title, s. 3 · 2 Fakta ..."
        assert meta["citation"] == f"{chunk.title}, s. {chunk.page} · {chunk.section_label}"
        assert node.node.ref_doc_id == chunk.doc_id
        assert (node.node.start_char_idx, node.node.end_char_idx) == (chunk.start, chunk.end)
        doc_text = corpus_assistant.document_text(chunk.doc_id)
        assert doc_text[chunk.start : chunk.end] == node.node.get_content()


def test_a_users_llm_sees_the_passages_with_their_citation_lines(corpus_assistant):
    # MockLLM answers with the prompt it was given: what any llama-index LLM would read.
    engine = RetrieverQueryEngine.from_args(
        HelseRetriever(corpus_assistant, top_k=2),
        llm=MockLLM(),
        response_mode="compact",
        callback_manager=CallbackManager([]),
    )
    response = engine.query(EXPORT_Q)
    prompt = str(response)
    for node in response.source_nodes:
        assert f"citation: {node.node.metadata['citation']}" in prompt
        assert node.node.get_content() in prompt
    assert "doc_id:" not in prompt and "language:" not in prompt
    embed_text = response.source_nodes[0].node.get_content(metadata_mode="embed")
    assert embed_text.startswith("title: ") and "citation:" not in embed_text


def test_retriever_open_filters_and_closes(corpus_settings):
    with HelseRetriever.open(corpus_settings, top_k=2, doc_ids=["nht-clusters-merge-2024"]) as r:
        nodes = r.retrieve("How many members will the merged cluster have?")
        assert 1 <= len(nodes) <= 2
        assert {n.node.metadata["doc_id"] for n in nodes} == {"nht-clusters-merge-2024"}
        # an English article without pages; its one section is its title
        assert nodes[0].node.metadata["citation"] == "Health clusters join forces"
        assert nodes[0].node.metadata["page"] is None
    assert not r._owns_assistant


@pytest.mark.parametrize("top_k", [0, -1, 101, 2.5, "5", True, None])
def test_bad_top_k_is_a_clear_error(tmp_path, corpus_assistant, top_k):
    with pytest.raises(ConfigError, match=r"top_k must be a whole number .* from 1 to 100"):
        HelseRetriever(corpus_assistant, top_k=top_k)
    if top_k is not None:
        with pytest.raises(ConfigError, match="top_k"):
            HelseQueryEngine(corpus_assistant, top_k=top_k)
    # checked before anything is loaded: no index here, yet the error is about top_k
    from helse_qa.config import Settings

    nowhere = Settings(documents_dir=tmp_path, index_dir=tmp_path / "index")
    with pytest.raises(ConfigError, match="top_k"):
        HelseRetriever.open(nowhere, top_k=top_k)


def test_bad_retrieval_mode_is_a_clear_error(corpus_assistant):
    with pytest.raises(ConfigError, match="retrieval must be one of hybrid, dense, bm25"):
        HelseRetriever(corpus_assistant, retrieval="sparse")  # type: ignore[arg-type]


def test_query_engine_extractive(corpus_assistant):
    engine = HelseQueryEngine(corpus_assistant)
    before = _globals()
    response = engine.query(EXPORT_Q)
    assert _same(before, _globals())
    answer = corpus_assistant.ask(EXPORT_Q)
    assert response.response == answer.text and EXPORT_FACT in str(response)
    meta = response.metadata
    assert meta["mode"] == "extractive" and not meta["abstained"] and meta["kind"] == "fact"
    # the source nodes are the cited passages; the citations carry quote, document and page
    cited = list(dict.fromkeys(c.chunk_id for c in answer.citations))
    assert [n.node.node_id for n in response.source_nodes] == cited
    assert [(c["number"], c["quote"], c["doc_id"], c["page"]) for c in meta["citations"]] == [
        (c.number, c.quote, c.doc_id, c.page) for c in answer.citations
    ]
    for node in response.source_nodes:
        for quote in node.node.metadata["quotes"]:
            assert quote in node.node.get_content()
    quotes = [q for n in response.source_nodes for q in n.node.metadata["quotes"]]
    assert any(EXPORT_FACT in q for q in quotes)
    for c in meta["citations"]:
        assert c["citation"].startswith(c["title"]) and f"s. {c['page']}" in c["citation"]
    assert [n.node.node_id for n in meta["retrieved_nodes"]] == [
        h.chunk.chunk_id for h in answer.passages
    ]
    # the same answer asynchronously, and retrieval alone through the engine
    again = asyncio.run(engine.aquery(EXPORT_Q))
    assert again.response == answer.text
    assert [n.node.node_id for n in engine.retrieve(QueryBundle(EXPORT_Q))] == [
        h.chunk.chunk_id for h in corpus_assistant.retrieve(EXPORT_Q)
    ]


def test_query_engine_abstains_without_sources(corpus_assistant):
    response = HelseQueryEngine(corpus_assistant).query(
        "Hvor mange ansatte har Oslo Cancer Cluster?"
    )
    assert response.metadata["abstained"] and response.metadata["citations"] == []
    assert response.source_nodes == [] and response.metadata["retrieved_nodes"]
    assert str(response) == "Jeg fant ikke svar på dette i dokumentene."


def test_query_engine_llm_mode_returns_the_verified_answer(fake, corpus_settings, embedder):
    assistant = Assistant.open(llm_settings(corpus_settings, fake.url), embedder=embedder)
    try:
        n = next(
            i for i, h in enumerate(assistant.retrieve(EXPORT_Q), 1) if EXPORT_FACT in h.chunk.text
        )
        # the second sentence is not in the sources: verification flags it
        reply = (
            f"The export revenues were 23,6 milliarder kroner in 2017 [{n}]. "
            f"Exports were 99 milliarder kroner in 2030 [{n}]."
        )
        fake.script.extend([Reply(reply), Reply(reply)])
        answer = assistant.ask(EXPORT_Q)
        engine = HelseQueryEngine(assistant)
        before = _globals()
        response = engine.query(EXPORT_Q)
        assert _same(before, _globals())
    finally:
        assistant.close()
    assert len(fake.requests) == 2 and fake.requests[-1]["model"] == "scripted"
    meta = response.metadata
    assert response.response == answer.text and meta["mode"] == "llm"
    assert "1 of 2 sentences were supported" in meta["notice"]
    assert f"23,6 milliarder kroner in 2017 [{n}]" in str(response)
    assert [s["supported"] for s in meta["sentences"]] == [True, False]
    assert "99" in meta["sentences"][1]["reason"]
    [source] = response.source_nodes
    assert source.node.node_id == answer.passages[n - 1].chunk.chunk_id
    assert source.node.metadata["citation_numbers"] == [n]
    assert EXPORT_FACT in source.node.metadata["quotes"][0]
    assert [c["number"] for c in meta["citations"]] == [n]
    assert meta["citations"][0]["quote"] == source.node.metadata["quotes"][0]
