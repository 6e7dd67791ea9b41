"""List answers (helse_qa.answering.list_answers), function by function."""

from __future__ import annotations

from tests.helpers import scored_passage


def test_long_items_are_capped_and_short_ones_quoted_whole():
    from helse_qa.answering.list_answers import capped

    long_items = scored_passage([(f"Punkt {i} " + "ord " * 20, 0.0) for i in range(12)])
    assert len(capped(long_items)) == 8
    short_items = scored_passage([(f"Aktør {i}", 0.0) for i in range(12)])
    assert len(capped(short_items)) == 12


def test_a_list_cut_short_says_which_part_it_shows():
    from helse_qa.answering.list_answers import list_selection

    items = [(f"Punkt {i} " + "med mange ord " * 6, 0.0) for i in range(12)]
    passage = scored_passage(
        [("Rapporten peker på følgende tiltak:", 0.9), *items], "nb", sep="\n\n"
    )
    selection = list_selection(passage[:1], (), "en")
    assert selection is not None and selection.kind == "list"
    assert selection.lead == "The first 8 of 12 items:"
    assert len(selection.chosen) == 1 + 8
