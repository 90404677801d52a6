"""Fixtures shared by test modules: the smoke-profile book that tests/test_book.py and
tests/test_browser.py both read, built once per test session.

PATCHLIB_BUILT_BOOK=<book>/_build/html points the book tests at a book already built (e.g. the cpu
book of `make reproduce PROFILE=cpu`: `PATCHLIB_BUILT_BOOK=book/_build/html pytest -m book
tests/test_browser.py`) instead of building the smoke book; PATCHLIB_BUILT_BOOK_RESULTS names the
results folder it was built from (default: results/)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"


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
    dest = tmp_path_factory.mktemp("book") / "book"
    # All sources; not earlier outputs (chapters are re-executed, the build is redone).
    shutil.copytree(BOOK, dest, ignore=shutil.ignore_patterns("_build", "chapters", "_vendor", "_generated"))
    subprocess.run(
        ["make", "notebooks", "PROFILE=smoke", f"BOOK_CHAPTERS={dest}/chapters"],
        cwd=REPO, check=True,
    )
    build = subprocess.run(
        ["make", "book", f"BOOK_DIR={dest}"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert build.returncode == 0, f"book build failed:\n{build.stdout[-6000:]}\n{build.stderr[-6000:]}"
    return dest / "_build" / "html"
