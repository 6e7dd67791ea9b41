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
