"""Briefing export: a conversation's answers with one numbered reference list, as Markdown or
as a Word document (.docx), ready to paste.

* References are deduplicated by document and span over the whole briefing and numbered
  once, in order of first use; every answer's ``[n]`` markers are renumbered to match.
* Each quote appears once: a reference whose quote already stands in an exported answer
  (extractive answers are the quoted sentences) gives only its location; one whose quote
  does not (an LLM paraphrase) carries the quote.
* Abstentions and near misses are marked as such; an LLM sentence that failed verification
  is never in an answer: it is listed apart under it, struck through, with its reason.
* Every label follows the UI language (``language``); the answers keep their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helse_qa.answering.names import NOT_COUNTED, NOT_NAMED
from helse_qa.messages import NEAR_MISS, REMOVED, removed_reason, say, without_markers

LABELS: dict[str, dict[str, str]] = {
    "nb": {
        "title": "Briefing fra helse-qa",
        "made": "Laget {when} med helse-qa.",
        "q": "Spørsmål",
        "a": "Svar",
        "refs": "Referanser",
        "page": "s.",
        "abstained": "Ikke besvart av dokumentene.",
        "near_miss": "Ikke besvart av dokumentene. Nærmeste treff:",
        "unsure": "Usikkert, ikke et funn:",
        "quoted_nb": "Sitert fra norsk kilde.",
        "quoted_en": "Sitert fra engelsk kilde.",
        "none": "Ingen kilder: dokumentene besvarte ikke spørsmålene.",
        "open": "«",
        "close": "»",
    },
    "en": {
        "title": "Briefing from helse-qa",
        "made": "Made {when} with helse-qa.",
        "q": "Question",
        "a": "Answer",
        "refs": "References",
        "page": "p.",
        "abstained": "Not answered by the documents.",
        "near_miss": "Not answered by the documents. Closest match:",
        "unsure": "Not sure, not a finding:",
        "quoted_nb": "Quoted from a Norwegian source.",
        "quoted_en": "Quoted from an English source.",
        "none": "No sources: the documents did not answer the questions.",
        "open": "“",
        "close": "”",
    },
}

# A near miss that opens with its own line (any language): the briefing does not say
# "Not answered ... Closest match:" before it again.
_FRAMED = re.compile(
    "|".join(
        re.sub(r"\\\{\w+\\\}", ".+?", re.escape(template))  # each {placeholder}: any words
        for table in (NOT_NAMED, NOT_COUNTED, NEAR_MISS)
        for template in table.values()
    )
)
_MARKER = re.compile(r"\[(\d+)\]")
_MARKER_RUN = re.compile(r"([ \t]*)(\[\d+\](?:[ \t]*\[\d+\])*)")
# What may end a title, section or publisher before it is joined with ", " or ": ".
_TRAILING = ":;,.-–— \t\r\n"
_OTHER_LANGUAGE = {"nb": "en", "en": "nb"}


@dataclass(frozen=True)
class Reference:
    """One entry of the briefing's reference list."""

    number: int
    location: str  # title, publisher, year, page, section
    quote: str  # "" when the quote already stands in an exported answer


