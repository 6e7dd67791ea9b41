"""A busy port (issue 13 item 7): one clear line, or the next free port, said clearly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helse_qa.config import Settings
from helse_qa.errors import PortError
from helse_qa.web import ports

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def busy_port():
    """A port some other program listens on (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _serve(tmp_path, *args, env=None):
    """``helse-qa serve`` as a user runs it, on an empty tmp index (the port is tried first)."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "HELSE_QA_PORT"},
        "HELSE_QA_INDEX_DIR": str(tmp_path / "index"),
        "HELSE_QA_DOCUMENTS_DIR": str(tmp_path / "no-documents"),
        **(env or {}),
    }
    exe = Path(sys.executable).parent / "helse-qa"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "helse_qa"]
    return subprocess.run(
        [*cmd, "serve", *args], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )


def _assert_one_line_busy(out, port):
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    line = lines[0]
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert "Traceback" not in out.stderr and "GRADIO_SERVER_PORT" not in out.stderr
    suggested = int(line.rsplit("--port ", 1)[1])
    assert suggested != port and f"make run PORT={suggested}" in line
    assert not ports.port_in_use("127.0.0.1", suggested)


def test_chosen_busy_port_is_one_line_with_a_free_port(tmp_path, busy_port):
    _assert_one_line_busy(_serve(tmp_path, "--port", str(busy_port)), busy_port)


def test_busy_port_from_the_environment_is_chosen_too(tmp_path, busy_port):
    out = _serve(tmp_path, env={"HELSE_QA_PORT": str(busy_port)})
    _assert_one_line_busy(out, busy_port)


def test_port_in_use(busy_port):
    assert ports.port_in_use("127.0.0.1", busy_port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert not ports.port_in_use("127.0.0.1", free)


def test_host_not_of_this_machine_is_one_line():
    with pytest.raises(PortError, match="address of this machine"):
        ports.port_in_use("192.0.2.1", 7860)  # TEST-NET-1: never a local address


def test_default_port_gives_way_to_the_next_free_one():
    taken = {7860, 7861}
    port, note = ports.choose_port("127.0.0.1", 7860, chosen=False, in_use=lambda h, p: p in taken)
    assert port == 7862
    assert note == "port 7860 is in use; serving on http://127.0.0.1:7862 instead"


def test_free_port_is_kept_without_a_note():
    assert ports.choose_port("127.0.0.1", 7860, chosen=False, in_use=lambda h, p: False) == (
        7860,
        None,
    )


def test_chosen_busy_port_suggests_the_next_free_one():
    with pytest.raises(PortError) as err:
        ports.choose_port("127.0.0.1", 8080, chosen=True, in_use=lambda h, p: p in {8080, 8081})
    assert str(err.value) == (
        "port 8080 on 127.0.0.1 is in use - stop the other program or choose another: "
        "make run PORT=8082 / helse-qa serve --port 8082"
    )


def test_every_fallback_port_taken_is_one_line():
    with pytest.raises(PortError, match=r"ports 7860-7960 on 127.0.0.1 are all in use"):
        ports.choose_port("127.0.0.1", 7860, chosen=False, in_use=lambda h, p: True)


def test_ipv6_url_in_brackets():
    assert ports.serve_url("::1", 7860) == "http://[::1]:7860"


def test_only_a_set_port_counts_as_chosen(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no helse-qa.toml here
    monkeypatch.delenv("HELSE_QA_PORT", raising=False)
    monkeypatch.delenv("HELSE_QA_CONFIG", raising=False)
    assert "port" not in Settings.load().model_fields_set
    assert "port" in Settings.load(port=7860).model_fields_set
    monkeypatch.setenv("HELSE_QA_PORT", "8080")
    assert "port" in Settings.load().model_fields_set


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_passes_port_and_host_only_when_given():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PORT", "HOST", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    }

    def serve_line(*args, extra_env=None):
        out = subprocess.run(
            ["make", "-n", "run", *args],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
            env={**env, **(extra_env or {})},
        )
        assert out.returncode == 0, out.stderr
        return next(ln for ln in out.stdout.splitlines() if "helse-qa serve" in ln)

    assert serve_line("PORT=8080").endswith("helse-qa serve --ingest --port 8080")
    assert serve_line("PORT=8080", "HOST=0.0.0.0").endswith("--port 8080 --host 0.0.0.0")
    assert serve_line().endswith("helse-qa serve --ingest")
    # A HOST or PORT in the environment (tcsh exports HOST) is not passed on.
    assert serve_line(extra_env={"HOST": "myhost", "PORT": "1"}).endswith("helse-qa serve --ingest")
