"""The metrics that ``helse-qa eval`` reports, by name and in report order: standard
library only, so the quality table reads them without loading the assistant."""

RETRIEVAL_METRICS = ("hit@1", "hit@3", "hit@5", "evidence_recall@5", "mrr", "ndcg@5")
ANSWER_METRICS = (
    "answer_fact_recall",
    "answer_fact_share",
    "answer_precision",
    "citation_validity",
    "citation_support",
    "quote_support",
    "abstention_tnr",
    "answered_rate",
)
# What a reader of the chat takes away (evaluation/outcomes.py): the four outcomes' shares
# over all questions of a set, and the precision of answers given as answers.
OUTCOME_METRICS = ("right_rate", "wrong_rate", "hedged_rate", "declined_rate", "given_precision")
# Gated as maximums (with every latency_* metric): the rest are minimums.
MAXIMUM_METRICS = ("wrong_rate",)
LATENCY_METRICS = ("latency_ms_p50", "latency_ms_p95")


def is_maximum(metric: str) -> bool:
    """Whether a gate threshold is a maximum (latency, wrong_rate; also per type, as
    ``TYPE:wrong_rate``); every other metric's threshold is a minimum."""
    base = metric.rsplit(":", 1)[-1]
    return base.startswith("latency") or base in MAXIMUM_METRICS
