# Two commands on a fresh machine: `make demo`, then `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test bench eval lint system-deps npm-deps screenshots email-checks clean

# npm packages for checks of the email, pinned, into the git-ignored .venv/node_modules.
AXE_CORE := axe-core@4.14.1
DOIUSE_EMAIL := @jsx-email/doiuse-email@1.0.4
NPM_INSTALL := npm install --prefix $(VENV) --save-exact --no-audit --no-fund --loglevel=error

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

## npm-deps: axe-core for the accessibility tests (needs npm; without it those tests are skipped)
npm-deps: | $(STAMP)
	@test -f $(VENV)/node_modules/axe-core/package.json || { command -v npm >/dev/null && $(NPM_INSTALL) $(AXE_CORE); } \
		|| echo "note: npm missing (apt-get install npm); accessibility tests are skipped"

## test: install test extras and system packages, then run the whole suite
test: $(TEST_STAMP) system-deps npm-deps
	$(BIN)/python -m pytest

## screenshots: the sample and stress editions at 375 and 800 px, light and dark, in build/screenshots/
screenshots: $(TEST_STAMP) system-deps
	$(BIN)/python -m tests.support.screenshots build/screenshots

## email-checks: size, SpamAssassin score and caniemail features of the email (installs spamassassin and doiuse-email)
email-checks: $(TEST_STAMP) npm-deps
	@command -v spamassassin >/dev/null || { [ "$$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin >/dev/null; } \
		|| echo "note: spamassassin missing (apt-get install spamassassin); its score is skipped"
	@test -f $(VENV)/node_modules/@jsx-email/doiuse-email/package.json || $(NPM_INSTALL) $(AXE_CORE) $(DOIUSE_EMAIL)
	$(BIN)/python benchmarks/email_checks.py

## eval: quality tables: condense against Lead-3 and LexRank on labelled samples; extraction on both
## benchmark splits (dev, validation) against plain trafilatura
eval: $(TEST_STAMP)
	$(BIN)/python benchmarks/eval_condense.py
	$(BIN)/python benchmarks/eval_extraction.py

## bench: every benchmark, each beside its baseline measured in the same run: one table, build/bench.json
bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/run_all.py --json build/bench.json

lint: $(TEST_STAMP)
	$(BIN)/ruff check digest tests benchmarks
	$(BIN)/mypy digest

clean:
	rm -rf $(VENV) .digest outbox preview.* build dist .pytest_cache
