# profile-photos: the verbs a newcomer guesses. `make dev` and `make test` work on a fresh
# clone: each creates what it needs first (the project venv, the SAM tool venv).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The project venv runs on the Lambda runtime's Python (3.13) when this machine has it.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PY313 ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3.13) $(shell command -v python3.13) python3)
TOOLS_PYTHON ?= python3

VENV := .venv
TOOLS := .venv-tools
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

ENV ?= dev

.PHONY: help venv tools dev test unit integration lint typecheck format check-template build check-build \
        events token r2-lifecycle redrive deploy bench clean
.PHONY: sam-api sam-seed sam-image sam-local-test

help: ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/requirements.txt
	@test -x $(PY) || { echo "creating $(VENV) with $(PY313)"; $(PY313) -m venv $(VENV); }
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	@touch $@

$(TOOLS)/.installed: requirements-tools.txt
	@test -x $(TOOLS)/bin/python || { echo "creating $(TOOLS)"; $(TOOLS_PYTHON) -m venv $(TOOLS); }
	$(TOOLS)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(TOOLS)/bin/python -m pip install $(PIP_FLAGS) -r requirements-tools.txt
	@touch $@

venv: $(VENV)/.installed ## create the project venv (runtime deps, tests, lint)
tools: $(TOOLS)/.installed ## create the SAM CLI / cfn-lint venv

dev: venv ## run the service locally (see README)
	$(PY) -m devstack

test: venv tools ## lint, type check, template check, every test, and the built-layer import check
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory check-template
	$(PY) -m pytest
	$(MAKE) --no-print-directory check-build

unit: venv ## only the unit tests
	$(PY) -m pytest tests/unit

integration: venv ## only the integration tests (handlers under moto)
	$(PY) -m pytest tests/integration

lint: venv ## ruff check + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv ## mypy --strict on the layer package (shared/profile_photos; pyproject's [tool.mypy])
	$(VENV)/bin/mypy -p profile_photos

format: venv ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check-template: tools ## SAM transform offline + cfn-lint on its output + sam validate --lint
	$(TOOLS)/bin/python tools/check_template.py template.yaml

build: tools ## sam build (no Docker: the runtime's interpreter first on PATH)
	tools/check_build.sh --build-only

check-build: tools ## sam build, then import the built layers with nothing else on the path
	tools/check_build.sh

# sam local: the functions in Lambda containers (Docker), backed by the local stack's
# DynamoDB, streams and moto's S3 as R2 (devstack/sam.py). SAM_INVOKE_IMAGE picks the base
# image (empty: SAM's public.ecr.aws/lambda/python:3.13; `make sam-image` builds a local one).
sam-api: venv tools build ## sam local start-api + start-lambda on the local backing services
	$(PY) -m devstack.sam serve $(if $(SAM_INVOKE_IMAGE),--invoke-image $(SAM_INVOKE_IMAGE))

sam-seed: venv ## re-seed the sample events' photo into a running `make sam-api`
	$(PY) -m devstack.sam seed

sam-image: ## build the local Lambda Python 3.13 image (no registry needed; root, debootstrap)
	@tools/sam_local/build_image.sh

sam-local-test: venv tools ## the e2e scenario in real containers (installs docker.io, runs dockerd)
	tools/sam_local/run_test.sh

events: venv ## regenerate events/*.json (deterministic)
	$(PY) -m tools.make_events

# USER is also the login name in the environment: only a USER given on the command line counts.
TOKEN_USER = $(if $(filter command line,$(origin USER)),$(USER),demo-user)

token: venv ## print a bearer token for the local stack: make token USER=<id> NAME=<username>
	@$(PY) -m devstack.token --user "$(TOKEN_USER)" --name "$(NAME)"

r2-lifecycle: venv ## expire never-completed direct uploads in the R2 bucket (R2_* env)
	PYTHONPATH=shared $(PY) -m tools.r2_lifecycle

redrive: venv ## replay a failure queue's batches through its consumer: QUEUE=RetentionFailureQueue ENV=local|dev|prod
	@test -n "$(QUEUE)" || { echo "usage: make redrive QUEUE=<queue url, name or logical id> [ENV=local|dev|prod]"; exit 2; }
	PYTHONPATH=shared $(PY) -m tools.redrive "$(QUEUE)" --env $(ENV)

deploy: build ## sam deploy --config-env $(ENV)
	$(TOOLS)/bin/sam deploy --config-env $(ENV)

bench: venv tools ## cold start, requests, warm time, memory, layer size, history vs budgets (~3 min)
	$(PY) -m bench

clean: ## remove build output and caches (not the venvs, not ./data)
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache
