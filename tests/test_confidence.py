"""Say how sure (issue 36): a fact answer is kept, hedged ("not sure", at most two quotes)
or declined by the reader's calibrated confidence in its first quote, per language-pair
group; the thresholds come from external calibration data; a hedged answer is set apart
from an answer on every surface (chat, sources panel, CLI, JSON, briefing)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import docx
import pytest
from tests.helpers import scored_passage
from tests.test_briefing import DOCS, cite, turn

from helse_qa.answering.confidence import (
    DEFAULT_THRESHOLDS,
    Thresholds,
    about_topic,
    closest,
    further_kept,
    holds_topic,
    judge,
    naming_first,
    pair_group,
    shape_doubt,
    units,
    weak_outcome,
)
from helse_qa.answering.decide import adds_fact
from helse_qa.answering.scored import ScoredSentence, Selection
from helse_qa.errors import ConfigError
from helse_qa.messages import UNSURE
from helse_qa.text.analysis import Analyzer
from helse_qa.training.confidence import (
    Case,
    cases_for,
    fit,
    lowest_with_precision,
    outcome_shares,
    risk_coverage,
)
from helse_qa.training.data import Dataset, Passage, Question
from helse_qa.web.briefing import LABELS, to_docx, to_markdown
from helse_qa.web.render import answer_html, sources_html

T = Thresholds(
    answer={"same": 0.5, "cross": 0.3},
    hedge={"same": 0.2, "cross": 0.1},
    weak={"same": 0.25, "cross": 0.05},
)
QUOTES = scored_passage(
    [
        ("De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017.", 0.9),
        ("Bare i 2017 vokste både omsetning og eksport med om lag 15 prosent.", 0.8),
        ("Ser man på helseindustrien isolert, omsatte den for 57 milliarder kroner.", 0.7),
    ]
)


def test_a_sure_first_quote_stands_an_unsure_one_is_hedged_a_weak_one_declined():
    fact = Selection(QUOTES, "fact")
    assert judge(fact, 0.5, "same", T, "nb") == replace(fact, confidence=0.5)
    hedged = judge(fact, 0.3, "same", T, "en")
    assert hedged.kind == "unsure" and hedged.chosen == QUOTES[:2]
    assert hedged.lead == UNSURE["en"] and not hedged.answers
    assert judge(fact, 0.19, "same", T, "nb").kind == "abstain"


def test_an_english_question_on_a_norwegian_quote_has_its_own_thresholds():
    fact = Selection(QUOTES, "fact")
    assert pair_group("en", "nb") == "cross" and pair_group("nb", "nb") == "same"
    assert judge(fact, 0.35, "cross", T, "en").kind == "fact"
    assert judge(fact, 0.35, "same", T, "en").kind == "unsure"


def test_a_list_question_answered_by_a_sentence_that_names_no_several_is_at_most_not_sure():
    # "Hvilke forbedringsområder peker rapporten på?" was answered (P 0.57) with a sentence
    # that says improvements are pointed at and lists none (a new user's question)
    vague = scored_passage(
        [("Samtidig pekes det på en rekke forhold som kan og bør forbedres.", 0.9)]
    )
    question = "Hvilke forbedringsområder peker rapporten på?"
    assert shape_doubt(question, vague)
    hedged = judge(Selection(vague, "fact"), 0.9, "same", T, "nb", doubt=True)
    assert hedged.kind == "unsure" and hedged.confidence == 0.9
    naming = scored_passage(
        [
            (
                "I dag oppleves det at ordningene i HOD, KD, KRD og NFD motvirker hverandre.",
                0.9,
            )
        ]
    )
    assert not shape_doubt("Hvilke departementer nevnes?", naming)
    assert not shape_doubt("Hvor store var eksportinntektene i 2017?", vague)  # not a list
    lead_in = scored_passage(
        [("Intervjuguiden hadde fokus på følgende hovedtema:", 0.9), ("Syn på eksport", 0.0)]
    )
    assert not shape_doubt("Hvilke temaer dekket intervjuguiden?", lead_in)  # with its items


def test_two_names_joined_are_a_list_of_two():
    # NorQuAD validation: "Hvilke to land er i samme gruppe som Norge og Bosnia?" was hedged
    # although its sentence names both
    two = scored_passage([("Med i gruppen er også Frankrike og Portugal.", 0.9)])
    assert not shape_doubt("Hvilke to land er i samme gruppe som Norge og Bosnia?", two)
    vague = scored_passage([("Samtidig pekes det på en rekke forhold som kan og bør.", 0.9)])
    assert shape_doubt("Hvilke forbedringsområder peker rapporten på?", vague)


def test_a_who_question_puts_a_naming_quote_first_only_when_the_reader_is_sure_of_it():
    quotes = scored_passage(
        [
            ("Samtalene ble gjennomført som gruppeintervjuer på om lag to timer.", 0.9),
            ("Det er konsulentselskapet ZYNK som har gjennomført intervjuene.", 0.8),
        ]
    )
    question = "Hvem gjennomførte intervjuene?"
    assert naming_first(question, quotes, lambda s: True) == [quotes[1], quotes[0]]
    # the reader not sure of the naming one: its choice stands ("… for befolkningen" answers
    # "Hvem har oversvømmelsene vært et problem for?" without a name)
    assert naming_first(question, quotes, lambda s: False) == quotes
    assert naming_first("Hva gjorde ZYNK?", quotes, lambda s: True) == quotes  # not who


def test_under_not_sure_a_lead_in_keeps_its_items_and_at_most_two_quotes_are_shown():
    chosen = scored_passage(
        [
            ("Forprosjektet hadde følgende formål:", 0.9),
            ("Bygge et felles begrepsapparat og målbilde blant aktørene", 0.0),
            ("Velorganisert og rikt samfunn", 0.0),
            ("De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017.", 0.5),
            ("Bare i 2017 vokste både omsetning og eksport med om lag 15 prosent.", 0.4),
        ]
    )
    assert closest(chosen) == chosen[:4]  # the lead-in with its two items, then one more
    assert closest(chosen[3:]) == chosen[3:5]
    hedged = judge(Selection(chosen, "fact"), 0.3, "same", T, "nb")
    assert hedged.kind == "unsure" and hedged.chosen == chosen[:4]


def test_under_not_sure_a_short_line_after_a_sentence_that_leads_nothing_is_its_own_quote():
    # gold en-040 showed three quotes under "not sure": a chart's caption (a short line)
    # chosen after an unrelated sentence was taken for that sentence's item
    chosen = scored_passage(
        [
            ("I dette tallet ligger omsetningen til helseindustrien.", 0.5),
            ("Rapporten ser på den private helsenæringens omfang og utvikling.", 0.4),
            ("Helseindustrien – fordeling eksport 2017", 0.3),
        ]
    )
    assert [len(u) for u in units(chosen)] == [1, 1, 1]
    assert closest(chosen) == chosen[:2]


def test_a_further_quote_stays_only_when_the_reader_is_sure_of_it_and_it_adds_content():
    first, sure_new, unsure_new, sure_repeat = scored_passage(
        [
            ("De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017.", 0.9),
            ("Diagnostikk sto for 54 prosent av eksporten fra helseindustrien.", 0.8),
            ("Bare i 2017 vokste både omsetning og eksport med om lag 15 prosent.", 0.2),
            ("De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017!", 0.9),
        ]
    )
    chosen = [first, unsure_new, sure_new, sure_repeat]

    def sure(s: ScoredSentence) -> bool:
        return s.probability >= 0.5

    assert further_kept(chosen, sure, adds_fact) == [first, sure_new]
    assert further_kept([first], lambda s: False, adds_fact) == [first]  # one quote stands
    # an item line goes with the quote before it
    lead, item, other = scored_passage(
        [
            ("Forprosjektet hadde følgende formål:", 0.9),
            ("Bygge et felles begrepsapparat og målbilde blant aktørene", 0.0),
            ("Bare i 2017 vokste både omsetning og eksport med om lag 15 prosent.", 0.2),
        ]
    )
    assert further_kept([lead, item, other], sure, adds_fact) == [lead, item]


def test_lists_overviews_and_near_misses_are_not_judged_by_the_sentence_reader():
    for kind in ("list", "overview", "near_miss", "abstain"):
        selection = Selection(QUOTES if kind != "abstain" else [], kind)
        assert judge(selection, 0.0, "same", T, "nb") is selection


def test_a_topic_question_is_answered_only_when_its_first_quote_holds_every_topic_word():
    analyzer = Analyzer()
    about = scored_passage(
        [
            ("Dagens DRG-system oppleves å være et problem for industriell utvikling.", 0.01),
            ("Norge har gode helsedata, men disse er aldri utnyttet kommersielt.", 0.01),
            ("Det er et DRG-system også i Sverige.", 0.01),
        ]
    )
    assert holds_topic("DRG system", about[0].text, analyzer)
    assert holds_topic("helsedata", about[1].text, analyzer)
    # one word of the topic missing is not the topic: no budget in the members sentence
    members = "The newly merged cluster will represent 370 members."
    assert not holds_topic("the merged cluster's annual budget", members, analyzer)
    assert not holds_topic("", members, analyzer)
    hedged = Selection(about, "unsure", UNSURE["en"], 0.01)
    answered = about_topic(hedged, "DRG system", analyzer, 0.01)
    # the closest two quotes, those that hold the topic; the reader's P kept as it is
    assert answered is not None and answered.kind == "fact" and answered.answers
    assert answered.chosen == about[:1] and answered.confidence == 0.01 and not answered.lead
    assert about_topic(hedged, "annual budget", analyzer, 0.01) is None
    # a question that names a document ("What does the article say …") is answered only
    # from that document
    assert about_topic(hedged, "DRG system", analyzer, 0.01, document="d") is not None
    assert about_topic(hedged, "DRG system", analyzer, 0.01, document="other") is None
    assert about_topic(Selection([], "abstain"), "DRG system", analyzer, 0.0) is None


def test_the_shipped_thresholds_load_and_are_ordered():
    shipped = Thresholds.load(DEFAULT_THRESHOLDS)
    for group in ("same", "cross"):
        assert 0.0 <= shipped.hedge[group] <= shipped.answer[group] <= 1.0
    data = json.loads(DEFAULT_THRESHOLDS.read_text(encoding="utf-8"))
    assert "NorQuAD" in data["data"] and "XQuAD" in data["data"]  # external data only


def test_broken_thresholds_are_a_clear_error(tmp_path: Path):
    bad = tmp_path / "confidence.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="answer_confidence = false"):
        Thresholds.load(bad)
    bad.write_text(
        json.dumps({"answer": {"same": 0.2, "cross": 0.2}, "hedge": {"same": 0.5, "cross": 0}}),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="hedge <= answer"):
        Thresholds.load(bad)
    answer = {"same": 0.5, "cross": 0.4}
    bad.write_text(
        json.dumps({"answer": answer, "hedge": {"same": 0, "cross": 0}, "weak": {"same": 0.6}}),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="cannot read the confidence thresholds"):
        Thresholds.load(bad)
    bad.write_text(
        json.dumps(
            {"answer": answer, "hedge": {"same": 0, "cross": 0}, "weak": {"same": 0.6, "cross": 0}}
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="weak <= answer"):
        Thresholds.load(bad)


def test_a_thresholds_file_without_the_weak_floor_rescues_only_a_sure_reader(tmp_path: Path):
    old = tmp_path / "confidence.json"
    answer = {"same": 0.5, "cross": 0.4}
    old.write_text(json.dumps({"answer": answer, "hedge": {"same": 0, "cross": 0}}), "utf-8")
    t = Thresholds.load(old)
    assert t.weak == answer
    assert weak_outcome(0.45, "same", t) == "abstain" and weak_outcome(0.5, "same", t) == "fact"


def test_where_the_heuristic_would_decline_the_reader_answers_hedges_or_lets_it_stand():
    assert weak_outcome(0.5, "same", T) == "fact"  # as sure as of any answer
    assert weak_outcome(0.3, "same", T) == "unsure"  # above the weak floor (0.25)
    assert weak_outcome(0.2, "same", T) == "abstain"  # the decline stands
    assert weak_outcome(0.06, "cross", T) == "unsure" and weak_outcome(0.04, "cross", T) == (
        "abstain"
    )


# -- calibration on a small fixture -------------------------------------------------------


def test_risk_coverage_and_the_lowest_threshold_with_the_precision_asked():
    cases = [
        Case("nb-nb", "answerable", 0.9, True),
        Case("nb-nb", "answerable", 0.8, True),
        Case("nb-nb", "absent", 0.7, False),
        Case("nb-nb", "answerable", 0.6, True),
        Case("nb-nb", "near_miss", 0.2, False),
    ]
    curve = risk_coverage(cases)
    assert curve[0] == (0.9, 0.2, 0.0)
    assert curve[2] == (0.7, 0.6, 0.2)
    assert curve[-1] == (0.2, 1.0, 0.4)
    assert lowest_with_precision(cases, 1.0) == 0.8
    assert lowest_with_precision(cases, 0.75) == 0.6
    assert lowest_with_precision([Case("nb-nb", "absent", 0.9, False)], 0.5) == 1.0


def test_fit_gives_each_language_group_its_thresholds_and_shares_add_up():
    cases = [Case("nb-nb", "answerable", p / 10, p >= 5) for p in range(10)]
    cases += [Case("en-de", "answerable", p / 20, p >= 5) for p in range(10)]
    t = fit(cases, precision=1.0, keep_right=0.9)
    assert t.answer == {"same": 0.5, "cross": 0.25}
    assert t.hedge["same"] <= t.answer["same"] and t.hedge["cross"] <= t.answer["cross"]
    # the weak floor: all but 5% of the right first quotes lie above it, never above the
    # answer threshold (here every right quote is above that one)
    assert t.weak == t.answer and t.weak_keep_right == 0.95
    right = [0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9]
    low = [Case("nb-nb", "answerable", p, True) for p in right]
    low += [Case("nb-nb", "absent", p, False) for p in (0.35, 0.4, 0.45)]
    t = fit(low + cases[10:], precision=1.0)
    assert t.answer["same"] == 0.5
    assert t.weak is not None and t.weak["same"] == pytest.approx(0.1 + 0.05 * 7 * 0.1)
    shares = outcome_shares(cases, t)
    assert shares["wrong"] == 0.0 and sum(shares.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cross"):
        fit(cases[:10])


def test_calibration_cases_from_a_passage_its_neighbour_and_a_near_miss():
    text_a = (
        "Oslo er hovedstaden i Norge. Byen hadde 700 000 innbyggere i 2020. Den ligger ved fjorden."
    )
    text_b = "Bergen ligger på Vestlandet. Bergen hadde 285 000 mennesker. Bryggen er kjent."
    filler = "Tromsø ligger i nord. Der er det mørketid om vinteren."
    ds = Dataset(
        passages={
            "a": Passage("a", "t", "nb", "Oslo", text_a),
            "b": Passage("b", "t", "nb", "Bergen", text_b),
            "c": Passage("c", "t", "nb", "Tromsø", filler),
            "d": Passage("d", "t", "nb", "Tromsø", filler + " Det er kaldt."),
        }
    )
    start = text_a.index("700 000")
    ds.questions.append(
        Question("q", "t", "Hvor mange mennesker bodde i Oslo i 2020?", "nb", "a", start, start + 7)
    )
    ds.questions.append(
        Question("q2", "t", "Hvor ligger Bergen?", "nb", "b", 0, len("Bergen ligger på Vestlandet"))
    )

    def probabilities(question: str, sentences: Any) -> list[float]:
        return [0.9 if "700 000" in s.text and "2020" in question else 0.1 for s in sentences]

    cases = cases_for(probabilities, ds)
    kinds = {c.case for c in cases}
    assert {"answerable", "absent", "near_miss"} <= kinds
    assert Case("nb-nb", "answerable", 0.9, True) in cases
    # the changed year makes a near miss that the reader (here: 2020 only) doubts
    assert Case("nb-nb", "near_miss", 0.1, False) in cases
    assert all(not c.right for c in cases if c.case != "answerable")


# -- every surface -------------------------------------------------------------------------

QUOTE = "Den private helsenæringen omsatte samlet for 142 milliarder kroner i 2017."


def _unsure_turn(language: str = "en") -> dict[str, Any]:
    return turn(
        "What did the health industry export to Asia?",
        f"{UNSURE[language]} {QUOTE} [1]",
        [cite(1, QUOTE, (0, len(QUOTE)))],
        abstained=True,
        kind="unsure",
        language=language,
        passages=[],
    )


def test_the_chat_sets_a_hedged_answer_apart():
    html = answer_html(_unsure_turn("en"), 1)
    assert 'class="unsure"' in html and "Not sure" in html
    assert 'href="#src-1-1"' in html  # its quotes still link to their passages
    plain = answer_html(turn("Q", f"{QUOTE} [1]", [cite(1, QUOTE, (0, len(QUOTE)))]), 1)
    assert "unsure" not in plain


def test_the_sources_panel_labels_a_hedged_turn():
    answer = _unsure_turn("nb") | {
        "passages": [
            {
                "chunk_id": "rep:0001",
                "doc_id": "rep",
                "title": "Rapport",
                "page": 3,
                "section": "2 Facts",
                "text": QUOTE,
                "span": [0, len(QUOTE)],
            }
        ]
    }
    html = sources_html([{"answer": answer}], "nb")
    assert "ikke sikker, nærmeste avsnitt" in html


def test_the_briefing_marks_a_hedged_answer_as_not_a_finding(tmp_path: Path):
    md = to_markdown([_unsure_turn("en")], DOCS, "en")
    assert f"*{LABELS['en']['unsure']}*" in md
    document = docx.Document(str(to_docx([_unsure_turn("nb")], DOCS, "nb", tmp_path / "b.docx")))
    text = "\n".join(p.text for p in document.paragraphs)
    assert LABELS["nb"]["unsure"] in text


def test_the_cli_and_json_say_not_sure(corpus_assistant):
    from helse_qa.cli import format_answer
    from helse_qa.types import Answer, Citation

    answer = corpus_assistant.ask("Hvor store var eksportinntektene i 2017?")
    assert answer.citations
    hedged = Answer(
        question=answer.question,
        text=f"{UNSURE['nb']} {answer.citations[0].quote} [1]",
        citations=cast(tuple[Citation, ...], answer.citations[:1]),
        abstained=True,
        passages=answer.passages,
        language="nb",
        kind="unsure",
    )
    shown = format_answer(hedged)
    assert shown.startswith(UNSURE["nb"][:20]) and "Closest passages:" in shown
    assert "Kilder / Sources" not in shown
    data = hedged.to_dict()
    assert data["kind"] == "unsure" and data["abstained"] is True


def test_with_answer_confidence_an_absent_subject_is_never_given_as_the_answer(
    corpus_settings, embedder
):
    from helse_qa.assistant import Assistant

    settings = corpus_settings.model_copy(update={"answer_confidence": True})
    assistant = Assistant.open(settings, embedder=embedder)
    absent = assistant.ask("What is the capital of Norway?")
    assert absent.kind in ("unsure", "abstain") and absent.abstained
    if absent.kind == "unsure":
        assert absent.text.startswith(UNSURE["en"]) and 1 <= len(absent.citations) <= 2
        assert absent.confidence is not None and absent.confidence < 0.5
    sure = assistant.ask("Hvor mye tjente norsk helseindustri på eksport i 2017?")
    assert sure.kind == "fact" and not sure.abstained
    assert "23,6 milliarder" in sure.citations[0].quote
    assert sure.confidence is not None and sure.confidence >= 0.5
