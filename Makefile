# `make dev` serves the API locally on SQLite; `make test` runs everything CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SERVICE_STAMP := $(VENV)/.installed-service
STACK ?= dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock dev migrate admin worker test lint format plan cost bench bench-smoke reliability teardown clean

# Every dependency comes from a lock, pinned and hash-checked (pip refuses any file whose hash is
# not in it); then the project itself, editable, with no dependency of its own. `make dev` needs
# only what the image runs (requirements.runtime.lock, ~1/4 of the full set); tests, infra and
# bench add the rest (requirements.lock, whose shared pins are the same).
$(SERVICE_STAMP): pyproject.toml requirements.runtime.lock
	test -x $(PY) || python3 -m venv $(VENV)
	@echo "Installing the service's dependencies into $(VENV) (requirements.runtime.lock)..."
	$(PY) -m pip install --progress-bar on --require-hashes --requirement requirements.runtime.lock
	$(PY) -m pip install --quiet --no-deps --editable .
	$(PY) -m pip check
	touch $(SERVICE_STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	@echo "Installing every dependency (tests, infra, bench) into $(VENV) (requirements.lock)..."
	$(PY) -m pip install --progress-bar on --require-hashes --requirement requirements.lock
	$(PY) -m pip install --quiet --no-deps --editable .
	$(PY) -m pip check
	touch $(STAMP) $(SERVICE_STAMP)

install: $(STAMP) ## Create .venv and install the project with every extra, from requirements.lock

lock: UV_VERSION := 0.13.9
lock: ## Rewrite requirements.lock (every extra) and requirements.runtime.lock (the image's) from pyproject.toml with uv, hashed (uv runs from a throwaway venv; UPGRADE=1 moves every pin to the newest allowed)
	set -e; tool=$$(mktemp -d); trap 'rm -rf "$$tool"' EXIT; \
	python3 -m venv "$$tool"; "$$tool/bin/python" -m pip install --quiet uv==$(UV_VERSION); \
	compile="$$tool/bin/uv --quiet pip compile pyproject.toml --generate-hashes --universal --python-version=3.11 $(if $(UPGRADE),--upgrade)"; \
	$$compile --all-extras --output-file=requirements.lock; \
	$$compile --constraints=requirements.lock --output-file=requirements.runtime.lock

migrate: $(SERVICE_STAMP) ## Apply migrations to DATABASE_URL (default: ./local.db)
	$(PY) -m service.migrate

dev: migrate ## Serve on http://127.0.0.1:8000 (docs at /docs) with SQLite and the in-memory limiter
	$(VENV)/bin/uvicorn service.main:app --reload --host $(HOST) --port $(PORT) --http service.server:BoundedHttpToolsProtocol

admin: $(SERVICE_STAMP) ## Manage accounts on DATABASE_URL: make admin ARGS='create-user --email you@example.com --admin' (password prompted; set-admin, deactivate)
	$(PY) -m service.admin $(ARGS)

worker: migrate ## Run due automations and outbox events against DATABASE_URL (default ./local.db), polling
	$(PY) -m service.worker run-due

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

cost: $(STAMP) ## Offline monthly cost estimate of a stack (no CLI, no credentials; prices: infra/prices.json): make cost STACK=dev
	$(PY) -m infra.cost --stack $(STACK)

teardown: $(STAMP) ## Destroy an ephemeral stack: make teardown STACK=staging [DRY_RUN=1] [REMOVE_STACK=1]
	$(PY) -m infra.teardown --stack $(STACK) $(if $(DRY_RUN),--dry-run) $(if $(REMOVE_STACK),--remove-stack)

clean:
	rm -rf $(VENV) local.db local.db-* .pytest_cache .ruff_cache

# ---- Deploying by hand: the pulumi CLI logged in to the backend, AWS credentials (README runbook).
# `make -n <target> ...` prints the commands without running them.
IMAGE ?=
URL ?=
SMOKE_TIMEOUT ?= 300

deploy: ## pulumi up STACK from this checkout (builds its image): creates the stack if missing, refreshes first: make deploy STACK=dev
	@test -x $(PY) || { echo "$(PY) is missing: run make install first" >&2; exit 2; }
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK) --refresh

deploy-image: ## Roll STACK onto an existing image, nothing built (rollback): make deploy-image STACK=prod IMAGE=<repo>@sha256:<digest>; --config records the pin in Pulumi.<stack>.yaml (commit it, or `pulumi config rm service:imageRef` to build again)
	@test -x $(PY) || { echo "$(PY) is missing: run make install first" >&2; exit 2; }
	$(PY) -m infra.promote --check '$(IMAGE)'
	pulumi up --stack $(STACK) --refresh --config service:imageRef=$(IMAGE)

smoke: ## GET URL/health and URL/ready until both answer 200 (exit 1 otherwise): make smoke URL=https://api.example.com [SMOKE_TIMEOUT=300]
	@test -x $(PY) || { echo "$(PY) is missing: run make install first" >&2; exit 2; }
	$(PY) -m infra.smoke '$(URL)' --timeout $(SMOKE_TIMEOUT)

.PHONY: deploy deploy-image smoke

# ---- Account bootstrap, once per AWS account (README "Bootstrap"): a second Pulumi program in
# infra/bootstrap/ whose own state stays on a local backend (the bucket it creates cannot hold it).
BOOTSTRAP_STACK ?= account
BOOTSTRAP_STATE ?= $(HOME)/.pulumi-bootstrap

bootstrap-plan: $(STAMP) ## Offline plan of the account bootstrap (no CLI, no credentials): resource tree, every policy document, the `gh variable set` lines
	$(PY) -m infra.bootstrap.plan --stack $(BOOTSTRAP_STACK)

bootstrap: ## State bucket, secrets keys, GitHub OIDC provider and CI roles (pulumi CLI, admin credentials; state in BOOTSTRAP_STATE), then print the outputs and the `gh variable set` lines
	@test -x $(PY) || { echo "$(PY) is missing: run make install first" >&2; exit 2; }
	mkdir -p $(BOOTSTRAP_STATE)
	cd infra/bootstrap && export PULUMI_BACKEND_URL=file://$(BOOTSTRAP_STATE) && \
	pulumi stack select --create $(BOOTSTRAP_STACK) && \
	pulumi up --stack $(BOOTSTRAP_STACK) && \
	pulumi stack output --stack $(BOOTSTRAP_STACK) && \
	pulumi stack output githubVariables --stack $(BOOTSTRAP_STACK)

.PHONY: bootstrap bootstrap-plan
