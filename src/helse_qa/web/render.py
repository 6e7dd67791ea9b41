"""What the web app shows: its labels in both languages and the escaped HTML of answers and
sources. Document text is data: every piece of it is HTML-escaped (and Markdown-escaped in
the chat) before it reaches the page.
"""

from __future__ import annotations

import html
import re
from typing import Any

EXAMPLES = [
    "Hvor store var eksportinntektene i 2017?",
    "Hvem sitter i styringsgruppen for prosjektet?",
    "How many members will the merged cluster have?",
    "What is the root problem for building a Norwegian health industry?",
]

TEXT: dict[str, dict[str, str]] = {
    "nb": {
        "title": "## helse-qa\nSpør om dokumentene om norsk helseindustri, på norsk eller engelsk. "
        "Hvert svar siterer avsnittene det bygger på.",
        "chat": "Samtale",
        "docs_tab": "Dokumenter",
        "question": "Spørsmål",
        "placeholder": "Skriv et spørsmål, f.eks. «Hvor store var eksportinntektene i 2017?»",
        "send": "Send",
        "clear": "Ny samtale",
        "sources": "Kilder",
        "sources_heading": "### Kilder",
        "filters": "Filtre",
        "doc_filter": "Søk bare i disse dokumentene (tomt = alle)",
        "k": "Antall avsnitt",
        "export_answer": "Eksporter siste svar",
        "export_all": "Eksporter hele samtalen",
        "export_md": "Briefing (Markdown)",
        "export_file": "Last ned .md",
        "examples": "Eksempler",
        "no_sources": "Still et spørsmål: kildene vises her.",
        "closest": "Fant ikke svar. Nærmeste avsnitt som kan være relevante:",
        "upload": "Last opp dokumenter (.txt, .md, .pdf, .html, .docx)",
        "upload_btn": "Last opp og indekser",
        "remove": "Fjern dokument",
        "remove_btn": "Fjern",
        "remove_confirm": "Fjern «{title}» ({doc_id}) fra indeksen? Filen flyttes til "
        "documents/.removed/ og kan gjenopprettes.",
        "confirm_btn": "Ja, fjern",
        "cancel_btn": "Avbryt",
        "restore": "Fjernede dokumenter",
        "restore_btn": "Gjenopprett",
        "doc_table": "Indekserte dokumenter",
        "page": "s.",
        "question_n": "Spørsmål",
    },
    "en": {
        "title": "## helse-qa\nAsk about the Norwegian health-industry documents, in Norwegian or "
        "English. Every answer quotes the passages it rests on.",
        "chat": "Conversation",
        "docs_tab": "Documents",
        "question": "Question",
        "placeholder": "Type a question, e.g. “How many members will the merged cluster have?”",
        "send": "Send",
        "clear": "New conversation",
        "sources": "Sources",
        "sources_heading": "### Sources",
        "filters": "Filters",
        "doc_filter": "Search only these documents (empty = all)",
        "k": "Number of passages",
        "export_answer": "Export last answer",
        "export_all": "Export whole conversation",
        "export_md": "Briefing (Markdown)",
        "export_file": "Download .md",
        "examples": "Examples",
        "no_sources": "Ask a question: its sources appear here.",
        "closest": "No answer found. Closest passages that may be relevant:",
        "upload": "Upload documents (.txt, .md, .pdf, .html, .docx)",
        "upload_btn": "Upload and index",
        "remove": "Remove document",
        "remove_btn": "Remove",
        "remove_confirm": "Remove “{title}” ({doc_id}) from the index? The file is moved to "
        "documents/.removed/ and can be restored.",
        "confirm_btn": "Yes, remove",
        "cancel_btn": "Cancel",
        "restore": "Removed documents",
        "restore_btn": "Restore",
        "doc_table": "Indexed documents",
        "page": "p.",
        "question_n": "Question",
    },
}
DOC_COLUMNS = {
    "nb": ["id", "tittel", "språk", "sider", "avsnitt", "indeksert"],
    "en": ["id", "title", "language", "pages", "chunks", "indexed"],
}

