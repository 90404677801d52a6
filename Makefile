# patchlib: reproduce the chapters, build the book, run the tests.
#   make reproduce [PROFILE=smoke|cpu|gpu] [PATCHLIB_DATA=/path/to/data]   notebooks + book
#   make reproduce PROFILE=gpu DRY_RUN=1                                    a few steps of everything, on any device
#   make reproduce PROFILE=cpu RECOMPUTE=stale                              recompute records of other code or data
#   make reproduce PROFILE=pretrained [DRY_RUN=1]                           the released checkpoints on the papers'
#                                                                         benchmarks (evaluation only; lists what is missing)
#   make test                                                             every test, the notebooks' checked outputs included
# `make help` lists the variables and the values each accepts; every one is checked before anything runs.
SHELL := /bin/bash
PROFILE ?= smoke
SEED ?= 0
DEVICE ?= auto
DRY_RUN ?= 0
RECOMPUTE ?=
# The chapters in reading order, from the one registry (patchlib/chapters.py, standard library only,
# so it answers before the environment exists).
ALL_CHAPTERS := $(shell python3 patchlib/chapters.py)
CHAPTERS ?= $(ALL_CHAPTERS)
BOOK_CHAPTERS ?= book/chapters

VENV := .venv
PY := $(VENV)/bin/python
JB := $(VENV)/bin/jupyter-book
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# --- The variables: checked by make itself (no shell sees a value before it passes), then single-quoted
quote = '$(subst ','\'',$(1))'
lowercase = $(subst A,a,$(subst B,b,$(subst C,c,$(subst D,d,$(subst E,e,$(subst F,f,$(subst G,g,$(subst H,h,$(subst \
    I,i,$(subst J,j,$(subst K,k,$(subst L,l,$(subst M,m,$(subst N,n,$(subst O,o,$(subst P,p,$(subst Q,q,$(subst \
    R,r,$(subst S,s,$(subst T,t,$(subst U,u,$(subst V,v,$(subst W,w,$(subst X,x,$(subst Y,y,$(subst Z,z,$(1)))))))))))))))))))))))))))
without_digits = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst \
    8,,$(subst 9,,$(1)))))))))))
one_word = $(filter 1,$(words $(1)))
DRY_RUN_YES := 1 true yes on
DRY_RUN_NO := 0 false no off
dry_run = $(if $(filter $(DRY_RUN_YES),$(call lowercase,$(DRY_RUN))),True,False)

.PHONY: help setup check-vars notebooks reproduce test test-fast check-outputs check-results clean \
    _notebooks _reproduce _check-outputs

help:
	@echo "make reproduce [PROFILE=smoke|cpu|gpu]  run the notebooks with papermill, then build the book"
	@echo "make reproduce PROFILE=gpu DRY_RUN=1     check the gpu profile: full-size models, a few steps each"
	@echo "make reproduce PROFILE=pretrained        evaluate the papers' released checkpoints on ImageNet-1k val and"
	@echo "                                        COCO val2017 (lists the missing weights and data, runs the rest);"
	@echo "                                        DRY_RUN=1: random weights in each official format, generated images"
	@echo "make notebooks / make book               the two halves of reproduce"
	@echo "make test                               unit tests, the smoke book built and checked"
	@echo "make test-fast                          unit tests only (no notebook, no book)"
	@echo "make screenshots                        headless-Chromium screenshots of the built book"
	@echo "make check-outputs                      refresh the notebook outputs that nbval compares (smoke run)"
	@echo "make check-results                      list committed results computed with code that has changed since"
	@echo "make setup                              create or reuse the pinned virtual environment (.venv)"
	@echo
	@echo "Variables (make refuses a bad value, saying why, before any notebook runs):"
	@echo "  PROFILE=smoke|cpu|gpu|pretrained      the chapters' profile (default smoke); pretrained executes"
	@echo "                                        notebooks/pretrained.ipynb per chapter into <chapter>_pretrained.ipynb"
	@echo "  CHAPTERS='vit evit ...'               which chapters, of: $(ALL_CHAPTERS) (default all; patchlib/chapters.py)"
	@echo "  SEED=N                                a non-negative integer (default 0)"
	@echo "  DEVICE=auto|cpu|cuda|cuda:1|...       one word (default auto: CUDA when available)"
	@echo "  DRY_RUN=1|true|yes|on  or  0|false|no|off   in any letter case (default 0); on: a few steps of everything"
	@echo "  RECOMPUTE=stale|all                   recompute records of other code or data (stale), or every record"
	@echo "  PATCHLIB_DATA=/path                   the data root the notebooks read (default data/)"
	@echo "One make run that writes (notebooks, book, reproduce, check-outputs) at a time per checkout:"
	@echo "a second one stops at once, naming the PID that holds build/make.lock."