@dataclass(frozen=True)
class Segment:
    """A piece of an answer line; ``quoted``: verbatim source text (an extractive answer's
    quote), set in quotation marks in Markdown and in the Quote character style in .docx
    (issue 38)."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class BriefingTurn:
    question: str
    # "" | "abstained" | "near_miss" | "unsure": the label key shown before the answer
    status: str
    lines: tuple[tuple[Segment, ...], ...]  # the answer, line by line; () for an abstention
    note: str  # e.g. "Quoted from a Norwegian source."
    # an LLM answer's sentences that failed the check, without markers, with their reasons
    # (issue 38): listed apart under the answer, never in it
    removed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Briefing:
    labels: Mapping[str, str]
    turns: tuple[BriefingTurn, ...]
    references: tuple[Reference, ...]


def _clean(value: Any) -> str:
    """Whitespace collapsed and trailing punctuation dropped, so joins never give '::'."""
    return " ".join(str(value or "").split()).rstrip(_TRAILING)


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _key(c: Mapping[str, Any]) -> tuple[str, ...]:
    """What makes two citations the same reference: the document and the span."""
    span = c.get("span")
    if span:
        return (str(c.get("doc_id", "")), str(int(span[0])), str(int(span[1])))
    return (str(c.get("doc_id", "")), "", _normalise(str(c.get("quote", ""))))


def _location(c: Mapping[str, Any], doc: Mapping[str, Any], page_label: str) -> str:
    title = _clean(doc.get("title") or c.get("title") or c.get("doc_id"))
    parts = [title]
    for field in ("publisher", "year"):
        if _clean(doc.get(field)):
            parts.append(_clean(doc.get(field)))
    if c.get("page"):
        parts.append(f"{page_label} {c['page']}")
    section = " > ".join(
        p for p in (_clean(s) for s in str(c.get("section") or "").split(" > ")) if p
    )
    if section and section.casefold() != title.casefold():
        parts.append(section)
    return ", ".join(p for p in parts if p)


def _without_failed(answer: str, sentences: Sequence[Mapping[str, Any]]) -> str:
    """An LLM answer without any sentence that failed the check (they are listed apart,
    issue 38; an answer the assistant made no longer holds them, an older export may)."""
    for s in sentences:
        if not s.get("supported", True) and s.get("text"):
            answer = answer.replace(str(s["text"]), " ")
    return re.sub(r"[ \t]{2,}", " ", answer).strip()


def _quoted_segments(answer: str, citations: Sequence[Mapping[str, Any]]) -> list[Segment]:
    """An extractive answer's text as segments, its quotes (each citation's quote, a chart
    row after its caption, right before its marker) marked ``quoted``: a near miss's or a
    "not sure" line before them stays plain."""
    segments: list[Segment] = []
    pos = 0
    for c in citations:
        quote = str(c.get("quote", ""))
        shown = f"{c['caption']} · {quote}" if c.get("caption") else quote
        at = answer.find(f"{shown} [{c['number']}]", pos) if shown else -1
        if at < 0:
            continue
        if answer[pos:at]:
            segments.append(Segment(answer[pos:at]))
        segments.append(Segment(shown, quoted=True))
        pos = at + len(shown)
    segments.append(Segment(answer[pos:]))
    return segments


def _renumber(text: str, numbers: Mapping[int, int]) -> str:
    """Local markers to briefing-wide numbers; unknown markers dropped, repeats merged."""

    def run(match: re.Match[str]) -> str:
        found = [numbers.get(int(n)) for n in _MARKER.findall(match.group(2))]
        kept = [f"[{n}]" for n in dict.fromkeys(found) if n is not None]
        if not kept:  # and the space before it
            return ""
        joiner = " " if re.search(r"\s", match.group(2)) else ""
        return match.group(1) + joiner.join(kept)

    return _MARKER_RUN.sub(run, text)


@dataclass
class _Draft:
    """A turn before the briefing-wide numbers are known."""

    turn: Mapping[str, Any]
    citations: dict[int, Mapping[str, Any]]  # local number -> citation, in order of use
    status: str
    segments: list[Segment]  # the exported answer with local markers; [] if not exported


def _draft(turn: Mapping[str, Any]) -> _Draft:
    citations = list(turn.get("citations") or [])
    answer = str(turn.get("answer", ""))
    by_local = {int(c["number"]): c for c in citations}
    # order of first use: markers in the text, then any citation no marker names
    used = [int(n) for n in _MARKER.findall(answer) if int(n) in by_local]
    used += [int(c["number"]) for c in citations]
    abstained = bool(turn.get("abstained"))
    status = ""
    if turn.get("kind") == "unsure":
        status = "unsure"  # the closest passages under "not sure": never a finding
    elif abstained:
        status = "near_miss" if turn.get("kind") == "near_miss" and citations else "abstained"
    if status == "near_miss" and _FRAMED.match(answer):
        status = ""  # the answer's own line says it ("The documents give 2017, not 2022:")
    # a plain abstention's text only says what its mark says
    exported = not abstained or bool(citations)
    if not exported:
        segments: list[Segment] = []
    elif turn.get("mode") == "llm":  # the model's own words: not quotation
        segments = [Segment(_without_failed(answer, turn.get("sentences") or []))]
    else:
        segments = _quoted_segments(answer, citations)
    return _Draft(turn, {n: by_local[n] for n in dict.fromkeys(used)}, status, segments)


def build(
    turns: Sequence[Mapping[str, Any]],
    documents: Mapping[str, Mapping[str, Any]],
    language: str = "nb",
) -> Briefing:
    """The briefing's content, shared by :func:`to_markdown` and :func:`to_docx`.

    Citations of the same document span are one reference; so are citations whose entries
    would read the same (two sentences of one page and section, both quoted in answers).
    """
    labels = LABELS.get(language, LABELS["en"])
    drafts = [_draft(turn) for turn in turns]
    answers = _normalise(_MARKER.sub(" ", " ".join(s.text for d in drafts for s in d.segments)))
    entries: dict[tuple[str, ...], Reference] = {}  # citation key -> its entry
    numbers: dict[tuple[str, str], int] = {}  # (location, quote) -> briefing number
    for d in drafts:
        for c in d.citations.values():
            key = _key(c)
            if key in entries:
                continue
            doc = documents.get(str(c.get("doc_id", "")), {})
            location = _location(c, doc, labels["page"])
            quote = _normalise(str(c.get("quote", "")))
            if _normalise(_MARKER.sub(" ", quote)) in answers:
                quote = ""  # it stands in an answer already
            elif quote and c.get("caption"):  # a chart row, read with its caption
                quote = f"{_normalise(str(c['caption']))} · {quote}"
            number = numbers.setdefault((location, quote), len(numbers) + 1)
            entries[key] = Reference(number, location, quote)
    out_turns: list[BriefingTurn] = []
    for d in drafts:
        local = {n: entries[_key(c)].number for n, c in d.citations.items()}
        pieces: list[list[Segment]] = [[]]
        for seg in d.segments:
            text = _renumber(seg.text, local)
            if seg.quoted:  # one pair of quotation marks around the whole quote
                text = _quoted(text.strip(), labels)
            for i, part in enumerate(text.split("\n")):
                if i:
                    pieces.append([])
                if part.strip():
                    pieces[-1].append(Segment(part, quoted=seg.quoted))
        lines = tuple(tuple(_tidy(p)) for p in pieces if p)
        note = ""
        if d.turn.get("language_note") and lines:
            source = _OTHER_LANGUAGE.get(str(d.turn.get("language", "")), "")
            note = labels.get(f"quoted_{source}", "")
        question = _normalise(str(d.turn.get("question", "")))
        failed = [s for s in d.turn.get("sentences") or [] if not s.get("supported", True)]
        removed = tuple(
            (
                without_markers(str(s.get("text", ""))),
                removed_reason(str(s.get("reason")), language),
            )
            for s in failed
        )
        out_turns.append(BriefingTurn(question, d.status, lines, note, removed))
    unique = {r.number: r for r in entries.values()}
    return Briefing(labels, tuple(out_turns), tuple(unique[n] for n in sorted(unique)))


def _tidy(segments: Sequence[Segment]) -> list[Segment]:
    """Line pieces trimmed at the line's ends (a line never starts or ends in a space)."""
    out = list(segments)
    if out:
        out[0] = replace(out[0], text=out[0].text.lstrip())
        out[-1] = replace(out[-1], text=out[-1].text.rstrip())
    return [s for s in out if s.text]


