"""The four outcomes a user tells apart (issue 36): right, wrong, hedged, declined."""

import math

import pytest

from helse_qa.evaluation.outcomes import OUTCOMES, classify, rates

EXPORT = "De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017."
GROWTH = "Bare i 2017 vokste både omsetning og eksport med om lag 15 prosent."


def _found(facts):
    return lambda text: [any(o in text for o in options) for options in facts]


def _fact(first_quote, *, kind="fact", abstained=False, answerable=True, facts=(("23,6",),)):
    return classify(
        answerable=answerable,
        question_type="fact",
        kind=kind,
        abstained=abstained,
        first_quote=first_quote,
        answer_text=" ".join(q for q in (first_quote, GROWTH) if q),
        found=_found(facts),
    )


def test_a_fact_is_right_only_when_the_first_quote_holds_it():
    assert _fact(EXPORT) == "right"
    # the fact is in the answer, but under the wrong first quote: the user reads that one
    assert _fact(GROWTH) == "wrong"
    # one of several facts in the first quote is enough
    assert _fact(EXPORT, facts=(("23,6",), ("Legemidler",))) == "right"


def test_hedged_and_declined_are_neither_right_nor_wrong():
    assert _fact(EXPORT, kind="unsure", abstained=False) == "hedged"
    assert _fact(None, kind="abstain", abstained=True) == "declined"
    assert _fact(None, kind="near_miss", abstained=True) == "declined"


def test_any_answer_to_an_unanswerable_question_is_wrong():
    assert _fact(EXPORT, answerable=False, facts=()) == "wrong"
    assert _fact(None, kind="abstain", abstained=True, answerable=False, facts=()) == "declined"
    assert _fact(EXPORT, kind="unsure", answerable=False, facts=()) == "hedged"


@pytest.mark.parametrize("question_type", ["list", "overview"])
def test_lists_and_overviews_need_half_their_items(question_type):
    facts = (("Onkologi",), ("Diagnostikk",), ("medtech",), ("e-helse",))

    def outcome(text):
        return classify(
            answerable=True,
            question_type=question_type,
            kind=question_type,
            abstained=False,
            first_quote=text.split("\n")[0],
            answer_text=text,
            found=_found(facts),
        )

    assert outcome("Onkologi\nDiagnostikk") == "right"
    assert outcome("Onkologi\nsomething else") == "wrong"


def test_rates_add_up_and_precision_counts_given_answers_only():
    got = rates(["right", "right", "wrong", "hedged", "declined"])
    assert got["right_rate"] == pytest.approx(0.4)
    assert got["wrong_rate"] == pytest.approx(0.2)
    assert sum(got[f"{o}_rate"] for o in OUTCOMES) == pytest.approx(1.0)
    assert got["given_precision"] == pytest.approx(2 / 3)
    assert math.isnan(rates(["declined"])["given_precision"])
    with pytest.raises(ValueError, match="unknown outcome"):
        rates(["maybe"])


def test_risk_coverage_orders_given_answers_by_confidence(tmp_path):
    import json

    from helse_qa.evaluation import risk_coverage

    items = [
        {"outcome": "right", "confidence": 0.9},
        {"outcome": "wrong", "confidence": 0.8},
        {"outcome": "hedged", "confidence": 0.7},
        {"outcome": "right", "confidence": 0.6},
        {"outcome": "declined", "confidence": None},
    ]
    c = risk_coverage.curve("d", items)
    assert c.points == [(0.0, 0.0), (0.2, 0.0), (0.4, 0.2), (0.6, 0.2)]
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"items": items}), encoding="utf-8")
    assert risk_coverage.main([f"d={path}", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "risk-coverage.png").read_bytes().startswith(b"\x89PNG")
    saved = json.loads((tmp_path / "risk-coverage.json").read_text(encoding="utf-8"))
    assert saved["curves"]["d"][-1] == [0.6, 0.2]
    with pytest.raises(SystemExit, match="label=path"):
        risk_coverage.main([str(path)])
