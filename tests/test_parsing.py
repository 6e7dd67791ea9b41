from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers import (
    ARTICLE,
    DOCUMENTS,
    REPORT,
    collapse,
    dehyphenated_raw,
    make_docx,
    make_pdf,
)

from helse_qa.errors import DocumentError
from helse_qa.ingest.readers import join_lines, looks_like_pdf_text, parse_document


@pytest.fixture(scope="module")
def report():
    return parse_document(REPORT)


@pytest.fixture(scope="module")
def article():
    return parse_document(ARTICLE)


def test_report_has_fourteen_pages_in_order(report):
    assert [p.number for p in report.pages] == list(range(1, 15))
    starts = [p.start for p in report.pages]
    assert starts == sorted(starts)
    assert report.pages[-1].end == len(report.text)


def test_report_chapters_and_subsections(report):
    titles = [(h.level, h.title) for h in report.headings]
    assert titles == [
        (1, "1 Innledning"),
        (1, "2 Fakta om norsk helseindustri"),
        (1, "3 Om rapporten"),
        (1, "4 Hovedfunn"),
        (2, "4.1 Hvor er norsk helseindustri sterke?"),
        (2, "4.2 Hva er norsk helseindustris hovedutfordring?"),
        (1, "5 Hva bør Norge gjøre?"),
        (1, "6 Innspill til posisjoneringsprosjektet"),
    ]
    i = report.text.index("Resultatet er få kliniske studier")
    assert report.heading_path_at(i) == (
        "4 Hovedfunn",
        "4.2 Hva er norsk helseindustris hovedutfordring?",
    )


def test_pages_locate_known_sentences(report):
    assert report.page_at(report.text.index("23,6 milliarder kroner")) == 3
    assert report.page_at(report.text.index("Innovasjon Norge har definert helse")) == 1
    assert report.page_at(report.text.index("Merkevarehierarki")) == 13


@pytest.mark.parametrize(
    "joined",
    [
        "helseindustriens eksportmuligheter",
        "universiteter, TTO-er",
        "bærekraftpioner",
        "Prosjektgruppen har plukket",
        "hovedfunnene som fremkom",
        "«etterlatte inntrykk»",
    ],
)
def test_line_end_hyphenation_is_joined(report, joined):
    assert joined in report.text


@pytest.mark.parametrize(
    "kept",
    ["FoU-investeringene", "IKT/e-helse", "Helse-IKT", "TTO-er", "medtech-produkter", "og -volum"],
)
def test_real_hyphens_are_kept(report, kept):
    assert kept in report.text


def test_no_hyphenated_fragments_left(report):
    for broken in ("helse- industriens", "helse-industriens", "universi- teter", "Pros- jekt"):
        assert broken not in report.text


def test_parsed_text_keeps_the_wording(report, article):
    # Only joins and whitespace differ from the source: every paragraph is found verbatim
    # in the de-hyphenated, whitespace-collapsed raw text.
    for doc, path in ((report, REPORT), (article, ARTICLE)):
        raw = dehyphenated_raw(path.read_text(encoding="utf-8"))
        for para in doc.text.split("\n\n"):
            if para in {h.title for h in doc.headings}:
                continue
            assert collapse(para) in raw, para[:80]


def test_web_article_has_no_pages(article):
    assert article.pages == ()
    assert article.page_at(10) is None


def test_article_chrome_is_dropped(article):
    assert "Skip to main content" not in article.text
    assert "Share this article" not in article.text
    assert "NHT Logo" not in article.text
    assert "News article" not in article.text
    assert "370 members" in article.text
    assert [h.title for h in article.headings][:2] == [
        "Health clusters join forces",
        "A Stronger Role to Drive Change",
    ]


def test_detached_figure_labels_keep_their_lines(report):
    assert "Legemidler: 26 mrd\nDiagnostikk: 15 mrd" in report.text


def test_join_lines_rules():
    assert join_lines(["a long line of wrapped prose that goes on and on helse-", "industri"]) == (
        "a long line of wrapped prose that goes on and on helseindustri"
    )
    assert join_lines(["De samlede FoU-", "investeringene"]) == "De samlede FoU-investeringene"
    assert join_lines(["Label one", "Label two"]) == "Label one\nLabel two"
    assert join_lines(["primær-, spesialist- ", "og velferdstjenester"]) == (
        "primær-, spesialist- og velferdstjenester"
    )
    # a line that ends in a free-standing dash goes on in the next (a chart's caption)
    assert join_lines(["Helseindustrien – ", "fordeling eksport 2017"]) == (
        "Helseindustrien – fordeling eksport 2017"
    )


def test_layout_detection():
    assert looks_like_pdf_text(REPORT.read_text(encoding="utf-8"))
    assert not looks_like_pdf_text(ARTICLE.read_text(encoding="utf-8"))


def test_cp1252_and_latin1_text_decode(tmp_path: Path):
    text = "Helseindustrien i Norge vokser. Økt eksport og særlig god vekst på Ås."
    for enc in ("cp1252", "latin-1"):
        path = tmp_path / f"notat-{enc}.txt"
        path.write_bytes(text.encode(enc))
        doc = parse_document(path)
        assert "Økt eksport og særlig god vekst på Ås." in doc.text
        assert doc.info.language == "nb"


