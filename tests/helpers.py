"""Small real test data built on the fly: PDFs, .docx files, the repository corpus."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ROOT / "documents"
REPORT = DOCUMENTS / "innovasjon-norge-strategisk-posisjonering-2018.txt"
ARTICLE = DOCUMENTS / "nht-health-clusters-join-forces.txt"


def run_helse_qa(*args, env=None, timeout=180, input=None):
    """``python -m helse_qa ARGS`` in a fresh process, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "helse_qa", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def llm_settings(settings, url, llm_timeout=3.0, **extra):
    """``settings`` in LLM mode against the scripted fake server at ``url``."""
    return settings.model_copy(
        update={
            "answer_mode": "llm",
            "llm_base_url": url,
            "llm_model": "scripted",
            "llm_timeout": llm_timeout,
            **extra,
        }
    )


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def dehyphenated_raw(text: str) -> str:
    """The raw source with line-end hyphenation joined and whitespace collapsed."""
    joined = re.sub(r"(?<=[a-zæøåA-ZÆØÅ])-\n(?=[a-zæøå])", "", text)
    return collapse(joined)


def make_pdf(path: Path, pages: list[list[str]]) -> Path:
    """Write a minimal valid PDF with one text line per entry (Helvetica, WinAnsi)."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        content_id = 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("cp1252")
        objects.append(
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"
        )
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    path.write_bytes(bytes(out))
    return path


def make_docx(path: Path, heading: str, paragraphs: list[str]) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


class CountingEmbedder:
    """The real embedder, counting how many passages it was asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id = inner.model_id
        self.fingerprint = inner.fingerprint
        self.dim = inner.dim
        self.passages = 0

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=None):
        self.passages += len(texts)
        return self.inner.embed_passages(texts, progress)


# The corpus documents' ids (documents/catalog.toml).
REPORT_ID = "in-posisjonering-2018"
ARTICLE_ID = "nht-clusters-merge-2024"


def assert_verbatim(assistant, answer) -> None:
    """Every citation's quote is its document's text at its offsets, from a shown passage."""
    for c in answer.citations:
        text = assistant.document_text(c.doc_id)
        assert text[c.start : c.end] == c.quote
        assert c.chunk_id in {h.chunk.chunk_id for h in answer.passages}
        if c.caption:  # a chart row's caption stands in the source too, just above it
            paragraph = text.rfind("\n\n", 0, c.start)  # the rows' paragraph starts there
            above = text[:paragraph].rstrip().rsplit("\n\n", 1)[-1]
            assert " ".join(above.split()) == c.caption


def scored_passage(texts_and_probabilities, language="nb", sep=" "):
    """ScoredSentences of one synthetic passage, in the given order (best first)."""
    from helse_qa.answering.scored import ScoredSentence
    from helse_qa.types import Chunk, Hit, SentenceRecord

    text = sep.join(t for t, _ in texts_and_probabilities)
    chunk = Chunk("d:0", "d", "Rapport", language, text, 0, len(text), None, (), 0)
    hit = Hit(chunk, 1.0)
    out, start = [], 0
    for sentence, probability in texts_and_probabilities:
        record = SentenceRecord("d:0", "d", start, start + len(sentence))
        out.append(ScoredSentence(record, sentence, hit, 1, probability))
        start += len(sentence) + 1
    return out


def shows_first(answer, text: str) -> bool:
    """The answer puts ``text`` first for the user: as the answer, or (the reader not sure
    enough, issue 36) as the first closest passage under "not sure"."""
    return (
        answer.kind in ("fact", "unsure")
        and bool(answer.citations)
        and text in answer.citations[0].quote
    )
