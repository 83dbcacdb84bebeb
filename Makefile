# One entry point for readers, instructors and CI. Every target sets up .venv first.
VENV   := .venv
# A venv keeps its programs in bin/ on Linux and macOS, in Scripts/ on Windows (GNU make from Git Bash or MSYS2).
ifeq ($(OS),Windows_NT)
BIN    := $(VENV)/Scripts
PYTHON ?= python
else
BIN    := $(VENV)/bin
PYTHON ?= python3
endif
STAMP  := $(VENV)/.installed
NB_DIRS := chapters
XDIST  ?= -n 2

.PHONY: help setup doctor release test test-lib test-fast test-notebooks lint build book lab serve bench experiments clean

help:
	@echo "make book   - set up .venv and build the site into _build/html"
	@echo "make test   - set up .venv, lint, run library tests, nbval over every notebook, build with -W"
	@echo "make lab    - open the notebooks in JupyterLab"
	@echo "make doctor - say in plain words what is wrong with this environment (Python, venv, versions, torch, threads)"
	@echo "make release - check that the version is the same everywhere (and the tag, once made, on HEAD)"
	@echo "make serve  - preview the built site on http://localhost:8000"
	@echo "make bench  - benchmark convbook against torch"
	@echo "make pdf    - the whole book as one PDF, offline: _build/pdf/convbook.pdf (checked after printing)"
	@echo "make experiments - rerun the reference experiments behind the book's measured claims (slow)"
	@echo "make student - the student handout in _build/student (no solutions, outputs cleared, library included)"
	@echo "make student-site - the website without solutions in _build/student-book/_build/html (CLASS_REPO=URL)"
	@echo "make assignments - nbgrader assignments from the book's notebooks in _build/course"
	@echo "make grade ASSIGNMENT=a2-dilated SUBMISSIONS=DIR - autograde a folder of submissions, print the scores"
	@echo "make feedback ASSIGNMENT=a2-dilated [OUT=DIR] - regenerate feedback after grading by hand (copies to OUT)"

# The venv is made with $(PYTHON) only if it is new enough (lib/convbook/_release.py says what to install otherwise),
# and an existing venv's Python is checked too.
$(STAMP): requirements.txt pyproject.toml lib/convbook/_release.py
	@test -x $(BIN)/python || { $(PYTHON) lib/convbook/_release.py && $(PYTHON) -m venv $(VENV); }
	@$(BIN)/python lib/convbook/_release.py || { echo "$(VENV) was made with that Python: delete it (rm -rf $(VENV)) and run make again with PYTHON=python3.11" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP)

# What is wrong with this environment, in plain words; it installs nothing (make setup does).
doctor:
	@test -x $(BIN)/python || { $(PYTHON) lib/convbook/_release.py; echo "PROBLEM  environment: there is no $(VENV) yet: run make setup" >&2; exit 1; }
	$(BIN)/python lib/convbook/course/doctor.py

# Refuse a release whose version differs anywhere (convbook.course.release); after it passes: git tag -a v<VERSION>.
release: $(STAMP)
	$(BIN)/python -m convbook.course release-check

lint: $(STAMP)
	$(BIN)/ruff check lib tests chapters
	$(BIN)/ruff format --check lib tests chapters

# Every library test, the slow end-to-end ones included.
test-lib: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -q tests

# The quick loop while editing: the library tests without the ones marked slow (pyproject.toml's markers).
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -q -m "not slow" tests

# Notebooks that time code live run alone, after the others, so that no other notebook competes with their
# timings for the cores (tests/test_notebooks.py checks that every notebook that times code is listed here).
SOLO_NB := chapters/01_convolution_from_scratch.ipynb chapters/dilated/02_implementations.ipynb \
	chapters/dilated/04a_wavenet_generation.ipynb \
	chapters/pointwise/05_performance.ipynb chapters/separable/04_accuracy_vs_parameters.ipynb \
	chapters/separable/05_flops_are_not_time.ipynb chapters/separable/06_mobilenet.ipynb chapters/performance.ipynb
NBVAL   := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# Every figure the notebooks show is checked as they run (convbook.plotting.figcheck: labelled axes, no text over text):
# the kernels get an IPython startup file that appends problems to FIG_REPORT, which must end up empty.
FIG_IPYTHONDIR := _build/figcheck-ipython
FIG_REPORT     := _build/figure-problems.txt
NB_ENV := IPYTHONDIR=$(abspath $(FIG_IPYTHONDIR)) CONVBOOK_FIGURE_REPORT=$(abspath $(FIG_REPORT))

