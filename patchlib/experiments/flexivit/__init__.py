"""FlexiViT chapter: rebuild Figures 3 and 4 of Beyer et al. (CVPR 2023) on upsampled CIFAR-10.

Pieces, each a cached record with its own configuration (so each can be recomputed alone with
`force=("measure",)` and so on; `force=True` recomputes all of them):

* `vit_small`, `vit_large`: standard ViTs trained at one patch size each (Fig. 3's ViT-B/16, B/30);
* `flexi`: the same ViT trained as a FlexiViT, one patch size drawn uniformly per step (§3.2), for
  as many epochs as the fixed ViTs (equal epochs, as in the paper);
* `flexi_long` (when `equal_compute`): a FlexiViT trained len(patch_sizes) x as many epochs, so that
  it takes as many steps at each patch size as each fixed ViT at its own (equal compute per size);
* `distill` (when `distill_epochs` > 0): a FlexiViT initialised from `vit_small` and distilled
  from it (§3.5) with the official learning rate and weight decay scaled to the batch;
* `evaluate`: test accuracy of every model at every patch size; the fixed models at the other sizes
  both as the paper's Fig. 3 runs them (kernel and position embeddings resized bilinearly) and, the
  book's addition, with the kernel PI-resized;
* `measure`: throughput and GMACs per patch size (the architecture at a given size is the same
  for every model, so it is measured once per size);
* `figure4`: `vit_small` on test images upsampled by 1-4x, its kernel resampled by each method;
* `frontier` (beyond the papers): the FlexiViT with EViT's token reorganisation switched on, at every
  patch size x keep rate: accuracy, GMACs and measured throughput, for the Pareto frontier of the
  two compute knobs together against each alone.

Seeds: the roles in `seeded_roles` are trained again with further seeds (initialisation, data
order, augmentation and the patch size drawn per step are seeded), so that the claims comparing
FlexiViT with the fixed ViTs can weigh their differences against the seed-to-seed noise.

Training checkpoints (under `checkpoints/`, not committed) hold the weights that `evaluate` and
`figure4` need; forcing a training piece recomputes its record from a complete checkpoint
(delete the checkpoint to retrain).

Files: `config` (published values, sizes per profile), `pieces` (the models and the compute of
each piece), `readers` (the claims), `runs` (the records they read), `knobs` (the frontier record),
`prose` and `tables` (the page's text and tables from the records).
"""
from __future__ import annotations

from functools import partial

from ...data.resize import upsample_splits
from ..common import ChapterRun
from .config import CIFAR_SIZES, DRY_RUN, FIXED, PAPER, SIZES, Size, distill_recipe
from .pieces import (TrainedModels, build_role_model, evaluate_models, evaluation_cadence, figure4, frontier,
                     frontier_model, measure_patch_sizes, own_patch, plain_resized_vit, role_training, roles, run_key,
                     train_config, trained_runs, upsampled_accuracy)
from .readers import (claims, distillation_claims, frontier_claim, frontier_gains, knob_points, pareto, runs_of,
                      seed_sd, training_length)

# The training settings the chapter derives from its Size (the equal-compute FlexiViT, the student): a dry
# run's cost report finds the full-size settings they stand for through these (ChapterRun.full_config).
DERIVED_TRAINING = tuple(partial(role_training, role=role) for role in ("flexi_long", "distill"))

CHAPTER = "flexivit"
PIECES = (*FIXED, "flexi", "flexi_long", "distill", "evaluate", "measure", "figure4", "frontier")

__all__ = ["CHAPTER", "CIFAR_SIZES", "DRY_RUN", "FIXED", "PAPER", "PIECES", "SIZES", "Size", "TrainedModels",
           "build_role_model", "claims", "context", "distill_recipe", "distillation_claims", "evaluate_models",
           "evaluation_cadence", "figure4",
           "frontier", "frontier_claim", "frontier_gains", "frontier_model", "knob_points", "measure_patch_sizes",
           "own_patch", "pareto", "plain_resized_vit", "role_training", "roles", "run", "run_key", "runs_of", "seed_sd",
           "train_config", "trained_runs", "training_length", "upsampled_accuracy"]


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, profile=profile,
                              prepare=lambda data, size: upsample_splits(data, size.image_size),
                              dry_run_overrides=DRY_RUN, derived_configs=DERIVED_TRAINING, **options)


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """Train (or load) every model, then evaluate, measure and rebuild Fig. 4.

    `force`: True recomputes every piece; a set of names from `PIECES` only those.
    Returns {"train": {run key: record}, "evaluate", "measure", "figure4", "frontier": records,
    "claims": [Claim]} (run keys: `run_key`).
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    models = TrainedModels(ctx)
    records = {"train": {run_key(ctx, role, seed): models.record(role, seed) for role, seed in trained_runs(ctx)},
               "evaluate": evaluate_models(ctx, models), "measure": measure_patch_sizes(ctx),
               "figure4": figure4(ctx, models), "frontier": frontier(ctx, models)}
    records["claims"] = ctx.write_claims(claims(records))
    return records
