"""Readers: turn a file into clean text plus pages and section headings.

Supported: .txt/.md (plain text, web-page text, or text extracted from a PDF with the
page/heading layout described in documents' README), .pdf (pypdf), .html/.htm, .docx.
All readers go through :class:`_TextBuilder`, so every format yields the same shape:
paragraphs separated by a blank line, wrapped lines joined, words hyphenated across line
ends re-joined, and page/heading offsets into the final text.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from helse_qa.errors import DocumentError
from helse_qa.ingest.lists import Block, reattach
from helse_qa.text.language import detect_language
from helse_qa.types import DocumentInfo, Heading, Page, ParsedDocument

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".txt", ".md", ".pdf", ".html", ".htm", ".docx")

# A line in PDF-extracted text is a wrapped continuation of prose when the previous line
# is at least this long; shorter lines are labels, list items or figure text: kept apart.
_WRAP_MIN_CHARS = 50
_LETTER = "A-Za-zÆØÅæøåÄÖÜäöüÉéÈèÓóÁá"
_LOWER_START = re.compile(r"^[a-zæøåäöüéèóá]")
_HYPHEN_END = re.compile(rf"[{_LETTER}]-$")
_ABBREV_HYPHEN_END = re.compile(r"(?:[A-ZÆØÅ0-9])-$")  # "FoU-", "IKT-", "HF-": real hyphens
# A line that ends in a free-standing dash goes on in the next one ("Helseindustrien –" /
# "omsettning 2017": one chart caption).
_DASH_END = re.compile(r"\s[–—-]$")
_CHAPTER = re.compile(r"^(\d{1,2})\s+\|\s+(\S.*?)\s*$")
_SUBSECTION = re.compile(r"^(\d{1,2}\.\d{1,2})\s+([A-ZÆØÅ«].*?)\s*$")
_SPACES = re.compile(r"[ \t\u00a0]+")

# Web page chrome: navigation and sharing lines that carry no content.
_CHROME = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^skip to (main )?content\.?$",
        r"^share this (article|page|post|story)\b.*$",
        r"^\S+( \S+)? logo$",
        r"^[•·\-\*]?\s*news article$",
        r"^(back to top|print|print this page|follow us|menu|search|close|cookie settings)$",
        r"^(hopp til (hovedinnhold|innhold)|del (denne )?artikkelen.*)$",
        r"^this website uses cookies.*$",
    )
]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_chrome(line: str) -> bool:
    stripped = line.strip()
    return any(p.match(stripped) for p in _CHROME)


def join_lines(lines: Iterable[str]) -> str:
    """Join the lines of one paragraph.

    "helse-" + "industriens" -> "helseindustriens"; "FoU-" + "investeringer" keeps its
    hyphen; "spesialist- " (a space after the hyphen: a suspended compound, "primær-,
    spesialist- og ...") keeps it too; a wrapped prose line, and a line that ends in a
    free-standing dash ("Helseindustrien –"), is joined with a space; other short lines
    (labels, list items) keep their line break.
    """
    out = ""
    prev = ""
    prev_suspended = False
    for raw in lines:
        line = _SPACES.sub(" ", raw).strip()
        if not line:
            continue
        hyphen = bool(_HYPHEN_END.search(prev)) and not prev_suspended
        if not out:
            out = line
        elif hyphen and _LOWER_START.match(line):
            out = out + line if _ABBREV_HYPHEN_END.search(prev) else out[:-1] + line
        elif hyphen:
            out = out + line  # "helse-" + "IKT": a real compound hyphen
        elif len(prev) >= _WRAP_MIN_CHARS or prev_suspended or _DASH_END.search(prev):
            out = out + " " + line
        else:
            out = out + "\n" + line
        prev = line
        prev_suspended = bool(re.search(rf"[{_LETTER}]-[ \t\u00a0]+$", raw.rstrip("\r\n")))
    return out


def source_pattern(quote: str) -> re.Pattern[str]:
    """A pattern that finds ``quote`` (text as the parser gave it) in the raw source text:
    :func:`join_lines` and the whitespace clean-up undone, nothing else.

    - a run of whitespace in the quote matches any run of whitespace (spaces, tabs, line
      breaks: wrapped lines were joined with one space or kept with a line break);
    - between two letters there may be a hyphen and a line break ("helse-\\nindustriens"
      was joined to "helseindustriens");
    - after a hyphen there may be a line break ("helse-\\nIKT" -> "helse-IKT");
    - a chapter line's bar is dropped ("1 | Innledning" -> "1 Innledning").

    Everything else must be in the source character for character: a quote whose words or
    figures the parser changed in any other way is not found.
    """
    parts: list[str] = []
    previous = ""
    for char in quote:
        if char.isspace():
            if previous != " ":
                parts.append(r"(?:\s+\|)?\s+")  # "1 | Innledning" -> "1 Innledning"
            previous = " "
            continue
        if previous.isalpha() and char.isalpha():
            parts.append(r"(?:-[ \t\u00a0]*\r?\n[ \t\u00a0]*)?")
        elif previous == "-":
            parts.append(r"(?:[ \t\u00a0]*\r?\n[ \t\u00a0]*)?")
        parts.append(re.escape(char))
        previous = char
    return re.compile("".join(parts).strip())


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def found_in_source(quote: str, source: str) -> bool:
    """Whether ``quote`` is in the raw ``source`` text, up to :func:`source_pattern`.

    A list re-attached to its lead-in (:mod:`.lists`) is quoted as one passage whose
    paragraphs stand apart on the page: then every paragraph of the quote must be in the
    source, each verbatim.
    """
    quote = quote.strip()
    if not quote:
        return False
    if source_pattern(quote).search(source) is not None:
        return True
    parts = [p.strip() for p in _PARAGRAPH_BREAK.split(quote) if p.strip()]
    return len(parts) > 1 and all(source_pattern(p).search(source) for p in parts)


class _TextBuilder:
    """Accumulates paragraphs, page starts and headings with exact offsets."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._page_starts: list[tuple[int, int]] = []
        self.headings: list[Heading] = []

    def _append(self, text: str) -> int:
        if self._parts:
            self._parts.append("\n\n")
            self._length += 2
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        return start

    def paragraph(self, lines: list[str]) -> None:
        text = join_lines(lines)
        if text:
            self._append(text)

    def heading(self, level: int, title: str) -> None:
        title = _SPACES.sub(" ", title).strip()
        if title:
            start = self._append(title)
            self.headings.append(Heading(level=level, title=title, start=start))

    def page(self, number: int) -> None:
        # The page begins where its first paragraph will start.
        start = self._length + (2 if self._parts else 0)
        self._page_starts.append((number, start))

    def build(self) -> tuple[str, tuple[Page, ...], tuple[Heading, ...]]:
        text = "".join(self._parts)
        pages: list[Page] = []
        for i, (number, start) in enumerate(self._page_starts):
            end = self._page_starts[i + 1][1] - 2 if i + 1 < len(self._page_starts) else len(text)
            if end > start:
                pages.append(Page(number=number, start=start, end=max(end, start)))
        return text, tuple(pages), tuple(self.headings)


# C0 control characters other than tab, newline, carriage return and form feed: stray
# NUL bytes from a broken export, terminal escapes. Removed from every extracted text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def clean_controls(text: str, name: str) -> str:
    cleaned, n = _CONTROL.subn("", text)
    if n:
        log.warning("%s: removed %d control characters (e.g. NUL bytes)", name, n)
    return cleaned


def decode_text(data: bytes, name: str) -> str:
    """Decode a text file: UTF-8 (with or without BOM), else cp1252/latin-1 (Norwegian).

    A file whose first 4 KiB are over 5 % control bytes (NUL and the like) is binary (an
    image or archive renamed to .txt); a few stray NULs in real text are removed instead.
    """
    head = data[:4096]
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13)) + head.count(127)
    if not utf16 and controls > max(2, len(head) // 20):
        raise DocumentError(
            f"{name}: looks like a binary file (control bytes such as NUL), not text - skipped"
        )
    for encoding in ("utf-8-sig", "utf-16") if utf16 else ("utf-8-sig",):
        try:
            return clean_controls(data.decode(encoding), name)
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("cp1252")
        log.info("%s is not UTF-8; decoded as cp1252", name)
    except UnicodeDecodeError:
        log.info("%s is not UTF-8; decoded as latin-1", name)
        text = data.decode("latin-1")
    return clean_controls(text, name)


def looks_like_pdf_text(text: str) -> bool:
    """True for text extracted from a PDF with ' N  |  Title' chapter lines."""
    lines = text.splitlines()
    chapters = sum(1 for line in lines if _CHAPTER.match(line.strip()))
    page_starts = sum(1 for line in lines if line.startswith(" ") and not line.startswith("  "))
    return chapters >= 2 and page_starts >= 2


class _Page:
    """The blocks of one PDF page, held until the page ends so that a list detached from
    its lead-in can be put back (:mod:`.lists`), then handed to the builder in order."""

    def __init__(self, builder: _TextBuilder) -> None:
        self._builder = builder
        self._blocks: list[Block] = []

    def paragraph(self, lines: list[str]) -> None:
        text = join_lines(lines)
        if text:
            self._blocks.append(Block("paragraph", text, lines=tuple(lines)))

    def heading(self, level: int, title: str) -> None:
        self._blocks.append(Block("heading", title, level=level))

    def end(self) -> None:
        for block in reattach(self._blocks):
            if block.kind == "heading":
                self._builder.heading(block.level, block.text)
            else:
                self._builder.paragraph(list(block.lines))
        self._blocks.clear()


def _parse_pdf_text(text: str, builder: _TextBuilder) -> None:
    """Layout of PDF-extracted text: a line beginning with one space starts a new page,
    chapter lines are 'N | Title' (a title may wrap onto one short line), sub-sections
    'N.N Title'. A list the extraction put away from its lead-in is put back on each
    page (:func:`helse_qa.ingest.lists.reattach`)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    para: list[str] = []
    page = 0
    blocks = _Page(builder)

    def flush() -> None:
        if para:
            blocks.paragraph(para)
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(" ") and not line.startswith("  "):
            flush()
            blocks.end()
            page += 1
            builder.page(page)
            line = line[1:]
        elif i == 0:
            page = 1
            builder.page(page)
        stripped = line.strip()
        chapter = _CHAPTER.match(stripped)
        sub = _SUBSECTION.match(stripped)
        if chapter:
            flush()
            title = f"{chapter.group(1)} {chapter.group(2)}"
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            after = lines[i + 2].strip() if i + 2 < len(lines) else ""
            if nxt and len(nxt) < 40 and not after and not lines[i + 1].startswith(" "):
                title = f"{title} {nxt}"
                i += 1
            blocks.heading(1, title)
        elif sub:
            flush()
            blocks.heading(2, f"{sub.group(1)} {sub.group(2)}")
        elif not stripped:
            flush()
        else:
            para.append(line)
        i += 1
    flush()
    blocks.end()


def _is_plain_heading(para: list[str], next_para: list[str] | None) -> bool:
    if len(para) != 1 or next_para is None:
        return False
    line = para[0].strip()
    words = line.split()
    return (
        2 <= len(words) <= 10
        and len(line) <= 70
        and line[0].isupper()
        and line[-1] not in '.!?,;"”»)'
        and len(" ".join(next_para)) > len(line)
    )


def _parse_plain_text(text: str, builder: _TextBuilder, markdown: bool) -> None:
    """Plain or web-page text: paragraphs split by blank lines, chrome lines dropped,
    short title-like lines (or Markdown '#' lines) taken as headings. No pages: a web page
    or a note is not paginated, so its chunks carry a section but no page number."""
    paras: list[list[str]] = []
    current: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if is_chrome(line):
            continue
        if not line.strip():
            if current:
                paras.append(current)
                current = []
            continue
        if markdown and line.lstrip().startswith("#"):
            if current:
                paras.append(current)
                current = []
            paras.append([line.strip()])
            continue
        current.append(line)
    if current:
        paras.append(current)
    seen_heading = False
    for i, para in enumerate(paras):
        nxt = paras[i + 1] if i + 1 < len(paras) else None
        md = re.match(r"^(#{1,6})\s+(.*)$", para[0].strip()) if markdown else None
        if md and len(para) == 1:
            builder.heading(len(md.group(1)), md.group(2))
        elif not markdown and _is_plain_heading(para, nxt):
            builder.heading(2 if seen_heading else 1, para[0])
            seen_heading = True
        else:
            builder.paragraph(para)


def _parse_pdf(data: bytes, name: str, builder: _TextBuilder) -> None:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{name}: the PDF is encrypted - decrypt it and add it again")
        pages = [clean_controls(page.extract_text() or "", name) for page in reader.pages]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"{name}: cannot read PDF ({exc}) - skipped") from exc
    except Exception as exc:  # pypdf raises assorted errors on damaged files
        raise DocumentError(
            f"{name}: cannot read PDF ({type(exc).__name__}: {exc}) - skipped"
        ) from exc
    blocks = _Page(builder)
    for number, page_text in enumerate(pages, start=1):
        builder.page(number)
        para: list[str] = []
        for line in page_text.split("\n"):
            stripped = line.strip()
            if not stripped:
                if para:
                    blocks.paragraph(para)
                    para = []
            elif _CHAPTER.match(stripped):
                if para:
                    blocks.paragraph(para)
                    para = []
                m = _CHAPTER.match(stripped)
                assert m is not None
                blocks.heading(1, f"{m.group(1)} {m.group(2)}")
            else:
                para.append(line)
        if para:
            blocks.paragraph(para)
        blocks.end()


_HTML_DROP = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg")
_HTML_BLOCKS = ("p", "li", "td", "th", "blockquote", "pre", "dd", "dt", "figcaption")


def _parse_html(text: str, builder: _TextBuilder) -> None:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(list(_HTML_DROP)):
        tag.decompose()
    body = soup.body or soup
    for el in body.find_all(["h1", "h2", "h3", "h4", *_HTML_BLOCKS]):
        if el.find_parent(list(_HTML_BLOCKS)) is not None:
            continue  # nested block: its text is part of the outer one
        content = el.get_text(" ", strip=True)
        if not content or is_chrome(content):
            continue
        if el.name in ("h1", "h2", "h3", "h4"):
            builder.heading(int(el.name[1]), content)
        else:
            builder.paragraph([content])


def _parse_docx(data: bytes, name: str, builder: _TextBuilder) -> None:
    import io
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(f"{name}: cannot read .docx ({exc}) - skipped") from exc
    for para in document.paragraphs:
        content = clean_controls(para.text, name).strip()
        if not content:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        m = re.match(r"^(Heading|Overskrift)\s*(\d)$", style)
        if m or style == "Title":
            builder.heading(int(m.group(2)) if m else 1, content)
        else:
            builder.paragraph(content.split("\n"))


def _too_long(name: str, size: int, limit: int, unit: str) -> None:
    raise DocumentError(
        f"{name}: {size:,} {unit} of text, over the limit of {limit:,} characters - split "
        "the file, or raise HELSE_QA_MAX_DOCUMENT_CHARS"
    )


def parse_document(
    path: Path, info: DocumentInfo | None = None, max_chars: int | None = None
) -> ParsedDocument:
    """Read one file into a :class:`ParsedDocument`.

    Raises :class:`DocumentError` for unreadable, empty, binary, unsupported or (with
    ``max_chars``) over-long files.
    """
    name = path.name
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise DocumentError(
            f"{name}: unsupported file type '{ext or '(none)'}' - "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    binary_format = ext in (".pdf", ".docx")
    try:
        if max_chars is not None and not binary_format and path.stat().st_size > 4 * max_chars:
            _too_long(name, path.stat().st_size, max_chars, "bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{name}: cannot read file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise DocumentError(f"{name}: the file is empty - skipped")
    builder = _TextBuilder()
    if ext == ".pdf":
        _parse_pdf(data, name, builder)
    elif ext == ".docx":
        _parse_docx(data, name, builder)
    else:
        text = decode_text(data, name)
        if max_chars is not None and len(text) > max_chars:
            _too_long(name, len(text), max_chars, "characters")
        if ext in (".html", ".htm"):
            _parse_html(text, builder)
        elif ext == ".txt" and looks_like_pdf_text(text):
            _parse_pdf_text(text, builder)
        else:
            _parse_plain_text(text, builder, markdown=ext == ".md")
    text, pages, headings = builder.build()
    if not text.strip():
        raise DocumentError(f"{name}: no text could be extracted - skipped")
    if max_chars is not None and len(text) > max_chars:
        _too_long(name, len(text), max_chars, "characters")
    if info is None:
        info = DocumentInfo(
            doc_id=doc_id_from_path(path),
            title=title_from_path(path),
            language=detect_language(text[:20000]),
            path=name,
        )
    return ParsedDocument(
        info=info, text=text, pages=pages, headings=headings, content_hash=content_hash(data)
    )


def doc_id_from_path(path: Path) -> str:
    stem = re.sub(r"[^a-z0-9æøå]+", "-", path.stem.lower()).strip("-")
    return stem or "document"


def title_from_path(path: Path) -> str:
    words = re.sub(r"[_\-]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name
