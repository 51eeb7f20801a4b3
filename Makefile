# The two commands of CONTRACT.md. Both run the same idempotent set-up first.
SHELL := /bin/bash
VENV := .venv/bin
ENVFILE := .data/gridmarket.env
WITH_ENV = set -a; [ -f $(ENVFILE) ] && . $(ENVFILE); [ -f .env ] && . .env; set +a;
DEMO_UNITS ?= 50000

.PHONY: run test setup lint typecheck pytest demo clean-data

setup:
	@bash scripts/setup.sh

run: setup
	@$(WITH_ENV) $(VENV)/gridmarket demo --if-empty --units $(DEMO_UNITS)
	@$(WITH_ENV) exec $(VENV)/gridmarket serve

test: setup lint typecheck pytest

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck:
	$(VENV)/mypy

pytest:
	@$(WITH_ENV) $(VENV)/pytest

demo: setup
	@$(WITH_ENV) $(VENV)/gridmarket demo --units $(DEMO_UNITS)
