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
    ("question", "part"),
    [
        ("How many members did Norway Health Tech have on its own before the merger?", True),
        ("Hva var omsetningen til helseindustrien alene i 2017?", True),
        ("How much did the health industry by itself sell for in 2017?", True),
        ("helseindustrien isolert omsetning", True),
        # a total asked about is no part: it may be the very part a sentence sets apart
        ("Hvor stor var den totale omsetningen i helseindustrien i 2017?", False),
        ("How many members will the two clusters have together?", False),
        ("Hvor store var eksportinntektene i 2017?", False),
    ],
)
def test_asks_part(question, part):
    from helse_qa.answering.names import asks_part

    assert asks_part(question) is part


@pytest.mark.parametrize(
    ("sentence", "fits"),
    [
        # a figure summed over parts is not one part's figure
        ("Norway Health Tech and Norwegian Smart Care Cluster together count 370 members.", False),
        ("The newly merged cluster will represent 370 members.", False),
        ("Den private helsenæringen omsatte samlet for 142 milliarder kroner i 2017.", False),
        ("Ser man på helseindustrien isolert, omsatte den for 57 milliarder kroner.", True),
        # "samlede" totals one thing: the industry's own R&D figure
        ("De samlede FoU-investeringene i industrien var på 2,6 milliarder i 2017.", True),
    ],
)
def test_fits_part(sentence, fits):
    from helse_qa.answering.names import fits_part

    assert fits_part(sentence) is fits


@pytest.mark.parametrize(
    ("sentence", "counting"),
    [
        ("Together they count 370 members from industry and hospitals.", ["members", "from"]),
        ("Det er gjennomført dybdeintervjuer med ca. 30 aktører i industrien.", ["aktører", "i"]),
        ("Hele 10 prosent av bedriftene møter kriteriene.", []),  # a share
        ("De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017.", []),  # a sum
        ("Bare i 2017 vokste både omsetning og eksport.", []),  # a year
        ("De siste 5 – 10 årene har det dukket opp mange selskaper.", []),  # a span of time
        # a number word counts too, and a word joined by "og" (NorQuAD validation: "Hvor
        # mange VM-gull har Svindal?", "Hvor mange studenthybler og leiligheter …?")
        ("Han vant fem VM-gull i karrieren.", ["VM", "gull", "i"]),
        ("Nydalen har 3150 leiligheter og studenthybler.", ["leiligheter", "studenthybler"]),
        ("The clusters work to accelerate innovation.", []),  # English "to" is no two
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
