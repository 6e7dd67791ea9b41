#!/usr/bin/env bash
# Issue 15: seconds from `make run` in a fresh clone to the first answer in the web app.
#   scripts/setup_time.sh [pip|uv] [cold]
# Clones this repository's HEAD into a temporary folder, runs `make run PORT=<free>` there
# (set-up, model preparation, ingest, serve) with HELSE_QA_INSTALLER set to the first argument,
# asks one question through gradio_client (from this checkout's .venv) as soon as the app
# answers HTTP, and prints the set-up steps' times and the total. "cold" empties uv's cache
# first (pip's own cache is left alone: pip reads the machine's local wheel folders either
# way). The model cache is shared (HELSE_QA_CACHE_DIR as usual): warm after the first run.
set -euo pipefail
installer=${1:-uv}
cache=${2:-warm}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/helse-qa-setup-XXXX)
run_pid=""
# make run's server is a grandchild: end the whole process group it runs in.
trap '[ -n "$run_pid" ] && kill -- "-$run_pid" 2>/dev/null; rm -rf "$work"' EXIT
git clone --quiet "$here" "$work/repo"
if [ "$cache" = cold ]; then rm -rf "${UV_CACHE_DIR:-$HOME/.cache/uv}"; fi
port=$("$here/.venv/bin/python" -c "from helse_qa.evaluation.measure import free_port; print(free_port())")
started=$(date +%s.%N)
(cd "$work/repo" && HELSE_QA_INSTALLER=$installer exec setsid make run PORT="$port" \
    >"$work/run.log" 2>&1) &
run_pid=$!
"$here/.venv/bin/python" - "$port" "$started" <<'PY'
import sys, time, urllib.request
port, started = int(sys.argv[1]), float(sys.argv[2])
url = f"http://127.0.0.1:{port}/"
while True:
    try:
        urllib.request.urlopen(url, timeout=2)
        break
    except OSError:
        if time.time() - started > 1800:
            sys.exit("no app after 30 minutes")
        time.sleep(0.5)
from gradio_client import Client
client = Client(url, verbose=False)
result = client.predict("Hvor store var eksportinntektene i 2017?", [], [], 5, "Norsk", api_name="/respond")
answered = time.time() - started
assert "23,6" in str(result), result
print(f"first answer {answered:.0f} s after make run")
PY
grep "^setup:" "$work/run.log" || true
