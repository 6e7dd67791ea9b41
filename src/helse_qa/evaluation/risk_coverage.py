"""Risk against coverage: how many wrong answers a design gives as it answers more (issue 36).

    python -m helse_qa.evaluation.risk_coverage --out eval/results \\
        default=eval/results/quality-gold.json reader=/tmp/reader-gold.json ...

Each input is a ``helse-qa eval --json`` file (its items carry ``outcome``, ``kind`` and
``confidence``), named ``label=path``. The answers a design gives as answers (right or
wrong) are ordered by their confidence, highest first; answering only those at or above a
threshold gives one point: the share of all the set's questions answered (coverage) and the
share answered wrongly (risk). Lowering the threshold walks the curve to the design's own
operating point (everything it gives). Hedged and declined items are never answered. Writes
``risk-coverage.png`` and ``risk-coverage.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helse_qa.evaluation.args import module_parser


@dataclass(frozen=True)
class Curve:
    label: str
    points: list[tuple[float, float]]  # (coverage, wrong share of all questions)


def curve(label: str, items: Sequence[dict[str, Any]]) -> Curve:
    """The risk-coverage curve of one design's items (see the module docstring)."""
    n = len(items)
    given = [it for it in items if it.get("outcome") in ("right", "wrong")]
    given.sort(key=lambda it: -(it.get("confidence") or 0.0))
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    wrong = 0
    for i, it in enumerate(given, start=1):
        wrong += it["outcome"] == "wrong"
        points.append((i / n, wrong / n))
    return Curve(label, points)


def load(spec: str) -> tuple[str, list[dict[str, Any]]]:
    label, sep, path = spec.partition("=")
    if not sep or not label or not path:
        raise SystemExit(f"error: '{spec}' is not label=path (e.g. default=quality-gold.json)")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    items = data.get("items")
    if not isinstance(items, list) or (items and "outcome" not in items[0]):
        raise SystemExit(
            f"error: {path} has no items with an outcome - write it with a helse-qa eval "
            "--json of this version"
        )
    return label, items


def plot(curves: Sequence[Curve], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for c in curves:
        xs, ys = zip(*c.points, strict=True)
        ax.plot(xs, ys, label=c.label)
        ax.scatter([xs[-1]], [ys[-1]], s=18)
    ax.axhline(0.08, color="#999", linestyle=":", linewidth=1, label="wrong 0.08")
    ax.set_xlabel("answered (share of all questions)")
    ax.set_ylabel("answered wrongly (share of all questions)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(0.1, max(y for c in curves for _, y in c.points) * 1.1))
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = module_parser("risk_coverage", __doc__)
    parser.add_argument("inputs", nargs="+", help="label=path of a helse-qa eval --json file")
    parser.add_argument("--out", type=Path, default=Path("eval/results"))
    parser.add_argument("--title", default="Risk against coverage")
    parser.add_argument("--name", default="risk-coverage", help="output file name stem")
    args = parser.parse_args(argv)
    curves = [curve(label, items) for label, items in map(load, args.inputs)]
    args.out.mkdir(parents=True, exist_ok=True)
    plot(curves, args.out / f"{args.name}.png", args.title)
    (args.out / f"{args.name}.json").write_text(
        json.dumps(
            {
                "inputs": args.inputs,
                "curves": {
                    c.label: [[round(a, 4), round(b, 4)] for a, b in c.points] for c in curves
                },
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    for c in curves:
        coverage, risk = c.points[-1]
        print(f"{c.label}: answers {coverage:.3f} of the questions, wrongly {risk:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
