"""JUnit XML for ``helse-qa eval --junit FILE``, which GitLab, GitHub and Jenkins show natively.

One ``<testsuite>`` per gold file (named after the file), one ``<testcase>`` per item:

- an answerable item **fails** when none of its evidence snippets is in the k passages
  retrieved (its hit@k; k = ``--k``, default 5, so the item-level form of hit@5). The failure
  text holds the question, the expected evidence, what was retrieved at which rank, and the
  answer with its citations;
- an unanswerable item is **skipped**: it has no evidence to retrieve; the skip message says
  whether the assistant abstained (the ``abstention_tnr`` threshold gates that).

Every item's answer line names its outcome (right, wrong, hedged or declined:
``evaluation/outcomes.py``); the suite's properties hold the outcome rates.

A suite ``thresholds`` holds one test case per metric of the ``--check`` table; it fails when
the metric is below its minimum (above its maximum for latency) or was not measured.
Item failures alone do not fail the run: the thresholds decide the exit code.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from helse_qa.evaluation.evaluate import ItemResult, SystemRun, ThresholdResult, collapse

THRESHOLDS_SUITE = "thresholds"
# Characters XML 1.0 cannot hold (PDF text may carry form feeds and other controls).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_PASSAGE_CHARS = 300


def _clean(text: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text)


def _short(text: str, n: int = _PASSAGE_CHARS) -> str:
    flat = collapse(text)
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}"


def item_report(result: ItemResult, k: int) -> str:
    """Question, expected evidence, retrieved passages by rank, and the answer (plain text)."""
    item = result.item
    lines = [f"question: {item.question}"]
    for turn in item.history:
        lines.append(f"  (history, {turn['role']}: {_short(turn['content'], 160)})")
    if item.evidence:
        lines.append("expected evidence (any of):")
        lines += [f'  - "{collapse(e)}"' for e in item.evidence]
    rank = result.hit_rank
    lines.append(
        f"evidence found at rank {rank} of {k}" if rank else f"evidence not in the top {k}"
    )
    answer = result.answer
    if answer is not None:
        lines.append(f"retrieved (top {k}):")
        for i, hit in enumerate(answer.passages[:k], start=1):
            chunk = hit.chunk
            page = f", p. {chunk.page}" if chunk.page else ""
            mark = "  <- evidence" if i == rank else ""
            lines.append(f"  {i}. [{chunk.doc_id}{page}] {_short(chunk.text)}{mark}")
        if not answer.passages:
            lines.append("  (nothing)")
        lines.append(f"answer ({_state(result)}):")
        lines += [f"  {part}" for part in answer.text.splitlines() if part.strip()]
        for c in answer.citations:
            lines.append(f'  [{c.number}] {c.title}: "{_short(c.quote, 200)}"')
    if item.answer_facts:
        facts = "; ".join(f if isinstance(f, str) else " | ".join(f) for f in item.answer_facts)
        lines.append(f"answer facts: {facts} ({'found' if result.facts_ok else 'not all found'})")
    return "\n".join(lines)


def _item_case(result: ItemResult, classname: str, k: int) -> ET.Element:
    item = result.item
    case = ET.Element(
        "testcase",
        name=_clean(f"{item.id}: {_short(item.question, 120)}"),
        classname=_clean(classname),
        time=_seconds(result.latency_ms),
    )
    if not item.answerable:
        abstained = bool(result.answer and result.answer.abstained)
        ET.SubElement(
            case,
            "skipped",
            message=f"unanswerable item: retrieval not scored; the assistant "
            f"{'abstained' if abstained else 'answered'} (gated by abstention_tnr)",
        )
        ET.SubElement(case, "system-out").text = _clean(_answer_line(result))
    elif result.hit_rank is None:
        failure = ET.SubElement(
            case,
            "failure",
            message=_clean(f"evidence not in the top {k} (hit@{k}): {_short(item.question, 160)}"),
            type=f"hit@{k}",
        )
        failure.text = _clean(item_report(result, k))
    else:
        # A passing item says where its evidence was; the full report is for failures.
        found = f"evidence found at rank {result.hit_rank} of {k}"
        ET.SubElement(case, "system-out").text = _clean(f"{found}\n{_answer_line(result)}")
    return case


def _answer_line(result: ItemResult) -> str:
    answer = result.answer
    if answer is None:
        return "answer: (retrieval only)"
    return f"answer ({_state(result)}): {_short(answer.text)}"


def _state(result: ItemResult) -> str:
    """``answered`` or ``abstained``, and the outcome a reader takes away (right, wrong,
    hedged, declined) where the run classified it."""
    answer = result.answer
    state = "abstained" if answer is not None and answer.abstained else "answered"
    return f"{state}, {result.outcome}" if result.outcome else state


def gold_suite(name: str, run: SystemRun, k: int) -> ET.Element:
    """One test case per gold item of ``run`` (see the module docstring for pass/fail)."""
    suite = ET.Element("testsuite", name=_clean(name))
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="system", value=_clean(run.name))
    ET.SubElement(properties, "property", name="k", value=str(k))
    for metric, value in run.summary().items():
        if metric != "items" and not math.isnan(value):
            ET.SubElement(properties, "property", name=metric, value=str(round(value, 4)))
    classname = f"helse-qa.{Path(name).stem}"
    for result in run.results:
        suite.append(_item_case(result, classname, k))
    _count(suite)
    return suite


def thresholds_suite(results: Sequence[ThresholdResult], source: str) -> ET.Element:
    """One test case per threshold; ``source`` names the file and table (in the message)."""
    suite = ET.Element("testsuite", name=THRESHOLDS_SUITE)
    for r in results:
        bound = "<=" if r.maximum else ">="
        case = ET.SubElement(
            suite,
            "testcase",
            name=f"{r.metric} {bound} {r.limit}",
            classname=f"helse-qa.{THRESHOLDS_SUITE}",
            time="0",
        )
        if r.ok:
            ET.SubElement(case, "system-out").text = f"{r.line} ({source})"
        else:
            failure = ET.SubElement(case, "failure", message=r.line, type="threshold")
            failure.text = f"{r.line}\nthreshold from {source}"
    _count(suite)
    return suite


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", "0")
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", f"{sum(float(c.get('time', '0')) for c in cases):.3f}")
    suite.set("timestamp", datetime.now(UTC).replace(microsecond=0).isoformat())


def write_junit(path: Path, suites: Sequence[ET.Element]) -> Path:
    """Write ``<testsuites>`` holding ``suites`` to ``path`` (UTF-8, indented)."""
    root = ET.Element("testsuites", name="helse-qa eval")
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", f"{sum(float(s.get('time', '0')) for s in suites):.3f}")
    root.extend(suites)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
        out.write(b"\n")
    return path
