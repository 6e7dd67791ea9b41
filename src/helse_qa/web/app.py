"""The Gradio chat UI; the only home of gradio. It holds no retrieval logic: everything goes
through ``Assistant``; what the page shows is made (and escaped) in :mod:`.render`.
Conversations live in per-browser-session ``gr.State``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from helse_qa import offline
from helse_qa.assistant import Assistant
from helse_qa.errors import HelseQAError
from helse_qa.ingest.readers import SUPPORTED_EXTENSIONS
from helse_qa.web import briefing
from helse_qa.web.render import (
    CSS,
    DOC_COLUMNS,
    EXAMPLES,
    JS,
    TEXT,
    answer_html,
    chat_html,
    is_pending,
    pending_html,
    question_html,
    sources_html,
)

log = logging.getLogger(__name__)

UPLOAD_SUBDIR = "uploads"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def shown_folder(path: Path) -> str:
    """A folder as a message names it: relative to the working directory when inside it
    ("documents/.removed/2026-12-07/"), else in full; with a trailing slash."""
    try:
        shown = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = path.resolve()
    return f"{shown.as_posix().rstrip('/')}/"


class PageMessage(HelseQAError):
    """A message the app itself words, already in the page's language: shown as it is."""


@contextmanager
def _errors_for_the_page(gr: Any, where: str, lang: str = "nb") -> Iterator[None]:
    """The one error policy of every event handler: the app's own messages are shown as
    they are (in the page's language); a library HelseQAError keeps its text, which names
    commands and settings, inside a translated frame; anything else is a bug, logged with
    its details, and the page gets one plain sentence."""
    t = TEXT[lang]
    # print_exception=False: a refused question is not a server fault, so no traceback in
    # the server's log; a bug is logged once, by log.exception, with its traceback.
    try:
        yield
    except gr.Error:
        raise
    except PageMessage as exc:
        raise gr.Error(str(exc), title=t["error_title"], print_exception=False) from None
    except HelseQAError as exc:
        log.info("refused in %s: %s", where, exc)
        detail = t["error"].format(detail=exc)
        raise gr.Error(detail, title=t["error_title"], print_exception=False) from None
    except Exception as exc:
        log.exception("unexpected error in %s", where)
        raise gr.Error(t["internal_error"], title=t["error_title"], print_exception=False) from exc


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
    """Glue between Gradio events and the Assistant; one per running app. Every message it
    returns or raises is in the page's language (``lang``: "nb" or "en")."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self._ingest_lock = threading.Lock()
        self._warming = threading.Lock()  # held while a warm-up thread runs
        self._warm_again = threading.Event()
        self.warm_stop = threading.Event()

    # -- sentence cache ---------------------------------------------------------------
    def warm_sentences(self) -> threading.Thread | None:
        """Embed, in a background thread, the sentences a question would otherwise embed
        when it first retrieves their passage (``sentence_encoding = "on-demand"``, the
        default): called at start and after each upload. A call while a pass runs makes
        it go round once more (for the new documents). Returns the thread it started."""
        if self.assistant.settings.sentence_encoding != "on-demand":
            return None
        self._warm_again.set()
        if not self._warming.acquire(blocking=False):
            return None
        thread = threading.Thread(target=self._warm_loop, name="helse-qa-warm", daemon=True)
        thread.start()
        return thread

    def _warm_loop(self) -> None:
        while True:
            try:
                while self._warm_again.is_set() and not self.warm_stop.is_set():
                    self._warm_again.clear()
                    started = time.perf_counter()
                    try:
                        made = self.assistant.warm_sentence_vectors(self.warm_stop)
                    except HelseQAError as err:  # no index yet, a store gone: questions
                        log.warning("sentence warm-up stopped: %s", err)  # embed their own
                        continue
                    log.info(
                        "sentence cache warm: %d sentences embedded in %.1f s",
                        made,
                        time.perf_counter() - started,
                    )
            finally:
                self._warming.release()
            # A call between the last check and the release found the lock held: go on.
            if not self._warm_again.is_set() or self.warm_stop.is_set():
                return
            if not self._warming.acquire(blocking=False):
                return

    # -- documents --------------------------------------------------------------------
    def documents(self) -> dict[str, dict[str, Any]]:
        """The indexed documents by id; an upload with no catalog title is titled by its
        file name, so that every list names it."""
        return {
            d["doc_id"]: {**d, "title": d["title"] or Path(d["file"]).name}
            for d in self.assistant.documents()
        }

    def doc_rows(self, lang: str = "nb") -> list[list[Any]]:
        """The documents table; "–" where a document has no pages, the time to the minute."""
        return [
            [
                d["doc_id"],
                d["title"],
                d["language"],
                d["pages"] or TEXT[lang]["no_pages"],
                d["chunks"],
                str(d["indexed_at"]).replace("T", " ")[:16],
            ]
            for d in self.documents().values()
        ]

    def doc_choices(self) -> list[tuple[str, str]]:
        """(label, doc_id) for the filter and the remove list: the title, then the id."""
        return [(f"{d['title']} ({i})", i) for i, d in self.documents().items()]

    def signature(self) -> tuple[Any, ...]:
        """Changes whenever a list on the page would: documents indexed or removed."""
        docs = tuple((i, d["indexed_at"]) for i, d in self.documents().items())
        return docs, tuple(self.removed())

    def check_question(self, question: str, lang: str) -> None:
        text = (question or "").strip()
        limit = self.assistant.settings.max_question_chars
        if not text:
            raise PageMessage(TEXT[lang]["empty_question"])
        if len(text) > limit:
            raise PageMessage(TEXT[lang]["long_question"].format(limit=limit))

    def upload(
        self,
        paths: list[str],
        progress: Callable[[float, str], None] | None = None,
        lang: str = "nb",
    ) -> str:
        t = TEXT[lang]
        if not paths:
            raise PageMessage(t["choose_files"])
        target = self.assistant.settings.documents_dir / UPLOAD_SUBDIR
        target.mkdir(parents=True, exist_ok=True)
        saved: list[str] = []
        already: list[str] = []
        indexed = {d["content_hash"]: d["title"] for d in self.documents().values()}
        for path in paths:
            source = Path(path)
            if source.suffix.lower() not in SUPPORTED_EXTENSIONS:
                types = ", ".join(SUPPORTED_EXTENSIONS)
                raise PageMessage(t["bad_type"].format(name=source.name, types=types))
            if source.stat().st_size > MAX_UPLOAD_BYTES:
                raise PageMessage(
                    t["too_large"].format(name=source.name, mb=MAX_UPLOAD_BYTES // 2**20)
                )
            data = source.read_bytes()
            title = indexed.get(hashlib.sha256(data).hexdigest())
            if title is not None:  # the same bytes are indexed: no second copy
                already.append(t["already"].format(name=source.name, title=title))
                continue
            name = safe_upload_name(source.name, data)
            shutil.copyfile(source, target / name)
            saved.append(name)
        if not saved:
            return " ".join(already)

        def said(fraction: float, _detail: str) -> None:
            if progress is not None:  # Gradio shows the share itself, beside this line
                progress(fraction, t["indexing"])

        with self._ingest_lock:
            report = self.assistant.ingest(on_progress=said)
        if report.changed:
            self.warm_sentences()
        message = t["uploaded"].format(
            added=len(report.added), updated=len(report.updated), names=", ".join(saved)
        )
        if report.skipped:
            skipped = "; ".join(f"{n}: {r}" for n, r in report.skipped)
            message += t["upload_skipped"].format(skipped=skipped)
        return " ".join([message, *already])

    def remove(self, doc_id: str, lang: str = "nb") -> str:
        """Move the document's file aside (<documents>/.removed/<date>/) and re-index; the
        message names its title and the folder the file now lies in (issue 38)."""
        t = TEXT[lang]
        if not doc_id:
            raise PageMessage(t["choose_remove"])
        documents = self.documents()
        if doc_id not in documents:
            raise PageMessage(t["unknown_doc"].format(doc_id=doc_id))
        with self._ingest_lock:
            moved, _ = self.assistant.remove_document(doc_id)
        title = documents[doc_id]["title"] or doc_id
        return t["removed_msg"].format(title=title, folder=shown_folder(moved.path.parent))

    def removal_folder(self) -> str:
        """Where a removed file goes, as the confirmation names it."""
        return shown_folder(self.assistant.settings.documents_dir / ".removed")

    def removed(self) -> list[tuple[str, str]]:
        """(shown, value) for the restore list: the title and the day; the value is the
        file's unique label (path and day)."""
        return [(r.display, r.label) for r in self.assistant.removed_documents()]

    def restore(self, label: str, lang: str = "nb") -> str:
        t = TEXT[lang]
        if not label:
            raise PageMessage(t["choose_restore"])
        with self._ingest_lock:
            path, report = self.assistant.restore_document(label)
        self.warm_sentences()
        root = self.assistant.settings.documents_dir.resolve()
        relative = path.resolve().relative_to(root).as_posix()
        title = next(
            (d["title"] for d in self.documents().values() if d["file"] == relative), path.name
        )
        return t["restored_msg"].format(title=title, name=path.name, added=len(report.added))

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

    def briefing(
        self, turns: list[dict[str, Any]], whole: bool, lang: str
    ) -> tuple[str, list[str]]:
        """The briefing as Markdown text, and as .md and .docx files to download."""
        if not turns:
            raise PageMessage(TEXT[lang]["nothing_to_export"])
        chosen = [t["answer"] for t in (turns if whole else turns[-1:])]
        documents = self.documents()
        markdown = briefing.to_markdown(chosen, documents, lang)
        folder = Path(tempfile.mkdtemp(prefix="helse-qa-"))
        (folder / "briefing.md").write_text(markdown, encoding="utf-8")
        docx = briefing.to_docx(chosen, documents, lang, folder / "briefing.docx")
        return markdown, [str(folder / "briefing.md"), str(docx)]


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