def _quoted(text: str, labels: Mapping[str, str]) -> str:
    inner = text.replace("«", "‘").replace("»", "’") if labels["open"] == "«" else text
    return f"{labels['open']}{inner}{labels['close']}"


def reference_text(ref: Reference, labels: Mapping[str, str]) -> str:
    """``"3. Title, Publisher, 2018, p. 4, Section: “quote”"`` (no quote when it is shown)."""
    line = f"{ref.number}. {ref.location}"
    if not ref.quote:
        return line
    joiner = " " if ref.location.endswith(("?", "!")) else ": "
    return f"{line}{joiner}{_quoted(ref.quote, labels)}"


def _markdown_line(segments: Sequence[Segment]) -> str:
    return " ".join(s.text.strip() for s in segments if s.text.strip())


def _when(made: datetime | None) -> datetime:
    """The export's time: ``made`` (tests), else now, in the machine's time zone."""
    return (made or datetime.now(UTC)).astimezone()


def made_line(labels: Mapping[str, str], made: datetime) -> str:
    return labels["made"].format(when=made.strftime("%Y-%m-%d %H:%M"))


def to_markdown(
    turns: Sequence[Mapping[str, Any]],
    documents: Mapping[str, Mapping[str, Any]],
    language: str = "nb",
    made: datetime | None = None,
) -> str:
    """``turns``: answers as produced by ``Answer.to_dict()``; ``documents``: doc_id -> catalog
    facts (title, publisher, year); ``language``: the UI language, which sets every label;
    ``made``: the export's time, written under the title (default: now)."""
    b = build(turns, documents, language)
    t = b.labels
    out = [f"# {t['title']}", "", f"*{made_line(t, _when(made))}*", ""]
    for turn in b.turns:
        out += [f"**{t['q']}:** {turn.question}", ""]
        head = [f"*{t[turn.status]}*"] if turn.status else []
        first = _markdown_line(turn.lines[0]) if turn.lines else ""
        out += [" ".join([f"**{t['a']}:**", *head, *([first] if first else [])]), ""]
        for line in turn.lines[1:]:
            out += [_markdown_line(line), ""]
        if turn.removed:
            out += [f"*{say(REMOVED, language).format(n=len(turn.removed))}:*", ""]
            out += [f"- ~~{text}~~ *({reason})*" for text, reason in turn.removed] + [""]
        if turn.note:
            out += [f"*{turn.note}*", ""]
    out += [f"## {t['refs']}", ""]
    out += [reference_text(r, t) for r in b.references] or [t["none"]]
    return "\n".join(out) + "\n"


