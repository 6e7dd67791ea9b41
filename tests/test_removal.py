"""Removing a document moves its file aside (never deletes it); restoring moves it back."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys

import pytest
from tests.helpers import DOCUMENTS

from helse_qa.errors import HelseQAError
from helse_qa.ingest.removal import REMOVED_DIR, move_aside, removed_files, restore

DAY = dt.date(2026, 11, 23)


def test_a_removed_file_is_moved_aside_and_restored(tmp_path):
    docs = tmp_path / "documents"
    (docs / "uploads").mkdir(parents=True)
    (docs / "uploads" / "notat.txt").write_text("Notat om klynger.\n", encoding="utf-8")
    moved = move_aside(docs, "uploads/notat.txt", today=DAY)
    assert not (docs / "uploads" / "notat.txt").exists()
    assert moved.path == docs.resolve() / REMOVED_DIR / "2026-11-23" / "uploads" / "notat.txt"
    assert moved.path.read_text(encoding="utf-8") == "Notat om klynger.\n"
    assert [r.relative for r in removed_files(docs)] == ["uploads/notat.txt"]
    back = restore(docs, "notat.txt")
    assert back == (docs / "uploads" / "notat.txt").resolve()
    assert back.read_text(encoding="utf-8") == "Notat om klynger.\n"
    assert removed_files(docs) == []


def test_the_restore_list_names_a_removed_file_by_its_title(tmp_path):
    docs = tmp_path / "documents"
    (docs / "uploads").mkdir(parents=True)
    for name in ("rapport-3f9a1c2e.pdf", "notat-0b7d.txt"):
        (docs / "uploads" / name).write_bytes(b"x")
    move_aside(docs, "uploads/rapport-3f9a1c2e.pdf", today=DAY, title="Helserapport 2018")
    move_aside(docs, "uploads/notat-0b7d.txt", today=DAY)  # no title known: the path
    shown = {r.relative: r.display for r in removed_files(docs)}
    assert shown == {
        "uploads/rapport-3f9a1c2e.pdf": "Helserapport 2018 (2026-11-23)",
        "uploads/notat-0b7d.txt": "uploads/notat-0b7d.txt (2026-11-23)",
    }
    # the list of titles is not itself a removed file, and a title restores its file
    assert len(removed_files(docs)) == 2
    back = restore(docs, "Helserapport 2018 (2026-11-23)")
    assert back == (docs / "uploads" / "rapport-3f9a1c2e.pdf").resolve()


def test_removing_the_same_name_twice_keeps_both(tmp_path):
    docs = tmp_path / "documents"
    docs.mkdir()
    for text in ("first\n", "second\n"):
        (docs / "a.txt").write_text(text, encoding="utf-8")
        move_aside(docs, "a.txt", today=DAY)
    kept = sorted(p.read_text(encoding="utf-8") for p in (docs / REMOVED_DIR).rglob("*.txt"))
    assert kept == ["first\n", "second\n"]


def test_nothing_outside_the_documents_folder_is_moved(tmp_path):
    docs = tmp_path / "documents"
    docs.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("x", encoding="utf-8")
    with pytest.raises(HelseQAError, match="outside the documents folder"):
        move_aside(docs, "../secret.txt", today=DAY)
    assert outside.exists()


def test_restore_never_overwrites_and_names_what_exists(tmp_path):
    docs = tmp_path / "documents"
    docs.mkdir()
    (docs / "a.txt").write_text("old\n", encoding="utf-8")
    move_aside(docs, "a.txt", today=DAY)
    (docs / "a.txt").write_text("new\n", encoding="utf-8")
    with pytest.raises(HelseQAError, match="exists"):
        restore(docs, "a.txt")
    assert (docs / "a.txt").read_text(encoding="utf-8") == "new\n"
    with pytest.raises(HelseQAError, match=r"no removed file 'b\.txt'"):
        restore(docs, "b.txt")


@pytest.mark.slow
def test_cli_removes_and_restores_a_document(tmp_path):
    docs = tmp_path / "documents"
    shutil.copytree(DOCUMENTS, docs)
    base = [
        sys.executable,
        "-m",
        "helse_qa",
        "--documents-dir",
        str(docs),
        "--index-dir",
        str(tmp_path / "index"),
    ]

    def run(*args: str) -> str:
        done = subprocess.run(
            [*base, *args], capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("ingest", "--no-progress")
    out = run("docs", "--remove", "nht-clusters-merge-2024")
    assert "1 removed" in out and ".removed" in out
    assert not (docs / "nht-health-clusters-join-forces.txt").exists()
    listing = run("docs")
    assert "nht-clusters-merge-2024" not in listing.split("removed")[0]
    assert "nht-health-clusters-join-forces.txt" in listing
    answer = json.loads(run("ask", "--json", "When does the merger take effect?"))
    assert "January 1, 2025" not in answer["answer"]
    out = run("docs", "--restore", "nht-health-clusters-join-forces.txt")
    assert "1 added" in out
    assert (docs / "nht-health-clusters-join-forces.txt").exists()
