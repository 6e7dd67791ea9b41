"""The Gradio chat UI; the only home of gradio. It holds no retrieval logic: everything goes
through ``Assistant``; what the page shows is made (and escaped) in :mod:`.render`.
Conversations live in per-browser-session ``gr.State``.
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

from helse_qa import offline
from helse_qa.assistant import Assistant
from helse_qa.errors import HelseQAError
from helse_qa.ingest.readers import SUPPORTED_EXTENSIONS
from helse_qa.web.briefing import to_markdown
from helse_qa.web.render import (
    CSS,
    DOC_COLUMNS,
    EXAMPLES,
    INTERNAL_ERROR,
    JS,
    TEXT,
    answer_html,
    chat_html,
    sources_html,
)

log = logging.getLogger(__name__)

UPLOAD_SUBDIR = "uploads"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


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
        """Move the document's file aside (documents/.removed/<date>/) and re-index."""
        if not doc_id:
            raise HelseQAError("choose a document to remove first")
        with self._ingest_lock:
            moved, report = self.assistant.remove_document(doc_id)
        return (
            f"removed {', '.join(report.removed) or doc_id}; the file is in "
            f"documents/.removed/{moved.date}/ (restore it below)"
        )

    def removed(self) -> list[str]:
        return [r.label for r in self.assistant.removed_documents()]

    def restore(self, label: str) -> str:
        if not label:
            raise HelseQAError("choose a removed document to restore first")
        with self._ingest_lock:
            path, report = self.assistant.restore_document(label)
        return f"restored {path.name}; {len(report.added)} added"

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
        from helse_qa.types import Answer

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


class _Labels:
    """Widgets whose labels follow the Norsk/English switch, each declared once.

    ``labels(widget, label="chat")`` registers ``widget`` and says which of its properties
    takes which :data:`TEXT` entry; :meth:`updates` gives the updates for a language.
    """

    def __init__(self) -> None:
        self.widgets: list[Any] = []
        self._keys: list[dict[str, str]] = []

    def __call__(self, widget: Any, **keys: str) -> Any:
        self.widgets.append(widget)
        self._keys.append(keys)
        return widget

    def updates(self, gr: Any, lang: str) -> list[Any]:
        t = TEXT[lang]
        return [gr.update(**{prop: t[k] for prop, k in keys.items()}) for keys in self._keys]


def _lists(gr: Any, app: ChatApp) -> tuple[Any, Any, Any, Any]:
    """Every document list as the index has it now (uploads and removals made in another
    tab or before a reload included): the table, the remove list, the chat filter and the
    restore list."""
    choices = list(app.documents())
    return (
        app.doc_rows(),
        gr.update(choices=choices, value=None),
        gr.update(choices=choices),
        gr.update(choices=app.removed(), value=None),
    )


def _lang_code(lang_name: str) -> str:
    return "en" if lang_name == "English" else "nb"


def build_app(assistant: Assistant) -> Any:
    """The Blocks app (launch it with :func:`launch`)."""
    offline.apply()  # before gradio reads GRADIO_ANALYTICS_ENABLED
    import gradio as gr

    app = ChatApp(assistant)
    labels = _Labels()
    with gr.Blocks(title="helse-qa") as demo:
        turns_state = gr.State([])
        with gr.Row():
            labels(gr.Markdown(TEXT["nb"]["title"]), value="title")
            lang = gr.Radio(
                ["Norsk", "English"],
                value="Norsk",
                show_label=False,
                scale=0,
                min_width=200,
                elem_id="lang-switch",
            )
        with gr.Tabs():
            chat = _chat_tab(gr, app, labels)
            docs = _documents_tab(gr, app, labels)
        _wire_chat(gr, app, chat, turns_state, lang)
        _wire_documents(gr, app, docs, chat, lang)

        def switch(lang_name: str, turns: list[dict[str, Any]]) -> list[Any]:
            lc = _lang_code(lang_name)
            return [
                *labels.updates(gr, lc),
                sources_html(turns, lc),
                gr.update(headers=DOC_COLUMNS[lc], label=TEXT[lc]["doc_table"]),
            ]

        lang.change(
            switch,
            [lang, turns_state],
            [*labels.widgets, chat["sources"], docs["table"]],
            api_visibility="private",
        )

        demo.load(
            lambda: _lists(gr, app),
            None,
            [docs["table"], docs["remove_choice"], chat["doc_filter"], docs["restore_choice"]],
            api_visibility="private",
        )
    return demo


