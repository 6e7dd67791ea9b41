"""The briefing export (web.briefing): Markdown and .docx from answer dicts, no model needed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from helse_qa.web.briefing import LABELS, to_docx, to_markdown

DOCS = {
    "rep": {"title": "Rapport om helseindustri", "publisher": "Innovasjon Norge", "year": 2018},
    "news": {"title": "Health clusters join forces", "publisher": "Norway Health Tech"},
}
EXPORT = "The export grew by 15 percent in 2017."
MEMBERS = "The merged cluster will have 370 members."


def cite(number: int, quote: str, span: tuple[int, int], doc: str = "rep", **extra: Any) -> dict:
    c = {
        "number": number,
        "chunk_id": f"{doc}:0001",
        "doc_id": doc,
        "title": DOCS[doc]["title"],
        "page": 3,
        "section": "2 Facts",
        "quote": quote,
        "span": list(span),
    }
    return c | extra


def turn(question: str, answer: str, citations: list[dict], **extra: Any) -> dict:
    t = {
        "question": question,
        "answer": answer,
        "abstained": False,
        "language": "en",
        "citations": citations,
        "mode": "extractive",
        "sentences": [],
        "notice": "",
        "kind": "fact",
        "language_note": "",
    }
    return t | extra


def references(md: str) -> list[str]:
    return md.split("\n## ", 1)[1].strip().splitlines()[2:]


def test_briefing_markdown_numbers_references_across_turns():
    """Moved from test_ui.py: numbering runs across turns; LLM-style quotes not in any
    answer stay in their reference."""
    turns = [
        {
            "question": "Q1",
            "answer": "A [1] B [2]",
            "citations": [
                {
                    "number": 1,
                    "doc_id": "d",
                    "title": "T",
                    "page": 3,
                    "section": "S",
                    "quote": "q1",
                },
                {"number": 2, "doc_id": "d", "title": "T", "page": 4, "section": "", "quote": "q2"},
            ],
        },
        {
            "question": "Q2",
            "answer": "C [1]",
            "citations": [
                {
                    "number": 1,
                    "doc_id": "e",
                    "title": "U",
                    "page": None,
                    "section": "",
                    "quote": "q3",
                }
            ],
        },
    ]
    md = to_markdown(
        turns, {"d": {"title": "T", "publisher": "Innovasjon Norge", "year": 2018}}, "nb"
    )
    assert "**Svar:** C [3]" in md
    assert "1. T, Innovasjon Norge, 2018, s. 3, S: «q1»" in md
    assert "3. U: «q3»" in md


def test_same_sentence_cited_in_three_answers_is_one_reference():
    turns = [
        turn("How much did export grow?", f"{EXPORT} [1]", [cite(1, EXPORT, (100, 138))]),
        turn(
            "How many members?",
            f"{MEMBERS} [1] {EXPORT} [2]",
            [cite(1, MEMBERS, (10, 52), "news", page=None), cite(2, EXPORT, (100, 138))],
        ),
        turn("And the export?", f"{EXPORT} [1]", [cite(1, EXPORT, (100, 138))]),
    ]
    md = to_markdown(turns, DOCS, "en")
    refs = references(md)
    assert refs == [
        "1. Rapport om helseindustri, Innovasjon Norge, 2018, p. 3, 2 Facts",
        "2. Health clusters join forces, Norway Health Tech, 2 Facts",
    ]
    assert f"**Answer:** “{MEMBERS}” [2] “{EXPORT}” [1]" in md
    assert md.count(f"**Answer:** “{EXPORT}” [1]") == 2


def test_each_quote_appears_once_for_extractive_answers():
    other = "Both turnover and export grew."
    turns = [
        turn(
            "Export?",
            f"{EXPORT} [1] {other} [2]",
            [cite(1, EXPORT, (100, 138)), cite(2, other, (200, 230), page=4)],
        )
    ]
    md = to_markdown(turns, DOCS, "en")
    assert md.count(EXPORT) == 1 and md.count(other) == 1
    assert f"“{EXPORT}” [1] “{other}” [2]" in md  # quoted once, in the answer
    assert not any("“" in r or "«" in r for r in references(md))
    assert len(references(md)) == 2


def test_two_quoted_sentences_of_one_page_and_section_share_a_reference():
    """Their entries would read the same (the quotes stand in the answer), so one number."""
    other = "Both turnover and export grew."
    turns = [
        turn(
            "Export?",
            f"{EXPORT} [1] {other} [2]",
            [cite(1, EXPORT, (100, 138)), cite(2, other, (200, 230))],
        )
    ]
    md = to_markdown(turns, DOCS, "en")
    assert f"“{EXPORT}” [1] “{other}” [1]" in md
    assert len(references(md)) == 1


def test_llm_paraphrase_keeps_the_quote_and_adjacent_duplicate_markers_merge():
    sentences = [
        {"text": "Export rose by 15 % [1][2].", "supported": True, "reason": "supported by [1]"}
    ]
    turns = [
        turn(
            "Export?",
            "Export rose by 15 % [1][2].",
            [cite(1, EXPORT, (100, 138)), cite(2, EXPORT, (100, 138))],
            mode="llm",
            sentences=sentences,
        )
    ]
    md = to_markdown(turns, DOCS, "nb")
    assert "**Svar:** Export rose by 15 % [1]." in md
    assert references(md) == [
        f"1. Rapport om helseindustri, Innovasjon Norge, 2018, s. 3, 2 Facts: «{EXPORT}»"
    ]


def test_abstention_and_near_miss_are_marked():
    near = f"The documents give the figure for 2017, not 2022: {EXPORT} [1]"
    turns = [
        turn(
            "Export in 2022?",
            near,
            [cite(1, EXPORT, (100, 138))],
            abstained=True,
            kind="near_miss",
        ),
        turn(
            "Chocolate cake?",
            "I could not find this in the documents.",
            [],
            abstained=True,
            kind="abstain",
        ),
    ]
    md = to_markdown(turns, DOCS, "en")
    # the near miss's own line says it once (issue 25: not "Closest match: The documents ...")
    # and only the quote is in quotation marks (issue 38)
    quoted = f"The documents give the figure for 2017, not 2022: “{EXPORT}” [1]"
    assert f"**Answer:** {quoted}" in md and "Closest match" not in md
    assert "**Answer:** *Not answered by the documents.*\n" in md
    assert "I could not find this" not in md  # the mark says it, in the UI language
    assert len(references(md)) == 1  # the near miss's closest quote is still referenced
    nb = to_markdown(turns, DOCS, "nb")
    assert (
        f"**Svar:** The documents give the figure for 2017, not 2022: «{EXPORT}» [1]" in nb
        and "Nærmeste treff" not in nb
    )
    assert "**Svar:** *Ikke besvart av dokumentene.*\n" in nb


@pytest.mark.parametrize(
    "framing",
    [
        "The documents do not say this about Danish. The closest they come:",
        "Dokumentene sier ikke dette om Hvem. Nærmeste treff:",
        "The documents do not give the number of employees. The closest they come:",
        "Dokumentene oppgir tallet for 2017, ikke 2019:",
    ],
)
def test_a_near_miss_is_framed_once(framing):
    answer = f"{framing} {EXPORT} [1]"
    turns = [
        turn("Q?", answer, [cite(1, EXPORT, (100, 138))], abstained=True, kind="near_miss"),
        # a near miss without a line of its own keeps the briefing's mark
        turn(
            "R?", f"{EXPORT} [1]", [cite(1, EXPORT, (100, 138))], abstained=True, kind="near_miss"
        ),
    ]
    md = to_markdown(turns, DOCS, "en")
    assert md.count("closest they come") + md.count("Nærmeste treff") <= 1
    assert md.count("Closest match:") == 1
    assert f"**Answer:** *Not answered by the documents. Closest match:* “{EXPORT}” [1]" in md


def test_the_export_says_when_it_was_made_in_its_text_and_properties(tmp_path):
    import docx

    made = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)
    turns = _mixed_turns()
    md = to_markdown(turns, DOCS, "en", made=made)
    local = made.astimezone().strftime("%Y-%m-%d %H:%M")
    assert md.startswith(f"# Briefing from helse-qa\n\n*Made {local} with helse-qa.*\n")
    assert f"*Laget {local} med helse-qa.*" in to_markdown(turns, DOCS, "nb", made=made)
    document = docx.Document(str(to_docx(turns, DOCS, "nb", tmp_path / "b.docx", made=made)))
    props = document.core_properties
    assert props.title == "Briefing fra helse-qa"
    assert props.author == "helse-qa" and props.last_modified_by == "helse-qa"
    assert props.created == props.modified == made
    assert "python-docx" not in (props.comments + props.author + props.last_modified_by)
    assert document.paragraphs[1].text == f"Laget {local} med helse-qa."
    # without a time given: now, not python-docx's template date (2013)
    now = docx.Document(str(to_docx(turns, DOCS, "en", tmp_path / "now.docx"))).core_properties
    assert abs((now.created - datetime.now(UTC)).total_seconds()) < 120


@pytest.mark.parametrize("with_bad", [False, True])
def test_unsupported_llm_sentences_are_listed_apart(with_bad):
    """Issue 38: the answer holds only sentences that passed the check; the others stand
    apart under "Removed: not supported by the sources (1)", struck through, each with its
    reason in the UI's language and no marker (also when an older export still has the
    sentence in its answer text)."""
    good, bad = "Export rose by 15 percent. [1]", "It doubled in 2019. [1]"
    turns = [
        turn(
            "Export?",
            f"{good} {bad}" if with_bad else good,
            [cite(1, EXPORT, (100, 138))],
            mode="llm",
            sentences=[
                {"text": good, "supported": True, "reason": "supported by [1]"},
                {"text": bad, "supported": False, "reason": "number 2019 not in passage [1]"},
            ],
        )
    ]
    md = to_markdown(turns, DOCS, "en")
    assert f"**Answer:** {good}\n" in md
    assert "*Removed: not supported by the sources (1):*" in md
    assert "- ~~It doubled in 2019.~~ *(the number 2019 is not in the source)*" in md
    assert md.count("doubled") == 1
    nb = to_markdown(turns, DOCS, "nb")
    assert "*Fjernet fordi kildene ikke støtter dem (1):*" in nb
    assert "- ~~It doubled in 2019.~~ *(tallet 2019 står ikke i kilden)*" in nb


NORWEGIAN = re.compile(r"Spørsmål|Svar|Referanser|Ikke|besvart|Nærmeste|støttet|Sitert|kilde|s\. 3")
ENGLISH = re.compile(r"Question|Answer|References|Not answered|Closest|supported|Quoted|p\. 3")


def _mixed_turns() -> list[dict]:
    bad = "It doubled in 2019. [1]"
    return [
        turn("Export?", f"{EXPORT} [1]", [cite(1, EXPORT, (100, 138))], language_note="x"),
        turn(
            "Growth?",
            bad,
            [cite(1, EXPORT, (100, 138))],
            mode="llm",
            sentences=[{"text": bad, "supported": False, "reason": "number"}],
        ),
        turn("Cake?", "x", [], abstained=True, kind="abstain"),
        turn(
            "2022?",
            f"{EXPORT} [1]",
            [cite(1, EXPORT, (1, 9), page=5)],
            abstained=True,
            kind="near_miss",
        ),
    ]


def test_labels_are_in_the_ui_language_only():
    for lang, labels in LABELS.items():
        text = " ".join(labels.values())
        assert not (ENGLISH if lang == "nb" else NORWEGIAN).search(text), lang
    en = to_markdown(_mixed_turns(), DOCS, "en")
    nb = to_markdown(_mixed_turns(), DOCS, "nb")
    assert not NORWEGIAN.search(en), NORWEGIAN.findall(en)
    assert not ENGLISH.search(nb), ENGLISH.findall(nb)
    assert "Quoted from a Norwegian source." in en and "Sitert fra norsk kilde." in nb


def test_a_section_ending_in_a_colon_gives_no_double_colon():
    turns = [
        turn(
            "Challenges?",
            "Paraphrase [1]",
            [cite(1, "In short:", (5, 14), section="4 Findings > 4.2 Challenges:", title="T:")],
        )
    ]
    docs = {"rep": {"title": "Rapport:", "publisher": "Innovasjon Norge:", "year": 2018}}
    for lang in ("nb", "en"):
        md = to_markdown(turns, docs, lang)
        assert "::" not in md
        assert "Rapport, Innovasjon Norge, 2018" in md
        assert "4 Findings > 4.2 Challenges: " in md


def test_docx_round_trip(tmp_path):
    import docx

    turns = _mixed_turns()
    path = to_docx(turns, DOCS, "en", tmp_path / "out" / "briefing.docx")
    assert path == tmp_path / "out" / "briefing.docx" and path.is_file()
    md = to_markdown(turns, DOCS, "en")
    document = docx.Document(str(path))
    paragraphs = [(p.style.name, p.text) for p in document.paragraphs]
    headings = [text for style, text in paragraphs if style.startswith("Heading")]
    assert headings == ["Briefing from helse-qa", "References"]
    texts = [text for _, text in paragraphs]
    assert "Question: Export?" in texts
    assert f"Answer: “{EXPORT}” [1]" in texts
    answer = next(p for p in document.paragraphs if p.text == f"Answer: “{EXPORT}” [1]")
    assert [r.style.name for r in answer.runs if EXPORT in r.text] == ["Quote Char"]
    assert [r.style.name for r in answer.runs if r.text.startswith("Answer")] != ["Quote Char"]
    assert "Answer: Not answered by the documents." in texts
    assert "Removed: not supported by the sources (1):" in texts
    assert "It doubled in 2019. (number)" in texts  # struck through, with its reason
    refs = texts[texts.index("References") + 1 :]
    assert refs == references(md)
    assert len(refs) == 2  # two distinct spans in four turns
    assert not NORWEGIAN.search("\n".join(texts))


def test_no_references_says_so():
    turns = [turn("Cake?", "I could not find this.", [], abstained=True, kind="abstain")]
    md = to_markdown(turns, DOCS, "nb")
    assert md.endswith("Ingen kilder: dokumentene besvarte ikke spørsmålene.\n")


def test_a_chart_row_is_shown_with_its_caption():
    """Issue 37: a chart row answers as "caption · row" in the answer, and a reference whose
    row is not in an answer (an LLM paraphrase) carries the caption before the quote."""
    caption, row = "Helseindustrien – fordeling eksport 2017", "Legemidler: 34%"
    extractive = turn(
        "Pharma's share of exports?",
        f"{caption} · {row} [1]",
        [cite(1, row, (3000, 3015), caption=caption)],
    )
    md = to_markdown([extractive], DOCS, "en")
    assert f"“{caption} · {row}” [1]" in md
    assert references(md) == ["1. Rapport om helseindustri, Innovasjon Norge, 2018, p. 3, 2 Facts"]
    sentences = [{"text": "Pharma had 34 % [1].", "supported": True, "reason": "supported"}]
    llm = turn(
        "Pharma's share of exports?",
        "Pharma had 34 % [1].",
        [cite(1, row, (3000, 3015), caption=caption)],
        mode="llm",
        sentences=sentences,
    )
    md = to_markdown([llm], DOCS, "en")
    assert references(md)[0].endswith(f": “{caption} · {row}”")
