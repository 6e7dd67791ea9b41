"""LLM mode (``answer_mode = "llm"``): a language model writes the answer from the
retrieved passages, and every sentence is checked against them (:mod:`.verify`) *while it
streams*; only checked sentences are passed on. The extractive answer is the fallback.

Also the follow-up rewrite: the model turns a follow-up into a standalone question
(:func:`condense`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from helse_qa.answering.guard import StreamGuard, guarded
from helse_qa.answering.prompts import answer_messages, condense_messages, fold_system
from helse_qa.answering.retrieve import Retriever
from helse_qa.answering.verify import SentenceChecker, StreamChecker, cite
from helse_qa.config import Settings
from helse_qa.errors import LLMError
from helse_qa.messages import (
    ABSTAIN_MESSAGES,
    FALLBACK_CONDENSE,
    LLM_PARTIAL,
    LLM_REJECTED,
    LLM_STOPPED,
    say,
)
from helse_qa.models.embedding import Embedder
from helse_qa.models.llm import LLM
from helse_qa.types import Answer, Hit, SentenceCheck

log = logging.getLogger(__name__)


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def _rejected(reason: str, language: str, **values: Any) -> str:
    """Why the language model's answer is not shown, in the question's language."""
    why = say(LLM_STOPPED[reason], language).format(**values)
    return say(LLM_REJECTED, language).format(why=why)


def _partial(reason: str, language: str, **values: Any) -> str:
    """Why only part of the language model's answer is shown (its checked sentences)."""
    why = say(LLM_STOPPED[reason], language).format(**values)
    return say(LLM_PARTIAL, language).format(why=why)


def says_abstain(text: str) -> bool:
    """The model's text is (or holds) the rules' one line for "not in the documents"."""
    said = _normalise(text)
    return any(_normalise(m) in said for m in ABSTAIN_MESSAGES.values() if said)


def for_template(messages: list[dict[str, str]], settings: Settings) -> list[dict[str, str]]:
    """The messages as the model's chat template can take them: with
    ``llm_system_role = False`` the rules open the user's message instead (Gemma's
    template, as llama.cpp applies it, drops a system message without a word)."""
    return messages if settings.llm_system_role else fold_system(messages)


def condense(
    llm: LLM,
    settings: Settings,
    question: str,
    history: Sequence[Mapping[str, str]],
    notices: list[str],
) -> str:
    """A standalone version of a follow-up question, written by the LLM ("" when it
    failed: the notice says so and the turns-prefixed query is used)."""
    try:
        messages = condense_messages(question, [dict(t) for t in history])
        rewritten = llm.complete(for_template(messages, settings)).strip()
    except LLMError as exc:
        notices.append(f"{exc} - {FALLBACK_CONDENSE}")
        return ""
    return rewritten if 0 < len(rewritten) <= settings.max_question_chars else ""


def llm_answer(
    llm: LLM,
    settings: Settings,
    embedder: Embedder,
    retriever: Retriever,
    extractive: Answer,
    hits: Sequence[Hit],
) -> Generator[str, None, Answer]:
    """Stream the model's answer under a guard (deadline, length, loops, echoes) and
    check it sentence by sentence *while it streams*: a sentence is passed on only once
    it is complete and the check has passed it, so nothing unchecked is ever shown. An
    unsupported sentence is never streamed (the final answer flags or drops it, a
    setting). When nothing could be shown (stopped early, nothing supported), LLMError
    with a line in the question's language, and the caller shows the extractive answer;
    once a checked sentence has been shown, the answer keeps it (with a notice) instead
    of being replaced by the extractive one."""
    language = extractive.language
    messages = for_template(answer_messages(extractive.question, hits, language), settings)
    rules = answer_messages(extractive.question, [], language)[0]["content"]
    for said in ABSTAIN_MESSAGES.values():  # the one line of the rules an answer may be
        rules = rules.replace(said, "|")
    guard = StreamGuard(
        deadline=settings.llm_deadline, max_chars=6 * settings.llm_max_tokens, echo_of=rules
    )
    checker = StreamChecker(
        SentenceChecker(hits, embedder, retriever.store, retriever.lexical.analyzer, settings)
    )
    shown: list[SentenceCheck] = []

    def passed(checks: Sequence[SentenceCheck]) -> Iterator[str]:
        for check in checks:
            if check.supported and not says_abstain(check.text):
                yield (" " if shown else "") + check.text
                shown.append(check)

    written = ""
    for delta in guarded(llm.stream(messages), guard):
        written += delta
        yield from passed(checker.feed(written))
    notice = ""
    if guard.stopped is not None:
        log.warning("LLM answer stopped (%s) at %d characters", guard.stopped, len(guard.text))
        if not shown:
            raise LLMError(_rejected(guard.stopped, language, seconds=settings.llm_deadline))
        notice = _partial(guard.stopped, language, seconds=settings.llm_deadline)
    else:
        raw = guard.kept
        if not raw:
            raise LLMError("the language model returned an empty or malformed answer")
        yield from passed(checker.finish(raw))
        if not shown and says_abstain(raw):
            return replace(
                extractive,
                text=say(ABSTAIN_MESSAGES, language),
                citations=(),
                abstained=True,
                mode="llm",
                language_note="",
            )
    if checker.removed:
        log.info("removed citation markers to missing passages: %s", checker.removed)
    checks = [c for c in checker.checks if not says_abstain(c.text)]
    if not shown:
        raise LLMError(_rejected("unsupported", language))
    if not notice and len(shown) < len(checks):
        notice = _partial("few-supported", language, supported=len(shown), total=len(checks))
    text, citations = cite(checks, hits, retriever.lexical.analyzer, settings)
    return replace(
        extractive,
        text=text,
        citations=citations,
        abstained=False,
        mode="llm",
        language_note="",
        # "flag": every verdict, the failed ones listed apart; "drop": the failed ones unseen
        sentences=tuple(
            c for c in checks if c.supported or settings.unsupported_sentences == "flag"
        ),
        notice=notice,
    )
