"""The reliability report's vector-store cases (issue 14), against real ``chroma run``
servers: an index opened with a store that does not hold its vectors is refused and
``ingest`` repairs it; a re-ingest on one instance never breaks a question on another."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.errors import VectorStoreError
from helse_qa.evaluation.chroma import ChromaServer
from helse_qa.ingest.pipeline import ingest
from helse_qa.models.embedding import Embedder
from helse_qa.storage.layout import IndexLayout, read_manifest
from helse_qa.storage.vectors import make_client

QUESTION = "How many members will the merged health cluster have?"
EXPECTED = "370"


@dataclass(frozen=True)
class StoreCase:
    case: str
    expected: str
    seen: str
    ok: bool


def _answers(settings: Settings, embedder: Embedder) -> tuple[bool, str]:
    answer = Assistant.open(settings, embedder=embedder).ask(QUESTION)
    dense = answer.passages[0].dense_rank is not None if answer.passages else False
    return EXPECTED in answer.text and dense and not answer.notice, answer.text[:80]


def _refused(settings: Settings, embedder: Embedder, *needles: str) -> tuple[bool, str]:
    try:
        Assistant.open(settings, embedder=embedder)
    except VectorStoreError as exc:
        return all(n in str(exc) for n in needles), str(exc)
    return False, "opened without complaint"


def _repaired(settings: Settings, embedder: Embedder, expected: str) -> StoreCase:
    """The follow-up of a refused opening: `helse-qa ingest`, then a question."""
    report = ingest(settings, embedder)
    ok, seen = _answers(settings, embedder)
    return StoreCase(
        "... then `helse-qa ingest`", expected, f"{len(report.added)} added; {seen}", ok
    )


def store_cases(
    base: Settings, embedder: Embedder, workdir: Path, questions: int = 200
) -> list[StoreCase]:
    """Run every case in ``workdir`` over a copy of ``base.documents_dir``; nothing else is
    touched."""
    docs = workdir / "documents"
    shutil.copytree(base.documents_dir, docs)
    cases: list[StoreCase] = []

    def settings(index: str, url: str | None = None) -> Settings:
        update = {"documents_dir": docs, "index_dir": workdir / index, "chroma_url": url}
        return base.model_copy(update=update)

    # 1. built on a server that is then stopped; opened with the embedded store
    with ChromaServer(workdir / "chroma-1") as server:
        ingest(settings("index-1", server.url), embedder)
    embedded = settings("index-1")
    ok, seen = _refused(embedded, embedder, server.url, "embedded", "helse-qa ingest")
    cases.append(
        StoreCase(
            "built on a server, server stopped, opened embedded",
            "refused, naming both stores and the fix",
            seen,
            ok,
        )
    )
    cases.append(_repaired(embedded, embedder, "embeds again into the embedded store and answers"))

    with ChromaServer(workdir / "chroma-2") as server:
        # 2. the server loses a collection behind the index's back
        served = settings("index-2", server.url)
        ingest(served, embedder)
        manifest = read_manifest(IndexLayout(served.index_dir).require_current())
        assert manifest.vectors is not None
        make_client(None, server.url).delete_collection(manifest.vectors.collections["chunks"])
        ok, seen = _refused(served, embedder, "holds only 0 of")
        cases.append(
            StoreCase("server collection dropped behind the index", "`ask` refuses", seen, ok)
        )
        cases.append(_repaired(served, embedder, "repairs and answers"))

        # 3. one instance re-ingests while another answers
        reader = Assistant.open(served, embedder=embedder)
        writer = Assistant.open(served, embedder=embedder)
        errors: list[str] = []
        right = 0

        def ask_all() -> None:
            nonlocal right
            for _ in range(questions):
                try:
                    right += EXPECTED in reader.ask(QUESTION).text
                except Exception as exc:  # counted, not raised
                    errors.append(f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=ask_all)
        thread.start()
        published = 0
        extra = docs / "reingest-note.txt"
        while thread.is_alive():
            extra.write_text(f"Klyngen i Bodø fikk {published + 10} nye medlemmer i 2025.\n")
            writer.ingest()
            published += 1
        thread.join()
        extra.unlink()
        cases.append(
            StoreCase(
                f"two instances: {questions} questions on one while the other re-ingests",
                "0 errors, every answer right",
                f"{published} generations published; {len(errors)} errors; {right} right"
                + (f"; first error: {errors[0]}" if errors else ""),
                not errors and right == questions and published >= 2,
            )
        )
    return cases
