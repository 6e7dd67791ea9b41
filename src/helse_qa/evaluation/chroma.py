"""A real ``chroma run`` on a free loopback port, for the benchmark, the reliability report
and the client/server tests (one implementation of starting and stopping it)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from helse_qa.evaluation.local_server import LocalServer
from helse_qa.evaluation.measure import free_port


class ChromaServer(LocalServer):
    """``chroma run --path <folder>/data`` on 127.0.0.1; ``stop()`` ends it (idempotent).

    The server's output goes to ``<folder>/server.log``; it is named in the error when the
    server does not answer its heartbeat within ``timeout`` seconds.
    """

    def __init__(self, folder: Path, timeout: float = 60.0) -> None:
        exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        super().__init__(
            "chroma run",
            [
                exe,
                "run",
                "--path",
                str(folder / "data"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            folder / "server.log",
            f"{self.url}/api/v2/heartbeat",
            ready=lambda r: r.status == 200,
            timeout=timeout,
            interval=0.3,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
