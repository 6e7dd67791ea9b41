"""BM25 over chunks (bm25s + PyStemmer), Norwegian- and English-aware.

Each chunk is stemmed with its own language's Snowball stemmer. A question may be in
either language and may name Norwegian terms inside an English sentence, so its tokens are
stemmed with both stemmers. Norwegian compounds ("eksportinntektene") are split into parts
that occur as words elsewhere in the corpus ("eksport" + "inntekt"), and the parts are
indexed beside the whole word, so "eksport" finds "eksportinntektene" and vice versa.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .language import EN_STOPWORDS, NB_STOPWORDS

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
_MIN_PART = 4
_MIN_COMPOUND = 8
_LINKERS = ("", "s", "e")

STOPWORDS = (
    NB_STOPWORDS
    | EN_STOPWORDS
    | frozenset(
        """
        a all alle also any både da enn hele hvilket may might must noe noen nå shall such
        whom
        """.split()
    )
)


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer("norwegian" if language.startswith(("nb", "nn", "no")) else "english")


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its own logger to DEBUG on import, which floods the CLI's stderr with
    # "Building index from tokens"; put it back under the application's logging config.
    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


@lru_cache(maxsize=1)
def _glossary_by_stem() -> dict[str, frozenset[str]]:
    """Stem of a glossary word -> stems of its translations (both stemmers)."""
    from .glossary import GLOSSARY

    table: dict[str, set[str]] = {}
    for english, norwegian in GLOSSARY:
        for side, other in ((english, norwegian), (norwegian, english)):
            other_stems = {_stemmer(lang).stemWord(w) for w in other for lang in ("nb", "en")}
            for word in side:
                for lang in ("nb", "en"):
                    table.setdefault(_stemmer(lang).stemWord(word), set()).update(other_stems)
    return {k: frozenset(v) for k, v in table.items()}


def words(text: str) -> list[str]:
    """Lower-cased word and number tokens ("23,6" stays one token)."""
    return _TOKEN.findall(text.lower())


class Analyzer:
    """Turns text into BM25 terms; knows the corpus vocabulary for compound splitting."""

    def __init__(
        self,
        vocabulary: Iterable[str] = (),
        doc_freq: dict[str, int] | None = None,
        n_docs: int = 0,
    ) -> None:
        self.vocabulary = frozenset(vocabulary)
        self.doc_freq = doc_freq or {}
        self.n_docs = n_docs

    def idf(self, concept: frozenset[str]) -> float:
        """Weight of a question concept: its rarest form's inverse document frequency
        (a word the corpus never uses counts as rare)."""
        df = min((self.doc_freq.get(t, 0) for t in concept), default=0)
        return math.log(1.0 + (self.n_docs + 1) / (df + 0.5))

    def _split(self, word: str) -> list[str]:
        if len(word) < _MIN_COMPOUND or not word.isalpha():
            return []
        for cut in range(len(word) - _MIN_PART, _MIN_PART - 1, -1):
            head, tail = word[:cut], word[cut:]
            if head not in self.vocabulary:
                continue
            for link in _LINKERS:
                if link and not tail.startswith(link):
                    continue
                rest = tail[len(link) :]
                if len(rest) >= _MIN_PART and (
                    rest in self.vocabulary or _stemmer("nb").stemWord(rest) in self.vocabulary
                ):
                    return [head, rest]
        return []

    def terms(self, text: str, languages: Sequence[str], drop_stopwords: bool = False) -> list[str]:
        out: list[str] = []
        for word in words(text):
            if drop_stopwords and word in STOPWORDS:
                continue
            pieces = [word, *self._split(word)]
            for piece in pieces:
                if piece[0].isdigit():
                    out.append(piece)
                    continue
                for lang in languages:
                    out.append(_stemmer(lang).stemWord(piece))
        return out

    def document_terms(self, text: str, language: str) -> list[str]:
        return self.terms(text, [language])

    def query_concepts(self, text: str) -> list[frozenset[str]]:
        """One set of terms per content word of a question: its stems in both languages,
        its compound parts and the stems of its glossary translations."""
        glossary = _glossary_by_stem()
        concepts: dict[frozenset[str], None] = {}
        content = [w for w in words(text) if w not in STOPWORDS] or words(text)
        for word in content:
            terms = set(self.terms(word, ["nb", "en"]))
            for term in list(terms):
                terms |= glossary.get(term, frozenset())
            concepts[frozenset(terms)] = None
        return list(concepts)

    def query_terms(self, text: str) -> list[str]:
        terms: list[str] = []
        for concept in self.query_concepts(text):
            terms.extend(sorted(concept))
        return list(dict.fromkeys(terms))


def build_vocabulary(texts: Iterable[str]) -> set[str]:
    """Words that may serve as compound parts: alphabetic, at least 4 letters."""
    vocab: set[str] = set()
    for text in texts:
        vocab.update(w for w in words(text) if len(w) >= _MIN_PART and w.isalpha())
    vocab.update(_stemmer("nb").stemWord(w) for w in list(vocab))
    return vocab


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
