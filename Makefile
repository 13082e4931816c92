# The two commands a newcomer runs: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m clients.library_demo

bench: $(STAMP)
	$(PY) -m loadtests.bench_crypto

lint: $(STAMP)
	$(PY) -m ruff check crypto rules server clients loadtests tests

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
