"""The committed claims follow from the committed records by the current rules.

Each chapter of the registry with a committed `results/<chapter>/claims.json` runs its cpu profile
on a copy of results/ with no data to be found: a stored record needs none, so the run only loads
(it must not compute, nor write, any record) and re-derives its claims. Their ids, verdicts and
evidence must be the committed ones; a difference means a rule or a record changed without the
claims being recommitted (execute the chapter's notebook with PROFILE=cpu and commit its claims.json).
"""
from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest

from patchlib.chapters import NAMES, get_chapter

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "results"
CHAPTERS = [name for name in NAMES if (COMMITTED / name / "claims.json").is_file()]


@pytest.fixture(scope="module")
def results_copy(tmp_path_factory) -> Path:
    """results/ as a fresh clone has it: records and claims, no checkpoints, no smoke runs."""
    copy = tmp_path_factory.mktemp("committed") / "results"
    shutil.copytree(COMMITTED, copy, ignore=shutil.ignore_patterns("checkpoints", "*-smoke-*", "claims-smoke.json"))
    return copy


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_registered_chapter_has_committed_claims():
    assert CHAPTERS == list(NAMES)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_committed_claims_follow_from_the_committed_records(chapter, results_copy, tmp_path, monkeypatch):
    no_data = tmp_path / "no-data"  # an empty data root: nothing to compute with, nothing to compare with
    no_data.mkdir()
    monkeypatch.setenv("PATCHLIB_DATA", str(no_data))
    committed = json.loads((COMMITTED / chapter / "claims.json").read_text(encoding="utf8"))
    records_before = {name: data for name, data in _files(results_copy / chapter).items() if name != "claims.json"}

    module = importlib.import_module(get_chapter(chapter).module)
    derived = module.run("cpu", results_dir=results_copy, progress=False)["claims"]

    records_after = {name: data for name, data in _files(results_copy / chapter).items() if name != "claims.json"}
    assert records_after == records_before, f"the {chapter} cpu run computed or changed records: " + ", ".join(
        sorted(set(records_after) ^ set(records_before)) or [n for n in records_after if
                                                              records_after[n] != records_before.get(n)])
    assert [c.id for c in derived] == [c["id"] for c in committed], f"{chapter}: the claims themselves differ"
    by_id = {c["id"]: c for c in committed}
    differences = [f"{c.id}: {field} {by_id[c.id].get(field)!r} committed, {getattr(c, field)!r} derived"
                   for c in derived for field in ("verdict", "evidence") if getattr(c, field) != by_id[c.id].get(field)]
    assert not differences, (f"results/{chapter}/claims.json is not what the current rules derive from the committed "
                             "records:\n  " + "\n  ".join(differences))
