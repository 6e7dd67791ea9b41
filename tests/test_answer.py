"""Retrieval and extractive answers over the real corpus (real model, real Chroma)."""

from __future__ import annotations

import re

import pytest

from helse_qa.errors import ConfigError, QuestionError

REPORT_ID = "in-posisjonering-2018"
ARTICLE_ID = "nht-clusters-merge-2024"


def _verbatim(assistant, answer):
    for c in answer.citations:
        text = assistant.document_text(c.doc_id)
        assert text[c.start : c.end] == c.quote
        assert any(h.chunk.chunk_id == c.chunk_id for h in answer.passages)


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("Hvor store var eksportinntektene i 2017?", "23,6 milliarder kroner"),
        (
            "How large were the export revenues of the health industry in 2017?",
            "23,6 milliarder kroner",
        ),
        ("Hvor mye omsatte helseindustrien for i 2017?", "57 milliarder kroner"),
        ("How many members will the merged cluster have?", "370"),
        ("When does the merger take effect?", "January 1, 2025"),
        ("Which consultancy carried out the interviews?", "ZYNK"),
        ("Hvem sitter i styringsgruppen?", "Legemiddelindustriforeningen"),
    ],
)
def test_answers_quote_the_exact_figures(corpus_assistant, question, fact):
    answer = corpus_assistant.ask(question)
    assert not answer.abstained
    assert fact in answer.text
    assert any(fact in c.quote for c in answer.citations)
    _verbatim(corpus_assistant, answer)


def test_markers_map_to_citations(corpus_assistant):
    answer = corpus_assistant.ask("What share of the exports came from diagnostics?")
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.text)]
    assert markers and sorted(set(markers)) == [c.number for c in answer.citations]
    for c in answer.citations:
        assert c.title and c.section
        assert c.page is not None or c.doc_id == ARTICLE_ID  # a web article has no pages


def test_cross_lingual_retrieval_finds_norwegian_passage(corpus_assistant):
    answer = corpus_assistant.ask("Who is on the steering group of the project?")
    top = answer.passages[0].chunk
    assert top.doc_id == REPORT_ID
    assert "styringsgruppe" in " ".join(h.chunk.text for h in answer.passages[:3])


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("Hva er hovedstaden i Australia?", "Jeg fant ikke svar på dette i dokumentene."),
        ("What is the recipe for chocolate cake?", "I could not find this in the documents."),
    ],
)
def test_abstains_in_the_question_language(corpus_assistant, question, message):
    answer = corpus_assistant.ask(question)
    assert answer.abstained
    assert answer.text == message
    assert answer.citations == ()
    assert answer.passages  # the closest passages are still offered


def test_abstention_threshold_is_a_setting(corpus_settings, embedder):
    from helse_qa.assistant import Assistant

    strict = Assistant.open(
        corpus_settings.model_copy(update={"abstain_threshold": 1.5}), embedder=embedder
    )
    assert strict.ask("Hvor store var eksportinntektene i 2017?").abstained


def test_document_filter_and_k(corpus_assistant):
    answer = corpus_assistant.ask("eksport", doc_ids=[ARTICLE_ID], k=3)
    assert len(answer.passages) == 3
    assert {h.chunk.doc_id for h in answer.passages} == {ARTICLE_ID}
    big = corpus_assistant.ask("eksport", k=1000)
    assert len(big.passages) == len(corpus_assistant.chunks())


def test_unknown_retrieval_mode_is_refused(corpus_assistant):
    # "llm" is an answer mode (settings.answer_mode), not a way to retrieve: refused loudly.
    with pytest.raises(ConfigError, match="unknown retrieval mode 'llm'"):
        corpus_assistant.ask("Hvor store var eksportinntektene i 2017?", retrieval="llm")
    with pytest.raises(TypeError):
        corpus_assistant.ask("Hvor store var eksportinntektene i 2017?", mode="hybrid")


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_retrieval_mode_ranks_the_evidence(corpus_assistant, mode):
    answer = corpus_assistant.ask("Hvor store var eksportinntektene i 2017?", retrieval=mode, k=5)
    assert any("23,6 milliarder" in h.chunk.text for h in answer.passages)


def test_follow_up_uses_history(corpus_assistant):
    history = [
        {"role": "user", "content": "Hvor store var eksportinntektene i 2017?"},
        {"role": "assistant", "content": "23,6 milliarder kroner [1]"},
    ]
    answer = corpus_assistant.ask("Og hvor stor andel kom fra diagnostikk?", history)
    assert "Diagnostikk: 54%" in " ".join(h.chunk.text for h in answer.passages[:3])


