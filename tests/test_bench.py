"""``helse-qa bench --ingest-only`` (issue 15): both sentence encodings ingested side by side
in fresh processes, the stages timed, and only bench.md's ingest section replaced."""

from __future__ import annotations

import json
import shutil

import pytest
from tests.helpers import ARTICLE

from helse_qa.config import Settings
from helse_qa.evaluation.bench import run_ingest_bench


@pytest.mark.slow
def test_ingest_bench_compares_both_encodings_and_keeps_the_other_sections(tmp_path, embedder):
    docs = tmp_path / "documents"
    docs.mkdir()
    shutil.copy(ARTICLE, docs / "article.txt")
    out = tmp_path / "results"
    out.mkdir()
    (out / "bench.md").write_text(
        "# helse-qa benchmark\n\nintro\n\n## Ingest (old)\n\n| stale | row |\n\n"
        "## Warm query latency\n\nkept as it was\n",
        encoding="utf-8",
    )
    path = run_ingest_bench(Settings(documents_dir=docs), None, out)
    text = path.read_text(encoding="utf-8")
    assert "stale" not in text and "intro" in text and "kept as it was" in text
    assert text.index("## Ingest") < text.index("## Warm query latency")
    rows = json.loads((out / "bench.json").read_text(encoding="utf-8"))["ingest"]
    assert [r["encoding"] for r in rows] == ["separate", "on-demand"]
    separate, on_demand = rows
    assert separate["chunks"] == on_demand["chunks"] > 0
    assert separate["stages"]["sentence vectors"] > 0
    assert "sentence vectors" not in on_demand["stages"]
    assert on_demand["stages"]["chunk vectors"] > 0 and separate["load_s"] > 0
    assert "| corpus (documents/) | on-demand |" in text
    # The on-demand vectors are the ones a separate ingest stores, sentence for sentence.
    agreement = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert agreement["on_demand_agreement"]["sentences"] > 5
    assert agreement["on_demand_agreement"]["min"] > 0.999
