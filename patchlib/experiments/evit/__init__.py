"""EViT chapter: token reorganisation applied to the ViT chapter's trained model (Liang et al.,
"Not All Patches are What You Need: Expediting Vision Transformers via Token Reorganizations",
ICLR 2022).

The baseline is the ViT chapter's model for the same profile and seed, read from that chapter's
training checkpoint (trained here with exactly that chapter's settings if the checkpoint is
missing, by `patchlib.experiments.vit.trained_model`; the ViT chapter's result file is never
written). Five cached pieces (`pieces.py`), each its own result record so that it can be
recomputed alone (`force={"cost"}`):

* `offshelf`: the baseline evaluated with reorganisation switched on at several keep rates,
  with and without fusion of the inattentive tokens, no training;
* `finetune`: the baseline fine-tuned with reorganisation under EViT's keep-rate schedule
  (§4.1), one record and checkpoint per (keep rate, fusion), plus a control fine-tuned with the
  same budget at keep rate 1, so that extra training is not mistaken for an effect of EViT; the
  points the claims compare (`seeded_points`) are fine-tuned again with further seeds (the data
  order, augmentation and EViT's schedule are seeded; the baseline they start from is the ViT
  chapter's run of the chapter's seed, the same for every fine-tuning seed);
* `resolution`: the baseline fine-tuned the same way at a higher input resolution (its images
  upsampled, its position embeddings interpolated), at the keep rate whose GMACs match the base
  model's at the base resolution, once per seed (the Abstract's higher-resolution claim);
* `cost`: GMACs (counted) and throughput (measured) at every keep rate;
* `tokens`: which patches survive each reorganisation layer, for a few test images.

`config.py` holds the published values and the sizes per profile, `readers.py` the claims, tables
and prose read from the records.
"""
from __future__ import annotations

from functools import partial

from ..common import ChapterRun
from .config import CHAPTER, DRY_RUN, PAPER, SIZES, ZOO_SOURCE, Size
from .pieces import (baseline_state, cost_config, evit_model, finetune, finetune_config, kept_patches,
                     matched_keep_rate, measure_cost, normalization, offshelf, offshelf_config, resolution,
                     resolution_config, resolution_model, tokens, tokens_config, tokens_per_layer)
from .readers import claims, per_seed

PIECES = ("offshelf", "finetune", "resolution", "cost", "tokens")

__all__ = ["CHAPTER", "DRY_RUN", "PAPER", "PIECES", "SIZES", "ZOO_SOURCE", "Size", "baseline_state", "claims",
           "context", "cost_config", "evit_model", "finetune_config", "kept_patches", "matched_keep_rate", "measure_cost",
           "offshelf_config", "per_seed", "resolution_config", "resolution_model", "run", "tokens_config",
           "tokens_per_layer"]


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """All five pieces: {"offshelf", "finetune" (list, control last), "finetune_seeds" (the seeded
    points' further seeds), "resolution" (list, one per seed; empty where the profile has no
    `higher_resolution`), "cost", "tokens", "claims"}.

    `force`: True recomputes everything; a set of piece names (e.g. {"cost"}) only those.
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    size = ctx.size
    stats_once = partial(normalization, {})  # the training images' statistics, computed once per run

    records = {"offshelf": ctx.record("offshelf", offshelf_config(ctx), partial(offshelf, ctx, size, stats_once)),
               "finetune": [], "finetune_seeds": []}
    main_points = [(k, fuse, ctx.seed) for k, fuse in list(size.finetune_points) + [(1.0, None)]]
    seeded_points = [(k, fuse, s) for s in ctx.seeds[1:] for k, fuse in size.seeded_points]
    for keep_rate, fuse, seed in main_points + seeded_points:
        config = finetune_config(ctx, keep_rate, fuse, seed)
        records["finetune" if seed == ctx.seed else "finetune_seeds"].append(
            ctx.record("finetune", config, partial(finetune, ctx, keep_rate, fuse, config, seed)))

    records["resolution"] = [
        ctx.record("resolution", config, partial(resolution, ctx, config, seed))
        for seed in (ctx.seeds if size.higher_resolution else []) for config in [resolution_config(ctx, seed)]]

    cost = cost_config(ctx)
    records["cost"] = ctx.record("cost", cost, partial(measure_cost, ctx, cost), uses_data=False)
    records["tokens"] = ctx.record("tokens", tokens_config(ctx), partial(tokens, ctx, size, stats_once))
    records["claims"] = ctx.write_claims(claims(records))
    return records