@pytest.mark.parametrize("bad", ["", "   \n\t ", "x" * 2001])
def test_bad_questions_are_refused_clearly(corpus_assistant, bad):
    with pytest.raises(QuestionError) as info:
        corpus_assistant.ask(bad)
    assert "empty" in str(info.value) or "2000" in str(info.value)


def test_repeated_facts_are_quoted_once(corpus_assistant):
    # The article states the merger date twice in almost the same words.
    answer = corpus_assistant.ask("When does the merger take effect?")
    dated = [c for c in answer.citations if "January 1, 2025" in c.quote]
    assert len(dated) == 1


@pytest.mark.parametrize(
    "question",
    [
        "Hvor store var eksportinntektene i 2017?",
        "How many members will the merged cluster have?",
        "Hvem sitter i styringsgruppen?",
        "Hva er utfordringene for norsk helseindustri?",
        "What does the report say about the Nordic countries?",
        "Hva var eksportinntektene i 2022?",
    ],
)
def test_every_citation_is_one_whole_sentence_of_a_retrieved_passage(corpus_assistant, question):
    """A quote is one whole sentence, or the items of a list (a list item is a line, so one
    sentence each; the PDF's detached lists are quoted as one block): never a passage of
    running text, never part of a sentence."""
    from helse_qa.text.sentences import sentence_spans

    answer = corpus_assistant.ask(question)
    assert answer.citations, question
    passages = {h.chunk.chunk_id: h.chunk for h in answer.passages}
    for c in answer.citations:
        chunk = passages[c.chunk_id]
        spans = sentence_spans(chunk.text, chunk.start)
        starts, ends = {a for a, _ in spans}, {b for _, b in spans}
        assert c.start in starts and c.end in ends, (question, c.quote)  # whole sentences
        inside = [(a, b) for a, b in spans if c.start <= a and b <= c.end]
        if len(inside) > 1:  # a list block: every sentence in it is a line of its own
            assert c.quote.count("\n") >= len(inside) - 1, (question, c.quote)
        assert (c.start, c.end) != (chunk.start, chunk.end) or len(inside) == 1, c.quote


@pytest.mark.parametrize(
    "question",
    [
        "How many members does Norwegian Smart Care Cluster have on its own?",
        "Hvor mange medlemmer hadde Norway Health Tech alene før sammenslåingen?",
    ],
)
def test_a_part_asked_about_is_not_answered_with_the_whole(corpus_assistant, question):
    """The documents give the two clusters' members together (370), never one cluster's
    own: that figure is no answer to a question about one of them (issue 36)."""
    answer = corpus_assistant.ask(question)
    assert answer.abstained, answer.text


def test_one_named_of_several_summed_is_not_answered_with_their_sum(corpus_assistant):
    """Without "alone": a question about one cluster is not answered with "Norway Health
    Tech and Norwegian Smart Care Cluster together count 370 members" (P 0.87 before, asked
    as a new user); asked about both together, it is."""
    one = corpus_assistant.ask(
        "How many members did Norwegian Smart Care Cluster have before the merger?"
    )
    assert one.abstained, one.text
    assert not any("together count" in c.quote for c in one.citations[:1]), one.text
    both = corpus_assistant.ask(
        "How many members do Norway Health Tech and Norwegian Smart Care Cluster have together?"
    )
    assert not both.abstained and "together count 370" in both.citations[0].quote


def test_a_part_asked_about_gets_the_part_s_figure(corpus_assistant):
    answer = corpus_assistant.ask("How much did the health industry by itself sell for in 2017?")
    assert not answer.abstained and "57 milliarder" in answer.citations[0].quote
    total = corpus_assistant.ask("Hva var den samlede omsetningen i helsenæringen i 2017?")
    assert "142 milliarder" in total.citations[0].quote
    # the industry's total is the figure the report gives for the industry on its own
    industry = corpus_assistant.ask(
        "Hvor stor var den totale omsetningen i helseindustrien i 2017?"
    )
    assert "57 milliarder" in industry.citations[0].quote, industry.text
    alone = corpus_assistant.ask("Hva var omsetningen til helseindustrien alene i 2017?")
    assert "57 milliarder" in alone.citations[0].quote
    # "I dette tallet ligger …" explains the 142 milliarder before it, not the industry's
    assert not any("I dette tallet" in c.quote for c in alone.citations), alone.text
