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
LATENCY_METRICS = ("latency_ms_p50", "latency_ms_p95")
