"""EViT chapter: token reorganisation applied to the ViT chapter's trained model (Liang et al.,
"Not All Patches are What You Need: Expediting Vision Transformers via Token Reorganizations",
ICLR 2022).

The baseline is the ViT chapter's model for the same profile and seed, read from that chapter's
training checkpoint (trained here with exactly that chapter's settings if the checkpoint is
missing, by `patchlib.experiments.vit.trained_model`; the ViT chapter's result file is never
written). Four cached pieces, each its own result record so that it can be recomputed alone
(`force={"cost"}`):

* `offshelf`: the baseline evaluated with reorganisation switched on at several keep rates,
  with and without fusion of the inattentive tokens, no training;
* `finetune`: the baseline fine-tuned with reorganisation under EViT's keep-rate schedule
  (§4.1), one record and checkpoint per (keep rate, fusion), plus a control fine-tuned with the
  same budget at keep rate 1, so that extra training is not mistaken for an effect of EViT; the
  points the claims compare (`seeded_points`) are fine-tuned again with further seeds (the data
  order, augmentation and EViT's schedule are seeded; the baseline they start from is the ViT
  chapter's run of the chapter's seed, the same for every fine-tuning seed);
* `cost`: GMACs (counted) and throughput (measured) at every keep rate;
* `tokens`: which patches survive each reorganisation layer, for a few test images.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..claims import (Claim, binomial_se, claim_spread, combined_verdict, mean_and_error, plus_minus,
                      seeded_verdict, verdict_from_checks)
from ..data import DataSplits, normalize
from ..measure import ThroughputProtocol, flops, measure_throughput
from ..models import EViTConfig, evit_layers
from ..models.evit import keep_rate_schedule
from ..results import config_hash
from ..train import TrainConfig, channel_stats, evaluate, train
from . import vit as vit_chapter
from .common import EMBEDDED_DATA_SEED, ChapterRun

CHAPTER = "evit"
PIECES = ("offshelf", "finetune", "cost", "tokens")
CODE = vit_chapter.CODE

# Published values (../shared/paper_values.md §2). The official repository's Model Zoo: EViT-DeiT-S
# on ImageNet-1k (224 px, 196 tokens, reorganisation in layers 4, 7, 10, 300 epochs, batch 16x128).
ZOO_SOURCE = "youweiliang/evit README.md, Model Zoo (official repository)"
PAPER = {
    "model_zoo": {"source": ZOO_SOURCE, "status": "confirmed",
                  "unit": "% top-1 / % top-5 / GMACs / img/s / M parameters", "value": [
        {"fusion": True, "keep_rate": 0.9, "acc1": 79.8, "acc5": 95.0, "gmacs": 4.0, "throughput": 3197, "params_m": 22.1},
        {"fusion": True, "keep_rate": 0.8, "acc1": 79.8, "acc5": 94.9, "gmacs": 3.5, "throughput": 3619, "params_m": 22.1},
        {"fusion": True, "keep_rate": 0.7, "acc1": 79.5, "acc5": 94.8, "gmacs": 3.0, "throughput": 4385, "params_m": 22.1},
        {"fusion": True, "keep_rate": 0.6, "acc1": 78.9, "acc5": 94.5, "gmacs": 2.6, "throughput": 4722, "params_m": 22.1},
        {"fusion": True, "keep_rate": 0.5, "acc1": 78.5, "acc5": 94.2, "gmacs": 2.3, "throughput": 5408, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.9, "acc1": 79.9, "acc5": 94.9, "gmacs": 4.0, "throughput": 3201, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.8, "acc1": 79.7, "acc5": 94.8, "gmacs": 3.5, "throughput": 3772, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.7, "acc1": 79.4, "acc5": 94.7, "gmacs": 3.0, "throughput": 4249, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.6, "acc1": 79.1, "acc5": 94.5, "gmacs": 2.6, "throughput": 4967, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.5, "acc1": 78.4, "acc5": 94.1, "gmacs": 2.3, "throughput": 5325, "params_m": 22.1},
    ]},
    # The abstract names no keep rate; paper_values.md matches the headline to keep rate 0.7 with fusion.
    "headline": {"value": {"speedup": 1.5, "delta_acc": -0.3}, "unit": "x throughput / pp top-1", "status": "confirmed",
                 "source": "EViT paper, Abstract: \"the inference speed of DeiT-S is increased by 50% while its "
                           "recognition accuracy is decreased by only 0.3%\""},
    "same_cost_gain": {"value": 1, "unit": "pp top-1", "status": "confirmed",
                       "source": "EViT paper, Abstract (higher-resolution inputs at DeiT-S's cost)"},
    "deit_s_baseline": {"value": {"throughput": 2923, "acc1": 79.8, "gmacs": 4.6}, "unit": "img/s / % / GMACs",
                        "status": "secondary", "source": "the EViT paper's DeiT-S row as quoted by a third-party "
                                                         "review (secondary)"},
}


@dataclass(frozen=True, kw_only=True)
class Size:
    finetune: TrainConfig                        # fine-tuning from the baseline, per (keep rate, fusion)
    n_finetune: int | None                       # fine-tuning images (None: the baseline's whole training set)
    finetune_points: tuple[tuple[float, bool], ...]  # (keep rate, fusion); the keep-1 control is added
    schedule_start: float                        # keep-rate schedule: fraction of steps at keep rate 1, ...
    schedule_ramp: float                         # ... then cosine down to the target over this fraction
    offshelf_keep_rates: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    visual_images: int = 6                       # test images of the token visualisation
    visual_keep_rate: float = 0.7                # fine-tuned (fused) model shown in the visualisation
    throughput: ThroughputProtocol = ThroughputProtocol()
    seeds: int = 1                               # fine-tuning seeds of `seeded_points`: seed, seed + 1, ...
    seeded_points: tuple[tuple[float, bool | None], ...] = ((0.5, True), (0.5, False), (0.7, True), (1.0, None))


SIZES = {
    # Seconds: the ViT chapter's smoke model, fine-tuned on 384 images per point (whose normalisation
    # statistics, those of the subset, differ slightly from the baseline's: smoke only), batch-32 timing.
    "smoke": Size(finetune=TrainConfig(epochs=1, batch_size=64, lr=2e-4, warmup_epochs=0.1), n_finetune=384,
                  finetune_points=((0.5, True), (0.7, True), (0.5, False)),
                  schedule_start=0.0, schedule_ramp=0.5, seeds=2,
                  throughput=ThroughputProtocol(batch_size=32, warmup=1, repeats=2, rounds=1)),
    # ~50 min on 2 CPU cores: the ViT chapter's cpu model (6 layers, width 128, 8 heads, 64 tokens),
    # one epoch of CIFAR-10 per point (2-5 min each, 8 points, then the 4 seeded points with 2 more
    # seeds), the keep rate ramping down over its first half; evaluations ~15 s each; cost ~1-2 min.
    "cpu": Size(finetune=TrainConfig(epochs=1, batch_size=128, lr=2e-4, warmup_epochs=0.1), n_finetune=None,
                finetune_points=((0.5, True), (0.6, True), (0.7, True), (0.8, True), (0.9, True),
                                 (0.5, False), (0.7, False)),
                schedule_start=0.0, schedule_ramp=0.5, seeds=3),
    # The official fine-tuning recipe (youweiliang/evit finetune.sh: --lr 2e-5 --weight-decay 1e-6
    # --warmup-epochs 0 --shrink_start_epoch 0 --shrink_epochs 0 --epochs 30) on the ViT chapter's
    # 12-layer gpu model: the target keep rate from the first step, cosine lr decay (to 0 here; the
    # official schedule stops at --min-lr 2e-6), batch 512 (the official 8 x 256). Not yet run.
    "gpu": Size(finetune=TrainConfig(epochs=30, batch_size=512, lr=2e-5, weight_decay=1e-6, warmup_epochs=0,
                                     augment="randaugment"),
                n_finetune=None,
                finetune_points=tuple((k, fuse) for fuse in (True, False) for k in (0.5, 0.6, 0.7, 0.8, 0.9)),
                schedule_start=0.0, schedule_ramp=0.0),
}


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


def offshelf_config(ctx: ChapterRun) -> dict:
    return _base_config(ctx, f"offshelf-{ctx.profile}", keep_rates=list(ctx.size.offshelf_keep_rates))


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
        train=asdict(size.finetune), n_finetune=size.n_finetune,
        schedule={"start": size.schedule_start, "ramp": size.schedule_ramp},
        # the control is also evaluated off the shelf at every keep rate (same extra training, no EViT training)
        eval_keep_rates=list(size.offshelf_keep_rates) if fuse is None else [keep_rate])


def cost_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    keep_rates = set(size.offshelf_keep_rates) | {k for k, _ in size.finetune_points}
    return _base_config(ctx, f"cost-{ctx.profile}", keep_rates=sorted(keep_rates), device_type=ctx.device.type,
                        throughput=size.throughput.record())


def tokens_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    finetuned = finetune_config(ctx, size.visual_keep_rate, True)
    return _base_config(ctx, f"tokens-{ctx.profile}", images=size.visual_images, keep_rate=size.visual_keep_rate,
                        finetuned={"name": finetuned["name"], "config_hash": config_hash(finetuned)})


# ---- models ----

def evit_model(profile: str, keep_rate: float, fuse: bool | None, state: dict | None = None) -> nn.Module:
    """The profile's ViT (the ViT chapter's architecture) with EViT reorganisation in
    `evit_layers(depth)`, optionally with weights."""
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


def _evaluate_at(ctx: ChapterRun, state: dict, data: DataSplits, points, *, mean, std) -> list[dict]:
    out = []
    for keep_rate, fuse in points:
        model = evit_model(ctx.profile, keep_rate, fuse, state).to(ctx.device)
        metrics = evaluate(model, data.test, mean=mean, std=std, device=ctx.device)
        out.append({"keep_rate": keep_rate, "fuse": fuse, "acc": metrics["acc"], "loss": metrics["loss"],
                    "tokens_per_layer": tokens_per_layer(model)})
    return out


def tokens_per_layer(model) -> list[int]:
    """Image tokens (a fused token included) left after each reorganisation layer, for one input."""
    size = model.config.image_size
    with torch.no_grad():
        features = model.eval().forward_intermediates(
            torch.zeros(1, model.config.in_channels, size, size, device=next(model.parameters()).device))
    return [k.shape[1] for k in features.kept]


# ---- the four records ----

# Dry-run overrides (see common.dry_run_size): two fine-tuning points, with and without fusion.
DRY_RUN = {"visual_images": 2, "finetune_points": ((0.7, True), (0.7, False))}


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, code=CODE, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """All four pieces: {"offshelf", "finetune" (list, control last), "finetune_seeds" (the seeded
    points' further seeds), "cost", "tokens", "claims"}.

    `force`: True recomputes everything; a set of piece names (e.g. {"cost"}) only those.
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    size = ctx.size
    n_train, n_test = vit_chapter.data_sizes(ctx.profile, ctx.dry_run)
    stats = {}

    def normalization(data) -> tuple[list[float], list[float]]:
        if "stats" not in stats:
            stats["stats"] = channel_stats(data.train.images)
        return stats["stats"]

    def offshelf(data) -> dict:
        mean, std = normalization(data)
        return {"points": _evaluate_at(ctx, baseline_state(ctx), data, _points(size.offshelf_keep_rates),
                                       mean=mean, std=std),
                "normalization": {"mean": mean, "std": std}}

    records = {"offshelf": ctx.record("offshelf", offshelf_config(ctx), offshelf), "finetune": [],
               "finetune_seeds": []}
    main_points = [(k, fuse, ctx.seed) for k, fuse in list(size.finetune_points) + [(1.0, None)]]
    seeded_points = [(k, fuse, s) for s in ctx.seeds[1:] for k, fuse in size.seeded_points]
    for keep_rate, fuse, seed in main_points + seeded_points:
        config = finetune_config(ctx, keep_rate, fuse, seed)

        def finetune(data, keep_rate=keep_rate, fuse=fuse, config=config, seed=seed) -> dict:
            state, trained = _finetuned_state(ctx, keep_rate, fuse, data, seed)
            points = _points(config["eval_keep_rates"]) if fuse is None else [(keep_rate, fuse)]
            evals = _evaluate_at(ctx, state, data, points, mean=trained["mean"], std=trained["std"])
            return {"keep_rate": keep_rate, "fuse": fuse, "history": trained["history"],
                    "train_time_s": trained["train_time_s"], "eval": evals,
                    "acc": evals[0]["acc"] if fuse is not None else next(e["acc"] for e in evals if e["fuse"] is None)}

        records["finetune" if seed == ctx.seed else "finetune_seeds"].append(ctx.record("finetune", config, finetune))

    cost = cost_config(ctx)
    records["cost"] = ctx.record("cost", cost, lambda: measure_cost(ctx, cost), uses_data=False)

    def tokens(data) -> dict:
        state, _ = _finetuned_state(ctx, size.visual_keep_rate, True, data)
        return kept_patches(ctx, {"finetuned": state, "offshelf": baseline_state(ctx)}, data, size.visual_keep_rate,
                            size.visual_images, normalization(data))

    records["tokens"] = ctx.record("tokens", tokens_config(ctx), tokens)
    records["claims"] = ctx.write_claims(claims(records))
    return records


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


# ---- claims: each verdict is computed from the records by the rule stated beside it ----

def _by_point(points: list[dict]) -> dict:
    return {(p["keep_rate"], p["fuse"]): p for p in points}


def _by_point_zoo() -> dict:
    return {(row["keep_rate"], row["fusion"]): row for row in PAPER["model_zoo"]["value"]}


def per_seed(records: dict) -> dict[tuple[float, bool | None], list[dict]]:
    """Each fine-tuned point's results over its seeds (the main run first): the seeded points have
    one per seed, the others one."""
    out: dict[tuple, list[dict]] = {}
    for record in records["finetune"] + records.get("finetune_seeds", []):
        result = record["result"]
        out.setdefault((result["keep_rate"], result["fuse"]), []).append(result)
    return out


def _paired(a: list[dict], b: list[dict], value) -> list[float]:
    """Per seed, value(a) - value(b), over the seeds both points have."""
    return [value(x) - value(y) for x, y in zip(a, b)]


def claims(records: dict) -> list[Claim]:
    off = _by_point(records["offshelf"]["result"]["points"])
    seeded = per_seed(records)
    finetuned = {key: results[0] for key, results in seeded.items()}
    control = finetuned[(1.0, None)]
    cost = _by_point(records["cost"]["result"]["points"])
    config = records["offshelf"]["config"]
    profile = config["profile"]
    n_test = (records["offshelf"]["provenance"].get("data") or {}).get("n_test") or config["n_test"] or 10_000
    se2 = lambda acc: math.sqrt(2) * binomial_se(acc, n_test)  # s.e. of a difference of two such accuracies
    source = f"results/{CHAPTER}/ ({config['profile']} records)"
    headline, zoo = PAPER["headline"], _by_point_zoo()
    accuracy = lambda result: result["acc"]
    out = []

    if (0.7, True) in finetuned:
        deltas = _paired(seeded[(0.7, True)], seeded[(1.0, None)], accuracy)
        delta, delta_se = mean_and_error(deltas)
        speedup = cost[(0.7, True)]["images_per_s"] / cost[(1.0, None)]["images_per_s"]
        gmac_ratio = cost[(1.0, None)]["gmacs"] / cost[(0.7, True)]["gmacs"]
        out.append(Claim(
            id="speed_at_0.7", claim="At keep rate 0.7 (with fusion) EViT runs much faster for a small loss of accuracy",
            paper_value=f"{headline['value']['delta_acc']:+.1f} pp at ×{headline['value']['speedup']:.1f}",
            our_value=f"{delta:+.2f} pp at ×{speedup:.2f}", unit="Δ top-1 vs same-budget model; throughput ratio",
            spread=claim_spread(delta_se), n=len(deltas),
            verdict=verdict_from_checks([delta >= -1.0, speedup >= 1.2]), profile=profile,
            evidence=f"{source}; rule: fine-tuned keep-0.7 model within 1.0 pp of the keep-1 control fine-tuned with the "
            f"same budget, mean over fine-tuning seeds ({plus_minus(deltas)} pp; first seed "
            f"{finetuned[(0.7, True)]['acc']:.2f}% vs {control['acc']:.2f}%, binomial s.e. of one such difference "
            f"±{se2(control['acc']):.2f} pp) "
            f"and measured throughput ≥ 1.2× the baseline's ({cost[(0.7, True)]['images_per_s']:.0f} vs "
            f"{cost[(1.0, None)]['images_per_s']:.0f} img/s; GMAC ratio {gmac_ratio:.2f}×)",
            paper_source=headline["source"]))

    if (0.5, True) in finetuned and (0.5, False) in finetuned:
        ft_gains = _paired(seeded[(0.5, True)], seeded[(0.5, False)], accuracy)
        ft_gain, ft_se = mean_and_error(ft_gains)
        off_gain = off[(0.5, True)]["acc"] - off[(0.5, False)]["acc"]
        verdict = seeded_verdict(ft_gains)
        out.append(Claim(
            id="fusion_helps_at_0.5", claim="Fusing the inattentive tokens into one token beats dropping them at a low "
            "keep rate (0.5)", paper_value=round(zoo[(0.5, True)]["acc1"] - zoo[(0.5, False)]["acc1"], 1),
            our_value=round(ft_gain, 2), spread=claim_spread(ft_se), n=len(ft_gains), unit="pp top-1, fused minus unfused",
            verdict="partially" if verdict == "reproduced" and off_gain <= 0 else verdict, profile=profile,
            evidence=f"{source}; rule (noise-aware): after fine-tuning, fused minus unfused per fine-tuning seed, "
            f"{plus_minus(ft_gains)} pp, is reproduced when the mean exceeds two standard errors, within noise "
            f"when it lies within them (partially if the baseline off the shelf disagrees: {off_gain:+.2f} pp)",
            paper_source=f"{ZOO_SOURCE}: keep 0.5, {zoo[(0.5, True)]['acc1']} fused vs {zoo[(0.5, False)]['acc1']} unfused"))

    if (0.7, True) in finetuned:
        over_offshelf = [r["acc"] - off[(0.7, True)]["acc"] for r in seeded[(0.7, True)]]
        over_control = _paired(seeded[(0.7, True)], seeded[(1.0, None)],
                               lambda r: r["acc"] if r["fuse"] is not None else _by_point(r["eval"])[(0.7, True)]["acc"])
        gain, gain_se = mean_and_error(over_offshelf)
        out.append(Claim(
            id="train_with_reorganization", claim="Token reorganisation is integrated into training: a model trained with "
            "it beats applying it to a model trained without", paper_value="qualitative", our_value=round(gain, 2),
            spread=claim_spread(gain_se), n=len(over_offshelf), unit="pp top-1 at keep 0.7, fine-tuned minus off the shelf",
            verdict=combined_verdict([seeded_verdict(over_offshelf), seeded_verdict(over_control)]), profile=profile,
            evidence=f"{source}; rule (noise-aware, per fine-tuning seed): the fine-tuned keep-0.7 model beats both the "
            f"baseline with reorganisation switched on ({plus_minus(over_offshelf)} pp) and the keep-1 control, "
            f"fine-tuned with the same budget, with reorganisation switched on ({plus_minus(over_control)} pp)",
            paper_source="Abstract and §3 (reorganisation \"integrated into ViT during training\")"))

    out.append(Claim(
        id="higher_resolution", claim="At the cost of a vanilla DeiT-S, EViT can take higher-resolution inputs and gain "
        "1% top-1", paper_value=float(PAPER["same_cost_gain"]["value"]), our_value=None, unit="pp top-1", verdict="not_tested", profile=profile,
        evidence="not run in this chapter: CIFAR-10 images are 32×32 pixels",
        paper_source=PAPER["same_cost_gain"]["source"]))
    return out
