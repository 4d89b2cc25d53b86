# Quick start: `make run` (serves http://127.0.0.1:5000) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR_STAMP := webapp/static/vendor/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install vendor init bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "需要 Python 3.11 ($(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

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

test: install vendor
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
