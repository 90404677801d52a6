"""The landing page counts each paper's findings and the Scorecard page lists every claim of every chapter
the book shows, with counts that add up, read from the claims of the runs that executed the chapters."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from patchlib.chapters import NAMES as CHAPTERS
from patchlib.claims import load_claims
from patchlib.claims import KINDS
from patchlib.scorecard import ScorecardError, collect, counts, landing_html, main, render

REPO = Path(__file__).resolve().parents[1]


def _executed_book(tmp_path: Path, parameters: dict, chapters=CHAPTERS) -> Path:
    """A book folder whose chapters/ holds minimal executed notebooks with papermill's parameters."""
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    shutil.copy(REPO / "book" / "_config.yml", book / "_config.yml")  # title, author, repository URL
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
    assert text.count("<tr data-verdict=") == sum(len(v) for v in expected.values())
    landing = landing_html(chapters)
    every_kind = counts(chapters, kinds=tuple(KINDS))
    for chapter in chapters:
        assert sum(every_kind[chapter.chapter].values()) == len(chapter.claims)
        findings = [claim for claim in chapter.claims if claim.kind == "paper"]
        assert sum(counts(chapters)[chapter.chapter].values()) == len(findings)  # the headline: paper findings
        assert _landing_counts(landing, chapter.chapter) == {v: n for v, n in counts(chapters)[chapter.chapter].items()
                                                             if n}


def _landing_counts(landing: str, chapter: str) -> dict[str, int]:
    """{verdict: count} of the chips in a chapter's row of the landing page."""
    row = re.search(rf'<section class="paper-row" id="paper-{chapter}">(.*?)</section>', landing, re.DOTALL).group(1)
    chips = re.search(r'<p class="paper-verdicts">(.*?)</p>', row, re.DOTALL).group(1)
    return {verdict: int(n) for verdict, n in
            re.findall(r'verdict-chip verdict-(\w+)"[^>]*><span class="chip-count">(\d+)</span>', chips)}


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
    landing = landing_html(chapters)
    assert _landing_counts(landing, "vit") == {"reproduced": 1, "not_testable_here": 1}  # two findings, not six claims
    assert ("implementation checks: 1 of 2 reproduced; sanity checks: 1 of 1 reproduced; beyond the papers: 0 of 1 "
            "reproduced.") in landing
    assert "Of 2 findings of the paper, 1 reproduced; 1 not testable here" in landing  # the outcome, in words
    assert landing.index('class="verdict-legend"') < landing.index('class="paper-row"')  # the legend first