test-notebooks: $(STAMP)
	@mkdir -p $(FIG_IPYTHONDIR)/profile_default/startup && rm -f $(FIG_REPORT)
	@cp tests/figcheck_startup.py $(FIG_IPYTHONDIR)/profile_default/startup/00-figcheck.py
	$(NB_ENV) $(BIN)/python -m pytest $(XDIST) --dist loadfile -q $(NBVAL) $(addprefix --ignore=,$(SOLO_NB)) $(NB_DIRS)
	$(NB_ENV) $(BIN)/python -m pytest -q $(NBVAL) $(SOLO_NB)
	$(BIN)/python -m convbook.plotting.figcheck $(FIG_REPORT)

build: $(STAMP)
	$(BIN)/python -m convbook.course build

book: build
	@echo "Site built: _build/html/index.html"

test: lint test-lib test-notebooks build

lab: $(STAMP)
	$(BIN)/jupyter lab chapters

serve: $(STAMP)
	@test -f _build/html/index.html || $(MAKE) build
	$(BIN)/python -m http.server --directory _build/html 8000

# The benchmark on this machine, written to _build/bench/ (the stored references: make experiments).
bench: $(STAMP)
	mkdir -p _build/bench
	$(BIN)/python -m convbook.lab.experiments bench --out _build/bench/bench.json

# The reference experiments behind the book's measured claims (convbook/lab/reference/results/*.json),
# the benchmark's 1-thread variant included.
# Slow: training to convergence over 5+ seeds; run on a quiet machine. One of them: python -m convbook.lab.experiments NAME
experiments: $(STAMP)
	$(BIN)/python -m convbook.lab.experiments all
	$(BIN)/python -m convbook.lab.experiments bench --threads 1

clean:
	rm -rf _build

# ---- course material and the site in a browser (issue 7)
CHROMIUM ?= /usr/bin/chromium

.PHONY: student test-site student-site test-student-site assignments grade feedback

student: $(STAMP)
	$(BIN)/python -m convbook.course handout --out _build/student

# The student website (no solution in its pages or sources) in _build/student-book/_build/html.
# CLASS_REPO=https://github.com/ORG/REPO points its repository, Colab and Binder buttons at the class repository.
CLASS_REPO ?=
student-site: $(STAMP)
	$(BIN)/python -m convbook.course student-site $(if $(CLASS_REPO),--repository $(CLASS_REPO))

test-student-site: student-site
	@test -x $(CHROMIUM) || { echo "make test-student-site: $(CHROMIUM) not found; install it with: sudo apt-get update && sudo apt-get install -y chromium" >&2; exit 1; }
	$(BIN)/python -m convbook.course check-site --student --site _build/student-book/_build/html --chromium $(CHROMIUM) $(if $(CLASS_REPO),--repository $(CLASS_REPO))

# nbgrader assignments made from the book's notebooks: _build/course (release/ is what students get).
assignments: $(STAMP)
	$(BIN)/python -m convbook.course assignments --course _build/course

# Grade one assignment: make grade ASSIGNMENT=a2-dilated SUBMISSIONS=path/with/one/folder/per/student
# Refuses without bubblewrap; SANDBOX=copy grades in a throw-away copy WITHOUT isolation (convbook.course.grade).
grade: $(STAMP)
	@test -n "$(ASSIGNMENT)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade ASSIGNMENT=a2-dilated SUBMISSIONS=DIR" >&2; exit 1; }
	@test -d _build/course/release/$(ASSIGNMENT) || $(MAKE) assignments
	$(BIN)/python -m convbook.course grade $(ASSIGNMENT) $(SUBMISSIONS) --course _build/course --feedback --sandbox $(or $(SANDBOX),bwrap)

# After grading the written answers in the formgrader: make feedback ASSIGNMENT=a2-dilated [OUT=dir/to/return]
feedback: $(STAMP)
	@test -n "$(ASSIGNMENT)" || { echo "usage: make feedback ASSIGNMENT=a2-dilated [OUT=DIR]" >&2; exit 1; }
	$(BIN)/python -m convbook.course feedback $(ASSIGNMENT) --course _build/course $(if $(OUT),--out $(OUT))

test-site: $(STAMP)
	@test -x $(CHROMIUM) || { echo "make test-site: $(CHROMIUM) not found; install it with: sudo apt-get update && sudo apt-get install -y chromium" >&2; exit 1; }
	@test -f _build/html/index.html || $(MAKE) build
	$(BIN)/python -m convbook.course check-site --site _build/html --chromium $(CHROMIUM)
	$(BIN)/python -m convbook.course check-explorer --site _build/html --chromium $(CHROMIUM)

# ---- the PDF edition (issue 15): singlehtml build printed by Debian's chromium, then checked with pypdf
.PHONY: pdf

pdf: $(STAMP)
	@test -x $(CHROMIUM) || { echo "make pdf: $(CHROMIUM) not found; install it with: sudo apt-get update && sudo apt-get install -y chromium" >&2; exit 1; }
	$(BIN)/python -m convbook.course pdf --chromium $(CHROMIUM)
