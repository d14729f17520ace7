# `make dev` serves the API locally on SQLite; `make test` runs everything CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STACK ?= dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install dev migrate test lint format plan bench bench-smoke reliability teardown clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,infra,bench]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with every extra

migrate: $(STAMP) ## Apply migrations to DATABASE_URL (default: ./local.db)
	$(PY) -m service.migrate

dev: migrate ## Serve on http://127.0.0.1:8000 (docs at /docs) with SQLite and the in-memory limiter
	$(VENV)/bin/uvicorn service.main:app --reload --host $(HOST) --port $(PORT)

lint: $(STAMP) ## ruff lint + format check + hadolint on the Dockerfile
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint Dockerfile

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint ## Lint, then the whole suite against SQLite, PostgreSQL and Redis on 127.0.0.1
	$(VENV)/bin/pytest

reliability: $(STAMP) ## The reliability suite alone (schemathesis, faults, drain, abuse; < 6 min) + its summary
	$(VENV)/bin/pytest tests/reliability

bench: $(STAMP) ## Service vs bare FastAPI under wrk (PostgreSQL + Redis on 127.0.0.1, < 5 min) -> bench/results.json
	$(PY) -m bench.run

bench-smoke: $(STAMP) ## The same harness, a few seconds per scenario, no results file (make test runs it via tests/bench)
	$(PY) -m bench.run --smoke

plan: $(STAMP) ## Offline resource tree of a stack (no CLI, no credentials): make plan STACK=dev
	$(PY) -m infra.plan --stack $(STACK)

teardown: $(STAMP) ## Destroy an ephemeral stack: make teardown STACK=staging [DRY_RUN=1] [REMOVE_STACK=1]
	$(PY) -m infra.teardown --stack $(STACK) $(if $(DRY_RUN),--dry-run) $(if $(REMOVE_STACK),--remove-stack)

clean:
	rm -rf $(VENV) local.db local.db-* .pytest_cache .ruff_cache
