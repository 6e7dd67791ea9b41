"""The cold-start benchmark (make bench): its figures are medians of fresh `helse-qa ask`
processes, per question and variant, and the report says what it measured. The timings
themselves are never asserted (a benchmark, not a timed test)."""

import json
from pathlib import Path

import pytest
from tests.helpers import ROOT

from helse_qa.evaluation import cold_start
from helse_qa.evaluation.cold_start import Load, Result, Run


def _runs() -> list[Run]:
    walls = {
        ("default", "q1"): [3.0, 2.0, 9.0],
        ("heuristic", "q1"): [1.0, 2.0, 1.5],
        ("default", "q2"): [2.5, 2.5, 2.6],
        ("heuristic", "q2"): [2.0, 2.2, 2.1],
        ("default", "q3"): [4.0, 1.0, 3.5],
        ("heuristic", "q3"): [3.0, 3.0, 3.0],
    }
    return [Run(v, q, w, 100.0) for (v, q), ws in walls.items() for w in ws]


def test_medians_are_per_question_then_over_questions():
    runs = _runs()
    per = cold_start.medians(runs)
    assert per["default"] == {"q1": 3.0, "q2": 2.5, "q3": 3.5}
    assert per["heuristic"] == {"q1": 1.5, "q2": 2.1, "q3": 3.0}
    total = cold_start.summary(runs)
    assert total["default"] == 3.0
    assert total["heuristic"] == 2.1
    assert total["ratio"] == pytest.approx(3.0 / 2.1)


def test_first_questions_reads_the_gold_sets_order():
    got = cold_start.first_questions(ROOT / "eval" / "gold.jsonl", 5)
    rows = [json.loads(x) for x in (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if x]
    assert got == [(str(r["id"]), r["question"]) for r in rows[:5]]


def test_first_questions_of_an_empty_file_is_an_error(tmp_path: Path):
    empty = tmp_path / "gold.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(cold_start.ColdStartError, match="no questions"):
        cold_start.first_questions(empty, 5)


def test_report_states_targets_and_whether_the_machine_was_idle(tmp_path: Path):
    busy = Load(seconds=10.0, cores=2, machine_cpu_s=15.0, ours_cpu_s=5.0)
    assert busy.others_share == pytest.approx(0.5)
    assert busy.idle is False
    questions = [("q1", "Hva er A?"), ("q2", "Hva er B?"), ("q3", "Hva er C?")]
    result = Result(questions, _runs(), busy, {"cpu": "test", "cores": "2"}, "helse-qa ask")
    md = cold_start.write_report(result, tmp_path).read_text(encoding="utf-8")
    assert "| **median over questions** | **3.00** | **2.10** | **1.43** |" in md
    assert "q1: Hva er A?" in md
    assert "not idle" in md or "busy" in md or "other processes" in md
    data = json.loads((tmp_path / "cold-start.json").read_text(encoding="utf-8"))
    assert data["summary"]["default"] == 3.0
    assert len(data["runs"]) == 18
    assert data["load"]["idle"] is False


def test_a_failing_ask_stops_the_benchmark_with_its_error(tmp_path: Path):
    failing = ["sh", "-c", "echo 'no index here' >&2; exit 3", "ask"]
    with pytest.raises(cold_start.ColdStartError, match="exited 3: no index here"):
        cold_start.time_ask(failing, "Hva?", {})
