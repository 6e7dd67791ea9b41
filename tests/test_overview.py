"""Overview answers over the real corpus (helse_qa.answering.overview, issue 26): when a
question gets one, its scope, coverage and self-contained quotes."""

from __future__ import annotations

import pytest
from tests.helpers import ARTICLE_ID, REPORT_ID, assert_verbatim


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("Summarise the news article.", ARTICLE_ID),
        ("Oppsummer hovedfunnene i rapporten.", REPORT_ID),
        ("Summarise the report's main recommendations.", REPORT_ID),
    ],
)
def test_overview_answers_cite_several_sections_of_one_document(corpus_assistant, question, doc_id):
    answer = corpus_assistant.ask(question)
    assert answer.kind == "overview" and not answer.abstained
    assert 2 <= len(answer.citations) <= 6
    assert {c.doc_id for c in answer.citations} == {doc_id}
    assert len({c.quote for c in answer.citations}) == len(answer.citations)
    assert_verbatim(corpus_assistant, answer)


def test_overview_keeps_to_the_document_the_filter_allows(corpus_assistant):
    answer = corpus_assistant.ask("Oppsummer dokumentet.", doc_ids=[ARTICLE_ID])
    assert answer.kind == "overview"
    assert {c.doc_id for c in answer.citations} == {ARTICLE_ID}


@pytest.mark.parametrize(
    ("question", "overview"),
    [
        ("Give me the report's key findings.", True),
        ("Kan du oppsummere artikkelen om sammenslåingen?", True),
        ("What does the report recommend?", True),
        ("Hva er konklusjonen i forprosjektrapporten?", True),
        # issue 26: a focused question is not a summary request
        ("What does the report recommend regarding public procurement?", False),
        ("Hva anbefaler rapporten om virkemiddelapparatet?", False),
        ("Hvilke anbefalinger gis om kliniske studier?", False),
        ("How large were the export revenues in 2017?", False),
        # a summary word as an adverb asks for an overview only when no topic is named
        ("Hvilket utfordringsbilde står norsk helseindustri overfor, kort oppsummert?", False),
        ("What, in summary, are the challenges facing the industry?", False),
        ("Kort oppsummert, hva sier rapporten?", True),
    ],
)
def test_an_overview_only_for_a_genuine_summary_request(question, overview):
    from helse_qa.answering.overview import is_overview_question

    assert is_overview_question(question) is overview


def test_a_focused_recommendation_question_gets_no_overview(corpus_assistant):
    answer = corpus_assistant.ask("What does the report recommend regarding public procurement?")
    assert answer.kind != "overview"
    assert len(answer.citations) <= 3  # not the six-sentence overview of all recommendations
    summary = corpus_assistant.ask("Oppsummer hovedfunnene i rapporten.")
    assert summary.kind == "overview"


@pytest.mark.parametrize(
    "question",
    [
        "Give me the report's key findings.",
        "Oppsummer hovedfunnene i rapporten.",
        "Summarise the report.",
        "Oppsummer kapittel 4 i rapporten.",
        "Summarise the news article.",
        "Hva anbefaler rapporten at Norge bør gjøre?",
    ],
)
def test_an_overview_never_quotes_a_sentence_that_leans_on_the_one_before(
    corpus_assistant, question
):
    from helse_qa.text.sentences import self_contained

    answer = corpus_assistant.ask(question)
    assert answer.kind == "overview"
    assert all(self_contained(c.quote) for c in answer.citations), answer.text
    for leaning in ("i et slikt perspektiv", "mener dette nå er mulig"):
        assert leaning not in answer.text
    # "I sum skaper dette …" only after the sentence it sums up, in the same quote
    for c in answer.citations:
        assert c.quote.find("I sum skaper dette") != 0, answer.text


