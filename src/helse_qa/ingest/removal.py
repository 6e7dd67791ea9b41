"""Removing a document moves its file aside, never deletes it; it can be restored.

A removed file goes to ``<documents>/.removed/<YYYY-MM-DD>/<its path under documents>``
(ingest skips folders whose name starts with a dot, so it leaves the index at the next
ingest). Restoring moves it back. Nothing outside the documents folder is ever moved.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from helse_qa.errors import HelseQAError

REMOVED_DIR = ".removed"
TITLES_FILE = ".titles.json"  # per day: the removed files' titles, for the restore list


@dataclass(frozen=True)
class RemovedFile:
    """A file moved aside: when, and where it came from (relative to the documents)."""

    date: str  # YYYY-MM-DD
    relative: str  # its path under the documents folder, as it was
    path: Path  # where it lies now
    title: str = ""  # the document's title when it was removed ("" if not known)

    @property
    def label(self) -> str:
        """Unique among the removed files: the path and the day."""
        return f"{self.relative} ({self.date})"

    @property
    def display(self) -> str:
        """What a person picks from: the title and the day (the path when no title)."""
        return f"{self.title} ({self.date})" if self.title else self.label


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if root not in path.parents:
        raise HelseQAError(f"{relative} is outside the documents folder {root} - not moved")
    return path


def move_aside(
    documents_dir: Path, relative: str, today: dt.date | None = None, title: str = ""
) -> RemovedFile:
    """Move ``documents_dir/relative`` to ``.removed/<date>/relative`` (a second removal
    of the same name the same day gets a numbered name). ``title`` is kept beside it
    (``.removed/<date>/.titles.json``) so that the restore list can name the document."""
    root = documents_dir.resolve()
    source = _inside(root, relative)
    if REMOVED_DIR in source.relative_to(root).parts:
        raise HelseQAError(f"{relative} is already removed")
    if not source.is_file():
        raise HelseQAError(f"{relative} is not a file in {root} - nothing to remove")
    date = (today or dt.date.today()).isoformat()
    rel = source.relative_to(root)
    target = root / REMOVED_DIR / date / rel
    n = 2
    while target.exists():
        target = root / REMOVED_DIR / date / rel.with_name(f"{rel.stem}-{n}{rel.suffix}")
        n += 1
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    moved = target.relative_to(root / REMOVED_DIR / date).as_posix()
    if title:
        titles_file = root / REMOVED_DIR / date / TITLES_FILE
        titles = _titles(titles_file.parent)
        titles[moved] = title
        tmp = titles_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(titles, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, titles_file)
    return RemovedFile(date, rel.as_posix(), target, title)


def _titles(day: Path) -> dict[str, str]:
    try:
        data = json.loads((day / TITLES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none kept (removed before titles were), or unreadable: paths are shown
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def removed_files(documents_dir: Path) -> list[RemovedFile]:
    """Files moved aside, newest first."""
    base = documents_dir.resolve() / REMOVED_DIR
    if not base.is_dir():
        return []
    found: list[RemovedFile] = []
    for day in sorted((d for d in base.iterdir() if d.is_dir()), reverse=True):
        titles = _titles(day)
        for path in sorted(p for p in day.rglob("*") if p.is_file() and p.name != TITLES_FILE):
            relative = path.relative_to(day).as_posix()
            found.append(RemovedFile(day.name, relative, path, titles.get(relative, "")))
    return found


def restore(documents_dir: Path, name: str) -> Path:
    """Move the newest removed file whose path, file name or label is ``name`` back to
    where it was; refuses to overwrite a file that is there now."""
    root = documents_dir.resolve()
    matches = [
        r
        for r in removed_files(documents_dir)
        if name in (r.relative, Path(r.relative).name, Path(r.relative).stem, r.label, r.display)
    ]
    if not matches:
        known = ", ".join(r.label for r in removed_files(documents_dir)) or "none"
        raise HelseQAError(f"no removed file '{name}' - removed files: {known}")
    chosen = matches[0]
    target = _inside(root, chosen.relative)
    if target.exists():
        raise HelseQAError(
            f"{chosen.relative} exists in {root} again - move it away first, then restore"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(chosen.path, target)
    return target
