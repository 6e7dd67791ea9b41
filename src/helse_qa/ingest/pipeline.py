"""Ingest: documents/ -> parsed text -> chunks -> vectors + BM25, incrementally.

Only documents whose bytes changed are parsed and embedded again; documents whose file
is gone are removed. Work happens in a copy of the current index generation that is
published atomically at the end (see :mod:`helse_qa.storage.layout`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from helse_qa.config import Settings
from helse_qa.errors import ConfigError, DocumentError, HelseQAError
from helse_qa.ingest.catalog import CATALOG_FILE, load_catalog
from helse_qa.ingest.chunking import CHUNKER_VERSION, chunk_document
from helse_qa.ingest.readers import (
    SUPPORTED_EXTENSIONS,
    content_hash,
    doc_id_from_path,
    parse_document,
    title_from_path,
)
from helse_qa.models.embedding import Embedder, InContextEmbedder
from helse_qa.storage.layout import (
    DocumentEntry,
    IndexLayout,
    Manifest,
    read_manifest,
)
from helse_qa.storage.vectors import (
    chunk_sentences,
    generation_store,
    read_text,
    vector_problem,
)
from helse_qa.storage.writer import Generation, IndexWriter
from helse_qa.text.language import detect_language
from helse_qa.types import Chunk, DocumentInfo, IngestReport, ParsedDocument, SentenceRecord

log = logging.getLogger(__name__)

_IGNORED_NAMES = {CATALOG_FILE, "README.md", "readme.md", ".gitkeep"}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    info: DocumentInfo
    content_hash: str


def index_differences(settings: Settings) -> list[str]:
    """How the current index differs from the files in ``documents_dir`` (empty: it was built
    from exactly these files, by content hash). Files that cannot be ingested are left out."""
    current = IndexLayout(settings.index_dir).current()
    if current is None:
        return ["no index built yet"]
    manifest = read_manifest(current)
    if manifest.chunker_version != CHUNKER_VERSION:
        return [f"index format {manifest.chunker_version}, this helse-qa reads {CHUNKER_VERSION}"]
    indexed = {e.file: e.content_hash for e in manifest.documents.values()}
    found = {s.info.path: s.content_hash for s in discover(settings.documents_dir, [])}
    out = [f"new: {f}" for f in sorted(set(found) - set(indexed))]
    out += [f"removed: {f}" for f in sorted(set(indexed) - set(found))]
    out += [f"changed: {f}" for f in sorted(set(found) & set(indexed)) if found[f] != indexed[f]]
    return out


def discover(documents_dir: Path, skipped: list[tuple[str, str]]) -> list[SourceFile]:
    """Every ingestible file in ``documents_dir`` (recursively), with its catalog entry."""
    if not documents_dir.is_dir():
        raise HelseQAError(
            f"documents folder {documents_dir} does not exist - create it and add files, "
            "or set HELSE_QA_DOCUMENTS_DIR"
        )
    catalog = load_catalog(documents_dir)
    found: list[SourceFile] = []
    used_ids: set[str] = set()
    for path in sorted(p for p in documents_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(documents_dir).as_posix()
        if path.name in _IGNORED_NAMES or any(part.startswith(".") for part in Path(rel).parts):
            continue
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            reason = f"unsupported file type '{path.suffix or '(none)'}'"
            log.warning("skipped %s: %s (use %s)", rel, reason, ", ".join(SUPPORTED_EXTENSIONS))
            skipped.append((rel, reason))
            continue
        try:
            digest = content_hash(path.read_bytes())
        except OSError as exc:
            log.warning("skipped %s: cannot read file (%s)", rel, exc.strerror or exc)
            skipped.append((rel, f"cannot read file ({exc.strerror or exc})"))
            continue
        info = catalog.get(rel) or catalog.get(path.name)
        if info is None:
            doc_id = doc_id_from_path(path)
            while doc_id in used_ids:
                doc_id += "-" + path.suffix.lstrip(".").lower()
            info = DocumentInfo(doc_id=doc_id, title="", language="", path=rel)
        else:
            info = replace(info, path=rel)
        used_ids.add(info.doc_id)
        found.append(SourceFile(path, info, digest))
    return found


def _complete_info(parsed: ParsedDocument, source: SourceFile) -> ParsedDocument:
    info = source.info
    if not info.title:
        heading = parsed.headings[0].title if parsed.headings else ""
        # a file with neither a catalog title nor a heading: titled by its file name
        title = heading or parsed.info.title or title_from_path(Path(info.path or source.path))
        info = replace(info, title=title)
    if not info.language:
        info = replace(info, language=detect_language(parsed.text[:20000]))
    return replace(parsed, info=info)


def ingest(
    settings: Settings,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: bool = False,
    on_progress: Callable[[float, str], None] | None = None,
) -> IngestReport:
    """Bring the index in line with ``settings.documents_dir``.

    Writers are serialised by the index lock: a second ingest (another process, an upload
    in the UI) waits, then works from the generation the first one published.
    """
    with IndexLayout(settings.index_dir).lock():
        return _ingest(settings, embedder, rebuild, progress, on_progress)


def _ingest(
    settings: Settings,
    embedder: Embedder,
    rebuild: bool,
    progress: bool,
    on_progress: Callable[[float, str], None] | None,
) -> IngestReport:
    started = time.perf_counter()
    log.info("ingest: started on %s", settings.documents_dir)
    skipped: list[tuple[str, str]] = []
    sources = discover(settings.documents_dir, skipped)
    layout = IndexLayout(settings.index_dir)
    current = layout.current()
    old: Manifest | None = read_manifest(current) if current is not None else None
    if old is not None and not rebuild:
        old.check_model(embedder.model_id, embedder.fingerprint, settings.index_dir)
        assert current is not None
        problem = _vectors_problem(settings, current, old)
        if problem is not None:
            log.warning("ingest: %s - embedding every document again into it", problem)
            rebuild = True
    same_chunker = (
        old is not None
        and not rebuild
        and old.chunker_version == CHUNKER_VERSION
        and old.chunk_words == settings.chunk_words
        and old.sentences == _embeds_sentences(settings, True)
        and (old.sentence_encoding == settings.sentence_encoding or not old.sentences)
    )
    old_docs = old.documents if (old is not None and not rebuild) else {}

    to_index: list[ParsedDocument] = []
    unchanged: list[str] = []
    stages: dict[str, float] = {}
    for source in sources:
        prev = old_docs.get(source.info.doc_id)
        if same_chunker and prev is not None and prev.content_hash == source.content_hash:
            unchanged.append(source.info.doc_id)
            continue
        try:
            parse_started = time.perf_counter()
            parsed = parse_document(source.path, source.info, settings.max_document_chars)
            _add(stages, "parse", parse_started)
        except Exception as exc:  # one bad file never stops the others
            if isinstance(exc, DocumentError):
                reason = str(exc).split(": ", 1)[-1]
            else:
                log.debug("unexpected error while reading %s", source.info.path, exc_info=True)
                reason = f"cannot read it ({type(exc).__name__}: {exc}) - skipped"
            log.warning("skipped %s: %s", source.info.path, reason)
            skipped.append((source.info.path, reason))
            if prev is not None:
                unchanged.append(source.info.doc_id)  # keep the last good version
            continue
        to_index.append(_complete_info(parsed, source))
    present = {s.info.doc_id for s in sources}
    removed = sorted(d for d in old_docs if d not in present)
    added = [p.info.doc_id for p in to_index if p.info.doc_id not in old_docs]
    updated = [p.info.doc_id for p in to_index if p.info.doc_id in old_docs]

    if old is not None and not rebuild and not to_index and not removed and same_chunker:
        layout.cleanup()  # a killed ingest's working copy, if any
        return IngestReport(
            unchanged=tuple(unchanged),
            skipped=tuple(skipped),
            chunks=sum(d.chunks for d in old.documents.values()),
            seconds=time.perf_counter() - started,
        )

    all_chunks = _update_generation(
        settings,
        embedder,
        copy_current=not rebuild,
        to_index=to_index,
        kept_docs={d: e for d, e in old_docs.items() if d in unchanged},
        drop=[*removed, *updated],
        progress=progress,
        on_progress=on_progress,
        stages=stages,
    )
    report = IngestReport(
        added=tuple(added),
        updated=tuple(updated),
        removed=tuple(removed),
        unchanged=tuple(unchanged),
        skipped=tuple(skipped),
        chunks=len(all_chunks),
        seconds=time.perf_counter() - started,
        stages=tuple(stages.items()),
    )
    log.info(
        "ingest: %d added, %d updated, %d removed, %d unchanged, %d skipped, %d chunks",
        len(added),
        len(updated),
        len(removed),
        len(unchanged),
        len(skipped),
        len(all_chunks),
    )
    return report


def _vectors_problem(settings: Settings, generation: Path, manifest: Manifest) -> str | None:
    """Does the current store hold this generation's vectors? (Before "unchanged" is said.)"""
    store = generation_store(settings.index_dir, generation, settings.chroma_url)
    try:
        return vector_problem(manifest, store, sum(d.chunks for d in manifest.documents.values()))
    finally:
        store.close()


