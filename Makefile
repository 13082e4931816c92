# The two commands a newcomer runs: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROTOS := $(wildcard proto/ownervote/v1/*.proto)
GENERATED := proto/ownervote/v1/.generated

.PHONY: setup test demo bench bench-e2e loadtest lint clean

NODE_STAMP := node_modules/.installed

setup: $(STAMP) $(GENERATED) $(NODE_STAMP)

# buf (proto lint) and @grpc/grpc-js (the second-language client test), pinned in package-lock.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# Python code for the gRPC contract, generated (not committed) into proto/ownervote/v1/.
$(GENERATED): $(PROTOS) $(STAMP)
	$(PY) -m grpc_tools.protoc -Iproto --python_out=proto --grpc_python_out=proto \
		--pyi_out=proto $(PROTOS)
	touch $(GENERATED)

test: setup
	$(PY) -m pytest

demo: setup
	$(PY) -m clients.demo

# PostgreSQL figures too when the local server answers (or OWNERVOTE_BENCH_PG_DSN is set).
LOCAL_PG := postgresql+asyncpg://postgres@127.0.0.1:5432/test
BENCH_PG = OWNERVOTE_BENCH_PG_DSN="$${OWNERVOTE_BENCH_PG_DSN:-$$(pg_isready -q -h 127.0.0.1 \
	-p 5432 2>/dev/null && echo $(LOCAL_PG))}"
bench: setup
	$(PY) -m loadtests.bench_crypto
	$(BENCH_PG) $(PY) -m loadtests.bench_registration
	$(BENCH_PG) $(PY) -m loadtests.bench_ledger
	$(BENCH_PG) $(PY) -m loadtests.bench_e2e

# Issue 5's end-to-end figures and plots (about a quarter of an hour): an open-loop sweep of
# offered ballot load against one and two server processes with plain witnesses (in a deployment
# the witnesses run on other organisations' machines), the same with validating witnesses on this
# machine, and the tally's cost against ballots (read from PostgreSQL when it answers).
bench-e2e: setup
	$(BENCH_PG) $(PY) -m loadtests.bench_e2e --plain-witnesses --servers 1,2 \
		--sweep 50,100,150,200,250,300 --plot docs/e2e-load.png
	$(BENCH_PG) $(PY) -m loadtests.bench_e2e --servers 1 --sweep 25,50,100,150
	$(BENCH_PG) $(PY) -m loadtests.bench_tally --plot docs/tally-time.png

# Locust over gRPC against a local deployment (PostgreSQL as for bench, else SQLite), about a
# minute; e.g. make loadtest LOADTEST_ARGS="--users 40 --duration 1m --csv load"
loadtest: setup
	$(PY) -m loadtests.loadtest $(LOADTEST_ARGS)

lint: setup
	$(PY) -m ruff check crypto rules server clients loadtests tests proto/ownervote/files.py \
		proto/ownervote/v1/wire.py

clean:
	rm -rf node_modules $(VENV) .pytest_cache .hypothesis $(GENERATED) proto/ownervote/v1/*_pb2*.py*
