"""Measurement, out of the product's path: the gold-set evaluation and gate, baselines,
reports, benchmarks and the reliability harness. Only the CLI imports it."""
