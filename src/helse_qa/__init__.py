"""helse-qa: bilingual question answering with verifiable citations.

The public API is small::

    from helse_qa import Assistant, Settings
    assistant = Assistant.open(Settings.load(), ingest_if_missing=True)
    answer = assistant.ask("Hvor store var eksportinntektene i 2017?")
    answer.text, answer.citations, answer.abstained, answer.passages

Heavy libraries (torch, sentence-transformers, chromadb) are imported only when needed.
Importing the package changes nothing in the host process (no environment variables):
the offline defaults (:mod:`helse_qa.offline`) are applied right before the heavy imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"
__all__ = ["Answer", "Assistant", "Citation", "Hit", "Settings", "__version__"]

if TYPE_CHECKING:
    from helse_qa.assistant import Assistant
    from helse_qa.config import Settings
    from helse_qa.types import Answer, Citation, Hit


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from helse_qa.assistant import Assistant

        return Assistant
    if name == "Settings":
        from helse_qa.config import Settings

        return Settings
    if name in ("Answer", "Citation", "Hit"):
        from helse_qa import types

        return getattr(types, name)
    raise AttributeError(f"module 'helse_qa' has no attribute {name!r}")
