"""BM25 over chunks (bm25s), Norwegian- and English-aware; the only home of bm25s.

Terms come from :class:`helse_qa.text.analysis.Analyzer`: each chunk stemmed in its own
language, a question in both, Norwegian compounds indexed beside their parts, so
"eksport" finds "eksportinntektene" and vice versa. :func:`build` is the one way the
index is built: over title + section + text of each chunk (what the embedder sees too).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helse_qa.text.analysis import Analyzer, build_vocabulary
from helse_qa.types import Chunk

DIRECTORY = "lexical"  # inside a generation

log = logging.getLogger(__name__)


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its own logger to DEBUG on import, which floods the CLI's stderr with
    # "Building index from tokens"; put it back under the application's logging config.
    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


class LexicalIndex:
    """BM25 scores over an ordered list of chunk ids."""

    def __init__(self, bm25: Any, chunk_ids: list[str], analyzer: Analyzer) -> None:
        self._bm25 = bm25
        self.chunk_ids = chunk_ids
        self.analyzer = analyzer
        self._position = {cid: i for i, cid in enumerate(chunk_ids)}

    @classmethod
    def build(cls, chunk_ids: list[str], texts: list[str], languages: list[str]) -> LexicalIndex:
        bm25s = _bm25s()

        analyzer = Analyzer(build_vocabulary(texts))
        corpus = [
            analyzer.document_terms(t, lang) or [""]
            for t, lang in zip(texts, languages, strict=False)
        ]
        doc_freq: dict[str, int] = {}
        for terms in corpus:
            for term in set(terms):
                doc_freq[term] = doc_freq.get(term, 0) + 1
        analyzer.doc_freq = doc_freq
        analyzer.n_docs = len(corpus)
        bm25 = bm25s.BM25()
        if corpus:
            bm25.index(corpus, show_progress=False)
        return cls(bm25, chunk_ids, analyzer)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self.chunk_ids:
            self._bm25.save(str(directory / "bm25"))
        (directory / "lexical.json").write_text(
            json.dumps(
                {
                    "chunk_ids": self.chunk_ids,
                    "vocabulary": sorted(self.analyzer.vocabulary),
                    "doc_freq": self.analyzer.doc_freq,
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        bm25s = _bm25s()

        meta = json.loads((directory / "lexical.json").read_text(encoding="utf-8"))
        chunk_ids = list(meta["chunk_ids"])
        bm25 = bm25s.BM25.load(str(directory / "bm25")) if chunk_ids else bm25s.BM25()
        analyzer = Analyzer(meta["vocabulary"], meta.get("doc_freq", {}), len(chunk_ids))
        return cls(bm25, chunk_ids, analyzer)

    def search(
        self, query: str, k: int, allowed: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, score) with score > 0, optionally restricted to ``allowed``."""
        if not self.chunk_ids or k <= 0:
            return []
        ids = self._bm25.get_tokens_ids(self.analyzer.query_terms(query))
        if not ids:
            return []
        scores = np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float64)
        if allowed is not None:
            mask = np.zeros(len(scores), dtype=bool)
            for cid in allowed:
                pos = self._position.get(cid)
                if pos is not None:
                    mask[pos] = True
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.chunk_ids[i], float(scores[i])) for i in top if scores[i] > 0]


def build(chunks: Sequence[Chunk]) -> LexicalIndex:
    """The lexical index of ``chunks``, in their order, over title + section + text."""
    return LexicalIndex.build(
        [c.chunk_id for c in chunks],
        [c.embedding_text for c in chunks],
        [c.language for c in chunks],
    )
