"""EViT chapter: token reorganisation applied to the ViT chapter's trained model (Liang et al.,
"Not All Patches are What You Need: Expediting Vision Transformers via Token Reorganizations",
ICLR 2022).

The baseline is the ViT chapter's model for the same profile and seed, read from that chapter's
training checkpoint (trained here with exactly that chapter's settings if the checkpoint is
missing; the ViT chapter's result file is never written). Four cached pieces, each its own
result record so that it can be recomputed alone (`force={"cost"}`):

* `offshelf`: the baseline evaluated with reorganisation switched on at several keep rates,
  with and without fusion of the inattentive tokens, no training;
* `finetune`: the baseline fine-tuned with reorganisation under EViT's keep-rate schedule
  (§4.1), one record and checkpoint per (keep rate, fusion), plus a control fine-tuned with the
  same budget at keep rate 1, so that extra training is not mistaken for an effect of EViT;
* `cost`: GMACs (counted) and throughput (measured) at every keep rate;
* `tokens`: which patches survive each reorganisation layer, for a few test images.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import torch

from ..claims import Claim, verdict_from_checks
from ..data import DataSplits
from ..measure import flops, throughput
from ..profiles import get_profile
from ..registry import create_model
from ..results import config_hash, default_results_dir, run_or_load
from ..runtime import resolve_device
from ..train import TrainConfig, channel_stats, evaluate, train
from ..vit import evit_layers, keep_rate_schedule
from . import vit as vit_chapter
from .common import EMBEDDED_DATA_SEED, checkpoint_path, load_profile_data, run_experiment

CHAPTER = "evit"
PARTS = ("offshelf", "finetune", "cost", "tokens")


@dataclass(frozen=True)
class Size:
    finetune: TrainConfig                        # fine-tuning from the baseline, per (keep rate, fusion)
    n_finetune: int | None                       # fine-tuning images (None: the baseline's whole training set)
    finetune_points: tuple[tuple[float, bool], ...]  # (keep rate, fusion); the keep-1 control is added
    schedule_start: float                        # keep-rate schedule: fraction of steps at keep rate 1, ...
    schedule_ramp: float                         # ... then cosine down to the target over this fraction
    offshelf_keep_rates: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    visual_images: int = 6                       # test images of the token visualisation
    visual_keep_rate: float = 0.7                # fine-tuned (fused) model shown in the visualisation
    throughput_batch: int = 128
    throughput_rounds: int = 3                   # rounds over all points, alternating them (STYLE.md §11)


SIZES = {
    # Seconds: the ViT chapter's smoke model, fine-tuned on 384 images per point (whose normalisation
    # statistics, those of the subset, differ slightly from the baseline's: smoke only), batch-32 timing.
    "smoke": Size(TrainConfig(epochs=1, batch_size=64, lr=2e-4, warmup_epochs=0.1), n_finetune=384,
                  finetune_points=((0.5, True), (0.7, True), (0.5, False)),
                  schedule_start=0.0, schedule_ramp=0.5, throughput_batch=32, throughput_rounds=1),
    # ~35-40 min on 2 CPU cores: the ViT chapter's cpu model (6 layers, width 128, 8 heads, 64 tokens),
    # one epoch of CIFAR-10 per point (~3.5 min each, 8 points), the keep rate ramping down over its
    # first half; evaluations ~15 s each; cost ~1-2 min.
    "cpu": Size(TrainConfig(epochs=1, batch_size=128, lr=2e-4, warmup_epochs=0.1), n_finetune=None,
                finetune_points=((0.5, True), (0.6, True), (0.7, True), (0.8, True), (0.9, True),
                                 (0.5, False), (0.7, False)),
                schedule_start=0.0, schedule_ramp=0.5),
    # Paper-like (not yet run): the ViT chapter's 12-layer gpu model, 30 epochs of fine-tuning per point
    # (as the official finetune.sh), keep rate 1 for the first epoch then a cosine over 10 epochs.
    "gpu": Size(TrainConfig(epochs=30, batch_size=512, lr=1e-4, warmup_epochs=1, augment="randaugment"),
                n_finetune=None,
                finetune_points=tuple((k, fuse) for fuse in (True, False) for k in (0.5, 0.6, 0.7, 0.8, 0.9)),
                schedule_start=1 / 30, schedule_ramp=10 / 30),
}

# The paper's EViT-DeiT-S models (ImageNet-1k, 224 px, 196 tokens, reorganisation in layers 4, 7, 10),
# transcribed from the official repository's README, "Model Zoo" table (youweiliang/evit, README.md at
# commit 0999f090). The README gives no GMACs or throughput per keep rate.
PAPER_ZOO_SOURCE = "youweiliang/evit README.md, Model Zoo table (EViT-DeiT-S on ImageNet, 300 epochs)"
PAPER_ZOO = [
    {"fusion": True, "keep_rate": 0.9, "acc1": 79.8, "acc5": 95.0, "params_m": 22.1},
    {"fusion": True, "keep_rate": 0.8, "acc1": 79.8, "acc5": 94.9, "params_m": 22.1},
    {"fusion": True, "keep_rate": 0.7, "acc1": 79.5, "acc5": 94.8, "params_m": 22.1},
    {"fusion": True, "keep_rate": 0.6, "acc1": 78.9, "acc5": 94.5, "params_m": 22.1},
    {"fusion": True, "keep_rate": 0.5, "acc1": 78.5, "acc5": 94.2, "params_m": 22.1},
    {"fusion": False, "keep_rate": 0.9, "acc1": 79.9, "acc5": 94.9, "params_m": 22.1},
    {"fusion": False, "keep_rate": 0.8, "acc1": 79.7, "acc5": 94.8, "params_m": 22.1},
    {"fusion": False, "keep_rate": 0.7, "acc1": 79.4, "acc5": 94.7, "params_m": 22.1},
    {"fusion": False, "keep_rate": 0.6, "acc1": 79.1, "acc5": 94.5, "params_m": 22.1},
    {"fusion": False, "keep_rate": 0.5, "acc1": 78.4, "acc5": 94.1, "params_m": 22.1},
]
# The abstract's headline, for DeiT-S at keep rate 0.7 against the unmodified DeiT-S.
PAPER_HEADLINE = {"speedup": 1.5, "delta_acc": -0.3,
                  "source": "Abstract: \"the inference speed of DeiT-S is increased by 50% while its recognition "
                            "accuracy is decreased by only 0.3%\""}


def _size(profile: str) -> Size:
    return SIZES[get_profile(profile).name]


def _point_name(keep_rate: float, fuse: bool | None) -> str:
    return f"keep{keep_rate:g}-" + ("control" if fuse is None else "fused" if fuse else "unfused")


def _points(keep_rates: Iterable[float]) -> list[tuple[float, bool | None]]:
    """(keep rate, fusion) pairs; keep rate 1 drops nothing, so it is one point, fusion None."""
    points = [(k, fuse) for k in sorted(set(keep_rates), reverse=True) if k < 1 for fuse in (True, False)]
    return [(1.0, None)] + points


def _base_config(profile: str, seed: int) -> dict:
    """What every record of this chapter shares: the baseline (ViT chapter run) and the EViT layers."""
    baseline = vit_chapter.experiment_config(profile, seed)
    return {"chapter": CHAPTER, "profile": profile, "seed": seed, "dataset": baseline["dataset"],
            "n_train": baseline["n_train"], "n_test": baseline["n_test"],
            "baseline": {"chapter": baseline["chapter"], "name": baseline["name"],
                         "config_hash": config_hash(baseline)},
            "model": baseline["model"], "model_config": baseline["model_config"],
            "reorganize_layers": list(evit_layers(baseline["model_config"]["depth"]))}


def offshelf_config(profile: str, seed: int) -> dict:
    return _base_config(profile, seed) | {"name": f"offshelf-{profile}",
                                          "keep_rates": list(_size(profile).offshelf_keep_rates)}


def finetune_config(profile: str, seed: int, keep_rate: float, fuse: bool | None) -> dict:
    """One fine-tuning run; `fuse=None` with keep rate 1 is the control."""
    size = _size(profile)
    if (keep_rate == 1.0) != (fuse is None):
        raise ValueError("keep rate 1 (and only it) is the control, with fuse=None")
    return _base_config(profile, seed) | {
        "name": f"finetune-{profile}-{_point_name(keep_rate, fuse)}", "keep_rate": keep_rate, "fuse": fuse,
        "train": asdict(size.finetune), "n_finetune": size.n_finetune,
        "schedule": {"start": size.schedule_start, "ramp": size.schedule_ramp},
        # the control is also evaluated off the shelf at every keep rate (same extra training, no EViT training)
        "eval_keep_rates": list(size.offshelf_keep_rates) if fuse is None else [keep_rate]}


def cost_config(profile: str, seed: int) -> dict:
    size = _size(profile)
    keep_rates = set(size.offshelf_keep_rates) | {k for k, _ in size.finetune_points}
    return _base_config(profile, seed) | {
        "name": f"cost-{profile}", "keep_rates": sorted(keep_rates),
        "throughput": {"batch_size": size.throughput_batch, "precision": "fp32", "warmup": 2, "repeats": 5,
                       "rounds": size.throughput_rounds}}


def tokens_config(profile: str, seed: int) -> dict:
    size = _size(profile)
    finetuned = finetune_config(profile, seed, size.visual_keep_rate, True)
    return _base_config(profile, seed) | {
        "name": f"tokens-{profile}", "images": size.visual_images, "keep_rate": size.visual_keep_rate,
        "finetuned": {"name": finetuned["name"], "config_hash": config_hash(finetuned)}}


# ---- models ----

def evit_model(profile: str, keep_rate: float, fuse: bool | None, state: dict | None = None):
    """The profile's ViT with EViT reorganisation in `evit_layers(depth)`, optionally with weights."""
    vit_size = vit_chapter.SIZES[get_profile(profile).name]
    depth = create_model(vit_size.model, **vit_size.model_overrides).config.depth
    model = create_model(vit_size.model, **vit_size.model_overrides, keep_rate=keep_rate,
                         reorganize_layers=evit_layers(depth), fuse_inattentive=bool(fuse))
    if state is not None:
        model.load_state_dict(state)
    return model


