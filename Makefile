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
        events token r2-lifecycle r2-cors redrive deploy bench bench-report clean
.PHONY: sam-api sam-seed sam-image sam-local-test
.PHONY: web-deps test-data
.PHONY: fuzz load faults
.PHONY: docs docs-serve
.PHONY: licenses

help: ## list the verbs
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/requirements.txt pyproject.toml $(wildcard */__init__.py)
	@test -x $(PY) || { echo "creating $(VENV) with $(PY313)"; $(PY313) -m venv $(VENV); }
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	$(PY) -m pip install $(PIP_FLAGS) --no-deps -e .
	@rm -rf profile_photos.egg-info shared/profile_photos.egg-info
	@touch $@

$(TOOLS)/.installed: requirements-tools.txt
	@test -x $(TOOLS)/bin/python || { echo "creating $(TOOLS)"; $(TOOLS_PYTHON) -m venv $(TOOLS); }
	$(TOOLS)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(TOOLS)/bin/python -m pip install $(PIP_FLAGS) -r requirements-tools.txt
	@touch $@

# The Python SDK + CLI (clients/python), installed as a user installs it (not editable): its
# stamp follows its pyproject and sources, so `make test` always runs the current SDK.
SDK_FILES := clients/python/pyproject.toml $(shell find clients/python/src -name '*.py' 2>/dev/null)

