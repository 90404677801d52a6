"""The `pretrained` profile (issue 25 §3-4), offline: its dry run end to end for every chapter (the
generated ImageNet fixture and COCO people, random weights written in each release's official format
and read back through the converters, then notebooks/pretrained.ipynb executed with papermill on the
records), the verdict rule on made-up records, the preflight's list of what is missing, and a missing
file giving a `not_tested` claim that names it (never numbers from other data)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from patchlib.chapters import NAMES as CHAPTERS
from patchlib.claims import load_claims
from patchlib.experiments import pretrained
from patchlib.experiments.pretrained import check, dryrun, readers
from patchlib.experiments.pretrained.config import (CONVMIXER, DETECTIONS_FILE, DRY_RUN_NOTE, TOP1_TOLERANCE,
                                                    chapter_checkpoints)
from patchlib.models.checkpoints import CHECKPOINTS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A dry-run data root (ImageNet fixture, COCO val2017 people) and weights folder for every chapter."""
    root = tmp_path_factory.mktemp("pretrained-inputs")
    names = tuple(name for chapter in CHAPTERS for name in chapter_checkpoints(chapter))
    return dryrun.write_inputs(root, names)


def test_dry_run_weights_are_the_official_layouts():
    """The files a dry run writes hold the official key names (not ours), so loading them exercises the converters."""
    convmixer = dryrun.official_state(dryrun.shrunk(CHECKPOINTS["convmixer_768_32.in1k"]))
    assert "stem.0.weight" in convmixer and not any(k.startswith("patch_embed") for k in convmixer)
    vitpose = dryrun.official_state(dryrun.shrunk(CHECKPOINTS["vitpose_b.coco"]))
    assert "backbone.last_norm.weight" in vitpose and "keypoint_head.final_layer.weight" in vitpose
    assert not any(k.startswith(("backbone.vit.", "decoder.")) for k in vitpose)
    flexivit = dryrun.official_state(dryrun.shrunk(CHECKPOINTS["flexivit_small.1200ep_in1k"]))
    assert flexivit["pos_embed"].shape[1] == 7 * 7  # timm's FlexiViT: no class-token position slot


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_pretrained_profile_dry_runs_and_renders(chapter, inputs, tmp_path, monkeypatch):
    data_root, weights = inputs
    results = tmp_path / "results"
    records = pretrained.run(chapter, dry_run=True, device="cpu", data_root=data_root, weights_dir=weights,
                             results_dir=results, progress=False)
    ran = [record for record in records["evaluations"].values() if record is not None]
    assert ran and not any(records["missing"][key] for key, record in records["evaluations"].items()
                           if record is not None)
    assert all(r["config"]["dry_run"] is True and r["config"]["profile"] == "pretrained" for r in ran)
    claims = load_claims(chapter, "pretrained", results_dir=results)
    assert [c.id for c in claims] == [c.id for c in records["claims"]]
    assert all(c.evidence.startswith(DRY_RUN_NOTE) for c in claims)  # every verdict says it is a dry run
    assert all(c.verdict in ("not_testable_here", "not_tested") for c in claims)

    written = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("PATCHLIB_WEIGHTS", str(weights))
    executed = tmp_path / "book" / "chapters" / f"{chapter}_pretrained.ipynb"
    executed.parent.mkdir(parents=True)
    import papermill

    papermill.execute_notebook(str(REPO / "notebooks" / "pretrained.ipynb"), str(executed), cwd=str(REPO / "notebooks"),
                               progress_bar=False, parameters={"chapter": chapter, "dry_run": True, "device": "cpu",
                                                               "data_root": str(data_root),
                                                               "results_dir": str(results)})
    now = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    assert now == written, "the notebook recomputed or rewrote what run() wrote"
    outputs = [o for cell in json.loads(executed.read_text())["cells"] for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    images = [o for o in outputs if any(mime.startswith("image/") for mime in o.get("data", {}))]
    # the book refuses an image without alt text (book/_ext/patchlib_book.py reads it from here)
    assert all((o.get("metadata", {}).get("patchlib") or {}).get("alt") for o in images), "an image without alt text"
    shown = json.dumps(outputs)
    assert DRY_RUN_NOTE in shown and claims[0].claim[:40] in shown
    from patchlib.scorecard import collect

    (released,) = collect(tmp_path / "book", "_pretrained")  # what the landing page reads
    assert (released.profile, released.dry_run, released.claims) == ("pretrained", True, claims)
    if chapter == "vitpose":  # the detector's boxes: the annotated people and a false positive per image
        detected = records["evaluations"]["vitpose_b_classic_detected_boxes"]["result"]
        assert detected["boxes_evaluated"] > detected["people"]


# ---- the verdict rule, on made-up records ----

def _records(top1: float, se: float, n: int = 50_000, dry_run: bool = False) -> dict:
    evaluation = CONVMIXER[0]
    record = {"config": {"chapter": "convmixer", "name": evaluation.id}, "config_hash": "0" * 16,
              "result": {"top1": top1, "top1_se": se, "top5": 95.0, "n": n, "preprocessing_source": "a test"}}
    return {"evaluations": {evaluation.id: record}, "missing": {evaluation.id: []}, "dry_run": dry_run}


@pytest.mark.parametrize("top1, se, verdict", [
    (81.37, 0.17, "reproduced"),                        # the published value
    (81.37 - TOP1_TOLERANCE, 0.1, "reproduced"),        # at the tolerance's edge
    (81.37 - TOP1_TOLERANCE - 0.02, 0.1, "not_reproduced"),
    (81.0, 0.2, "reproduced"),                          # beyond the tolerance but within 2 s.e.
    (79.0, 0.18, "not_reproduced"),
    (83.0, 0.17, "not_reproduced"),                     # two-sided
])
def test_a_top1_is_judged_against_the_published_value(top1, se, verdict):
    claim = readers.evaluation_claim(CONVMIXER[0], _records(top1, se))
    assert (claim.verdict, claim.our_value, claim.paper_value) == (verdict, round(top1, 2), 81.37)
    assert "max(0.3 points, 2 s.e." in claim.rule and claim.profile == "pretrained"


def test_a_dry_run_is_never_judged():
    claim = readers.evaluation_claim(CONVMIXER[0], _records(81.37, 0.17, dry_run=True))
    assert claim.verdict == "not_testable_here" and claim.evidence.startswith(DRY_RUN_NOTE)
    assert "a dry run" in claim.gate


# ---- what is missing ----

def test_the_preflight_names_each_missing_file_where_to_get_it_and_where_to_put_it(tmp_path, capsys):
    from patchlib.experiments.pretrained.__main__ import main

    weights = tmp_path / "weights"
    text, count = check.report(["convmixer", "vitpose"], tmp_path, weights)
    assert "convmixer_1536_20.in1k.safetensors" in text and "https://huggingface.co/timm/convmixer_1536_20.in1k" in text
    assert f"Put it in {weights}/" in text and "ILSVRC2012_img_val.tar" in text and "6.3 GB" in text
    assert "vitpose-b.pth" in text and DETECTIONS_FILE in text and "val2017.zip" in text
    assert "== convmixer: 0 of 3 evaluations can run" in text and count == 3 + 1 + 2 + 1 + 1
    assert main(["check", "--data-root", str(tmp_path), "--weights", str(weights), "--chapters", "convmixer"]) == 0
    assert main(["check", "--data-root", str(tmp_path), "--weights", str(weights), "--strict"]) == 1
    assert "To download (each once), and where to put it:" in capsys.readouterr().out


def test_missing_weights_give_not_tested_claims_naming_the_file(tmp_path):
    records = pretrained.run("convmixer", device="cpu", data_root=tmp_path, weights_dir=tmp_path / "weights",
                             results_dir=tmp_path / "results", progress=False)
    assert set(records["evaluations"].values()) == {None}
    for claim in records["claims"]:
        assert claim.verdict == "not_tested" and claim.our_value is None
        entry = CHECKPOINTS[next(e for e in CONVMIXER if e.id == claim.id).checkpoints[0]]
        assert f"not run: missing {entry.file}" in claim.evidence
    assert not list((tmp_path / "results").rglob("convmixer_*.json"))  # no record of a run that did not happen


def test_a_real_run_refuses_a_partial_imagenet_rather_than_evaluating_on_it(inputs, tmp_path):
    """The dry run's fixture is a valid ImageNet layout but not the whole validation set: a real run names the
    problem instead of computing a top-1 on it."""
    data_root, _ = inputs
    weights = tmp_path / "weights"
    weights.mkdir()
    for evaluation in CONVMIXER:  # present (never read: the data is refused first)
        (weights / CHECKPOINTS[evaluation.checkpoints[0]].file).write_bytes(b"")
    records = pretrained.run("convmixer", device="cpu", data_root=data_root, weights_dir=weights,
                             results_dir=tmp_path / "results", progress=False)
    assert set(records["evaluations"].values()) == {None}
    assert all(c.verdict == "not_tested" and "ImageNet" in c.evidence and "complete" in c.evidence
               for c in records["claims"])


def test_the_profile_is_registered_and_the_toc_shows_its_pages(tmp_path):
    from patchlib.chapters import toc
    from patchlib.profiles import get_profile

    profile = get_profile("pretrained")
    assert profile.hardware == "1 GPU" and "not yet measured" in profile.budget
    assert toc() == toc(book_dir=tmp_path)  # no page executed: the committed toc
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "evit_pretrained.ipynb").write_text("{}")
    assert "      - file: chapters/evit\n        sections:\n          - file: chapters/evit_pretrained\n" in toc(
        book_dir=tmp_path)
    with pytest.raises(ValueError, match="profile must be 'pretrained'"):
        pretrained.context("vit", "cpu")


