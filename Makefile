# The two commands in the README: `make demo` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# Bytecode for our own packages, as a wheel install has it: where PYTHONDONTWRITEBYTECODE is
	# set (this machine), every `teichaku run` and its forkserver compiled them again (~0.15 s each).
	$(BIN)/python -m compileall -q core flows kpi tasks teichaku deployments bench
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/teichaku demo

# The layers contract (pyproject.toml [tool.importlinter]) runs before the tests, so a crossed
# layer fails CI like a failing test.
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .prefect build *.egg-info
