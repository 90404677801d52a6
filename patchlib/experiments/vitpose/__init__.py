"""ViTPose chapter: a plain ViT as a top-down pose estimator, and the decoder ablation of paper
Table 2 (Xu et al., NeurIPS 2022; SimpleBaseline, Xiao et al., ECCV 2018, for the CNN rows).

Five kinds of cached records (pieces), each recomputable alone:
- "data": the pose data's statistics and how hard it is: COCO OKS AP of a trivial baseline that
  predicts the training set's mean pose in every person box;
- "pretrain": one per backbone (the chapter's seed), where the profile pretrains in the book
  (`patchlib.pose.pretrain`; smoke and cpu): the ViT as a masked autoencoder (MAE), the ResNet as
  a classifier, on the profile's natural images (CIFAR-10's in the cpu profile) cropped to the
  pose crop's size: the loss (and accuracy) per epoch, and a checkpoint whose backbone every
  training run of that backbone starts from. Weights named by INIT_ENV replace it;
- "train": {ViT, ResNet} backbone x {classic, simple} decoder, trained with the same recipe and
  budget, for several seeds: val AP/AR per epoch (the curves) and at the end, with the flip test;
- "cost": parameters, counted multiply-adds and measured inference throughput of each
  backbone + decoder at 256x192 (the paper's models) and at the profile's crop size (ours);
- "qualitative": predicted skeletons of the first seed's models on held-out images, and on the
  real coco-mini-val2017 images when that fixture is in the data root (out of domain for
  models trained on synthetic people).

Data: `smoke` and `cpu` train and evaluate on procedural people in COCO's format
(`patchlib.pose.synthetic`), with the same loader and COCOeval as COCO itself; `gpu` reads COCO
train2017/val2017 from the data root.

`config` holds the paper's values and the profiles, `pieces` computes, `readers` turns the records
into tables, claims and sentences; pretrained backbones load through `patchlib.models.init_weights`.
"""
from __future__ import annotations

import functools
from pathlib import Path

# Re-exported: tests/distributed_worker.py builds the smoke model with `chapter.create_model`.
from ...models import create_model  # noqa: F401
from ...models.init_weights import INIT_ENV  # noqa: F401
from ...pose.data import find_coco
from ..common import ChapterRun
from .config import BACKBONE_LABELS, BACKBONES, DECODERS, DRY_RUN, PAPER, SIZES, Size  # noqa: F401
from .pieces import (_coco_mini, _train_one, annotation_files, build_pose_model, cost_config, data_config,  # noqa: F401
                     data_difficulty, measure_costs, pretrain_config, pretrain_plan, pretrain_records,
                     pretrained_model, qualitative, qualitative_config, train_config)
from .readers import ablation_table, claims, cost_table, paired_gaps, paper_table, summary  # noqa: F401

CHAPTER = "vitpose"
PIECES = ("data", "pretrain", "train", "cost", "qualitative")


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


def data_files(profile: str = "smoke", *, data_root=None) -> dict[str, tuple[Path, Path]]:
    """{"train", "val"}: (annotations json, image folder) of `profile`'s data (for figures)."""
    return annotation_files(context(profile, data_root=data_root, progress=False))


def coco_mini_files(data_root=None) -> tuple[Path, Path] | None:
    """(annotations json, image folder) of the real coco-mini-val2017 fixture, if the data root holds it."""
    fixture = _coco_mini(context("smoke", data_root=data_root, progress=False))
    return None if fixture is None else find_coco(fixture.parent, "val2017")


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """Measure the data's difficulty, pretrain (or load) the backbones the profile pretrains, train
    (or load) the backbone x decoder grid for every seed from them, measure the models' cost, and
    predict on held-out images.

    Returns {"data", "pretrain": {backbone: record}, "train": {(backbone, decoder, seed): record}, "cost",
    "qualitative", "claims"}.
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    records = {"data": ctx.record("data", data_config(ctx), functools.partial(data_difficulty, ctx), uses_data=False),
               "pretrain": pretrain_records(ctx),
               "train": {(b, d, s): _train_one(ctx, b, d, s) for s in ctx.seeds for b in BACKBONES for d in DECODERS},
               "cost": ctx.record("cost", cost_config(ctx), functools.partial(measure_costs, ctx), uses_data=False),
               "qualitative": ctx.record("qualitative", qualitative_config(ctx), functools.partial(qualitative, ctx),
                                         uses_data=False)}
    records["claims"] = ctx.write_claims(claims(records))
    return records
