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
