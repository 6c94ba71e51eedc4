# Two commands do all the set-up on a fresh machine: `make run` (chat page) and `make test` (the tests).
# Both create or reuse .venv/, install requirements.txt, convert the bundled model and build the index as needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-$(shell sha256sum requirements.txt | cut -c1-16)
# The Milvus store (docs/milvus.md) in the same .venv: pymilvus, milvus-lite (its gRPC server, for the store tests)
# and the milvus package (a real standalone server; the tests run it in a network namespace of its own).
MILVUS_STAMP := $(VENV)/.milvus-$(shell cat requirements.txt requirements-milvus.txt | sha256sum | cut -c1-16)

.PHONY: run test test-llm llm-setup milvus-setup build eval held-out setup browser-deps bench bench-setup

setup: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# torch first and alone, so no other package can pull a CUDA build of it.
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.requirements-*
	@touch $@

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) app.py

test: $(STAMP) $(MILVUS_STAMP) browser-deps
	$(PY) -m ruff check .
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

milvus-setup: $(MILVUS_STAMP)

$(MILVUS_STAMP): $(STAMP) requirements-milvus.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-milvus.txt
	@rm -f $(VENV)/.milvus-*
	@touch $@

# The generated-answer tests against a real server: llama-cpp-python's, built from its source package into a venv
# of its own (several minutes on two cores, once per requirements-llm.txt), over Gemma 3 270M from PyPI. The build
# targets a generic x86-64 with AVX2: the native build's AVX-512/AMX kernels crash some virtual CPUs that report them.
LLM_VENV ?= .venv-llm
LLM_PY := $(LLM_VENV)/bin/python
LLM_STAMP := $(LLM_VENV)/.requirements-$(shell sha256sum requirements-llm.txt | cut -c1-16)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

llm-setup: $(LLM_STAMP)

$(LLM_STAMP): requirements-llm.txt
	@test -x $(LLM_PY) || $(PYTHON) -m venv $(LLM_VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" nice -n 10 $(LLM_PY) -m pip install --quiet --disable-pip-version-check \
		--no-cache-dir -r requirements-llm.txt
	@rm -f $(LLM_VENV)/.requirements-*
	@touch $@

test-llm: $(STAMP) $(LLM_STAMP)
	HF_HUB_OFFLINE=1 LLAMA_SERVER_PYTHON=$(abspath $(LLM_PY)) $(PY) -m pytest -q -m llm_server tests/test_llm_server.py

# Headless Chromium for the browser tests (Playwright drives Debian's build) and CJK fonts for its screenshots.
browser-deps:
	@command -v chromium >/dev/null 2>&1 && dpkg -s fonts-noto-cjk >/dev/null 2>&1 || { \
		SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		$$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-noto-cjk; }

build: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m rag build

eval: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m rag eval ../shared/eval/gold_public.jsonl -o runs/latest

# Issue 14's figures: every dev set with fits that never saw it, and with fits on all (docs/answers.md, *Figures*).
# float32 indexes and questions, as every shipped fit's command in rag/data was run. The manifest does not record the
# precision: indexes under runs/indexes built by an earlier `make held-out` without it are reused; remove them first.
held-out: $(STAMP)
	RAG_EMBED_PRECISION=float32 HF_HUB_OFFLINE=1 $(PY) -m bench.held_out --dev ../shared/eval/dev --public ../shared/eval/gold_public.jsonl \
		--indexes runs/indexes --out runs/held-out

# Benchmarks (BENCHMARKS.md) in a venv of their own: LangChain is for the comparison only, never in .venv.
BENCH_VENV ?= .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.requirements-$(shell cat requirements.txt requirements-bench.txt | sha256sum | cut -c1-16)

bench-setup: $(BENCH_STAMP)

$(BENCH_STAMP): requirements.txt requirements-bench.txt
	@test -x $(BENCH_PY) || $(PYTHON) -m venv $(BENCH_VENV)
	@# torch first and alone, so no other package can pull a CUDA build of it.
	$(BENCH_PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BENCH_PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	@rm -f $(BENCH_VENV)/.requirements-*
	@touch $@

bench: $(BENCH_STAMP)
	HF_HUB_OFFLINE=1 nice -n 10 $(BENCH_PY) -m bench --corpus seeds --runs 3 -o runs/bench-seeds.json
