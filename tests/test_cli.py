"""The installed ``helse-qa`` command, run as a user would (fresh processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tests.helpers import run_helse_qa


def _run(args, settings, timeout=180):
    env = {
        **os.environ,
        "HELSE_QA_INDEX_DIR": str(settings.index_dir),
        "HELSE_QA_DOCUMENTS_DIR": str(settings.documents_dir),
    }
    return run_helse_qa(*args, env=env, timeout=timeout)


def test_ask_readable_and_json(corpus_settings, corpus_assistant):
    out = _run(["ask", "Hvor store var eksportinntektene i 2017?"], corpus_settings)
    assert out.returncode == 0, out.stderr
    assert "23,6 milliarder kroner" in out.stdout and "[1]" in out.stdout
    assert "Traceback" not in out.stderr

    out = _run(
        ["ask", "How many members will the merged cluster have?", "--json", "--k", "3"],
        corpus_settings,
    )
    data = json.loads(out.stdout)
    assert data["abstained"] is False
    assert len(data["passages"]) == 3
    assert data["citations"][0]["quote"] in data["answer"]


def test_usage_error_exits_2(corpus_settings):
    out = _run(["ask"], corpus_settings)
    assert out.returncode == 2
    out = _run(["no-such-command"], corpus_settings)
    assert out.returncode == 2


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_one_line_error(corpus_settings, corpus_assistant, question):
    out = _run(["ask", question], corpus_settings)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error:") and "empty" in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_missing_documents_folder_is_one_line_error(tmp_path):
    from helse_qa.config import Settings

    settings = Settings(documents_dir=tmp_path / "nope", index_dir=tmp_path / "index")
    out = _run(["ingest", "--no-progress"], settings)
    assert out.returncode == 1
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_chat_keeps_the_conversation(corpus_settings, corpus_assistant):
    env = {**os.environ, "HELSE_QA_INDEX_DIR": str(corpus_settings.index_dir)}
    out = run_helse_qa(
        "chat",
        input="Hvor store var eksportinntektene i 2017?\n\nWhen does the merger take effect?\n",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "23,6 milliarder kroner" in out.stdout
    assert "January 1, 2025" in out.stdout


def test_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "helse_qa", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    for command in ("ingest", "ask", "chat", "eval", "serve", "models"):
        assert command in out.stdout