@pytest.mark.parametrize(
    "question",
    [
        "What is the Innovasjon Norge report about? Give a short summary.",
        "Kan du gi meg et kort sammendrag av hele rapporten om strategisk posisjonering?",
        "Give me a summary of chapter 3 of the report, the part about the report itself.",
    ],
)
def test_an_overview_never_quotes_a_list_item_without_its_lead_in(corpus_assistant, question):
    # "Avklare hvilke aktører som ønsker å delta …" is the first of the pre-project's four
    # purposes: alone, a fragment (before: the first sentence of both overviews); "Ønske om
    # og fokus for et evt. posisjoneringsprosjekt for næringen", a topic of the interview
    # guide, closed the overview of what the report is about (an item line is no sentence)
    answer = corpus_assistant.ask(question)
    assert answer.kind == "overview"
    items = (
        "Avklare hvilke aktører",
        "Gjennom prosessen konkludere",
        "Få innspill til",
        "Ønske om",
    )
    for item in items:
        assert not any(c.quote.startswith(item) for c in answer.citations), answer.text


def test_an_overview_of_the_article_covers_its_key_facts(corpus_assistant):
    # the issue's own question: the date the merger takes effect, the member count and the
    # offices (before: synergies, roles, a quote and the member count)
    answer = corpus_assistant.ask("Kan du oppsummere artikkelen om sammenslåingen?")
    assert "370 members" in answer.text
    assert "January 1, 2025" in answer.text
    assert "offices in Stavanger, Bergen, and Oslo" in answer.text
    assert answer.text.count("[") <= 6


def test_an_overview_of_the_article_gives_the_date_the_merger_takes_effect(corpus_assistant):
    # short and specific, the date sentence is the least central of the article; it comes
    # in as the second point of the "Facts about the Health Clusters" section
    answer = corpus_assistant.ask("Summarise the news article.")
    assert "January 1, 2025" in answer.text and "370 members" in answer.text


def test_an_overview_keeps_to_the_chapter_it_names(corpus_assistant):
    answer = corpus_assistant.ask("Oppsummer kapittel 6 i rapporten.")
    assert answer.kind == "overview" and len(answer.citations) >= 2
    assert all(c.section.startswith("6 ") for c in answer.citations), answer.text


def test_an_overview_of_the_collection_has_a_titled_block_per_document(corpus_assistant):
    answer = corpus_assistant.ask("Summarise the documents.")
    assert answer.kind == "overview"
    assert {c.doc_id for c in answer.citations} == {ARTICLE_ID, REPORT_ID}
    for doc_id in (ARTICLE_ID, REPORT_ID):
        n = sum(1 for c in answer.citations if c.doc_id == doc_id)
        assert 1 <= n <= 3
    titles = [line for line in answer.text.split("\n") if line.endswith(":")]
    assert len(titles) == 2
    assert_verbatim(corpus_assistant, answer)


def test_a_conclusion_is_the_paragraph_under_its_label(corpus_assistant):
    # the report's conclusion is the paragraph under "Konklusjon:" in chapter 6, not an
    # overview of the whole report
    for question in (
        "Hva er konklusjonen i forprosjektrapporten?",
        "What does the report conclude?",
    ):
        answer = corpus_assistant.ask(question)
        assert answer.kind == "overview"
        assert answer.citations[0].quote.startswith("Aktørene ber styringsgruppen"), answer.text
        assert "«hvit spiss»" in answer.text
        assert_verbatim(corpus_assistant, answer)


def test_an_overview_reports_findings_not_what_the_informants_were_asked(corpus_assistant):
    # "Informantene ble utfordret på hvilke grep Norge bør gjøre …" opens chapter 5 and
    # was the first sentence of its overview; "Når aktørene blir spurt om …, svarer de at …"
    # answers, and may be quoted
    from helse_qa.answering.overview import _FRAMING

    assert _FRAMING.match("Informantene ble innledningsvis utfordret til å beskrive industrien.")
    assert not _FRAMING.match("Når aktørene blir spurt om hvor de er sterke, svarer de at …")
    for question in ("Summarise the report's main recommendations.", "Oppsummer kapittel 4."):
        answer = corpus_assistant.ask(question)
        assert answer.kind == "overview"
        assert not any(c.quote.startswith("Informantene ble") for c in answer.citations)


