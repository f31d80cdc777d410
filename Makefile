# k8sim developer commands. Every target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast bench lint notebooks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,dask]'
	touch $(STAMP)

## Run the quickstart scenario; results and plots land in results/quickstart/.
demo: install
	$(VENV)/bin/k8sim run scenarios/quickstart.yaml --out results/quickstart

## Run the whole test suite.
test: install
	$(PY) -m pytest -q

## Run the test suite without the tests marked slow (notebooks, real traces, subprocesses).
test-fast: install
	$(PY) -m pytest -q -m "not slow"

## Benchmarks (not timed tests): prints tables.
bench: install
	$(PY) bench/run_all.py

## Re-execute the notebooks at full size and store them with their outputs.
notebooks: install
	$(PY) tests/test_notebooks.py

lint: install
	$(VENV)/bin/ruff check k8sim tests bench
	$(VENV)/bin/mypy k8sim

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
