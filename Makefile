# Quick start: `make run` (serves http://127.0.0.1:5000) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR_STAMP := webapp/static/vendor/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

LOCK := requirements.lock

.PHONY: run test install lock vendor init bench clean

# Every dependency at the version (and hash) of the lock; the project itself on top, without resolving again.
$(STAMP): $(LOCK) pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "需要 Python 3.11 ($(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-pin after editing the dependencies in pyproject.toml (pins still allowed are kept;
# `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed version).
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --extra dev --strip-extras --generate-hashes --allow-unsafe \
		--no-emit-index-url --no-emit-find-links $(LOCK_ARGS) -o $(LOCK) pyproject.toml

# Page translations: the compiled catalogs are built here, never committed.
MO := webapp/translations/en/LC_MESSAGES/messages.mo
$(MO): webapp/translations/en/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -d webapp/translations

install: $(STAMP) $(MO)

$(VENDOR_STAMP): package.json package-lock.json scripts/vendor.sh
	sh scripts/vendor.sh
	touch $(VENDOR_STAMP)

vendor: $(VENDOR_STAMP)

init: install vendor
	$(BIN)/bpm init --demo

run: init
	$(BIN)/bpm serve --host $(HOST) --port $(PORT)

# The gates first (seconds), then the suites: lint and format, types of the engine, the layers.
test: install vendor
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bpm validate bpmn/
	$(BIN)/pytest -q $(PYTEST_ARGS)
	node --test tests/js/*.test.mjs

bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/inbox.py
	$(BIN)/python bench/modeler.py
	$(BIN)/python bench/timers.py
	$(BIN)/python bench/scripts.py
	$(BIN)/python bench/task_read.py

clean:
	rm -rf $(VENV) node_modules webapp/static/vendor instance
