"""A real ``chroma run`` on a free loopback port, for the benchmark, the reliability report
and the client/server tests (one implementation of starting and stopping it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from helse_qa.evaluation.measure import free_port


class ChromaServer:
    """``chroma run --path <folder>/data`` on 127.0.0.1; ``stop()`` ends it (idempotent).

    The server's output goes to ``<folder>/server.log``; it is named in the error when the
    server does not answer its heartbeat within ``timeout`` seconds.
    """

    def __init__(self, folder: Path, timeout: float = 60.0) -> None:
        exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._log_path = folder / "server.log"
        self._log = self._log_path.open("wb")
        self.proc = subprocess.Popen(
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
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma run did not start: see {self._log_path}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> ChromaServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
