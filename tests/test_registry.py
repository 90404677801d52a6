"""patchlib/chapters.py is the one list of chapters: the command line and the scorecard read it (a
chapter added there is known to both), and no other module of the package or Makefile keeps a copy.
(The Makefile's default and the book's toc: tests/test_make.py and tests/test_book.py.)"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from patchlib.chapters import NAMES

REPO = Path(__file__).resolve().parents[1]

# Registers an extra chapter (as one Chapter entry in patchlib/chapters.py would) before anything
# else imports the registry, with a stand-in package whose run() records its calls.
EXTRA_CHAPTER = '''
import json, sys, types
from pathlib import Path
import patchlib.chapters as registry
registry.CHAPTERS += (registry.Chapter("extra", "ExtraNet", "An Extra Paper (2030)"),)
registry.NAMES += ("extra",)
calls = []
sys.modules["patchlib.experiments.extra"] = types.SimpleNamespace(run=lambda profile, **kw: calls.append(profile))
'''


def _python(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", EXTRA_CHAPTER + script], cwd=tmp_path, env=env, capture_output=True,
                          text=True)


def test_the_command_line_computes_any_registered_chapter(tmp_path):
    run = _python('''
from patchlib.experiments.__main__ import main
main(["extra", "--profile", "smoke", "--device", "cpu"])
assert calls == ["smoke"], calls
''', tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]


def test_the_scorecard_shows_any_registered_chapter_by_its_short_name(tmp_path):
    run = _python('''
from patchlib.scorecard import collect, landing_html, render
book, results = Path("book"), Path("results")
(book / "chapters").mkdir(parents=True)
(results / "extra").mkdir(parents=True)
notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# An Extra Paper\\n"]}],
            "metadata": {"papermill": {"parameters": {"profile": "cpu", "results_dir": str(results)}}},
            "nbformat": 4, "nbformat_minor": 5}
(book / "chapters" / "extra.ipynb").write_text(json.dumps(notebook))
claim = {"id": "a", "claim": "it works", "paper_value": 1.0, "our_value": 1.0, "unit": "", "verdict": "reproduced",
         "profile": "cpu", "evidence": "e"}
(results / "extra" / "claims.json").write_text(json.dumps([claim]))
chapters = collect(book)
assert [c.chapter for c in chapters] == ["extra"], chapters
print(render(chapters))
print(landing_html(chapters))
''', tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert '<a href="chapters/extra.html">ExtraNet</a>' in run.stdout
    assert '<a href="chapters/extra.html#paper-vs-ours" title="An Extra Paper">ExtraNet</a>' in run.stdout


def test_no_other_module_or_makefile_lists_the_chapters():
    """The chapter names side by side (quoted or not) appear only in the registry."""
    listing = re.compile(r"""\bvit\b['"]?,?\s+['"]?flexivit\b""")
    files = [*sorted((REPO / "patchlib").rglob("*.py")), REPO / "Makefile", REPO / "Makefile.book",
             REPO / ".ci" / "run"]
    copies = [str(path.relative_to(REPO)) for path in files
              if path.name != "chapters.py" and listing.search(path.read_text(encoding="utf8"))]
    assert copies == [], f"chapter lists outside patchlib/chapters.py: {copies}"
    assert NAMES[:2] == ("vit", "flexivit")  # what the pattern looks for
