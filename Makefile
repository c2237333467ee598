# occuloop — every target creates .venv and installs the pinned packages on first use,
# so `make demo` and `make test` are the only two commands a fresh machine needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test test-fast stress lint bench lock clean settings-reference

install: $(INSTALLED)

# Re-installs whenever the lock or the project metadata changes.
$(INSTALLED): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "occuloop needs Python 3.11 (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

demo: $(INSTALLED)
	$(BIN)/occuloop demo $(DEMO_ARGS)

test: $(INSTALLED) k8s-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Unit tests only: no server processes, no real clients.
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -m "not contract and not reliability" $(PYTEST_ARGS)

# SIGTERM at random moments and kill -9 while work flows, long version (50 SIGTERMs and 20 kills per process;
# the canary module runs whole, its ramp test with 12 SIGTERMs and 4 kills each to the controller and the app).
stress: $(INSTALLED)
	OCCULOOP_STRESS=1 $(BIN)/python -m pytest tests/reliability/test_sigterm_anytime.py tests/serving/test_canary.py -s $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check services training serving tests
	$(BIN)/ruff format --check services training serving tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	@! grep -rn "os\.environ\|os\.getenv" services --include=*.py | grep -v "services/settings.py" \
	  || (echo "os.environ is read only in services/settings.py" && exit 1)

# Rewrite the README's configuration tables and the chart's config values and schema from services/settings.py
# (tests/services/test_settings_reference.py fails until they agree).
settings-reference: $(INSTALLED)
	$(BIN)/python -m services.settings_reference

bench: $(INSTALLED)
	$(BIN)/python -m tests.benchmarks.run $(BENCH_ARGS)

# Regenerate the lock from the declared dependencies (needs network access to PyPI).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[serve,train,k8s,ui,dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^occuloop' > $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .occuloop

include mk/k8s.mk
include mk/ui.mk
