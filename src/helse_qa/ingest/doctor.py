"""``helse-qa doctor``: do the manifest, the vector store and the lexical index agree?

The check reads the current generation and compares, chunk by chunk, what the manifest
and ``chunks.jsonl`` promise with what Chroma and the BM25 index hold. ``--repair`` fixes
what it finds in a working copy that is published atomically, like an ingest:

- unfinished working directories, stale generations, stale server collections: removed;
- a missing or broken ``CURRENT`` pointer: pointed at the newest complete generation;
- vectors of chunks or sentences that no longer exist (orphans): deleted;
- chunks or sentences without a vector: embedded and added;
- a BM25 index that lists other chunks: rebuilt from ``chunks.jsonl``;
- a document whose chunks or parsed text disagree with the manifest: dropped, then
  ingested again from ``documents/``;
- another embedding model, other vector sizes, an unreadable manifest or store: the index
  is rebuilt from ``documents/``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from helse_qa.config import Settings
from helse_qa.models.embedding import Embedder
from helse_qa.storage.bm25 import LexicalIndex
from helse_qa.storage.layout import (
    IndexLayout,
    Manifest,
    read_chunks,
    read_manifest,
)
from helse_qa.storage.vectors import (
    ChromaStore,
    chunk_sentences,
    drop_server_generations,
    generation_store,
    read_text,
    stale_server_collections,
)
from helse_qa.storage.writer import IndexWriter
from helse_qa.types import Chunk, SentenceRecord

log = logging.getLogger(__name__)

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One disagreement; ``repair`` says what ``--repair`` does about it."""

    code: str
    message: str
    repair: str
    severity: Severity = "error"


