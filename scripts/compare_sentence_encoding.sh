#!/usr/bin/env bash
# Issue 15: the gate's figures with sentence_encoding=separate and =in-context, each from its
# own fresh index built from documents/ (a measurement, not a test; about 6 minutes).
#   scripts/compare_sentence_encoding.sh [OUT_DIR]   (default /tmp/helse-qa-encoding)
set -euo pipefail
out=${1:-/tmp/helse-qa-encoding}
bin=${BIN:-.venv/bin}
mkdir -p "$out"
for enc in separate in-context; do
  export HELSE_QA_INDEX_DIR=$out/index-$enc HELSE_QA_SENTENCE_ENCODING=$enc
  rm -rf "$HELSE_QA_INDEX_DIR"
  echo "== sentence_encoding=$enc"
  "$bin/helse-qa" ingest
  "$bin/helse-qa" eval --gold eval/gold.jsonl --json "$out/gold-$enc.json" || true
  "$bin/helse-qa" eval --gold eval/answers.jsonl --json "$out/answers-$enc.json" || true
done