$(VENV)/.sdk-installed: $(VENV)/.installed $(SDK_FILES)
	$(PY) -m pip install $(PIP_FLAGS) ./clients/python
	@rm -rf clients/python/build clients/python/src/*.egg-info
	@touch $@

venv: $(VENV)/.installed $(VENV)/.sdk-installed ## create the project venv (runtime deps, tests, lint, the SDK)
tools: $(TOOLS)/.installed ## create the SAM CLI / cfn-lint venv

dev: venv ## run the service locally (see docs/getting-started.md)
	$(PY) -m devstack

# pytest runs on WORKERS processes (pytest-xdist), each with its own stacks, ports and data
# dirs. `--dist load` hands out tests in collection order, which the IAM check relies on (it
# runs last and waits for the other workers' calls: tests/integration/aws_calls_shared.py);
# `worksteal` can queue stolen tests behind it. Many tests wait on a subprocess or a socket,
# so two workers more than the cores keep both busy (4 on 2 cores; with 3, the cores stood
# ~25% idle).
WORKERS ?= $(shell echo $$(( $$(nproc) + 2 )))
PYTEST_PARALLEL = -n $(WORKERS) --dist load

# The checks that are not pytest's (type check, template check, the build and its import
# check: ~1 min from a clean clone) run one after another beside pytest, which leaves the
# cores ~20% idle while its tests wait on subprocesses and sockets; their output is printed
# after pytest's, and any failure fails `make test`. Lint runs first, alone: it fails fast.
CHECKS_LOG = .cache/make-test-checks.log

test: venv tools web-deps test-data ## lint, then every test (in parallel) beside the type check, template check and built-layer import check, and the time taken
	@started=$$(date +%s); mkdir -p .cache; \
	$(MAKE) --no-print-directory lint || exit $$?; \
	( $(MAKE) --no-print-directory typecheck && \
	  $(MAKE) --no-print-directory check-template && \
	  $(MAKE) --no-print-directory check-build ) > $(CHECKS_LOG) 2>&1 & checks=$$!; \
	$(PY) -m pytest $(PYTEST_PARALLEL); status=$$?; \
	wait $$checks; checked=$$?; \
	echo "== type check, template check, build (run beside pytest):"; cat $(CHECKS_LOG); \
	[ $$status -ne 0 ] || status=$$checked; \
	seconds=$$(( $$(date +%s) - started )); \
	echo "make test: $$(( seconds / 60 ))m $$(( seconds % 60 ))s ($(WORKERS) pytest workers, exit $$status)"; \
	exit $$status

# The corpus tests' images (Pillow's and pillow-heif's sdists, sha256-pinned: testkit/corpora.py)
# are fetched once per machine into .cache/corpora, before `make test` starts its clock, as
# the venvs are: a download is not a test.
test-data: venv ## fetch the real-world image corpora the tests read (once per machine)
	$(PY) -m testkit.corpora

# The browser and Node tests (tests/e2e/test_browser.py, test_node_client.py) need Debian's
# chromium (Playwright cannot download its own browsers here; it drives /usr/bin/chromium) and
# Node.js (>= 18): installed with apt when missing (as root, or through sudo).
APT_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
WEB_APT := $(if $(wildcard /usr/bin/chromium),,chromium) $(if $(shell command -v node),,nodejs)

web-deps: ## install Debian's chromium and nodejs when missing (browser and Node tests)
	@if [ -n "$(strip $(WEB_APT))" ]; then \
	  echo "installing $(strip $(WEB_APT)) (apt)"; \
	  $(APT_SUDO) apt-get update -qq && \
	  $(APT_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(strip $(WEB_APT)); \
	fi

unit: venv ## only the unit tests
	$(PY) -m pytest tests/unit

integration: venv ## only the integration tests (handlers under moto)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/integration

lint: venv ## ruff check + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv ## mypy --strict on the layer package and every function folder (pyproject's [tool.mypy])
	$(VENV)/bin/mypy

format: venv ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check-template: tools ## SAM transform offline + cfn-lint on its output + sam validate --lint
	$(TOOLS)/bin/python tests/template/check_template.py template.yaml

build: tools ## sam build (no Docker: the runtime's interpreter first on PATH) + precompiled bytecode
	tools/check_build.sh --build-only

check-build: tools ## sam build, then import the built layers with nothing else on the path
	tools/check_build.sh

# Each layer's requirements installed as sam build does (pip install --target, the layer's CPU
# and runtime, cached in .venv/licenses), then every package's licence read from its metadata
# (tools/licenses.py: its own, and the libraries its wheel bundles where the dist-info lists them).
licenses: venv ## list every package each layer ships with its licence; fail on GPL/AGPL (LGPL is allowed)
	$(PY) -m tools.licenses

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

token: venv ## print a bearer token for the local stack: make token USER=<id> NAME=<username> (NAME defaults to USER)
	@$(PY) -m devkit.token --user "$(TOKEN_USER)" --name "$(NAME)"

r2-lifecycle: venv ## expire never-completed direct uploads in the R2 bucket (R2_* env)
	$(PY) -m ops r2-lifecycle

r2-cors: venv ## let browsers on CORS_ALLOWED_ORIGINS PUT direct uploads to the R2 bucket (R2_* env)
	$(PY) -m ops r2-cors

redrive: venv ## replay a failure queue's batches through its consumer: QUEUE=RetentionFailureQueue ENV=local|dev|prod
	@test -n "$(QUEUE)" || { echo "usage: make redrive QUEUE=<queue url, name or logical id> [ENV=local|dev|prod]"; exit 2; }
	$(PY) -m ops redrive "$(QUEUE)" --env $(ENV)

deploy: build ## sam deploy to an environment: make deploy ENV=dev|prod (default dev)
	$(TOOLS)/bin/sam deploy --config-env $(ENV)

# Generated bad input and load, both against a local stack of their own on loopback
# (tests/e2e/fuzz_runner.py, tests/e2e/load_runner.py; short versions of both run in `make test`).
fuzz: venv ## generated bad input vs a fresh local stack (random seed printed; SEED=n replays, EXAMPLES=n per generator)
	$(PY) -m tests.e2e.fuzz_runner $(if $(SEED),--seed $(SEED)) $(if $(EXAMPLES),--examples $(EXAMPLES))

faults: venv ## the full fault matrix: every AWS call and file operation failed in every way (make test: first and last of each kind)
	FAULT_MATRIX=full $(PY) -m pytest $(PYTEST_PARALLEL) tests/integration/test_faults.py tests/integration/test_erasure_faults.py

load: venv ## USERS simulated users for DURATION seconds on a local stack (DATA_DIR: a running one), invariants checked, JSON in bench/results
	$(PY) -m tests.e2e.load_runner --users $(or $(USERS),8) --duration $(or $(DURATION),60) $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(SOAK),--soak $(SOAK))

# A full run writes bench/results/latest.json only from a clean tree (`git status --porcelain`
# empty); BENCH_DIRTY=1 records a dirty one, loudly. Then `make bench-report` rewrites the
# generated blocks of the README and docs/performance.md from it (make test checks they match).
bench: venv tools ## every bench section vs its budgets (~12 min; a clean tree, or BENCH_DIRTY=1)
	$(PY) -m bench

bench-report: venv ## rewrite the README's and docs/performance.md's bench blocks from bench/results/latest.json
	$(PY) -m docs.gen.bench_tables

# The documentation site (mkdocs-material, mkdocs.yml): strict, so a broken link or anchor, or a
# generator that fails (docs/gen: REST, GraphQL, configuration, parameters, bench tables), fails.
docs: venv ## build the documentation site into .cache/site (strict; the reference pages generated from the code)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

docs-serve: venv ## serve the documentation site on http://127.0.0.1:8000, rebuilt on every change
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve --dev-addr 127.0.0.1:8000

clean: ## remove build output and caches (not the venvs, not ./data)
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache .cache/corpora .cache/testkit
