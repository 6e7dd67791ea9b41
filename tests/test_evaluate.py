"""The evaluation harness: metric definitions, the gold schema, the CLI gate, baselines."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from tests.helpers import ROOT

from helse_qa.errors import HelseQAError
from helse_qa.evaluation.evaluate import (
    check_thresholds,
    evaluate_assistant,
    facts_ok,
    load_gold,
    mode_baseline,
    retrieval_scores,
    write_json,
)

QUICK = ROOT / "eval" / "quickcheck.jsonl"


def test_retrieval_scores_definitions():
    texts = ["nothing here", "the answer is 23,6  milliarder\nkroner", "x", "y", "z"]
    s = retrieval_scores(texts, ["23,6 milliarder kroner", "not present"], 1)
    assert s["hit@1"] == 0.0 and s["hit@3"] == 1.0 and s["hit@5"] == 1.0
    assert s["mrr"] == 0.5
    assert s["evidence_recall@5"] == 0.5
    assert s["ndcg@5"] == pytest.approx(1 / math.log2(3))
    none = retrieval_scores(["a", "b"], ["zzz"], 1)
    assert none["hit@5"] == 0.0 and none["mrr"] == 0.0


def test_facts_are_case_and_space_insensitive_with_alternatives():
    answer = "Diagnostikk:  54%\n[1] and January 1, 2025"
    assert facts_ok(answer, ["diagnostikk: 54%", ["54 prosent", "54%"]])
    assert not facts_ok(answer, ["23,6"])
    assert facts_ok(answer, [])


def test_thresholds_report_each_failure():
    summary = {"hit@5": 0.9, "mrr": 0.7, "latency_ms_p95": 300.0}
    assert check_thresholds(summary, {"hit@5": 0.85, "mrr": 0.6}) == []
    failures = check_thresholds(
        summary, {"hit@5": 0.95, "latency_ms_p95": 200, "abstention_tnr": 0.5}
    )
    assert len(failures) == 3
    assert any("hit@5: 0.900 below the minimum 0.95" in f for f in failures)


def test_gold_schema_errors_name_the_line(tmp_path):
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"id": "a", "question": "q"}\n{"question": "no id"}\n')
    with pytest.raises(HelseQAError, match=":2:"):
        load_gold(bad)
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": "a", "question": "q"}\n{"id": "a", "question": "r"}\n')
    with pytest.raises(HelseQAError, match="twice"):
        load_gold(dup)


def test_shipped_gold_set_is_valid_and_large_enough():
    items = load_gold(ROOT / "eval" / "gold.jsonl")
    assert len(items) >= 80
    assert sum(not i.answerable for i in items) >= 15
    assert sum(bool(i.history) for i in items) >= 8
    out = subprocess.run(
        [sys.executable, "-m", "helse_qa.evaluation.check_gold"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_shipped_answer_shapes_set_is_valid():
    items = load_gold(ROOT / "eval" / "answers.jsonl")
    kinds = [i.question_type for i in items]
    assert kinds.count("list") >= 12 and kinds.count("overview") >= 8
    assert kinds.count("near_miss") >= 15
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "helse_qa.evaluation.check_gold",
            "--gold",
            "eval/answers.jsonl",
            "--no-minimums",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_evaluate_assistant_on_the_quick_check(corpus_assistant, tmp_path):
    items = load_gold(QUICK)
    run = evaluate_assistant(corpus_assistant, items, k=5)
    summary = run.summary()
    assert summary["hit@5"] >= 0.9
    assert summary["citation_validity"] == 1.0
    assert summary["latency_ms_p50"] > 0
    out = tmp_path / "eval.json"
    write_json(run, out)
    data = json.loads(out.read_text())
    assert set(data) >= {"summary", "items"}
    for key in (
        "hit@1",
        "hit@3",
        "hit@5",
        "evidence_recall@5",
        "mrr",
        "ndcg@5",
        "answer_fact_recall",
        "citation_validity",
        "citation_support",
        "abstention_tnr",
        "answered_rate",
        "latency_ms_p50",
        "latency_ms_p95",
    ):
        assert key in data["summary"]
    first = data["items"][0]
    assert set(first) >= {"id", "hit_rank", "answer", "abstained", "facts_ok", "citations"}
    bm25 = mode_baseline(corpus_assistant, items, "bm25", 5).summary()
    assert bm25["hit@5"] >= 0.9 and "answer_fact_recall" not in bm25


def test_unanswerable_items_count_for_abstention(corpus_assistant, tmp_path):
    gold = tmp_path / "g.jsonl"
    gold.write_text(
        json.dumps(
            {
                "id": "u1",
                "question": "What is the recipe for chocolate cake?",
                "answerable": False,
                "evidence": [],
                "answer_facts": [],
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "a1",
                "question": "How many members will the merged cluster have?",
                "answerable": True,
                "evidence": ["370 members"],
                "answer_facts": ["370"],
            }
        )
        + "\n"
    )
    summary = evaluate_assistant(corpus_assistant, load_gold(gold)).summary()
    assert summary["abstention_tnr"] == 1.0
    assert summary["answered_rate"] == 1.0 and summary["answer_fact_recall"] == 1.0


def test_every_answer_gets_an_outcome_and_the_rates_add_up(corpus_assistant, tmp_path):
    rows = [
        {
            "id": "right",
            "question": "Hvor mye tjente norsk helseindustri på eksport i 2017?",
            "evidence": ["De samlede eksportinntektene utgjorde 23,6 milliarder kroner"],
            "answer_facts": ["23,6 milliarder kroner"],
        },
        {
            "id": "cake",
            "question": "What is the recipe for chocolate cake?",
            "answerable": False,
        },
        {
            # answerable, but the fact asked for is not what the assistant quotes first
            "id": "wrong",
            "question": "Hvor mye tjente norsk helseindustri på eksport i 2017?",
            "evidence": ["De samlede eksportinntektene utgjorde 23,6 milliarder kroner"],
            "answer_facts": ["a figure no document holds"],
        },
    ]
    gold = tmp_path / "g.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run = evaluate_assistant(corpus_assistant, load_gold(gold))
    outcomes = {r.item.id: r.outcome for r in run.results}
    assert outcomes == {"right": "right", "cake": "declined", "wrong": "wrong"}
    summary = run.summary()
    assert summary["right_rate"] == pytest.approx(1 / 3)
    assert summary["wrong_rate"] == pytest.approx(1 / 3)
    assert summary["declined_rate"] == pytest.approx(1 / 3)
    assert summary["hedged_rate"] == 0.0
    assert summary["given_precision"] == pytest.approx(0.5)
    item = run.results[0].to_dict()
    assert item["outcome"] == "right" and item["kind"] == "fact"


def test_the_gate_fails_when_wrong_rate_rises_above_its_maximum():
    from helse_qa.evaluation.evaluate import threshold_results

    limits = {"wrong_rate": 0.2, "fact:wrong_rate": 0.1, "right_rate": 0.6}
    ok = threshold_results({"wrong_rate": 0.2, "fact:wrong_rate": 0.05, "right_rate": 0.6}, limits)
    assert all(r.ok for r in ok)
    worse = threshold_results(
        {"wrong_rate": 0.25, "fact:wrong_rate": 0.15, "right_rate": 0.6}, limits
    )
    failed = [r.line for r in worse if not r.ok]
    assert failed == [
        "wrong_rate: 0.250 above the maximum 0.2",
        "fact:wrong_rate: 0.150 above the maximum 0.1",
    ]
    assert check_thresholds({"wrong_rate": 0.3, "right_rate": 0.5}, limits)


def _cli(args, settings):
    env = {**os.environ, "HELSE_QA_INDEX_DIR": str(settings.index_dir)}
    return subprocess.run(
        [sys.executable, "-m", "helse_qa", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_cli_gate_fails_below_threshold_and_passes_above(
    corpus_settings, corpus_assistant, tmp_path
):
    strict = tmp_path / "strict.toml"
    strict.write_text('[gold]\n"hit@5" = 1.01\n')
    out = _cli(["eval", "--gold", str(QUICK), "--check", str(strict)], corpus_settings)
    assert out.returncode == 1
    assert "hit@5" in out.stderr and "below the minimum" in out.stderr
    lenient = tmp_path / "ok.toml"
    lenient.write_text('[gold]\n"hit@5" = 0.5\ncitation_validity = 1.0\n')
    out = _cli(
        ["eval", "--gold", str(QUICK), "--check", str(lenient), "--report", str(tmp_path / "rep")],
        corpus_settings,
    )
    assert out.returncode == 0, out.stderr
    assert "quality gate passed" in out.stdout
    assert (tmp_path / "rep" / "latest.md").is_file()
    png = (tmp_path / "rep" / "metrics.png").read_bytes()
    assert png.startswith(b"\x89PNG")


@pytest.mark.slow
def test_llama_index_baseline_runs_offline(corpus_settings, embedder):
    from helse_qa.evaluation.baselines import llama_index_baseline

    run = llama_index_baseline(corpus_settings, embedder, load_gold(QUICK), k=5)
    summary = run.summary()
    assert summary["items"] == 12
    # It really ranks: measured hit@1 0.75 and hit@5 0.917 on these 12 questions; a random
    # order of its ~10 nodes (1,024-token chunks of a 30 kB corpus) gives hit@1 about 0.1.
    assert summary["hit@1"] >= 0.6 and summary["hit@5"] >= 0.8
    assert summary["mrr"] >= 0.6


def test_squad_benchmark_on_a_tiny_file(tmp_path, corpus_settings, embedder):
    from helse_qa.evaluation.baselines import squad_benchmark

    contexts = [
        "Oslo er hovedstaden i Norge. Byen har over 700 000 innbyggere.",
        "Bergen ligger på Vestlandet og er kjent for regn og Bryggen.",
        "Tromsø ligger i Nord-Norge og har en stor universitetscampus.",
    ]
    data = {
        "data": [
            {
                "paragraphs": [
                    {
                        "context": c,
                        "qas": [{"id": i, "question": q, "answers": [{"text": a}]}],
                    }
                ]
            }
            for i, (c, q, a) in enumerate(
                zip(
                    contexts,
                    [
                        "Hvor mange innbyggere har hovedstaden?",
                        "Hvilken by er kjent for Bryggen?",
                        "Hvor ligger Tromsø?",
                    ],
                    ["over 700 000", "Bergen", "Nord-Norge"],
                    strict=True,
                )
            )
        ]
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    settings = corpus_settings.model_copy(update={"index_dir": tmp_path / "idx" / "index"})
    results = squad_benchmark(path, settings, embedder, ks=(1, 2))
    assert results["_corpus"] == {"contexts": 3.0, "questions": 3.0}
    for mode in ("bm25", "dense", "hybrid"):  # three distinct cities: no ranker confuses them
        assert results[mode]["hit@2"] == 1.0, (mode, results[mode])
    assert results["hybrid"]["hit@1"] == 1.0
    answers = results["answers"]
    assert answers["questions"] == 3.0
    # each context is a single short sentence pair: whatever is quoted first comes from it
    assert answers["answer_containment"] >= 2 / 3
    assert answers["first_quote_contains"] <= answers["answer_containment"]
    assert answers["answered_rate"] >= answers["answer_containment"]
    assert 1.0 <= answers["quotes_per_answer"] <= 3.0


def test_quote_support_judges_the_quoted_sentences_not_the_passage(corpus_assistant):
    from helse_qa.evaluation.evaluate import GoldItem, collapse, evaluate_assistant
    from helse_qa.text.sentences import sentence_spans

    question = "Hvor store var eksportinntektene i 2017?"
    answer = corpus_assistant.ask(question)
    cited = answer.citations[0]
    passage = next(h.chunk for h in answer.passages if h.chunk.chunk_id == cited.chunk_id)
    quoted = collapse(" ".join(c.quote for c in answer.citations))
    other = next(
        s
        for a, b in sentence_spans(passage.text)
        if len((s := passage.text[a:b]).split()) > 5 and collapse(s) not in quoted
    )
    items = [
        GoldItem("quoted", question, True, (cited.quote,), ()),
        GoldItem("same-passage", question, True, (other,), ()),
    ]
    run = evaluate_assistant(corpus_assistant, items, k=5)
    by_id = {r.item.id: r for r in run.results}
    assert by_id["quoted"].supported and by_id["quoted"].quote_supported
    # The right passage, but its quoted sentences do not hold this evidence.
    assert by_id["same-passage"].supported and not by_id["same-passage"].quote_supported
    summary = run.summary()
    assert summary["citation_support"] == 1.0 and summary["quote_support"] == 0.5


def test_citation_validity_checks_quotes_against_the_source_file(tmp_path, embedder):
    import shutil

    from tests.helpers import ARTICLE

    from helse_qa.assistant import Assistant
    from helse_qa.config import Settings
    from helse_qa.evaluation.evaluate import GoldItem, evaluate_assistant

    docs = tmp_path / "documents"
    docs.mkdir()
    source = docs / "article.txt"
    shutil.copy(ARTICLE, source)
    settings = Settings(documents_dir=docs, index_dir=tmp_path / "index")
    assistant = Assistant.open(settings, embedder=embedder, ingest_if_missing=True)
    item = GoldItem("m", "How many members will the merged cluster have?", True, ("370",), ())
    before = evaluate_assistant(assistant, [item]).summary()
    assert before["citation_validity"] == 1.0 and before["answered_rate"] == 1.0
    # The file changes under the index: the quotes (from the indexed text) are no longer in
    # the original, which the metric now sees (it used to compare the text with itself).
    source.write_text(source.read_text(encoding="utf-8").replace("370", "371"), encoding="utf-8")
    after = evaluate_assistant(assistant, [item]).summary()
    assert after["citation_validity"] < 1.0


def test_squad_outcomes_writes_each_design_and_the_risk_coverage_plot(tmp_path):
    from helse_qa.evaluation import squad_outcomes

    contexts = [
        (
            "Bergen er kjent for Bryggen, en rekke gamle trehus ved havnen.",
            "Hva er Bergen kjent for?",
            "Bryggen",
        ),
        (
            "Tromsø ligger i Nord-Norge og har et kjent universitet.",
            "Hvor ligger Tromsø?",
            "Nord-Norge",
        ),
    ]
    data = {
        "data": [
            {
                "title": f"t{i}",
                "paragraphs": [
                    {
                        "context": c,
                        "qas": [{"id": f"q{i}", "question": q, "answers": [{"text": a}]}],
                    }
                ],
            }
            for i, (c, q, a) in enumerate(contexts)
        ]
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    out = tmp_path / "out"
    assert (
        squad_outcomes.main(
            [
                "--squad",
                str(path),
                "--out",
                str(out),
                "--index",
                str(tmp_path / "idx"),
                "--name",
                "tiny",
            ]
        )
        == 0
    )
    for design in squad_outcomes.DESIGNS:
        written = json.loads((out / f"tiny-{design}.json").read_text(encoding="utf-8"))
        outcomes = [it["outcome"] for it in written["items"]]
        assert len(outcomes) == 2 and set(outcomes) <= {"right", "wrong", "hedged", "declined"}
        rates = written["summary"]
        assert (
            abs(sum(rates[f"{o}_rate"] for o in ("right", "wrong", "hedged", "declined")) - 1)
            < 1e-6
        )
    assert (out / "risk-coverage-tiny.png").stat().st_size > 0
    curves = json.loads((out / "risk-coverage-tiny.json").read_text(encoding="utf-8"))["curves"]
    assert set(curves) == set(squad_outcomes.DESIGNS)


def test_a_squad_answer_is_right_only_when_given_with_the_answer_in_its_first_quote():
    from types import SimpleNamespace

    from helse_qa.evaluation.squad_outcomes import outcome

    def answer(kind, quotes):
        citations = tuple(SimpleNamespace(quote=q) for q in quotes)
        return SimpleNamespace(kind=kind, abstained=kind != "fact", citations=citations)

    assert outcome(answer("fact", ["Bergen er kjent for Bryggen."]), ["Bryggen"]) == "right"
    assert outcome(answer("fact", ["Tromsø ligger i nord.", "Bryggen"]), ["Bryggen"]) == "wrong"
    assert outcome(answer("unsure", ["Bergen er kjent for Bryggen."]), ["Bryggen"]) == "hedged"
    assert outcome(answer("abstain", []), ["Bryggen"]) == "declined"


def test_sentence_signal_summarises_ranks():
    from helse_qa.evaluation.sentence_signal import summarise

    assert summarise([1, 3, None, 7]) == {"questions": 4, "hit@1": 0.25, "hit@5": 0.5, "mrr": 0.369}
    assert summarise([]) == {"questions": 0}


def test_the_cross_encoder_rerank_reorders_the_first_ten_by_their_best_sentences(
    corpus_assistant,
):
    from helse_qa.evaluation.sentence_signal import K, reranked

    question = "Hvor store var eksportinntektene til norsk helseindustri i 2017?"
    hits = corpus_assistant.retrieve(question, k=K + 3)
    # the answering passage put last of the first ten: the reader brings it back up
    holder = next(h for h in hits if "23,6 milliarder" in h.chunk.text)
    head = [*[h for h in hits[:K] if h is not holder][: K - 1], holder]
    tail = [h for h in hits if h not in head]
    out = reranked(corpus_assistant, question, head + tail)
    assert sorted(h.chunk.chunk_id for h in out[:K]) == sorted(h.chunk.chunk_id for h in head)
    assert out[K:] == tail  # only the first ten are reordered
    assert out.index(holder) < K - 1
