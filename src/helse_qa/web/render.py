"""What the web app shows: its labels in both languages and the escaped HTML of answers and
sources. Document text is data: every piece of it is HTML-escaped (and Markdown-escaped in
the chat) before it reaches the page.
"""

from __future__ import annotations

import html
import re
from typing import Any

from helse_qa.messages import REMOVED, say
from helse_qa.text.sentences import first_prose

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
        "export_file": "Last ned (.md og .docx)",
        "examples": "Eksempler",
        "no_sources": "Still et spørsmål: kildene vises her.",
        "closest": "Fant ikke svar. Nærmeste avsnitt som kan være relevante:",
        "upload": "Last opp dokumenter (.txt, .md, .pdf, .html, .docx)",
        "upload_btn": "Last opp og indekser",
        "remove": "Fjern dokument",
        "remove_btn": "Fjern",
        "remove_confirm": "Fjern «{title}» ({doc_id}) fra indeksen? Filen flyttes til "
        "{folder} og kan gjenopprettes.",
        "confirm_btn": "Ja, fjern",
        "cancel_btn": "Avbryt",
        "restore": "Fjernede dokumenter",
        "restore_btn": "Gjenopprett",
        "doc_table": "Indekserte dokumenter",
        "page": "s.",
        "question_n": "Spørsmål",
        "n_sources": "{n} kilder",
        "one_source": "1 kilde",
        "no_answer": "ikke besvart",
        "unsure": "Ikke sikker",
        "unsure_sources": "ikke sikker, nærmeste avsnitt",
        "searching": "Søker i dokumentene …",
        "filter_notice": "Søket var begrenset til {n} valgte dokumenter; svaret kan stå i et "
        "av de andre. Tøm filteret under «Filtre» og spør igjen.",
        "nothing_to_export": "Ingen svar å eksportere ennå: still et spørsmål først.",
        "internal_error": "Noe gikk galt på serveren; feilen er logget.",
        "empty_question": "Spørsmålet er tomt: skriv et spørsmål.",
        "long_question": "Spørsmålet er for langt (over {limit} tegn): forkort det.",
        "error": "Feil: {detail}",
        "error_title": "Feil",
        "choose_files": "Velg én eller flere filer først.",
        "bad_type": "{name}: filtypen støttes ikke - bruk {types}.",
        "too_large": "{name}: større enn {mb} MB.",
        "uploaded": "{added} lagt til, {updated} oppdatert ({names})",
        "upload_skipped": "; hoppet over {skipped}",
        "indexing": "Indekserer …",
        "already": "{name} er allerede indeksert, som «{title}».",
        "choose_remove": "Velg et dokument å fjerne først.",
        "unknown_doc": "«{doc_id}» er ikke indeksert (lenger): listen er oppdatert.",
        "removed_msg": "Fjernet «{title}»; filen ligger i {folder} (kan gjenopprettes nedenfor).",
        "choose_restore": "Velg et fjernet dokument å gjenopprette først.",
        "restored_msg": "Gjenopprettet «{title}» ({name}); {added} lagt til.",
        "whole_passage": "Vis hele avsnittet",
        "no_pages": "–",
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
        "export_file": "Download (.md and .docx)",
        "examples": "Examples",
        "no_sources": "Ask a question: its sources appear here.",
        "closest": "No answer found. Closest passages that may be relevant:",
        "upload": "Upload documents (.txt, .md, .pdf, .html, .docx)",
        "upload_btn": "Upload and index",
        "remove": "Remove document",
        "remove_btn": "Remove",
        "remove_confirm": "Remove “{title}” ({doc_id}) from the index? The file is moved to "
        "{folder} and can be restored.",
        "confirm_btn": "Yes, remove",
        "cancel_btn": "Cancel",
        "restore": "Removed documents",
        "restore_btn": "Restore",
        "doc_table": "Indexed documents",
        "page": "p.",
        "question_n": "Question",
        "n_sources": "{n} sources",
        "one_source": "1 source",
        "no_answer": "not answered",
        "unsure": "Not sure",
        "unsure_sources": "not sure, closest passages",
        "searching": "Searching the documents …",
        "filter_notice": "The search was limited to {n} chosen documents; the answer may be in "
        "one of the others. Clear the filter under “Filters” and ask again.",
        "nothing_to_export": "Nothing to export yet: ask a question first.",
        "internal_error": "Something went wrong on the server; the error has been logged.",
        "empty_question": "The question is empty: type a question.",
        "long_question": "The question is too long (over {limit} characters): shorten it.",
        "error": "Error: {detail}",
        "error_title": "Could not do that",
        "choose_files": "Choose one or more files first.",
        "bad_type": "{name}: unsupported file type - use {types}.",
        "too_large": "{name}: larger than {mb} MB.",
        "uploaded": "{added} added, {updated} updated ({names})",
        "upload_skipped": "; skipped {skipped}",
        "indexing": "Indexing …",
        "already": "{name} is already indexed, as “{title}”.",
        "choose_remove": "Choose a document to remove first.",
        "unknown_doc": "“{doc_id}” is not (or no longer) indexed: the list has been refreshed.",
        "removed_msg": "Removed “{title}”; the file is in {folder} (restore it below).",
        "choose_restore": "Choose a removed document to restore first.",
        "restored_msg": "Restored “{title}” ({name}); {added} added.",
        "whole_passage": "Show the whole passage",
        "no_pages": "–",
    },
}
DOC_COLUMNS = {
    "nb": ["id", "tittel", "språk", "sider", "avsnitt", "indeksert"],
    "en": ["id", "title", "language", "pages", "chunks", "indexed"],
}

