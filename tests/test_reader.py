"""The shipped reader: loads offline from the packaged base model plus the repository's
trained delta, separates answer sentences from the others on held-out external questions
it never trained on, and fails with one clear error when its files are missing or broken."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helse_qa.errors import ModelPrepError
from helse_qa.models.reader import (
    DEFAULT_WEIGHTS_DIR,
    META_FILE,
    WEIGHTS_FILE,
    base_state,
    build_network,
    check_weights,
    describe,
    load_reader,
    pack_delta,
    sha256_file,
    unpack_delta,
)
from helse_qa.types import SentenceInContext

HELDOUT = Path(__file__).parent / "data" / "reader_heldout.json"


@pytest.fixture(scope="session")
def reader(model_dir: Path):
    return load_reader(model_dir)


def test_the_shipped_weights_are_small_and_fingerprinted() -> None:
    meta = check_weights(DEFAULT_WEIGHTS_DIR)
    size = sum(p.stat().st_size for p in DEFAULT_WEIGHTS_DIR.iterdir())
    assert size <= 25_000_000
    assert meta.fingerprint == sha256_file(DEFAULT_WEIGHTS_DIR / WEIGHTS_FILE)
    assert 0.0 < meta.threshold < 1.0
    info = describe()
    assert info["fingerprint"] == meta.fingerprint and info["layers"] == meta.layers


def test_the_reader_separates_answers_on_held_out_questions(reader) -> None:
    cases = json.loads(HELDOUT.read_text(encoding="utf-8"))["cases"]
    top1, gaps = [], []
    for case in cases:
        sentences = [SentenceInContext(**s) for s in case["sentences"]]
        p = np.array([s.p_answer for s in reader.score(case["question"], sentences)])
        answer = set(case["answer"])
        top1.append(int(np.argmax(p)) in answer)
        others = [p[i] for i in range(len(p)) if i not in answer]
        gaps.append(max(p[i] for i in answer) - (np.mean(others) if others else 0.0))
    # e5 cosine alone ranks the answer sentence first about half the time on NorQuAD
    assert np.mean(top1) >= 0.7
    assert np.mean(gaps) >= 0.3


def test_the_answer_phrase_lies_inside_the_sentence(reader) -> None:
    sentence = SentenceInContext(
        "De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017.", "", "Fakta"
    )
    (score,) = reader.score("Hvor store var eksportinntektene i 2017?", [sentence])
    assert score.span is not None
    a, b = score.span
    assert 0 <= a < b <= len(sentence.text)
    assert "23,6" in sentence.text[a:b]


def test_packing_keeps_what_training_changed(model_dir: Path) -> None:
    import torch

    net = build_network(model_dir, 1)
    base = base_state(net)
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.01)
    packed = pack_delta(net, base)
    assert all(v.dtype == np.int8 for k, v in packed.items() if k.endswith("::q"))
    fresh = build_network(model_dir, 1)
    unpack_delta(fresh, packed)
    for (name, a), (_, b) in zip(net.named_parameters(), fresh.named_parameters(), strict=True):
        # int8 per row: an error of at most half a step, a step being the row's largest
        # change / 127 (changes here are up to about 0.05)
        assert np.abs(a.detach().numpy() - b.detach().numpy()).max() < 5e-4, name


def test_missing_or_corrupt_weights_give_one_clear_error(tmp_path: Path, model_dir: Path) -> None:
    broken = tmp_path / "reader"
    shutil.copytree(DEFAULT_WEIGHTS_DIR, broken)
    (broken / WEIGHTS_FILE).write_bytes(b"not the weights")
    with pytest.raises(ModelPrepError, match=r"corrupt.*make train-reader"):
        load_reader(model_dir, broken)
    (broken / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelPrepError, match=r"missing.*reinstall"):
        load_reader(model_dir, broken)
    (broken / META_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(ModelPrepError, match="reader description"):
        check_weights(broken)


def test_the_cli_names_the_reader_and_its_broken_files(tmp_path: Path) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "helse_qa", "models"], capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0
    assert check_weights(DEFAULT_WEIGHTS_DIR).fingerprint in shown.stdout
    assert "chooses the first quote" in shown.stdout  # what it does by default
    assert "answer, 'not sure' or decline" in shown.stdout
    off = {
        **__import__("os").environ,
        "HELSE_QA_READER_ORDERS": "false",
        "HELSE_QA_ANSWER_CONFIDENCE": "false",
    }
    plain = subprocess.run(
        [sys.executable, "-m", "helse_qa", "models"],
        capture_output=True,
        text=True,
        timeout=120,
        env=off,
    )
    assert "reader used:     not used" in plain.stdout
    broken = tmp_path / "reader"
    shutil.copytree(DEFAULT_WEIGHTS_DIR, broken)
    (broken / WEIGHTS_FILE).unlink()
    env = {**__import__("os").environ, "HELSE_QA_READER_WEIGHTS": str(broken)}
    asked = subprocess.run(
        [sys.executable, "-m", "helse_qa", "--index-dir", str(tmp_path / "none"), "models"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "not usable" in asked.stdout and "make train-reader" in asked.stdout


def test_the_numpy_runtime_reads_as_torch_does_on_uneven_batches(reader, model_dir: Path) -> None:
    """The default numpy forward packs the real tokens of a batch (no padding computed):
    its probabilities, answer phrases and phrase probabilities are the torch network's,
    on a batch whose sentences differ in length from a few tokens to the truncation."""
    cases = json.loads(HELDOUT.read_text(encoding="utf-8"))["cases"][:6]
    torch_reader = load_reader(model_dir, runtime="torch")
    long = SentenceInContext("Helseindustrien " * 120 + "vokste.", "Forrige setning.", "Fakta")
    short = SentenceInContext("Ja.", "", "")
    compared = 0
    for case in cases:
        sentences = [*[SentenceInContext(**s) for s in case["sentences"]][:5], long, short]
        fast = reader.score(case["question"], sentences)
        slow = torch_reader.score(case["question"], sentences)
        for a, b in zip(fast, slow, strict=True):
            assert abs(a.p_answer - b.p_answer) < 1e-3
            assert a.span == b.span
            assert abs(a.span_p - b.span_p) < 1e-3
            compared += 1
    assert compared >= 30
