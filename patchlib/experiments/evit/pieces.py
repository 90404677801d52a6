"""The EViT chapter's compute pieces, in the order `run()` computes them: the baseline with the
reorganisation switched on (`offshelf`), fine-tuned with it under the keep-rate schedule of §4.1
(`finetune`), at a higher input resolution for the cost of the base resolution (`resolution`), its
cost (`cost`) and the patches it keeps (`tokens`). Each piece has its config builder
(`<piece>_config(ctx)`, whose hash names the record) and its compute function."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ...data import DataSplits, normalize
from ...data.resize import upsample_splits
from ...layers import resize_pos_embed
from ...measure import flops, measure_throughput
from ...models import EViTConfig, evit_layers
from ...models.evit import keep_rate_schedule
from ...results import config_hash
from ...train import channel_stats, evaluate, train
from .. import vit as vit_chapter
from ..common import EMBEDDED_DATA_SEED, ChapterRun
from .config import CHAPTER, Size


# ---- what every piece shares: the points, the baseline, the EViT model ----

def _point_name(keep_rate: float, fuse: bool | None) -> str:
    return f"keep{keep_rate:g}-" + ("control" if fuse is None else "fused" if fuse else "unfused")


def _points(keep_rates) -> list[tuple[float, bool | None]]:
    """(keep rate, fusion) pairs; keep rate 1 drops nothing, so it is one point, fusion None."""
    points = [(k, fuse) for k in sorted(set(keep_rates), reverse=True) if k < 1 for fuse in (True, False)]
    return [(1.0, None)] + points


def _base_config(ctx: ChapterRun, name: str, **entries) -> dict:
    """What every record of this chapter shares: the baseline (ViT chapter run) and the EViT layers."""
    baseline = vit_chapter.fig7_config(vit_chapter.context(ctx.profile, seed=ctx.seed, dry_run=ctx.dry_run))
    return {"chapter": CHAPTER, "profile": ctx.profile, "seed": ctx.seed, "dataset": baseline["dataset"],
            "n_train": baseline["n_train"], "n_test": baseline["n_test"],
            "baseline": {"chapter": baseline["chapter"], "name": baseline["name"],
                         "config_hash": config_hash(baseline)},
            "model": baseline["model"], "model_config": baseline["model_config"],
            "reorganize_layers": list(evit_layers(baseline["model_config"]["depth"])), "name": name} | entries


def evit_model(profile: str, keep_rate: float, fuse: bool | None, state: dict | None = None) -> nn.Module:
    """The profile's ViT (the ViT chapter's architecture) with EViT reorganisation in
    `evit_layers(depth)` (the paper's layers 4, 7, 10 of 12, scaled), optionally with weights."""
    depth = vit_chapter.architecture(profile).config.depth
    model = vit_chapter.architecture(profile, evit=EViTConfig(keep_rate=keep_rate, layers=evit_layers(depth),
                                                              fuse_inattentive=bool(fuse)))
    if state is not None:
        model.load_state_dict(state)
    return model


def baseline_state(ctx: ChapterRun) -> dict:
    """The ViT chapter's trained weights for this run's profile and seed."""
    model = vit_chapter.trained_model(ctx.profile, seed=ctx.seed, device="cpu", data_root=ctx.data_root,
                                         results_dir=ctx.results_dir, progress=ctx.progress, dry_run=ctx.dry_run)
    return model.state_dict()


def tokens_per_layer(model) -> list[int]:
    """Image tokens (a fused token included) left after each reorganisation layer, for one input."""
    size = model.config.image_size
    with torch.no_grad():
        features = model.eval().forward_intermediates(
            torch.zeros(1, model.config.in_channels, size, size, device=next(model.parameters()).device))
    return [k.shape[1] for k in features.kept]


def _evaluate_at(ctx: ChapterRun, state: dict, data: DataSplits, points, *, mean, std) -> list[dict]:
    out = []
    for keep_rate, fuse in points:
        model = evit_model(ctx.profile, keep_rate, fuse, state).to(ctx.device)
        metrics = evaluate(model, data.test, mean=mean, std=std, device=ctx.device)
        out.append({"keep_rate": keep_rate, "fuse": fuse, "acc": metrics["acc"], "loss": metrics["loss"],
                    "tokens_per_layer": tokens_per_layer(model)})
    return out


def normalization(stats: dict, data) -> tuple[list[float], list[float]]:
    """The training images' channel statistics, computed once per run (`stats` holds them)."""
    if "stats" not in stats:
        stats["stats"] = channel_stats(data.train.images)
    return stats["stats"]


# ---- offshelf: the baseline with the reorganisation switched on, no training ----

def offshelf_config(ctx: ChapterRun) -> dict:
    return _base_config(ctx, f"offshelf-{ctx.profile}", keep_rates=list(ctx.size.offshelf_keep_rates))


def offshelf(ctx: ChapterRun, size: Size, normalization: Callable, data: DataSplits) -> dict:
    """The baseline evaluated at every off-the-shelf keep rate, fused and unfused."""
    mean, std = normalization(data)
    return {"points": _evaluate_at(ctx, baseline_state(ctx), data, _points(size.offshelf_keep_rates),
                                   mean=mean, std=std),
            "normalization": {"mean": mean, "std": std}}


# ---- finetune: one record per (keep rate, fusion, seed), the keep-1 control included ----

def finetune_config(ctx: ChapterRun, keep_rate: float, fuse: bool | None, seed: int | None = None) -> dict:
    """One fine-tuning run; `fuse=None` with keep rate 1 is the control. `seed`: a further
    fine-tuning seed (None or the chapter's seed: the main run, whose record has no seed suffix)."""
    size = ctx.size
    if (keep_rate == 1.0) != (fuse is None):
        raise ValueError("keep rate 1 (and only it) is the control, with fuse=None")
    extra = {} if seed in (None, ctx.seed) else {"finetune_seed": seed}
    suffix = f"-s{seed}" if extra else ""
    return _base_config(
        ctx, f"finetune-{ctx.profile}-{_point_name(keep_rate, fuse)}{suffix}", **extra, keep_rate=keep_rate, fuse=fuse,
        train=size.finetune.record(), n_finetune=size.n_finetune,
        schedule={"start": size.schedule_start, "ramp": size.schedule_ramp},
        # the control is also evaluated off the shelf at every keep rate (same extra training, no EViT training)
        eval_keep_rates=list(size.offshelf_keep_rates) if fuse is None else [keep_rate])


def _finetuned_state(ctx: ChapterRun, keep_rate: float, fuse: bool | None, data: DataSplits,
                     seed: int | None = None) -> tuple[dict, dict]:
    """Fine-tune (or load, or resume) one point; returns (weights, `train()` output)."""
    size = ctx.size
    seed = ctx.seed if seed is None else seed
    config = finetune_config(ctx, keep_rate, fuse, seed)
    model = evit_model(ctx.profile, keep_rate, fuse, baseline_state(ctx))
    train_data = data if size.n_finetune is None else DataSplits(
        train=data.train.subset(size.n_finetune, EMBEDDED_DATA_SEED), test=data.test)

    def schedule(step: int, total_steps: int) -> None:  # EViT §4.1: keep rate 1, then cosine to the target
        model.set_keep_rate(keep_rate_schedule(step, total_steps, keep_rate, start=size.schedule_start,
                                               ramp=size.schedule_ramp))

    trained = train(model, train_data, size.finetune, seed=seed, device=ctx.device, progress=ctx.progress,
                    checkpoint=ctx.checkpoint(config), step_hook=schedule)
    return {k: v.cpu() for k, v in model.state_dict().items()}, trained


def finetune(ctx: ChapterRun, keep_rate: float, fuse: bool | None, config: dict, seed: int, data: DataSplits) -> dict:
    """One point fine-tuned, then evaluated at its keep rate (the control: at every off-the-shelf one)."""
    state, trained = _finetuned_state(ctx, keep_rate, fuse, data, seed)
    points = _points(config["eval_keep_rates"]) if fuse is None else [(keep_rate, fuse)]
    evals = _evaluate_at(ctx, state, data, points, mean=trained["mean"], std=trained["std"])
    return {"keep_rate": keep_rate, "fuse": fuse, "history": trained["history"],
            "train_time_s": trained["train_time_s"], "eval": evals,
            "acc": evals[0]["acc"] if fuse is not None else next(e["acc"] for e in evals if e["fuse"] is None)}


# ---- resolution: a higher input resolution at the base resolution's cost (Abstract) ----

def resolution_model(profile: str, image_size: int, keep_rate: float, state: dict | None = None) -> nn.Module:
    """The profile's EViT (fused) at `image_size` px, same patch size: more tokens. `state`: the base
    model's weights, its position embeddings interpolated in 2-D to the larger grid (bicubic, as when a
    ViT is fine-tuned at a higher resolution, ViT §3.2)."""
    depth = vit_chapter.architecture(profile).config.depth
    model = vit_chapter.architecture(profile, image_size=image_size, evit=EViTConfig(
        keep_rate=keep_rate, layers=evit_layers(depth), fuse_inattentive=True))
    if state is not None:
        base_grid = vit_chapter.architecture(profile).grid_size
        state = dict(state, pos_embed=resize_pos_embed(state["pos_embed"], model.grid_size, old_grid=base_grid))
        model.load_state_dict(state)
    return model


def base_gmacs(profile: str) -> float:
    """GMACs of the base model at the base resolution, keep rate 1 (the cost to match)."""
    model = vit_chapter.architecture(profile)
    return flops(model, (3, model.config.image_size, model.config.image_size))["gmacs"]


def matched_keep_rate(profile: str, image_size: int, candidates) -> dict:
    """The largest candidate keep rate whose fused EViT at `image_size` costs at most the base model
    at its own resolution (counted GMACs), with both costs."""
    budget = base_gmacs(profile)
    costs = {k: flops(resolution_model(profile, image_size, k), (3, image_size, image_size))["gmacs"]
             for k in sorted(candidates)}
    within = [k for k, gmacs in costs.items() if gmacs <= budget]
    if not within:
        raise ValueError(f"no keep rate in {sorted(candidates)} brings the {image_size}-px EViT to the base cost "
                         f"({budget:.4f} GMACs); add lower ones to Size.resolution_keep_rates")
    return {"keep_rate": max(within), "gmacs": costs[max(within)], "base_gmacs": budget}


def resolution_config(ctx: ChapterRun, seed: int | None = None) -> dict:
    """One fine-tuning run at `Size.higher_resolution` px with the matched keep rate; `seed`: a further
    fine-tuning seed (None or the chapter's seed: the main run)."""
    size = ctx.size
    matched = matched_keep_rate(ctx.profile, size.higher_resolution, size.resolution_keep_rates)
    extra = {} if seed in (None, ctx.seed) else {"finetune_seed": seed}
    return _base_config(
        ctx, f"resolution-{ctx.profile}-{size.higher_resolution}px" + (f"-s{seed}" if extra else ""), **extra,
        image_size=size.higher_resolution, keep_rate=matched["keep_rate"], fuse=True,
        candidate_keep_rates=sorted(size.resolution_keep_rates), train=size.finetune.record(),
        n_finetune=size.n_finetune, schedule={"start": size.schedule_start, "ramp": size.schedule_ramp})


def resolution(ctx: ChapterRun, config: dict, seed: int, data: DataSplits) -> dict:
    """Fine-tune the baseline at the higher resolution (images bilinearly upsampled, position embeddings
    interpolated) under EViT's keep-rate schedule, as the `finetune` points are, then evaluate it on
    the test images upsampled alike."""
    size, image_size, keep_rate = ctx.size, config["image_size"], config["keep_rate"]
    data = upsample_splits(data, image_size)
    model = resolution_model(ctx.profile, image_size, keep_rate, baseline_state(ctx))
    train_data = data if size.n_finetune is None else DataSplits(
        train=data.train.subset(size.n_finetune, EMBEDDED_DATA_SEED), test=data.test)

    def schedule(step: int, total_steps: int) -> None:  # EViT §4.1, as in `finetune`
        model.set_keep_rate(keep_rate_schedule(step, total_steps, keep_rate, start=size.schedule_start,
                                               ramp=size.schedule_ramp))

    trained = train(model, train_data, size.finetune, seed=seed, device=ctx.device, progress=ctx.progress,
                    checkpoint=ctx.checkpoint(config), step_hook=schedule)
    model.set_keep_rate(keep_rate)
    metrics = evaluate(model, data.test, mean=trained["mean"], std=trained["std"], device=ctx.device)
    matched = matched_keep_rate(ctx.profile, image_size, config["candidate_keep_rates"])
    return {"image_size": image_size, "keep_rate": keep_rate, "fuse": True, "acc": metrics["acc"],
            "loss": metrics["loss"], "gmacs": matched["gmacs"], "base_gmacs": matched["base_gmacs"],
            "tokens_per_layer": tokens_per_layer(model), "history": trained["history"],
            "train_time_s": trained["train_time_s"]}


# ---- cost: GMACs and throughput at every keep rate ----

def cost_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    keep_rates = set(size.offshelf_keep_rates) | {k for k, _ in size.finetune_points}
    return _base_config(ctx, f"cost-{ctx.profile}", keep_rates=sorted(keep_rates), device_type=ctx.device.type,
                        throughput=size.throughput.record())


def measure_cost(ctx: ChapterRun, config: dict) -> dict:
    """GMACs (torch's FLOP counter; explicit attention matmuls and the fusion sum included, the
    top-k and gathers move data and count as free) and throughput (`patchlib.measure` protocol) of
    every (keep rate, fusion), on random inputs and random weights (cost depends on shapes only)."""
    torch.manual_seed(ctx.seed)
    points = _points(config["keep_rates"])
    models = {_point_name(*point): evit_model(ctx.profile, *point).to(ctx.device).eval() for point in points}
    size = next(iter(models.values())).config.image_size
    shape = (3, size, size)
    measured = measure_throughput(models, shape, ctx.size.throughput, device=ctx.device)
    out = []
    for point in points:
        model, speed = models[_point_name(*point)], measured["models"][_point_name(*point)]
        out.append({"keep_rate": point[0], "fuse": point[1], "gmacs": flops(model, shape)["gmacs"],
                    "tokens_per_layer": tokens_per_layer(model), "images_per_s": speed["images_per_s"],
                    "images_per_s_rounds": speed["rounds"]})
    return {"points": out, "protocol": measured["protocol"]}


# ---- tokens: which patches survive each reorganisation layer ----

def tokens_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    finetuned = finetune_config(ctx, size.visual_keep_rate, True)
    return _base_config(ctx, f"tokens-{ctx.profile}", images=size.visual_images, keep_rate=size.visual_keep_rate,
                        finetuned={"name": finetuned["name"], "config_hash": config_hash(finetuned)})


def kept_patches(ctx: ChapterRun, states: dict, data: DataSplits, keep_rate: float, num_images: int, stats) -> dict:
    """For the first test image of each of the first `num_images` classes: the original patch
    positions still held as tokens after each reorganisation layer (fused tokens left out), per model."""
    labels = data.test.labels
    index = [int((labels == c).nonzero()[0]) for c in range(data.test.num_classes) if (labels == c).any()]
    index = index[:num_images]
    images = data.test.images[index]
    mean, std = stats
    out = {"indices": index, "images": images.tolist(), "labels": labels[index].tolist(),
           "classes": [data.test.classes[int(c)] for c in labels[index]], "models": {}}
    for name, state in states.items():
        model = evit_model(ctx.profile, keep_rate, True, state).eval()
        with torch.no_grad():
            x = normalize(images.to(next(model.parameters()).device), mean, std)
            features = model.forward_intermediates(x)
            predictions = model.head(features.tokens[:, 0]).argmax(dim=1)
        out["models"][name] = {"kept": [[sorted(p for p in row if p >= 0) for row in k.tolist()] for k in features.kept],
                               "fused_tokens": [[sum(p < 0 for p in row) for row in k.tolist()] for k in features.kept],
                               "predictions": predictions.tolist()}
    out["grid"] = list(model.grid_size)
    out["patch_size"] = model.config.patch_size
    return out


def tokens(ctx: ChapterRun, size: Size, normalization: Callable, data: DataSplits) -> dict:
    """The fine-tuned model's and the baseline's kept patches at the visualised keep rate."""
    state, _ = _finetuned_state(ctx, size.visual_keep_rate, True, data)
    return kept_patches(ctx, {"finetuned": state, "offshelf": baseline_state(ctx)}, data, size.visual_keep_rate,
                        size.visual_images, normalization(data))
