from __future__ import annotations

from helse_qa.storage.bm25 import LexicalIndex
from helse_qa.text.analysis import Analyzer, build_vocabulary

TEXTS = [
    "De samlede eksportinntektene utgjorde 23,6 milliarder kroner i 2017.",
    "Det er etablert en styringsgruppe for prosjektet.",
    "The merger will officially take effect on January 1, 2025.",
    "Eksport er viktig for norsk industri, og inntekter fra salg vokser.",
]
IDS = ["a", "b", "c", "d"]
LANGS = ["nb", "nb", "en", "nb"]


def test_compounds_are_split_into_corpus_words():
    analyzer = Analyzer(build_vocabulary(TEXTS))
    terms = analyzer.document_terms("eksportinntektene", "nb")
    assert "eksport" in terms and "inntekt" in terms


def test_numbers_stay_whole():
    assert "23,6" in Analyzer().document_terms("23,6 milliarder", "nb")


def test_norwegian_compound_found_by_part():
    index = LexicalIndex.build(IDS, TEXTS, LANGS)
    top = [cid for cid, _ in index.search("inntektene fra eksport", 2)]
    assert top[0] in ("a", "d") and set(top) == {"a", "d"}


def test_english_query_stemmed():
    index = LexicalIndex.build(IDS, TEXTS, LANGS)
    assert index.search("when does the merger take effect", 1)[0][0] == "c"


def test_filter_and_zero_scores():
    index = LexicalIndex.build(IDS, TEXTS, LANGS)
    assert [cid for cid, _ in index.search("styringsgruppe", 5, allowed={"a", "c"})] == []
    assert all(score > 0 for _, score in index.search("eksport", 10))
    assert index.search("zzzz qqqq", 3) == []


def test_save_and_load_roundtrip(tmp_path):
    index = LexicalIndex.build(IDS, TEXTS, LANGS)
    index.save(tmp_path)
    again = LexicalIndex.load(tmp_path)
    assert again.search("styringsgruppen", 1) == index.search("styringsgruppen", 1)
    assert again.chunk_ids == IDS


def test_glossary_siblings_are_a_concept_s_other_forms_in_its_own_language():
    from helse_qa.text.analysis import Analyzer, with_siblings

    terms = set(Analyzer().terms("omsatte", ["nb", "en"]))
    siblings = with_siblings(terms)
    assert terms < siblings
    assert set(Analyzer().terms("omsetning", ["nb"])) <= siblings
    assert with_siblings({"zzz"}) == {"zzz"}  # no glossary entry: itself only