def _update_generation(
    settings: Settings,
    embedder: Embedder,
    *,
    copy_current: bool,
    to_index: list[ParsedDocument],
    kept_docs: dict[str, DocumentEntry],
    drop: list[str],
    progress: bool,
    on_progress: Callable[[float, str], None] | None = None,
    with_sentences: bool = True,
    stages: dict[str, float] | None = None,
) -> list[Chunk]:
    """Apply an ingest's changes in one index transaction (published atomically).

    ``kept_docs`` stay as they are, ``drop`` are removed, ``to_index`` are (re)embedded.
    On any failure (or Ctrl-C) the working copy is discarded and the current index stays.
    Returns every chunk of the new generation; adds the seconds of each stage to ``stages``.
    """
    stages = {} if stages is None else stages
    with_sentences = _embeds_sentences(settings, with_sentences)
    mark = time.perf_counter()
    with IndexWriter(settings).begin(copy_current=copy_current) as gen:
        _add(stages, "open working copy", mark)
        manifest = Manifest(
            embedding_model=embedder.model_id,
            model_fingerprint=embedder.fingerprint,
            dim=embedder.dim,
            chunker_version=CHUNKER_VERSION,
            chunk_words=settings.chunk_words,
            documents=dict(kept_docs),
            sentences=with_sentences,
            sentence_encoding=settings.sentence_encoding,
        )
        kept_chunks = [c for c in gen.read_chunks() if c.doc_id in manifest.documents]
        for doc_id in drop:
            gen.remove_document(doc_id)
        new_chunks = _embed_documents(
            to_index, settings, embedder, gen, progress, on_progress, with_sentences, stages
        )
        now = datetime.now(UTC).isoformat(timespec="seconds")
        counts = Counter(c.doc_id for c in new_chunks)
        for parsed in to_index:
            info = parsed.info
            manifest.documents[info.doc_id] = DocumentEntry(
                doc_id=info.doc_id,
                file=info.path,
                title=info.title,
                language=info.language,
                publisher=info.publisher,
                year=info.year,
                kind=info.kind,
                content_hash=parsed.content_hash,
                chunks=counts[info.doc_id],
                pages=len(parsed.pages),
                indexed_at=now,
            )
        all_chunks = sorted([*kept_chunks, *new_chunks], key=lambda c: (c.doc_id, c.ordinal))
        mark = time.perf_counter()
        gen.write_bm25(all_chunks)
        _add(stages, "bm25", mark)
        mark = time.perf_counter()
        gen.write_chunks(all_chunks)
        gen.write_manifest(manifest)
        mark = _add(stages, "chunks and manifest", mark)
    _add(stages, "publish", mark)
    return all_chunks


