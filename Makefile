# Quickstart: `make run` (install + pipeline on the built-in dataset), `make test`.
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
PYTHON := $(BIN)/python
STAMP  := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)

# dvc.yaml's commands call `python`: make it the venv's.
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: install browser run test test-fast bench layers explore clean-results

install: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

# DVC needs a .dvc folder; a clone has it, a bare copy of the files may not.
.dvc/config:
	if git rev-parse --git-dir >/dev/null 2>&1; then $(BIN)/dvc init --quiet; else $(BIN)/dvc init --quiet --no-scm; fi

# params.yaml is checked first: DVC would report an empty file or a bad crawl.concepts as a
# problem of dvc.yaml's foreach, not name the key.
run: install .dvc/config
	$(PYTHON) -m common.params params.yaml
	$(BIN)/dvc repro

# The report test opens report.html in Debian's Chromium (driven by Playwright, no download).
browser:
	command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }

test: install browser
	$(PYTHON) -m pytest

# Developers' quick loop: everything but the real-pipeline runs (CI runs `make test`).
test-fast: install browser
	$(PYTHON) -m pytest -m "not slow"

# The layers of the model params.yaml names that can be tcav.bottlenecks, with output shapes.
layers: install
	$(PYTHON) -m pipeline.layers

# A local web page on the current run (after `make run`): http://127.0.0.1:8765/ (PORT=... to change).
PORT ?= 8765
explore: install
	$(PYTHON) -m pipeline.explore --port $(PORT)

bench: install .dvc/config
	$(PYTHON) benchmarks/make_run_time.py

clean-results:
	rm -rf results