def baseline_state(profile: str, seed: int, data: DataSplits, *, device, results_dir=None,
                   progress: bool = True) -> dict:
    """The ViT chapter's trained weights for (profile, seed), from its training checkpoint.

    A missing or unfinished checkpoint is trained (or resumed) by `train()` with exactly the ViT
    chapter's model, seed and TrainConfig, at the same path; the ViT chapter's result is not written.
    """
    vit_size = vit_chapter.SIZES[get_profile(profile).name]
    path = checkpoint_path(vit_chapter.experiment_config(profile, seed), results_dir)
    state = torch.load(path, map_location="cpu", weights_only=False) if path.exists() else None
    if state is None or state["epoch"] < vit_size.train.epochs:
        torch.manual_seed(seed)
        model = create_model(vit_size.model, **vit_size.model_overrides)
        train(model, data, vit_size.train, seed=seed, device=device, progress=progress, checkpoint=path)
        state = torch.load(path, map_location="cpu", weights_only=False)
    if state["config"] != asdict(vit_size.train):
        raise ValueError(f"baseline checkpoint {path} was written by another training config")
    return state["model"]


def _finetuned_state(profile: str, seed: int, keep_rate: float, fuse: bool | None, data: DataSplits, *,
                     device, results_dir, progress) -> tuple[dict, dict]:
    """Fine-tune (or load, or resume) one point; returns (weights, `train()` output)."""
    size = _size(profile)
    config = finetune_config(profile, seed, keep_rate, fuse)
    model = evit_model(profile, keep_rate, fuse,
                       baseline_state(profile, seed, data, device=device, results_dir=results_dir, progress=progress))
    train_data = data if size.n_finetune is None else DataSplits(
        train=data.train.subset(size.n_finetune, EMBEDDED_DATA_SEED), test=data.test)

    def schedule(step: int, total_steps: int) -> None:  # EViT §4.1: keep rate 1, then cosine to the target
        model.set_keep_rate(keep_rate_schedule(step, total_steps, keep_rate, start=size.schedule_start,
                                               ramp=size.schedule_ramp))

    trained = train(model, train_data, size.finetune, seed=seed, device=device, progress=progress,
                    checkpoint=checkpoint_path(config, results_dir), step_hook=schedule)
    return {k: v.cpu() for k, v in model.state_dict().items()}, trained


