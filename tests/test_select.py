"""Answers chosen by the reader over the real corpus (the shipped reader, real Chroma):
the report's headline figure under ordinary rephrasings, near misses by year, abstention
through the API and the CLI, and the answer phrase."""

from __future__ import annotations

import json
import os

import pytest
from tests.helpers import run_helse_qa

from helse_qa.answering.decide import adds_fact, without_years


@pytest.fixture(scope="module")
def reader_assistant(corpus_settings, embedder):
    from helse_qa.assistant import Assistant

    return Assistant.open(
        corpus_settings.model_copy(update={"answer_scorer": "reader"}), embedder=embedder
    )


_NOT_YET = pytest.mark.xfail(
    strict=True,
    reason="issue 24 target not met yet: the shipped reader puts 'Bare i 2017 vokste både "
    "omsetning og eksport med om lag 15 prosent' above the 23,6 milliarder sentence "
    "(docs/experiments/2026-12-03-issue-24-reader.md)",
)


@pytest.mark.parametrize(
    "question",
    [
        pytest.param("Hva var helseindustriens eksportinntekter i 2017?", marks=_NOT_YET),
        pytest.param("What were the health industry's export revenues in 2017?", marks=_NOT_YET),
        pytest.param("Hvor stor var eksporten fra helseindustrien i 2017?", marks=_NOT_YET),
        # passes since the lists are re-attached at parse time (issue 26): the passages
        # changed, and with them what the reader sees beside the headline sentence
        "Hvor mye eksporterte norsk helseindustri i 2017?",
    ],
)
def test_the_headline_figure_is_quoted_first(reader_assistant, question):
    answer = reader_assistant.ask(question)
    assert not answer.abstained
    assert "23,6 milliarder" in answer.citations[0].quote
    assert len(answer.citations) <= 2


@pytest.mark.parametrize(
    "question",
    [
        "Hva var helseindustriens eksportinntekter i 2019?",
        "What were the health industry's export revenues in 2022?",
    ],
)
def test_a_year_the_documents_lack_is_declined_or_said_plainly(reader_assistant, question):
    answer = reader_assistant.ask(question)
    assert answer.abstained  # never answered with another year's figure as if it were asked
    if answer.kind == "near_miss":
        asked = "2019" if "2019" in question else "2022"
        assert asked in answer.text and "2017" in answer.text
        assert "23,6 milliarder" in answer.citations[0].quote
        assert "2015" not in answer.text.split(":")[0]  # the framing names the found year
    else:
        assert answer.citations == ()


@pytest.mark.parametrize(
    "question", ["Hva er hovedstaden i Australia?", "What is the recipe for chocolate cake?"]
)
def test_off_topic_questions_abstain(reader_assistant, question):
    answer = reader_assistant.ask(question)
    assert answer.abstained and answer.citations == ()


def test_off_topic_abstains_through_the_cli(corpus_settings):
    env = {
        **os.environ,
        "HELSE_QA_ANSWER_SCORER": "reader",
        "HELSE_QA_INDEX_DIR": str(corpus_settings.index_dir),
        "HELSE_QA_DOCUMENTS_DIR": str(corpus_settings.documents_dir),
    }
    out = run_helse_qa("ask", "--json", "Hvem vant valget i Sverige?", env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["abstained"] is True and data["citations"] == []


def test_the_answer_phrase_is_marked_inside_the_quote(reader_assistant):
    answer = reader_assistant.ask("How many members will the merged cluster have?")
    assert not answer.abstained
    first = answer.citations[0].to_dict()
    phrase = first["answer_phrase"]
    if phrase is not None:  # shown only above the calibrated confidence
        a, b = phrase["span"]
        assert first["quote"][a:b] == phrase["text"] and "370" in phrase["text"]


def test_without_years_and_adds_fact():
    assert without_years("Hva var eksporten i 2019?") == "Hva var eksporten?"
    assert without_years("Exports in 2022 and 2023") == "Exports and"
    first = "De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017."
    assert not adds_fact("Eksportinntektene utgjorde 23,6 milliarder kroner i 2017.", [first])
    assert adds_fact("Hele 54 prosent av bedriftene har vareproduksjon i Norge.", [first])


# -- the default: the heuristic decides, the reader chooses the first quote ----------------


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        # the heuristic alone quotes the 142 milliarder turnover first for both
        ("How much did the industry spend on research and development in 2017?", "2,6 milliarder"),
        ("How much did the health industry alone sell for in 2017?", "57 milliarder"),
    ],
)
def test_the_reader_chooses_the_first_quote_by_default(corpus_assistant, question, fact):
    assert corpus_assistant.settings.reader_orders  # the default
    answer = corpus_assistant.ask(question)
    assert not answer.abstained and fact in answer.citations[0].quote


def test_the_heuristic_alone_never_loads_the_reader(corpus_settings, embedder):
    from helse_qa.assistant import Assistant

    question = "How much did the industry spend on research and development in 2017?"
    plain = Assistant.open(
        corpus_settings.model_copy(update={"reader_orders": False, "answer_confidence": False}),
        embedder=embedder,
    )
    answer = plain.ask(question)
    assert not answer.abstained
    assert plain.pipeline._reader is None  # the heuristic alone never loads the reader


def test_a_list_answer_keeps_its_lead_in_first(corpus_assistant):
    answer = corpus_assistant.ask(
        "Hvilke fordeler har en større norsk helseindustri ifølge rapporten?"
    )
    assert answer.citations[0].quote.rstrip().startswith("Det er bred enighet")
    assert "Pasientene vil få et bedre behandlingstilbud" in answer.citations[0].quote


def test_a_best_line_that_is_a_list_item_keeps_its_lead_in(corpus_assistant):
    # the best lines are the pre-project's fourth purpose and its lead-in "… gjennomført et
    # forprosjekt med følgende formål:"; the reader moves only its choice to the front and
    # the rest keep the heuristic's order, so the lead-in with its purposes stays quoted
    # (reordering every candidate by the reader lost it)
    answer = corpus_assistant.ask("Hva skulle forprosjektet avklare og oppnå?")
    assert answer.kind in ("fact", "unsure")  # under "not sure" too, with its items
    assert "følgende formål:" in answer.text
    assert "Bygge et felles begrepsapparat og målbilde blant aktørene" in answer.text