@dataclass(frozen=True)
class DoctorReport:
    index_dir: str
    generation: str | None
    findings: tuple[Finding, ...]
    checked: dict[str, int] = field(default_factory=dict)
    repaired: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """No errors (warnings such as a killed ingest's leftovers may remain)."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


@dataclass
class _Plan:
    rebuild: bool = False
    point_to: Path | None = None
    cleanup: bool = False
    drop_server: bool = False
    orphan_chunks: set[str] = field(default_factory=set)
    orphan_sentences: set[str] = field(default_factory=set)
    missing_chunks: list[Chunk] = field(default_factory=list)
    missing_sentences: list[tuple[SentenceRecord, str]] = field(default_factory=list)
    bad_docs: set[str] = field(default_factory=set)
    lexical: bool = False

    @property
    def edits_generation(self) -> bool:
        return bool(
            self.orphan_chunks
            or self.orphan_sentences
            or self.missing_chunks
            or self.missing_sentences
            or self.bad_docs
            or self.lexical
        )


def check(settings: Settings, embedder: Embedder, *, lock: bool = True) -> DoctorReport:
    """Compare manifest, vectors and lexical index of the current generation."""
    layout = IndexLayout(settings.index_dir)
    if not lock:
        return _inspect(settings, embedder, layout)[0]
    with layout.lock():
        return _inspect(settings, embedder, layout)[0]


def repair(settings: Settings, embedder: Embedder) -> DoctorReport:
    """Fix what :func:`check` finds; returns the report of a fresh check afterwards."""
    from helse_qa.ingest.pipeline import ingest

    layout = IndexLayout(settings.index_dir)
    done: list[str] = []
    with layout.lock():
        _, plan = _inspect(settings, embedder, layout)
        if plan.point_to is not None:
            layout.point_to(plan.point_to)
            done.append(f"CURRENT now points to {plan.point_to.name}")
            _, plan = _inspect(settings, embedder, layout)
        if plan.cleanup:
            leftovers = layout.leftovers()
            layout.cleanup()
            done.append(f"removed {len(leftovers)} leftover directories")
        if plan.drop_server:
            current = layout.current()
            drop_server_generations(
                settings.index_dir, settings.chroma_url, keep=current.name if current else None
            )
            done.append("dropped stale server collections")
        if plan.rebuild:
            result = ingest(settings, embedder, rebuild=True)
            done.append(f"rebuilt the index from {settings.documents_dir} ({result.chunks} chunks)")
        elif plan.edits_generation:
            done.extend(_fix_generation(settings, embedder, plan))
            if plan.bad_docs:
                result = ingest(settings, embedder)
                done.append(
                    f"ingested again: {', '.join(result.added) or 'nothing (files are gone)'}"
                )
        final, _ = _inspect(settings, embedder, layout)
    return DoctorReport(
        final.index_dir, final.generation, final.findings, final.checked, tuple(done)
    )


# -- inspection ----------------------------------------------------------------------------


def _inspect(
    settings: Settings, embedder: Embedder, layout: IndexLayout
) -> tuple[DoctorReport, _Plan]:
    findings: list[Finding] = []
    plan = _Plan()
    checked: dict[str, int] = {}

    def report(generation: Path | None) -> tuple[DoctorReport, _Plan]:
        return (
            DoctorReport(
                str(settings.index_dir),
                generation.name if generation else None,
                tuple(findings),
                checked,
            ),
            plan,
        )

    current = layout.current()
    leftovers = layout.leftovers()
    if leftovers:
        findings.append(
            Finding(
                "leftovers",
                f"{len(leftovers)} unfinished or stale director"
                f"{'y' if len(leftovers) == 1 else 'ies'}: "
                + ", ".join(p.name for p in leftovers[:5]),
                "remove them",
                "warning",
            )
        )
        plan.cleanup = True
    if current is None:
        complete = [g for g in layout.generations() if _readable_manifest(g)]
        if complete:
            findings.append(
                Finding(
                    "no-current",
                    "index/CURRENT is missing or broken, but complete generations exist",
                    f"point CURRENT at the newest, {complete[-1].name}",
                )
            )
            plan.point_to = complete[-1]
        else:
            findings.append(
                Finding("no-index", "there is no index", "build it from the documents folder")
            )
            plan.rebuild = True
        return report(None)

    try:
        manifest = read_manifest(current)
    except (OSError, ValueError, TypeError) as exc:
        findings.append(
            Finding("manifest", f"manifest.json cannot be read ({exc})", "rebuild the index")
        )
        plan.rebuild = True
        return report(current)
    if manifest.embedding_model != embedder.model_id or (
        manifest.model_fingerprint != embedder.fingerprint
    ):
        findings.append(
            Finding(
                "model-mismatch",
                f"built with '{manifest.embedding_model}' "
                f"(weights {manifest.model_fingerprint[:12]}), settings select "
                f"'{embedder.model_id}' (weights {embedder.fingerprint[:12]})",
                "rebuild the index with the selected model",
            )
        )
        plan.rebuild = True
        return report(current)
    try:
        chunks = read_chunks(current)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        findings.append(
            Finding("chunks", f"chunks.jsonl cannot be read ({exc})", "rebuild the index")
        )
        plan.rebuild = True
        return report(current)
    checked["documents"] = len(manifest.documents)
    checked["chunks"] = len(chunks)

    _check_documents(current, manifest, chunks, findings, plan)
    good = [c for c in chunks if c.doc_id not in plan.bad_docs]

    try:
        store = generation_store(settings.index_dir, current, settings.chroma_url)
    except Exception as exc:  # chromadb raises many types for a damaged store
        findings.append(
            Finding("store", f"the vector store cannot be opened ({exc})", "rebuild the index")
        )
        plan.rebuild = True
        return report(current)
    try:
        _check_vectors(store, manifest, good, findings, plan, checked)
    except Exception as exc:  # a damaged collection fails on read, not on open
        findings.append(
            Finding("store", f"the vector store cannot be read ({exc})", "rebuild the index")
        )
        plan.rebuild = True
    finally:
        store.close()
    if plan.rebuild:
        return report(current)

    try:
        lexical_ids = LexicalIndex.load(current / "lexical").chunk_ids
    except Exception as exc:  # bm25s/json/numpy errors for damaged files
        lexical_ids = None
        findings.append(
            Finding("lexical", f"the BM25 index cannot be read ({exc})", "rebuild it from chunks")
        )
        plan.lexical = True
    if lexical_ids is not None and lexical_ids != [c.chunk_id for c in chunks]:
        findings.append(
            Finding(
                "lexical",
                f"the BM25 index lists {len(lexical_ids)} chunks, chunks.jsonl {len(chunks)}",
                "rebuild it from chunks",
            )
        )
        plan.lexical = True
    if plan.bad_docs:
        plan.lexical = True

    if settings.chroma_url:
        stale = stale_server_collections(settings.index_dir, settings.chroma_url, current.name)
        if stale:
            findings.append(
                Finding(
                    "server-leftovers",
                    f"{len(stale)} collections of other generations on the Chroma server",
                    "drop them",
                    "warning",
                )
            )
            plan.drop_server = True
    return report(current)


def _readable_manifest(generation: Path) -> bool:
    try:
        read_manifest(generation)
    except (OSError, ValueError, TypeError):
        return False
    return True


def _check_documents(
    generation: Path,
    manifest: Manifest,
    chunks: list[Chunk],
    findings: list[Finding],
    plan: _Plan,
) -> None:
    counts = Counter(c.doc_id for c in chunks)
    for doc_id in sorted(set(counts) - set(manifest.documents)):
        findings.append(
            Finding(
                "unlisted-chunks",
                f"{counts[doc_id]} chunks of '{doc_id}', which the manifest does not list",
                "drop them",
            )
        )
        plan.bad_docs.add(doc_id)
    texts: dict[str, str | None] = {}
    for doc_id, entry in sorted(manifest.documents.items()):
        if counts[doc_id] != entry.chunks:
            findings.append(
                Finding(
                    "chunk-count",
                    f"'{doc_id}': manifest says {entry.chunks} chunks, chunks.jsonl has "
                    f"{counts[doc_id]}",
                    "drop the document and ingest it again",
                )
            )
            plan.bad_docs.add(doc_id)
        try:
            texts[doc_id] = (generation / "texts" / f"{doc_id}.txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            texts[doc_id] = None
            findings.append(
                Finding(
                    "text",
                    f"'{doc_id}': the parsed text that citations point into is missing",
                    "drop the document and ingest it again",
                )
            )
            plan.bad_docs.add(doc_id)
    for chunk in chunks:
        text = texts.get(chunk.doc_id)
        if text is not None and text[chunk.start : chunk.end] != chunk.text:
            findings.append(
                Finding(
                    "span",
                    f"chunk {chunk.chunk_id} does not match its span in the parsed text",
                    "drop the document and ingest it again",
                )
            )
            plan.bad_docs.add(chunk.doc_id)
            texts[chunk.doc_id] = None  # one finding per document is enough


def _expected_sentences(chunks: list[Chunk]) -> dict[str, tuple[SentenceRecord, str]]:
    return {r.sentence_id: (r, read_text(r, c)) for c in chunks for r in chunk_sentences(c)}


def _check_vectors(
    store: ChromaStore,
    manifest: Manifest,
    good: list[Chunk],
    findings: list[Finding],
    plan: _Plan,
    checked: dict[str, int],
) -> None:
    dims = store.dims()
    if dims and dims != {manifest.dim}:
        findings.append(
            Finding(
                "dim",
                f"stored vectors have {sorted(dims)} dimensions, the manifest says {manifest.dim}",
                "rebuild the index",
            )
        )
        plan.rebuild = True
        return
    stored = store.chunk_ids()
    checked["chunk_vectors"] = len(stored)
    wanted = {c.chunk_id for c in good}
    plan.orphan_chunks = stored - wanted
    plan.missing_chunks = [c for c in good if c.chunk_id not in stored]
    if plan.orphan_chunks:
        findings.append(
            Finding(
                "orphan-vectors",
                f"{len(plan.orphan_chunks)} chunk vectors belong to no chunk",
                "delete them",
            )
        )
    if plan.missing_chunks:
        findings.append(
            Finding(
                "missing-vectors",
                f"{len(plan.missing_chunks)} chunks have no vector",
                "embed and add them",
            )
        )
    stored_sentences = store.sentence_ids()
    checked["sentence_vectors"] = len(stored_sentences)
    expected = _expected_sentences(good) if manifest.sentences else {}
    plan.orphan_sentences = stored_sentences - set(expected)
    plan.missing_sentences = [v for k, v in expected.items() if k not in stored_sentences]
    if plan.orphan_sentences:
        findings.append(
            Finding(
                "orphan-sentences",
                f"{len(plan.orphan_sentences)} sentence vectors belong to no chunk",
                "delete them",
            )
        )
    if plan.missing_sentences:
        findings.append(
            Finding(
                "missing-sentences",
                f"{len(plan.missing_sentences)} sentences have no vector",
                "embed and add them",
            )
        )


def _fix_generation(settings: Settings, embedder: Embedder, plan: _Plan) -> list[str]:
    """Apply vector, lexical and document fixes in one index transaction."""
    done: list[str] = []
    with IndexWriter(settings).begin(copy_current=True) as gen:
        store = gen.store
        manifest = gen.read_manifest()
        chunks = gen.read_chunks()
        if plan.orphan_chunks or plan.orphan_sentences:
            store.delete_ids(sorted(plan.orphan_chunks), sorted(plan.orphan_sentences))
            done.append(
                f"deleted {len(plan.orphan_chunks)} orphan chunk vectors and "
                f"{len(plan.orphan_sentences)} orphan sentence vectors"
            )
        if plan.missing_chunks:
            vectors = embedder.embed_passages([c.embedding_text for c in plan.missing_chunks])
            store.add_chunks(plan.missing_chunks, np.asarray(vectors))
            done.append(f"embedded {len(plan.missing_chunks)} chunks that had no vector")
        if plan.missing_sentences:
            records = [r for r, _ in plan.missing_sentences]
            vectors = embedder.embed_passages([t for _, t in plan.missing_sentences])
            store.add_sentences(records, np.asarray(vectors))
            done.append(f"embedded {len(records)} sentences that had no vector")
        for doc_id in sorted(plan.bad_docs):
            gen.remove_document(doc_id)
            manifest.documents.pop(doc_id, None)
            done.append(f"dropped '{doc_id}' from the index")
        if plan.bad_docs:
            chunks = [c for c in chunks if c.doc_id not in plan.bad_docs]
            gen.write_chunks(chunks)
            gen.write_manifest(manifest)
        if plan.lexical:
            gen.write_bm25(chunks)
            done.append(f"rebuilt the BM25 index ({len(chunks)} chunks)")
    assert gen.published is not None
    done.append(f"published {gen.published.name}")
    return done
