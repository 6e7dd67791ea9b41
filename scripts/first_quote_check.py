"""Does the first quote hold the fact? The default (the reader chooses the first quote among
the heuristic's sentences, ``reader_orders = true``) against the heuristic alone, on 25
questions written for this check after the design was chosen (none is in eval/, none was
used to train or tune anything). A question counts when the assistant answers and its first
quote contains the fact verbatim.

    .venv/bin/python scripts/first_quote_check.py [--out eval/results/first-quote-check.md]

Needs the index of documents/ (`helse-qa ingest`).
"""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path

from helse_qa.assistant import Assistant
from helse_qa.config import Settings

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("first_quote_check")

# (question, the fact the first quote must hold verbatim)
QUESTIONS = [
    ("On what date does the merger of the two clusters take effect?", "January 1, 2025"),
    ("Fra når gjelder sammenslåingen av helseklyngene?", "January 1, 2025"),
    ("What was the turnover of the health industry on its own in 2017?", "57 milliarder"),
    ("Hva omsatte helseindustrien alene for i 2017?", "57 milliarder"),
    (
        "What is the overall aim of positioning the Norwegian health industry strategically?",
        "økt verdiskaping",
    ),
    ("Hvor mye investerte industrien i FoU i 2017?", "2,6 milliarder"),
    ("How much did the industry spend on research and development in 2017?", "2,6 milliarder"),
    (
        "What share of Norwegian health-related exports comes from firms that produce in Norway?",
        "96 prosent",
    ),
    ("Hvor stor andel av helseindustribedriftene produserer varer i Norge?", "54 prosent"),
    ("How many members does the merged cluster count?", "370"),
    ("Hvilke byer får kontorer etter sammenslåingen?", "Stavanger"),
    ("Who carried out the interviews for the pre-project?", "ZYNK"),
    ("How big were the R&D investments of the health industry in 2017?", "2,6"),
    ("What was the combined turnover of the private health sector in 2017?", "142"),
    ("Hvor mye vokste omsetningen i helseindustrien i 2017?", "15 prosent"),
    ("Which two ministries show the conflicting incentive schemes most clearly?", "HOD og KD"),
    ("Hvem er CEO i Norwegian Smart Care Cluster?", "Arild Kristensen"),
    ("What is Norway's strongest card in the positioning?", "samfunnsmodellen"),
    ("Siden hvilket år har helseindustrien vokst kraftig?", "2015"),
    ("What were the health industry's export earnings in 2017?", "23,6"),
    ("Hva var samlet omsetning i den private helsenæringen i 2017?", "142"),
    ("When do the two clusters become one organisation?", "January 1, 2025"),
    ("Hvor mye forsket industrien for i 2017?", "2,6"),
    ("How much did the health industry alone sell for in 2017?", "57"),
    ("Hvor mange medlemmer får den nye klyngen?", "370"),
]


def first_quote_holds(assistant: Assistant, question: str, fact: str) -> tuple[bool, str]:
    answer = assistant.ask(question)
    if answer.abstained or not answer.citations:
        return False, "(abstains)"
    quote = answer.citations[0].quote
    return fact in quote, quote


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "eval/results/first-quote-check.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    systems = {
        "reader chooses the first quote (default)": Settings.load(reader_orders=True),
        "heuristic alone (reader_orders = false)": Settings.load(reader_orders=False),
    }
    results: dict[str, list[tuple[bool, str]]] = {}
    for name, settings in systems.items():
        assistant = Assistant.open(settings)
        results[name] = [first_quote_holds(assistant, q, f) for q, f in QUESTIONS]
        log.info("%s: %d of %d", name, sum(ok for ok, _ in results[name]), len(QUESTIONS))
    names = list(systems)
    lines = [
        "# First quote check (25 questions of our own)",
        "",
        f"Written by `scripts/first_quote_check.py` on {date.today().isoformat()}. A question "
        "counts when the assistant answers and its first quote holds the fact verbatim. The "
        "questions were written for this check after the design was chosen; none is in "
        "`eval/` and none trained or tuned anything.",
        "",
        "| system | first quote holds the fact |",
        "|---|---:|",
    ]
    for name in names:
        hits = sum(ok for ok, _ in results[name])
        lines.append(f"| {name} | {hits} / {len(QUESTIONS)} ({hits / len(QUESTIONS):.2f}) |")
    lines += ["", "| question | fact | " + " | ".join(names) + " |", "|---|---|---|---|"]
    for i, (question, fact) in enumerate(QUESTIONS):
        cells = []
        for name in names:
            ok, quote = results[name][i]
            cells.append(("yes" if ok else "no") + ": " + quote[:80].replace("|", "/"))
        lines.append(f"| {question} | {fact} | " + " | ".join(cells) + " |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