def _chat_tab(gr: Any, app: ChatApp, labels: _Labels) -> dict[str, Any]:
    t = TEXT["nb"]
    w: dict[str, Any] = {}
    with labels(gr.Tab(t["chat"], id="chat"), label="chat"), gr.Row():
        with gr.Column(scale=3):
            w["chatbot"] = labels(
                gr.Chatbot(
                    label=t["chat"],
                    height=460,
                    elem_id="chat",
                    sanitize_html=True,
                    feedback_options=None,
                ),
                label="chat",
            )
            w["question"] = labels(
                gr.Textbox(
                    label=t["question"],
                    placeholder=t["placeholder"],
                    lines=1,
                    max_lines=4,
                    elem_id="question",
                ),
                label="question",
                placeholder="placeholder",
            )
            with gr.Row():
                w["send"] = labels(
                    gr.Button(t["send"], variant="primary", elem_id="send"), value="send"
                )
                w["clear"] = labels(gr.Button(t["clear"]), value="clear")
            gr.Examples(EXAMPLES, inputs=[w["question"]], label=t["examples"])
            with labels(gr.Accordion(t["filters"], open=False), label="filters"):
                w["doc_filter"] = labels(
                    gr.CheckboxGroup(list(app.documents()), label=t["doc_filter"]),
                    label="doc_filter",
                )
                w["k"] = labels(
                    gr.Slider(1, 10, value=app.assistant.settings.top_k, step=1, label=t["k"]),
                    label="k",
                )
            with gr.Row():
                w["export_one"] = labels(gr.Button(t["export_answer"]), value="export_answer")
                w["export_all"] = labels(gr.Button(t["export_all"]), value="export_all")
            w["export_md"] = labels(
                gr.Textbox(label=t["export_md"], lines=6, buttons=["copy"]), label="export_md"
            )
            w["export_file"] = labels(gr.File(label=t["export_file"]), label="export_file")
        with gr.Column(scale=2):
            labels(gr.Markdown(t["sources_heading"]), value="sources_heading")
            w["sources"] = gr.HTML(sources_html([], "nb"), elem_id="sources")
    return w


def _documents_tab(gr: Any, app: ChatApp, labels: _Labels) -> dict[str, Any]:
    t = TEXT["nb"]
    w: dict[str, Any] = {}
    with labels(gr.Tab(t["docs_tab"], id="docs"), label="docs_tab"):
        # Its headers change with the language too: updated beside the labels.
        w["table"] = gr.Dataframe(
            app.doc_rows(), headers=DOC_COLUMNS["nb"], label=t["doc_table"], interactive=False
        )
        w["files"] = labels(
            gr.File(
                label=t["upload"],
                file_count="multiple",
                type="filepath",
                file_types=list(SUPPORTED_EXTENSIONS),
            ),
            label="upload",
        )
        w["upload_btn"] = labels(gr.Button(t["upload_btn"], variant="primary"), value="upload_btn")
        w["status"] = gr.Markdown()
        with gr.Row():
            # nothing pre-selected: a click on the button alone removes nothing
            w["remove_choice"] = labels(
                gr.Dropdown(
                    list(app.documents()),
                    value=None,
                    label=t["remove"],
                    elem_id="remove-choice",
                    allow_custom_value=True,  # the app checks the id; lists may be stale
                ),
                label="remove",
            )
            w["remove_btn"] = labels(
                gr.Button(t["remove_btn"], variant="stop", elem_id="remove-btn"), value="remove_btn"
            )
        with gr.Row(visible=False, elem_id="remove-confirm") as confirm_row:
            w["confirm_text"] = gr.Markdown(elem_id="remove-question")
            w["confirm_btn"] = labels(
                gr.Button(t["confirm_btn"], variant="stop", elem_id="confirm-remove"),
                value="confirm_btn",
            )
            w["cancel_btn"] = labels(
                gr.Button(t["cancel_btn"], elem_id="cancel-remove"), value="cancel_btn"
            )
        w["confirm_row"] = confirm_row
        with gr.Row():
            w["restore_choice"] = labels(
                gr.Dropdown(app.removed(), value=None, label=t["restore"], allow_custom_value=True),
                label="restore",
            )
            w["restore_btn"] = labels(gr.Button(t["restore_btn"]), value="restore_btn")
    return w


