# The two commands of the quick start: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

serve: $(VENV)/.installed
	$(BIN)/dbplane serve

# the suite in TEST_WORKERS processes (pytest-xdist), each taking a whole test file at a
# time (a file's module-scoped databases and servers are made once); the OpenAPI fuzzer
# after, in one process: its cases share one test id, which xdist cannot tell apart.
# Exit status 5 (no test selected, e.g. PYTEST_ARGS="-k name" matching one side only) is
# not a failure of the other side.
TEST_WORKERS ?= 2

test: $(VENV)/.installed-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --ignore=tests/fuzz $(PYTEST_ARGS) \
	  || [ $$? -eq 5 ]
	$(BIN)/python -m pytest tests/fuzz $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) dbplane-data .pytest_cache .ruff_cache .mypy_cache
