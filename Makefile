# consentkit: `make run` serves the API on the embedded database with the demo study;
# `make test` runs every check CI runs. Both set up .venv first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: help install check-system run test lint typecheck importlint pytest wheel-check \
        i18n-extract i18n-update i18n-compile bench load lock clean

help:
	@echo "make run    - set up .venv, start the embedded database, load the demo study, serve http://$(HOST):$(PORT)"
	@echo "make test   - set up .venv, then ruff, mypy, import-linter and pytest"
	@echo "make bench  - run the benchmarks under bench/"
	@echo "make load   - Locust load test, 50 users for 5 minutes (LOAD_S=60 for a quick run)"

$(STAMP): pyproject.toml .ci/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "consentkit needs Python 3.11 or newer (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "Could not create a virtualenv. On Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ".[server,embedded,interop,push]" --group dev -c .ci/constraints.txt
	@touch $(STAMP)

install: $(STAMP)

# WeasyPrint needs Pango; PDFs need fonts covering Latin, Greek and Cyrillic.
check-system: $(STAMP)
	@$(BIN)/consentkit doctor

run: install check-system
	$(BIN)/python -m backend.devserver --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

importlint: install
	$(BIN)/lint-imports

# Browser tests need Debian's Chromium (not `make run`); without it they are skipped.
pytest: install check-system
	@command -v chromium >/dev/null 2>&1 || \
	  echo "note: Chromium is missing, so tests/browser is skipped. Install it with: sudo apt-get install chromium"
	$(BIN)/python -m pytest -n 2 --durations=40 --durations-min=10

test: lint typecheck importlint pytest

# The wheel must carry templates and translations and import without flask or secantusdb.
wheel-check: install
	rm -rf dist var/wheel-venv
	$(BIN)/python -m build --wheel --outdir dist . >/dev/null
	$(PYTHON) -m venv var/wheel-venv
	var/wheel-venv/bin/python -m pip install --quiet dist/consentkit-*.whl
	cd /tmp && $(CURDIR)/var/wheel-venv/bin/python -c "import consentkit, consentkit.db, consentkit.cli, importlib.util as u; \
	  assert u.find_spec('flask') is None and u.find_spec('secantus') is None, 'server deps leaked into the core install'; \
	  from consentkit.paths import templates_dir, translations_dir; \
	  assert templates_dir().is_dir() and translations_dir().is_dir(), 'assets missing from the wheel'; \
	  print('wheel ok:', consentkit.__version__, templates_dir())"

# Pin the venv's tested versions for CI and newcomers (run after an upgrade passes `make test`).
lock: install
	{ sed -n '1,2p' .ci/constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e'; } > .ci/constraints.new
	mv .ci/constraints.new .ci/constraints.txt

i18n-extract: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k gettext:2 -k _ -k ConsentKitError -k NotFoundError -k InvalidDataError -k ConflictError -k EligibilityError -k DatabaseUnavailableError -k ConfigurationError -k AuthenticationError -k PermissionDeniedError -k RateLimitedError -k DeliveryFailedError --no-location --sort-output -o translations/messages.pot --project consentkit --copyright-holder "consentkit contributors" .

i18n-update: i18n-extract
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

i18n-compile: install
	$(BIN)/pybabel compile -d translations --statistics

bench: install check-system
	$(BIN)/python bench/run_all.py

LOAD_S ?= 300
load: install check-system
	$(BIN)/python bench/load.py --duration $(LOAD_S)

clean:
	rm -rf $(VENV) dist build .mypy_cache .ruff_cache .pytest_cache