def test_utf8_bom_is_stripped(tmp_path: Path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffHei og hå, dette er en test på norsk.".encode())
    assert parse_document(path).text.startswith("Hei og hå")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\n  ", "empty"),
        ("binary.txt", b"\x00\x01\x02binary\x00" * 20, "binary"),
        ("data.xyz", b"hello", "unsupported"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", "docx"),
    ],
)
def test_bad_files_raise_a_clear_error(tmp_path: Path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError) as info:
        parse_document(path)
    assert name in str(info.value)
    assert message.lower() in str(info.value).lower()


def test_pdf_pages_and_dehyphenation(tmp_path: Path):
    path = make_pdf(
        tmp_path / "rapport.pdf",
        [
            [
                "1 | Innledning",
                "Dette er en lang linje med tekst om norsk helse-",
                "industri og eksport i mange land.",
            ],
            ["Side to handler om FoU-investeringer og vekst i 2017."],
        ],
    )
    doc = parse_document(path)
    assert [p.number for p in doc.pages] == [1, 2]
    assert "helseindustri og eksport" in doc.text
    assert doc.page_at(doc.text.index("FoU-investeringer")) == 2
    assert doc.headings[0].title == "1 Innledning"


def test_html_headings_and_no_scripts(tmp_path: Path):
    path = tmp_path / "side.html"
    path.write_text(
        "<html><head><script>alert(1)</script><style>p{}</style></head><body>"
        "<nav>Meny</nav><h1>Klynger slår seg sammen</h1><p>Klyngen får 370 medlemmer.</p>"
        "<h2>Fakta</h2><ul><li>Kontorer i Bergen</li></ul><footer>Share this article</footer>"
        "</body></html>",
        encoding="utf-8",
    )
    doc = parse_document(path)
    assert "alert" not in doc.text and "Meny" not in doc.text
    assert [h.title for h in doc.headings] == ["Klynger slår seg sammen", "Fakta"]
    assert doc.heading_path_at(doc.text.index("Kontorer")) == ("Klynger slår seg sammen", "Fakta")


def test_docx_headings(tmp_path: Path):
    path = make_docx(
        tmp_path / "notat.docx",
        "Oppsummering",
        ["Eksporten vokste med 15 prosent.", "Neste avsnitt."],
    )
    doc = parse_document(path)
    assert doc.headings[0].title == "Oppsummering"
    assert "Eksporten vokste med 15 prosent." in doc.text


def test_markdown_headings(tmp_path: Path):
    path = tmp_path / "notes.md"
    path.write_text("# Title here\n\nSome text about export growth.\n\n## Part two\n\nMore.\n")
    doc = parse_document(path)
    assert [(h.level, h.title) for h in doc.headings] == [(1, "Title here"), (2, "Part two")]


def test_uncataloged_file_gets_title_and_language(tmp_path: Path):
    path = tmp_path / "min_rapport-2024.txt"
    path.write_text("Dette er en rapport om helseindustrien og eksporten fra Norge.")
    doc = parse_document(path)
    assert doc.info.doc_id == "min-rapport-2024"
    assert doc.info.title == "Min rapport 2024"
    assert doc.info.language == "nb"


# -- quotes against the original file (issue 17) -------------------------------------------


def test_the_parsers_joins_are_undone_and_nothing_else():
    from helse_qa.ingest.readers import found_in_source, join_lines

    raw_lines = [
        "Den norske helse-",
        "industrien vokste med  12 prosent i 2017, og samarbeidet om helse-",
        "IKT og FoU-",
        "investeringer økte.",
    ]
    raw = "\n".join(raw_lines)
    parsed = join_lines(raw_lines)
    assert "helseindustrien" in parsed and "helse-IKT" in parsed
    assert "FoU-investeringer" in parsed
    assert found_in_source(parsed, raw)
    assert found_in_source("1 Innledning", "\n1 | Innledning\n")
    # any other change is not in the source: a figure, a letter, a space, a hyphen
    for changed in (
        parsed.replace("12", "13"),
        parsed.replace("vokste", "vokse"),
        parsed.replace("helseindustrien", "helse industrien"),
        parsed.replace("samarbeidet", "samar-beidet"),
    ):
        assert not found_in_source(changed, raw), changed
    assert not found_in_source("", raw) and not found_in_source("   ", raw)


def test_every_sentence_of_the_corpus_is_found_in_its_source_file():
    from helse_qa.ingest.readers import decode_text, found_in_source
    from helse_qa.text.sentences import sentence_spans

    for path in sorted(DOCUMENTS.glob("*.txt")):
        parsed = parse_document(path)
        raw = decode_text(path.read_bytes(), path.name)
        sentences = [parsed.text[a:b] for a, b in sentence_spans(parsed.text)]
        assert len(sentences) > 20
        missing = [s for s in sentences if not found_in_source(s, raw)]
        assert missing == [], (path.name, missing[:3])