def to_docx(
    turns: Sequence[Mapping[str, Any]],
    documents: Mapping[str, Mapping[str, Any]],
    language: str,
    path: str | Path,
    made: datetime | None = None,
) -> Path:
    """The same briefing as :func:`to_markdown`, written to ``path`` as a Word document.
    Its core properties say what it is: the title, helse-qa as author, created and modified
    at ``made`` (default: now), not python-docx's template (author "python-docx", 2013)."""
    from docx import Document  # only the export needs python-docx

    b = build(turns, documents, language)
    t = b.labels
    when = _when(made)
    doc = Document()
    props = doc.core_properties
    props.title = t["title"]
    props.author = props.last_modified_by = "helse-qa"
    props.created = props.modified = when.astimezone(UTC)
    props.revision = 1
    props.comments = props.keywords = props.subject = props.category = ""
    props.language = language
    doc.add_heading(t["title"], level=1)
    doc.add_paragraph().add_run(made_line(t, when)).italic = True

    def add_line(paragraph: Any, segments: Sequence[Segment]) -> None:
        for i, seg in enumerate(segments):
            if i:
                paragraph.add_run(" ")
            if seg.quoted:  # verbatim source text, in Word's quote style
                paragraph.add_run(seg.text.strip(), style="Quote Char")
            else:
                paragraph.add_run(seg.text.strip())

    for turn in b.turns:
        p = doc.add_paragraph()
        p.add_run(f"{t['q']}: ").bold = True
        p.add_run(turn.question)
        p = doc.add_paragraph()
        p.add_run(f"{t['a']}: ").bold = True
        if turn.status:
            p.add_run(t[turn.status]).italic = True
            if turn.lines:
                p.add_run(" ")
        if turn.lines:
            add_line(p, turn.lines[0])
        for line in turn.lines[1:]:
            add_line(doc.add_paragraph(), line)
        if turn.removed:
            label = say(REMOVED, language).format(n=len(turn.removed))
            doc.add_paragraph().add_run(f"{label}:").italic = True
            for text, reason in turn.removed:
                p = doc.add_paragraph(style="List Bullet")
                p.add_run(text).font.strike = True
                p.add_run(f" ({reason})").italic = True
        if turn.note:
            doc.add_paragraph().add_run(turn.note).italic = True
    doc.add_heading(t["refs"], level=2)
    for entry in [reference_text(r, t) for r in b.references] or [t["none"]]:
        doc.add_paragraph(entry)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(target))
    return target