def test_detected_boxes_are_read_as_vitpose_reads_them(inputs, tmp_path):
    """Person boxes (category 1) at or above the threshold, on the images of the annotations file, each
    with its score; a file of no such box is refused naming it."""
    from patchlib.experiments.pretrained.detections import detected_people
    from patchlib.pose.data import TopDownDataset, find_coco

    data_root, _ = inputs
    annotations, images = find_coco(data_root, "val2017")
    dataset = TopDownDataset(annotations, images)
    image_id = dataset.persons[0].image_id
    path = tmp_path / DETECTIONS_FILE
    path.write_text(json.dumps([
        {"image_id": image_id, "category_id": 1, "bbox": [1, 2, 30, 60], "score": 0.8},
        {"image_id": image_id, "category_id": 2, "bbox": [1, 2, 30, 60], "score": 0.9},   # not a person
        {"image_id": 10 ** 9, "category_id": 1, "bbox": [1, 2, 30, 60], "score": 0.9},    # not a val image
        {"image_id": image_id, "category_id": 1, "bbox": [5, 5, 0, 60], "score": 0.9}]))  # empty box
    people, scores = detected_people(dataset, path)
    assert [(p.image_id, p.box) for p in people] == [(image_id, (1.0, 2.0, 30.0, 60.0))] and scores == [0.8]
    path.write_text("[]")
    with pytest.raises(ValueError, match=DETECTIONS_FILE):
        detected_people(dataset, path)


