"""The landing page's scorecard lists every claim of every chapter the book shows, with counts
that add up, read from the claims of the runs that executed the chapters."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from patchlib.chapters import NAMES as CHAPTERS
from patchlib.claims import VERDICTS, load_claims
from patchlib.claims import KINDS
from patchlib.scorecard import ScorecardError, collect, counts, main, render

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
    every_kind = counts(chapters, kinds=tuple(KINDS))
    for chapter in chapters:
        assert sum(every_kind[chapter.chapter].values()) == len(chapter.claims)
        findings = [claim for claim in chapter.claims if claim.kind == "paper"]
        assert sum(counts(chapters)[chapter.chapter].values()) == len(findings)  # the headline: paper findings
        row = next(line for line in text.splitlines() if f"</chapters/{chapter.chapter}>` | cpu" in line)
        numbers = [int(n) for n in re.findall(r"\| (\d+) ", row + " ")]
        assert numbers[:-1] == [counts(chapters)[chapter.chapter][v] for v in VERDICTS]
        assert numbers[-1] == len(findings)


def test_the_headline_counts_paper_findings_and_other_kinds_apart(tmp_path):
    from patchlib.claims import Claim
    from patchlib.scorecard import ChapterClaims

    def claim(kind, verdict):
        return Claim(id=f"{kind}-{verdict}", claim="c", paper_value=None, our_value=None, unit="", verdict=verdict,
                     profile="cpu", evidence="e", kind=kind)

    chapters = [ChapterClaims("vit", "ViT", "cpu", False, [
        claim("paper", "reproduced"), claim("paper", "not_testable_here"), claim("implementation", "reproduced"),
        claim("implementation", "not_reproduced"), claim("sanity", "reproduced"), claim("beyond", "not_reproduced")])]
    assert counts(chapters)["vit"]["reproduced"] == 1 and sum(counts(chapters)["vit"].values()) == 2
    text = render(chapters)
    headline = next(line for line in text.splitlines() if "</chapters/vit>` | cpu" in line)
    assert headline.endswith("| 2 |")  # two findings, not six claims
    others = next(line for line in text.splitlines() if "</chapters/vit>` | 1 of 2" in line)
    assert others.endswith("| 1 of 2 | 1 of 1 | 0 of 1 |")


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


def test_the_scorecard_names_the_registrys_chapters_in_its_order(tmp_path):
    """Chapters and short names come from patchlib/chapters.py, whatever order the files are in."""
    from patchlib.chapters import CHAPTERS as REGISTERED

    book = _executed_book(tmp_path, {"profile": "cpu", "results_dir": str(REPO / "results")}, list(reversed(CHAPTERS)))
    chapters = collect(book)
    assert [c.chapter for c in chapters] == [c for c in CHAPTERS if (REPO / "results" / c / "claims.json").exists()]
    text = render(chapters)
    for chapter in REGISTERED:
        if chapter.name in [c.chapter for c in chapters]:
            assert f"| {{doc}}`{chapter.short} </chapters/{chapter.name}>` |" in text


@pytest.mark.parametrize("damage", ["truncated", "not a notebook"])
def test_a_damaged_executed_notebook_is_named_with_the_fix(tmp_path, capsys, damage):
    book = _executed_book(tmp_path, {"profile": "cpu", "results_dir": str(REPO / "results")}, ["vit", "evit"])
    path = book / "chapters" / "evit.ipynb"
    path.write_text(path.read_text()[:40] if damage == "truncated" else "[1, 2]")
    with pytest.raises(ScorecardError, match="evit.ipynb is not a readable executed notebook") as raised:
        collect(book)
    assert "make notebooks CHAPTERS=evit" in str(raised.value)
    assert main([str(book)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"scorecard: {path} is not a readable executed notebook") and "Traceback" not in error
    assert not (book / "_generated" / "scorecard.md").exists()


def test_damaged_or_missing_claims_are_named_with_the_fix(tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(REPO / "results" / "vit", results / "vit")
    book = _executed_book(tmp_path, {"profile": "cpu", "results_dir": str(results)}, ["vit"])
    (results / "vit" / "claims.json").write_text('[{"id": ')
    assert main([str(book)]) == 1
    error = capsys.readouterr().err
    assert f"{results / 'vit' / 'claims.json'} (the claims of the cpu run" in error
    assert "make notebooks CHAPTERS=vit PROFILE=cpu" in error
    (results / "vit" / "claims.json").unlink()
    assert main([str(book)]) == 1 and "could not be read (FileNotFoundError" in capsys.readouterr().err
