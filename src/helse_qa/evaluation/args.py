"""Command-line pieces shared by ``helse-qa`` and the measurement modules run with
``python -m helse_qa.evaluation.NAME`` (standard library only)."""

from __future__ import annotations

import argparse
from pathlib import Path


def module_parser(name: str, description: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m helse_qa.evaluation.<name>``, described by the first
    paragraph of ``description`` (the module's docstring, say)."""
    return argparse.ArgumentParser(
        prog=f"python -m helse_qa.evaluation.{name}",
        description=(description or "").split("\n\n")[0],
    )


def path_arg(parser: argparse.ArgumentParser, flag: str, default: str | None, help: str) -> None:
    """An option ``flag`` that takes a path, ``Path(default)`` when not given (``None``: no
    default); ``help`` may name the default as ``%(default)s``."""
    parser.add_argument(
        flag, type=Path, default=None if default is None else Path(default), help=help
    )