def _evaluate_at(profile: str, state: dict, data: DataSplits, points, *, mean, std, device) -> list[dict]:
    out = []
    for keep_rate, fuse in points:
        model = evit_model(profile, keep_rate, fuse, state).to(device)
        metrics = evaluate(model, data.test, mean=mean, std=std, device=device)
        out.append({"keep_rate": keep_rate, "fuse": fuse, "acc": metrics["acc"], "loss": metrics["loss"],
                    "tokens_per_layer": tokens_per_layer(model)})
    return out


def tokens_per_layer(model) -> list[int]:
    """Image tokens (a fused token included) left after each reorganisation layer, for one input."""
    size = model.config.image_size
    with torch.no_grad():
        _, kept = model.eval().forward_features(
            torch.zeros(1, model.config.in_channels, size, size, device=next(model.parameters()).device),
            return_kept=True)
    return [k.shape[1] for k in kept]


# ---- the four records ----

def _wants_force(force, part: str) -> bool:
    return force is True or (not isinstance(force, bool) and part in force)


def run(profile: str = "smoke", *, seed: int = 0, device: str | None = "auto", data_root=None,
        results_dir=None, force: bool | Iterable[str] = False, progress: bool = True) -> dict:
    """All four pieces: {"offshelf", "finetune" (list, control last), "cost", "tokens"} records.

    `force`: True recomputes everything; a collection of part names (e.g. {"cost"}) only those.
    """
    if not isinstance(force, bool):
        force = set(force)
        if force - set(PARTS):
            raise ValueError(f"unknown parts {sorted(force - set(PARTS))}; choose from {PARTS}")
    size = _size(profile)
    device = resolve_device(device)
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    loaded = {}

    def load_data() -> DataSplits:
        if "data" not in loaded:
            vit_size = vit_chapter.SIZES[get_profile(profile).name]
            loaded["data"] = load_profile_data(profile, data_root=data_root, n_train=vit_size.n_train,
                                               n_test=vit_size.n_test)
        return loaded["data"]

    common = dict(load_data=load_data, results_dir=results_dir, device=device)

    def stats(data):
        if "stats" not in loaded:
            loaded["stats"] = channel_stats(data.train.images)
        return loaded["stats"]

    def offshelf(data) -> dict:
        mean, std = stats(data)
        state = baseline_state(profile, seed, data, device=device, results_dir=results_dir, progress=progress)
        return {"points": _evaluate_at(profile, state, data, _points(size.offshelf_keep_rates),
                                       mean=mean, std=std, device=device),
                "normalization": {"mean": mean, "std": std}}

    records = {"offshelf": run_experiment(offshelf_config(profile, seed), offshelf,
                                          force=_wants_force(force, "offshelf"), **common)}

    records["finetune"] = []
    for keep_rate, fuse in list(size.finetune_points) + [(1.0, None)]:
        config = finetune_config(profile, seed, keep_rate, fuse)

        def finetune(data, keep_rate=keep_rate, fuse=fuse, config=config) -> dict:
            state, trained = _finetuned_state(profile, seed, keep_rate, fuse, data, device=device,
                                              results_dir=results_dir, progress=progress)
            points = _points(config["eval_keep_rates"]) if fuse is None else [(keep_rate, fuse)]
            evals = _evaluate_at(profile, state, data, points, mean=trained["mean"], std=trained["std"],
                                 device=device)
            return {"keep_rate": keep_rate, "fuse": fuse, "history": trained["history"],
                    "train_time_s": trained["train_time_s"], "eval": evals,
                    "acc": evals[0]["acc"] if fuse is not None else next(e["acc"] for e in evals if e["fuse"] is None)}

        records["finetune"].append(run_experiment(config, finetune, force=_wants_force(force, "finetune"), **common))

    cost = cost_config(profile, seed)
    records["cost"] = run_or_load(cost, lambda: measure_cost(profile, seed, cost, device=device),
                                  results_dir=results_dir, force=_wants_force(force, "cost"), device=device)

    def tokens(data) -> dict:
        state, _ = _finetuned_state(profile, seed, size.visual_keep_rate, True, data, device=device,
                                    results_dir=results_dir, progress=False)
        baseline = baseline_state(profile, seed, data, device=device, results_dir=results_dir, progress=progress)
        return kept_patches(profile, {"finetuned": state, "offshelf": baseline}, data, size.visual_keep_rate,
                            size.visual_images, stats(data))

    records["tokens"] = run_experiment(tokens_config(profile, seed), tokens, force=_wants_force(force, "tokens"),
                                       **common)
    return records


