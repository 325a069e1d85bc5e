# The two commands: `make run` (set up and start the whole portal) and `make test` (set up and run
# the whole test suite). Everything else here serves them.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_ARGS ?=

.PHONY: run test bench lint format check browser clean help

help:
	@echo "make run    - set up and start the portal at http://127.0.0.1:8000 (demo data included)"
	@echo "make test   - set up and run the whole test suite (SQLite unless DATABASE_URL is set)"
	@echo "make bench  - run the benchmarks; reports land in docs/benchmarks/"
	@echo "make lint   - ruff, import contracts, Django checks"

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found. The portal needs Python 3.11 (spyne does not import on 3.12+)."; \
	  echo "       Install it (e.g. apt-get install python3.11 python3.11-venv, or pyenv install 3.11)"; \
	  echo "       or point PYTHON at it: make run PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	PORTAL_DEMO_FLEET=$${PORTAL_DEMO_FLEET:-true} $(PY) manage.py runportal

# What the tests drive besides Python: Debian's Chromium for the real-browser journeys (Playwright
# drives it; it cannot download its own) and tshark, which decodes our SAP/SDP, ALC/LCT and DSM-CC
# packets as a third-party check of the multicast codecs. Installed with apt when running as root.
TEST_TOOLS := chromium:chromium,chromium-driver tshark:tshark
browser:
	@missing=""; for pair in $(TEST_TOOLS); do cmd=$${pair%%:*}; pkgs=$$(echo $${pair#*:} | tr , " "); \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkgs"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing$$missing for the tests ..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null \
	      || echo "warning: could not install$$missing; the tests that need them will be skipped"; \
	  else echo "warning:$$missing not installed (apt-get install$$missing); the tests that need them will be skipped"; fi; fi

test: $(VENV)/.dev-deps browser
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: $(VENV)/.dev-deps
	$(PY) -m tests.bench

lint: $(VENV)/.dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

format: $(VENV)/.dev-deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
