"""Hybrid fusion (answering/retrieve.py): both rankings count. Passages that only BM25 or
only the dense ranking knows must still reach the top k, and a passage both rank well wins."""

from __future__ import annotations

import pytest

from helse_qa.answering.retrieve import Retriever
from helse_qa.config import Settings
from helse_qa.types import Chunk


def _chunks(n: int) -> dict[str, Chunk]:
    return {
        f"d:{i:04d}": Chunk(f"d:{i:04d}", "d", "T", "nb", f"avsnitt {i}", 0, 10, None, (), i)
        for i in range(n)
    }


@pytest.fixture
def retriever():
    return Retriever(None, None, _chunks(12), Settings())  # type: ignore[arg-type]


def test_a_passage_only_bm25_finds_reaches_the_top(retriever):
    dense = [(f"d:{i:04d}", 0.9 - i / 100) for i in range(1, 9)]  # dense never sees d:0000
    lexical = [("d:0000", 12.0), *((f"d:{i:04d}", 1.0) for i in range(9, 12))]
    hits = retriever._fuse(dense, lexical, 3, "hybrid")
    assert "d:0000" in [h.chunk.chunk_id for h in hits]
    top = next(h for h in hits if h.chunk.chunk_id == "d:0000")
    assert top.lexical_rank == 1 and top.dense_rank is None


def test_a_passage_only_dense_finds_reaches_the_top(retriever):
    dense = [("d:0000", 0.95), *((f"d:{i:04d}", 0.5) for i in range(9, 12))]
    lexical = [(f"d:{i:04d}", 10.0 - i) for i in range(1, 9)]  # BM25 never sees d:0000
    hits = retriever._fuse(dense, lexical, 3, "hybrid")
    top = next(h for h in hits if h.chunk.chunk_id == "d:0000")
    assert top.dense_rank == 1 and top.lexical_rank is None


def test_agreement_beats_one_ranking_alone(retriever):
    dense = [("d:0001", 0.9), ("d:0002", 0.8), ("d:0003", 0.7)]
    lexical = [("d:0004", 9.0), ("d:0002", 8.0), ("d:0005", 7.0)]
    hits = retriever._fuse(dense, lexical, 3, "hybrid")
    assert hits[0].chunk.chunk_id == "d:0002"  # second in both beats first in one
    assert {h.chunk.chunk_id for h in hits[1:]} == {"d:0001", "d:0004"}


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_both_fusions_use_both_rankings(fusion):
    r = Retriever(None, None, _chunks(12), Settings(fusion=fusion))  # type: ignore[arg-type]
    dense = [("d:0001", 0.9), *((f"d:{i:04d}", 0.1) for i in range(6, 9))]
    lexical = [("d:0002", 9.0), *((f"d:{i:04d}", 0.1) for i in range(9, 12))]
    ids = [h.chunk.chunk_id for h in r._fuse(dense, lexical, 2, "hybrid")]
    assert sorted(ids) == ["d:0001", "d:0002"]


@pytest.mark.parametrize("signal", ["max", "top2"])
def test_the_sentence_ranking_lifts_the_passage_whose_sentence_answers(signal):
    """Issue 37: a long passage about several things is diluted in its one vector, but one
    of its sentences is close to the question; the third ranking (by its best sentence, or
    its best two) brings it into the top k. ``max`` and ``top2`` differ as they should."""
    import numpy as np

    from helse_qa.types import SentenceRecord

    chunks = _chunks(6)
    q = np.array([1.0, 0.0], dtype=np.float32)
    cosines = {  # per passage: its sentences' cosines with the question
        "d:0005": [0.95, 0.1, 0.1],  # one sentence answers; the passage vector is diluted
        "d:0001": [0.7, 0.7],
        "d:0002": [0.6],
        "d:0003": [0.5],
        "d:0004": [0.4],
        "d:0000": [0.3],
    }

    def sentences(passages):
        records, vectors = [], []
        for c in passages:
            for i, cos in enumerate(cosines[c.chunk_id]):
                records.append(SentenceRecord(c.chunk_id, "d", i, i + 1))
                vectors.append([cos, float(np.sqrt(1 - cos * cos))])
        return records, np.asarray(vectors, dtype=np.float32)

    settings = Settings(sentence_signal=signal, sentence_weight=3.0, cross_lingual_boost=0.0)
    retriever = Retriever(None, None, chunks, settings, sentences=sentences)  # type: ignore[arg-type]
    ranked = retriever._by_sentence(list(chunks), q, "nb")
    order = [cid for cid, _ in ranked]
    # max: 0.95 first; top2: the mean of 0.95 and 0.1 (0.525) after 0.7 and 0.6
    assert order.index("d:0005") == (0 if signal == "max" else 2)
    dense = [(f"d:{i:04d}", 0.9 - i / 100) for i in range(6)]  # d:0005 last of both
    lexical = [(f"d:{i:04d}", 10.0 - i) for i in range(6)]
    plain = Retriever(None, None, chunks, Settings())  # type: ignore[arg-type]
    assert "d:0005" not in [h.chunk.chunk_id for h in plain._fuse(dense, lexical, 3, "hybrid")]
    hits = retriever._fuse(dense, lexical, 3, "hybrid", ranked)
    assert ("d:0005" in [h.chunk.chunk_id for h in hits]) is (signal == "max")