def test_an_overview_about_a_topic_keeps_to_the_section_whose_heading_names_it(corpus_assistant):
    # "posisjoneres" names chapter 6, "Innspill til posisjoneringsprosjektet" (before: the
    # overview of chapter 5's recommendations, none about positioning)
    answer = corpus_assistant.ask(
        "Oppsummer hva rapporten sier om hvordan norsk helseindustri bør posisjoneres "
        "internasjonalt."
    )
    assert answer.kind == "overview" and len(answer.citations) >= 3
    assert all(c.section.startswith("6 ") for c in answer.citations), answer.text
    assert_verbatim(corpus_assistant, answer)


def test_named_sections_weigh_a_topic_word_by_how_few_headings_hold_it():
    from helse_qa.answering.overview import named_sections

    sections = [
        ("1 Innledning",),
        ("2 Fakta om norsk helseindustri",),
        ("4 Hovedfunn", "4.1 Hvor er norsk helseindustri sterke?"),
        ("4 Hovedfunn", "4.2 Hva er norsk helseindustris hovedutfordring?"),
        ("6 Innspill til posisjoneringsprosjektet",),
    ]
    positioning = "Oppsummer hva rapporten sier om hvordan norsk helseindustri bør posisjoneres."
    assert named_sections(positioning, sections) == {("6 Innspill til posisjoneringsprosjektet",)}
    challenge = named_sections("Oppsummer hva rapporten sier om hovedutfordringen.", sections)
    assert challenge == {sections[3]}
    # the whole report, a chapter by number, or no heading word: no section is named
    assert not named_sections("Oppsummer hele rapporten om posisjonering.", sections)
    assert not named_sections("Oppsummer kapittel 2 om posisjonering.", sections)
    assert not named_sections("Summarise the news article.", sections)


def test_a_summary_of_the_whole_report_ends_with_its_conclusion(corpus_assistant):
    # the paragraph the report labels "Konklusjon:" is the gist its author marked
    answer = corpus_assistant.ask(
        "Kan du gi meg et kort sammendrag av hele rapporten om strategisk posisjonering?"
    )
    assert answer.kind == "overview"
    assert answer.citations[-1].quote.startswith("Aktørene ber styringsgruppen"), answer.text
    assert len({c.section.split(" ")[0] for c in answer.citations}) >= 4  # several chapters


def test_what_a_report_is_about_comes_from_its_introduction(corpus_assistant):
    answer = corpus_assistant.ask(
        "What is the Innovasjon Norge report about? Give a short summary."
    )
    assert answer.kind == "overview"
    assert all(c.section.startswith(("1 ", "3 ")) for c in answer.citations), answer.text
    assert "ca. 30 aktører" in answer.text


def test_an_overview_quotes_a_leaning_sentence_with_the_one_it_leans_on(corpus_assistant):
    # "Resultatet er få kliniske studier …" may be a point only with the sentence before it
    import helse_qa.answering.decide as decide_module
    from helse_qa.answering.overview import scored_scope

    seen: list[tuple] = []
    original = decide_module.overview

    def spy(question, sentences, vectors, query_vector, most=6):
        seen.append((question, sentences, vectors, query_vector))
        return original(question, sentences, vectors, query_vector, most)

    decide_module.overview = spy
    try:
        corpus_assistant.ask("Oppsummer delkapittel 4.2 i rapporten.")
    finally:
        decide_module.overview = original
    scope, _, _ = scored_scope(*seen[0])
    quotes = [s.text for s in scope]
    assert not any(q.startswith("Resultatet") for q in quotes)
    pair = [q for q in quotes if "Resultatet er få kliniske studier" in q]
    assert pair and pair[0].startswith("Den kulturelle skepsisen"), pair
