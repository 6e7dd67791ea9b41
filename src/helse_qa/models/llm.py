"""Optional LLM backends, built explicitly through llama-index's LLM classes.

Only the URL given in settings is contacted: ``OpenAILike`` for any OpenAI-compatible
server (vLLM, llama.cpp server, LM Studio, OpenAI) and ``Ollama``. Nothing here touches
llama-index's global ``Settings``. Every failure becomes an :class:`LLMError` with a
readable message; the assistant then falls back to the extractive answer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from helse_qa import offline
from helse_qa.config import Settings
from helse_qa.errors import LLMError

# Sent as stop sequences: where a model starts echoing the prompt's structure or its chat
# template's turn markers, the answer is over (OpenAI accepts at most four). The stream
# guard (answering/guard.py) watches for these and more on our side too.
SERVER_STOPS = ["<passage", "Question:", "[/INST]", "<start_of_turn>"]

log = logging.getLogger(__name__)


class LLM(Protocol):
    """What the assistant needs from a chat model."""

    name: str

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]: ...

    def complete(self, messages: Sequence[dict[str, str]]) -> str: ...


def _describe(exc: BaseException, settings: Settings) -> str:
    """One readable line for an exception raised by a client library."""
    name = type(exc).__name__
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    lowered = f"{name} {text}".lower()
    where = settings.llm_base_url or settings.llm_backend
    if "timeout" in lowered or "timed out" in lowered:
        return f"the language model at {where} did not answer within {settings.llm_timeout:g} s"
    if "ratelimit" in lowered or "429" in lowered or "rate limit" in lowered:
        return f"the language model at {where} is rate-limiting requests (429); try again later"
    if "connect" in lowered or "refused" in lowered or "unreachable" in lowered:
        return f"cannot reach the language model at {where} - is the server running?"
    return f"the language model at {where} failed ({name}: {text})"


class LlamaIndexLLM:
    """A llama-index LLM behind the small :class:`LLM` protocol."""

    def __init__(self, llm: Any, settings: Settings, name: str) -> None:
        self._llm = llm
        self._settings = settings
        self.name = name

    @staticmethod
    def _messages(messages: Sequence[dict[str, str]]) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        try:
            for chunk in self._llm.stream_chat(self._messages(messages)):
                delta = chunk.delta or ""
                if delta:
                    yield delta
        except LLMError:
            raise
        except Exception as exc:  # the seam: any client failure becomes one readable error
            log.info("LLM stream failed: %r", exc)
            raise LLMError(_describe(exc, self._settings)) from exc

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        try:
            response = self._llm.chat(self._messages(messages))
        except Exception as exc:  # the seam, as above
            log.info("LLM call failed: %r", exc)
            raise LLMError(_describe(exc, self._settings)) from exc
        content = response.message.content
        if not isinstance(content, str):
            raise LLMError("the language model returned no text (malformed response)")
        return content


def make_llm(settings: Settings) -> LLM:
    """Build the configured backend. The only place an LLM client is constructed."""
    offline.apply()
    if not settings.llm_model:
        raise LLMError("no LLM model configured - set HELSE_QA_LLM_MODEL (e.g. 'llama3.1:8b')")
    if settings.llm_backend == "ollama":
        from llama_index.llms.ollama import Ollama

        base = settings.llm_base_url or "http://127.0.0.1:11434"
        llm = Ollama(
            model=settings.llm_model,
            base_url=base,
            request_timeout=settings.llm_timeout,
            context_window=settings.llm_context_window,
            temperature=0.0,
            additional_kwargs={"num_predict": settings.llm_max_tokens, "stop": SERVER_STOPS},
        )
        return LlamaIndexLLM(llm, settings, f"ollama:{settings.llm_model}")
    from llama_index.llms.openai_like import OpenAILike

    api_base = settings.llm_base_url or os.environ.get("OPENAI_BASE_URL")
    if not api_base:
        raise LLMError(
            "no LLM server configured - set HELSE_QA_LLM_BASE_URL (e.g. http://127.0.0.1:8000/v1)"
        )
    key = settings.llm_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
    llm = OpenAILike(
        model=settings.llm_model,
        api_base=api_base,
        api_key=key,
        timeout=settings.llm_timeout,
        max_retries=0,
        is_chat_model=True,
        context_window=settings.llm_context_window,
        temperature=0.0,
        max_tokens=settings.llm_max_tokens,
        additional_kwargs={"stop": SERVER_STOPS},
    )
    return LlamaIndexLLM(llm, settings, f"openai:{settings.llm_model}")
