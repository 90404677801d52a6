"""Fixtures shared by test modules: the smoke-profile book that tests/test_book.py and
tests/test_browser.py both read, built once per test run (under pytest-xdist, by the first worker
that asks; the others wait for it and read the same book).

PATCHLIB_BUILT_BOOK=<book>/_build/html points the book tests at a book already built (e.g. the cpu
book of `make reproduce PROFILE=cpu`: `PATCHLIB_BUILT_BOOK=book/_build/html pytest -m book
tests/test_browser.py`) instead of building the smoke book; PATCHLIB_BUILT_BOOK_RESULTS names the
results folder it was built from (default: results/)."""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# Under pytest-xdist (`make test` runs two workers on 2 cores) each worker, and what it starts (kernels,
# make, torchrun), computes on one thread: two torch processes of two threads each on two cores slow each
# other several times over.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"

# How `make test` (pytest -n 2) shares tests out: a test file's tests run on one worker, except that the
# files reading the smoke book (and the Makefile's tests) run on the same worker (so one build serves
# them all, and no worker waits for another's build) and each chapter's gpu dry run, the longest tests, is a share of its own.
# test_make.py runs `make book` in this checkout, whose lock the smoke book's build holds: never at once.
BOOK_TEST_FILES = ("tests/test_book.py", "tests/test_browser.py", "tests/test_make.py")


# The longest shares first (the gpu dry runs, the smoke book), so that the two workers finish together.
LONGEST_FIRST = ("tests/test_dry_run.py", *BOOK_TEST_FILES)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within each file is kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            if scope in BOOK_TEST_FILES:
                return "book"
            return nodeid if scope == "tests/test_dry_run.py" else scope

    return Scheduling(config, log)


@pytest.fixture(scope="session")
def executed_book(tmp_path_factory) -> Path:
    """Build a copy of the book from freshly executed smoke-profile notebooks; return its
    `_build/html` folder (the book's sources are its parents[1]); or the book PATCHLIB_BUILT_BOOK names."""
    if os.environ.get("PATCHLIB_BUILT_BOOK"):
        built = Path(os.environ["PATCHLIB_BUILT_BOOK"]).resolve()
        assert (built / "index.html").is_file(), f"PATCHLIB_BUILT_BOOK={built}: no index.html there (make book)"
        # The records that book was built from: PATCHLIB_BUILT_BOOK_RESULTS, else the repository's results/.
        os.environ["PATCHLIB_RESULTS"] = os.environ.get("PATCHLIB_BUILT_BOOK_RESULTS") or str(REPO / "results")
        return built
    # One build per run: under pytest-xdist the workers' temporary folders share a parent.
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    dest, failed = shared / "smoke-book" / "book", shared / "smoke-book" / "failed.txt"
    with open(shared / "smoke-book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second worker waits here for the first one's build
        if failed.exists():
            pytest.fail(f"the smoke book's build failed (in another worker):\n{failed.read_text()}")
        if not (dest / "_build" / "html" / "index.html").is_file():
            problem = _build_smoke_book(dest)
            if problem:
                failed.write_text(problem)
                pytest.fail(problem)
    return dest / "_build" / "html"


def _build_smoke_book(dest: Path) -> str | None:
    """Copy the book's sources to `dest`, execute the smoke notebooks into it and build it; the
    failure's output, or None."""
    if dest.exists():
        shutil.rmtree(dest)  # a build interrupted earlier in this run
    # All sources; not earlier outputs (chapters are re-executed, the build is redone).
    shutil.copytree(BOOK, dest, ignore=shutil.ignore_patterns("_build", "chapters", "_vendor", "_generated"))
    notebooks = subprocess.run(["make", "notebooks", "PROFILE=smoke", f"BOOK_CHAPTERS={dest}/chapters"],
                               cwd=REPO, capture_output=True, text=True)
    if notebooks.returncode != 0:
        return f"make notebooks PROFILE=smoke failed:\n{notebooks.stdout[-6000:]}\n{notebooks.stderr[-6000:]}"
    build = subprocess.run(["make", "book", f"BOOK_DIR={dest}"], cwd=REPO, capture_output=True, text=True)
    if build.returncode != 0:
        return f"book build failed:\n{build.stdout[-6000:]}\n{build.stderr[-6000:]}"
    return None
