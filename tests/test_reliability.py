"""Killed ingests, damaged documents, hostile questions, and properties of spans and HTML."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import DOCUMENTS

from helse_qa.evaluation import reliability
from helse_qa.ingest.chunking import chunk_document
from helse_qa.ingest.readers import parse_document
from helse_qa.text.sentences import MAX_SENTENCE_CHARS, sentence_spans
from helse_qa.web.render import answer_html, chat_html, sources_html

# -- 1. killed ingests ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("store", "kills"), [("embedded", 6), ("server", 3)])
def test_sigkilled_ingests_leave_a_usable_consistent_index(
    request, tmp_path, corpus_settings, embedder, store, kills
):
    url = request.getfixturevalue("chroma_server") if store == "server" else None
    report = reliability.kill_loop(
        corpus_settings.model_copy(update={"chroma_url": url}),
        DOCUMENTS,
        tmp_path,
        embedder,
        kills=kills,
        seed=11,
        question="How many members will the merged cluster have?",
        expect="370",
        delay_fraction=0.5,  # within the first half of an ingest
        # An ingest that ends before its kill (a loaded machine, a calibration that ran
        # slow) does not count: trials go on, with shorter delays, until every kill lands.
        until_landed=True,
    )
    assert report.kills == kills, report.trials
    for trial in report.trials:
        assert trial.consistent and trial.answered and not trial.lost, trial
        assert trial.problems == (), trial
    assert report.final_ok and report.final_consistent, report.final_problems


# -- 2. bad documents ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory, corpus_settings, embedder):
    return reliability.bad_documents(corpus_settings, tmp_path_factory.mktemp("bad"), embedder)


CASES = [(name, case) for name, case, _, _ in reliability.bad_document_cases(big_mb=1)]


@pytest.mark.parametrize(("name", "case"), CASES, ids=[c[1] for c in CASES])
def test_each_bad_document_is_ingested_or_skipped_with_a_message(bad_run, name, case):
    results, _, _ = bad_run
    result = next(r for r in results if r.name == name)
    assert result.ok, result
    if result.outcome == "skipped":
        assert len(result.message) > 10 and "Traceback" not in result.message


def test_bad_documents_never_stop_the_good_one(bad_run):
    _, _, good = bad_run
    assert good


def test_what_the_bad_documents_become(bad_run, tmp_path):
    results, _, _ = bad_run
    by_name = {r.name: r for r in results}
    assert "limit" in by_name["stor.txt"].message and "HELSE_QA_MAX_DOCUMENT_CHARS" in (
        by_name["stor.txt"].message
    )
    assert "encrypted" in by_name["kryptert.pdf"].message
    assert "binary" in by_name["bilde.txt"].message
    cases = {n: d for n, _, _, d in reliability.bad_document_cases(big_mb=1)}
    for name, expected in [
        ("nul.txt", "Mer tekst her."),
        ("cp1252.txt", "Tromsø og Ålesund – «klynger»"),
        ("latin1.txt", "Bodø, Førde og Årdal."),
        ("nestet.html", "23,6 milliarder kroner"),
        ("xss.html", "<script>alert(1)</script>"),
    ]:
        path = tmp_path / name
        data = cases[name]
        assert isinstance(data, bytes)
        path.write_bytes(data)
        text = parse_document(path).text
        assert expected in text, (name, text[:200])
        assert "\x00" not in text
    assert "alert(3)" not in parse_document(tmp_path / "xss.html").text  # <script> dropped


def test_long_lines_are_cut_into_bounded_chunks(tmp_path):
    path = tmp_path / "lang.txt"
    path.write_text("ord " * 25_000 + "\n\n" + "x" * 100_000, encoding="utf-8")
    doc = parse_document(path)
    chunks = chunk_document(doc, 180)
    assert max(len(c.text) for c in chunks) <= 1800
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert max(e - s for s, e in sentence_spans(doc.text)) <= MAX_SENTENCE_CHARS


# -- 3. bad questions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "question"),
    reliability.bad_questions(),
    ids=[c for c, _ in reliability.bad_questions()],
)
def test_bad_questions_get_an_answer_or_a_clear_refusal(corpus_assistant, case, question):
    from helse_qa.errors import QuestionError

    try:
        answer = corpus_assistant.ask(question)
    except QuestionError as exc:
        assert case in {"empty", "whitespace", "100k characters"}, (case, exc)
        assert "empty" in str(exc) or "limit" in str(exc)
        return
    assert answer.text
    for citation in answer.citations:  # whatever was asked, quotes stay verbatim
        text = corpus_assistant.document_text(citation.doc_id)
        assert text[citation.start : citation.end] == citation.quote


def test_control_characters_are_removed_before_retrieval(corpus_assistant):
    answer = corpus_assistant.ask("Hvor\x00 store\x07 var\x1b eksportinntektene\x08 i 2017?")
    assert "23,6 milliarder kroner" in answer.text


# -- 3b. properties ------------------------------------------------------------------------

_WORD = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=14,
)
_SEP = st.sampled_from([" ", " ", " ", ". ", "? ", "\n", "\n\n", "-\n", " - ", "\t", ".\n\n"])


@st.composite
def _documents(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(_WORD, _SEP), min_size=1, max_size=400))
    return "".join(w + s for w, s in parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_documents(), suffix=st.sampled_from([".txt", ".md"]), target=st.integers(5, 200))
def test_every_chunk_and_sentence_span_maps_back_to_the_text(
    tmp_path_factory, text, suffix, target
):
    path = tmp_path_factory.mktemp("prop") / f"doc{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        doc = parse_document(path)
    except Exception as exc:  # only "no text" is an acceptable refusal
        assert "empty" in str(exc) or "no text" in str(exc), exc
        return
    chunks = chunk_document(doc, target)
    assert chunks
    previous_end = 0
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.start >= previous_end  # in order, never overlapping
        previous_end = chunk.end
        for s, e in sentence_spans(chunk.text, chunk.start):
            assert chunk.start <= s < e <= chunk.end and doc.text[s:e].strip()
    # Nothing is lost: every word of the parsed text is in a chunk.
    assert "".join(doc.text.split()) == "".join("".join(c.text.split()) for c in chunks)
    if suffix == ".txt" and "-\n" not in text:
        # ... and the parsed text is the source's text: only whitespace may differ (a word
        # hyphenated across a line break is joined, so such texts are left out here).
        assert "".join(text.split()) == "".join(doc.text.split())


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


_ALLOWED = reliability.APP_MARKUP
_HOSTILE = st.text(
    alphabet=st.sampled_from(list("<>&\"'=/ab sciptrmgonerl()[]1:;`*_#\\")) | st.characters(),
    max_size=120,
) | st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '"><svg onload=alert(1)>',
        "</details><script>x</script>",
        "[1](javascript:alert(1)) <a href='javascript:x'>y</a>",
        "&lt;script&gt; &amp;lt;",
    ]
)


def _check_markup(rendered: str) -> str:
    """Only the app's own tags and attributes; returns the text a browser would show."""
    assert reliability.live_markup(rendered) == [], rendered
    parser = _TagCollector()
    parser.feed(rendered)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in _ALLOWED, (tag, rendered)
        assert set(attrs) <= _ALLOWED[tag], (tag, attrs)
        if tag == "a":
            assert (attrs.get("href") or "").startswith("#src-"), attrs
    return "".join(parser.text)


