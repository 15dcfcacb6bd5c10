# Two commands on a fresh machine: `make run` (the app) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
DATA_DIR ?=
# Xception's ImageNet no-top weights file, for machines that cannot download it (else Keras' cache or download)
WEIGHTS ?= $(STUDIO_XCEPTION_WEIGHTS)
# the presets make models and the app use where not the recommended ones (system=preset,...)
PRESETS ?= $(STUDIO_PRESETS)
ADDRESS ?= 127.0.0.1
STREAMLIT_FLAGS := --server.address $(ADDRESS) --server.port $(PORT) --server.headless true \
	--browser.gatherUsageStats false --server.fileWatcherType none

.PHONY: run models test test-fast lint venv test-deps scale java chromium bench clean screenshots readme

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# What the tests add (pytest, xdist, playwright, ruff) and the optional scale-out backends they test (Spark,
# FAISS): not needed to run the app. One pip run for all of it (each run resolves the whole set again).
test-deps: $(VENV)/.installed-test

$(VENV)/.installed-test: requirements.txt requirements-test.txt requirements-scale.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -f $(VENV)/.installed || $(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-test.txt -r requirements-scale.txt
	touch $(VENV)/.installed $(VENV)/.installed-scale $@

# The scale-out backends alone (Spark, FAISS), for running them without the tests.
scale: $(VENV)/.installed-scale

$(VENV)/.installed-scale: requirements-scale.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-scale.txt
	touch $@

# Java for Spark (Debian's default-jre-headless) when the machine has none.
java:
	@if ! command -v java >/dev/null 2>&1 && [ -z "$$JAVA_HOME" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; \
	  else echo "the Spark tests need Java: sudo apt-get install default-jre-headless" >&2; fi; \
	fi

run: venv
	STUDIO_DATA_DIR="$(DATA_DIR)" STUDIO_XCEPTION_WEIGHTS="$(WEIGHTS)" STUDIO_PRESETS="$(PRESETS)" $(PY) -m ui.serve $(STREAMLIT_FLAGS)

# The recommended model of each system on the data folder, in one go (resumable: what exists is kept).
models: venv
	STUDIO_DATA_DIR="$(DATA_DIR)" STUDIO_XCEPTION_WEIGHTS="$(WEIGHTS)" STUDIO_PRESETS="$(PRESETS)" $(PY) -m core prepare

# Debian's chromium for the browser tests (Playwright's own browser download fails on these machines).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium" >&2; fi; \
	fi

test: test-deps java chromium lint
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15 tests

test-fast: test-deps lint
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests -m "not e2e"

# ruff (pyproject.toml): pyflakes, pycodestyle, import order, bugbear; and the README's measured tables
# must be those the results give (python -m bench.report --check)
lint: test-deps
	$(PY) -m ruff check .

# The README's measured tables, regenerated from bench/results/*.json
readme: venv
	$(PY) -m bench.report --readme

# The README's pictures: the browser journeys, saving what they end on (demo data, 1400 px wide).
screenshots: test-deps chromium
	STUDIO_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q tests/e2e/test_browser.py tests/e2e/test_presenter.py

bench: venv
	$(PY) -m bench.clustering

clean:
	rm -rf .cache .pytest_cache