def _add(stages: dict[str, float], stage: str, since: float) -> float:
    """Add the seconds since ``since`` to ``stage``; returns now."""
    now = time.perf_counter()
    stages[stage] = stages.get(stage, 0.0) + now - since
    return now


def _embeds_sentences(settings: Settings, with_sentences: bool) -> bool:
    """Whether ingest stores sentence vectors: not for a retrieval-only index, and not with
    ``sentence_encoding = "on-demand"`` (answering embeds the retrieved passages' sentences)."""
    return with_sentences and settings.sentence_encoding != "on-demand"


def _embed_documents(
    docs: list[ParsedDocument],
    settings: Settings,
    embedder: Embedder,
    gen: Generation,
    progress: bool,
    on_progress: Callable[[float, str], None] | None,
    with_sentences: bool = True,
    stages: dict[str, float] | None = None,
) -> list[Chunk]:
    stages = {} if stages is None else stages
    mark = time.perf_counter()
    chunks: list[Chunk] = []
    sentences: list[SentenceRecord] = []
    sentence_texts: list[str] = []
    for parsed in docs:
        gen.write_text(parsed.info.doc_id, parsed.text)
        doc_chunks = chunk_document(parsed, settings.chunk_words)
        chunks.extend(doc_chunks)
        for chunk in doc_chunks if with_sentences else ():
            records = chunk_sentences(chunk)
            sentences += records
            sentence_texts += [read_text(r, chunk) for r in records]
    mark = _add(stages, "chunking", mark)
    total = len(chunks) + len(sentences)
    if total == 0:
        return chunks
    from tqdm import tqdm

    done = 0
    with tqdm(total=total, desc="embedding", unit="text", disable=not progress) as bar:

        def tick(n: int) -> None:
            nonlocal done
            done += n
            bar.update(n)
            if on_progress is not None:
                on_progress(done / total, f"embedded {done}/{total} passages and sentences")

        texts = [c.embedding_text for c in chunks]
        if with_sentences and settings.sentence_encoding == "in-context":
            chunk_vectors, sentence_vectors = _in_context(embedder, chunks, texts, tick)
            mark = _add(stages, "chunk and sentence vectors", mark)
        else:
            chunk_vectors = embedder.embed_passages(texts, tick)
            mark = _add(stages, "chunk vectors", mark)
            sentence_vectors = embedder.embed_passages(sentence_texts, tick)
            if sentence_texts:
                mark = _add(stages, "sentence vectors", mark)
    gen.store.add_chunks(chunks, chunk_vectors)
    if sentences:
        gen.store.add_sentences(sentences, sentence_vectors)
    _add(stages, "vector store", mark)
    return chunks