def measure_cost(profile: str, seed: int, config: dict, *, device) -> dict:
    """GMACs (torch's FLOP counter; explicit attention matmuls and the fusion sum included, the
    top-k and gathers move data and count as free) and throughput of every (keep rate, fusion),
    measured in alternating rounds on random inputs and random weights (cost depends on shapes only)."""
    protocol = config["throughput"]
    torch.manual_seed(seed)
    points = _points(config["keep_rates"])
    models = {point: evit_model(profile, *point).to(device).eval() for point in points}
    shape = (3, models[points[0]].config.image_size, models[points[0]].config.image_size)
    per_round = {point: [] for point in points}
    for _ in range(protocol["rounds"]):
        for point, model in models.items():
            per_round[point].append(throughput(model, shape, batch_size=protocol["batch_size"], device=device,
                                               precision=protocol["precision"], warmup=protocol["warmup"],
                                               repeats=protocol["repeats"]))
    out = []
    for point, model in models.items():
        rates = [m["images_per_s"] for m in per_round[point]]
        out.append({"keep_rate": point[0], "fuse": point[1], "gmacs": flops(model, shape)["gmacs"],
                    "tokens_per_layer": tokens_per_layer(model), "images_per_s": statistics.median(rates),
                    "images_per_s_rounds": rates})
    first = per_round[points[0]][0]
    return {"points": out, "protocol": protocol | {k: first[k] for k in ("device", "device_name", "threads")}
            | {"summary": "median over rounds of each round's median batch time; points alternate within a round"}}


