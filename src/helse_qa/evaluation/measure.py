"""Small measuring tools shared by the benchmarks, the reliability harness and the tests:
free loopback ports, one percentile definition (nearest rank: a value that was measured) and
the timing of a ``helse-qa`` command in a fresh process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

STAGES = ("embed", "retrieve", "answer")


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank: always one of the measured values."""
    if not values:
        raise ValueError("nearest_rank of no values - measure something first")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_asks(
    assistant: Any, asked: Sequence[tuple[str, Sequence[Mapping[str, str]]]]
) -> tuple[list[float], dict[str, list[float]]]:
    """Ask each (question, conversation before it) once: the ms each answer took, and the ms
    of each stage of :data:`STAGES` per answer (``Answer.timings_ms``)."""
    totals: list[float] = []
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    for question, history in asked:
        t0 = time.perf_counter()
        answer = assistant.ask(question, history=history)
        totals.append((time.perf_counter() - t0) * 1000)
        for k in STAGES:
            stages[k].append(answer.timings_ms[k])
    return totals, stages


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def helse_qa_env(index_dir: Path, documents: Path) -> dict[str, str]:
    """This process's environment with helse-qa's index and documents folders set."""
    return {
        **os.environ,
        "HELSE_QA_INDEX_DIR": str(index_dir),
        "HELSE_QA_DOCUMENTS_DIR": str(documents),
    }


def time_helse_qa(*args: str, env: Mapping[str, str]) -> float:
    """Seconds that ``helse-qa ARGS`` takes in a fresh process (its output captured; an
    error exit raises ``CalledProcessError``)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "helse_qa", *args], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - started
