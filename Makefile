# ragqa: `make install`, `make test`, `make lint`, `make serve`, `make bench`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint serve bench eval

install:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
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
