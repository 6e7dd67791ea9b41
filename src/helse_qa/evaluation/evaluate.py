"""Evaluation against a gold question file (JSONL), through the same Assistant API as the UI.

Schema of a line (kept exactly, so other gold files work with the same command)::

    {"id": str, "question": str, "history": [{"role", "content"}] (optional),
     "answerable": bool, "evidence": [str], "answer_facts": [str | [str, ...]],
     "type": "fact" | "list" | "overview" | "near_miss" | "off_topic" | "follow_up" (optional)}

Without ``type`` an item with a history is a follow-up, an unanswerable one a near miss and
any other a fact question. JSONL has no comments: keys starting with ``_`` (``"_comment"``)
are ignored, and a line whose keys all start with ``_`` is a comment line (``helse-qa eval
--init-gold`` writes a template that uses both).

A retrieved passage is relevant when its text, whitespace collapsed, contains an evidence
snippet (collapsed the same way). An answer fact must appear in the answer text,
case-insensitively after collapsing whitespace; a list entry is satisfied by any of its
alternatives.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helse_qa.assistant import Assistant
from helse_qa.errors import HelseQAError
from helse_qa.evaluation.measure import nearest_rank
from helse_qa.evaluation.metric_names import RETRIEVAL_METRICS, is_maximum
from helse_qa.evaluation.outcomes import classify, rates
from helse_qa.ingest.readers import decode_text, found_in_source
from helse_qa.text.language import detect_language
from helse_qa.types import Answer, Hit
from helse_qa.types import RetrievalMode as Mode

MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
_WS = re.compile(r"\s+")

QUESTION_TYPES = ("fact", "list", "overview", "near_miss", "off_topic", "follow_up")


def collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answerable: bool
    evidence: tuple[str, ...]
    answer_facts: tuple[str | tuple[str, ...], ...]
    history: tuple[dict[str, str], ...] = ()
    kind: str = ""  # the gold file's "type"; see :attr:`question_type`

    @property
    def question_type(self) -> str:
        if self.kind:
            return self.kind
        if self.history:
            return "follow_up"
        return "fact" if self.answerable else "near_miss"

    @property
    def language(self) -> str:
        return detect_language(self.question, default="en")


def load_gold(path: Path) -> list[GoldItem]:
    """Read and validate a gold file; errors name the line."""
    if not path.is_file():
        raise HelseQAError(f"gold file {path} not found - pass --gold FILE")
    items: list[GoldItem] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if isinstance(raw, dict) and raw and all(str(k).startswith("_") for k in raw):
                continue  # a comment line
            item = GoldItem(
                id=str(raw["id"]),
                question=str(raw["question"]),
                answerable=bool(raw.get("answerable", True)),
                evidence=tuple(str(e) for e in raw.get("evidence", [])),
                answer_facts=tuple(
                    f if isinstance(f, str) else tuple(str(x) for x in f)
                    for f in raw.get("answer_facts", [])
                ),
                history=tuple(
                    {"role": str(t["role"]), "content": str(t["content"])}
                    for t in raw.get("history", [])
                ),
                kind=str(raw.get("type", "")),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise HelseQAError(f"{path}:{n}: not a valid gold item ({exc})") from exc
        if item.kind and item.kind not in QUESTION_TYPES:
            raise HelseQAError(
                f"{path}:{n}: unknown type '{item.kind}' - use one of {', '.join(QUESTION_TYPES)}"
            )
        if item.id in seen:
            raise HelseQAError(f"{path}:{n}: id '{item.id}' is used twice")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise HelseQAError(f"{path} holds no questions")
    return items


def relevant(text: str, snippets: Sequence[str]) -> bool:
    flat = collapse(text)
    return any(collapse(s) in flat for s in snippets if s.strip())


def evidence_rank(hits: Sequence[Hit], snippets: Sequence[str]) -> int | None:
    """1-based rank of the first passage containing an evidence snippet."""
    for i, hit in enumerate(hits, start=1):
        if relevant(hit.chunk.text, snippets):
            return i
    return None


def _found(answer_text: str, facts: Sequence[str | Sequence[str]]) -> list[bool]:
    """Per fact: whether the answer holds it (a list of options: any one of them)."""
    text = collapse(answer_text).lower()
    return [
        any(collapse(o).lower() in text for o in ([fact] if isinstance(fact, str) else fact))
        for fact in facts
    ]


def facts_ok(answer_text: str, facts: Sequence[str | Sequence[str]]) -> bool:
    return all(_found(answer_text, facts))


def fact_share(answer_text: str, facts: Sequence[str | Sequence[str]]) -> float:
    """The share of ``facts`` the answer holds: a list's item recall, an overview's point
    coverage (``facts_ok`` asks for all of them)."""
    found = _found(answer_text, facts)
    return sum(found) / len(found) if found else 0.0


def precise_quotes(quotes: Sequence[str], item: GoldItem) -> int:
    """How many quoted sentences hold an evidence snippet or an answer fact of ``item``."""
    options = [o for f in item.answer_facts for o in ([f] if isinstance(f, str) else f)]
    wanted = [collapse(o).lower() for o in [*item.evidence, *options] if o.strip()]
    return sum(1 for q in quotes if any(w in collapse(q).lower() for w in wanted))


def retrieval_scores(
    texts: Sequence[str], snippets: Sequence[str], n_relevant_in_corpus: int
) -> dict[str, float]:
    """hit@k, evidence recall, reciprocal rank and nDCG@5 for one ranked list of passages."""
    flags = [relevant(t, snippets) for t in texts]
    rank = next((i + 1 for i, f in enumerate(flags) if f), None)
    wanted = [collapse(s) for s in snippets if s.strip()]
    top5 = [collapse(t) for t in texts[:5]]
    found = sum(1 for s in wanted if any(s in t for t in top5))
    dcg = sum(1 / math.log2(i + 2) for i, f in enumerate(flags[:5]) if f)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(5, max(1, n_relevant_in_corpus))))
    return {
        "hit@1": float(rank is not None and rank <= 1),
        "hit@3": float(rank is not None and rank <= 3),
        "hit@5": float(rank is not None and rank <= 5),
        "evidence_recall@5": found / len(wanted) if wanted else 0.0,
        "mrr": 1 / rank if rank else 0.0,
        "ndcg@5": dcg / ideal if ideal else 0.0,
    }


@dataclass
class ItemResult:
    item: GoldItem
    hit_rank: int | None
    retrieval: dict[str, float]
    answer: Answer | None = None
    facts_ok: bool = False
    fact_share: float = 0.0  # the share of the answer facts the answer holds
    first_quote_ok: bool = False  # the first quote alone holds every answer fact
    precise_quotes: int = 0  # quoted sentences holding an evidence snippet or an answer fact
    valid_citations: int = 0
    supported: bool = False  # a cited passage holds an evidence snippet
    quote_supported: bool = False  # the quoted sentences themselves hold one
    latency_ms: float = 0.0
    outcome: str = ""  # right | wrong | hedged | declined (evaluation/outcomes.py)

    def to_dict(self) -> dict[str, Any]:
        answer = self.answer
        return {
            "id": self.item.id,
            "question": self.item.question,
            "language": self.item.language,
            "type": self.item.question_type,
            "answerable": self.item.answerable,
            "hit_rank": self.hit_rank,
            "answer": answer.text if answer else None,
            "abstained": answer.abstained if answer else None,
            "kind": answer.kind if answer else None,
            "confidence": answer.confidence if answer else None,
            "outcome": self.outcome or None,
            "facts_ok": self.facts_ok,
            "fact_share": round(self.fact_share, 4),
            "first_quote_ok": self.first_quote_ok,
            "citations": [c.to_dict() for c in answer.citations] if answer else [],
            "latency_ms": round(self.latency_ms, 2),
            "mode": answer.mode if answer else None,
            "notice": answer.notice if answer else "",
        }


@dataclass
class SystemRun:
    """Results of one system (the assistant, or a baseline) over a gold set."""

    name: str
    results: list[ItemResult] = field(default_factory=list)
    answers: bool = True

    def summary(self, subset: Callable[[ItemResult], bool] = lambda r: True) -> dict[str, float]:
        rows = [r for r in self.results if subset(r)]
        answerable = [r for r in rows if r.item.answerable]
        out: dict[str, float] = {"items": float(len(rows))}
        for metric in RETRIEVAL_METRICS:
            values = [r.retrieval[metric] for r in answerable]
            out[metric] = statistics.fmean(values) if values else math.nan
        if self.answers:
            unanswerable = [r for r in rows if not r.item.answerable]
            answered = [r for r in answerable if r.answer and not r.answer.abstained]
            citations = sum(len(r.answer.citations) for r in rows if r.answer)
            out["answer_fact_recall"] = _share([r.facts_ok for r in answerable])
            out["answer_fact_share"] = (
                statistics.fmean(r.fact_share for r in answerable) if answerable else math.nan
            )
            out["first_quote_fact"] = _share([r.first_quote_ok for r in answerable])
            quoted = sum(len(r.answer.citations) for r in answered if r.answer)
            out["answer_precision"] = (
                sum(r.precise_quotes for r in answered) / quoted if quoted else math.nan
            )
            out["citation_validity"] = (
                sum(r.valid_citations for r in rows) / citations if citations else 1.0
            )
            out["citation_support"] = _share([r.supported for r in answered])
            out["quote_support"] = _share([r.quote_supported for r in answered])
            out["abstention_tnr"] = _share(
                [bool(r.answer and r.answer.abstained) for r in unanswerable]
            )
            out["answered_rate"] = _share(
                [bool(r.answer and not r.answer.abstained) for r in answerable]
            )
            out.update(rates([r.outcome for r in rows if r.outcome]))
            checks = [c for r in rows if r.answer for c in r.answer.sentences]
            if any(r.answer and r.answer.mode == "llm" for r in rows) or checks:
                out["supported_sentence_share"] = (
                    sum(c.supported for c in checks) / len(checks) if checks else math.nan
                )
                out["llm_fallbacks"] = float(sum(1 for r in rows if r.answer and r.answer.notice))
        latencies = [r.latency_ms for r in rows]
        if latencies:
            out["latency_ms_p50"] = nearest_rank(latencies, 0.5)
            out["latency_ms_p95"] = nearest_rank(latencies, 0.95)
        return out


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else math.nan


def _relevant_in_corpus(assistant: Assistant, snippets: Sequence[str]) -> int:
    return sum(1 for c in assistant.chunks() if relevant(c.text, snippets))


TEXT_SOURCES = (".txt", ".md")


def source_text(assistant: Assistant, doc_id: str) -> str | None:
    """The raw text of a document's source file, for checking quotes against the original
    (None for formats whose text comes from an extractor: PDF, HTML, Word)."""
    entry = assistant.manifest.documents.get(doc_id)
    if entry is None:
        return None
    path = assistant.settings.documents_dir / entry.file
    if path.suffix.lower() not in TEXT_SOURCES or not path.is_file():
        return None
    return decode_text(path.read_bytes(), path.name)


def evaluate_assistant(
    assistant: Assistant, items: Sequence[GoldItem], k: int = 5, name: str = "helse-qa hybrid"
) -> SystemRun:
    """Ask every item (history included) through ``Assistant.ask`` and score it."""
    run = SystemRun(name)
    texts: dict[str, str] = {}
    sources: dict[str, str | None] = {}
    for item in items:
        started = time.perf_counter()
        answer = assistant.ask(item.question, item.history, k=k)
        latency = (time.perf_counter() - started) * 1000
        # Retrieval is scored on the k retrieved passages; a list's or an overview's answer
        # may append the further passages it cites.
        retrieved = answer.passages[:k]
        passages = [h.chunk.text for h in retrieved]
        n_rel = _relevant_in_corpus(assistant, item.evidence) if item.answerable else 0
        valid = 0
        for c in answer.citations:
            if c.doc_id not in texts:
                texts[c.doc_id] = assistant.document_text(c.doc_id)
                sources[c.doc_id] = source_text(assistant, c.doc_id)
            source = sources[c.doc_id]
            valid += texts[c.doc_id][c.start : c.end] == c.quote and (
                source is None or found_in_source(c.quote, source)
            )
        cited = {c.chunk_id for c in answer.citations}
        supported = any(
            relevant(h.chunk.text, item.evidence)
            for h in answer.passages
            if h.chunk.chunk_id in cited
        )
        run.results.append(
            ItemResult(
                item=item,
                hit_rank=evidence_rank(retrieved, item.evidence) if item.answerable else None,
                retrieval=retrieval_scores(passages, item.evidence, n_rel),
                answer=answer,
                facts_ok=item.answerable and facts_ok(answer.text, item.answer_facts),
                fact_share=fact_share(answer.text, item.answer_facts) if item.answerable else 0.0,
                first_quote_ok=item.answerable
                and not answer.abstained
                and bool(answer.citations)
                and facts_ok(answer.citations[0].quote, item.answer_facts),
                precise_quotes=precise_quotes([c.quote for c in answer.citations], item)
                if item.answerable
                else 0,
                valid_citations=valid,
                supported=supported,
                quote_supported=relevant(
                    " ".join(c.quote for c in answer.citations), item.evidence
                ),
                latency_ms=latency,
                outcome=outcome_of(item, answer),
            )
        )
    return run


def outcome_of(item: GoldItem, answer: Answer) -> str:
    """right, wrong, hedged or declined: what a reader of the chat takes away."""
    return classify(
        answerable=item.answerable,
        question_type=item.question_type,
        kind=answer.kind,
        abstained=answer.abstained,
        first_quote=answer.citations[0].quote if answer.citations else None,
        answer_text=answer.text,
        found=lambda text: _found(text, item.answer_facts or (item.evidence,)),
    )


def evaluate_retrieval(
    name: str,
    items: Sequence[GoldItem],
    search: Callable[[GoldItem], list[str]],
    n_relevant: Callable[[GoldItem], int],
) -> SystemRun:
    """Score a retrieval-only system given as ``search(item) -> passage texts``."""
    run = SystemRun(name, answers=False)
    for item in items:
        if not item.answerable:
            continue
        started = time.perf_counter()
        texts = search(item)
        latency = (time.perf_counter() - started) * 1000
        flags = [relevant(t, item.evidence) for t in texts]
        rank = next((i + 1 for i, f in enumerate(flags) if f), None)
        run.results.append(
            ItemResult(
                item=item,
                hit_rank=rank,
                retrieval=retrieval_scores(texts, item.evidence, n_relevant(item)),
                latency_ms=latency,
            )
        )
    return run


def mode_baseline(assistant: Assistant, items: Sequence[GoldItem], mode: Mode, k: int) -> SystemRun:
    """BM25-only or dense-only retrieval through the same index."""
    return evaluate_retrieval(
        f"{'BM25' if mode == 'bm25' else 'dense'} only",
        items,
        lambda it: [
            h.chunk.text for h in assistant.retrieve(it.question, it.history, k=k, retrieval=mode)
        ],
        lambda it: _relevant_in_corpus(assistant, it.evidence),
    )


def splits(run: SystemRun) -> dict[str, dict[str, float]]:
    """Summary overall, by question language and by answerable/unanswerable."""
    return {
        "all": run.summary(),
        "nb": run.summary(lambda r: r.item.language == "nb"),
        "en": run.summary(lambda r: r.item.language == "en"),
        "answerable": run.summary(lambda r: r.item.answerable),
        "unanswerable": run.summary(lambda r: not r.item.answerable),
        **{
            f"type:{kind}": run.summary(_of_type(kind))
            for kind in QUESTION_TYPES
            if any(r.item.question_type == kind for r in run.results)
        },
    }


def gate_values(run: SystemRun) -> dict[str, float]:
    """What a thresholds table can name: every summary metric, and per question type as
    ``"TYPE:metric"`` (``"overview:answer_fact_share"``: an overview's point coverage)."""
    values = dict(run.summary())
    for name, summary in splits(run).items():
        if name.startswith("type:"):
            kind = name.removeprefix("type:")
            values.update({f"{kind}:{metric}": v for metric, v in summary.items()})
    return values


def _of_type(kind: str) -> Callable[[ItemResult], bool]:
    return lambda r: r.item.question_type == kind


def write_json(run: SystemRun, out: Path) -> None:
    """``{"summary": {...}, "items": [...]}`` as the evaluation issue specifies."""
    summary = {k: _clean(v) for k, v in run.summary().items() if k != "items"}
    data = {
        "summary": summary,
        "splits": {name: {k: _clean(v) for k, v in s.items()} for name, s in splits(run).items()},
        "items": [r.to_dict() for r in run.results],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def _clean(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else round(value, 4)


@dataclass(frozen=True)
class ThresholdResult:
    """One metric of a thresholds table against its limit (latency metrics and
    ``wrong_rate``, also per type as ``TYPE:wrong_rate``, are maximums)."""

    metric: str
    limit: float
    value: float | None  # None: not measured in this run

    @property
    def maximum(self) -> bool:
        return is_maximum(self.metric)

    @property
    def ok(self) -> bool:
        if self.value is None:
            return False
        return self.value <= self.limit if self.maximum else self.value >= self.limit

    @property
    def line(self) -> str:
        """``metric: value below the minimum limit`` (``above the maximum``, ``not measured``)."""
        if self.value is None:
            return f"{self.metric}: not measured"
        if self.maximum:
            side = "above" if not self.ok else "within"
            shown = f"{self.value:.1f}" if "latency" in self.metric else f"{self.value:.3f}"
            return f"{self.metric}: {shown} {side} the maximum {self.limit}"
        side = "below" if not self.ok else "at or above"
        return f"{self.metric}: {self.value:.3f} {side} the minimum {self.limit}"


def threshold_results(
    summary: dict[str, float], thresholds: dict[str, float]
) -> list[ThresholdResult]:
    """Every metric of ``thresholds`` with its measured value, in the table's order."""
    results = []
    for metric, limit in thresholds.items():
        value = summary.get(metric)
        measured = value is not None and not math.isnan(value)
        results.append(ThresholdResult(metric, limit, value if measured else None))
    return results


def check_thresholds(summary: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """Metrics below their minimum (latency metrics are maximums), as readable lines."""
    return [r.line for r in threshold_results(summary, thresholds) if not r.ok]


def rank_table(assistant: Assistant, items: Sequence[GoldItem], k: int = 10) -> str:
    """Per question: rank of the right passage under dense, BM25 and hybrid; facts found."""
    lines = [
        "| id | question | dense | BM25 | hybrid | answer has the facts |",
        "|---|---|---|---|---|---|",
    ]
    totals: dict[str, list[int | None]] = {m: [] for m in MODES}
    facts = 0
    for item in items:
        ranks = {}
        for mode in MODES:
            hits = assistant.retrieve(item.question, item.history, k=k, retrieval=mode)
            ranks[mode] = evidence_rank(hits, item.evidence)
            totals[mode].append(ranks[mode])
        ok = facts_ok(assistant.ask(item.question, item.history).text, item.answer_facts)
        facts += ok
        cells = " | ".join(str(ranks[m]) if ranks[m] else f">{k}" for m in MODES)
        lines.append(f"| {item.id} | {item.question} | {cells} | {'yes' if ok else 'no'} |")
    n = len(items)
    for mode in MODES:
        r = totals[mode]
        mrr = sum(1 / x for x in r if x) / n
        lines.append(
            f"\n{mode}: hit@1 {sum(x == 1 for x in r)}/{n}, "
            f"hit@5 {sum(1 for x in r if x and x <= 5)}/{n}, MRR {mrr:.3f}"
        )
    lines.append(f"\nanswers containing the expected facts: {facts}/{n}")
    return "\n".join(lines)
