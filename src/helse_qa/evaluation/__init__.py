"""Measurement, out of the product's path: the gold-set evaluation and gate, baselines,
reports, benchmarks and the reliability harness. Only the CLI imports it; the commands that
``make`` runs besides the CLI are modules run with ``python -m helse_qa.evaluation.NAME``
(bench_core, mutation, llm_check, check_gold, briefing_example)."""