@settings(max_examples=200, deadline=None)
@given(passage=_HOSTILE, title=_HOSTILE, question=_HOSTILE, section=_HOSTILE, answer=_HOSTILE)
def test_no_document_or_question_text_reaches_the_page_as_markup(
    passage, title, question, section, answer
):
    text = f"Innledning {passage} avslutning."
    quote = (11, 11 + len(passage))
    result = {
        "question": question,
        "answer": f"{answer} [1]",
        "abstained": False,
        "mode": "extractive",
        "notice": answer,
        "passages": [
            {
                "chunk_id": "d:0001",
                "text": text,
                "span": [0, len(text)],
                "title": title,
                "page": 3,
                "section": section,
            }
        ],
        "citations": [{"number": 1, "chunk_id": "d:0001", "span": list(quote)}],
    }
    turns = [{"answer": result}, {"answer": {**result, "abstained": True}}]
    for lang in ("nb", "en"):
        shown = _check_markup(sources_html(turns, lang))
        # the panel numbers the cited sentence: "[1]" is written before it
        unnumbered = shown.replace("[1]", "")
        assert text.replace("[1]", "") in unnumbered
        assert question in shown and title in shown
    _check_markup(answer_html(result, 1))
    _check_markup(chat_html(answer, 1, True))


def test_known_attacks_are_shown_as_text():
    attack = "<img src=x onerror=alert(1)>"
    # a closest passage must read as text to be listed (issue 38): the attack inside a sentence
    text = f"Rapporten viser at {attack} ble lagt inn i et avsnitt her."
    passage = {
        "chunk_id": "d:1",
        "text": text,
        "span": [0, len(text)],
        "title": "<script>alert(2)</script>",
        "page": None,
        "section": "",
    }
    result = {
        "question": attack,
        "answer": "svar",
        "abstained": True,
        "passages": [passage],
        "citations": [],
    }
    panel = sources_html([{"answer": result}], "nb")
    parser = _TagCollector()
    parser.feed(panel)
    shown = "".join(parser.text)
    assert attack in shown and "<script>alert(2)</script>" in shown
    assert "<img" not in panel and "<script" not in panel


# -- the report ----------------------------------------------------------------------------


def test_a_new_report_keeps_the_hand_made_load_profile_section():
    heading = reliability.KEPT_SECTIONS[0]
    previous = (
        "# Reliability and security\n\n## 5. Web surface\n\n| a | b |\n\n"
        f"{heading}\n\nBefore: p50 2.6 s.\n\n### Breakdown\n\n- ask 25 ms\n"
    )
    kept = reliability.kept_sections(previous)
    assert kept.startswith(f"\n{heading}\n") and kept.endswith("- ask 25 ms\n")
    assert "Web surface" not in kept
    # Up to the next section only; nothing kept from a report without it.
    assert reliability.kept_sections(previous + "\n## 6. Later\n\ntext\n").endswith("25 ms\n")
    assert reliability.kept_sections("# Reliability and security\n\n## 5. Web surface\n") == ""
