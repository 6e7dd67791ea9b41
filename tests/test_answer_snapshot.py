"""Every answer on the eval sets (gold, answers, paraphrases, follow-ups), item by item, is
the one in eval/results/answer-snapshot.json: a restructure of the answer path must not
change what users are told. A change meant to move answers rewrites the snapshot
(``python -m helse_qa.evaluation.snapshot --write``) in the same commit, so its diff shows
which answers moved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helse_qa.evaluation.snapshot import DEFAULT_SNAPSHOT, EVAL_SETS, differences, record, take

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_eval_answer_is_the_snapshot_s(corpus_assistant, monkeypatch):
    monkeypatch.chdir(ROOT)
    expected = json.loads((ROOT / DEFAULT_SNAPSHOT).read_text(encoding="utf-8"))
    actual = take(corpus_assistant, EVAL_SETS)
    assert len(actual) == len(expected) > 250
    assert differences(expected, actual) == []


def test_the_snapshot_names_what_moved(corpus_assistant):
    answer = corpus_assistant.ask("Hvor mange ansatte har helseindustrien?")
    seen = {"q": {"question": answer.question, **record(answer)}}
    moved = {"q": {**seen["q"], "text": seen["q"]["text"] + " (changed)"}}
    assert differences(seen, seen) == []
    assert differences(seen, moved) == ["q: text differ"]
    assert differences(seen, {}) == ["q: missing from this run"]
    assert differences({}, seen) == ["q: not in the snapshot"]
