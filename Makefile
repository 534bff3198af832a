# gainshare - the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_CASE ?= cases/core.yaml
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install lint format clean browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[app,dev,dask]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/gainshare validate $(DEMO_CASE)
	mkdir -p out
	$(BIN)/gainshare design $(DEMO_CASE) --out out/designed.agreement.yaml

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

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
