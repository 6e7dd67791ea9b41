"""Small measuring tools shared by the benchmarks, the reliability harness and the tests:
free loopback ports and one percentile definition (nearest rank: a value that was measured).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank: always one of the measured values."""
    if not values:
        raise ValueError("nearest_rank of no values - measure something first")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
