"""MobileViT chapter: v1 and v2, the cost of their attention units, and a same-budget CIFAR-10
comparison (Mehta & Rastegari, ICLR 2022; MobileViTv2, TMLR 2023).

Four kinds of cached records (pieces), each recomputable alone:
- "attention": latency of one attention unit against the number of tokens k, for multi-head
  attention (as in v1) and separable self-attention (v2), with d = 512 and 8 heads on one CPU
  thread (the v2 paper's Fig. 1 protocol), with fitted log-log slopes;
- "models": parameters, counted MACs and measured CPU throughput of every registered
  ImageNet variant (v1 XXS/XS/S, v2 0.5-2.0) at 256 px, random weights;
- "train": the v1 and v2 CIFAR-scale models trained with the ViT chapter's recipe and budget
  (one record each); the ViT chapter's trained model is the reference (its own records);
- "throughput": the three CIFAR models timed in one run with the shared protocol.

`config` holds the papers' values and the profiles, `pieces` the computations, `readers` the
tables, claims and prose read from the records.
"""
from __future__ import annotations

from functools import partial

from .. import vit as vit_chapter
from ..common import ChapterRun
from .config import DRY_RUN, PAPER, SIZES, TABLE_MODELS, Size
from .pieces import (_train_one, attention_config, attention_curve, attention_units, measure_cifar_models,
                     model_table, models_config, throughput_config, time_attention_units, train_config)
from .readers import cifar_table, claims, fitted_slope, slopes, variants_table

CHAPTER = "mobilevit"
PIECES = ("attention", "models", "train", "throughput")

__all__ = ["CHAPTER", "DRY_RUN", "PAPER", "PIECES", "SIZES", "TABLE_MODELS", "Size", "attention_config",
           "attention_curve", "attention_units", "cifar_table", "claims", "context", "fitted_slope",
           "measure_cifar_models", "model_table", "models_config", "run", "slopes", "throughput_config",
           "time_attention_units", "train_config", "variants_table"]


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


def vit_records(profile: str = "smoke", **options) -> dict:
    """The ViT chapter's records this chapter compares with, computed only where missing and
    without writing the ViT chapter's claims: its trained model ("fig7") and its cost ("cost")."""
    return {"fig7": vit_chapter.trained_record(profile, **options), "cost": vit_chapter.cost_record(profile, **options)}


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """Time the attention units, tabulate the ImageNet variants, train (or load) the CIFAR models
    and time them beside the ViT chapter's model (whose records the ViT chapter computes or loads).

    Returns {"attention", "models", "train": {"v1", "v2"}, "vit": the ViT chapter's records,
    "throughput", "claims"}.
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    records = {"attention": ctx.record("attention", attention_config(ctx), partial(attention_curve, ctx),
                                       uses_data=False),
               "models": ctx.record("models", models_config(ctx), partial(model_table, ctx), uses_data=False),
               "train": {version: _train_one(ctx, version) for version in ctx.size.models},
               "vit": vit_records(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir,
                                  progress=progress, dry_run=dry_run),
               "throughput": ctx.record("throughput", throughput_config(ctx), partial(measure_cifar_models, ctx),
                                        uses_data=False)}
    records["claims"] = ctx.write_claims(claims(records))
    return records
