"""``helse-qa eval --junit``: a failing item and a failing threshold are JUnit failures.

Run as a user runs it in CI (a fresh process) over a copy of a demo document, with the
index kept for that folder in the cache (here a temporary cache holding the real model).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET

from tests.helpers import ARTICLE, ROOT

from helse_qa.cli import main
from helse_qa.evaluation.evaluate import load_gold
from helse_qa.evaluation.workspace import eval_index_dir

ANSWERABLE = {
    "id": "ok-001",
    "question": "How many members will the merged health cluster have?",
    "answerable": True,
    "evidence": ["The newly merged cluster will represent 370 members"],
    "answer_facts": ["370 members"],
}
IMPOSSIBLE = {  # answerable, but its evidence is in no document: retrieval must miss it
    "id": "impossible-001",
    "question": "When will the two health clusters officially become one?",
    "answerable": True,
    "evidence": ["This sentence is written in no document of the corpus"],
    "answer_facts": ["January 1, 2025"],
}
UNANSWERABLE = {
    "id": "none-001",
    "question": "Hvor mange ansatte har klyngen i Tromsø?",
    "answerable": False,
    "type": "near_miss",
}


def _cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name", "").split(":")[0]: c for c in suite.findall("testcase")}


def test_junit_item_and_threshold_failures(tmp_path, model_dir):
    docs = tmp_path / "documents"
    docs.mkdir()
    shutil.copy(ARTICLE, docs / ARTICLE.name)
    gold = tmp_path / "my-gold.jsonl"
    gold.write_text(
        "".join(json.dumps(i) + "\n" for i in (ANSWERABLE, IMPOSSIBLE, UNANSWERABLE)),
        encoding="utf-8",
    )
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text('[gold]\n"hit@5" = 1.01\nmrr = 0.0\n', encoding="utf-8")
    # A cache of this test's own (the real model linked in), so the index kept for the
    # documents folder lands here and not in the user's cache.
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    (cache / "models" / model_dir.name).symlink_to(model_dir, target_is_directory=True)
    repo_current = ROOT / "index" / "CURRENT"
    before = repo_current.stat().st_mtime_ns if repo_current.exists() else None
    out_xml = tmp_path / "out" / "junit.xml"

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "helse_qa",
            "eval",
            "--gold",
            str(gold),
            "--documents",
            str(docs),
            "--junit",
            str(out_xml),
            "--check",
            str(thresholds),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "HELSE_QA_CACHE_DIR": str(cache)},
    )

    # The threshold fails the run; the item failure alone would not.
    assert out.returncode == 1, out.stdout + out.stderr
    assert "quality gate: hit@5" in out.stderr and "Traceback" not in out.stderr
    # The index is the one kept for this documents folder; the project's index is untouched.
    index = eval_index_dir(cache, docs)
    assert (index / "CURRENT").is_file()
    assert before == (repo_current.stat().st_mtime_ns if repo_current.exists() else None)

    root = ET.parse(out_xml).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {str(gold), "thresholds"}

    items = _cases(suites[str(gold)])
    assert set(items) == {"ok-001", "impossible-001", "none-001"}
    assert items["ok-001"].find("failure") is None and items["ok-001"].find("skipped") is None
    failure = items["impossible-001"].find("failure")
    assert failure is not None and failure.text
    assert "hit@5" in failure.get("message", "")
    assert IMPOSSIBLE["question"] in failure.text
    assert IMPOSSIBLE["evidence"][0] in failure.text  # the expected evidence
    assert "retrieved (top 5):" in failure.text and "\n  1. [" in failure.text  # ranks
    assert "answer (" in failure.text
    assert items["none-001"].find("skipped") is not None
    assert suites[str(gold)].get("failures") == "1" and suites[str(gold)].get("tests") == "3"

    checks = _cases(suites["thresholds"])
    hit5 = checks["hit@5 >= 1.01"].find("failure")
    assert hit5 is not None and "hit@5" in hit5.get("message", "")
    assert "below the minimum 1.01" in hit5.get("message", "")
    assert checks["mrr >= 0.0"].find("failure") is None
    assert root.get("failures") == "2"


def test_init_gold_writes_a_template_that_load_gold_reads(tmp_path, capsys):
    gold = tmp_path / "eval" / "gold.jsonl"
    assert main(["eval", "--gold", str(gold), "--init-gold"]) == 0
    items = load_gold(gold)
    assert [i.id for i in items] == ["example-001", "example-002"]
    assert items[0].answerable and items[0].evidence and not items[1].answerable
    lines = gold.read_text(encoding="utf-8").splitlines()
    assert all("_comment" in json.loads(line) for line in lines)  # commented, line by line
    limits = tomllib.loads((gold.parent / "thresholds.toml").read_text(encoding="utf-8"))
    assert limits["gold"]["hit@5"] > 0
    assert "wrote" in capsys.readouterr().out

    # Never overwrites: the error says what to do.
    assert main(["eval", "--gold", str(gold), "--init-gold"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert [i.id for i in load_gold(gold)] == ["example-001", "example-002"]


def test_eval_index_is_per_documents_folder(tmp_path):
    a, b = tmp_path / "a" / "documents", tmp_path / "b" / "documents"
    cache = tmp_path / "cache"
    assert eval_index_dir(cache, a) != eval_index_dir(cache, b)
    assert eval_index_dir(cache, a) == eval_index_dir(cache, a / ".." / "documents")
    assert eval_index_dir(cache, a).parent == cache / "eval-index"
    assert eval_index_dir(cache, a).name.startswith("documents-")


def test_junit_text_is_valid_xml_with_control_characters(tmp_path):
    from helse_qa.evaluation import junit
    from helse_qa.evaluation.evaluate import (
        GoldItem,
        ItemResult,
        SystemRun,
        ThresholdResult,
        retrieval_scores,
    )

    item = GoldItem("x\x0c1", "Form\x0cfeed?", True, ("a\x01b",), ())
    scores = retrieval_scores(["no evidence here"], item.evidence, 1)
    run = SystemRun("test", [ItemResult(item, None, scores)], answers=False)
    suites = [
        junit.gold_suite("gold.jsonl", run, 5),
        junit.thresholds_suite([ThresholdResult("latency_ms_p95", 10, 12.5)], "t.toml [gold]"),
    ]
    root = ET.parse(junit.write_junit(tmp_path / "j.xml", suites)).getroot()
    assert root.get("failures") == "2" and root.get("tests") == "2"
    latency = root.find("testsuite[@name='thresholds']/testcase/failure")
    assert latency is not None and "above the maximum 10" in latency.get("message", "")
