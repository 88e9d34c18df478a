# The interface of this repository. Every target does its own set-up, idempotently.
#   make demo       site.yml end to end in the local sandbox (moto for AWS, pebble for Let's
#                   Encrypt, a podman systemd container for the instance)
#   make demo-down  remove what make demo started
#   make test       everything CI runs: lint, controller tests, app tests, molecule scenarios
#   make lint       yamllint, ansible-lint (production profile), ruff on app/
#   make bench      the app's benchmarks (training, serving, walk-forward, web), then nginx's (sandbox)
#   make soak       10 min at 200 req/s through nginx on the sandbox instance, memory capped at 1 GB
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Never ask Galaxy: the collections come bundled with the pinned ansible package.
export ANSIBLE_GALAXY_DISABLE_GPG_VERIFY := 1
export MOLECULE_NO_LOG := false

# One per role, then default: the whole stack through site.yml in the sandbox, with a browser, in the
# single profile and then, moved there by playbooks/migrate-to-enhanced.yml, the enhanced one.
SCENARIOS ?= swap cloudwatch_agent ec2 aws_enhanced aws_lambda_predict nginx certbot app containers baseline default
# Scenarios run side by side (scripts/molecule-parallel.sh): their names, ports and caches differ.
MOLECULE_JOBS ?= 3
PLATFORMS ?= bookworm trixie

.PHONY: help
help:
	@echo "make demo | demo-down | test | lint | bench   (see README.md)"

# --- set-up ---------------------------------------------------------------------------
.PHONY: host venv images setup
host:
	@echo "==> host packages and podman fixes"
	@scripts/host-setup.sh

$(STAMP): requirements-dev.txt
	@echo "==> controller virtualenv $(VENV) (ansible, molecule, lint, pytest)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

images: host
	@echo "==> systemd base images: $(PLATFORMS)"
	@for p in $(PLATFORMS); do scripts/build-image.sh $$p; done

setup: host venv images

# --- the two commands of the README ---------------------------------------------------
.PHONY: demo demo-down
# PROFILE=enhanced: the enhanced profile (PostgreSQL standing in for RDS, the registry in moto's S3);
# PROFILE=containers: Docker Compose on the instance (with STOCKSENSE_IMAGE: README, Containers
# profile). Default: single.
PROFILE ?=
demo: setup app-venv
	@STOCKSENSE_PROFILE=$(or $(PROFILE),$(STOCKSENSE_PROFILE),single) scripts/demo.sh up

demo-down: venv
	@scripts/demo.sh down

.PHONY: test lint unit app-test image-test molecule app-venv
# Lint first (it fails fast), with the scenarios' tiny models trained meanwhile on the other core
# (scripts/prebuild-test-models.sh, keyed by settings and source; a scenario that needs models still
# being trained waits for them on its folder's lock); then the controller tests, the app suite and
# the molecule scenarios side by side (scripts/molecule-parallel.sh), each one's output printed
# whole when it ends. The log is kept in .cache/make-test.log; the last line adds up every pytest
# summary in it.
test: setup app-venv
	@mkdir -p .cache; start=$$(date +%s); \
	{ scripts/prebuild-test-models.sh > .cache/prebuild-test-models.log 2>&1 & models=$$!; \
	  $(MAKE) --no-print-directory lint; \
	  scripts/molecule-parallel.sh -j $(MOLECULE_JOBS) $(SCENARIOS) \
	    "unit=$(MAKE) --no-print-directory unit" "app-test=$(MAKE) --no-print-directory app-test" \
	    "image=$(MAKE) --no-print-directory image-test"; \
	  wait $$models || echo "==> training the test models ahead failed (the scenarios trained their own)"; \
	  cat .cache/prebuild-test-models.log; } 2>&1 | tee .cache/make-test.log; \
	echo "==> make test finished in $$(( $$(date +%s) - start ))s"; \
	scripts/test-summary.sh .cache/make-test.log

# Needs only the controller venv (no TensorFlow): ruff reads its settings from app/pyproject.toml.
lint: venv
	@echo "==> yamllint"
	@$(BIN)/yamllint --strict .
	@echo "==> ansible-lint (production profile)"
	@$(BIN)/ansible-lint --offline
	@echo "==> ruff (app/)"
	@cd app && ../$(BIN)/ruff check src tests bench scripts
	@echo "==> import-linter (app layers, app/.importlinter)"
	@cd app && PYTHONPATH=src ../$(BIN)/lint-imports .importlinter
	@echo "==> GitHub workflow against its schema (check-jsonschema)"
	@$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

unit: venv app-venv
	@echo "==> controller tests (tests/)"
	@$(BIN)/pytest -q --durations=10 tests --ignore=tests/test_app_image.py

# The app's OCI image (app/Containerfile) built and run with podman on a local Debian slim base
# (scripts/build-slim-image.sh: Docker Hub cannot be reached here); tiny models trained with app/.venv.
image-test: venv app-venv
	@echo "==> app image (podman build and run: tests/test_app_image.py)"
	@t0=$$(date +%s); $(BIN)/pytest -q -p no:cacheprovider tests/test_app_image.py; \
	echo "==> image tests passed in $$(( $$(date +%s) - t0 ))s"

# The StockSense app's own suite: ML core and web, real bundled prices, headless Chromium.
app-test: app-venv
	@echo "==> app tests (make -C app test)"
	@t0=$$(date +%s); $(MAKE) --no-print-directory -C app test; echo "==> app tests passed in $$(( $$(date +%s) - t0 ))s"

# The app scenario builds the wheel and trains tiny models with app/.venv (make -C app venv).
app-venv:
	@echo "==> app virtualenv app/.venv (make -C app venv)"
	@$(MAKE) --no-print-directory -C app venv

# The app and default scenarios build the wheel and train models with app/.venv.
molecule: setup app-venv
	@t0=$$(date +%s); scripts/molecule-parallel.sh -j $(MOLECULE_JOBS) $(SCENARIOS); \
	echo "==> molecule scenarios finished in $$(( $$(date +%s) - t0 ))s"

.PHONY: bench
bench: app-venv
	@echo "==> benchmarks: training, serving, walk-forward, web (make -C app bench)"
	@$(MAKE) --no-print-directory -C app bench
	@echo "==> through nginx with TLS on the sandbox instance (scripts/bench-nginx.sh)"
	@scripts/bench-nginx.sh

# Not in make test: 10 minutes at 200 req/s through nginx on the sandbox instance (make demo), capped at 1 GB.
.PHONY: soak
soak:
	@scripts/soak-nginx.sh
