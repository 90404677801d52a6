"""ViT chapter: train a small ViT and rebuild Figure 7 (Dosovitskiy et al., 2021, §4.5).

Two cached pieces (`pieces.py`): "fig7" (the trained model's Figure 7 analyses: patch-embedding PCA,
position-embedding similarity, attention distance, also at initialisation; its training curve; one
record per seed of `Size.seeds`) and "cost" (parameters,
counted GMACs and measured throughput of the architecture, random weights). `config.py` holds the
paper's values and the sizes per profile, `readers.py` the claims, tables and sentences read from
the records. Later chapters use the trained model through `trained_model` (EViT fine-tunes it) and
its record through `trained_record` (MobileViT compares with it).
"""
from __future__ import annotations

from dataclasses import asdict
from functools import partial

import torch
from torch import nn

from ...train import train
from ..common import ChapterRun, check_checkpoint
from .config import DRY_RUN, PAPER, SIZES, Size
from .pieces import build_classifier, compute_cost, compute_fig7, cost_config, fig7_config
from .readers import claims, low_frequency_share, pos_embed_structure

CHAPTER = "vit"
PIECES = ("fig7", "cost")

__all__ = ["CHAPTER", "DRY_RUN", "PAPER", "PIECES", "SIZES", "Size", "architecture", "build_classifier", "claims",
           "context", "cost_config", "cost_record", "data_sizes", "fig7_config", "low_frequency_share", "pos_embed_structure",
           "run", "trained_model", "trained_record"]


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """Train (or load) the chapter's ViT, compute the three Figure 7 analyses and the model's cost.

    Returns {"fig7": the first seed's record, "seeds": the records of all seeds (the first included),
    "cost": record, "claims": [Claim]}.
    """
    options = dict(device=device, data_root=data_root, results_dir=results_dir, force=force, progress=progress,
                   dry_run=dry_run)
    ctx = context(profile, seed=seed, **options)
    first = _fig7_record(ctx)
    records = {"fig7": first,
               "seeds": [first, *(_fig7_record(context(profile, seed=other, **options)) for other in ctx.seeds[1:])],
               "cost": _cost_record(ctx)}
    records["claims"] = ctx.write_claims(claims(records))
    return records


def _fig7_record(ctx: ChapterRun) -> dict:
    config = fig7_config(ctx)
    return ctx.record("fig7", config, partial(compute_fig7, ctx, ctx.size, config))


def trained_record(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
                   force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """The record of this chapter's trained model (the "fig7" piece) for (profile, seed), for later
    chapters (MobileViT compares with it).

    The stored record is loaded, or computed (and stored) if missing or forced (`force`: True, or a
    set of piece names as in `run`); the chapter's claims are not written.
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    return _fig7_record(ctx)


def cost_record(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
                force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """The record of this chapter's model cost (the "cost" piece: parameters, GMACs, throughput), for
    later chapters (MobileViT tabulates it), loaded or computed like `trained_record`; no claims written."""
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    return _cost_record(ctx)


def _cost_record(ctx: ChapterRun) -> dict:
    return ctx.record("cost", cost_config(ctx), partial(compute_cost, ctx, ctx.size), uses_data=False)


def trained_model(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
                  progress: bool = True, dry_run: bool = False, **model_overrides) -> nn.Module:
    """This chapter's trained ViT for (profile, seed), for later chapters (EViT fine-tunes it).

    Returns the model in eval mode (its inputs are normalised with the training set's channel
    statistics, `patchlib.train.channel_stats`). The weights come from the chapter's training checkpoint; a missing or unfinished one is trained (or resumed)
    with exactly this chapter's settings, at the same path, without writing the chapter's result.
    `model_overrides` change the architecture options that carry no weights (e.g. `evit`).
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir,
                  progress=progress, dry_run=dry_run)
    size = ctx.size
    path = ctx.checkpoint(fig7_config(ctx))
    state = check_checkpoint(path)
    if state is None or state["epoch"] < size.train.epochs:
        torch.manual_seed(ctx.seed)
        train(build_classifier(size), ctx.data(size.n_train, size.n_test), size.train, seed=ctx.seed, device=ctx.device,
              progress=ctx.progress, checkpoint=path)
        state = check_checkpoint(path)
    if state["config"] != asdict(size.train):
        raise ValueError(f"checkpoint {path} was written by another training config; delete it to retrain")
    model = build_classifier(size, **model_overrides)
    model.load_state_dict(state["model"])
    return model.to(ctx.device).eval()


def architecture(profile: str, **overrides) -> nn.Module:
    """This chapter's ViT for `profile`, randomly initialised (`overrides`: e.g. `evit=EViTConfig(...)`)."""
    return build_classifier(SIZES[context(profile).profile], **overrides)


def data_sizes(profile: str, dry_run: bool = False) -> tuple[int | None, int | None]:
    """(n_train, n_test) of this chapter's data for `profile` (None: the whole split)."""
    size = context(profile, dry_run=dry_run).size
    return size.n_train, size.n_test