def test_the_scorecard_follows_the_profile_each_chapter_ran_with(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(REPO / "results" / "vit", results / "vit")
    smoke_claims = json.loads((results / "vit" / "claims.json").read_text())[:1]
    smoke_claims[0]["profile"] = "smoke"
    (results / "vit" / "claims-smoke.json").write_text(json.dumps(smoke_claims))
    book = _executed_book(tmp_path, {"profile": "smoke", "results_dir": str(results)}, ["vit"])
    assert main([str(book)]) == 0
    page = (book / "_generated" / "scorecard.md").read_text()
    assert page.count("<tr data-verdict=") == 1 and "<br><small>smoke</small>" in page
    assert "smoke profile" in (book / "_generated" / "landing.md").read_text()


def test_the_scorecard_names_the_registrys_chapters_in_its_order(tmp_path):
    """Chapters and short names come from patchlib/chapters.py, whatever order the files are in."""
    from patchlib.chapters import CHAPTERS as REGISTERED

    book = _executed_book(tmp_path, {"profile": "cpu", "results_dir": str(REPO / "results")}, list(reversed(CHAPTERS)))
    chapters = collect(book)
    assert [c.chapter for c in chapters] == [c for c in CHAPTERS if (REPO / "results" / c / "claims.json").exists()]
    text, landing = render(chapters), landing_html(chapters)
    for chapter in REGISTERED:
        if chapter.name in [c.chapter for c in chapters]:
            assert f'<a href="chapters/{chapter.name}.html#paper-vs-ours" title=' in text
            assert f'<a href="chapters/{chapter.name}.html">{chapter.short}</a>' in landing
    shown = [c.chapter for c in chapters]
    assert [landing.index(f'id="paper-{name}"') for name in shown] == sorted(landing.index(f'id="paper-{name}"')
                                                                          for name in shown)


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


@pytest.mark.parametrize("damage, problem", [
    (lambda record: record.update(config=list(record["config"])), "config is a list"),
    (lambda record: record["provenance"].pop("device"), "provenance lacks device"),
    (lambda record: record["provenance"].update(torch_threads="4"), "provenance.torch_threads is a string"),
])
def test_a_record_damaged_inside_is_named_with_the_fix(tmp_path, capsys, damage, problem):
    """Inner damage in a record the scorecard reads (issue 27, 3.6) is named, never a raw AttributeError."""
    results = tmp_path / "results"
    shutil.copytree(REPO / "results" / "vit", results / "vit", ignore=shutil.ignore_patterns("checkpoints"))
    book = _executed_book(tmp_path, {"profile": "cpu", "results_dir": str(results)}, ["vit"])
    path = next((results / "vit").glob("fig7-cpu-*.json"))
    record = json.loads(path.read_text())
    damage(record)
    path.write_text(json.dumps(record))
    assert main([str(book)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"scorecard: {path} is a damaged result record (") and problem in error
    assert "delete it and execute the vit chapter again" in error and "Traceback" not in error


@pytest.mark.parametrize("content", ['["a claim"]', '{"id": "x"}', '[{"id": "x"}]', '3'])
def test_claims_of_the_wrong_shape_are_named_with_the_fix(tmp_path, capsys, content):
    results = tmp_path / "results"
    shutil.copytree(REPO / "results" / "vit", results / "vit", ignore=shutil.ignore_patterns("checkpoints"))
    book = _executed_book(tmp_path, {"profile": "cpu", "results_dir": str(results)}, ["vit"])
    (results / "vit" / "claims.json").write_text(content)
    assert main([str(book)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"scorecard: {results / 'vit' / 'claims.json'} (the claims of the cpu run")
    assert "make notebooks CHAPTERS=vit PROFILE=cpu" in error and "Traceback" not in error


def test_a_chapters_claims_table_speaks_in_words_and_hides_the_rule_behind_details():
    from patchlib.claims import Claim
    from patchlib.scorecard import claims_html

    judged = Claim(id="a", claim="It is faster", paper_value=1.5, our_value=1.28, unit="x", verdict="not_reproduced",
                   profile="cpu", evidence="results/evit/ (cpu records); 1.28x measured; greater_verdict: "
                   "not_reproduced if below", rule="ratio_verdict within 5%", spread=0.02, n=5)
    untested = Claim(id="b", claim="At higher resolution", paper_value=1.0, our_value=-33.77, unit="pp",
                     verdict="not_tested", profile="cpu", evidence="not run in this profile")
    html = claims_html([judged, untested])._repr_html_()
    assert html.count('<tr class="claim-row"') == 2 and html.startswith('<div class="table-scroll">')
    assert ">not reproduced</span>" in html and ">not tested</span>" in html
    assert "not_reproduced" not in html.replace('verdict-not_reproduced', '').replace('"not_reproduced"', '')
    assert 'data-label="ours − paper">-0.22</td>' in html  # the difference of a judged claim
    assert "-34.77" not in html and 'data-label="ours − paper">—</td>' in html  # none for a claim not tested
    assert "results/evit/" not in html.split("<details")[0]  # the source only in the details
    assert "± 0.02 s.e., n = 5" in html


def test_the_scale_badge_reads_ours_from_the_records_and_the_papers_from_config():
    from patchlib.scorecard import chapter_records, our_scale, paper_scale

    ours = our_scale(chapter_records(REPO / "results", "vit", "cpu", False), REPO / "results")
    assert ours.data.startswith("CIFAR-10 (50,000 training examples)") and ours.parameters.endswith(" M")
    assert ours.epochs == "8 epochs" and "threads" in ours.hardware
    evit = our_scale(chapter_records(REPO / "results", "evit", "cpu", False), REPO / "results")
    assert "of the baseline" in evit.epochs and evit.parameters != "not recorded"  # the ViT it started from
    paper = paper_scale("vit")
    assert paper.parameters == "307 M (ViT-L)" and paper.epochs == "not sourced"
    assert paper_scale("evit").epochs == "not sourced"  # the recipe is read but not among the sourced values
    assert paper_scale("evit").hardware.endswith("(secondary)")


def test_the_scorecard_says_when_and_with_which_code_its_results_were_computed(tmp_path):
    book = _executed_book(tmp_path, {"profile": "cpu", "results_dir": str(REPO / "results")}, ["vit"])
    text = render(collect(book))
    assert re.search(r"\*\*Results:\*\* \d+ records, computed \d{4}-\d\d-\d\d", text)
    assert re.search(r"results/ last changed in commit [0-9a-f]{7,} \(\d{4}-\d\d-\d\d\)", text)
