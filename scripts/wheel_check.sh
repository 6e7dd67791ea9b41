#!/usr/bin/env bash
# `make wheel-check`: the package as a user gets it. Builds the wheel, installs it into a
# clean virtualenv (torch==2.13.0 first: an unpinned torch pulls GBs of CUDA wheels), prepares
# the embedding model into an empty cache and answers a question offline over a tiny
# documents folder; the answer must cite a source. Nothing of the repository is on the path:
# the commands run in a temporary folder, so only what the wheel ships is used.
#
# Usage: scripts/wheel_check.sh [PYTHON]   (PYTHON builds the wheel; default .venv/bin/python)
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${1:-.venv/bin/python}"
BASE_PYTHON="${WHEEL_CHECK_PYTHON:-python3}"
started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/helse-qa-wheel-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { echo "wheel-check [$(($(date +%s) - started)) s] $*"; }

step "building the wheel"
"$PYTHON" -m build --wheel --outdir "$work/dist" . >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; echo "wheel-check: the wheel did not build (log above)" >&2; exit 1; }
wheel=$(ls "$work"/dist/helse_qa-*.whl)
step "built $(basename "$wheel")"

step "installing it into a clean virtualenv (torch==2.13.0 first)"
"$BASE_PYTHON" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" torch==2.13.0
"${pip[@]}" "$wheel"

mkdir -p "$work/documents" "$work/run"
cat >"$work/documents/notat.md" <<'EOF'
# Notat om eksport

Eksporten av medisinsk utstyr vokste med 12 prosent i 2023. Veksten kom særlig fra
diagnostikk og digitale helsetjenester.

# Note on staffing

The cluster secretariat employs nine people in Oslo and Bergen.
EOF

# Offline from here on, in a folder without the repository's settings, documents or index.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export HELSE_QA_CACHE_DIR="$work/cache"
cd "$work/run"
step "helse-qa models --prepare (into an empty cache)"
"$work/venv/bin/helse-qa" models --prepare
step "helse-qa ask, offline"
"$work/venv/bin/helse-qa" --documents-dir "$work/documents" --index-dir "$work/index" \
    ask "Hvor mye vokste eksporten av medisinsk utstyr i 2023?" --json >"$work/answer.json"
"$work/venv/bin/python" - "$work/answer.json" <<'EOF'
import json
import sys

answer = json.load(open(sys.argv[1], encoding="utf-8"))
assert not answer["abstained"], f"the installed wheel abstained: {answer['answer']}"
assert "12 prosent" in answer["answer"], f"unexpected answer: {answer['answer']}"
assert answer["citations"], "the answer has no citation"
quote = answer["citations"][0]["quote"]
print(f"answer: {answer['answer']!r}\ncitation [1]: {answer['citations'][0]['title']}: {quote!r}")
EOF
step "the llama-index integration imports from the wheel"
"$work/venv/bin/python" -c "from helse_qa.integrations.llama_index import HelseRetriever"
step "passed: the wheel installs into a clean virtualenv and answers offline with a citation"
