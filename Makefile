# Two commands on a fresh machine: `make demo`, then `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# The lock files: every package, pinned with its hashes (`make lock` writes them from pyproject.toml).
LOCK := requirements.txt
TEST_LOCK := requirements-test.txt
LOCK_TOOLS := $(VENV)/lock-tools
# Locked against PyPI alone, whatever the machine's pip config adds (local wheel folders, mirrors).
LOCK_ENV := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock"
PIP_COMPILE := $(LOCK_TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --all-build-deps \
	--strip-extras --no-emit-find-links --no-emit-index-url --no-emit-trusted-host

.PHONY: demo test bench eval lint lock fuzz mutation system-deps npm-deps screenshots email-checks clean

# npm packages for checks of the email, pinned, into the git-ignored .venv/node_modules.
AXE_CORE := axe-core@4.14.1
DOIUSE_EMAIL := @jsx-email/doiuse-email@1.0.4
NPM_INSTALL := npm install --prefix $(VENV) --save-exact --no-audit --no-fund --loglevel=error

# Exactly the locked packages (hashes checked, nothing resolved), then digest itself without
# build isolation, built by the locked hatchling; `pip check` fails on a lock that misses a dependency.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "digest needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip  # older pips misread extras like lxml[html_clean]
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@

$(TEST_STAMP): $(STAMP) $(TEST_LOCK)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(TEST_LOCK)
	$(BIN)/python -m pip check
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

## lock: write requirements.txt and requirements-test.txt from pyproject.toml, with hashes (pip-tools);
## pins that still fit are kept: delete both files first to move everything to the newest versions
lock:
	test -x $(LOCK_TOOLS)/bin/pip-compile || ( $(PYTHON) -m venv $(LOCK_TOOLS) \
		&& $(LOCK_TOOLS)/bin/python -m pip install --quiet --upgrade pip 'pip-tools>=7.4' )
	$(LOCK_ENV) $(PIP_COMPILE) --extra test -o $(TEST_LOCK) pyproject.toml
	cp $(TEST_LOCK) $(LOCK)  # the runtime lock keeps the test lock's pins
	$(LOCK_ENV) $(PIP_COMPILE) -o $(LOCK) pyproject.toml

## fuzz: the hypothesis fuzz tests with 20 times their CI example budget
fuzz: $(TEST_STAMP)
	DIGEST_FUZZ_SCALE=20 $(BIN)/python -m pytest -m fuzz --timeout 0

## mutation: mutmut over the ledger, tokens, subscriber list, editions and send loop; each mutant
## runs only the tests that reach its function. Not part of CI. Works in ./mutants/ (git-ignored),
## started afresh each time so it never runs an old copy of the tests.
mutation: $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet 'mutmut>=3.8'
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python -m tests.support.mutation_summary mutants

lint: $(TEST_STAMP)
	$(BIN)/ruff check digest tests benchmarks
	$(BIN)/mypy digest

clean:
	rm -rf $(VENV) .digest outbox preview.* build dist .pytest_cache mutants
