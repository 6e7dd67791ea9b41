"""Citation verification for LLM answers, sentence by sentence, before display.

1. Markers that point to no retrieved passage are removed.
2. Each sentence must be supported by one of the passages it cites: every number in the
   sentence appears in that passage as a number of its own (not inside another: "6" is not
   in "23,6"; a decimal point and a decimal comma are the same: "23.6" is "23,6"), and
   the sentence's content words
   overlap the passage (share >= ``support_lexical``) or its embedding is close enough
   (cosine >= ``support_cosine``).
3. Unsupported sentences never stand in the answer's text: they are listed apart with their
   reason (or dropped, a setting). A citation's quote is the passage sentence closest to the
   claim, verbatim, with its span.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from helse_qa.config import Settings
from helse_qa.models.embedding import Embedder
from helse_qa.storage.vectors import VectorStore
from helse_qa.text.analysis import Analyzer
from helse_qa.text.sentences import sentence_spans
from helse_qa.types import Citation, Hit, SentenceCheck

_MARKER_GROUP = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ONLY_MARKERS = re.compile(r"^(?:\s*\[\d+\]\s*[.,;:]?)+$")
_LEADING_MARKERS = re.compile(r"^((?:\s*\[\d+\])+)[.,;:]?\s*")


def strip_invalid_markers(text: str, n_passages: int) -> tuple[str, list[int]]:
    """Remove markers that point to no passage; return the text and the removed numbers."""
    removed: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.findall(r"\d+", match.group(1))]
        keep = [n for n in numbers if 1 <= n <= n_passages]
        removed.extend(n for n in numbers if n not in keep)
        return "".join(f"[{n}]" for n in keep)

    cleaned = _MARKER_GROUP.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), removed


def split_claims(text: str) -> list[str]:
    """Sentences of the answer; markers written after a full stop join their sentence."""
    claims: list[str] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        lead = _LEADING_MARKERS.match(piece)
        if claims and lead:
            claims[-1] = f"{claims[-1]} {lead.group(1).strip()}"
            piece = piece[lead.end() :].strip()
        if piece and not _ONLY_MARKERS.match(piece):
            claims.append(piece)
        elif piece and claims:
            claims[-1] = f"{claims[-1]} {piece.strip()}"
    return claims


def _number(token: str) -> str:
    """A number as compared: a decimal point or comma alike ("23.6" is "23,6")."""
    return token.replace(",", ".")


def numbers_in(text: str) -> set[str]:
    """The numbers written in ``text``, each as one token ("23,6", "2017", "02.02.18")."""
    return {_number(x) for x in _NUMBER.findall(text)}


def _markers(sentence: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(x) for x in re.findall(r"\[(\d+)\]", sentence)))


def _plain(sentence: str) -> str:
    return re.sub(r"\[\d+\]", "", sentence).strip()


def _plural(word: str, count: int) -> str:
    return word if count == 1 else f"{word}s"


def check_sentence(
    sentence: str,
    hits: Sequence[Hit],
    analyzer: Analyzer,
    vector: np.ndarray | None,
    passage_vectors: dict[str, np.ndarray],
    settings: Settings,
    passage_terms: dict[str, set[str]] | None = None,
) -> SentenceCheck:
    """``passage_terms`` (chunk id -> terms) lets a caller checking several sentences
    analyse each passage once."""
    markers = _markers(sentence)
    plain = _plain(sentence)
    if not markers:
        return SentenceCheck(sentence, markers, False, "no citation")
    numbers = {x: _number(x) for x in _NUMBER.findall(plain)}
    concepts = analyzer.query_concepts(plain)
    results: list[SentenceCheck] = []
    for n in markers:
        chunk = hits[n - 1].chunk
        terms = (passage_terms or {}).get(chunk.chunk_id)
        if terms is None:
            terms = set(analyzer.terms(chunk.text, ["nb", "en"]))
        given = numbers_in(chunk.text)
        missing = sorted(x for x, n in numbers.items() if n not in given)
        lexical = sum(1 for c in concepts if c & terms) / len(concepts) if concepts else 0.0
        pv = passage_vectors.get(chunk.chunk_id)
        cosine = float(np.dot(vector, pv)) if vector is not None and pv is not None else 0.0
        if missing:
            check = SentenceCheck(
                sentence,
                markers,
                False,
                f"{_plural('number', len(missing))} {', '.join(missing)} not in passage [{n}]",
                lexical,
                cosine,
            )
        elif lexical >= settings.support_lexical or cosine >= settings.support_cosine:
            return SentenceCheck(sentence, markers, True, f"supported by [{n}]", lexical, cosine)
        else:
            check = SentenceCheck(
                sentence, markers, False, "not supported by the cited passages", lexical, cosine
            )
        results.append(check)
    # Nothing supports it: report a wrong number first, else the closest passage.
    numbered = [r for r in results if r.reason.startswith("number")]
    return numbered[0] if numbered else max(results, key=lambda r: (r.lexical, r.cosine))


def best_quote(
    claim: str,
    hit: Hit,
    records: Sequence[tuple[int, int]],
    analyzer: Analyzer,
) -> tuple[int, int]:
    """The span of the passage sentence that shares most with the claim."""
    chunk = hit.chunk
    spans = list(records) or sentence_spans(chunk.text, chunk.start)
    concepts = analyzer.query_concepts(_plain(claim))

    def shared(span: tuple[int, int]) -> int:
        start, end = span
        text = chunk.text[start - chunk.start : end - chunk.start]
        terms = set(analyzer.terms(text, ["nb", "en"]))
        return sum(1 for c in concepts if c & terms)

    return max(spans, key=shared)  # the first of equals: the earliest sentence


class SentenceChecker:
    """Checks an LLM answer's sentences against the retrieved passages (the passages'
    vectors and terms are read once, for every sentence of the answer)."""

    def __init__(
        self,
        hits: Sequence[Hit],
        embedder: Embedder,
        store: VectorStore,
        analyzer: Analyzer,
        settings: Settings,
    ) -> None:
        self.hits = hits
        self.embedder = embedder
        self.analyzer = analyzer
        self.settings = settings
        self.passage_vectors = store.chunk_vectors([h.chunk.chunk_id for h in hits])
        self.passage_terms = {
            h.chunk.chunk_id: set(analyzer.terms(h.chunk.text, ["nb", "en"])) for h in hits
        }

    def check(self, claims: Sequence[str]) -> list[SentenceCheck]:
        if not claims:
            return []
        vectors = self.embedder.embed_queries([_plain(c) for c in claims])
        return [
            check_sentence(
                claim,
                self.hits,
                self.analyzer,
                vectors[i],
                self.passage_vectors,
                self.settings,
                self.passage_terms,
            )
            for i, claim in enumerate(claims)
        ]


class StreamChecker:
    """Checks an answer while it is written: :meth:`feed` takes the text so far and returns
    the sentences completed since the last call, each already checked. A sentence counts as
    complete once the next one has begun (markers written after its full stop still join
    it); :meth:`finish` checks the last one when the stream has ended normally."""

    def __init__(self, checker: SentenceChecker) -> None:
        self.checker = checker
        self.checks: list[SentenceCheck] = []
        self.removed: list[int] = []

    def _claims(self, text: str) -> list[str]:
        cleaned, removed = strip_invalid_markers(text, len(self.checker.hits))
        self.removed = removed
        return split_claims(cleaned)

    def _take(self, claims: Sequence[str]) -> list[SentenceCheck]:
        new = self.checker.check(claims[len(self.checks) :])
        self.checks += new
        return new

    def feed(self, text: str) -> list[SentenceCheck]:
        return self._take(self._claims(text)[:-1])

    def finish(self, text: str) -> list[SentenceCheck]:
        return self._take(self._claims(text))


def cite(
    checks: Sequence[SentenceCheck], hits: Sequence[Hit], analyzer: Analyzer, settings: Settings
) -> tuple[str, tuple[Citation, ...]]:
    """The answer's text (the sentences that passed the check only: one that failed is
    listed apart, or dropped, by the surfaces, issue 38) and one citation per marker it
    keeps: the passage sentence closest to the claim, verbatim."""
    kept = [c for c in checks if c.supported]
    final_text = " ".join(c.text for c in kept)
    used = sorted({n for c in kept for n in c.markers})
    citations = []
    for n in used:
        hit = hits[n - 1]
        claim = next(c.text for c in kept if n in c.markers)
        start, end = best_quote(
            claim, hit, sentence_spans(hit.chunk.text, hit.chunk.start), analyzer
        )
        citations.append(Citation.of(n, hit.chunk, start, end))
    return final_text, tuple(citations)


def verify(
    text: str,
    hits: Sequence[Hit],
    embedder: Embedder,
    store: VectorStore,
    analyzer: Analyzer,
    settings: Settings,
) -> tuple[str, tuple[SentenceCheck, ...], tuple[Citation, ...], list[int]]:
    """Clean, check and cite a whole LLM answer. Returns (text, checks, citations, removed
    markers)."""
    cleaned, removed = strip_invalid_markers(text, len(hits))
    claims = split_claims(cleaned)
    if not claims:
        return cleaned, (), (), removed
    # (a claim is never markers alone: split_claims joins those to the sentence before)
    checks = SentenceChecker(hits, embedder, store, analyzer, settings).check(claims)
    final_text, citations = cite(checks, hits, analyzer, settings)
    return final_text, tuple(checks), citations, removed