setup:
	@bash scripts/setup_env.sh

# Each check is a make function (no shell), so a value such as SEED='1; rm -rf book' is refused
# before any command runs; all of a recipe's lines are expanded before its first runs.
check-vars:
	$(if $(ALL_CHAPTERS),,$(error the chapter registry gave no chapters: `python3 patchlib/chapters.py` must print them))
	$(if $(strip $(CHAPTERS)),,$(error CHAPTERS is empty: name one or more of: $(ALL_CHAPTERS)))
	$(if $(filter-out $(ALL_CHAPTERS),$(CHAPTERS)),$(error CHAPTERS=$(CHAPTERS): unknown chapter(s) \
	    $(filter-out $(ALL_CHAPTERS),$(CHAPTERS)); the chapters are: $(ALL_CHAPTERS) (patchlib/chapters.py)))
	$(if $(and $(call one_word,$(SEED)),$(if $(call without_digits,$(SEED)),,ok)),,$(error \
	    SEED=$(SEED): the seed must be a non-negative integer (0, 1, 2, ...)))
	$(if $(call one_word,$(DEVICE)),,$(error DEVICE=$(DEVICE): name one device, e.g. auto, cpu, cuda or cuda:1))
	$(if $(and $(call one_word,$(DRY_RUN)),$(filter $(DRY_RUN_YES) $(DRY_RUN_NO),$(call lowercase,$(DRY_RUN)))),,$(error \
	    DRY_RUN=$(DRY_RUN): use one of $(DRY_RUN_YES) (a dry run) or $(DRY_RUN_NO) (a real run), in any letter case))
	$(if $(filter-out stale all,$(RECOMPUTE))$(filter-out 0 1,$(words $(RECOMPUTE))),$(error RECOMPUTE=$(RECOMPUTE): use \
	    RECOMPUTE=stale (records computed with other code or data) or RECOMPUTE=all))
	@true

# --- One writing run per checkout: `locked` runs `make <targets>` holding build/make.lock (flock, not
# waiting); a make started under it (reproduce's notebooks and book) runs without locking again.
# Without flock(1) (util-linux; not on macOS by default) it says so and runs unlocked.
LOCK := $(CURDIR)/build/make.lock
locked = if [ "$${PATCHLIB_MAKE_LOCK:-}" = $(call quote,$(LOCK)) ]; then \
	    exec $(MAKE) --no-print-directory $(1); fi; \
	if ! command -v flock >/dev/null; then \
	    echo "make $@: flock not found (util-linux): running without the lock on this checkout" >&2; \
	    PATCHLIB_MAKE_LOCK=$(call quote,$(LOCK)) exec $(MAKE) --no-print-directory $(1); fi; \
	mkdir -p $(call quote,$(dir $(LOCK))) && exec 9<>$(call quote,$(LOCK)) || exit 1; \
	if ! flock -n 9; then \
	    echo "make $@: another run holds the lock (PID $$(cat $(call quote,$(LOCK)) 2>/dev/null || echo unknown)," \
	         "see $(LOCK)); wait for it to finish or stop it, then run this again" >&2; exit 1; fi; \
	echo $$$$ > $(call quote,$(LOCK)); \
	PATCHLIB_MAKE_LOCK=$(call quote,$(LOCK)) exec $(MAKE) --no-print-directory $(1)

