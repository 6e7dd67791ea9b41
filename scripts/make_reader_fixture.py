"""Write tests/data/reader_heldout.json: questions the shipped reader never trained on (NorQuAD
validation, XQuAD held-out titles English question / German passage), with every sentence
of their passage and which ones hold the answer. Run once; the file is committed.

    .venv/bin/python scripts/make_reader_fixture.py
"""

import json
from pathlib import Path

from helse_qa.training.data import load_splits
from helse_qa.training.loop import CANDIDATES, CHOSEN

splits = load_splits(Path("../shared/benchmarks"), CANDIDATES[CHOSEN].seed)
out = []
for bench, n in (("norquad_validation", 24), ("xquad_heldout_en_de", 12)):
    ds = splits.benchmarks[bench]
    for q in ds.answerable()[::7][:n]:
        p = ds.passages[q.pid]
        out.append(
            {
                "benchmark": bench,
                "question": q.text,
                "sentences": [
                    {"text": s.text, "previous": s.previous, "heading": s.heading}
                    for s in (p.sentence(i) for i in range(len(p.spans)))
                ],
                "answer": sorted(p.overlapping(q.answer_start, q.answer_end)),
            }
        )
Path("tests/data/reader_heldout.json").write_text(
    json.dumps(
        {
            "source": "NorQuAD validation (CC0) and XQuAD (CC BY-SA 4.0), held out from "
            "the reader's training; see eval/results/reader.md",
            "cases": out,
        },
        ensure_ascii=False,
        indent=1,
    ),
    encoding="utf-8",
)
print(len(out), "cases")