def _wire_chat(gr: Any, app: ChatApp, w: dict[str, Any], turns_state: Any, lang: Any) -> None:
    def respond(
        message: str,
        chat: list[dict[str, Any]],
        turns: list[dict[str, Any]],
        docs: list[str],
        k_value: float,
        lang_name: str,
    ) -> Iterator[tuple[Any, ...]]:
        lc = _lang_code(lang_name)
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
            return app.briefing(turns, whole, _lang_code(lang_name))

    inputs = [w["question"], w["chatbot"], turns_state, w["doc_filter"], w["k"], lang]
    outputs = [w["chatbot"], turns_state, w["sources"], w["question"]]
    w["send"].click(respond, inputs, outputs, api_name="respond")
    w["question"].submit(respond, inputs, outputs, api_visibility="private")
    w["clear"].click(do_clear, None, outputs, api_visibility="private")
    export_outputs = [w["export_md"], w["export_file"]]
    w["export_one"].click(
        lambda s, lg: do_export(s, False, lg),
        [turns_state, lang],
        export_outputs,
        api_name="export_answer",
    )
    w["export_all"].click(
        lambda s, lg: do_export(s, True, lg),
        [turns_state, lang],
        export_outputs,
        api_name="export_conversation",
    )
    # A plain JSON API for scripts and tests (gradio_client): same Assistant call.
    gr.api(api_ask, api_name="ask")


def _wire_documents(
    gr: Any, app: ChatApp, w: dict[str, Any], chat: dict[str, Any], lang: Any
) -> None:
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

    def ask_confirm(doc_id: str | None, lang_name: str) -> tuple[Any, ...]:
        entry = app.documents().get(doc_id or "")
        if entry is None:
            return gr.update(visible=False), ""
        t = TEXT[_lang_code(lang_name)]
        name = entry["title"] or Path(entry["file"]).name
        text = t["remove_confirm"].format(title=name, doc_id=doc_id)
        return gr.update(visible=True), text

    def do_remove(doc_id: str | None) -> tuple[Any, ...]:
        with _errors_for_the_page(gr, "remove"):
            message = app.remove(doc_id or "")
        rows, remove_list, doc_filter, restore_list = _lists(gr, app)
        return rows, message, remove_list, doc_filter, gr.update(visible=False), restore_list

    def do_restore(label: str | None) -> tuple[Any, ...]:
        with _errors_for_the_page(gr, "restore"):
            message = app.restore(label or "")
        rows, remove_list, doc_filter, restore_list = _lists(gr, app)
        return rows, message, remove_list, doc_filter, restore_list

    w["upload_btn"].click(
        do_upload,
        [w["files"]],
        [w["table"], w["status"], chat["doc_filter"], w["remove_choice"], w["files"]],
        api_name="upload",
    )
    # Removing takes two clicks: the first names the document and asks; only "Yes" acts.
    w["remove_btn"].click(
        ask_confirm,
        [w["remove_choice"], lang],
        [w["confirm_row"], w["confirm_text"]],
        api_name=False,
    )
    w["cancel_btn"].click(
        lambda: gr.update(visible=False), None, [w["confirm_row"]], api_name=False
    )
    w["confirm_btn"].click(
        do_remove,
        [w["remove_choice"]],
        [
            w["table"],
            w["status"],
            w["remove_choice"],
            chat["doc_filter"],
            w["confirm_row"],
            w["restore_choice"],
        ],
        api_name="remove",
    )
    w["restore_btn"].click(
        do_restore,
        [w["restore_choice"]],
        [w["table"], w["status"], w["remove_choice"], chat["doc_filter"], w["restore_choice"]],
        api_name="restore",
    )


def launch(
    assistant: Assistant,
    host: str | None = None,
    port: int | None = None,
    *,
    block: bool = True,
    auth: list[tuple[str, str]] | None = None,
) -> Any:
    """Start the app (loopback by default). Returns the Blocks object when not blocking.

    ``host`` and ``port`` default to the settings' (127.0.0.1:7860). With ``auth``
    (``HELSE_QA_AUTH``) every page and API call needs a login.
    """
    host = host or assistant.settings.host
    port = port or assistant.settings.port
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
