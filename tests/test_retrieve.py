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
