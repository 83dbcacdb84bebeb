# One entry point for readers, instructors and CI. Every target sets up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB_DIRS := chapters
XDIST  ?= -n 2

.PHONY: help setup test test-lib test-notebooks lint build book lab serve bench clean

help:
	@echo "make book   - set up .venv and build the site into _build/html"
	@echo "make test   - set up .venv, lint, run library tests, nbval over every notebook, build with -W"
	@echo "make lab    - open the notebooks in JupyterLab"
	@echo "make serve  - preview the built site on http://localhost:8000"
	@echo "make bench  - benchmark convbook against torch"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check lib tests chapters
	$(BIN)/ruff format --check lib tests chapters

test-lib: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -q tests

# Notebooks that time code live run alone, after the others, so that no other notebook competes with their
# timings for the cores (tests/test_notebooks.py checks that every notebook that times code is listed here).
SOLO_NB := chapters/01_convolution_from_scratch.ipynb chapters/dilated/02_implementations.ipynb \
	chapters/pointwise/05_performance.ipynb chapters/separable/04_accuracy_vs_parameters.ipynb \
	chapters/separable/05_flops_are_not_time.ipynb chapters/separable/06_mobilenet.ipynb chapters/performance.ipynb
NBVAL   := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) --dist loadfile -q $(NBVAL) $(addprefix --ignore=,$(SOLO_NB)) $(NB_DIRS)
	$(BIN)/python -m pytest -q $(NBVAL) $(SOLO_NB)

build: $(STAMP)
	$(BIN)/python scripts/build_book.py

book: build
	@echo "Site built: _build/html/index.html"

test: lint test-lib test-notebooks build

lab: $(STAMP)
	$(BIN)/jupyter lab chapters

serve: $(STAMP)
	@test -f _build/html/index.html || $(MAKE) build
	$(BIN)/python -m http.server --directory _build/html 8000

bench: $(STAMP)
	$(BIN)/python -m convbook.bench

clean:
	rm -rf _build

# ---- course material and the site in a browser (issue 7)
CHROMIUM ?= /usr/bin/chromium

.PHONY: student test-site

student: $(STAMP)
	$(BIN)/python scripts/make_student.py --out _build/student

test-site: $(STAMP)
	@test -x $(CHROMIUM) || { echo "make test-site: $(CHROMIUM) not found; install it with: sudo apt-get update && sudo apt-get install -y chromium" >&2; exit 1; }
	@test -f _build/html/index.html || $(MAKE) build
	$(BIN)/python scripts/check_site.py --site _build/html --chromium $(CHROMIUM)
