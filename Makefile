# Deep-learning field guide: set-up, preview, build and test.
# Every target first makes sure .venv holds exactly the packages in requirements.lock.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup lock serve build test test-changed bench clean

setup:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "set-up failed: '$(PYTHON)' not found; install Python 3.11+ or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	@$(PYTHON) tests/tools/setup_venv.py

# Refresh requirements.lock from pyproject.toml's pins (after changing a pin).
lock:
	@test -x $(BIN)/pip-compile || { echo "lock: run 'make setup' first"; exit 1; }
	$(BIN)/pip-compile --quiet --extra test --strip-extras --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
	  --output-file requirements.lock pyproject.toml
	@$(MAKE) --no-print-directory setup

serve: setup
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

build: setup
	$(BIN)/mkdocs build --strict --site-dir site

test: setup
	$(BIN)/python -m pytest

# For authors: only pages changed since their record, and test folders whose
# inputs changed since they last passed; then the records of those pages.
test-changed: setup
	$(BIN)/python -m pytest --changed

bench: setup
	$(BIN)/python tests/tools/bench.py

clean:
	rm -rf site $(VENV) .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