def test_a_coco_ap_is_judged_against_table_2():
    def records(ap: float) -> dict:
        record = {"config": {"chapter": "vitpose", "name": "vitpose_b_classic_detected_boxes"}, "config_hash": "0" * 16,
                  "result": {"AP": ap, "AP50": 90.0, "AR": 81.0, "people": 6352, "boxes_evaluated": 104125}}
        return {"evaluations": {"vitpose_b_classic_detected_boxes": record}, "missing": {}, "dry_run": False}

    def verdict(ap: float) -> str:
        return next(c.verdict for c in readers.vitpose_claims(records(ap)) if c.id == "vitpose_b_classic_detected_boxes")

    assert (verdict(75.8), verdict(75.55), verdict(75.4), verdict(77.0)) == (
        "reproduced", "reproduced", "not_reproduced", "not_reproduced")


def test_the_landing_page_says_how_the_released_checkpoints_fared():
    from patchlib.scorecard import ChapterClaims, landing_html

    claim = readers.evaluation_claim(CONVMIXER[0], _records(81.37, 0.17))
    row = ChapterClaims("convmixer", "ConvMixer", "cpu", False, [claim])
    assert "Released checkpoints" not in landing_html([row])
    page = landing_html([row], [ChapterClaims("convmixer", "ConvMixer", "pretrained", False, [claim])])
    assert '<a href="chapters/convmixer_pretrained.html">Released checkpoints</a>: Of 1 finding' in page
    assert "(pretrained profile)" in page


def test_the_command_line_evaluates_released_checkpoints_in_the_pretrained_profile(tmp_path):
    """`python -m patchlib.experiments CHAPTER --profile pretrained` runs the chapter's evaluations (here:
    none, no weights), not the chapter's training run, whose sizes have no pretrained entry."""
    from patchlib.experiments.__main__ import main
    from patchlib.profiles import PROFILES, TRAINING_PROFILES

    assert set(PROFILES) == {*TRAINING_PROFILES, "pretrained"}
    main(["convmixer", "--profile", "pretrained", "--device", "cpu", "--data-root", str(tmp_path),
          "--results-dir", str(tmp_path / "results")])
    claims = load_claims("convmixer", "pretrained", results_dir=tmp_path / "results")
    assert [c.verdict for c in claims] == ["not_tested"] * 3


def test_with_download_only_weights_that_can_be_fetched_are_not_missing(tmp_path):
    """timm's and URL releases may be downloaded; EViT's Google Drive and ViTPose's OneDrive files may not."""
    evit = check.chapter_missing("evit", tmp_path, tmp_path / "weights", download=True)
    assert [m.file for m in evit["deit_s_top1"]] == ["ILSVRC2012_img_val.tar with its labels"]
    assert "evit-deit-s-0.7-fuse.pth" in [m.file for m in evit["evit_keep0.7_fuse_top1"]]
    vitpose = check.chapter_missing("vitpose", tmp_path, tmp_path / "weights", download=True)
    assert "vitpose-b.pth" in [m.file for m in vitpose["vitpose_b_classic_gt_boxes"]]


def test_dry_run_weights_of_other_shrink_settings_are_rewritten(tmp_path):
    name = "convmixer_768_32.in1k"
    _, weights = dryrun.write_inputs(tmp_path, (name,))
    path = weights / dryrun.shrunk(CHECKPOINTS[name]).file
    good = path.read_bytes()
    path.write_bytes(b"written by an older dry run")
    dryrun.write_inputs(tmp_path, (name,))
    assert path.read_bytes() == b"written by an older dry run"  # same settings: kept
    (weights / "dry-run-settings.txt").write_text("depth 2\n")
    dryrun.write_inputs(tmp_path, (name,))
    assert path.read_bytes() == good
