"""The Gradio chat UI. It holds no retrieval logic: everything goes through ``Assistant``.

Document text is data: every piece of it is HTML-escaped (and Markdown-escaped in the chat)
before it reaches the page. Conversations live in per-browser-session ``gr.State``.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .assistant import Assistant
from .briefing import to_markdown
from .errors import HelseQAError
from .parsing import SUPPORTED_EXTENSIONS

log = logging.getLogger(__name__)

UPLOAD_SUBDIR = "uploads"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

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
        if answer["abstained"]:
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


@contextmanager
def _errors_for_the_page(gr: Any, where: str) -> Iterator[None]:
    """The one error policy of every event handler: a HelseQAError shows its message (it
    says what to do); anything else is a bug, logged with its details, and the page gets
    one plain sentence."""
    try:
        yield
    except gr.Error:
        raise
    except HelseQAError as exc:
        raise gr.Error(str(exc)) from exc
    except Exception as exc:
        log.exception("unexpected error in %s", where)
        raise gr.Error(INTERNAL_ERROR) from exc


def check_login(accounts: list[tuple[str, str]]) -> Callable[[str, str], bool]:
    """Gradio's login check, comparing in constant time."""
    import hmac

    table = [(u.encode(), p.encode()) for u, p in accounts]

    def ok(user: str, password: str) -> bool:
        u, p = (user or "").encode(), (password or "").encode()
        found = False
        for name, secret in table:
            found |= hmac.compare_digest(u, name) & hmac.compare_digest(p, secret)
        return found

    return ok


def safe_upload_name(original: str, data: bytes) -> str:
    """A generated file name: sanitised stem + content hash; never a path."""
    name = Path(original).name
    ext = Path(name).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9æøåÆØÅ_-]+", "-", Path(name).stem).strip("-")[:60] or "dokument"
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}{ext}"


