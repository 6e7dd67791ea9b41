"""The one index transaction: every change to the index goes through :class:`IndexWriter`.

::

    with IndexWriter(settings).begin(copy_current=True) as gen:
        gen.store.add_chunks(...); gen.write_chunks(chunks); gen.write_bm25(chunks)

``begin`` takes the index lock, copies the current generation into a hidden working
directory and opens its vector store (in server mode: seeded from the current generation's
collections). On a clean exit it closes the store, publishes the working directory with an
atomic switch of ``index/CURRENT`` and drops stale server collections. On any exception
(Ctrl-C included) it closes the store, removes the working directory, drops its server
collections and re-raises: the previous generation stays current and untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from helse_qa.config import Settings
from helse_qa.storage import bm25
from helse_qa.storage.layout import (
    IndexLayout,
    Manifest,
    read_chunks,
    read_manifest,
    write_chunks,
    write_manifest,
)
from helse_qa.storage.vectors import ChromaStore, drop_server_generations, generation_store
from helse_qa.types import Chunk

log = logging.getLogger(__name__)

TEXTS = "texts"


class Generation:
    """The working copy of one generation, open inside an :class:`IndexWriter` transaction."""

    def __init__(self, path: Path, store: ChromaStore) -> None:
        self.path = path
        self.store = store
        self.published: Path | None = None  # the generation's final path, after commit

    def read_chunks(self) -> list[Chunk]:
        return read_chunks(self.path)

    def read_manifest(self) -> Manifest:
        return read_manifest(self.path)

    def write_chunks(self, chunks: Sequence[Chunk]) -> None:
        write_chunks(self.path, list(chunks))

    def write_manifest(self, manifest: Manifest) -> None:
        write_manifest(self.path, manifest)

    def write_bm25(self, chunks: Sequence[Chunk]) -> None:
        """(Re)build the lexical index over ``chunks`` (the only way it is built)."""
        bm25.build(chunks).save(self.path / bm25.DIRECTORY)

    def write_text(self, doc_id: str, text: str) -> None:
        """The parsed text of a document: citation spans point into it."""
        directory = self.path / TEXTS
        directory.mkdir(exist_ok=True)
        (directory / f"{doc_id}.txt").write_text(text, encoding="utf-8")

    def remove_document(self, doc_id: str) -> None:
        """Drop a document's vectors and parsed text (chunks.jsonl/manifest: the caller's)."""
        self.store.delete_document(doc_id)
        (self.path / TEXTS / f"{doc_id}.txt").unlink(missing_ok=True)


class IndexWriter:
    """Opens write transactions on the index of ``settings.index_dir``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = IndexLayout(settings.index_dir)

    @contextmanager
    def begin(self, *, copy_current: bool = True) -> Iterator[Generation]:
        """A working generation: published on a clean exit, discarded on an exception."""
        settings = self.settings
        layout = self.layout
        with layout.lock():
            current = layout.current()
            work = layout.begin(copy=copy_current)
            seed = current.name if (copy_current and current is not None) else None
            store: ChromaStore | None = None
            try:
                store = generation_store(settings.index_dir, work, settings.chroma_url, seed)
                gen = Generation(work, store)
                yield gen
                _record_vectors(work, store)
                store.close()  # release Chroma's files before the directory is renamed
                store = None
                gen.published = layout.commit(work)
                drop_server_generations(
                    settings.index_dir, settings.chroma_url, keep=gen.published.name
                )
                log.info("index: published %s", gen.published.name)
            except BaseException:
                if store is not None:
                    store.close()
                layout.abort(work)
                now = layout.current()
                drop_server_generations(
                    settings.index_dir, settings.chroma_url, keep=now.name if now else None
                )
                raise


def _record_vectors(work: Path, store: ChromaStore) -> None:
    """The manifest says where the generation's vectors live and how many there are, so
    that opening it with another store, or after the store lost data, is refused."""
    if not (work / "manifest.json").exists():
        return
    manifest = read_manifest(work)
    manifest.vectors = store.location()
    write_manifest(work, manifest)
