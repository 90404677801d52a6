# patchlib: reproduce the chapters, build the book, run the tests.
#   make reproduce [PROFILE=smoke|cpu|gpu] [PATCHLIB_DATA=/path/to/data]   notebooks + book
#   make reproduce PROFILE=gpu DRY_RUN=1                                    a few steps of everything, on any device
#   make reproduce PROFILE=cpu RECOMPUTE=stale                              recompute records of other code or data
#   make test                                                             every test, nbval included
SHELL := /bin/bash
PROFILE ?= smoke
SEED ?= 0
DEVICE ?= auto
DRY_RUN ?= 0
RECOMPUTE ?=
CHAPTERS ?= vit flexivit evit convmixer mobilevit vitpose
BOOK_CHAPTERS ?= book/chapters

VENV := .venv
PY := $(VENV)/bin/python
JB := $(VENV)/bin/jupyter-book
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)


.PHONY: help setup notebooks reproduce test test-fast check-outputs check-results clean

help:
	@echo "make reproduce [PROFILE=smoke|cpu|gpu]  run the notebooks with papermill, then build the book"
	@echo "make reproduce PROFILE=gpu DRY_RUN=1     check the gpu profile: full-size models, a few steps each"
	@echo "make test                               unit tests, nbval on every notebook, the book build"
	@echo "make test-fast                          unit tests only (no notebook, no book)"
	@echo "make screenshots                        headless-Chromium screenshots of the built book"
	@echo "make check-outputs                      refresh the notebook outputs that nbval compares (smoke run)"
	@echo "make check-results                      list committed results computed with code that has changed since"
	@echo "make setup                              create or reuse the pinned virtual environment (.venv)"

setup:
	@bash scripts/setup_env.sh

# Execute every chapter notebook with papermill into the book (executed copies are not committed).
# The profile is checked before any kernel starts. A notebook runs into build/runs/ and replaces
# the book's copy only when it succeeds; a failed run is kept as build/runs/<chapter>.failed.ipynb.
RUNS ?= build/runs
notebooks: setup
	@$(PY) -m patchlib.profiles "$(PROFILE)"
	@case "$(RECOMPUTE)" in ""|stale|all) ;; \
	    *) echo "RECOMPUTE=$(RECOMPUTE): use RECOMPUTE=stale (records computed with other code or data) or RECOMPUTE=all" >&2; exit 2;; esac
	@mkdir -p $(BOOK_CHAPTERS) $(RUNS)
	@for chapter in $(CHAPTERS); do \
	    echo "== $$chapter ($(PROFILE) profile)"; \
	    running=$(RUNS)/$$chapter.running.ipynb; \
	    if $(PY) -m papermill notebooks/$$chapter.ipynb $$running \
	        --cwd notebooks --log-output --no-progress-bar \
	        -p profile $(PROFILE) -p seed $(SEED) -p device $(DEVICE) \
	        -p dry_run $(if $(filter 1 true True yes,$(DRY_RUN)),True,False) \
	        $(if $(filter stale,$(RECOMPUTE)),-p force stale,)$(if $(filter all,$(RECOMPUTE)),-p force True,); then \
	        mv -f $$running $(BOOK_CHAPTERS)/$$chapter.ipynb; \
	    else \
	        mv -f $$running $(RUNS)/$$chapter.failed.ipynb 2>/dev/null; \
	        echo "== $$chapter failed: $(BOOK_CHAPTERS)/$$chapter.ipynb is left as it was;" \
	             "the failed run is in $(RUNS)/$$chapter.failed.ipynb" >&2; \
	        exit 1; \
	    fi; \
	done

reproduce: notebooks
	@$(MAKE) --no-print-directory book

# Refresh the outputs nbval compares (cells marked NBVAL_CHECK_OUTPUT) from a smoke run.
check-outputs: setup
	@$(MAKE) --no-print-directory notebooks PROFILE=smoke BOOK_CHAPTERS=$(CURDIR)/build/check-outputs
	@for chapter in $(CHAPTERS); do \
	    $(PY) scripts/store_check_outputs.py build/check-outputs/$$chapter.ipynb notebooks/$$chapter.ipynb; done

# Records whose source files changed since they were computed (exit 1 if any; see patchlib/results.py).
check-results: setup
	$(PY) -m patchlib.results

test: setup
	$(PY) -m pytest -ra --nbval-lax tests notebooks

test-fast: setup
	$(PY) -m pytest -ra -m "not slow and not book" tests

clean: book-clean
	rm -rf $(BOOK_CHAPTERS) .pytest_cache

include Makefile.book