class ChatApp:
    """Glue between Gradio events and the Assistant; one per running app."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self._ingest_lock = threading.Lock()

    # -- documents --------------------------------------------------------------------
    def documents(self) -> dict[str, dict[str, Any]]:
        return {d["doc_id"]: d for d in self.assistant.documents()}

    def doc_rows(self) -> list[list[Any]]:
        return [
            [d["doc_id"], d["title"], d["language"], d["pages"], d["chunks"], d["indexed_at"]]
            for d in self.documents().values()
        ]

    def upload(self, paths: list[str], progress: Callable[[float, str], None] | None = None) -> str:
        if not paths:
            raise HelseQAError("choose one or more files first")
        target = self.assistant.settings.documents_dir / UPLOAD_SUBDIR
        target.mkdir(parents=True, exist_ok=True)
        saved: list[str] = []
        for path in paths:
            source = Path(path)
            if source.suffix.lower() not in SUPPORTED_EXTENSIONS:
                raise HelseQAError(
                    f"{source.name}: unsupported file type - use {', '.join(SUPPORTED_EXTENSIONS)}"
                )
            if source.stat().st_size > MAX_UPLOAD_BYTES:
                raise HelseQAError(f"{source.name}: larger than {MAX_UPLOAD_BYTES // 2**20} MB")
            data = source.read_bytes()
            name = safe_upload_name(source.name, data)
            shutil.copyfile(source, target / name)
            saved.append(name)
        with self._ingest_lock:
            report = self.assistant.ingest(on_progress=progress)
        skipped = "; ".join(f"{n}: {r}" for n, r in report.skipped)
        return f"{len(report.added)} added, {len(report.updated)} updated ({', '.join(saved)})" + (
            f"; skipped {skipped}" if skipped else ""
        )

    def remove(self, doc_id: str) -> str:
        entry = self.documents().get(doc_id)
        if entry is None:
            raise HelseQAError(f"no indexed document '{doc_id}'")
        root = self.assistant.settings.documents_dir.resolve()
        path = (root / entry["file"]).resolve()
        if root not in path.parents:
            raise HelseQAError(f"{entry['file']} is outside {root}")
        path.unlink(missing_ok=True)
        with self._ingest_lock:
            report = self.assistant.ingest()
        return f"removed {', '.join(report.removed) or doc_id}"

    # -- chat -------------------------------------------------------------------------
    def ask(
        self, question: str, turns: list[dict[str, Any]], doc_ids: list[str] | None, k: int
    ) -> dict[str, Any]:
        final: dict[str, Any] = {}
        for event in self.ask_stream(question, turns, doc_ids, k):
            if isinstance(event, dict):
                final = event
        return final

    def ask_stream(
        self, question: str, turns: list[dict[str, Any]], doc_ids: list[str] | None, k: int
    ) -> Iterator[str | dict[str, Any]]:
        """Text pieces while an LLM writes, then the verified answer as a dict."""
        from .types import Answer

        history: list[dict[str, str]] = []
        for turn in turns:
            history += [
                {"role": "user", "content": turn["answer"]["question"]},
                {"role": "assistant", "content": turn["answer"]["answer"]},
            ]
        for event in self.assistant.ask_stream(
            question, history, k=int(k), doc_ids=doc_ids or None
        ):
            yield event.to_dict() if isinstance(event, Answer) else event

    def briefing(self, turns: list[dict[str, Any]], whole: bool, lang: str) -> tuple[str, str]:
        chosen = [t["answer"] for t in (turns if whole else turns[-1:])]
        markdown = to_markdown(chosen, self.documents(), lang)
        out = Path(tempfile.mkdtemp(prefix="helse-qa-")) / "briefing.md"
        out.write_text(markdown, encoding="utf-8")
        return markdown, str(out)


def build_app(assistant: Assistant) -> Any:
    """The Blocks app (launch it with :func:`launch`)."""
    import gradio as gr

    app = ChatApp(assistant)
    t = TEXT["nb"]
    doc_choices = list(app.documents())

    with gr.Blocks(title="helse-qa") as demo:
        turns_state = gr.State([])
        with gr.Row():
            header = gr.Markdown(t["title"])
            lang = gr.Radio(
                ["Norsk", "English"],
                value="Norsk",
                show_label=False,
                scale=0,
                min_width=200,
                elem_id="lang-switch",
            )
        with gr.Tabs():
            with gr.Tab(t["chat"], id="chat") as chat_tab, gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        label=t["chat"],
                        height=460,
                        elem_id="chat",
                        sanitize_html=True,
                        feedback_options=None,
                    )
                    question = gr.Textbox(
                        label=t["question"],
                        placeholder=t["placeholder"],
                        lines=1,
                        max_lines=4,
                        elem_id="question",
                    )
                    with gr.Row():
                        send = gr.Button(t["send"], variant="primary", elem_id="send")
                        clear = gr.Button(t["clear"])
                    examples = gr.Examples(EXAMPLES, inputs=[question], label=t["examples"])
                    with gr.Accordion(t["filters"], open=False) as filters:
                        doc_filter = gr.CheckboxGroup(doc_choices, label=t["doc_filter"])
                        k = gr.Slider(1, 10, value=assistant.settings.top_k, step=1, label=t["k"])
                    with gr.Row():
                        export_one = gr.Button(t["export_answer"])
                        export_all = gr.Button(t["export_all"])
                    export_md = gr.Textbox(label=t["export_md"], lines=6, buttons=["copy"])
                    export_file = gr.File(label=t["export_file"])
                with gr.Column(scale=2):
                    sources_title = gr.Markdown(f"### {t['sources']}")
                    sources = gr.HTML(sources_html([], "nb"), elem_id="sources")
            with gr.Tab(t["docs_tab"], id="docs") as docs_tab:
                table = gr.Dataframe(
                    app.doc_rows(),
                    headers=DOC_COLUMNS["nb"],
                    label=t["doc_table"],
                    interactive=False,
                )
                files = gr.File(
                    label=t["upload"],
                    file_count="multiple",
                    type="filepath",
                    file_types=list(SUPPORTED_EXTENSIONS),
                )
                upload_btn = gr.Button(t["upload_btn"], variant="primary")
                status = gr.Markdown()
                with gr.Row():
                    remove_choice = gr.Dropdown(doc_choices, label=t["remove"])
                    remove_btn = gr.Button(t["remove_btn"], variant="stop")

        def code(lang_name: str) -> str:
            return "en" if lang_name == "English" else "nb"

        def respond(
            message: str,
            chat: list[dict[str, Any]],
            turns: list[dict[str, Any]],
            docs: list[str],
            k_value: float,
            lang_name: str,
        ) -> Iterator[tuple[Any, ...]]:
            lc = code(lang_name)
            user = {"role": "user", "content": html.escape(message.strip(), quote=False)}
            partial = ""
            result: dict[str, Any] = {}
            with _errors_for_the_page(gr, "respond"):
                for event in app.ask_stream(message, turns, docs, int(k_value)):
                    if isinstance(event, dict):
                        result = event
                        continue
                    partial += event  # an LLM writing: shown as it comes, checked at the end
                    writing = {
                        "role": "assistant",
                        "content": chat_html(partial, len(turns) + 1, False) + " …",
                    }
                    yield [*chat, user, writing], turns, sources_html(turns, lc), ""
            turns = [*turns, {"answer": result}]
            answer = {"role": "assistant", "content": answer_html(result, len(turns))}
            yield [*chat, user, answer], turns, sources_html(turns, lc), ""

        def api_ask(
            message: str,
            turns: list[dict[str, Any]] | None = None,
            docs: list[str] | None = None,
            k_value: float = 5,
        ) -> dict[str, Any]:
            with _errors_for_the_page(gr, "ask"):
                return app.ask(message, turns or [], docs, int(k_value))

        def do_clear() -> tuple[Any, ...]:
            return [], [], sources_html([], "nb"), ""

        def do_export(turns: list[dict[str, Any]], whole: bool, lang_name: str) -> tuple[str, Any]:
            if not turns:
                raise gr.Error("Ingen svar å eksportere ennå / nothing to export yet")
            with _errors_for_the_page(gr, "export"):
                return app.briefing(turns, whole, code(lang_name))

        def do_upload(paths: list[str] | None, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 - Gradio injects progress through this default
            with _errors_for_the_page(gr, "upload"):
                message = app.upload(paths or [], lambda f, d: progress(f, desc=d))
            choices = list(app.documents())
            return (
                app.doc_rows(),
                message,
                gr.update(choices=choices),
                gr.update(choices=choices),
                None,
            )

        def do_remove(doc_id: str | None) -> tuple[Any, ...]:
            with _errors_for_the_page(gr, "remove"):
                message = app.remove(doc_id or "")
            choices = list(app.documents())
            return (
                app.doc_rows(),
                message,
                gr.update(choices=choices, value=None),
                gr.update(choices=choices),
            )

        def switch(lang_name: str, turns: list[dict[str, Any]]) -> tuple[Any, ...]:
            lc = code(lang_name)
            tt = TEXT[lc]
            return (
                tt["title"],
                gr.update(label=tt["chat"]),
                gr.update(label=tt["docs_tab"]),
                gr.update(label=tt["chat"]),
                gr.update(label=tt["question"], placeholder=tt["placeholder"]),
                gr.update(value=tt["send"]),
                gr.update(value=tt["clear"]),
                gr.update(label=tt["filters"]),
                gr.update(label=tt["doc_filter"]),
                gr.update(label=tt["k"]),
                gr.update(value=tt["export_answer"]),
                gr.update(value=tt["export_all"]),
                gr.update(label=tt["export_md"]),
                gr.update(label=tt["export_file"]),
                f"### {tt['sources']}",
                sources_html(turns, lc),
                gr.update(headers=DOC_COLUMNS[lc], label=tt["doc_table"]),
                gr.update(label=tt["upload"]),
                gr.update(value=tt["upload_btn"]),
                gr.update(label=tt["remove"]),
                gr.update(value=tt["remove_btn"]),
            )

        chat_inputs = [question, chatbot, turns_state, doc_filter, k, lang]
        chat_outputs = [chatbot, turns_state, sources, question]
        send.click(respond, chat_inputs, chat_outputs, api_name="respond")
        question.submit(respond, chat_inputs, chat_outputs, api_visibility="private")
        clear.click(do_clear, None, chat_outputs, api_visibility="private")
        export_one.click(
            lambda s, lg: do_export(s, False, lg),
            [turns_state, lang],
            [export_md, export_file],
            api_name="export_answer",
        )
        export_all.click(
            lambda s, lg: do_export(s, True, lg),
            [turns_state, lang],
            [export_md, export_file],
            api_name="export_conversation",
        )
        upload_btn.click(
            do_upload, [files], [table, status, doc_filter, remove_choice, files], api_name="upload"
        )
        remove_btn.click(
            do_remove,
            [remove_choice],
            [table, status, remove_choice, doc_filter],
            api_name="remove",
        )
        lang.change(
            switch,
            [lang, turns_state],
            [
                header,
                chat_tab,
                docs_tab,
                chatbot,
                question,
                send,
                clear,
                filters,
                doc_filter,
                k,
                export_one,
                export_all,
                export_md,
                export_file,
                sources_title,
                sources,
                table,
                files,
                upload_btn,
                remove_choice,
                remove_btn,
            ],
            api_visibility="private",
        )
        # A plain JSON API for scripts and tests (gradio_client): same Assistant call.
        gr.api(api_ask, api_name="ask")
        del examples
    return demo


def launch(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    block: bool = True,
    auth: list[tuple[str, str]] | None = None,
) -> Any:
    """Start the app (loopback by default). Returns the Blocks object when not blocking.

    With ``auth`` (``HELSE_QA_AUTH``) every page and API call needs a login.
    """
    if host not in ("127.0.0.1", "localhost", "::1") and not auth:
        log.warning(
            "serving on %s without a login: anyone who can reach this port can read the "
            "documents and upload files - set HELSE_QA_AUTH (see README)",
            host,
        )
    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=4)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=not block,
        show_error=True,
        quiet=True,
        auth=check_login(auth) if auth else None,
        max_file_size=MAX_UPLOAD_BYTES,
        css=CSS,
        js=JS,
        footer_links=[],
    )
    return demo
