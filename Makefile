# Two commands on a fresh machine: `make run` (the app) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
DATA_DIR ?=
STREAMLIT_FLAGS := --server.address 127.0.0.1 --server.port $(PORT) --server.headless true \
	--browser.gatherUsageStats false

.PHONY: run test test-fast venv chromium bench clean screenshots

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

run: venv
	STUDIO_DATA_DIR="$(DATA_DIR)" $(PY) -m streamlit run app.py $(STREAMLIT_FLAGS)

# Debian's chromium for the browser tests (Playwright's own browser download fails on these machines).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium" >&2; fi; \
	fi

test: venv chromium
	$(PY) -m pytest -q tests

test-fast: venv
	$(PY) -m pytest -q tests -m "not e2e"

# The README's pictures: the browser journeys, saving what they end on (demo data, 1400 px wide).
screenshots: venv chromium
	STUDIO_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q tests/e2e/test_browser.py

bench: venv
	$(PY) -m bench.clustering

clean:
	rm -rf .cache .pytest_cache