LIST_REFRESH_SECONDS = 3.0


def _lists(
    gr: Any, app: ChatApp, lang: str = "nb", chosen: list[str] | None = None
) -> tuple[Any, Any, Any, Any]:
    """Every document list as the index has it now (uploads and removals made in another
    tab, another session or before a reload included): the table, the remove list, the
    chat filter (keeping the choices still indexed) and the restore list."""
    choices = app.doc_choices()
    ids = {value for _, value in choices}
    return (
        _table(app, lang),
        gr.update(choices=choices, value=None),
        gr.update(choices=choices, value=[c for c in chosen or [] if c in ids]),
        gr.update(choices=app.removed(), value=None),
    )


def _table(app: ChatApp, lang: str) -> Any:
    """The documents table with its headers in the page's language (a DataFrame carries
    its headers, so an update never falls back to the constructor's)."""
    import pandas as pd

    return pd.DataFrame(app.doc_rows(lang), columns=DOC_COLUMNS[lang])


def _lang_code(lang_name: str) -> str:
    return "en" if lang_name == "English" else "nb"


def build_app(assistant: Assistant, app: ChatApp | None = None) -> Any:
    """The Blocks app (launch it with :func:`launch`)."""
    offline.apply()  # before gradio reads GRADIO_ANALYTICS_ENABLED
    import gradio as gr

    app = app or ChatApp(assistant)
    labels = _Labels()
    with gr.Blocks(title="helse-qa") as demo:
        turns_state = gr.State([])
        seen_state = gr.State(None)  # the lists' signature this page shows
        with gr.Row():
            labels(gr.Markdown(TEXT["nb"]["title"], elem_id="title"), value="title")
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
                gr.update(value=_table(app, lc), label=TEXT[lc]["doc_table"]),
            ]

        lang.change(
            switch,
            [lang, turns_state],
            [*labels.widgets, chat["sources"], docs["table"]],
            api_visibility="private",
        )

        # Lists are read from the index when the page loads, after every change made on
        # this page (the handlers below), and - for changes made in other sessions - by a
        # cheap poll that sends nothing while the index is unchanged.
        list_outputs = [
            seen_state,
            docs["table"],
            docs["remove_choice"],
            chat["doc_filter"],
            docs["restore_choice"],
        ]

        def load(lang_name: str, chosen: list[str] | None) -> tuple[Any, ...]:
            return app.signature(), *_lists(gr, app, _lang_code(lang_name), chosen)

        def poll(seen: Any, lang_name: str, chosen: list[str] | None) -> tuple[Any, ...]:
            now = app.signature()
            if seen is not None and now == seen:
                return tuple(gr.skip() for _ in list_outputs)
            return now, *_lists(gr, app, _lang_code(lang_name), chosen)

        demo.load(load, [lang, chat["doc_filter"]], list_outputs, api_visibility="private")
        timer = gr.Timer(LIST_REFRESH_SECONDS)
        timer.tick(
            poll,
            [seen_state, lang, chat["doc_filter"]],
            list_outputs,
            api_visibility="private",
            show_progress="hidden",
            concurrency_limit=None,
        )
    return demo


