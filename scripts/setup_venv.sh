#!/usr/bin/env bash
# The virtualenv behind `make setup` / `make run` / `make test`:
#   scripts/setup_venv.sh PYTHON VENV
# torch==2.13.0 first (an unpinned torch pulls several GB of CUDA wheels), then the package
# with its dev tools. The installer is uv (from PyPI, installed into the venv), which resolves
# and installs several times faster than pip; pip is the fallback when uv cannot be installed,
# and HELSE_QA_INSTALLER=pip chooses it. pip's find-links (PIP_FIND_LINKS, e.g. a local wheel
# of a CPU torch) are passed on to uv. Prints how long each step took.
# Everything is installed with compiled bytecode (uv --compile-bytecode; pip compiles by
# default), the editable project's src/ too: a venv without .pyc files compiles ~800
# modules on every `helse-qa ask` where .pyc files cannot be written (read-only installs,
# PYTHONDONTWRITEBYTECODE=1), seconds before the first answer (issue 35).
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
bin=$venv/bin
started=$SECONDS
step() { echo "setup: $1 ($((SECONDS - started)) s)"; }

"$python" -m venv "$venv"
installer=${HELSE_QA_INSTALLER:-uv}
if [ "$installer" = uv ] && "$bin/python" -m pip install --quiet uv; then
    # uv hard-links files from its cache (fast: copying instead took 46 s rather than 16 s).
    # NLTK refuses to read a data file with more than one link ("refusing multiply-linked
    # file": llama-index's bundled stopwords in a fresh-clone test run), so NLTK's files are
    # made single-link copies after the install (below).
    export UV_LINK_MODE=hardlink
    links=()
    for link in ${PIP_FIND_LINKS:-}; do links+=(--find-links "$link"); done
    step "uv installed"
    "$bin/uv" pip install --python "$bin/python" --quiet --compile-bytecode "${links[@]}" \
        torch==2.13.0
    step "torch installed"
    "$bin/uv" pip install --python "$bin/python" --quiet --compile-bytecode "${links[@]}" \
        -e '.[dev]'
    find "$venv" -path '*nltk*' -type f -links +1 \
        -exec sh -c 'for f; do cp -p "$f" "$f.copy" && mv -f "$f.copy" "$f"; done' _ {} +
else
    [ "$installer" = uv ] && echo "setup: uv could not be installed - using pip"
    "$bin/python" -m pip install --quiet --upgrade pip
    "$bin/python" -m pip install --quiet torch==2.13.0
    step "torch installed"
    "$bin/python" -m pip install --quiet -e '.[dev]'
fi
# An editable install leaves the project's own modules in src/: compile them as well.
"$bin/python" -m compileall -q -j 0 src
step "helse-qa and its dev tools installed with $installer (bytecode compiled)"
