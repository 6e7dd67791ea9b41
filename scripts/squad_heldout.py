"""Write the held-out parts of NorQuAD and XQuAD (never used to train the answer scorers) as
SQuAD-format files, then, unless --no-eval, ask every question through the assistant with
`helse-qa eval --squad` and write eval/results/squad-answers.md.

The split is the one of scripts/answer_model_core.py (eval/results/answer-model.md): NorQuAD
contexts whose hash falls in the test half; XQuAD articles in the test 40%. The XQuAD file
pairs the English questions with the German paragraphs (and the German answer strings): the
cross-lingual case, an English question over a foreign-language document.

    .venv/bin/python scripts/squad_heldout.py            # files + figures
    .venv/bin/python scripts/squad_heldout.py --no-eval  # only the files
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import answer_model_core as core


def norquad_test(bench: Path) -> dict[str, Any]:
    nq = json.loads((bench / "norquad/validation_dataset_flattened.json").read_text("utf-8"))
    data = []
    for entry in nq["data"]:
        paras = [p for p in entry["paragraphs"] if core.stable_unit(p["context"]) >= 0.5]
        if paras:
            data.append({"title": entry.get("title", ""), "paragraphs": paras})
    return {"version": "norquad-validation-heldout", "data": data}


def xquad_en_de_test(bench: Path) -> dict[str, Any]:
    en = json.loads((bench / "xquad/xquad.en.json").read_text("utf-8"))["data"]
    de = json.loads((bench / "xquad/xquad.de.json").read_text("utf-8"))["data"]
    data = []
    for art_en, art_de in zip(en, de, strict=True):
        if core.stable_unit(art_en["title"]) < 0.6:
            continue  # a training article
        paras = []
        for p_en, p_de in zip(art_en["paragraphs"], art_de["paragraphs"], strict=True):
            answers_de = {qa["id"]: qa["answers"] for qa in p_de["qas"]}
            qas = [
                {"id": qa["id"], "question": qa["question"], "answers": answers_de[qa["id"]]}
                for qa in p_en["qas"]
                if qa["id"] in answers_de
            ]
            paras.append({"context": p_de["context"], "qas": qas})
        data.append({"title": art_en["title"], "paragraphs": paras})
    return {"version": "xquad-en-questions-de-contexts-heldout", "data": data}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--benchmarks", type=Path, default=Path("../shared/benchmarks"))
    ap.add_argument("--out", type=Path, default=Path("~/.cache/helse-qa/squad-heldout"))
    ap.add_argument("--results", type=Path, default=Path("eval/results/squad-answers.md"))
    ap.add_argument("--no-eval", action="store_true")
    args = ap.parse_args(argv)
    out = args.out.expanduser()
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "NorQuAD validation, held-out contexts (nb questions, nb contexts)": (
            out / "norquad-heldout.json",
            norquad_test(args.benchmarks),
        ),
        "XQuAD, held-out articles (en questions, de contexts)": (
            out / "xquad-en-de-heldout.json",
            xquad_en_de_test(args.benchmarks),
        ),
    }
    for path, data in files.values():
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {path}")
    if args.no_eval:
        return 0
    parts = [
        "# Answers on the held-out NorQuAD and XQuAD questions",
        "",
        f"Written by `python scripts/{Path(__file__).name}`: every question asked through the "
        "assistant (extractive; default settings but for the answer scorer) over an index "
        "of that file's distinct contexts, each context one document. These questions and "
        "contexts were never used to train the answer scorers "
        "(split: eval/results/answer-model.md).",
    ]
    for name, (path, _) in files.items():
        for scorer in ("heuristic", "learned"):
            run = subprocess.run(
                [sys.executable, "-m", "helse_qa", "eval", "--squad", str(path)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "HELSE_QA_ANSWER_SCORER": scorer},
            )
            # the SQuAD table starts on the line that ends in "distinct contexts;"
            before, marker, after = run.stdout.partition("distinct contexts;")
            squad = before.rsplit("\n", 1)[-1] + marker + after if marker else run.stdout
            title = f"## {name}, answer_scorer = {scorer}"
            parts += ["", title, "", squad.rstrip()]
    args.results.write_text("\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
