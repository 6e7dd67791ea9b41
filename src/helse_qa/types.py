"""Typed records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from helse_qa.messages import removed_reason, without_markers

Language = Literal["nb", "en"]
# How passages are found: both retrievers fused (the default), or one of them alone.
RetrievalMode = Literal["hybrid", "dense", "bm25"]
RETRIEVAL_MODES: tuple[RetrievalMode, ...] = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Page:
    """A page of a parsed document: 1-based number and its span in the parsed text."""

    number: int
    start: int
    end: int


@dataclass(frozen=True)
class Heading:
    """A section heading found in a parsed document.

    ``level`` is 1 for chapters ("4 | Hovedfunn") and 2 for sub-sections ("4.1 ...");
    ``start`` is the offset in the parsed text where the section begins.
    """

    level: int
    title: str
    start: int


@dataclass(frozen=True)
class DocumentInfo:
    """Catalog facts about a document."""

    doc_id: str
    title: str
    language: str
    publisher: str = ""
    year: int | None = None
    kind: str = ""
    path: str = ""


@dataclass(frozen=True)
class ParsedDocument:
    """Clean text of a document plus its recovered structure.

    Every span in the rest of the pipeline refers to offsets in ``text``.
    """

    info: DocumentInfo
    text: str
    pages: tuple[Page, ...]
    headings: tuple[Heading, ...]
    content_hash: str

    def page_at(self, offset: int) -> int | None:
        for page in self.pages:
            if page.start <= offset < page.end:
                return page.number
        return None

    def heading_path_at(self, offset: int) -> tuple[str, ...]:
        path: list[tuple[int, str]] = []
        for heading in self.headings:
            if heading.start > offset:
                break
            path = [p for p in path if p[0] < heading.level]
            path.append((heading.level, heading.title))
        return tuple(title for _, title in path)


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: a verbatim slice ``text == document.text[start:end]``."""

    chunk_id: str
    doc_id: str
    title: str
    language: str
    text: str
    start: int
    end: int
    page: int | None
    section: tuple[str, ...]
    ordinal: int

    @property
    def section_label(self) -> str:
        return " > ".join(self.section)

    @property
    def embedding_text(self) -> str:
        """What the embedder and BM25 see: title and section give an isolated passage its
        context."""
        context = self.title if not self.section else f"{self.title} - {self.section_label}"
        return f"{context}\n{self.text}"


@dataclass(frozen=True)
class SentenceRecord:
    """A sentence of a chunk, with its span in the parsed document text."""

    chunk_id: str
    doc_id: str
    start: int
    end: int

    @property
    def sentence_id(self) -> str:
        return f"{self.chunk_id}@{self.start}"

    def text_in(self, chunk: Chunk) -> str:
        return chunk.text[self.start - chunk.start : self.end - chunk.start]


@dataclass(frozen=True)
class SentenceInContext:
    """A candidate sentence as the reader sees it: its text, the heading or title of its
    passage and the sentence before it (what "this" and "it" may refer to)."""

    text: str
    previous: str = ""
    heading: str = ""


