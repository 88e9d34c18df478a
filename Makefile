# The interface of this repository. Every target does its own set-up, idempotently.
#   make demo       converge the roles onto a local systemd instance (the local sandbox)
#   make demo-down  remove what make demo started
#   make test       everything CI runs: lint, unit tests, molecule scenarios
#   make lint       ansible-lint (production profile) and yamllint
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

SCENARIOS ?= swap cloudwatch_agent ec2 nginx certbot app
PLATFORMS ?= bookworm trixie

.PHONY: help
help:
	@echo "make demo | demo-down | test | lint | bench"

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
demo: setup
	@scripts/demo.sh up

demo-down: venv
	@scripts/demo.sh down

.PHONY: test lint unit molecule app-venv
test: setup
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint; \
	$(MAKE) --no-print-directory unit; \
	$(MAKE) --no-print-directory molecule; \
	echo "==> make test finished in $$(( $$(date +%s) - start ))s"

lint: venv
	@echo "==> yamllint"
	@$(BIN)/yamllint --strict .
	@echo "==> ansible-lint (production profile)"
	@$(BIN)/ansible-lint --offline

unit: venv
	@echo "==> controller tests (tests/)"
	@$(BIN)/pytest -q tests

# The app scenario builds the wheel and trains tiny models with app/.venv (make -C app venv).
app-venv:
	@echo "==> app virtualenv app/.venv (make -C app venv)"
	@$(MAKE) --no-print-directory -C app venv

molecule: setup $(if $(filter app,$(SCENARIOS)),app-venv)
	@for s in $(SCENARIOS); do \
	  echo "==> molecule test -s $$s"; \
	  t0=$$(date +%s); \
	  $(BIN)/molecule test -s $$s; \
	  echo "==> molecule $$s passed in $$(( $$(date +%s) - t0 ))s"; \
	done

.PHONY: bench
bench: venv
	@echo "no benchmarks yet"
