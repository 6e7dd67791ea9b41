"""The layout's rules, checked: import contracts, no private names across modules, no
environment changes on import, ``python -m helse_qa``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "helse_qa"


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_module_imports_a_private_name_of_another():
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helse_qa"):
                offenders += [
                    f"{path.relative_to(SRC)}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and a.name != "__version__"
                ]
    assert offenders == []


def test_importing_the_package_leaves_the_environment_alone():
    code = (
        "import os; before = dict(os.environ); import helse_qa, helse_qa.assistant, "
        "helse_qa.cli; from helse_qa import Assistant, Settings; "
        "print(sorted(set(os.environ.items()) ^ set(before.items())))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "GRADIO_ANALYTICS_ENABLED")
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_python_dash_m_is_the_command():
    done = subprocess.run(
        [sys.executable, "-m", "helse_qa", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    assert "usage: helse-qa" in done.stdout


# -- the house (issue 35): the decision lives in answering/, the façade stays small -------
ROOT = SRC.parents[1]


def test_the_assistant_is_a_facade_over_one_answer_pipeline():
    source = (SRC / "assistant.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 400
    stages = {"heuristic", "read", "decide", "compose", "generate", "list_answers", "overview"}
    imported = {
        node.module.rsplit(".", 1)[-1]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helse_qa.answering")
    }
    assert imported & stages == set(), "the Assistant calls answering.pipeline, not the stages"
    assert "pipeline" in imported


def test_each_answer_stage_is_a_module_the_pipeline_wires():
    pipeline = (SRC / "answering" / "pipeline.py").read_text(encoding="utf-8")
    for stage in ("question", "retrieve", "read", "decide", "compose", "generate"):
        assert (SRC / "answering" / f"{stage}.py").is_file()
        assert f"helse_qa.answering.{stage} import" in pipeline


def test_the_learned_scorer_is_gone():
    assert not (SRC / "answering" / "scorer.py").exists()
    leftovers = [
        str(path.relative_to(ROOT))
        for path in SRC.rglob("*.py")
        if "AnswerScorer" in path.read_text(encoding="utf-8")
    ]
    assert leftovers == []


def test_readme_and_scripts_stay_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250
    lines = sum(
        len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / "scripts").iterdir()
        if path.is_file()
    )
    assert lines <= 1000
