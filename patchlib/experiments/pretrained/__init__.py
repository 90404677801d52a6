"""The `pretrained` profile (issue 25 §3): the papers' released checkpoints on the papers' benchmarks,
evaluation only. Where the cpu and gpu profiles retrain each chapter at a smaller scale, this profile
checks the published numbers themselves: ImageNet-1k val top-1 of the released ConvMixer, MobileViT,
DeiT-S/EViT and FlexiViT models, ViT Fig. 7 from the released ViT-L/32, and the COCO val AP of the
released ViTPose-B. Each evaluation is a cached record (`pieces`), judged against the paper's value
(`config`, from paper_values.md) by `readers`.

    run("convmixer")                      evaluate what is here, write results/convmixer/claims-pretrained.json
    run("convmixer", dry_run=True)        the same on generated inputs and random official-format weights
    python -m patchlib.experiments.pretrained check     what is missing, where to get it, where to put it

Inputs are read from the data root (ImageNet-1k val, COCO val2017, the detector's boxes) and the
weights folder (`weights_dir`: $PATCHLIB_WEIGHTS, else <data root>/weights). An evaluation whose
inputs are missing is not run; its claim is `not_tested` and names the missing files.
"""
from __future__ import annotations

from pathlib import Path

from ...chapters import get_chapter
from ...data import DataNotFoundError
from ...data.imagenet import ImageNetFileError
from ...models.checkpoints import weights_dir as default_weights_dir
from ..common import ChapterRun
from . import dryrun
from .check import Missing, chapter_missing, detections_path, report
from .config import DRY_RUN, EVALUATIONS, PROFILE, SIZES, TASKS, VITPOSE, Size, chapter_checkpoints
from .pieces import Inputs, coco_record, fig7_record, flexivit_record, imagenet_record
from .readers import claims, comparison_rows

# Where a dry run without a data root writes its generated inputs (build/ is never committed).
DRY_RUN_INPUTS = Path(__file__).resolve().parents[3] / "build" / "dry-run" / "pretrained-inputs"

__all__ = ["DRY_RUN_INPUTS", "DRY_RUN", "EVALUATIONS", "Inputs", "PROFILE", "SIZES", "Size", "claims",
           "comparison_rows", "context", "inputs", "report", "run"]


def context(chapter: str, profile: str = PROFILE, **options) -> ChapterRun:
    get_chapter(chapter)
    if profile != PROFILE:
        raise ValueError(f"profile must be {PROFILE!r} for the released checkpoints' evaluation, got {profile!r}")
    return ChapterRun.resolve(chapter=chapter, sizes=SIZES, pieces=TASKS, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


def inputs(chapter: str, *, data_root=None, weights_dir=None, dry_run: bool = False, download: bool = False) -> Inputs:
    """Where the run reads: in a dry run without a data root, generated data and weights under
    DRY_RUN_INPUTS (written once, `dryrun.write_inputs`; `weights_dir` is not used, so no real weights
    folder is ever written to); else the data root and the weights folder as given."""
    if dry_run and data_root is None:  # generated data and random weights, all under DRY_RUN_INPUTS
        data_root, weights_dir = dryrun.write_inputs(DRY_RUN_INPUTS, chapter_checkpoints(chapter))
    weights = Path(weights_dir).expanduser() if weights_dir is not None else default_weights_dir(data_root)
    return Inputs(Path(data_root).expanduser() if data_root is not None else None, weights, download)


def _read_val(ctx: ChapterRun, where: Inputs) -> tuple[object | None, Missing | None]:
    from .pieces import read_val

    try:
        return read_val(ctx, where), None
    except (DataNotFoundError, ImageNetFileError, ValueError) as error:
        return None, Missing(f"ImageNet-1k val: {error}", "the complete ILSVRC2012 validation set", "6.3 GB",
                             "https://image-net.org (ILSVRC2012_img_val.tar)", "<data root>/imagenet/")


def run(chapter: str, profile: str = PROFILE, *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False, weights_dir=None,
        download: bool = False) -> dict:
    """Evaluate (or load) every runnable evaluation of `chapter`; write its claims-pretrained.json.

    Returns {"evaluations": {id: record or None}, "missing": {id: [Missing]}, "dry_run": bool,
    "inputs": Inputs, "claims": [Claim]}. `download`: let timm or the official URL fetch missing weights.
    """
    ctx = context(chapter, profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir,
                  force=force, progress=progress, dry_run=dry_run)
    where = inputs(chapter, data_root=data_root, weights_dir=weights_dir, dry_run=dry_run, download=download)
    missing = chapter_missing(chapter, where.data_root, where.weights, dry_run, download)
    evaluations, val, val_problem = {}, None, None
    needs_val = [e for e in EVALUATIONS.get(chapter, ()) if not missing[e.id]] or (
        chapter == "vit" and not missing["vit_attention_distance"])
    if needs_val:
        val, val_problem = _read_val(ctx, where)
    for evaluation in EVALUATIONS.get(chapter, ()):
        if val_problem is not None and not missing[evaluation.id]:
            missing[evaluation.id] = [val_problem]
        if missing[evaluation.id]:
            evaluations[evaluation.id] = None
            continue
        piece = imagenet_record if evaluation.task == "imagenet" else flexivit_record
        evaluations[evaluation.id] = piece(ctx, where, evaluation, val)
    if chapter == "vit":
        if val_problem is not None and not missing["vit_attention_distance"]:
            missing["vit_attention_distance"] = [val_problem]
        evaluations["vit_fig7"] = None if missing["vit_fig7"] else fig7_record(
            ctx, where, val if not missing["vit_attention_distance"] else None)
    if chapter == "vitpose":
        for decoder, entry in VITPOSE.items():
            for record_id, boxes in ((f"vitpose_b_{decoder}_gt_boxes", None),
                                     (f"vitpose_b_{decoder}_detected_boxes", detections_path(where.data_root))):
                evaluations[record_id] = None if missing[record_id] else coco_record(
                    ctx, where, record_id, entry["checkpoint"], boxes)
    records = {"evaluations": evaluations, "missing": missing, "dry_run": dry_run, "inputs": where}
    records["claims"] = ctx.write_claims(claims(chapter, records))
    return records
