"""Right, wrong, hedged and declined on a SQuAD-format set, end to end (issue 36).

    python -m helse_qa.evaluation.squad_outcomes [--squad FILE] [--out eval/results]

Every context of the file (by default NorQuAD validation, which no model or threshold of
helse-qa was fitted on) is indexed as one corpus; every question is asked through the
assistant with three designs: the default (the reader's calibrated confidence decides
answer / "not sure" / decline), the default with ``answer_confidence = false`` (the
heuristic decides, the reader orders), and the reader alone (``answer_scorer = reader``).
An answer is ``right`` when it is given as the answer and its first quote holds one of the
question's gold answer strings, ``wrong`` when it is given and does not, ``hedged`` when it
is shown as "not sure", ``declined`` otherwise. Writes ``<name>-<design>.json`` (items with
``outcome``, ``kind`` and ``confidence``, as ``helse-qa eval --json``), and the
risk-coverage plot of the three (:mod:`helse_qa.evaluation.risk_coverage`). The index is
kept under the settings' index folder (``squad-<hash>``) and reused.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from helse_qa import offline
from helse_qa.evaluation.args import module_parser, path_arg
from helse_qa.evaluation.outcomes import rates

log = logging.getLogger(__name__)

DEFAULT_SQUAD = "../shared/benchmarks/norquad/validation_dataset_flattened.json"
DESIGNS: dict[str, dict[str, Any]] = {
    "default": {"answer_confidence": True},
    "confidence-off": {"answer_confidence": False},
    "reader-alone": {"answer_confidence": False, "answer_scorer": "reader"},
}


def outcome(answer: Any, answers: Sequence[str]) -> str:
    """right / wrong / hedged / declined for one answer to an answerable question."""
    from helse_qa.evaluation.baselines import contains

    if answer.kind == "unsure":
        return "hedged"
    if answer.abstained or not answer.citations:
        return "declined"
    return "right" if contains(answer.citations[0].quote, answers) else "wrong"


def main(argv: list[str] | None = None) -> int:
    parser = module_parser("squad_outcomes", __doc__)
    path_arg(parser, "--squad", DEFAULT_SQUAD, "SQuAD-format file (default %(default)s)")
    path_arg(parser, "--out", "eval/results", "output folder (default %(default)s)")
    path_arg(
        parser,
        "--index",
        None,
        "folder the set's index is kept under (default: the settings' index folder)",
    )
    parser.add_argument("--name", default="norquad-validation", help="output file name stem")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    args = parser.parse_args(argv)
    offline.apply()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from helse_qa.assistant import Assistant
    from helse_qa.config import Settings
    from helse_qa.evaluation import risk_coverage
    from helse_qa.evaluation.baselines import squad_index
    from helse_qa.models.embedding import load_embedder

    settings = Settings.load()
    if args.index is not None:
        settings = settings.model_copy(update={"index_dir": args.index})
    embedder = load_embedder(settings)
    squad_settings, _, questions = squad_index(args.squad, settings, embedder)
    asked = [q for q in questions if q.answers][: args.limit or None]
    args.out.mkdir(parents=True, exist_ok=True)
    specs = []
    for design, update in DESIGNS.items():
        assistant = Assistant.open(squad_settings.model_copy(update=update), embedder=embedder)
        items: list[dict[str, Any]] = []
        outcomes: list[str] = []
        started = time.perf_counter()
        try:
            for i, q in enumerate(asked, start=1):
                answer = assistant.ask(q.question)
                outcomes.append(outcome(answer, q.answers))
                items.append(
                    {
                        "id": q.qid,
                        "question": q.question,
                        "kind": answer.kind,
                        "confidence": answer.confidence,
                        "outcome": outcomes[-1],
                        "first_quote": answer.citations[0].quote if answer.citations else None,
                    }
                )
                if i % 100 == 0:
                    log.info("%s: %d of %d questions", design, i, len(asked))
        finally:
            assistant.close()
        summary = {k: round(v, 4) for k, v in rates(outcomes).items()}
        summary["questions"] = len(items)
        summary["seconds"] = round(time.perf_counter() - started, 1)
        path = args.out / f"{args.name}-{design}.json"
        path.write_text(
            json.dumps(
                {
                    "squad": str(args.squad),
                    "design": design,
                    "settings": update,
                    "produced": time.strftime("%Y-%m-%d"),
                    "command": "python -m helse_qa.evaluation.squad_outcomes",
                    "summary": summary,
                    "items": items,
                },
                ensure_ascii=False,
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"{design}: {summary}")
        specs.append(f"{design}={path}")
    return risk_coverage.main(
        [
            *specs,
            "--out",
            str(args.out),
            "--name",
            f"risk-coverage-{args.name}",
            "--title",
            f"Risk against coverage: {args.name}, end to end",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
