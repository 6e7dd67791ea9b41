"""Watch a language model's answer while it streams, and stop it when it goes wrong.

A weak, overloaded or misconfigured model is normal in practice: a small local model that
loops, a wrong chat template that makes it echo the prompt's structure ("Question: ...",
"<passage ...>", turn markers), a server that never stops. :class:`StreamGuard` is fed the
deltas as they arrive and says when to stop and why; the text it keeps is what came before
the problem. Pure text rules, no model: each is one line of evidence a reader can check.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from helse_qa.models.llm import SERVER_STOPS

# Text that never belongs in an answer but shows a model echoing its prompt or template:
# the stop sequences sent to the server (it may ignore them), and more.
ECHO_MARKERS = (
    *SERVER_STOPS,
    "</passage",
    "<passages>",
    "Spørsmål:",
    "<end_of_turn>",
    "<|im_start|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "[INST]",
    "\nUser:",
    "\nuser:",
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_WORD = re.compile(r"\w+", re.UNICODE)

# Reasons, as the notice names them (keys of STOP_REASONS in messages).
ECHO = "echo"
REPETITION = "repetition"
NO_CITATIONS = "no-citations"
TOO_LONG = "too-long"
DEADLINE = "deadline"


@dataclass
class StreamGuard:
    """Feed it deltas; ``stopped`` says why the stream must end (None: go on).

    - ``echo``: the text contains a marker of the prompt or chat template, or an
      ``ngram``-word sequence of ``echo_of`` (the prompt's rules: never part of an answer);
    - ``repetition``: a sentence of at least ``min_words`` words comes again, or an
      ``ngram``-word sequence occurs ``ngram_repeats`` times;
    - ``no-citations``: ``uncited_sentences`` complete sentences without any ``[n]`` marker;
    - ``too-long``: more than ``max_chars`` characters (the server may ignore max_tokens);
    - ``deadline``: ``deadline`` seconds since the guard was made (checked on every delta
      and by :meth:`check_time`).
    """

    deadline: float = 45.0
    max_chars: int = 2400
    uncited_sentences: int = 3
    min_words: int = 4
    ngram: int = 8
    ngram_repeats: int = 3
    echo_of: str = ""
    started: float = field(default_factory=time.monotonic)
    text: str = ""
    stopped: str | None = None
    _kept: int | None = None
    _rules: set[tuple[str, ...]] = field(default_factory=set)

    def __post_init__(self) -> None:
        words = _WORD.findall(self.echo_of.lower())
        self._rules = {tuple(words[i : i + self.ngram]) for i in range(len(words) - self.ngram + 1)}

    def feed(self, delta: str) -> str | None:
        """Add ``delta``; return the stop reason once there is one."""
        if self.stopped is None:
            self.text += delta
            self._check()
        return self.stopped

    def check_time(self) -> str | None:
        """Stop for the deadline even when no delta arrives (called by the reader's wait)."""
        if self.stopped is None and time.monotonic() - self.started > self.deadline:
            self._stop(DEADLINE, len(self.text))
        return self.stopped

    @property
    def kept(self) -> str:
        """The text before the problem (all of it while the stream goes on)."""
        end = len(self.text) if self._kept is None else self._kept
        return self.text[:end].strip()

    def _stop(self, reason: str, keep: int) -> None:
        self.stopped = reason
        self._kept = keep

    def _check(self) -> None:
        text = self.text
        echo = [text.find(m) for m in ECHO_MARKERS if m in text]
        if echo:
            self._stop(ECHO, min(echo))
            return
        if self.check_time():
            return
        spans = [(m.start(), m.group().lower()) for m in _WORD.finditer(text)]
        for i in range(len(spans) - self.ngram + 1) if self._rules else ():
            if tuple(w for _, w in spans[i : i + self.ngram]) in self._rules:
                self._stop(ECHO, spans[i][0])
                return
        if len(text) > self.max_chars:
            self._stop(TOO_LONG, self.max_chars)
            return
        sentences = _complete_sentences(text)
        seen: dict[str, int] = {}
        offset = 0
        for sentence in sentences:
            offset = text.find(sentence, offset)
            key = " ".join(_WORD.findall(_MARKER.sub("", sentence).lower()))
            if len(key.split()) >= self.min_words:
                if key in seen:
                    self._stop(REPETITION, offset)
                    return
                seen[key] = offset
            offset += len(sentence)
        words = _WORD.findall(text.lower())
        grams = Counter(
            tuple(words[i : i + self.ngram]) for i in range(len(words) - self.ngram + 1)
        )
        if grams and max(grams.values()) >= self.ngram_repeats:
            self._stop(REPETITION, _first_repeat_end(text, self.ngram))
            return
        if len(sentences) >= self.uncited_sentences and not _MARKER.search(text):
            self._stop(NO_CITATIONS, len(text))


def _complete_sentences(text: str) -> list[str]:
    """The sentences of ``text`` that are finished (the last piece may still grow)."""
    pieces = [p for p in _SENTENCE_END.split(text) if p.strip()]
    if pieces and not re.search(r"[.!?]\s*$|\n\s*$", text):
        pieces = pieces[:-1]
    return [p.strip() for p in pieces]


def _first_repeat_end(text: str, n: int) -> int:
    """Where the first n-gram's second occurrence starts: the text before it is kept."""
    spans = [(m.start(), m.group().lower()) for m in _WORD.finditer(text)]
    seen: set[tuple[str, ...]] = set()
    for i in range(len(spans) - n + 1):
        gram = tuple(w for _, w in spans[i : i + n])
        if gram in seen:
            return spans[i][0]
        seen.add(gram)
    return len(text)


_END = object()


def guarded(stream: Iterator[str], guard: StreamGuard, poll: float = 0.25) -> Iterator[str]:
    """The deltas of ``stream`` that ``guard`` lets through, read in a thread so that the
    deadline holds even while the server sends nothing. Stops at the first problem (the
    delta that shows it is not passed on) and lets go of the stream: the reader closes it
    after its next delta, which ends the HTTP request. Errors of the stream are raised here.
    """
    items: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        try:
            for delta in stream:
                items.put(delta)
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the caller's thread
            items.put(exc)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # a half-read response: best effort
                    close()
            items.put(_END)

    reader = threading.Thread(target=read, name="llm-stream", daemon=True)
    reader.start()
    try:
        while True:
            try:
                item = items.get(timeout=poll)
            except queue.Empty:
                if guard.check_time():
                    return
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, str)
            if guard.feed(item):
                return
            yield item
    finally:
        stop.set()
