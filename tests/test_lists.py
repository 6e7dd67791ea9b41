"""Lists put back with their lead-ins at parse time (helse_qa.ingest.lists, issue 26)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.helpers import REPORT

from helse_qa.ingest.lists import (
    Block,
    chart_captions,
    is_item_paragraph,
    item_blocks,
    pair,
    reattach,
)
from helse_qa.ingest.readers import parse_document
from helse_qa.text.listing import (
    announced,
    caption_figures,
    figure_lines,
    is_caption,
    label_section,
    prose_run,
)

FIXTURE = Path(__file__).parent / "data" / "lead_ins.json"


def para(text: str) -> Block:
    return Block("paragraph", text, lines=tuple(text.split("\n")))


def heading(text: str) -> Block:
    return Block("heading", text, level=2)


def texts(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks]


@pytest.fixture(scope="module")
def report_text() -> str:
    return parse_document(REPORT).text


def _following(text: str, lead: str) -> list[str]:
    """The paragraphs right after the paragraph that ends with ``lead``."""
    at = text.index(lead) + len(lead)
    return text[at:].lstrip("\n").split("\n\n")


def test_every_lead_in_of_the_report_gets_its_true_items(report_text):
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    attached = []
    for case in fixture["lead_ins"]:
        after = _following(report_text, case["lead"])
        assert after[0].startswith(case["first"]), (case["lead"], after[0])
        n = case["items"]
        assert after[n - 1].startswith(case["last"]), (case["lead"], after[:n])
        # the block ends there: what follows is prose, a heading or another lead-in
        assert item_blocks([para(p) for p in after[:n]])
        assert re.match(r"\d+(\.\d+)? [A-ZÆØÅ]", after[n]) or not is_item_paragraph(para(after[n]))
        attached.append(case["lead"])
    # the measure of issue 26: all seven lead-ins of the report carry their items
    assert len(attached) == len(fixture["lead_ins"]) == 7


def test_the_two_benefits_follow_their_lead_in_under_chapter_five(report_text):
    lead = report_text.index("har to store fordeler:")
    chapter = report_text.index("5 Hva bør Norge gjøre?")
    benefit = report_text.index("Pasientene vil få et bedre behandlingstilbud")
    assert chapter < lead < benefit
    # the strength areas of 4.1 now stand under 4.1, before 4.2 begins
    assert report_text.index("Onkologi, spesielt immunterapi") < report_text.index("4.2 Hva er")


def test_a_block_is_moved_to_its_lead_in_and_nothing_else_moves():
    page = [
        para("Det er bred enighet om at dette har to store fordeler:"),
        para("Annen tekst som står i mellom og slutter med punktum."),
        heading("5 Neste kapittel"),
        para("Pasientene får et bedre tilbud"),
        para("Norge får nye arbeidsplasser"),
        para("Mer tekst etter listen."),
    ]
    assert texts(reattach(page)) == texts([page[0], page[3], page[4], page[1], page[2], page[5]])


def test_items_printed_before_their_lead_in_are_found():
    page = [
        para("Pasientene får et bedre tilbud"),
        para("Norge får nye arbeidsplasser"),
        heading("5 Hva bør Norge gjøre?"),
        para("Det er bred enighet om at dette har to store fordeler:"),
        para("Prosa som følger."),
    ]
    assert texts(reattach(page)) == texts([page[2], page[3], page[0], page[1], page[4]])


def test_two_lead_ins_get_two_lists_in_reading_order():
    page = [
        para("Intervjuguiden hadde fokus på følgende hovedtema:"),
        para("Følgende aktører intervjuet:"),
        para("Assosiasjoner til næringen"),
        para("Syn på eksport"),
        para("Grad av samarbeid"),
        para("Abelia\nNHO 12.02.18 Inven2"),
        para("UIO 23.01.18\nGE Healthcare"),
        para("14.02.18"),
    ]
    out = texts(reattach(page))
    assert out == texts([page[0], *page[2:5], page[1], *page[5:]])


def test_a_lead_in_without_findable_items_is_left_alone():
    prose = [
        para("Rapporten peker på følgende hovedutfordringer:"),
        para("Dette er vanlig prosa som slutter med punktum."),
        para("Mer prosa, også med punktum på slutten."),
    ]
    assert reattach(prose) == prose
    # a lead-in announcing two is never given a block of three
    three = [
        para("En større helseindustri har to store fordeler:"),
        para("Prosa i mellom."),
        para("Rammevilkår"),
        para("Incentiver"),
        para("Kliniske studier"),
    ]
    assert reattach(three) == three and announced(three[0].text) == 2
    # one block, two lead-ins: the block goes to one of them only
    shared = [
        para("Følgende tema ble tatt opp:"),
        para("Følgende aktører intervjuet:"),
        para("Assosiasjoner til næringen"),
        para("Syn på eksport"),
    ]
    assert len(pair(shared)) == 1
    # a label ("Konklusjon:") is not a lead-in
    label = [para("Konklusjon:"), para("Prosa."), para("Rammevilkår"), para("Incentiver")]
    assert reattach(label) == label


def test_the_announced_count_reads_norwegian_and_english():
    assert announced("… har to store fordeler:") == 2
    assert announced("The report names three main challenges:") == 3
    assert announced("Prosjektet hadde følgende formål:") is None
    assert announced("Tallene for 2017:") is None
    assert announced("This belongs to the following:") is None


def test_items_after_a_lead_in_are_read_up_to_the_first_sentence():
    from helse_qa.text.listing import items_after

    text = "Følgende aktører intervjuet:\n\nAbelia\n\nUIO 23.01.18\n\nMer prosa."
    at = text.index(":") + 1
    assert items_after(text, at) == "Abelia\nUIO 23.01.18"
    assert items_after("Følgende:\n\nBare prosa her.", len("Følgende:")) == ""
    assert items_after("Følgende: tekst fortsetter", len("Følgende:")) == ""


def test_chart_captions_go_before_their_figures_in_order():
    # the PDF text gives two charts' data first, then their two captions
    page = [
        para("Ser man på helseindustrien isolert, omsatte den for 57 milliarder kroner."),
        para("Legemidler: 26 mrd\nDiagnostikk: 15 mrd"),
        para("Helseindustri: 57 mrd\nBehandling: 53 mrd"),
        para("Helseindustrien – omsettning 2017"),
        para("Helsenæringen – omsettning 2017"),
        para("De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017."),
    ]
    assert chart_captions(page) == {1: 3, 2: 4}
    assert texts(reattach(page)) == texts([page[0], page[3], page[1], page[4], page[2], page[5]])
    # as many captions as charts, or nothing moves
    one_caption = [page[1], page[2], page[3], page[5]]
    assert chart_captions(one_caption) == {} and reattach(one_caption) == one_caption


def test_chart_paragraphs_are_no_lead_ins_items():
    page = [
        para("Rapporten viser følgende tall:"),
        para("En setning som slutter med punktum."),
        para("Legemidler: 26 mrd\nDiagnostikk: 15 mrd"),
        para("Helseindustrien – omsettning 2017"),
    ]
    out = texts(reattach(page))
    assert out == texts([page[0], page[1], page[3], page[2]])  # the lead-in keeps no chart


def test_figure_lines_and_captions():
    assert figure_lines("Diagnostikk: 54%\nLegemidler: 34%") == [
        "Diagnostikk: 54%",
        "Legemidler: 34%",
    ]
    assert figure_lines("Spes. underleverandører: 4 mrd\nMedtech: 8 mrd")
    assert not figure_lines("Abelia\nNHO 12.02.18 Inven2")  # names and dates, no labels
    assert not figure_lines("Diagnostikk: 54%")  # one line is no chart
    assert is_caption("Helseindustrien – fordeling eksport 2017")
    assert not is_caption("Følgende aktører intervjuet:")
    assert not is_caption("En setning som slutter med punktum.")
    text = "Helseindustrien – omsettning 2017\n\nLegemidler: 26 mrd\nMedtech: 8 mrd\n\nProsa."
    spans = caption_figures(text, 0, len("Helseindustrien – omsettning 2017"))
    assert [text[a:b] for a, b in spans] == ["Legemidler: 26 mrd", "Medtech: 8 mrd"]
    # a caption with prose after it, or a line inside a paragraph, has no figures
    assert caption_figures("Tittel – 2017\n\nProsa her.", 0, 13) == []
    assert caption_figures("Før\nTittel – 2017\n\nA: 1\nB: 2", 4, 17) == []


def test_the_report_charts_carry_their_captions(report_text):
    assert "Helseindustrien – omsettning 2017\n\nLegemidler: 26 mrd" in report_text
    assert "Helsenæringen – omsettning 2017\n\nHelseindustri: 57 mrd" in report_text
    assert "Helseindustrien – fordeling eksport 2017\n\nDiagnostikk: 54%" in report_text


def _rows_read(text: str) -> dict[str, str]:
    """Every line of ``text`` that is a chart row -> the row as the models read it."""
    from helse_qa.text.listing import as_read, row_caption
    from helse_qa.text.sentences import sentence_spans

    return {
        text[a:b]: as_read(text, a, b) for a, b in sentence_spans(text) if row_caption(text, a, b)
    }


def test_every_row_of_the_report_charts_is_read_with_its_caption(report_text):
    """Issue 37: the three charts of the report, a row per label, each with its caption;
    no other line of the report is taken for a chart row (the positioning model's traits,
    the improvement wheel and the interview list stay lists)."""
    rows = _rows_read(report_text)
    turnover, sector = "Helseindustrien – omsettning 2017", "Helsenæringen – omsettning 2017"
    exports = "Helseindustrien – fordeling eksport 2017"
    expected = {
        **{
            f"{r}": f"{turnover} · {r}"
            for r in (
                "Legemidler: 26 mrd",
                "Diagnostikk: 15 mrd",
                "Medtech: 8 mrd",
                "Helse-IKT: 4 mrd",
                "Spes. underleverandører: 4 mrd",
            )
        },
        **{
            r: f"{sector} · {r}"
            for r in ("Helseindustri: 57 mrd", "Behandling: 53 mrd", "Distribusjon: 33 mrd")
        },
        **{
            r: f"{exports} · {r}"
            for r in (
                "Diagnostikk: 54%",
                "Legemidler: 34%",
                "Spes. underleverandører: 8%",
                "Medtech: 3%",
                "Helse IKT: 1%",
            )
        },
    }
    assert rows == expected


def test_a_chart_in_markdown_with_its_caption_above():
    text = (
        "# Notat\n\nOmsetning per region 2024\n\nVestland: 12 mrd\nViken: 9 mrd\n"
        "Nordland: 3 mrd\n\nRegionene vokste jevnt."
    )
    assert _rows_read(text) == {
        "Vestland: 12 mrd": "Omsetning per region 2024 · Vestland: 12 mrd",
        "Viken: 9 mrd": "Omsetning per region 2024 · Viken: 9 mrd",
        "Nordland: 3 mrd": "Omsetning per region 2024 · Nordland: 3 mrd",
    }


@pytest.mark.parametrize(
    "text",
    [
        "Omsetning 2024\n\nVestland:\nViken: 9 mrd",  # a label with no value
        "Omsetning 2024\n\nRegionene vokste jevnt.",  # a caption without labels
        "Omsetning 2024\n\nVestland: " + "1" * 5000 + "\nViken: 9 mrd",  # a value too long
        "Vestland: 12 mrd\nViken: 9 mrd",  # figures without a caption
        "Følgende aktører intervjuet:\n\nAbelia: 2\nNHO: 3",  # a lead-in is no caption
    ],
)
def test_what_is_no_chart_row_is_read_as_plain_text(text):
    from helse_qa.text.listing import as_read
    from helse_qa.text.sentences import sentence_spans

    assert _rows_read(text) == {}
    assert [as_read(text, a, b) for a, b in sentence_spans(text)] == [
        text[a:b] for a, b in sentence_spans(text)
    ]


def _label(text: str, label: str) -> list[str]:
    start = text.index(label)
    return [text[a:b] for a, b in label_section(text, start, start + len(label))]


def test_a_label_heads_the_prose_paragraphs_below_it():
    text = (
        "Forrige avsnitt slutter her.\n\nEndringer i rammevilkår\n\n"
        "Det er behov for en stortingsmelding.\n\nViktig å avklare roller og ansvar.\n\n"
        "Eksport må prioriteres\n\nDen beste måten er norske kundecase."
    )
    assert _label(text, "Endringer i rammevilkår") == [
        "Det er behov for en stortingsmelding.",
        "Viktig å avklare roller og ansvar.",
    ]
    assert _label(text, "Eksport må prioriteres") == ["Den beste måten er norske kundecase."]
    # the passage ends inside the section: it may go on in the next one
    assert prose_run(text, text.index("Den beste"))[1] is True
    assert prose_run(text, text.index("Det er behov"))[1] is False


def test_what_is_no_label():
    # the last item of a list, then prose
    listed = "Følgende utfordringer:\n\nFå lokomotiver\n\nFå kliniske studier\n\nProsa her."
    assert _label(listed, "Få kliniske studier") == []
    # the second of two labels between prose: two columns whose paragraphs interleave
    columns = "Prosa før.\n\nStyrking av attraktivitet\n\nStyrket samhandling\n\nProsa etter."
    assert _label(columns, "Styrket samhandling") == []
    # ... also when the passage starts with the first of the two labels
    assert _label(columns.split("\n\n", 1)[1], "Styrket samhandling") == []
    # a numbered heading, one word, or a label over no prose
    assert _label("1 Innledning\n\nProsa her.", "1 Innledning") == []
    assert _label("Prosa.\n\nRammevilkår\n\nProsa her.", "Rammevilkår") == []
    assert _label("Prosa.\n\nNoe annet her\n\nEt punkt\n\nEtt til", "Noe annet her") == []


@pytest.mark.parametrize(
    ("question", "is_list"),
    [
        ("Hvilke fordeler har en større norsk helseindustri?", True),
        ("Who were the actors interviewed for the report?", True),
        ("Who are the members of the steering group?", True),
        ("How did the 2017 turnover break down by segment?", True),
        ("Hvordan fordelte eksporten seg i 2017?", True),
        ("Who leads Norway Health Tech?", False),
        ("How large were the export revenues in 2017?", False),
        ("Hvilken fordel gir dette?", False),
    ],
)
def test_list_questions(question, is_list):
    from helse_qa.text.listing import is_list_question

    assert is_list_question(question) is is_list


def test_broken_charts_in_an_upload_are_ingested_as_plain_text(tmp_path):
    """A label with no value, a caption with no labels and a value line longer than a page
    (issue 37): parsed without a crash, every word kept, none of it taken for a chart row;
    the good chart in the same file still is one."""
    long_value = "Vestland: " + "1" * 5000
    source = (
        "# Notat\n\nOmsetning 2023\n\nVestland:\nViken: 7 mrd\n\n"
        "Eksport 2023\n\nRegionene vokste jevnt.\n\n"
        f"Omsetning 2022\n\n{long_value}\nViken: 8 mrd\n\n"
        "Omsetning 2024\n\nVestland: 12 mrd\nViken: 9 mrd\n"
    )
    path = tmp_path / "notat.md"
    path.write_text(source, encoding="utf-8")
    text = parse_document(path).text
    for line in source.splitlines():
        if line.strip() and not line.startswith("#"):
            assert line.strip() in text
    assert _rows_read(text) == {
        "Vestland: 12 mrd": "Omsetning 2024 · Vestland: 12 mrd",
        "Viken: 9 mrd": "Omsetning 2024 · Viken: 9 mrd",
    }


@pytest.mark.parametrize(
    ("text", "several"),
    [
        (
            "I dag oppleves det at incentivordningene i HOD, KD, KRD og NFD motvirker hverandre.",
            True,
        ),
        ("overlapping areas – including partnerships, testing, EU advisory, and capital", True),
        ("Samtidig pekes det på en rekke forhold som kan og bør forbedres.", False),
        ("Bare i 2017 vokste både omsetning og eksport med om lag 15 prosent.", False),
    ],
)
def test_names_several(text, several):
    from helse_qa.text.listing import names_several

    assert names_several(text) is several
