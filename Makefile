# The two commands of the README:
#   make book   set everything up, execute every chapter with papermill, build the book (_build/html)
#   make test   set everything up and run every test (unit tests, nbval, papermill, the book build)
# Both create the virtual environment .venv on first use; nothing else needs installing by hand.

VENV ?= .venv
PYTHON := $(abspath $(VENV))/bin/python
STAMP := $(VENV)/.installed
# Kernels started by papermill and nbval must find this environment's python first.
export PATH := $(abspath $(VENV))/bin:$(PATH)
CHAPTERS := $(sort $(wildcard chapters/*.ipynb))

.PHONY: setup book execute html test benchmark clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

book: execute html

execute: $(STAMP)
	@for nb in $(CHAPTERS); do \
		echo "papermill: $$nb"; \
		$(PYTHON) -m papermill --kernel python3 --cwd chapters "$$nb" "$$nb" || exit 1; \
	done

html: $(STAMP)
	$(abspath $(VENV))/bin/jupyter-book build . -W -n --keep-going

test: $(STAMP)
	$(PYTHON) -m pytest

benchmark: $(STAMP)
	$(PYTHON) benchmarks/engine_vs_original.py

clean:
	rm -rf _build
