# DermNode — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := .ci/constraints.txt
STAMP := $(VENV)/.installed
CONFIG ?= config/default.yaml

.PHONY: install demo test lint typecheck pytest serve bench clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-install whenever the dependency list or the pins change.
$(STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dermnode demo

serve: $(STAMP)
	$(BIN)/dermnode serve --config $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# Recompile the patient report's message catalogues after editing a .po (commit both files).
messages: $(STAMP)
	$(BIN)/pybabel compile -d integrations/report/locale -D patient

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/decode.py
	$(BIN)/python benchmarks/analysis.py
	$(BIN)/python benchmarks/phantoms.py
	$(BIN)/python benchmarks/end_to_end.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