# Clicking a [n] marker opens its passage (and the turn around it) in the sources panel and
# scrolls to the marked sentence.
JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a.cite-marker');
    if (!link) return;
    event.preventDefault();
    const target = document.getElementById(link.getAttribute('href').slice(1));
    if (!target) return;
    const source = target.closest('details.source');
    let d = target.closest('details');
    while (d) {
      d.open = true;
      d = d.parentElement ? d.parentElement.closest('details') : null;
    }
    target.scrollIntoView({behavior: 'smooth', block: 'center'});
    document.querySelectorAll('.source.active').forEach((el) => el.classList.remove('active'));
    if (source) source.classList.add('active');
    // the clicked citation itself, singled out until another is clicked (issue 38)
    document.querySelectorAll('mark.picked').forEach((el) => el.classList.remove('picked'));
    target.classList.add('picked');
  }, true);
}
"""
CSS = """
.source { border-left: 3px solid #c7d2fe; padding: 4px 10px; margin: 8px 0; }
.source.active { border-left-color: #4f46e5; background: #eef2ff; }
.source summary, .turn > summary { cursor: pointer; }
.source summary { font-weight: 600; }
.source .meta { color: #555; font-size: 0.85em; }
.source .passage { white-space: pre-wrap; margin-top: 6px; }
.source .gap { display: block; height: 6px; }
.source details.whole > summary { font-weight: 400; color: #4338ca; font-size: 0.85em;
  margin-top: 4px; }
.source mark { background: #fde68a; }
.source mark.picked { background: #fdba74; outline: 2px solid #c2410c; outline-offset: 1px; }
.source .num { font-weight: 700; color: #4338ca; margin-right: 2px; }
.turn { margin-top: 10px; }
.turn > summary { font-size: 0.9em; color: #444; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.turn[open] > summary { white-space: normal; font-weight: 600; }
.abstained { color: #92400e; }
/* "not sure" (issue 36): the closest passages, set apart from an answer at a glance */
.unsure { display: block; color: #5b21b6; border-left: 3px solid #8b5cf6; padding-left: 8px; }
.unsure-label { font-weight: 700; font-size: 0.85em; text-transform: uppercase; }
.removed { margin-top: 8px; color: #6b7280; font-size: 0.9em; }
.removed summary { cursor: pointer; color: #b91c1c; }
.removed .reason { font-style: italic; }
.notice { color: #6b7280; font-size: 0.85em; }
.pending { color: #6b7280; font-style: italic; }
/* The sources panel scrolls inside its own column however many questions it holds: Gradio
   sets its block to overflow: visible, which let 20 folded questions paint over the examples,
   filters and export below it (issue 38). */
#sources { max-height: 80vh; overflow-y: auto !important; overscroll-behavior: contain; }
/* The chat's label and toolbar get a strip of their own: messages scroll below them, never
   under them (issue 25: the icons covered the latest question). */
#chat > .wrapper { padding-top: 30px; box-sizing: border-box; }
/* A short screen (1366x768) still shows Send on first load: the chat shrinks with the
   window's height, between 240 and 460 px. */
#chat { height: clamp(240px, calc(100vh - 370px), 460px) !important; }
/* A refused question is said once, in the toast: no "Error" badges left over the
   conversation and the question box until the next question. */
#chat .wrap:has(> span.error), #question .wrap:has(> span.error),
#sources .wrap:has(> span.error) { display: none !important; }
@media (max-width: 640px) {
  #sources { max-height: none; }
  /* A phone (390x844) shows the question box and Send on first load (issue 38: the title,
     the language switch and a 460 px chat pushed Send 105 px below the fold). */
  #chat { height: clamp(200px, calc(100vh - 520px), 460px) !important; }
  #title { min-width: 100% !important; }
}
"""

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|>~-])")
_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")


def question_html(question: str) -> str:
    """The user's question as the chat shows it: text, never markup (the chat renders
    Markdown and HTML, so a question with tags would otherwise become live)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(question.strip(), quote=False))


def chat_html(answer_text: str, turn: int, abstained: bool) -> str:
    """The answer for the chat window: escaped text, [n] markers linked to the sources panel."""
    safe = _MD_SPECIAL.sub(r"\\\1", html.escape(answer_text, quote=False))
    linked = _ESCAPED_MARKER.sub(
        lambda m: f'<a href="#src-{turn}-{m.group(1)}" class="cite-marker">[{m.group(1)}]</a>',
        safe,
    )
    linked = linked.replace("\n", "<br>")  # list items and overview points, one per line
    return f'<span class="abstained">{linked}</span>' if abstained else linked


def bold_phrases(rendered: str, citations: list[dict[str, Any]]) -> str:
    """The reader's answer phrase in bold inside each quote that has one (first occurrence
    after the previous one; text only, escaped as the chat escapes it)."""
    at = 0
    for c in citations:
        phrase = (c.get("answer_phrase") or {}).get("text")
        if not phrase:
            continue
        safe = _MD_SPECIAL.sub(r"\\\1", html.escape(phrase, quote=False))
        found = rendered.find(safe, at)
        if found < 0:
            continue
        bold = f'<b class="answer-phrase">{safe}</b>'
        rendered = rendered[:found] + bold + rendered[found + len(safe) :]
        at = found + len(bold)
    return rendered


def removed_html(removed: list[dict[str, str]], lang: str) -> str:
    """The removed sentences of an LLM answer, folded under "Fjernet fordi kildene ikke
    støtter dem (2)": as plain text, each with its reason, linked to no source."""

    def plain(text: str) -> str:  # escaped as the chat escapes an answer, no marker linked
        return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))

    items = "".join(
        f'<li>{plain(r["text"])} <span class="reason">({plain(r["reason"])})</span></li>'
        for r in removed
    )
    label = html.escape(say(REMOVED, lang).format(n=len(removed)))
    return f'<details class="removed"><summary>{label}</summary><ul>{items}</ul></details>'


PENDING_CLASS = "pending"


def pending_html(lang: str) -> str:
    """The chat's placeholder while a question is answered (issue 38): "Søker i dokumentene
    …", replaced by the answer."""
    return f'<span class="{PENDING_CLASS}">{html.escape(TEXT[lang]["searching"])}</span>'


def is_pending(message: Any) -> bool:
    """Whether a chat message is that placeholder (its content as the chat gives it back: a
    string, or a list of parts with text)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return isinstance(content, str) and f'<span class="{PENDING_CLASS}">' in content


def answer_html(result: dict[str, Any], turn: int, extra_notice: str = "") -> str:
    """A full answer; an LLM answer's sentences that the sources do not support stand apart
    under it, folded, each with its reason and no citation link (issue 38);
    ``extra_notice`` is the page's own line under it (e.g. that a filter was on)."""
    if result.get("mode") == "llm" and result.get("removed") and not result["abstained"]:
        rendered = chat_html(result["answer"], turn, False) + removed_html(
            result["removed"], "en" if result.get("language") == "en" else "nb"
        )
    elif result.get("kind") == "unsure":
        label = html.escape(TEXT["en" if result.get("language") == "en" else "nb"]["unsure"])
        body = chat_html(result["answer"], turn, False)
        label = f'<span class="unsure-label">{label}</span>'
        rendered = f'<span class="unsure">{label}<br>{body}</span>'
    else:
        rendered = chat_html(result["answer"], turn, result["abstained"])
        if not result["abstained"]:
            rendered = bold_phrases(rendered, result.get("citations", []))
    if result.get("language_note"):
        note = html.escape(result["language_note"])
        rendered = f'<span class="notice">{note}</span><br>' + rendered
    if result.get("notice"):
        rendered += f'<br><span class="notice">{html.escape(result["notice"])}</span>'
    if extra_notice:
        rendered += f'<br><span class="notice filter-notice">{html.escape(extra_notice)}</span>'
    return rendered


def sources_html(turns: list[dict[str, Any]], lang: str) -> str:
    """The cited passages, newest question first and open, older questions folded to one line.

    One entry per passage: every sentence of it that the answer cites is highlighted and
    numbered (``id="src-<turn>-<n>"`` is the target of the answer's ``[n]`` link). All text
    is escaped.
    """
    t = TEXT[lang]
    if not turns:
        return f"<p>{html.escape(t['no_sources'])}</p>"
    parts: list[str] = []
    newest = len(turns) - 1
    for index in range(newest, -1, -1):
        answer = turns[index]["answer"]
        blocks = _turn_blocks(answer, index + 1, t)
        if answer.get("kind") == "unsure":
            count = t["unsure_sources"]
        elif answer["abstained"] and not answer["citations"]:
            count = t["no_answer"]
        elif len(blocks) == 1:
            count = t["one_source"]
        else:
            count = t["n_sources"].format(n=len(blocks))
        summary = (
            f"{html.escape(t['question_n'])} {index + 1}: "
            f'<span class="q">{html.escape(answer["question"])}</span> ({html.escape(count)})'
        )
        open_ = " open" if index == newest else ""
        parts.append(
            f'<details class="turn" id="turn-{index + 1}"{open_}><summary>{summary}</summary>'
            + "".join(blocks)
            + "</details>"
        )
    return "\n".join(parts)


def _turn_blocks(answer: dict[str, Any], turn: int, t: dict[str, str]) -> list[str]:
    if answer["abstained"] and not answer["citations"]:
        closest = [f'<p class="abstained">{html.escape(t["closest"])}</p>']
        prose = [p for p in answer["passages"] if first_prose(p["text"]) is not None]
        for i, p in enumerate(prose[:3], start=1):  # label blocks read as no passage
            closest.append(_source_block(f"{turn}-closest-{i}", f"{i}.", p, [], t))
        return closest
    passages = {p["chunk_id"]: p for p in answer["passages"]}
    cited: dict[str, list[dict[str, Any]]] = {}
    for c in answer["citations"]:
        if c["chunk_id"] in passages:
            cited.setdefault(c["chunk_id"], []).append(c)
    blocks = []
    for chunk_id, citations in cited.items():
        numbers = ", ".join(str(c["number"]) for c in citations)
        blocks.append(
            _source_block(
                f"{turn}-passage-{citations[0]['number']}",
                f"[{numbers}]",
                passages[chunk_id],
                citations,
                t,
                turn=turn,
            )
        )
    return blocks


CONTEXT_CHARS = 90  # about a line of the passage on each side of a cited sentence
CLOSEST_CHARS = 240  # the start of a passage shown for an abstention's closest passages


def _windows(text: str, spans: list[tuple[int, int]], context: int) -> list[tuple[int, int]]:
    """The stretches of ``text`` shown at first: each span with about a line of context on
    either side, cut at a word (or at a line break when one is near), overlapping ones merged."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        lo, hi = max(0, start - context), min(len(text), end + context)
        if lo > 0:
            brk = text.rfind("\n", lo, start)
            lo = brk + 1 if brk >= 0 else min(start, text.find(" ", lo) + 1 or start)
        if hi < len(text):
            brk = text.find("\n", end, hi)
            space = text.rfind(" ", end, hi)
            hi = brk if brk >= 0 else (space if space >= 0 else hi)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _marked(
    text: str,
    citations: list[dict[str, Any]],
    base: int,
    turn: int,
    lo: int,
    hi: int,
    ids: bool,
) -> str:
    """``text[lo:hi]`` escaped, each cited sentence in it marked and numbered; ``ids``: the
    marks carry the anchors the answer's [n] links point at (only one copy may)."""
    body: list[str] = []
    at = lo
    for c in sorted(citations, key=lambda c: c["span"][0]):
        start = max(c["span"][0] - base, at)
        end = min(c["span"][1] - base, hi)
        anchor = f' id="src-{turn}-{c["number"]}"' if ids else ""
        if start >= hi or c["span"][1] - base <= lo:
            continue
        if end <= start:
            body.append(f'<span class="num"{anchor}>[{c["number"]}]</span>')
            continue
        body.append(html.escape(text[at:start]))
        body.append(
            f'<span class="num">[{c["number"]}]</span>'
            f"<mark{anchor}>{html.escape(text[start:end])}</mark>"
        )
        at = end
    body.append(html.escape(text[at:hi]))
    return "".join(body)


def _source_block(
    ident: str,
    label: str,
    passage: dict[str, Any],
    citations: list[dict[str, Any]],
    t: dict[str, str],
    turn: int = 0,
) -> str:
    """One passage: each cited sentence marked ``[n]`` with about a line of context
    (overlapping spans are merged into the first one's mark), and the whole passage on
    demand, so that on a phone the first cited sentence comes right after its heading."""
    text = passage["text"]
    base = passage["span"][0]
    spans = [(max(0, c["span"][0] - base), min(len(text), c["span"][1] - base)) for c in citations]
    if spans:
        windows = _windows(text, spans, CONTEXT_CHARS)
    else:  # an abstention's closest passage: from its first prose sentence, cut at a word
        start = first_prose(text) or 0
        limit = start + CLOSEST_CHARS
        cut = len(text) if len(text) <= limit else text.rfind(" ", start, limit)
        windows = [(start, cut if cut > start else min(len(text), limit))]
    pieces = []
    for lo, hi in windows:
        piece = _marked(text, citations, base, turn, lo, hi, ids=True)
        pieces.append(("… " if lo > 0 else "") + piece + (" …" if hi < len(text) else ""))
    excerpt = '<span class="gap"> </span>'.join(pieces)
    whole = ""
    if windows != [(0, len(text))]:
        full = _marked(text, citations, base, turn, 0, len(text), ids=False)
        whole = (
            f'<details class="whole"><summary>{html.escape(t["whole_passage"])}</summary>'
            f'<div class="passage">{full}</div></details>'
        )
    where = ", ".join(
        x
        for x in (
            f"{t['page']} {passage['page']}" if passage.get("page") else "",
            passage.get("section") or "",
        )
        if x
    )
    return (
        f'<details class="source" id="src-{html.escape(ident)}" open>'
        f"<summary>{html.escape(label)} {html.escape(passage['title'])}</summary>"
        f'<div class="meta">{html.escape(where)}</div>'
        f'<div class="passage excerpt">{excerpt}</div>{whole}</details>'
    )


INTERNAL_ERROR = {lang: TEXT[lang]["internal_error"] for lang in TEXT}
