"""The document catalog (documents/catalog.toml): id, title, language, publisher, year, kind."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from helse_qa.errors import ConfigError
from helse_qa.types import DocumentInfo

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.toml"


def load_catalog(documents_dir: Path) -> dict[str, DocumentInfo]:
    """Map file name -> catalog entry. A missing catalog is an empty one."""
    path = documents_dir / CATALOG_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc} - fix the TOML syntax") from exc
    entries: dict[str, DocumentInfo] = {}
    seen_ids: set[str] = set()
    for i, raw in enumerate(data.get("document", [])):
        file = raw.get("file")
        doc_id = raw.get("id")
        if not file or not doc_id:
            raise ConfigError(f"{path}: entry {i + 1} needs both 'file' and 'id'")
        if doc_id in seen_ids:
            raise ConfigError(f"{path}: id '{doc_id}' is used twice - ids must be unique")
        seen_ids.add(doc_id)
        year = raw.get("year")
        entries[file] = DocumentInfo(
            doc_id=str(doc_id),
            title=str(raw.get("title") or Path(file).stem),
            language=str(raw.get("language") or ""),
            publisher=str(raw.get("publisher") or ""),
            year=int(year) if year is not None else None,
            kind=str(raw.get("kind") or ""),
            path=str(file),
        )
    return entries
