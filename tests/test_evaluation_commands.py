"""The measurement commands that were scripts/ (make bench, make mutation, make llm-check, the
gold check, the briefing example) are modules run with ``python -m helse_qa.evaluation.NAME``:
each answers ``--help`` with its own name, without running anything."""

import importlib

import pytest

COMMANDS = [
    "bench_core",
    "briefing_example",
    "check_gold",
    "cold_start",
    "llm_check",
    "mutation",
    "risk_coverage",
]


@pytest.mark.parametrize("name", COMMANDS)
def test_command_answers_help(name, capsys):
    module = importlib.import_module(f"helse_qa.evaluation.{name}")
    with pytest.raises(SystemExit) as stopped:
        module.main(["--help"])
    assert stopped.value.code == 0
    assert f"python -m helse_qa.evaluation.{name}" in capsys.readouterr().out
