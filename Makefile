# fraudsite: `make run` sets everything up and serves; `make test` sets up and runs the checks.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DEBUG ?= 1

.PHONY: run test lint format migrate bootstrap install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

migrate: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput

bootstrap: migrate
	$(BIN)/python manage.py bootstrap_demo

# gunicorn.conf.py: one sync worker per core (the request path is CPU-bound Python; bench/RESULTS.md), the access log,
# and /metrics adding up every worker's metrics.
# Beside them, seal_audit seals the audit every minute (README, "Proving the audit"); it stops with gunicorn.
run: bootstrap
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seal_audit --every 60 & sealer=$$!; trap 'kill $$sealer 2>/dev/null' EXIT; \
	$(BIN)/gunicorn -c gunicorn.conf.py fraudsite.wsgi --bind 127.0.0.1:$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var
