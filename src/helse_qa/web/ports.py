"""Which port the web app serves on, decided before anything slow happens.

Gradio's own answer to a taken port is a stack trace that suggests GRADIO_SERVER_PORT
(which helse-qa never reads). Here the port is tried first: a port the user chose
(``--port``, ``make run PORT=``, ``HELSE_QA_PORT``, ``helse-qa.toml``) that is taken is one
error line with a free port to use instead; the default port, when taken, gives way to the
next free one (7861, 7862, ... up to 7960), said in the line that gives the address.

Only the standard library: the CLI imports this before the model and Gradio load.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

from helse_qa.errors import PortError

FALLBACK_PORTS = 100  # the default port gives way to one of the next 100 (7861..7960)
GRADIO_CHECK_HOST = "127.0.0.1"  # Gradio tries every port here too, whatever the host

PortTest = Callable[[str, int], bool]


def _bind_host(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _try_bind(host: str, port: int) -> None:
    """Bind and close, as uvicorn binds: SO_REUSEADDR (a port in TIME_WAIT is free)."""
    host = _bind_host(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


def port_in_use(host: str, port: int) -> bool:
    """True when another program holds ``port`` on ``host`` (or on 127.0.0.1, which Gradio
    checks before it binds ``host``).

    Other bind failures (a port below 1024 without root, a host that is not this machine's)
    raise :class:`PortError` with a one-line message.
    """
    for where in dict.fromkeys((host, GRADIO_CHECK_HOST)):
        try:
            _try_bind(where, port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            reason = exc.strerror or str(exc)
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise PortError(
                    f"cannot serve on port {port} ({reason}) - ports below 1024 need root; "
                    f"choose one above, e.g. {_how_to_choose(8080)}"
                ) from exc
            raise PortError(
                f"cannot serve on {where} ({reason}) - the host must be an address of this "
                "machine, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface): "
                "make run HOST=... / helse-qa serve --host ..."
            ) from exc
    return False


def serve_url(host: str, port: int) -> str:
    """The address to open in a browser (IPv6 hosts in brackets)."""
    host = _bind_host(host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def next_free_port(
    host: str, port: int, *, tries: int = FALLBACK_PORTS, in_use: PortTest = port_in_use
) -> int | None:
    """The first free port after ``port`` (at most ``tries`` further on), or None."""
    for candidate in range(port + 1, min(port + tries, 65535) + 1):
        if not in_use(host, candidate):
            return candidate
    return None


def _any_free_port(host: str) -> int:
    """A port the operating system says is free on ``host`` right now."""
    host = _bind_host(host)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _how_to_choose(port: int) -> str:
    return f"make run PORT={port} / helse-qa serve --port {port}"


def choose_port(
    host: str, port: int, *, chosen: bool, in_use: PortTest = port_in_use
) -> tuple[int, str | None]:
    """The port to serve on, and a note when it is not ``port``.

    ``chosen``: the user asked for this port (flag, make variable, environment or settings
    file). A chosen port that is taken raises :class:`PortError` naming a free port; the
    default port, when taken, gives way to the next free one of the following
    :data:`FALLBACK_PORTS`.
    """
    if not in_use(host, port):
        return port, None
    free = next_free_port(host, port, in_use=in_use)
    if chosen or free is None:
        suggestion = free if free is not None else _any_free_port(host)
        taken = (
            f"port {port} on {host} is in use"
            if chosen
            else f"ports {port}-{min(port + FALLBACK_PORTS, 65535)} on {host} are all in use"
        )
        raise PortError(
            f"{taken} - stop the other program or choose another: {_how_to_choose(suggestion)}"
        )
    return free, f"port {port} is in use; serving on {serve_url(host, free)} instead"
