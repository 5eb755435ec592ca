# Deep-learning field guide: set-up, preview, build and test.
# Every target first makes sure .venv holds exactly the pins in pyproject.toml.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup serve build test bench clean

setup:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "set-up failed: '$(PYTHON)' not found; install Python 3.11+ or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	@$(PYTHON) tests/bootstrap_venv.py

serve: setup
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

build: setup
	$(BIN)/mkdocs build --strict --site-dir site

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python tests/bench.py

clean:
	rm -rf site $(VENV) .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
