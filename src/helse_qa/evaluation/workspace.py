"""A user's own evaluation: the index kept for a documents folder, and starter files.

``helse-qa eval --documents DIR`` never uses the project's index: unless ``--index`` (or the
global ``--index-dir``) names one, the index lives in the cache, one per documents folder
(:func:`eval_index_dir`), and is brought up to date before the questions are asked.
``helse-qa eval --init-gold`` writes :data:`GOLD_TEMPLATE` and, when missing, a thresholds
file beside it (:func:`write_templates`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from helse_qa.errors import HelseQAError

# JSONL has no comments: keys starting with "_" are ignored by load_gold, and a line whose
# keys all start with "_" is skipped. The two items answer over the repository's demo
# documents, so the template runs as written before it is edited.
_TEMPLATE_LINES: list[dict[str, Any]] = [
    {
        "_comment": "helse-qa gold set: one JSON object per line; keys starting with _ are "
        "comments. Fields: id (unique), question, answerable (false: the documents do not "
        "answer it and the assistant should abstain), evidence (snippets copied verbatim from "
        "your documents; whitespace may differ), answer_facts (strings the answer must "
        "contain; a list inside the list means any one of them), type (fact, list, overview, "
        "near_miss, off_topic or follow_up; optional), history (earlier turns as "
        '{"role": "user" or "assistant", "content": ...} for a follow-up; optional).'
    },
    {
        "_comment": "An answerable item passes when a passage holding one of its evidence "
        "snippets is among the k passages retrieved (its hit@k; k = --k, default 5). Run: "
        "helse-qa eval --gold THIS_FILE --documents YOUR_DOCUMENTS --check thresholds.toml "
        "--junit junit.xml"
    },
    {
        "id": "example-001",
        "_comment": "Replace with a question your documents answer.",
        "question": "How many members will the merged health cluster have?",
        "answerable": True,
        "evidence": ["The newly merged cluster will represent 370 members"],
        "answer_facts": ["370 members"],
        "type": "fact",
    },
    {
        "id": "example-002",
        "_comment": "A question your documents do not answer: retrieval is not scored for it "
        "(its test case is skipped); abstaining is measured by abstention_tnr.",
        "question": "Hvor mange ansatte har klyngen i Tromsø?",
        "answerable": False,
        "evidence": [],
        "answer_facts": [],
        "type": "near_miss",
    },
]
GOLD_TEMPLATE = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in _TEMPLATE_LINES)

THRESHOLDS_TEMPLATE = """\
# Minimums for `helse-qa eval --check thresholds.toml` (the table [gold]; another table with
# --check-table NAME). A metric below its minimum fails the run (exit 1) and its test case
# in the --junit file. Start low: run the eval once, read the measured values it prints,
# then set each minimum slightly below them and raise it as quality improves.
# Metrics: hit@1 hit@3 hit@5 evidence_recall@5 mrr ndcg@5 answer_fact_recall answer_precision
# citation_validity citation_support abstention_tnr answered_rate (0..1, higher is better);
# latency_ms_p50 and latency_ms_p95 are maximums in milliseconds.

[gold]
"hit@5" = 0.8
mrr = 0.5
citation_validity = 1.0
"""


def eval_index_dir(cache_dir: Path, documents: Path) -> Path:
    """The index kept for ``documents``: ``<cache>/eval-index/<folder name>-<path hash>``.

    One per documents folder (by absolute path), so two corpora never share an index and the
    project's own ``index/`` is never written; a CI cache of ``cache_dir`` keeps it between
    runs, and only changed files are embedded again.
    """
    resolved = documents.expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", resolved.name).strip("-") or "documents"
    return cache_dir / "eval-index" / f"{name}-{digest}"


def write_templates(gold: Path) -> list[Path]:
    """Write the gold template at ``gold`` and ``thresholds.toml`` beside it (if missing).

    Never overwrites a gold file: the error names the way out.
    """
    if gold.exists():
        raise HelseQAError(
            f"{gold} already exists - pass --gold with a new file name for the template "
            "(nothing was overwritten)"
        )
    gold.parent.mkdir(parents=True, exist_ok=True)
    gold.write_text(GOLD_TEMPLATE, encoding="utf-8")
    written = [gold]
    thresholds = gold.parent / "thresholds.toml"
    if not thresholds.exists():
        thresholds.write_text(THRESHOLDS_TEMPLATE, encoding="utf-8")
        written.append(thresholds)
    return written
