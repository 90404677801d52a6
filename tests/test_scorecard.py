"""The landing page's scorecard lists every claim of every chapter the book shows, with counts
that add up, read from the claims of the runs that executed the chapters."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from patchlib.claims import VERDICTS, load_claims
from patchlib.scorecard import CHAPTERS, collect, counts, main, render

REPO = Path(__file__).resolve().parents[1]


def _executed_book(tmp_path: Path, parameters: dict, chapters=CHAPTERS) -> Path:
    """A book folder whose chapters/ holds minimal executed notebooks with papermill's parameters."""
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    for chapter in chapters:
        notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [f"# The {chapter} chapter\n"]}],
                    "metadata": {"papermill": {"parameters": parameters}}, "nbformat": 4, "nbformat_minor": 5}
        (book / "chapters" / f"{chapter}.ipynb").write_text(json.dumps(notebook))
    return book


def test_the_scorecard_lists_every_committed_cpu_claim(tmp_path):
    committed = [c for c in CHAPTERS if (REPO / "results" / c / "claims.json").exists()]
    assert len(committed) >= 5
    book = _executed_book(tmp_path, {"profile": "cpu", "results_dir": str(REPO / "results")}, committed)
    chapters = collect(book)
    assert [c.chapter for c in chapters] == committed
    expected = {c: [claim.claim for claim in load_claims(c, "cpu", results_dir=REPO / "results")] for c in committed}
    assert {c.chapter: [claim.claim for claim in c.claims] for c in chapters} == expected
    text = render(chapters)
    assert text.count("<tr><td>") == sum(len(v) for v in expected.values())
    for chapter in chapters:
        assert sum(counts(chapters)[chapter.chapter].values()) == len(chapter.claims)
        row = next(line for line in text.splitlines() if f"</chapters/{chapter.chapter}>" in line)
        numbers = [int(n) for n in re.findall(r"\| (\d+) ", row + " ")]
        assert numbers[:-1] == [counts(chapters)[chapter.chapter][v] for v in VERDICTS]
        assert numbers[-1] == len(chapter.claims)


def test_the_scorecard_follows_the_profile_each_chapter_ran_with(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(REPO / "results" / "vit", results / "vit")
    smoke_claims = json.loads((results / "vit" / "claims.json").read_text())[:1]
    smoke_claims[0]["profile"] = "smoke"
    (results / "vit" / "claims-smoke.json").write_text(json.dumps(smoke_claims))
    book = _executed_book(tmp_path, {"profile": "smoke", "results_dir": str(results)}, ["vit"])
    assert main([str(book)]) == 0
    page = (book / "_generated" / "scorecard.md").read_text()
    assert page.count("<tr><td>") == 1 and "| smoke |" in page
