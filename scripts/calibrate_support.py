"""Calibrate the sentence-support thresholds of LLM answer verification.

Positives: each gold evidence sentence (the source sentence that contains an evidence
snippet) against its own passage. Negatives: the same sentence against the best-ranked
passage that does NOT contain it (a hard negative: same topic, other passage). A claim is
"supported" when lexical share >= L or cosine >= C; this prints the accuracy of candidate
(L, C) pairs and the best one.

Usage: .venv/bin/python scripts/calibrate_support.py [eval/gold.jsonl]   (index built first)
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

from helse_qa.assistant import Assistant
from helse_qa.config import Settings
from helse_qa.evaluation.evaluate import collapse, load_gold
from helse_qa.text.sentences import sentence_spans


def main() -> int:
    gold = Path(sys.argv[1] if len(sys.argv) > 1 else "eval/gold.jsonl")
    assistant = Assistant.open(Settings.load())
    retriever = assistant.index.retriever
    analyzer = retriever.lexical.analyzer
    pairs: list[tuple[float, float, bool]] = []
    seen: set[str] = set()
    for item in load_gold(gold):
        for snippet in item.evidence:
            for chunk in retriever.chunks.values():
                if collapse(snippet) not in collapse(chunk.text):
                    continue
                for s, e in sentence_spans(chunk.text, chunk.start):
                    sentence = chunk.text[s - chunk.start : e - chunk.start]
                    if collapse(snippet) in collapse(sentence) and sentence not in seen:
                        seen.add(sentence)
                        hits = assistant.retrieve(sentence, k=6)
                        other = next(h.chunk for h in hits if h.chunk.chunk_id != chunk.chunk_id)
                        vec = assistant.embedder.embed_queries([sentence])[0]
                        pv = retriever.store.chunk_vectors([chunk.chunk_id, other.chunk_id])
                        concepts = analyzer.query_concepts(sentence)
                        for target, label in ((chunk, True), (other, False)):
                            terms = set(analyzer.terms(target.text, ["nb", "en"]))
                            lex = sum(1 for c in concepts if c & terms) / max(1, len(concepts))
                            cos = float(np.dot(vec, pv[target.chunk_id]))
                            pairs.append((lex, cos, label))
    print(f"{len(pairs) // 2} evidence sentences, {len(pairs)} pairs")
    best = None
    print("| lexical >= | cosine >= | accuracy | positives accepted | negatives rejected |")
    print("|---|---|---|---|---|")
    for lex_t, cos_t in itertools.product((0.4, 0.5, 0.6, 0.7, 0.8), (0.84, 0.86, 0.88, 0.9)):
        ok = [(lex >= lex_t or cos >= cos_t) == label for lex, cos, label in pairs]
        pos = [lex >= lex_t or cos >= cos_t for lex, cos, label in pairs if label]
        neg = [not (lex >= lex_t or cos >= cos_t) for lex, cos, label in pairs if not label]
        acc = sum(ok) / len(ok)
        print(
            f"| {lex_t} | {cos_t} | {acc:.3f} | {sum(pos) / len(pos):.3f} | "
            f"{sum(neg) / len(neg):.3f} |"
        )
        if best is None or acc > best[0]:
            best = (acc, lex_t, cos_t)
    assert best is not None
    print(f"\nbest: support_lexical {best[1]}, support_cosine {best[2]} (accuracy {best[0]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