@dataclass(frozen=True)
class ReaderScore:
    """The reader's verdict on one sentence: P(it answers the question), and the answer
    phrase inside it (character offsets in the sentence) with that phrase's probability."""

    p_answer: float
    span: tuple[int, int] | None = None
    span_p: float = 0.0


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of an LLM answer and the verdict on it."""

    text: str
    markers: tuple[int, ...]
    supported: bool
    reason: str
    lexical: float = 0.0
    cosine: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "markers": list(self.markers),
            "supported": self.supported,
            "reason": self.reason,
            "lexical": round(self.lexical, 3),
            "cosine": round(self.cosine, 3),
        }


@dataclass(frozen=True)
class Hit:
    """A chunk returned by retrieval with its fused score and per-retriever ranks (1-based)."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """A numbered reference shown to the user: ``[number]`` in the answer text."""

    number: int
    doc_id: str
    title: str
    page: int | None
    section: str
    quote: str
    start: int
    end: int
    chunk_id: str
    # The answer phrase inside ``quote`` (offsets in the quote), when the reader is sure of it
    phrase: tuple[int, int] | None = None
    # A chart row's caption ("Helseindustrien – omsettning 2017" for "Legemidler: 26 mrd"):
    # the row is always shown with it (issue 37); the quote stays the verbatim row
    caption: str = ""

    @property
    def shown(self) -> str:
        """The quote as the user reads it: a chart row after its caption."""
        return f"{self.caption} · {self.quote}" if self.caption else self.quote

    @classmethod
    def of(cls, number: int, chunk: Chunk, start: int, end: int) -> Citation:
        """Cite ``[start, end)`` of the parsed document, a span inside ``chunk``."""
        return cls(
            number=number,
            doc_id=chunk.doc_id,
            title=chunk.title,
            page=chunk.page,
            section=chunk.section_label,
            quote=chunk.text[start - chunk.start : end - chunk.start],
            start=start,
            end=end,
            chunk_id=chunk.chunk_id,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "doc_id": self.doc_id,
            "title": self.title,
            "page": self.page,
            "section": self.section,
            "quote": self.quote,
            "caption": self.caption,
            "span": [self.start, self.end],
            "chunk_id": self.chunk_id,
            "answer_phrase": (
                None
                if self.phrase is None
                else {
                    "text": self.quote[self.phrase[0] : self.phrase[1]],
                    "span": list(self.phrase),
                }
            ),
        }


@dataclass(frozen=True)
class Answer:
    """What the assistant says: text with [n] markers, its citations and the passages used."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    passages: tuple[Hit, ...]
    language: str
    retrieval_query: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    mode: str = "extractive"
    sentences: tuple[SentenceCheck, ...] = ()  # per sentence of an LLM answer
    notice: str = ""  # e.g. why the LLM answer fell back to the extractive one
    # fact | list | overview | near_miss | unsure | abstain (extractive answers); "" otherwise.
    # "unsure": the closest passages under "not sure" (abstained: never given as the answer)
    kind: str = ""
    # One short line when the quotes are in the other language ("Sitert fra engelsk kilde.")
    language_note: str = ""
    # P(the first quote answers): the reader's calibrated probability where it judged the
    # answer (answer_confidence), else the heuristic's score. A topic question's answer
    # ("What does the report say about X?") keeps the reader's P, low for such questions:
    # it is given because its quote holds the topic (answering/confidence.py)
    confidence: float | None = None

    @property
    def removed(self) -> tuple[SentenceCheck, ...]:
        """An LLM answer's sentences that failed the check: not in :attr:`text`, listed
        apart by every surface (issue 38)."""
        return tuple(s for s in self.sentences if not s.supported)

    def to_dict(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "language": self.language,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [
                {
                    "rank": i + 1,
                    "chunk_id": h.chunk.chunk_id,
                    "doc_id": h.chunk.doc_id,
                    "title": h.chunk.title,
                    "page": h.chunk.page,
                    "section": h.chunk.section_label,
                    "score": round(h.score, 6),
                    "dense_rank": h.dense_rank,
                    "lexical_rank": h.lexical_rank,
                    "text": h.chunk.text,
                    "span": [h.chunk.start, h.chunk.end],
                }
                for i, h in enumerate(self.passages)
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "mode": self.mode,
            "sentences": [s.to_dict() for s in self.sentences],
            "removed": [
                {"text": without_markers(s.text), "reason": removed_reason(s.reason, self.language)}
                for s in self.removed
            ],
            "notice": self.notice,
            "kind": self.kind,
            "language_note": self.language_note,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
        }


@dataclass(frozen=True)
class IngestReport:
    """What an ingest run did."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (file name, reason)
    chunks: int = 0
    seconds: float = 0.0
    # Where the time went, seconds per stage in the order they ran ("parse",
    # "chunk vectors", "sentence vectors", "vector store", "bm25", ...).
    stages: tuple[tuple[str, float], ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)