def kept_patches(profile: str, states: dict, data: DataSplits, keep_rate: float, num_images: int, stats) -> dict:
    """For the first test image of each of the first `num_images` classes: the original patch
    positions still held as tokens after each reorganisation layer (fused tokens left out), per model."""
    from ..data import normalize

    labels = data.test.labels
    index = [int((labels == c).nonzero()[0]) for c in range(data.test.num_classes) if (labels == c).any()]
    index = index[:num_images]
    images = data.test.images[index]
    mean, std = stats
    out = {"indices": index, "images": images.tolist(), "labels": labels[index].tolist(),
           "classes": [data.test.classes[int(c)] for c in labels[index]], "models": {}}
    for name, state in states.items():
        model = evit_model(profile, keep_rate, True, state).eval()
        with torch.no_grad():
            x = normalize(images.to(next(model.parameters()).device), mean, std)
            features, kept = model.forward_features(x, return_kept=True)
            predictions = model.head(features[:, 0]).argmax(dim=1)
        out["models"][name] = {"kept": [[sorted(p for p in row if p >= 0) for row in k.tolist()] for k in kept],
                               "fused_tokens": [[sum(p < 0 for p in row) for row in k.tolist()] for k in kept],
                               "predictions": predictions.tolist()}
    out["grid"] = list(model.grid_size)
    out["patch_size"] = model.config.patch_size
    return out


# ---- claims: each verdict is computed from the records by the rule stated beside it ----

def _by_point(points: list[dict]) -> dict:
    return {(p["keep_rate"], p["fuse"]): p for p in points}


def accuracy_se(acc: float, n: int) -> float:
    """One binomial standard error of a top-1 accuracy (%) measured on n images, in pp."""
    p = acc / 100
    return 100 * math.sqrt(max(p * (1 - p), 1e-12) / n)


