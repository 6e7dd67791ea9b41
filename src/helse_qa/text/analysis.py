"""Words, stems and question concepts in Norwegian and English (PyStemmer).

A text is split into word and number tokens; each word is stemmed with its own language's
Snowball stemmer, a question's words with both (a question may name Norwegian terms in an
English sentence). Norwegian compounds ("eksportinntektene") are split into parts that
occur as words elsewhere in the corpus ("eksport" + "inntekt"), and question words are
expanded with the English<->Norwegian domain glossary. BM25 and sentence scoring share
this one analysis.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from helse_qa.text.glossary import GLOSSARY
from helse_qa.text.language import EN_STOPWORDS, NB_STOPWORDS

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


@lru_cache(maxsize=1)
def _glossary_by_stem() -> dict[str, frozenset[str]]:
    """Stem of a glossary word -> stems of its translations (both stemmers)."""
    table: dict[str, set[str]] = {}
    for english, norwegian in GLOSSARY:
        for side, other in ((english, norwegian), (norwegian, english)):
            other_stems = {_stemmer(lang).stemWord(w) for w in other for lang in ("nb", "en")}
            for word in side:
                for lang in ("nb", "en"):
                    table.setdefault(_stemmer(lang).stemWord(word), set()).update(other_stems)
    return {k: frozenset(v) for k, v in table.items()}


def has_translation(word: str) -> bool:
    """Whether the glossary knows ``word`` (in either language): then a passage in the
    other language can be checked for it."""
    table = _glossary_by_stem()
    return any(_stemmer(lang).stemWord(word.lower()) in table for lang in ("nb", "en"))


def with_siblings(terms: set[str]) -> set[str]:
    """``terms`` and the other forms the glossary gives their concepts in their own
    language: the translations of their translations ("omsatte" -> "turnover" ->
    "omsetning")."""
    table = _glossary_by_stem()
    out = set(terms)
    for term in terms:
        for translation in table.get(term, ()):
            out |= table.get(translation, frozenset())
    return out


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
