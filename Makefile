# ragqa: `make install`, `make test`, `make lint`, `make serve`, `make bench`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint serve bench eval

# llama.cpp is built for this CPU (-march=native) but without AMX: its AMX kernels stop with a
# general protection fault on the Sapphire Rapids VMs here. pip caches a built wheel by its URL
# alone, so it would hand a wheel built for one CPU to another; ours is kept per CPU instead.

# The llama-cpp-python version that pyproject.toml pins.
LLAMA := $(shell sed -n 's/.*"llama-cpp-python\[server\]==\([0-9.]*\)".*/\1/p' pyproject.toml)
NO_AMX := $(if $(filter x86_64,$(shell uname -m)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
WHEELS := $(HOME)/.cache/ragqa/wheels/$(shell grep -m1 -E '^(flags|Features)' /proc/cpuinfo | md5sum | cut -c1-12)

install:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	ls $(WHEELS)/llama_cpp_python-$(LLAMA)-*.whl >/dev/null 2>&1 || CFLAGS="$(NO_AMX)" CXXFLAGS="$(NO_AMX)" \
		$(BIN)/pip wheel -q --no-deps --no-cache-dir --no-binary llama-cpp-python 'llama-cpp-python==$(LLAMA)' -w $(WHEELS)
	$(BIN)/pip install -q --no-deps --force-reinstall $(WHEELS)/llama_cpp_python-$(LLAMA)-*.whl
	$(BIN)/pip install -q -e '.[test]'

lint:
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

serve:
	$(BIN)/ragqa serve --docs ../shared/corpus

eval:
	$(BIN)/ragqa ingest ../shared/corpus
	$(BIN)/ragqa eval ../shared/eval/dev.jsonl --out runs/dev

bench:  # writes under bench-out/, then publishes the report and its plot
	$(BIN)/ragqa bench --scale 1 10 100 300 1000 2650 --load 60 --out bench-out
	cp bench-out/BENCHMARKS.md BENCHMARKS.md && cp bench-out/scale.png docs/scale.png
