"""The real Gradio app on loopback, driven by gradio_client and by headless Chromium."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from tests.helpers import DOCUMENTS, ROOT

from helse_qa.briefing import to_markdown
from helse_qa.ui import chat_html, safe_upload_name, sources_html

CHROMIUM = Path("/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, embedder):
    """A running app over a private copy of documents/ (uploads must not touch the repo)."""
    from helse_qa.assistant import Assistant
    from helse_qa.config import Settings
    from helse_qa.ui import launch

    root = tmp_path_factory.mktemp("ui")
    docs = root / "documents"
    shutil.copytree(DOCUMENTS, docs)
    settings = Settings(documents_dir=docs, index_dir=root / "index")
    assistant = Assistant.open(settings, embedder=embedder, ingest_if_missing=True)
    port = _free_port()
    demo = launch(assistant, host="127.0.0.1", port=port, block=False)
    yield f"http://127.0.0.1:{port}/", docs
    demo.close()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url[0], verbose=False)


def test_norwegian_question_with_citations(client):
    r = client.predict("Hvor store var eksportinntektene i 2017?", [], [], 5, api_name="/ask")
    assert "23,6 milliarder kroner" in r["answer"] and not r["abstained"]
    first = r["citations"][0]
    assert first["title"].startswith("Strategisk posisjonering")
    assert first["page"] == 3
    assert "23,6 milliarder kroner" in first["quote"]


def test_english_question_about_the_article(client):
    r = client.predict("How many members will the merged cluster have?", [], [], 5, api_name="/ask")
    assert "370 members" in r["answer"]
    assert r["citations"][0]["title"] == "Health clusters join forces"


def test_unanswerable_question_abstains(client):
    r = client.predict("What is the recipe for chocolate cake?", [], [], 5, api_name="/ask")
    assert r["abstained"] and r["answer"] == "I could not find this in the documents."
    assert r["citations"] == [] and r["passages"]


def test_chat_endpoint_renders_markers_and_sources(client):
    # gr.State is not part of the API: inputs are question, chat, filter, k, language.
    chat, panel, box = client.predict(
        "Hvem sitter i styringsgruppen for prosjektet?",
        [],
        [],
        5,
        "Norsk",
        api_name="/respond",
    )
    text = (
        chat[-1]["content"][0]["text"]
        if isinstance(chat[-1]["content"], list)
        else (chat[-1]["content"])
    )
    assert 'class="cite-marker">[1]</a>' in text
    assert 'id="src-1-1"' in panel and "<mark>" in panel and "Legemiddelindustriforeningen" in panel
    assert box == ""


def test_document_filter_through_the_api(client):
    r = client.predict("eksport", [], ["nht-clusters-merge-2024"], 3, api_name="/ask")
    assert {p["doc_id"] for p in r["passages"]} == {"nht-clusters-merge-2024"}


def test_upload_is_searchable_without_restart(client, app_url, tmp_path):
    from gradio_client import handle_file

    new = tmp_path / "Klyngenotat (Bodø) #1.txt"
    new.write_text("Helseklyngen i Bodø fikk 42 nye medlemmer i løpet av 2025.", encoding="utf-8")
    table, status, *_ = client.predict([handle_file(str(new))], api_name="/upload")
    assert any(str(row[0]).startswith("klyngenotat") for row in table["data"]), table
    assert "1 added" in status
    stored = list((app_url[1] / "uploads").iterdir())
    assert len(stored) == 1 and stored[0].name.startswith("Klyngenotat-Bodø-1-")
    r = client.predict("Hvor mange nye medlemmer fikk klyngen i Bodø?", [], [], 5, api_name="/ask")
    assert "42 nye medlemmer" in r["answer"]


def test_briefing_markdown_numbers_references_across_turns():
    turns = [
        {
            "question": "Q1",
            "answer": "A [1] B [2]",
            "citations": [
                {
                    "number": 1,
                    "doc_id": "d",
                    "title": "T",
                    "page": 3,
                    "section": "S",
                    "quote": "q1",
                },
                {"number": 2, "doc_id": "d", "title": "T", "page": 4, "section": "", "quote": "q2"},
            ],
        },
        {
            "question": "Q2",
            "answer": "C [1]",
            "citations": [
                {
                    "number": 1,
                    "doc_id": "e",
                    "title": "U",
                    "page": None,
                    "section": "",
                    "quote": "q3",
                }
            ],
        },
    ]
    md = to_markdown(
        turns, {"d": {"title": "T", "publisher": "Innovasjon Norge", "year": 2018}}, "nb"
    )
    assert "**Svar:** C [3]" in md
    assert "1. T, Innovasjon Norge, 2018, s. 3, S: «q1»" in md
    assert "3. U: «q3»" in md


def test_document_text_is_escaped():
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)"> [1]'
    rendered = chat_html(evil, 1, False)
    assert "<script>" not in rendered and "<img" not in rendered
    assert 'class="cite-marker">[1]</a>' in rendered
    answer = {
        "question": "<b>q</b>",
        "abstained": False,
        "passages": [
            {
                "chunk_id": "c",
                "text": evil,
                "span": [0, len(evil)],
                "page": 1,
                "section": "<i>s</i>",
                "title": "<u>t</u>",
            }
        ],
        "citations": [{"number": 1, "chunk_id": "c", "span": [0, 8]}],
    }
    panel = sources_html([{"answer": answer}], "en")
    assert "<script>" not in panel and "<img" not in panel and "<b>q" not in panel
    assert "&lt;script&gt;" in panel


def test_upload_names_are_generated():
    name = safe_upload_name("../../etc/passwd.txt", b"x")
    assert "/" not in name and ".." not in name and name.endswith(".txt")


def test_headless_browser_shows_answer_markers_and_sources(app_url):
    assert CHROMIUM.exists(), "Debian's chromium is missing: run 'make browser' (apt-get)"
    from playwright.sync_api import sync_playwright

    shot = ROOT / "eval" / "results" / "ui.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url[0])
        page.locator("#question textarea").fill("Hvor store var eksportinntektene i 2017?")
        page.locator("#send").click()
        marker = page.locator("#chat a.cite-marker").first
        marker.wait_for(timeout=30_000)
        assert "23,6 milliarder kroner" in page.locator("#chat").inner_text()
        panel = page.locator("#sources")
        assert panel.locator("details.source").count() >= 1
        assert "23,6 milliarder kroner" in panel.locator("mark").first.inner_text()
        marker.click()
        page.wait_for_timeout(500)
        assert page.locator("#sources details.source.active").count() == 1
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert shot.stat().st_size > 10_000


def test_llm_answers_stream_and_flag_unsupported_sentences(tmp_path, corpus_settings, embedder):
    from gradio_client import Client
    from tests.fake_llm import FakeOpenAI, Reply

    from helse_qa.assistant import Assistant
    from helse_qa.ui import launch

    fake = FakeOpenAI()
    url = fake.start()
    settings = corpus_settings.model_copy(
        update={
            "answer_mode": "llm",
            "llm_base_url": url,
            "llm_model": "scripted",
            "llm_timeout": 5.0,
        }
    )
    assistant = Assistant.open(settings, embedder=embedder)
    hits = assistant.retrieve("Hvor store var eksportinntektene i 2017?")
    n = next(i for i, h in enumerate(hits, 1) if "23,6 milliarder" in h.chunk.text)
    fake.default = Reply(
        f"Eksportinntektene var 23,6 milliarder kroner i 2017 [{n}]. "
        f"Eksporten var 99 milliarder kroner i 2030 [{n}]."
    )
    port = _free_port()
    demo = launch(assistant, host="127.0.0.1", port=port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        job = client.submit(
            "Hvor store var eksportinntektene i 2017?", [], [], 5, "Norsk", api_name="/respond"
        )
        chat, panel, _ = job.result()
        # The chat handler yields the text as the model writes it, then the checked answer.
        from helse_qa.ui import ChatApp

        events = list(
            ChatApp(assistant).ask_stream("Hvor store var eksportinntektene i 2017?", [], None, 5)
        )
        assert all(isinstance(e, str) for e in events[:-1]) and len(events) > 3
        assert isinstance(events[-1], dict)
        final = chat[-1]["content"]
        final = final[0]["text"] if isinstance(final, list) else final
        assert 'class="unsupported"' in final and "99 milliarder" in final
        assert "23,6 milliarder kroner" in final and 'class="cite-marker"' in final
        assert "<mark>" in panel
    finally:
        demo.close()
        fake.stop()
