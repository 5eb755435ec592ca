# Deep-learning field guide: set-up, preview, build and test.
# Every target first makes sure .venv holds exactly the packages in requirements.lock.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup lock serve build test test-changed bench lighthouse clean

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

# Lighthouse's scores for every page (Node.js 18+ and Debian's chromium); not part
# of `make test`: it takes minutes and its scores depend on the machine's load.
lighthouse: setup node_modules/.package-lock.json
	$(BIN)/python tests/tools/lighthouse.py

# npm ci only when node_modules is missing or package-lock.json has changed.
node_modules/.package-lock.json: package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "lighthouse: needs Node.js 18+ with npm ('apt-get install nodejs npm')"; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

clean:
	rm -rf site $(VENV) .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
