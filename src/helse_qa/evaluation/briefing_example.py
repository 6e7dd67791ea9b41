"""Write an example briefing, as Markdown and as Word, from a fixed conversation.

The conversation is asked of the real assistant over documents/ (the index is built first
if there is none), one question after the other with the earlier turns as its history: the
web UI's four example questions, then a near miss ("Hva var eksportinntektene i 2022?": the
documents give 2017) and an abstention ("What is the recipe for chocolate cake?").

Command (writes eval/results/briefing-example.md and eval/results/briefing-example.docx):

    python -m helse_qa.evaluation.briefing_example

Options: --lang en for English labels, --out for another path (without suffix).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.evaluation.args import module_parser, path_arg
from helse_qa.web.briefing import to_docx, to_markdown
from helse_qa.web.render import EXAMPLES

CONVERSATION = [
    *EXAMPLES,
    "Hva var eksportinntektene i 2022?",  # a near miss
    "What is the recipe for chocolate cake?",  # an abstention
]

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = module_parser("briefing_example", __doc__)
    parser.add_argument(
        "--lang", choices=("nb", "en"), default="nb", help="label language (default: nb)"
    )
    path_arg(
        parser,
        "--out",
        "eval/results/briefing-example",
        "output path without suffix; .md and .docx are written (default: %(default)s)",
    )
    path_arg(parser, "--config", None, "settings file (TOML)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    assistant = Assistant.open(Settings.load(args.config), ingest_if_missing=True)
    try:
        turns: list[dict[str, Any]] = []
        history: list[dict[str, str]] = []
        for question in CONVERSATION:
            answer = assistant.ask(question, history)
            log.info(
                "%s -> %s, %d citation(s)",
                question,
                answer.kind or ("abstained" if answer.abstained else "answered"),
                len(answer.citations),
            )
            turns.append(answer.to_dict())
            history += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer.text},
            ]
        documents = {d["doc_id"]: d for d in assistant.documents()}
    finally:
        assistant.close()

    markdown = args.out.with_suffix(".md")
    markdown.parent.mkdir(parents=True, exist_ok=True)
    markdown.write_text(to_markdown(turns, documents, args.lang), encoding="utf-8")
    docx = to_docx(turns, documents, args.lang, args.out.with_suffix(".docx"))
    print(markdown)
    print(docx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
