# The two commands of the README: `make run` (main job) and `make test`.
# Both create .venv with Python 3.11 and install requirements.txt on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test bench lab browser clean-venv

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

run: $(BIN)/.installed  ## execute every notebook through papermill into runs/<timestamp>/
	$(BIN)/python -m recnotes run $(ARGS)

test: $(BIN)/.installed browser  ## package tests + every notebook under nbval + papermill and browser tests
	$(BIN)/python -m pytest -n 2 --dist loadscope

# tests/test_browser.py drives Debian's Chromium (/usr/bin/chromium) through Playwright; Playwright's own
# browser download is not used. Installed with apt-get when missing (as root, or through sudo).
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$RECNOTES_SKIP_BROWSER" != 1 ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    s=; [ "$$(id -u)" -eq 0 ] || s=sudo; \
	    echo "installing Debian's chromium for the browser tests (apt-get)"; \
	    $$s apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$s apt-get install -y -qq --no-install-recommends chromium; \
	  else \
	    echo "note: /usr/bin/chromium is missing and apt-get is not here: tests/test_browser.py will fail;" \
	         "install Chromium at /usr/bin/chromium or run RECNOTES_SKIP_BROWSER=1 make test"; \
	  fi; \
	fi

$(BIN)/.bench-installed: $(BIN)/.installed requirements-bench.txt
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-bench.txt
	touch $@

bench: $(BIN)/.bench-installed  ## every model + live references (implicit, TFRS) on the protocol -> runs/bench-<timestamp>/
	$(BIN)/python -m recnotes bench $(ARGS)

lab: $(BIN)/.installed  ## open JupyterLab on the notebooks
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

clean-venv:
	rm -rf $(VENV)
