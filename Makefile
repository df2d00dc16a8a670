# Two commands on a fresh machine: `make demo`, then `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test bench eval lint system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "digest needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## demo: create .venv, install digest, build the bundled sample edition and print where it is
demo: $(STAMP)
	$(BIN)/digest preview --format html
	$(BIN)/digest preview --format text

## system-deps: Debian packages the tests use (headless Chromium and its driver); installed when root
system-deps:
	@bash .ci/system-deps

## test: install test extras and system packages, then run the whole suite
test: $(TEST_STAMP) system-deps
	$(BIN)/python -m pytest

## eval: extraction quality on the 60-page benchmark, ours against plain trafilatura
eval: $(STAMP)
	$(BIN)/python benchmarks/eval_extraction.py

## bench: every benchmark, each beside its baseline measured in the same run: one table, build/bench.json
bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/run_all.py --json build/bench.json

lint: $(TEST_STAMP)
	$(BIN)/ruff check digest tests benchmarks
	$(BIN)/mypy digest

clean:
	rm -rf $(VENV) .digest outbox preview.* build dist .pytest_cache