def _in_context(
    embedder: Embedder, chunks: list[Chunk], texts: list[str], tick: Callable[[int], None]
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk vectors and, from the same encoder pass, the vectors of their sentences in the
    order :func:`chunk_sentences` gives them (``sentence_encoding = "in-context"``)."""
    if not isinstance(embedder, InContextEmbedder):
        raise ConfigError(
            f"sentence_encoding 'in-context' needs an embedder with embed_in_context; "
            f"{type(embedder).__name__} has none. Set HELSE_QA_SENTENCE_ENCODING=separate."
        )
    spans = []
    for chunk, text in zip(chunks, texts, strict=True):
        offset = len(text) - len(chunk.text) - chunk.start  # the chunk text ends embedding_text
        spans.append([(r.start + offset, r.end + offset) for r in chunk_sentences(chunk)])
    chunk_vectors, per_chunk = embedder.embed_in_context(texts, spans, tick)
    if not any(len(v) for v in per_chunk):
        return chunk_vectors, np.zeros((0, chunk_vectors.shape[1]), dtype=np.float32)
    return chunk_vectors, np.vstack([v for v in per_chunk if len(v)])


def build_index(
    settings: Settings,
    embedder: Embedder,
    docs: list[ParsedDocument],
    *,
    with_sentences: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Build a fresh index from documents already in memory (e.g. a benchmark's passages).

    Without sentence vectors the index serves retrieval only (``Assistant.retrieve``).
    """
    started = time.perf_counter()
    stages: dict[str, float] = {}
    chunks = _update_generation(
        settings,
        embedder,
        copy_current=False,
        to_index=docs,
        kept_docs={},
        drop=[],
        progress=progress,
        with_sentences=with_sentences,
        stages=stages,
    )
    return IngestReport(
        added=tuple(d.info.doc_id for d in docs),
        chunks=len(chunks),
        seconds=time.perf_counter() - started,
        stages=tuple(stages.items()),
    )
