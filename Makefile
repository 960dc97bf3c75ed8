# The two commands of the README: `make run` (main job) and `make test`.
# Both create .venv with Python 3.11 and install requirements.txt on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test lab clean-venv

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

run: $(BIN)/.installed  ## execute every notebook through papermill into runs/<timestamp>/
	$(BIN)/python -m recnotes run $(ARGS)

test: $(BIN)/.installed  ## package tests + every notebook under nbval + papermill tests
	$(BIN)/python -m pytest -n 2 --dist loadscope

lab: $(BIN)/.installed  ## open JupyterLab on the notebooks
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

clean-venv:
	rm -rf $(VENV)
