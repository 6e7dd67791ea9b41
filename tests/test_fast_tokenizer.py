"""The reader's fast tokenizer gives exactly the ids and offsets of ``Tokenizer.from_file``.

Real Norwegian and English sentences from documents/ and ../shared/sources (plus NorQuAD and
SQuAD passages when ../shared/benchmarks is here), alone, as the reader's (question,
sentence || context) pairs, and long enough to be truncated.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import DOCUMENTS, ROOT

from helse_qa.models import fast_tokenizer
from helse_qa.models.fast_tokenizer import CACHE_FILE, FastTokenizer, FileTokenizer, load_tokenizer

SHARED = ROOT.parent / "shared"
ODD = [
    "",
    " ",
    "<s>hei</s> og <mask>  dobbel  mellomrom \t tab\u00a0nbsp, ﬁne ligaturer",
    "ukjente tegn: 漢字 ấ ☃ \U0001f600 <unk>x<pad>",
    "  leading spaces and ▁ a marker ▁▁ inside  ",
    "Æ Ø Å æ ø å é ü – “sitat” … 1 234,5 mrd. kr (2017)",
]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.strip()) > 1]


def _real_sentences() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(DOCUMENTS.glob("*.txt"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((SHARED / "sources").glob("*.txt"))]
    norquad = SHARED / "benchmarks" / "norquad" / "validation_dataset_flattened.json"
    squad = SHARED / "benchmarks" / "squad" / "dev-v1.1.json"
    if norquad.is_file():
        rows = json.loads(norquad.read_text(encoding="utf-8"))["data"]
        texts += list(dict.fromkeys(p["context"] for r in rows for p in r["paragraphs"]))[:40]
    if squad.is_file():
        articles = json.loads(squad.read_text(encoding="utf-8"))["data"]
        texts += [p["context"] for a in articles[:8] for p in a["paragraphs"][:5]]
    sentences = list(dict.fromkeys(s for t in texts for s in _sentences(t)))
    random.Random(35).shuffle(sentences)
    return sentences[:600]


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    found = _real_sentences()
    assert len(found) >= 300, "documents/ should give a few hundred sentences"
    return found


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    return tok


def _same(fast: FastTokenizer, reference: Any, items: list[Any], max_length: int | None) -> None:
    if max_length is None:
        reference.no_truncation()
    else:
        reference.enable_truncation(max_length, strategy="only_second")
    for lo in range(0, len(items), 16):
        batch = items[lo : lo + 16]
        got = fast.encode_batch(batch)
        want = reference.encode_batch(batch)
        for item, g, w in zip(batch, got, want, strict=True):
            assert g.ids == w.ids, item
            assert g.offsets == [tuple(o) for o in w.offsets], item
            assert g.sequence_ids == w.sequence_ids, item


def test_single_texts_match_from_file(
    model_dir: Path, reference: Any, sentences: list[str]
) -> None:
    fast = FastTokenizer(model_dir / CACHE_FILE)
    items = ODD + sentences + ["query: " + s for s in sentences[:100]]
    _same(fast, reference, items, None)


def test_reader_pairs_match_from_file_including_truncation(
    model_dir: Path, reference: Any, sentences: list[str]
) -> None:
    from helse_qa.models.reader import pair_text
    from helse_qa.types import SentenceInContext

    rng = random.Random(5)
    questions = [s for s in sentences if len(s) < 120][:60] + ODD
    pairs = [
        pair_text(rng.choice(questions), SentenceInContext(s, prev, "Innledning"), "prev")
        for prev, s in itertools.pairwise(sentences)
    ]
    long_text = " ".join(sentences[:80])  # thousands of tokens: cut at max_length
    pairs += [("query: " + q, "passage: " + long_text) for q in questions[:10]]
    pairs += [(a, b) for a in ODD for b in ODD]
    for max_length in (160, 48):
        fast = FastTokenizer(model_dir / CACHE_FILE, max_length)
        _same(fast, reference, pairs, max_length)


def test_the_reader_uses_the_fast_form(model_dir: Path) -> None:
    from helse_qa.models.reader import load_reader

    reader = load_reader(model_dir)
    assert isinstance(reader._tokenizer, FastTokenizer)
    assert fast_tokenizer.cache_is_fresh(model_dir)


def _tiny_unigram(path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = [("<unk>", 0.0), ("▁", -2.0), ("▁hei", -1.0), ("h", -3.0), ("e", -3.0), ("i", -3.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.save(str(path / "tokenizer.json"))


def test_the_cache_follows_its_tokenizer_json(tmp_path: Path) -> None:
    _tiny_unigram(tmp_path)
    first = load_tokenizer(tmp_path)
    assert isinstance(first, FastTokenizer) and fast_tokenizer.cache_is_fresh(tmp_path)
    assert first.encode("hei hi").ids == [2, 1, 3, 5]

    # a new tokenizer.json (another conversion) makes the cache stale: it is rebuilt
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    data["model"]["vocab"][2][1] = -20.0  # now "▁" + "h" + "e" + "i" wins
    (tmp_path / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    os.utime(tmp_path / "tokenizer.json", ns=(1, 1))
    assert not fast_tokenizer.cache_is_fresh(tmp_path)
    again = load_tokenizer(tmp_path)
    assert fast_tokenizer.cache_is_fresh(tmp_path)
    assert again.encode("hei").ids == [1, 3, 4, 5]


def test_other_tokenizers_are_parsed_as_before(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hei": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    loaded = load_tokenizer(tmp_path)
    assert isinstance(loaded, FileTokenizer)
    assert loaded.encode("hei du").ids == [1, 0]
    assert not (tmp_path / CACHE_FILE).exists()