def claims(records: dict) -> list[Claim]:
    off = _by_point(records["offshelf"]["result"]["points"])
    finetuned = {(r["result"]["keep_rate"], r["result"]["fuse"]): r["result"] for r in records["finetune"]}
    control = finetuned[(1.0, None)]
    control_off = _by_point(control["eval"])
    cost = _by_point(records["cost"]["result"]["points"])
    config = records["offshelf"]["config"]
    profile = config["profile"]
    n_test = (records["offshelf"]["provenance"].get("data") or {}).get("n_test") or config["n_test"] or 10_000
    se2 = lambda acc: math.sqrt(2) * accuracy_se(acc, n_test)  # s.e. of a difference of two such accuracies
    source = f"results/{CHAPTER}/ ({config['profile']} records)"
    out = []

    if (0.7, True) in finetuned:
        delta = finetuned[(0.7, True)]["acc"] - control["acc"]
        speedup = cost[(0.7, True)]["images_per_s"] / cost[(1.0, None)]["images_per_s"]
        gmac_ratio = cost[(1.0, None)]["gmacs"] / cost[(0.7, True)]["gmacs"]
        out.append(Claim(
            "speed_at_0.7", "At keep rate 0.7 (with fusion) EViT runs much faster for a small loss of accuracy",
            f"{PAPER_HEADLINE['delta_acc']:+.1f} pp at ×{PAPER_HEADLINE['speedup']:.1f}",
            f"{delta:+.2f} pp at ×{speedup:.2f}", "Δ top-1 vs same-budget model; throughput ratio",
            verdict_from_checks([delta >= -1.0, speedup >= 1.2]), profile,
            f"{source}; rule: fine-tuned keep-0.7 model within 1.0 pp of the keep-1 control fine-tuned with the "
            f"same budget ({finetuned[(0.7, True)]['acc']:.2f}% vs {control['acc']:.2f}%, "
            f"±{se2(control['acc']):.2f} pp s.e.) "
            f"and measured throughput ≥ 1.2× the baseline's ({cost[(0.7, True)]['images_per_s']:.0f} vs "
            f"{cost[(1.0, None)]['images_per_s']:.0f} img/s; GMAC ratio {gmac_ratio:.2f}×)",
            PAPER_HEADLINE["source"]))

    if (0.5, True) in finetuned and (0.5, False) in finetuned:
        ft_gain = finetuned[(0.5, True)]["acc"] - finetuned[(0.5, False)]["acc"]
        off_gain = off[(0.5, True)]["acc"] - off[(0.5, False)]["acc"]
        out.append(Claim(
            "fusion_helps_at_0.5", "Fusing the inattentive tokens into one token beats dropping them at a low "
            "keep rate (0.5)", round(78.5 - 78.4, 1), round(ft_gain, 2), "pp top-1, fused minus unfused",
            verdict_from_checks([ft_gain > 0, off_gain > 0]), profile,
            f"{source}; rule: fused > unfused both after fine-tuning ({ft_gain:+.2f} pp) and off the shelf "
            f"({off_gain:+.2f} pp); one s.e. of such a difference ≈ {se2(finetuned[(0.5, True)]['acc']):.2f} pp",
            f"{PAPER_ZOO_SOURCE}: keep 0.5, 78.5 fused vs 78.4 unfused"))

    if (0.7, True) in finetuned:
        ft = finetuned[(0.7, True)]["acc"]
        gain = ft - off[(0.7, True)]["acc"]
        out.append(Claim(
            "train_with_reorganization", "Token reorganisation is integrated into training: a model trained with "
            "it beats applying it to a model trained without", "qualitative", round(gain, 2),
            "pp top-1 at keep 0.7, fine-tuned minus off the shelf",
            verdict_from_checks([gain > 0, ft > control_off[(0.7, True)]["acc"]]), profile,
            f"{source}; rule: the fine-tuned keep-0.7 model ({ft:.2f}%) beats both the baseline with reorganisation "
            f"switched on ({off[(0.7, True)]['acc']:.2f}%) and the keep-1 control, fine-tuned with the same budget, "
            f"with reorganisation switched on ({control_off[(0.7, True)]['acc']:.2f}%)",
            "Abstract and §3 (reorganisation \"integrated into ViT during training\")"))

    out.append(Claim(
        "higher_resolution", "At the cost of a vanilla DeiT-S, EViT can take higher-resolution inputs and gain "
        "1% top-1", 1.0, None, "pp top-1", "not_tested", profile,
        "not run in this chapter: CIFAR-10 images are 32×32 pixels", "Abstract"))
    return out
