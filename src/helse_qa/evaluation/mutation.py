"""Mutation testing of core modules with cosmic-ray (issue 17): ``make mutation``.

    python -m helse_qa.evaluation.mutation [--module storage/writer.py ...]
        [--out eval/results/mutation.md] [--timeout 300]

Run inside the project's git checkout (its HEAD is cloned).

Each module is mutated one change at a time (cosmic-ray's core operators: comparisons,
arithmetic, boolean and unary operators, numbers, break/continue, exceptions...) in a clone
of the committed HEAD (uncommitted changes are not measured), and its focused, fast tests run
against every mutant: a mutant whose tests still pass *survived*. The report lists every
survivor with its line, so each one is either killed by a new test or explained. Not part of
`make test`: one module takes minutes to an hour on 2 cores (``--jobs``: modules at once).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from helse_qa.evaluation.args import module_parser, path_arg

# module under src/helse_qa -> the fast tests that are meant to pin it down
TARGETS: dict[str, list[str]] = {
    "storage/writer.py": ["tests/test_writer.py", "tests/test_manifest.py"],
    "answering/verify.py": ["tests/test_verify.py"],
    "answering/retrieve.py": ["tests/test_retrieve.py"],
}


def _cosmic(venv_bin: Path, *args: str, cwd: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [str(venv_bin / "cosmic-ray"), "--verbosity", "ERROR", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"cosmic-ray {args[0]} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return out.stdout


def _source_line(repo: Path, module_path: str, line: int) -> str:
    lines = (repo / module_path).read_text(encoding="utf-8").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def run_module(
    module: str, tests: list[str], repo: Path, work: Path, timeout: float
) -> dict[str, Any]:
    venv_bin = Path(sys.executable).parent
    name = Path(module).stem
    config = work / f"cr-{name}.toml"
    session = work / f"cr-{name}.sqlite"
    command = f"{sys.executable} -m pytest -x -q -p no:cacheprovider {' '.join(tests)}"
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "src/helse_qa/{module}"\n'
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    started = time.perf_counter()
    _cosmic(venv_bin, "init", str(config), str(session), cwd=repo, env=env)
    _cosmic(venv_bin, "baseline", str(config), cwd=repo, env=env)
    _cosmic(venv_bin, "exec", str(config), str(session), cwd=repo, env=env)
    seconds = time.perf_counter() - started
    outcomes: Counter[str] = Counter()
    survivors = []
    for line in _cosmic(venv_bin, "dump", str(session), cwd=repo, env=env).splitlines():
        item, result = json.loads(line)
        outcome = "pending" if result is None else result["test_outcome"]
        if result is not None and result["worker_outcome"] != "normal":
            outcome = result["worker_outcome"]  # timeout, exception, skipped
        outcomes[outcome] += 1
        if outcome == "survived":
            m = item["mutations"][0]
            row = m["start_pos"][0]
            survivors.append(
                {
                    "line": row,
                    "operator": m["operator_name"].removeprefix("core/"),
                    "occurrence": m["occurrence"],
                    "function": m.get("definition_name") or "",
                    "code": _source_line(repo, m["module_path"], row),
                }
            )
    survivors.sort(key=lambda s: (s["line"], s["operator"]))
    return {
        "module": module,
        "tests": tests,
        "mutants": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "survivors": survivors,
        "seconds": round(seconds, 1),
    }


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(
            f"run this inside the project's git checkout (git {args[0]} failed: {exc})"
        ) from exc
    return out.stdout.strip()


EXPLAINED = "## Survivors explained"


def write_report(results: list[dict[str, Any]], out: Path) -> None:
    """The generated part; a hand-written section from ``EXPLAINED`` on is kept as it was."""
    lines = [
        "# Mutation testing (cosmic-ray)",
        "",
        "Produced by `make mutation` (`python -m helse_qa.evaluation.mutation`): "
        f"{platform.machine()}, {os.cpu_count()} CPUs. One mutant at a time, each module "
        "against its focused tests (listed), in a clone of the commit named; a survivor is a "
        "mutant under which those tests still pass. The part down to the explanations is "
        "regenerated, never edited by hand (`--module M --update` reruns one module and keeps "
        "the others' rows).",
        "",
        "| module | commit | date | tests | mutants | killed | survived | other | minutes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        o = r["outcomes"]
        other = sum(v for k, v in o.items() if k not in ("killed", "survived"))
        lines.append(
            f"| {r['module']} | {r['commit'][:10]} | {r['date']} | "
            f"{', '.join(Path(t).name for t in r['tests'])} | {r['mutants']} | "
            f"{o.get('killed', 0)} | {o.get('survived', 0)} | {other} | {r['seconds'] / 60:.1f} |"
        )
    for r in results:
        lines += ["", f"## Survivors in {r['module']}", ""]
        if not r["survivors"]:
            lines.append("None.")
            continue
        lines += ["| line | function | operator | code |", "|---|---|---|---|"]
        for s in r["survivors"]:
            code = s["code"].replace("|", "\\|")
            lines.append(f"| {s['line']} | {s['function']} | {s['operator']} | `{code}` |")
    old = out.read_text(encoding="utf-8") if out.is_file() else ""
    at = old.find(EXPLAINED)
    kept = old[at:] if at >= 0 else f"{EXPLAINED}\n\n(none written yet)\n"
    out.write_text("\n".join(lines) + "\n\n" + kept, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = module_parser("mutation", __doc__)
    parser.add_argument(
        "--module",
        action="append",
        choices=sorted(TARGETS),
        help="module under src/helse_qa (repeatable; default: all of them)",
    )
    path_arg(
        parser,
        "--out",
        "eval/results/mutation.md",
        "the report (default %(default)s; its .json beside it)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the rows of modules not mutated now (from the report's .json)",
    )
    parser.add_argument(
        "--jobs", type=int, default=2, help="modules mutated at once, each in its own clone"
    )
    args = parser.parse_args(argv)
    if shutil.which("cosmic-ray", path=str(Path(sys.executable).parent)) is None:
        raise SystemExit(
            f"cosmic-ray is not installed in {Path(sys.executable).parent}: "
            "`make mutation` installs it (or: pip install cosmic-ray)"
        )
    modules = args.module or list(TARGETS)
    root = Path(_git("rev-parse", "--show-toplevel"))
    commit = _git("rev-parse", "HEAD")
    with tempfile.TemporaryDirectory(prefix="helse-qa-mutation-") as tmp:
        work = Path(tmp)

        def one(module: str) -> dict[str, Any]:
            # its own clone: cosmic-ray mutates the file in place while the tests run
            repo = work / f"repo-{Path(module).stem}"
            subprocess.run(["git", "clone", "-q", str(root), str(repo)], check=True)
            print(f"mutating {module} ...", flush=True)
            result = run_module(module, TARGETS[module], repo, work, args.timeout)
            print(
                f"  {module}: {result['mutants']} mutants, {result['outcomes']}, "
                f"{result['seconds']:.0f} s",
                flush=True,
            )
            return result

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(one, modules))
    for r in results:
        r["commit"], r["date"] = commit, date.today().isoformat()
    previous = args.out.with_suffix(".json")
    if args.update and previous.is_file():
        done = {r["module"] for r in results}
        results += [
            r for r in json.loads(previous.read_text(encoding="utf-8")) if r["module"] not in done
        ]
    results.sort(key=lambda r: list(TARGETS).index(r["module"]))
    write_report(results, args.out)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