# Clicking a [n] marker opens and scrolls to its passage in the sources panel.
JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a.cite-marker');
    if (!link) return;
    event.preventDefault();
    const target = document.getElementById(link.getAttribute('href').slice(1));
    if (!target) return;
    target.open = true;
    target.scrollIntoView({behavior: 'smooth', block: 'center'});
    document.querySelectorAll('.source.active').forEach((el) => el.classList.remove('active'));
    target.classList.add('active');
  }, true);
}
"""
CSS = """
.source { border-left: 3px solid #c7d2fe; padding: 4px 10px; margin: 8px 0; }
.source.active { border-left-color: #4f46e5; background: #eef2ff; }
.source summary { cursor: pointer; font-weight: 600; }
.source .meta { color: #555; font-size: 0.85em; }
.source .passage { white-space: pre-wrap; margin-top: 6px; }
.source mark { background: #fde68a; }
.turn-heading { margin-top: 14px; font-size: 0.9em; color: #444; }
.abstained { color: #92400e; }
.unsupported { background: #fee2e2; text-decoration: underline dotted #b91c1c; }
.notice { color: #6b7280; font-size: 0.85em; }
"""

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|>~-])")
_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")


def chat_html(answer_text: str, turn: int, abstained: bool) -> str:
    """The answer for the chat window: escaped text, [n] markers linked to the sources panel."""
    safe = _MD_SPECIAL.sub(r"\\\1", html.escape(answer_text, quote=False))
    linked = _ESCAPED_MARKER.sub(
        lambda m: f'<a href="#src-{turn}-{m.group(1)}" class="cite-marker">[{m.group(1)}]</a>',
        safe,
    )
    linked = linked.replace("\n", "<br>")  # list items and overview points, one per line
    return f'<span class="abstained">{linked}</span>' if abstained else linked


def answer_html(result: dict[str, Any], turn: int) -> str:
    """A full answer: LLM sentences that the sources do not support are flagged."""
    if result.get("mode") == "llm" and result.get("sentences") and not result["abstained"]:
        parts = []
        for s in result["sentences"]:
            if s["text"] not in result["answer"]:
                continue  # dropped (unsupported_sentences = "drop")
            body = chat_html(s["text"], turn, False)
            if s["supported"]:
                parts.append(body)
            else:
                reason = html.escape(s["reason"])
                parts.append(f'<span class="unsupported" title="{reason}">⚠ {body}</span>')
        rendered = " ".join(parts)
    else:
        rendered = chat_html(result["answer"], turn, result["abstained"])
    if result.get("language_note"):
        note = html.escape(result["language_note"])
        rendered = f'<span class="notice">{note}</span><br>' + rendered
    if result.get("notice"):
        rendered += f'<br><span class="notice">{html.escape(result["notice"])}</span>'
    return rendered


def sources_html(turns: list[dict[str, Any]], lang: str) -> str:
    """All cited passages, newest question first; quoted spans highlighted; all escaped."""
    t = TEXT[lang]
    if not turns:
        return f"<p>{html.escape(t['no_sources'])}</p>"
    parts: list[str] = []
    for index in range(len(turns) - 1, -1, -1):
        turn = turns[index]
        answer = turn["answer"]
        parts.append(
            f'<div class="turn-heading">{html.escape(t["question_n"])} {index + 1}: '
            f"{html.escape(answer['question'])}</div>"
        )
        passages = {p["chunk_id"]: p for p in answer["passages"]}
        if answer["abstained"] and not answer["citations"]:
            parts.append(f'<p class="abstained">{html.escape(t["closest"])}</p>')
            for i, p in enumerate(answer["passages"][:3], start=1):
                parts.append(_source_block(f"{index + 1}-closest-{i}", f"{i}.", p, None, t, False))
            continue
        for c in answer["citations"]:
            p = passages.get(c["chunk_id"])
            if p is None:
                continue
            open_ = index == len(turns) - 1
            parts.append(
                _source_block(f"{index + 1}-{c['number']}", f"[{c['number']}]", p, c, t, open_)
            )
    return "\n".join(parts)


def _source_block(
    ident: str,
    label: str,
    passage: dict[str, Any],
    citation: dict[str, Any] | None,
    t: dict[str, str],
    open_: bool,
) -> str:
    text = passage["text"]
    if citation is not None:
        start = citation["span"][0] - passage["span"][0]
        end = citation["span"][1] - passage["span"][0]
        body = (
            html.escape(text[:start])
            + "<mark>"
            + html.escape(text[start:end])
            + "</mark>"
            + html.escape(text[end:])
        )
    else:
        body = html.escape(text)
    where = ", ".join(
        x
        for x in (
            f"{t['page']} {passage['page']}" if passage.get("page") else "",
            passage.get("section") or "",
        )
        if x
    )
    return (
        f'<details class="source" id="src-{html.escape(ident)}"{" open" if open_ else ""}>'
        f"<summary>{html.escape(label)} {html.escape(passage['title'])}</summary>"
        f'<div class="meta">{html.escape(where)}</div>'
        f'<div class="passage">{body}</div></details>'
    )


INTERNAL_ERROR = (
    "Noe gikk galt på serveren; feilen er logget. / Something went wrong on the server; "
    "the error has been logged."
)
