"""The Makefile: its variables are checked (by make itself) before anything runs, one writing run
holds the checkout at a time, a failed notebook or book build keeps the last good copy, and an
interrupted book swap never costs the last good book.

Most tests run make in a scratch copy of the build files (`project_copy`) with a stand-in chapter
registry and, for `make book`, a stand-in jupyter-book (`FAKE_JB`) and MathJax fetcher, so they take
a second or two; the package itself comes from PYTHONPATH.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"

# The registry's command-line interface (`python3 patchlib/chapters.py [--toc]`) with two chapters:
# `broken` raises, `ok` runs.
REGISTRY = '''\
import sys
NAMES = ("broken", "ok")
if sys.argv[1:2] == ["--toc"]:  # also `--toc --book-dir BOOK` (Makefile.book)
    print("format: jb-book\\nroot: intro\\nchapters:\\n" + "".join(f"  - file: chapters/{n}\\n" for n in NAMES), end="")
else:
    print(" ".join(NAMES))
'''
# jupyter-book's `build BOOK ... --path-output OUT`: writes OUT/_build/html, or fails with FAKE_JB_FAIL set.
FAKE_JB = '''\
#!/usr/bin/env bash
out=""; while [ $# -gt 0 ]; do [ "$1" = --path-output ] && out=$2; shift; done
if [ -n "${FAKE_JB_FAIL:-}" ]; then echo "fake jupyter-book: a build error" >&2; exit 1; fi
mkdir -p "$out/_build/html" && echo "the new book" > "$out/_build/html/index.html"
'''


def _notebook(*cells: tuple[str, str], parameters: dict | None = None) -> str:
    """A minimal notebook: (cell type, source) pairs; the first code cell is tagged `parameters`.
    With `parameters`, it reads as executed by papermill with them (what the scorecard looks at)."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    if parameters is not None:
        notebook.metadata["papermill"] = {"parameters": parameters}
    tagged = False
    for kind, source in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        if kind == "code" and not tagged:
            cell.metadata["tags"], tagged = ["parameters"], True
        notebook.cells.append(cell)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(notebook)


PARAMETERS = 'profile = "smoke"\nseed = 0\ndevice = "auto"\ndry_run = False'


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """The build files of the project (Makefiles, set-up script, pins) in a scratch folder, with the
    stand-in registry, a `broken` and an `ok` chapter notebook, a stand-in jupyter-book (fake-jb) and
    a MathJax fetcher that does nothing."""
    for name in ("Makefile", "Makefile.book", "requirements.txt"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "scripts", tmp_path / "scripts")
    (tmp_path / "scripts" / "fetch_mathjax.sh").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "patchlib").mkdir()
    (tmp_path / "patchlib" / "chapters.py").write_text(REGISTRY)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "broken.ipynb").write_text(
        _notebook(("code", PARAMETERS), ("code", "raise RuntimeError('boom')")))
    (tmp_path / "notebooks" / "ok.ipynb").write_text(_notebook(("code", PARAMETERS), ("code", "print('ok')")))
    jb = tmp_path / "fake-jb"
    jb.write_text(FAKE_JB)
    jb.chmod(0o755)
    return tmp_path


def _make(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(REPO)} | (env or {})
    env.pop("PATCHLIB_MAKE_LOCK", None)
    return subprocess.run(["make", "--no-print-directory", *args], cwd=folder, env=env, capture_output=True, text=True)


def _book_dir(project: Path, chapters=("broken", "ok")) -> Path:
    """`project`'s book/ with (dummy) executed notebooks of `chapters`, enough for the stand-in build."""
    book = project / "book"
    (book / "chapters").mkdir(parents=True, exist_ok=True)
    (book / "_config.yml").write_text((REPO / "book" / "_config.yml").read_text())  # the scorecard reads it
    for chapter in chapters:
        (book / "chapters" / f"{chapter}.ipynb").write_text(_notebook(("markdown", f"# {chapter}")))
    return book


