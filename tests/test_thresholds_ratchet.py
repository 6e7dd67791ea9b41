"""The quality gate's thresholds only go up (maximums, latency and wrong_rate, only down),
unless the same commit explains the change in eval/THRESHOLDS-CHANGES.md. Checks every
commit of the history that changed eval/thresholds.toml, and the uncommitted working tree."""

from __future__ import annotations

import subprocess
import tomllib

import pytest
from tests.helpers import ROOT

from helse_qa.evaluation.metric_names import is_maximum

THRESHOLDS = "eval/thresholds.toml"
CHANGES = "eval/THRESHOLDS-CHANGES.md"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def _at(commit: str | None, path: str) -> str:
    """The file at ``commit`` (None: the working tree); "" where it did not exist."""
    if commit is None:
        file = ROOT / path
        return file.read_text(encoding="utf-8") if file.exists() else ""
    try:
        return _git("show", f"{commit}:{path}")
    except subprocess.CalledProcessError:
        return ""


def loosened(before: str, after: str) -> list[str]:
    """Metrics whose limit got weaker from ``before`` to ``after``: "[table] metric a -> b"."""
    old, new = tomllib.loads(before or ""), tomllib.loads(after or "")
    found = []
    for table, limits in new.items():
        for metric, limit in limits.items():
            prev = old.get(table, {}).get(metric)
            if prev is None:
                continue
            weaker = limit > prev if is_maximum(metric) else limit < prev
            if weaker:
                found.append(f"[{table}] {metric} {prev} -> {limit}")
    for table, limits in old.items():  # a metric dropped from the gate is a loosening too
        for metric in limits:
            if metric not in new.get(table, {}):
                found.append(f"[{table}] {metric} removed")
    return found


def explained(change: str, lines: list[str]) -> bool:
    """A line names the loosened metric ("[gold] mrr 0.75 -> 0.74" -> "mrr")."""
    metric = change.split(" ")[1]
    return any(metric in line for line in lines)


def _added(before: str, after: str) -> list[str]:
    old = set(before.splitlines())
    return [line for line in after.splitlines() if line not in old]


def test_loosened_finds_a_lowered_minimum_a_raised_maximum_and_a_removed_metric():
    before = '[gold]\nmrr = 0.75\nlatency_ms_p95 = 2000\n"hit@1" = 0.6\nwrong_rate = 0.2\n'
    after = "[gold]\nmrr = 0.74\nlatency_ms_p95 = 2500\nwrong_rate = 0.25\n"
    assert loosened(before, after) == [
        "[gold] mrr 0.75 -> 0.74",
        "[gold] latency_ms_p95 2000 -> 2500",
        "[gold] wrong_rate 0.2 -> 0.25",
        "[gold] hit@1 removed",
    ]
    assert loosened(after, before) == []  # raising a minimum, lowering a maximum: fine


def test_every_commit_that_loosened_a_threshold_explained_it():
    commits = _git("log", "--format=%H", "--", THRESHOLDS).split()
    if not commits:
        pytest.fail("no history of eval/thresholds.toml: run the tests in a git checkout")
    history_notes = _at(None, CHANGES)
    unexplained = []
    for commit in commits:
        parents = _git("log", "-1", "--format=%P", commit).split()
        if not parents:
            continue  # the first version: nothing to compare with
        before, after = _at(parents[0], THRESHOLDS), _at(commit, THRESHOLDS)
        added = _added(_at(parents[0], CHANGES), _at(commit, CHANGES))
        # made before the changes file existed: a later line naming the commit will do
        named = [line for line in history_notes.splitlines() if commit[:7] in line]
        for change in loosened(before, after):
            if not explained(change, added + named):
                unexplained.append(f"{commit[:7]}: {change}")
    assert unexplained == [], (
        f"thresholds loosened without a line in eval/THRESHOLDS-CHANGES.md: {unexplained}"
    )


def test_the_working_tree_does_not_loosen_a_threshold_silently():
    added = _added(_at("HEAD", CHANGES), _at(None, CHANGES))
    silent = [
        c
        for c in loosened(_at("HEAD", THRESHOLDS), _at(None, THRESHOLDS))
        if not explained(c, added)
    ]
    assert silent == [], f"add a dated line to {CHANGES} for: {silent}"
