"""The quality table in README.md and docs/evaluation.md is the one generated from the committed
eval results (never typed by hand), and the generator says clearly what is missing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from helse_qa.evaluation import quality_table as qt

ROOT = Path(__file__).resolve().parents[1]


def _table_in(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    start, end = text.index(qt.START), text.index(qt.END)
    return text[start + len(qt.START) : end].strip("\n")


@pytest.mark.parametrize("target", qt.TARGETS, ids=str)
def test_the_committed_table_is_the_generated_one(target):
    assert _table_in(ROOT / target) == qt.render(ROOT), (
        f"the quality table in {target} is stale or edited by hand - run "
        "'python -m helse_qa.evaluation.quality_table --write'"
    )
    assert qt.main(["--root", str(ROOT), "--check"]) == 0


def test_the_table_holds_the_measured_figures_unchanged():
    """Each cell is the eval JSON's value, only formatted (3 decimals), for every row."""
    table = qt.render(ROOT)
    rows = table.splitlines()
    for source in qt.SOURCES:
        data = json.loads((ROOT / source.result).read_text(encoding="utf-8"))
        for split in source.splits:
            summary = data["splits"][split]
            name = qt._row_name(source, split)
            line = next(r for r in rows if r.startswith(f"| {name} |"))
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert cells[1] == str(int(summary["items"]))
            for metric, cell in zip(qt.COLUMNS, cells[2:], strict=True):
                value = summary.get(metric)
                assert cell == ("-" if value is None else f"{value:.3f}"), (name, metric)


def _repo_copy(tmp_path: Path) -> Path:
    for source in qt.SOURCES:
        (tmp_path / source.result).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source.result, tmp_path / source.result)
    for target in qt.TARGETS:
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / target).write_text(
            f"# x\n\n{qt.START}\nSTALE TABLE\n{qt.END}\n\nafter\n", "utf-8"
        )
    return tmp_path


def test_check_fails_on_a_stale_table_and_write_fixes_it(tmp_path, capsys):
    root = _repo_copy(tmp_path)
    assert qt.main(["--root", str(root), "--check"]) == 1
    assert "README.md: the quality table is stale" in capsys.readouterr().err
    assert qt.main(["--root", str(root), "--write"]) == 0
    assert qt.main(["--root", str(root), "--check"]) == 0
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# x\n\n") and readme.endswith(f"{qt.END}\n\nafter\n")
    assert "STALE TABLE" not in readme


def test_a_missing_result_file_fails_clearly(tmp_path, capsys):
    root = _repo_copy(tmp_path)
    missing = qt.SOURCES[0].result
    (root / missing).unlink()
    with pytest.raises(
        qt.QualityTableError, match=r"missing eval result \S*" + re.escape(str(missing))
    ) as err:
        qt.render(root)
    assert "make quality" in str(err.value)
    assert qt.main(["--root", str(root), "--check"]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("error: missing eval result") and str(missing) in err_text


def test_a_target_without_markers_fails_clearly(tmp_path):
    root = _repo_copy(tmp_path)
    (root / "README.md").write_text("# no table here\n", encoding="utf-8")
    with pytest.raises(qt.QualityTableError, match=re.escape("README.md has no")):
        qt.stale(root)