def _make_book(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`make book` with the stand-in jupyter-book, and no scorecard (PY=true: it is not what is tested)."""
    return _make(project, "book", f"JB={project / 'fake-jb'}", "PY=true", *args, env=env)


# ----------------------------------------------------------------------------------------------
# The variables


def test_the_default_chapters_come_from_the_registry(project_copy):
    """CHAPTERS defaults to `python3 patchlib/chapters.py` of the checkout (here the stand-in's)."""
    from patchlib.chapters import NAMES

    assert "for chapter in broken ok;" in _make(project_copy, "-n", "notebooks").stdout
    assert "which chapters, of: broken ok" in _make(project_copy, "help").stdout
    assert "which chapters, of: " + " ".join(NAMES) + " " in _make(REPO, "help").stdout


@pytest.mark.parametrize("target", ["notebooks", "reproduce", "check-outputs"])
def test_an_unknown_chapter_is_refused_before_any_notebook(project_copy, target):
    result = _make(project_copy, target, "CHAPTERS=ok nosuch")
    assert result.returncode != 0
    assert "CHAPTERS=ok nosuch: unknown chapter(s) nosuch; the chapters are: broken ok" in result.stderr
    assert "==" not in result.stdout and not (project_copy / "build").exists()
    assert "CHAPTERS is empty" in _make(project_copy, target, "CHAPTERS=").stderr


@pytest.mark.parametrize("seed", ["1; touch pwned", "-1", "1.5", "", "1 2", "`touch pwned`"])
def test_the_seed_must_be_a_non_negative_integer_and_runs_nothing(project_copy, seed):
    result = _make(project_copy, "notebooks", f"SEED={seed}", "CHAPTERS=ok")
    assert result.returncode != 0
    assert f"SEED={seed}: the seed must be a non-negative integer" in result.stderr
    assert not (project_copy / "pwned").exists()
    assert not (project_copy / "build").exists() and not (project_copy / ".venv").exists()  # not even setup ran


@pytest.mark.parametrize("value", ["maybe", "y", "2", "", "true false", "'1'"])
def test_dry_run_accepts_only_its_listed_values(project_copy, value):
    result = _make(project_copy, "notebooks", f"DRY_RUN={value}", "CHAPTERS=ok")
    assert result.returncode != 0
    assert f"DRY_RUN={value}: use one of 1 true yes on (a dry run) or 0 false no off (a real run)" in result.stderr
    assert "DRY_RUN=1|true|yes|on  or  0|false|no|off" in _make(project_copy, "help").stdout


@pytest.mark.parametrize("value, dry_run", [("1", True), ("TRUE", True), ("On", True), ("yes", True),
                                            ("0", False), ("False", False), ("OFF", False), ("no", False)])
def test_dry_run_values_in_any_letter_case_reach_the_notebook(project_copy, value, dry_run):
    """`make -n` prints the papermill command (the lock's sub-make runs, the notebook does not)."""
    result = _make(project_copy, "-n", "notebooks", f"DRY_RUN={value}", "CHAPTERS=ok")
    assert result.returncode == 0, result.stderr
    assert f"-p dry_run {dry_run}" in result.stdout


def test_device_and_recompute_are_checked(project_copy):
    assert "DEVICE=cuda 1: name one device" in _make(project_copy, "notebooks", "DEVICE=cuda 1").stderr
    assert "RECOMPUTE=some: use RECOMPUTE=stale" in _make(project_copy, "notebooks", "RECOMPUTE=some").stderr
    printed = _make(project_copy, "-n", "notebooks", "CHAPTERS=ok", "DEVICE=it's", "RECOMPUTE=stale").stdout
    assert """-p device 'it'\\''s'""" in printed and "-p force stale" in printed  # single-quoted for the shell


def test_make_checks_the_profile_before_starting_a_kernel(project_copy):
    result = _make(project_copy, "notebooks", "PROFILE=gpux", "CHAPTERS=broken")
    assert result.returncode != 0
    assert "PROFILE=gpux: unknown profile 'gpux'; choose one of smoke, cpu, gpu" in result.stderr
    assert "== broken" not in result.stdout and not (project_copy / "build" / "runs").exists()


@pytest.mark.slow
def test_a_failed_notebook_keeps_the_last_good_executed_copy(project_copy):
    good = project_copy / "book" / "chapters" / "broken.ipynb"
    good.parent.mkdir(parents=True)
    good.write_text("the last good run")
    result = _make(project_copy, "notebooks", "CHAPTERS=broken")
    assert result.returncode != 0
    assert "broken.ipynb is left as it was" in result.stderr
    assert good.read_text() == "the last good run"
    assert (project_copy / "build" / "runs" / "broken.failed.ipynb").is_file()


@pytest.mark.slow
def test_reproduce_runs_the_notebook_with_its_values_quoted_then_the_book(project_copy):
    """One `make reproduce` holds the lock for its notebooks and its book (no second lock taken); the
    values reach the notebook as they were typed, never as shell code."""
    _book_dir(project_copy, ["broken"])  # `broken` is not run here: an earlier executed copy
    device = "`touch$${IFS}pwned`$$(touch$${IFS}pwned2)"  # one word; make turns $$ into $
    result = _make(project_copy, "reproduce", "CHAPTERS=ok", "SEED=7", f"DEVICE={device}", "DRY_RUN=On",
                   f"JB={project_copy / 'fake-jb'}")
    assert result.returncode == 0, result.stderr[-3000:]
    executed = json.loads((project_copy / "book" / "chapters" / "ok.ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"] == {
        "profile": "smoke", "seed": 7, "device": "`touch${IFS}pwned`$(touch${IFS}pwned2)", "dry_run": True}
    assert not (project_copy / "pwned").exists() and not (project_copy / "pwned2").exists()
    assert (project_copy / "book" / "_build" / "html" / "index.html").read_text() == "the new book\n"


# ----------------------------------------------------------------------------------------------
# One writing run at a time


@pytest.fixture
def held_lock(project_copy):
    """build/make.lock of `project_copy`, held (as a running make would) by this process."""
    lock = project_copy / "build" / "make.lock"
    lock.parent.mkdir()
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield lock


@pytest.mark.parametrize("target", ["notebooks", "book", "reproduce"])
def test_a_second_run_stops_at_once_naming_the_holder(project_copy, held_lock, target):
    _book_dir(project_copy)
    result = _make_book(project_copy) if target == "book" else _make(project_copy, target, "CHAPTERS=ok")
    assert result.returncode != 0
    assert f"make {target}: another run holds the lock (PID {os.getpid()}, see {held_lock})" in result.stderr
    assert not (project_copy / "build" / "runs").exists() and not (project_copy / "book" / "_build").exists()


def test_the_lock_is_free_again_after_a_run(project_copy):
    _book_dir(project_copy)
    assert _make_book(project_copy).returncode == 0
    with open(project_copy / "build" / "make.lock") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if still held


# ----------------------------------------------------------------------------------------------
# The book swap


def test_the_book_toc_is_generated_from_the_registry(project_copy):
    book = _book_dir(project_copy)
    (book / "_toc.yml").write_text("an old toc\n")
    assert _make_book(project_copy).returncode == 0
    assert (book / "_toc.yml").read_text() == subprocess.run(
        ["python3", "patchlib/chapters.py", "--toc"], cwd=project_copy, capture_output=True, text=True).stdout


def test_a_new_book_replaces_the_last_one_and_a_failed_build_keeps_it(project_copy):
    build = _book_dir(project_copy) / "_build"
    (build / "html").mkdir(parents=True)
    (build / "html" / "index.html").write_text("the last good book")
    failed = _make_book(project_copy, env={"FAKE_JB_FAIL": "1"})
    assert failed.returncode != 0 and "the build failed; book/_build/html is left as it was" in failed.stderr
    assert (build / "html" / "index.html").read_text() == "the last good book"
    assert _make_book(project_copy).returncode == 0
    assert (build / "html" / "index.html").read_text() == "the new book\n"
    assert sorted(p.name for p in build.iterdir()) == ["html"]


@pytest.mark.parametrize("new_build", ["fails", "succeeds"])
def test_a_book_swap_stopped_between_its_renames_is_recovered(project_copy, new_build):
    """The state a kill leaves between `mv html html.old` and `mv next/_build/html html`: the last good
    book is only in html.old (and a complete or partial new one in next/). The next build puts html.old
    back before anything else and never deletes it while it is the only good copy."""
    build = _book_dir(project_copy) / "_build"
    (build / "html.old").mkdir(parents=True)
    (build / "html.old" / "index.html").write_text("the last good book")
    (build / "next" / "_build" / "html").mkdir(parents=True)  # what the stopped build left
    result = _make_book(project_copy, env={"FAKE_JB_FAIL": "1"} if new_build == "fails" else {})
    assert "an earlier build was stopped while swapping; book/_build/html is back from html.old" in result.stdout
    if new_build == "fails":
        assert result.returncode != 0 and "book/_build/html is left as it was" in result.stderr
        assert (build / "html" / "index.html").read_text() == "the last good book"
    else:
        assert result.returncode == 0, result.stderr
        assert (build / "html" / "index.html").read_text() == "the new book\n"
    assert sorted(p.name for p in build.iterdir()) == ["html"]


def test_a_swap_stopped_after_its_renames_keeps_the_new_book(project_copy):
    """Stopped before the clean-up: html (new) and html.old (old) both complete; html.old goes."""
    build = _book_dir(project_copy) / "_build"
    for name, text in (("html", "the newer book"), ("html.old", "the older book")):
        (build / name).mkdir(parents=True)
        (build / name / "index.html").write_text(text)
    result = _make_book(project_copy, env={"FAKE_JB_FAIL": "1"})
    assert result.returncode != 0 and "is back from html.old" not in result.stdout
    assert (build / "html" / "index.html").read_text() == "the newer book"
    assert not (build / "html.old").exists()


@pytest.mark.book
def test_a_failed_book_build_keeps_the_last_good_book(tmp_path):
    """A real build error (a broken cross-reference, fatal under -n -W) leaves _build/html alone; the
    mended build replaces it."""
    from patchlib.chapters import NAMES

    book = tmp_path / "book"
    shutil.copytree(BOOK, book, ignore=shutil.ignore_patterns("_build", "chapters", "_vendor"))
    (book / "chapters").mkdir()
    for name in NAMES:
        (book / "chapters" / f"{name}.ipynb").write_text(  # the scorecard reads the committed cpu claims
            _notebook(("markdown", f"# {name}\n\nSee {{ref}}`no-such-label`."),
                      parameters={"profile": "cpu", "results_dir": str(REPO / "results")}))
    last_good = book / "_build" / "html" / "index.html"
    last_good.parent.mkdir(parents=True)
    last_good.write_text("the last good book")
    result = _make(REPO, "book", f"BOOK_DIR={book}")
    assert result.returncode != 0
    assert "the build failed" in result.stderr
    assert last_good.read_text() == "the last good book"
    for name in NAMES:  # mended: the new book replaces the last one
        (book / "chapters" / f"{name}.ipynb").write_text(
            _notebook(("markdown", f"# {name}"), parameters={"profile": "cpu", "results_dir": str(REPO / "results")}))
    result = _make(REPO, "book", f"BOOK_DIR={book}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the last good book" not in last_good.read_text() and (last_good.parent / "chapters" / "vit.html").is_file()
    assert sorted(p.name for p in (book / "_build").iterdir()) == ["html"]


# ----------------------------------------------------------------------------------------------
# CI


@pytest.mark.parametrize("layout", ["shared data", "no shared data", "caller's data"])
def test_ci_points_patchlib_data_at_the_shared_data_beside_the_checkout(tmp_path, layout):
    """.ci/run exports PATCHLIB_DATA=<abs>/shared/data where ../shared/data exists (and the caller set
    none), so the real-data tests run in CI; `make` here is a stand-in that prints it."""
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", checkout / ".ci" / "run")
    if layout != "no shared data":
        (tmp_path / "shared" / "data").mkdir(parents=True)
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "make").write_text('#!/bin/sh\necho "make $* with PATCHLIB_DATA=${PATCHLIB_DATA-unset}"\n')
    (stub / "make").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PATCHLIB_DATA"} | {"PATH": f"{stub}:{os.environ['PATH']}"}
    if layout == "caller's data":
        env["PATCHLIB_DATA"] = "/elsewhere"
    run = subprocess.run(["bash", str(checkout / ".ci" / "run")], cwd=tmp_path, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    expected = {"shared data": str((tmp_path / "shared" / "data").resolve()), "no shared data": "unset",
                "caller's data": "/elsewhere"}[layout]
    assert run.stdout.splitlines()[-1] == f"make test with PATCHLIB_DATA={expected}"


def test_the_package_never_names_the_shared_data_folder():
    """Only .ci/run knows where a machine keeps its data; the code reads PATCHLIB_DATA."""
    named = [str(p.relative_to(REPO)) for p in sorted((REPO / "patchlib").rglob("*.py"))
             if "shared/data" in p.read_text(encoding="utf8")]
    assert named == []
