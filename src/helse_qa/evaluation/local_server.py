"""A server process on a free loopback port, started and waited for in one way: its output
goes to a log file, it is ready when a probe URL answers, and ``stop()`` ends it. The Chroma
server and the llama.cpp server are both this."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from http.client import HTTPResponse
from pathlib import Path

from helse_qa.closing import Closing


class LocalServer(Closing):
    """``command`` (``name`` in errors), its output in ``log_path``. The constructor returns
    once ``ready`` accepts the response of ``probe_url`` (tried every ``interval`` seconds)
    and raises, naming the log, when the process ends or ``timeout`` seconds pass first.
    ``stop()`` (also ``close()`` and the end of ``with``) is idempotent."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        probe_url: str,
        *,
        ready: Callable[[HTTPResponse], bool],
        timeout: float,
        interval: float,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            list(command), stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(probe_url, timeout=2) as r:
                    if ready(r):
                        return
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start: see {self._log_path}")
            time.sleep(interval)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def close(self) -> None:
        self.stop()
