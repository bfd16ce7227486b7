# The two commands of the README:
#   make book   set everything up, execute every chapter with papermill, build the book (_build/html)
#   make test   set everything up and run every test (unit tests, nbval, papermill, the book build,
#               the browser test in Debian's Chromium)
# Both create the virtual environment .venv on first use (and the test installs Chromium with apt);
# nothing else needs installing by hand.

VENV ?= .venv
PYTHON := $(abspath $(VENV))/bin/python
STAMP := $(VENV)/.installed
# Kernels started by papermill and nbval must find this environment's python first.
export PATH := $(abspath $(VENV))/bin:$(PATH)
CHAPTERS := $(sort $(wildcard chapters/*.ipynb))
# The browser test drives Debian's Chromium; Playwright never downloads a browser of its own.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup book execute html test benchmark clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

book: execute html

execute: $(STAMP)
	$(PYTHON) -m dlg_helpers.book.colab
	$(PYTHON) -m dlg_helpers.book.execute $(CHAPTERS)

html: $(STAMP)
	$(abspath $(VENV))/bin/jupyter-book build . -W -n --keep-going

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

test: $(STAMP) $(CHROMIUM)
	$(PYTHON) -m pytest

benchmark: $(STAMP)
	$(PYTHON) benchmarks/engine_vs_original.py

clean:
	rm -rf _build
