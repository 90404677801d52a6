"""ConvMixer chapter: the CIFAR-10 training recipe and the kernel-size x patch-size ablation
(Trockman & Kolter, 2023, §3 and the CIFAR-10 experiments of the appendix).

Three kinds of cached records (pieces "grid", "recipe", "throughput"), each recomputable alone:
- one per grid cell (kernel k, patch p): a ConvMixer trained with the recipe, its parameter
  count and GMACs; the cells the kernel claim compares at the cheap patch sizes (`seeded_cells`)
  are trained again with further seeds (initialisation, data order and augmentation seeded);
- the recipe run: one model trained for longer, its accuracy per epoch;
- "throughput": every grid cell timed with the shared protocol (`patchlib.measure`); recompute it
  alone with `force={"throughput"}` when the machine is quiet.

`config` holds the published values and the profiles, `pieces` the computations, `readers` the
tables, claims and prose read from the records.
"""
from __future__ import annotations

from functools import partial

from ..common import ChapterRun
from .config import DRY_RUN, PAPER, README, SIZES, Size, recipe
from .pieces import _train_one, cell_config, measure, recipe_config, throughput_config
from .readers import Gain, cell_accuracies, claims, grid_gains, grid_table, seed_sd

CHAPTER = "convmixer"
PIECES = ("grid", "recipe", "throughput")

__all__ = ["CHAPTER", "DRY_RUN", "Gain", "PAPER", "PIECES", "README", "SIZES", "Size", "cell_accuracies", "cell_config",
           "claims", "context", "grid_gains", "grid_table", "measure", "recipe", "recipe_config", "run", "seed_sd",
           "throughput_config"]


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """Train (or load) every grid cell and the recipe run, and measure the cells' throughput.

    Returns {"grid": [cell records], "grid_seeds": [the seeded cells' further seeds], "recipe": record,
    "throughput": record, "claims": [Claim]}.
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    size = ctx.size
    cells = [cell_config(ctx, k, p) for k, p in size.grid_cells()]
    records = {"grid": [_train_one(ctx, "grid", cell) for cell in cells],
               "grid_seeds": [_train_one(ctx, "grid", cell_config(ctx, k, p, seed))
                              for seed in ctx.seeds[1:] for k, p in size.seeded_cells],
               "recipe": _train_one(ctx, "recipe", recipe_config(ctx))}
    speed = throughput_config(ctx, cells)
    records["throughput"] = ctx.record("throughput", speed, partial(measure, ctx, size, speed), uses_data=False)
    records["claims"] = ctx.write_claims(claims(records))
    return records