# Execute every chapter notebook with papermill into the book (executed copies are not committed).
# The variables and the profile are checked before any kernel starts. A notebook runs into build/runs/
# and replaces the book's copy only when it succeeds; a failed run is kept as build/runs/<chapter>.failed.ipynb.
# PROFILE=pretrained executes notebooks/pretrained.ipynb once per chapter (-p chapter <chapter>) into
# <chapter>_pretrained.ipynb instead (the chapter notebooks are not run), after listing what is missing.
RUNS ?= build/runs
notebooks: check-vars setup
	@$(PY) -m patchlib.profiles $(call quote,$(strip $(PROFILE)))
	@+$(call locked,_notebooks)

_notebooks: check-vars
	@runs=$(call quote,$(RUNS)); book=$(call quote,$(BOOK_CHAPTERS)); \
	mkdir -p "$$book" "$$runs"; \
	$(if $(filter pretrained,$(strip $(PROFILE))),$(if $(filter True,$(dry_run)),,$(PY) -m patchlib.experiments.pretrained \
	    check --chapters $(CHAPTERS) || exit 1;)) \
	for chapter in $(CHAPTERS); do \
	    echo "== $$chapter ($(PROFILE) profile)"; \
	    source="notebooks/$$chapter.ipynb"; page="$$chapter"; \
	    $(if $(filter pretrained,$(strip $(PROFILE))),source=notebooks/pretrained.ipynb; page="$${chapter}_pretrained";) \
	    running="$$runs/$$page.running.ipynb"; \
	    if $(PY) -m papermill "$$source" "$$running" \
	        --cwd notebooks --log-output --no-progress-bar \
	        $(if $(filter pretrained,$(strip $(PROFILE))),-p chapter "$$chapter") \
	        -p profile $(call quote,$(strip $(PROFILE))) -p seed $(SEED) -p device $(call quote,$(strip $(DEVICE))) \
	        -p dry_run $(dry_run) \
	        $(if $(filter stale,$(RECOMPUTE)),-p force stale,)$(if $(filter all,$(RECOMPUTE)),-p force True,); then \
	        mv -f "$$running" "$$book/$$page.ipynb"; \
	    else \
	        mv -f "$$running" "$$runs/$$page.failed.ipynb" 2>/dev/null; \
	        echo "== $$chapter failed: $$book/$$page.ipynb is left as it was;" \
	             "the failed run is in $$runs/$$page.failed.ipynb" >&2; \
	        exit 1; \
	    fi; \
	done

reproduce: check-vars setup
	@+$(call locked,_reproduce)

_reproduce:
	@$(MAKE) --no-print-directory notebooks
	@$(MAKE) --no-print-directory book

# Refresh the outputs nbval compares (cells marked NBVAL_CHECK_OUTPUT) from a smoke run.
check-outputs: check-vars setup
	@+$(call locked,_check-outputs)

_check-outputs: check-vars
	@$(MAKE) --no-print-directory notebooks PROFILE=smoke BOOK_CHAPTERS=$(CURDIR)/build/check-outputs
	@for chapter in $(CHAPTERS); do \
	    $(PY) scripts/store_check_outputs.py "build/check-outputs/$$chapter.ipynb" "notebooks/$$chapter.ipynb"; done

# Records whose source files changed since they were computed (exit 1 if any; see patchlib/results.py).
check-results: setup
	$(PY) -m patchlib.results

# Two pytest workers (pytest-xdist), each computing on one thread; how tests are shared out between them,
# the smoke book built once: tests/conftest.py.
test: setup
	$(PY) -m pytest -ra -n 2 --dist loadfile tests

test-fast: setup
	$(PY) -m pytest -ra -m "not slow and not book" tests

clean: book-clean
	rm -rf $(call quote,$(BOOK_CHAPTERS)) .pytest_cache

include Makefile.book
