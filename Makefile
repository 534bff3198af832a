# gainshare - the two set-up commands are `make demo` and `make test`.
#
# Installs come from requirements.lock (exact versions that passed the tests), so a fresh clone
# installs what passed, whatever is released later. `make lock` refreshes the lock to the newest
# releases pyproject.toml allows; `make test-latest` runs the tests on those newest releases in
# a separate environment (.venv-latest), as CI does beside the locked run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
EXTRAS := app,dev,dask
BUILD_TOOLS := pip==26.3 setuptools==84.2.1 wheel==0.48.0
LATEST ?= .venv-latest
DEMO_CASE ?= cases/core.yaml
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-latest install lock lint format clean browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(BUILD_TOOLS)
	$(BIN)/python -m pip install --quiet --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/gainshare validate $(DEMO_CASE)
	mkdir -p out
	$(BIN)/gainshare design $(DEMO_CASE) --out out/designed.agreement.yaml --force

# Debian's chromium for the real-browser test of the workshop app (never a downloaded browser).
browser-deps:
	@if [ -x $(CHROMIUM) ]; then echo "browser: $(CHROMIUM)"; \
	elif command -v apt-get >/dev/null; then \
		for try in 1 2 3; do \
			$(SUDO) apt-get update -qq && \
			$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium && break; \
			echo "apt-get failed (try $$try of 3); retrying" >&2; sleep 10; \
		done; \
	else echo "warning: no $(CHROMIUM) and no apt-get: the browser test will be skipped" >&2; fi

# pytest exits 5 when it collects no test: that is reported, not counted as a failure
test: install browser-deps
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# The same tests on the newest releases pyproject.toml allows (no lock), in their own venv.
test-latest: browser-deps
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[$(EXTRAS)]'
	$(LATEST)/bin/python -m pip list --format=freeze | grep -iE '^(highspy|pyomo|numpy|pandas|pydantic|streamlit)=' || true
	GAINSHARE_UNLOCKED=1 $(LATEST)/bin/python -m pytest -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# Refresh the lock to the newest releases pyproject.toml allows (then run `make test`).
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra app --extra dev --extra dask \
		--python-version 3.11 --upgrade --no-header -o $(LOCK)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .ruff_cache
