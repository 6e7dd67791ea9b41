"""Years and figures (helse_qa.text.numbers): one definition for the whole package."""

from __future__ import annotations

from helse_qa.text.numbers import AMOUNT, ANY_FIGURE, ANY_YEAR, FIGURE, YEAR


def test_years_of_the_corpus_and_of_external_data():
    assert YEAR.findall("i 2017, fra 2015 og 1999") == ["2017", "2015", "1999"]
    assert not YEAR.search("12017 og 1750")  # part of a longer number; before 1800
    assert ANY_YEAR.findall("in 1750 and 2017") == ["1750", "2017"]


def test_a_figure_is_a_number_that_is_not_a_year():
    assert FIGURE.findall("23,6 milliarder kroner i 2017") == ["23,6"]
    assert FIGURE.findall("370 members") == ["370"]
    assert ANY_FIGURE.findall("1 650 soldiers in 1650") == ["1", "650"]


def test_an_amount_is_not_a_digit_inside_a_name():
    assert not AMOUNT.search("I4Helse (Agder)")
    assert AMOUNT.findall("Diagnostikk: 54%") == ["54"]