def _chat_tab(gr: Any, app: ChatApp, labels: _Labels) -> dict[str, Any]:
    """The answer and its sources side by side (stacked on a phone: the sources come right
    after the question box); examples, filters and the export below both."""
    t = TEXT["nb"]
    w: dict[str, Any] = {}
    with labels(gr.Tab(t["chat"], id="chat"), label="chat"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                w["chatbot"] = labels(
                    gr.Chatbot(
                        label=t["chat"],
                        height=460,  # at most; CSS shrinks it on a short screen
                        elem_id="chat",
                        buttons=["copy", "copy_all"],  # no share (Hugging Face) button
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
                    w["clear"] = labels(gr.Button(t["clear"], elem_id="clear"), value="clear")
            with gr.Column(scale=2, min_width=300):
                labels(gr.Markdown(t["sources_heading"]), value="sources_heading")
                w["sources"] = gr.HTML(sources_html([], "nb"), elem_id="sources")
        # Clicking an example asks it (a Dataset, so that its label follows the language).
        w["examples"] = labels(
            gr.Dataset(
                components=[w["question"]],
                samples=[[q] for q in EXAMPLES],
                label=t["examples"],
                elem_id="examples",
            ),
            label="examples",
        )
        with labels(gr.Accordion(t["filters"], open=False), label="filters"):
            w["doc_filter"] = labels(
                gr.CheckboxGroup(app.doc_choices(), label=t["doc_filter"], elem_id="doc-filter"),
                label="doc_filter",
            )
            w["k"] = labels(
                gr.Slider(1, 10, value=app.assistant.settings.top_k, step=1, label=t["k"]),
                label="k",
            )
        with gr.Row():
            w["export_one"] = labels(
                gr.Button(t["export_answer"], elem_id="export-one"), value="export_answer"
            )
            w["export_all"] = labels(
                gr.Button(t["export_all"], elem_id="export-all"), value="export_all"
            )
        # Shown once there is a briefing: an empty box looks like an upload area.
        w["export_md"] = labels(
            gr.Textbox(
                label=t["export_md"], lines=6, buttons=["copy"], visible=False, elem_id="export-md"
            ),
            label="export_md",
        )
        w["export_file"] = labels(
            gr.File(
                label=t["export_file"],
                file_count="multiple",
                interactive=False,
                visible=False,
                elem_id="export-file",
            ),
            label="export_file",
        )
    return w


def _documents_tab(gr: Any, app: ChatApp, labels: _Labels) -> dict[str, Any]:
    t = TEXT["nb"]
    w: dict[str, Any] = {}

    def choice_row(action: str, choices: list[tuple[str, str]], **button: Any) -> None:
        """A dropdown ``<action>_choice`` and its button ``<action>_btn``, side by side."""
        with gr.Row():
            # nothing pre-selected: a click on the button alone removes/restores nothing
            w[f"{action}_choice"] = labels(
                gr.Dropdown(
                    choices,
                    value=None,
                    label=t[action],
                    elem_id=f"{action}-choice",
                    allow_custom_value=True,  # the app checks the value; lists may be stale
                ),
                label=action,
            )
            w[f"{action}_btn"] = labels(
                gr.Button(t[f"{action}_btn"], elem_id=f"{action}-btn", **button),
                value=f"{action}_btn",
            )

    with labels(gr.Tab(t["docs_tab"], id="docs"), label="docs_tab"):
        # Its headers change with the language too: updated beside the labels.
        w["table"] = gr.Dataframe(
            _table(app, "nb"),
            label=t["doc_table"],
            interactive=False,
            wrap=True,
            column_widths=["22%", "36%", "8%", "8%", "10%", "16%"],
            elem_id="doc-table",
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
        w["status"] = gr.Markdown(elem_id="doc-status")

        choice_row("remove", app.doc_choices(), variant="stop")
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
        choice_row("restore", app.removed())
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
        with _errors_for_the_page(gr, "respond", lc):
            app.check_question(message, lc)
        if chat and is_pending(chat[-1]):  # the page's placeholder pair (see ``pending``)
            chat = chat[:-2]
        user = {"role": "user", "content": question_html(message)}
        partial = ""
        result: dict[str, Any] = {}
        with _errors_for_the_page(gr, "respond", lc):
            for event in app.ask_stream(message, turns, docs, int(k_value)):
                if isinstance(event, dict):
                    result = event
                    continue
                partial += event  # an LLM writing: each piece is a sentence that passed its check
                writing = {
                    "role": "assistant",
                    "content": chat_html(partial, len(turns) + 1, False) + " …",
                }
                yield [*chat, user, writing], turns, sources_html(turns, lc), ""
        turns = [*turns, {"answer": result}]
        filtered = bool(docs) and len(docs) < len(app.documents())
        extra = (
            TEXT[lc]["filter_notice"].format(n=len(docs))
            if filtered and result["abstained"]
            else ""
        )
        answer = {"role": "assistant", "content": answer_html(result, len(turns), extra)}
        yield [*chat, user, answer], turns, sources_html(turns, lc), ""

    def respond_once(
        message: str,
        chat: list[dict[str, Any]],
        turns: list[dict[str, Any]],
        docs: list[str],
        k_value: float,
        lang_name: str,
    ) -> tuple[Any, ...]:
        """``respond`` for the extractive mode, which has nothing to stream: one call and one
        message per answer (a generator costs Gradio a second call and sends the whole chat
        and sources panel twice)."""
        *_, last = respond(message, chat, turns, docs, k_value, lang_name)
        return last

    def pending(message: str, chat: list[dict[str, Any]], lang_name: str) -> list[Any]:
        """The question in the chat at once, with "Søker i dokumentene …" under it until the
        answer replaces both (issue 38); a refused question is said in a toast, as before."""
        lc = _lang_code(lang_name)
        with _errors_for_the_page(gr, "respond", lc):
            app.check_question(message, lc)
        user = {"role": "user", "content": question_html(message)}
        return [*chat, user, {"role": "assistant", "content": pending_html(lc)}]

    def unpending(chat: list[dict[str, Any]]) -> list[Any]:
        """An answer that failed takes its placeholder pair away (its error is in a toast)."""
        return chat[:-2] if chat and is_pending(chat[-1]) else chat

    def api_ask(
        message: str,
        turns: list[dict[str, Any]] | None = None,
        docs: list[str] | None = None,
        k_value: float = 5,
    ) -> dict[str, Any]:
        with _errors_for_the_page(gr, "ask"):
            return app.ask(message, turns or [], docs, int(k_value))

    def do_clear(lang_name: str) -> tuple[Any, ...]:
        hidden = gr.update(value=None, visible=False)
        return [], [], sources_html([], _lang_code(lang_name)), "", hidden, hidden

    def do_export(turns: list[dict[str, Any]], whole: bool, lang_name: str) -> tuple[Any, Any]:
        lc = _lang_code(lang_name)
        with _errors_for_the_page(gr, "export", lc):
            markdown, files = app.briefing(turns, whole, lc)
        return gr.update(value=markdown, visible=True), gr.update(value=files, visible=True)

    inputs = [w["question"], w["chatbot"], turns_state, w["doc_filter"], w["k"], lang]
    outputs = [w["chatbot"], turns_state, w["sources"], w["question"]]
    handler = respond if app.assistant.settings.answer_mode == "llm" else respond_once
    quiet: dict[str, Any] = {"show_progress": "hidden"}  # no "processing | 0.6s": the
    # placeholder says what is going on, in the page's language

    def asking(trigger: Any, api_name: str | None = None) -> None:
        """``trigger`` (an event listener) shows the question and the placeholder, then
        answers; ``api_name`` names the answer step for ``gradio_client``."""
        shown = [w["question"], w["chatbot"], lang]
        step = trigger(pending, shown, [w["chatbot"]], api_visibility="private", **quiet)
        named = {"api_name": api_name} if api_name else {"api_visibility": "private"}
        done = step.success(handler, inputs, outputs, **named, **quiet)
        done.failure(unpending, [w["chatbot"]], [w["chatbot"]], api_visibility="private", **quiet)

    asking(w["send"].click, "respond")
    asking(w["question"].submit)
    asking(
        w["examples"]
        .click(lambda sample: sample[0], [w["examples"]], [w["question"]], api_visibility="private")
        .then
    )
    export_outputs = [w["export_md"], w["export_file"]]
    w["clear"].click(do_clear, [lang], outputs + export_outputs, api_visibility="private")
    # the chat's own trash icon starts over too: sources panel, numbering, export (issue 38)
    w["chatbot"].clear(do_clear, [lang], outputs + export_outputs, api_visibility="private")
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
    def do_upload(
        paths: list[str] | None,
        lang_name: str,
        chosen: list[str] | None,
        progress: Any = gr.Progress(),  # noqa: B008 - Gradio injects progress through this default
    ) -> tuple[Any, ...]:
        lc = _lang_code(lang_name)
        with _errors_for_the_page(gr, "upload", lc):
            message = app.upload(paths or [], lambda f, d: progress(f, desc=d), lc)
        rows, remove_list, doc_filter, restore_list = _lists(gr, app, lc, chosen)
        return rows, message, doc_filter, remove_list, None, restore_list

    def ask_confirm(doc_id: str | None, lang_name: str) -> tuple[Any, ...]:
        t = TEXT[_lang_code(lang_name)]
        if not doc_id:  # nothing chosen: nothing asked, and the page says why
            return gr.update(visible=False), "", t["choose_remove"]
        entry = app.documents().get(doc_id)
        if entry is None:
            return gr.update(visible=False), "", t["unknown_doc"].format(doc_id=doc_id)
        text = t["remove_confirm"].format(
            title=entry["title"], doc_id=doc_id, folder=app.removal_folder()
        )
        return gr.update(visible=True), text, ""

    def do_remove(doc_id: str | None, lang_name: str, chosen: list[str] | None) -> tuple[Any, ...]:
        lc = _lang_code(lang_name)
        with _errors_for_the_page(gr, "remove", lc):
            message = app.remove(doc_id or "", lc)
        rows, remove_list, doc_filter, restore_list = _lists(gr, app, lc, chosen)
        return rows, message, remove_list, doc_filter, gr.update(visible=False), restore_list

    def do_restore(label: str | None, lang_name: str, chosen: list[str] | None) -> tuple[Any, ...]:
        lc = _lang_code(lang_name)
        with _errors_for_the_page(gr, "restore", lc):
            message = app.restore(label or "", lc)
        rows, remove_list, doc_filter, restore_list = _lists(gr, app, lc, chosen)
        return rows, message, remove_list, doc_filter, restore_list

    w["upload_btn"].click(
        do_upload,
        [w["files"], lang, chat["doc_filter"]],
        [
            w["table"],
            w["status"],
            chat["doc_filter"],
            w["remove_choice"],
            w["files"],
            w["restore_choice"],
        ],
        api_name="upload",
        # the progress line over the status line only, never over the table (issue 25)
        show_progress_on=[w["status"]],
    )
    # Removing takes two clicks: the first names the document and asks; only "Yes" acts.
    w["remove_btn"].click(
        ask_confirm,
        [w["remove_choice"], lang],
        [w["confirm_row"], w["confirm_text"], w["status"]],
        api_name=False,
    )
    w["cancel_btn"].click(
        lambda: gr.update(visible=False), None, [w["confirm_row"]], api_name=False
    )
    w["confirm_btn"].click(
        do_remove,
        [w["remove_choice"], lang, chat["doc_filter"]],
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
        [w["restore_choice"], lang, chat["doc_filter"]],
        [w["table"], w["status"], w["remove_choice"], chat["doc_filter"], w["restore_choice"]],
        api_name="restore",
    )


ANALYTICS_EVERY = 100_000  # events between two rebuilds of Gradio's monitoring summary


def _warm_up() -> None:
    """Gradio sets matplotlib's backend around every event; the first time, that imports
    matplotlib and pyplot (~0.9 s) on the server's event loop, holding up every session's
    first answer. Done here, before the first question, instead."""
    try:
        import matplotlib

        matplotlib.get_backend()
    except ImportError:  # gradio runs without matplotlib too
        pass


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
            "documents and upload files - set HELSE_QA_AUTH (see docs/guide/reliability.md)",
            host,
        )
    app = ChatApp(assistant)
    demo = build_app(assistant, app)
    # Gradio rebuilds its monitoring summary (a pandas table of up to 10,000 past events)
    # after every event: ~2.5 ms an answer at first, ~16 ms once 10,000 events are kept.
    # Only the monitoring endpoint reads it, and that is off below: rebuilt rarely instead.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(ANALYTICS_EVERY))
    # Four answers at a time: on two cores 2, 4, 8 or no limit gave the same throughput
    # under the 20-client load test (1 gave less); see eval/results/reliability.md.
    demo.queue(default_concurrency_limit=4)
    _warm_up()
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=not block,
        show_error=True,
        enable_monitoring=False,
        quiet=True,
        auth=check_login(auth) if auth else None,
        max_file_size=MAX_UPLOAD_BYTES,
        css=CSS,
        js=JS,
        footer_links=[],
    )
    # After the server is up (startup is not slowed by it); it yields to questions.
    app.warm_sentences()
    return demo
