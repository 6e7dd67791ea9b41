"""What a question names, and the sentences that name it (helse_qa.answering.names),
function by function."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("What were Denmark's health industry export revenues in 2017?", ["Denmark"]),
        ("How many employees does Oslo Cancer Cluster have?", ["Oslo Cancer Cluster"]),
        # sentence starts and acronyms are not names ("BNP" is spelt out in the report)
        ("Both mention it. Which role has Lena Nymo Helli?", ["Lena Nymo Helli"]),
        ("Hvor stor andel av BNP bruker helsesektoren?", []),
        ("Hva omsatte den svenske helseindustrien for?", ["svenske"]),
        # markup is shown as text and never read as words (issue 25)
        ("<b>Hvem</b> leder Norway Health Tech?", ["Norway Health Tech"]),
        ('Who leads <span class="x">Norway Health Tech</span>?', ["Norway Health Tech"]),
    ],
)
def test_question_names(question, names):
    from helse_qa.answering.names import question_names

    assert question_names(question) == names


@pytest.mark.parametrize(
    ("name", "language", "place"),
    [
        ("Danish", "en", "Denmark"),
        ("danske", "nb", "Danmark"),
        ("Swedish", "nb", "Sverige"),
        ("Denmark", "en", "Denmark"),
        ("Novartis", "en", None),
        ("Hvem", "nb", None),
    ],
)
def test_place_named(name, language, place):
    from helse_qa.answering.names import place_named

    assert place_named(name, language) == place


@pytest.mark.parametrize(
    ("question", "counted"),
    [
        ("Hvor mange ansatte har Oslo Cancer Cluster?", ["ansatte"]),
        ("Roughly how many industry players were interviewed?", ["industry", "players"]),
        ("Hvor mange medlemmer får den nye klyngen?", ["medlemmer"]),
        ("How many people worked in the health industry in 2017?", ["people"]),
        ("Hvor mange prosent av bedriftene har vareproduksjon?", []),  # a unit
        ("Hva er omsetningen?", []),
    ],
)
def test_counted_words(question, counted):
    from helse_qa.answering.names import counted_words

    assert counted_words(question) == counted


@pytest.mark.parametrize(
    ("question", "scope"),
    [
        ("How many members did Norway Health Tech have on its own before the merger?", "part"),
        ("Hva var omsetningen til helseindustrien alene i 2017?", "part"),
        ("How much did the health industry by itself sell for in 2017?", "part"),
        ("helseindustrien isolert omsetning", "part"),
        ("How large was the combined revenue of the private health business in 2017?", "whole"),
        ("Hvor stor var den samlede omsetningen i helsenæringen?", "whole"),
        ("How many members will the two clusters have together?", "whole"),
        ("How many members will the merged cluster have?", ""),
        ("Hvor store var eksportinntektene i 2017?", ""),
    ],
)
def test_asked_scope(question, scope):
    from helse_qa.answering.names import asked_scope

    assert asked_scope(question) == scope


@pytest.mark.parametrize(
    ("scope", "sentence", "fits"),
    [
        # a part asked about: a figure summed over parts is not its figure
        (
            "part",
            "Norway Health Tech and Norwegian Smart Care Cluster together count 370 members.",
            False,
        ),
        ("part", "The newly merged cluster will represent 370 members.", False),
        (
            "part",
            "Den private helsenæringen omsatte samlet for 142 milliarder kroner i 2017.",
            False,
        ),
        ("part", "Ser man på helseindustrien isolert, omsatte den for 57 milliarder kroner.", True),
        # "samlede" totals one thing: the industry's own R&D figure
        ("part", "De samlede FoU-investeringene i industrien var på 2,6 milliarder i 2017.", True),
        # the total asked about: one part's figure is not it
        (
            "whole",
            "Ser man på helseindustrien isolert, omsatte den for 57 milliarder kroner.",
            False,
        ),
        (
            "whole",
            "Den private helsenæringen omsatte samlet for 142 milliarder kroner i 2017.",
            True,
        ),
        ("whole", "De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017.", True),
        (
            "",
            "Norway Health Tech and Norwegian Smart Care Cluster together count 370 members.",
            True,
        ),
    ],
)
def test_fits_scope(scope, sentence, fits):
    from helse_qa.answering.names import fits_scope

    assert fits_scope(scope, sentence) is fits


@pytest.mark.parametrize(
    ("sentence", "counting"),
    [
        ("Together they count 370 members from industry and hospitals.", ["members", "from"]),
        ("Det er gjennomført dybdeintervjuer med ca. 30 aktører i industrien.", ["aktører", "i"]),
        ("Hele 10 prosent av bedriftene møter kriteriene.", []),  # a share
        ("De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017.", []),  # a sum
        ("Bare i 2017 vokste både omsetning og eksport.", []),  # a year
        ("De siste 5 – 10 årene har det dukket opp mange selskaper.", []),  # a span of time
    ],
)
def test_counting_words(sentence, counting):
    from helse_qa.answering.names import counting_words

    assert counting_words(sentence) == counting


def test_question_names_may_keep_acronyms():
    from helse_qa.answering.names import question_names

    sentence = "Det er konsulentselskapet ZYNK som har gjennomført intervjuene."
    assert question_names(sentence) == []
    assert question_names(sentence, acronyms=True) == ["ZYNK"]
