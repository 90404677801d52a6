"""FlexiViT chapter: rebuild Figures 3 and 4 of Beyer et al. (CVPR 2023) on upsampled CIFAR-10.

Pieces, each a cached record with its own configuration (so each can be recomputed alone with
`force=("measure",)` and so on; `force=True` recomputes all of them):

* `vit_small`, `vit_large`: standard ViTs trained at one patch size each (Fig. 3's ViT-B/16, B/30);
* `flexi`: the same ViT trained as a FlexiViT, one patch size drawn uniformly per step (§3.2);
* `distill` (when `distill_epochs` > 0): a FlexiViT initialised from `vit_small` and distilled
  from it (§3.5);
* `evaluate`: test accuracy of every model at every patch size (fixed models through PI-resize
  of their kernel and bilinear resize of their position embeddings);
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
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..claims import (Claim, binomial_se, claim_spread, combined_verdict, mean_and_error, noise_verdict,
                      plus_minus, pooled_sd, verdict_from_checks)
from ..data import DataSplits, ImageData, iterate_batches, normalize
from ..layers import KERNEL_RESIZE_METHODS, resample_patch_embed
from ..measure import ThroughputProtocol, flops, measure_throughput, parameter_count
from ..models import EViTConfig, config_record, create_model, evit_layers
from ..models.flexivit import AtPatchSize, FlexiViT, distillation_loss, init_from_vit, random_patch_loss
from ..models.vit import VisionTransformer
from ..train import TrainConfig, evaluate, train
from .common import CORE_CODE, ChapterRun, check_checkpoint, record_source

CHAPTER = "flexivit"
FIXED = ("vit_small", "vit_large")
PIECES = (*FIXED, "flexi", "distill", "evaluate", "measure", "figure4", "frontier")
CODE = CORE_CODE + ("patchlib/models/vit.py", "patchlib/models/evit.py", "patchlib/models/flexivit.py",
                    "patchlib/models/registry.py")

# Published values (../shared/paper_values.md §1). The paper's Figures 3 and 4 are plots; only four
# Fig. 3 points are sourced, second-hand, so the claims compare shapes and cite the figures.
BIG_VISION_README = "big_vision configs/proj/flexivit/README.md (official repository)"
PAPER = {
    "fig3_points": {"value": {"FlexiViT-B @8x8": 50.2, "ViT-B/16 @8x8": 30.5, "ViT-B/30 @8x8": 2.9,
                              "FlexiViT-B @30x30": 46.6},
                    "unit": "% precision (probably ImageNet-21k prec@1)", "status": "secondary",
                    "source": "FlexiViT Fig. 3 points as quoted by DeepLearning.AI's The Batch (secondary)"},
    "input_resolution": {"value": 240, "unit": "px", "status": "confirmed",
                         "source": f"{BIG_VISION_README}: \"the input is 240px, not 224px\""},
    "epochs": {"value": {"paper_fig2": 1000, "readme_recommended": 1200, "shortest": 90}, "unit": "epochs",
               "status": "confirmed", "source": f"FlexiViT paper, Fig. 2 caption (1000, 600, 300, 90 epochs); "
                                                f"{BIG_VISION_README} (1200-epoch checkpoints recommended)"},
}


@dataclass(frozen=True, kw_only=True)
class Size:
    image_size: int                  # the 32-px images are bilinearly upsampled to this
    patch_sizes: tuple[int, ...]     # FlexiViT's training set; every model is evaluated at each
    small_patch: int                 # patch size of the fixed ViT `vit_small` (also Fig. 4's model)
    large_patch: int                 # patch size of the fixed ViT `vit_large`
    vit_model: str                   # registered ViT for the fixed models
    flexi_model: str                 # registered FlexiViT (sets base_patch_size and base_grid)
    model_overrides: dict            # width/depth/heads, applied to every model
    train: TrainConfig               # the same budget for the three models
    n_train: int | None              # None: the whole training set
    n_test: int | None
    distill_epochs: int = 0          # 0: no distilled FlexiViT
    distill_temperature: float = 1.0
    figure4_factors: tuple[int, ...] = (1, 2, 3, 4)
    throughput: ThroughputProtocol = ThroughputProtocol()
    seeds: int = 1                   # seeds of `seeded_roles`: seed, seed + 1, ...
    seeded_roles: tuple[str, ...] = ("vit_large", "flexi")
    frontier_keep_rates: tuple[float, ...] = (1.0, 0.9, 0.7, 0.5)  # EViT keep rates of the frontier


CIFAR_SIZES = (6, 8, 12, 16, 24)  # at 48 px: grids 8, 6, 4, 3, 2 (sequence lengths 64 ... 4)

SIZES = {
    # The whole pipeline on the embedded synthetic data (learns nothing in this budget; a pipeline check).
    # measured: the notebook in 36 s wall / 18 s CPU under papermill, 1 thread, fresh results (x86_64).
    "smoke": Size(image_size=48, patch_sizes=CIFAR_SIZES, small_patch=6, large_patch=12, vit_model="vit_micro",
                  flexi_model="flexivit_micro", model_overrides={},
                  train=TrainConfig(epochs=2, batch_size=128, lr=3e-3, warmup_epochs=0.5),
                  n_train=1280, n_test=256, distill_epochs=1, seeds=2, frontier_keep_rates=(1.0, 0.5),
                  throughput=ThroughputProtocol(batch_size=32, warmup=1, repeats=2, rounds=1)),
    # CIFAR-10 upsampled to 48 px, 6 layers, width 128, 8 heads; patch 6 (ViT), 12 (ViT) and
    # FlexiViT over 6..24 with a 12x12 base kernel on a 4x4 base grid, 4 epochs each; ViT/12 and
    # FlexiViT with 3 seeds; FlexiViT distilled from ViT/6 (and initialised from it) for 2 epochs.
    # Planned from the previous run's times (33 min without the seeds and the distillation:
    # vit_small 21.5 min, vit_large 3, flexi 5, evaluation and Fig. 4 3.5): ~60 min on 2 cores.
    "cpu": Size(image_size=48, patch_sizes=CIFAR_SIZES, small_patch=6, large_patch=12, vit_model="vit_tiny_cifar",
                flexi_model="flexivit_cifar", model_overrides={"dim": 128, "heads": 8},
                train=TrainConfig(epochs=4, batch_size=128, lr=1e-3, warmup_epochs=1),
                n_train=None, n_test=None, distill_epochs=2, seeds=3),
    # A FlexiViT-S-like model (12 layers, width 384, 6 heads) for 90 epochs with RandAugment, the
    # paper's shortest FlexiViT schedule, plus 90 epochs of distillation (not yet run).
    "gpu": Size(image_size=48, patch_sizes=CIFAR_SIZES, small_patch=6, large_patch=12, vit_model="vit_tiny_cifar",
                flexi_model="flexivit_cifar", model_overrides={"dim": 384, "depth": 12, "heads": 6},
                train=TrainConfig(epochs=90, batch_size=512, lr=1e-3, warmup_epochs=5, augment="randaugment"),
                n_train=None, n_test=None, distill_epochs=90),
}


# ---- data: 32-px images upsampled to the profile's input size ----

def upsample_images(data: ImageData, size: int, chunk: int = 2048) -> ImageData:
    """`data` with its images bilinearly resized to size x size (no antialiasing, rounded to uint8);
    the fingerprint is that of the new pixels."""
    if tuple(data.images.shape[-2:]) == (size, size):
        return data
    out = torch.empty(len(data), data.images.shape[1], size, size, dtype=torch.uint8)
    for start in range(0, len(data), chunk):
        x = data.images[start:start + chunk].float()
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=False, align_corners=False)
        out[start:start + chunk] = x.round().clamp(0, 255).to(torch.uint8)
    return ImageData.from_tensors(out, data.labels.cpu(), data.classes, name=data.name,
                                  source=f"{data.source}; bilinearly upsampled to {size}x{size} px (uint8)")


def upsample_splits(data: DataSplits, size: int) -> DataSplits:
    return DataSplits(train=upsample_images(data.train, size), test=upsample_images(data.test, size))


# ---- the models ----

def build_model(size: Size, role: str) -> nn.Module:
    """An untrained model of `role` ("vit_small", "vit_large", "flexi" or "distill")."""
    if role in FIXED:
        patch = size.small_patch if role == "vit_small" else size.large_patch
        return create_model(size.vit_model, **size.model_overrides, image_size=size.image_size, patch_size=patch)
    return create_model(size.flexi_model, **size.model_overrides, image_size=size.image_size,
                        patch_sizes=size.patch_sizes)


def own_patch(size: Size, role: str) -> int | None:
    return {"vit_small": size.small_patch, "vit_large": size.large_patch}.get(role)


def roles(size: Size) -> tuple[str, ...]:
    return (*FIXED, "flexi") + (("distill",) if size.distill_epochs > 0 else ())


def _base(ctx: ChapterRun, name: str, **entries) -> dict:
    size = ctx.size
    return ctx.config(name, dataset=ctx.profile_dataset(), n_train=size.n_train, n_test=size.n_test,
                      image_size=size.image_size) | entries


def trained_runs(ctx: ChapterRun) -> list[tuple[str, int]]:
    """(role, seed) of every training run: each role with the chapter's seed, then the seeded
    roles with the further seeds."""
    return [(role, ctx.seed) for role in roles(ctx.size)] + [
        (role, seed) for seed in ctx.seeds[1:] for role in ctx.size.seeded_roles]


def run_key(ctx: ChapterRun, role: str, seed: int) -> str:
    """How results name a run: the role for the chapter's seed, `<role>-s<seed>` for the others."""
    return role if seed == ctx.seed else f"{role}-s{seed}"


def train_config(ctx: ChapterRun, role: str, seed: int | None = None) -> dict:
    size = ctx.size
    seed = ctx.seed if seed is None else seed
    config = _base(ctx, f"train-{run_key(ctx, role, seed)}-{ctx.profile}", role=role,
                   model=size.vit_model if role in FIXED else size.flexi_model,
                   model_config=config_record(build_model(size, role).config))
    config = config | {"seed": seed}
    if role in FIXED:
        return config | {"train": asdict(size.train), "objective": "cross-entropy at the model's patch size"}
    if role == "flexi":
        return config | {"train": asdict(size.train),
                         "objective": "cross-entropy at a patch size drawn uniformly per step (global torch RNG)"}
    return config | {"train": asdict(replace(size.train, epochs=size.distill_epochs)),
                     "objective": "KL(teacher || student), student at a uniformly drawn patch size, same view",
                     "temperature": size.distill_temperature, "teacher": train_config(ctx, "vit_small"),
                     "init": "teacher (init_from_vit: PI-resized kernel, resized position embeddings)"}


class TrainedModels:
    """The chapter's trained models within one `run()`: each (role, seed)'s record (trained or
    loaded once) and its weights from the training checkpoint."""

    def __init__(self, ctx: ChapterRun):
        self.ctx = ctx
        self.records: dict[tuple[str, int], dict] = {}

    def record(self, role: str, seed: int | None = None) -> dict:
        key = (role, self.ctx.seed if seed is None else seed)
        if key not in self.records:
            self.records[key] = self._train(*key)
        return self.records[key]

    def _train(self, role: str, seed: int, *, force: bool = False) -> dict:
        ctx, size = self.ctx, self.ctx.size
        config = train_config(ctx, role, seed)
        checkpoint = ctx.checkpoint(config)

        def compute(data) -> dict:
            torch.manual_seed(seed)
            model, loss_fn, train_cfg = build_model(size, role), None, size.train
            if role == "flexi":
                loss_fn = random_patch_loss(size.patch_sizes, size.train.label_smoothing)
            elif role == "distill":
                teacher = self.model("vit_small")
                init_from_vit(model, teacher)
                loss_fn = distillation_loss(teacher, size.patch_sizes, size.distill_temperature)
                train_cfg = replace(size.train, epochs=size.distill_epochs)
            trained = train(model, data, train_cfg, seed=seed, device=ctx.device, progress=ctx.progress,
                            checkpoint=checkpoint, loss_fn=loss_fn)
            return {"history": trained["history"], "final": trained["final"], "train_time_s": trained["train_time_s"],
                    "normalization": {"mean": trained["mean"], "std": trained["std"]},
                    "parameters": parameter_count(model), "checkpoint": checkpoint.name}

        return ctx.record(role, config, compute, force=force)

    def model(self, role: str, seed: int | None = None) -> nn.Module:
        """The trained weights of `role`, from its checkpoint (retrained if the checkpoint is gone)."""
        seed = self.ctx.seed if seed is None else seed
        self.record(role, seed)
        checkpoint = self.ctx.checkpoint(train_config(self.ctx, role, seed))
        if not checkpoint.exists():
            self.records[(role, seed)] = self._train(role, seed, force=True)
        model = build_model(self.ctx.size, role)
        model.load_state_dict(check_checkpoint(checkpoint)["model"])
        return model.to(self.ctx.device).eval()

    def flexible(self, role: str, seed: int | None = None) -> FlexiViT:
        """The model of `role` as a FlexiViT (fixed ViTs keep their own kernel and grid as base)."""
        model = self.model(role, seed)
        return model if isinstance(model, FlexiViT) else FlexiViT.from_vit(model, self.ctx.size.patch_sizes).eval()


# ---- the pieces ----

def evaluate_models(ctx: ChapterRun, models: TrainedModels) -> dict:
    size = ctx.size
    runs = trained_runs(ctx)
    config = _base(ctx, f"evaluate-{ctx.profile}", patch_sizes=list(size.patch_sizes),
                   models={run_key(ctx, role, seed): train_config(ctx, role, seed) for role, seed in runs},
                   eval_batch_size=size.train.eval_batch_size, precision="fp32")

    def compute(data) -> dict:
        accuracy = {}
        for role, seed in runs:
            model, norm = models.flexible(role, seed), models.record(role, seed)["result"]["normalization"]
            metrics = [evaluate(AtPatchSize(model, p), data.test, mean=norm["mean"], std=norm["std"], device=ctx.device,
                                batch_size=size.train.eval_batch_size, precision="fp32") for p in size.patch_sizes]
            accuracy[run_key(ctx, role, seed)] = {"acc": [m["acc"] for m in metrics], "loss": [m["loss"] for m in metrics],
                                                  "own_patch": own_patch(size, role), "role": role, "seed": seed}
        return {"patch_sizes": list(size.patch_sizes),
                "seq_len": [(size.image_size // p) ** 2 for p in size.patch_sizes], "models": accuracy,
                "chance": 100.0 / len(data.test.classes)}

    return ctx.record("evaluate", config, compute)


def measure_patch_sizes(ctx: ChapterRun) -> dict:
    """Inference throughput (cache warm) and GMACs of the FlexiViT at each patch size."""
    size = ctx.size
    config = ctx.config(f"measure-{ctx.profile}", model_config=config_record(build_model(size, "flexi").config),
                        patch_sizes=list(size.patch_sizes), device_type=ctx.device.type,
                        throughput=size.throughput.record())

    def compute() -> dict:
        torch.manual_seed(ctx.seed)
        model = build_model(size, "flexi").to(ctx.device).eval()
        shape = (3, size.image_size, size.image_size)
        pinned = {f"p{p}": AtPatchSize(model, p) for p in size.patch_sizes}
        with torch.no_grad():  # fill the cache: the resize is done once per size, not per image
            for module in pinned.values():
                module(torch.zeros(1, *shape, device=ctx.device))
        measured = measure_throughput(pinned, shape, size.throughput, device=ctx.device)
        rows = [{"patch_size": p, "seq_len": (size.image_size // p) ** 2, "gmacs": flops(pinned[f"p{p}"], shape)["gmacs"],
                 "images_per_s": measured["models"][f"p{p}"]["images_per_s"],
                 "images_per_s_rounds": measured["models"][f"p{p}"]["rounds"]} for p in size.patch_sizes]
        return {"rows": rows, "protocol": measured["protocol"], "parameters": parameter_count(model),
                "note": "resized kernel and position embeddings cached (computed once per size), not counted"}

    return ctx.record("measure", config, compute, uses_data=False)


@torch.no_grad()
def upsampled_accuracy(model: nn.Module, data: ImageData, *, mean, std, factor: int, device,
                       batch_size: int = 256) -> float:
    """Top-1 accuracy (%) on normalised images upsampled by `factor` (bilinear, no antialiasing,
    align_corners=False: the operator PI-resize inverts)."""
    model.eval()
    correct = 0
    for images, labels in iterate_batches(data, batch_size, shuffle=False):
        x = normalize(images.to(device), mean, std)
        if factor != 1:
            x = F.interpolate(x, size=(x.shape[-2] * factor, x.shape[-1] * factor), mode="bilinear",
                              antialias=False, align_corners=False)
        correct += (model(x).argmax(dim=1) == labels.to(device)).sum().item()
    return 100.0 * correct / len(data)


def figure4(ctx: ChapterRun, models: TrainedModels) -> dict:
    """FlexiViT Fig. 4: image and patch upsampled together (token grid fixed), kernel resampled by
    each method, position embeddings unchanged."""
    size = ctx.size
    config = _base(ctx, f"figure4-{ctx.profile}", model=train_config(ctx, "vit_small"),
                   factors=list(size.figure4_factors), methods=list(KERNEL_RESIZE_METHODS),
                   image_resize="bilinear, antialias=False, align_corners=False, on normalised images",
                   kernel_interpolation="bilinear", kernel_antialias=False)

    def compute(data) -> dict:
        vit = models.model("vit_small")
        norm = models.record("vit_small")["result"]["normalization"]
        state = vit.state_dict()
        acc = {method: [] for method in KERNEL_RESIZE_METHODS}
        for factor in size.figure4_factors:
            scaled = VisionTransformer(replace(vit.config, image_size=vit.config.image_size * factor,
                                               patch_size=vit.config.patch_size * factor)).to(ctx.device)
            for method in KERNEL_RESIZE_METHODS:
                if factor == 1 and method != KERNEL_RESIZE_METHODS[0]:
                    acc[method].append(acc[KERNEL_RESIZE_METHODS[0]][0])  # every method leaves the kernel as is
                    continue
                kernel = resample_patch_embed(state["patch_embed.proj.weight"].double(), vit.config.patch_size * factor,
                                              method=method, interpolation="bilinear", antialias=False)
                scaled.load_state_dict(state | {"patch_embed.proj.weight": kernel.float()})
                acc[method].append(upsampled_accuracy(scaled, data.test, mean=norm["mean"], std=norm["std"],
                                                      factor=factor, device=ctx.device))
        return {"factors": list(size.figure4_factors),
                "patch_sizes": [vit.config.patch_size * k for k in size.figure4_factors],
                "image_sizes": [vit.config.image_size * k for k in size.figure4_factors],
                "grid": list(vit.grid_size), "accuracy": acc}

    return ctx.record("figure4", config, compute)


def frontier_model(size: Size, state: dict, keep_rate: float) -> FlexiViT:
    """The chapter's FlexiViT with EViT's reorganisation (fused, in `evit_layers(depth)`) at `keep_rate`."""
    model = build_model(size, "flexi")
    model = FlexiViT(replace(model.config, evit=EViTConfig(keep_rate=keep_rate, layers=evit_layers(model.config.depth),
                                                           fuse_inattentive=True)))
    model.load_state_dict(state)
    return model.eval()


def frontier(ctx: ChapterRun, models: TrainedModels) -> dict:
    """Beyond the papers: one trained FlexiViT, two compute knobs. Accuracy (test set), GMACs and
    measured throughput at every patch size x EViT keep rate, the reorganisation applied to the
    trained FlexiViT as it is (no training with it)."""
    size = ctx.size
    config = _base(ctx, f"frontier-{ctx.profile}", model=train_config(ctx, "flexi"), patch_sizes=list(size.patch_sizes),
                   keep_rates=list(size.frontier_keep_rates), fuse=True, device_type=ctx.device.type,
                   throughput=size.throughput.record(), eval_batch_size=size.train.eval_batch_size, precision="fp32")

    def compute(data) -> dict:
        state = models.model("flexi").state_dict()
        norm = models.record("flexi")["result"]["normalization"]
        shape = (3, size.image_size, size.image_size)
        pinned, points = {}, []
        for keep_rate in size.frontier_keep_rates:
            model = frontier_model(size, state, keep_rate).to(ctx.device)
            for patch in size.patch_sizes:
                at = AtPatchSize(model, patch)
                metrics = evaluate(at, data.test, mean=norm["mean"], std=norm["std"], device=ctx.device,
                                   batch_size=size.train.eval_batch_size, precision="fp32")
                name = f"p{patch}-k{keep_rate:g}"
                pinned[name] = at
                points.append({"name": name, "patch_size": patch, "keep_rate": keep_rate, "acc": metrics["acc"],
                               "gmacs": flops(at, shape)["gmacs"]})
        measured = measure_throughput(pinned, shape, size.throughput, device=ctx.device)
        for point in points:
            point["images_per_s"] = measured["models"][point["name"]]["images_per_s"]
        return {"points": points, "protocol": measured["protocol"], "n_test": len(data.test)}

    return ctx.record("frontier", config, compute)


def pareto(points: list[dict], speed=lambda point: point["images_per_s"]) -> list[dict]:
    """The points no other point beats on both `speed` (higher is better; measured throughput by
    default, e.g. minus GMACs for compute) and accuracy, fastest first."""
    front = [p for p in points if not any(speed(q) >= speed(p) and q["acc"] >= p["acc"]
                                          and (speed(q), q["acc"]) != (speed(p), p["acc"]) for q in points)]
    return sorted(front, key=lambda p: -speed(p))


def best_at(points: list[dict], speed: float) -> float:
    """The best accuracy among `points` at least as fast as `speed` (nan if none is)."""
    fast = [p["acc"] for p in points if p["images_per_s"] >= speed]
    return max(fast) if fast else math.nan


def knob_points(record: dict) -> dict[str, list[dict]]:
    """The frontier record's points by knob: "patch" (keep rate 1, every patch size), "keep" (the
    smallest patch size, every keep rate) and "both" (all)."""
    points = record["result"]["points"]
    smallest = min(p["patch_size"] for p in points)
    return {"patch": [p for p in points if p["keep_rate"] == 1.0],
            "keep": [p for p in points if p["patch_size"] == smallest], "both": points}


def frontier_gains(record: dict) -> dict[str, dict]:
    """The accuracy the two knobs together add at equal throughput over "patch" alone, "keep" alone
    and "either" (the better of the two at each speed): at every throughput of a point within that
    knob's range, best(all points at least that fast) - best(the knob's points at least that fast)."""
    knobs = knob_points(record)
    knobs["either"] = knobs["patch"] + [p for p in knobs["keep"] if p not in knobs["patch"]]
    out = {}
    for knob in ("patch", "keep", "either"):
        low, high = (f(p["images_per_s"] for p in knobs[knob]) for f in (min, max))
        gains = [(p["images_per_s"], best_at(knobs["both"], p["images_per_s"]) - best_at(knobs[knob], p["images_per_s"]))
                 for p in knobs["both"] if low <= p["images_per_s"] <= high]
        best = max(gains, key=lambda g: g[1]) if gains else (math.nan, math.nan)
        out[knob] = {"max_gain": best[1], "at_images_per_s": best[0], "points": len(gains)}
    return out


DRY_RUN = {}  # dry-run overrides (see common.dry_run_size)


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, code=CODE, profile=profile,
                              prepare=lambda data, size: upsample_splits(data, size.image_size),
                              dry_run_overrides=DRY_RUN, **options)


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


# ---- claims: each verdict is computed from the records by the rule stated beside it ----

MATCH_TOLERANCE = 2.0      # points: "FlexiViT matches a fixed ViT at its own size"
SMOOTH_SLACK = 1.0         # points: allowed rise of accuracy with patch size before "not smooth"
LOSSLESS_TOLERANCE = 0.1   # points: "lossless" upsampling in Fig. 4
LOSSY_DROP = 1.0           # points: a resize "is not lossless" when it loses more than this


def retained_fraction(acc: list[float], own: int, chance: float) -> float:
    """Mean over the other patch sizes of (acc - chance) / (acc at the own size - chance)."""
    top = acc[own] - chance
    others = [(a - chance) / top for i, a in enumerate(acc) if i != own]
    return sum(others) / len(others) if top > 0 else math.nan


def runs_of(models: dict, role: str) -> list[list[float]]:
    """The accuracies per patch size of every run of `role` in an evaluate record, the main run first."""
    return [entry["acc"] for key, entry in models.items() if entry.get("role", key) == role]


def seed_sd(models: dict) -> float:
    """Pooled seed-to-seed sd (pp) of one run's accuracy at one patch size, over the roles with
    several seeds (nan without any): the noise of a single-seed accuracy."""
    roles = {entry.get("role", key) for key, entry in models.items()}
    return pooled_sd(values for role in roles for values in zip(*runs_of(models, role)))


def tolerance_verdict(mean: float, error: float, tolerance: float) -> str:
    """"X matches Y within `tolerance`": the mean difference is >= -tolerance (reproduced); below it
    but within two standard errors of it, within_noise; else not_reproduced."""
    if mean >= -tolerance:
        return "reproduced"
    return "within_noise" if not math.isnan(error) and mean + 2 * error >= -tolerance else "not_reproduced"


def claims(records: dict) -> list[Claim]:
    evaluation, fig4 = records["evaluate"], records["figure4"]
    result, profile = evaluation["result"], evaluation["config"]["profile"]
    sizes, models, chance = result["patch_sizes"], result["models"], result["chance"]
    src, src4 = record_source(evaluation), record_source(fig4)
    flexi_runs = runs_of(models, "flexi")
    flexi = [statistics.mean(values) for values in zip(*flexi_runs)]  # mean over seeds per patch size
    noise_sd = seed_sd(models)

    retained = {role: retained_fraction(models[role]["acc"], sizes.index(models[role]["own_patch"]), chance)
                for role in FIXED}
    own = {role: sizes.index(models[role]["own_patch"]) for role in FIXED}
    # FlexiViT minus each fixed ViT at the ViT's own size: paired per seed where the ViT has seeds;
    # against a single-seed ViT, the ViT's own noise (the pooled seed sd) is added to the error.
    gap_values, gap_errors = {}, {}
    for role in FIXED:
        fixed_runs = runs_of(models, role)
        if len(fixed_runs) > 1:
            gap_values[role] = [f[own[role]] - v[own[role]] for f, v in zip(flexi_runs, fixed_runs)]
            gap_errors[role] = mean_and_error(gap_values[role])[1]
        else:
            gap_values[role] = [f[own[role]] - fixed_runs[0][own[role]] for f in flexi_runs]
            flexi_error = mean_and_error(gap_values[role])[1]
            gap_errors[role] = math.sqrt(flexi_error ** 2 + noise_sd ** 2) if not math.isnan(noise_sd) else flexi_error
    gaps = {role: statistics.mean(values) for role, values in gap_values.items()}
    match = {role: tolerance_verdict(gaps[role], gap_errors[role], MATCH_TOLERANCE) for role in FIXED}
    others = [i for i in range(len(sizes)) if i not in own.values()]
    above = [flexi[i] >= max(models[role]["acc"][i] for role in FIXED) for i in others]
    rises = [flexi[i + 1] - flexi[i] for i in range(len(sizes) - 1)]  # sizes ascending: accuracy should fall
    order_ok = list(sizes) == sorted(sizes)
    seeds_text = (f"FlexiViT: mean of {len(flexi_runs)} seeds" if len(flexi_runs) > 1 else "one seed per model")
    noise_text = (f"; pooled seed-to-seed sd of one accuracy {noise_sd:.2f} pp" if not math.isnan(noise_sd) else "")

    acc4, factors = fig4["result"]["accuracy"], fig4["result"]["factors"]
    pi_loss = max(acc4["pi"][0] - a for a in acc4["pi"][1:])
    other_loss = {m: max(acc4[m][0] - a for a in acc4[m][1:]) for m in KERNEL_RESIZE_METHODS if m != "pi" and m in acc4}

    label = {role: f"ViT/{models[role]['own_patch']}" for role in FIXED}
    worst = min(FIXED, key=lambda role: gaps[role])
    claim_list = [
        Claim(id="vit_collapse", claim="Standard ViTs collapse when evaluated at patch sizes other than their training size",
              paper_value="qualitative", our_value=", ".join(f"{label[r]}: {retained[r]:.2f}" for r in FIXED),
              unit="above-chance accuracy retained at other sizes", verdict=verdict_from_checks([retained[r] < 0.5 for r in FIXED]),
              profile=profile, evidence=f"{src}; rule: for each fixed ViT, mean over the other patch sizes of (acc - chance) / "
              f"(acc at its own size - chance) < 0.5 (chance {chance:.0f}%); kernels PI-resized, position "
              "embeddings bilinearly resized", paper_source="Fig. 3 (ViT-B/16, ViT-B/30)"),
        Claim(id="flexi_matches_fixed", claim="FlexiViT matches standard ViTs at their own patch sizes", paper_value="qualitative",
              our_value=", ".join(f"{gaps[r]:+.1f} at {models[r]['own_patch']}" for r in FIXED), unit="points (FlexiViT − ViT)",
              spread=claim_spread(gap_errors[worst]),
              n=len(gap_values[worst]) if len(gap_values[worst]) > 1 else None,
              verdict=combined_verdict(list(match.values())), profile=profile,
              evidence=f"{src}; rule (noise-aware): FlexiViT accuracy ≥ the fixed ViT's − {MATCH_TOLERANCE:g} points at each "
              f"fixed ViT's own size, within noise when below that by less than two standard errors (same epochs and data; "
              f"FlexiViT sees each size on 1/{len(sizes)} of its steps); "
              + "; ".join(f"{label[r]}: {gaps[r]:+.2f} ± {gap_errors[r]:.2f} (s.e., {len(gap_values[r])} FlexiViT seeds, "
                          + ("paired per seed" if len(runs_of(models, r)) > 1 else
                             f"one ViT seed: FlexiViT's own {plus_minus(gap_values[r])} with the pooled seed sd added")
                          + f"; {match[r].replace('_', ' ')})" for r in FIXED)
              + f"; the spread shown is that of the {label[worst]} gap" + noise_text,
              paper_source="Fig. 3"),
        Claim(id="flexi_smooth", claim="FlexiViT degrades smoothly as the patch size grows, above the fixed ViTs elsewhere",
              paper_value="qualitative", our_value=f"{min(flexi):.1f}–{max(flexi):.1f}", unit="% top-1 over patch sizes",
              verdict=verdict_from_checks([order_ok and max(rises) <= SMOOTH_SLACK, all(above)] if others else []), profile=profile,
              evidence=f"{src}; {seeds_text}; rules: accuracy never rises by more than {SMOOTH_SLACK:g} point from one patch "
              f"size to the next larger one (largest rise {max(rises):+.1f}), and at every size that is no fixed ViT's own "
              f"({', '.join(str(sizes[i]) for i in others)}) FlexiViT ≥ both fixed ViTs (margins "
              + ", ".join(f"{flexi[i] - max(models[r]['acc'][i] for r in FIXED):+.1f}" for i in others) + ")" + noise_text,
              paper_source="Fig. 3, §3.2"),
        Claim(id="pi_resize_lossless", claim="PI-resize keeps accuracy when image and patch are upsampled together; plain "
              "resizing of the kernel (vanilla, area- or norm-scaled) does not", paper_value="qualitative",
              our_value=f"PI: −{max(pi_loss, 0):.2f}; " + ", ".join(f"{m}: −{max(v, 0):.1f}" for m, v in other_loss.items()),
              unit="points lost (worst factor)",
              verdict=verdict_from_checks([pi_loss <= LOSSLESS_TOLERANCE] + [v > LOSSY_DROP for v in other_loss.values()]),
              profile=fig4["config"]["profile"], evidence=f"{src4}; rules: PI-resize loses ≤ {LOSSLESS_TOLERANCE:g} points at every "
              f"factor in {factors} vs factor 1, and each other method loses > {LOSSY_DROP:g} point at some factor",
              paper_source="Fig. 4, §3.4"),
    ]
    claim_list += distillation_claims(models, sizes, flexi, flexi_runs, noise_sd, src, profile)
    if "frontier" in records:
        claim_list.append(frontier_claim(records["frontier"], profile))
    return claim_list


def distillation_claims(models: dict, sizes: list[int], flexi: list[float], flexi_runs: list[list[float]],
                        noise_sd: float, src: str, profile: str) -> list[Claim]:
    """§3.5: the distilled FlexiViT (initialised from the ViT/6 teacher) against its teacher and the plain FlexiViT."""
    if "distill" not in models:
        return [Claim(id=claim_id, claim=text, paper_value="qualitative", our_value=None, unit="points",
                      verdict="not_tested", profile=profile, paper_source="§3.5",
                      evidence=f"{src}; distill_epochs = 0 in the {profile} profile: no distilled model was trained")
                for claim_id, text in DISTILL_CLAIMS.items()]
    distilled, teacher = models["distill"]["acc"], models["vit_small"]["acc"]
    at = sizes.index(models["vit_small"]["own_patch"])
    teacher_gap = distilled[at] - teacher[at]
    teacher_error = math.sqrt(2) * noise_sd  # two single-seed accuracies
    rises = [distilled[i + 1] - distilled[i] for i in range(len(sizes) - 1)]
    gains = [statistics.mean(distilled) - statistics.mean(run) for run in flexi_runs]
    gain, gain_error = mean_and_error(gains)
    gain_error = math.sqrt(gain_error ** 2 + noise_sd ** 2) if not math.isnan(noise_sd) else gain_error
    matches = tolerance_verdict(teacher_gap, teacher_error, MATCH_TOLERANCE)
    smooth = max(rises) <= SMOOTH_SLACK
    return [
        Claim(id="distilled_matches_teacher", claim=DISTILL_CLAIMS["distilled_matches_teacher"], paper_value="qualitative",
              our_value=round(teacher_gap, 2), unit=f"points at patch {sizes[at]} (distilled − teacher)",
              verdict=matches if smooth else combined_verdict([matches, "not_reproduced"]), profile=profile,
              evidence=f"{src}; rules: the distilled FlexiViT is within {MATCH_TOLERANCE:g} points of its ViT/{sizes[at]} "
              f"teacher at the teacher's patch size ({distilled[at]:.2f}% vs {teacher[at]:.2f}%; within noise if below that "
              f"by less than two standard errors, {teacher_error:.2f} pp from the pooled seed sd), and its accuracy never "
              f"rises by more than {SMOOTH_SLACK:g} point from one patch size to the next larger one (largest rise "
              f"{max(rises):+.1f}; accuracies {', '.join(f'{a:.1f}' for a in distilled)})",
              paper_source="§3.5 and Fig. 3 (distilled FlexiViT vs its ViT-B/8 teacher)"),
        Claim(id="distillation_helps", claim=DISTILL_CLAIMS["distillation_helps"], paper_value="qualitative",
              our_value=round(gain, 2), unit="points, mean over patch sizes (distilled − plain FlexiViT)",
              spread=claim_spread(gain_error), n=len(gains) if len(gains) > 1 else None,
              verdict=noise_verdict(gain, gain_error), profile=profile,
              evidence=f"{src}; rule (noise-aware): mean accuracy over patch sizes of the distilled FlexiViT minus that of "
              f"the plain FlexiViT ({plus_minus(gains)} over the plain one's seeds, the distilled run's own noise added) "
              "beyond two standard errors (the distilled one also inherits the teacher's training)", paper_source="§3.5"),
    ]


DISTILL_CLAIMS = {
    "distilled_matches_teacher": "A FlexiViT distilled from a fixed-patch ViT (and initialised from it) matches its "
                                 "teacher at the teacher's patch size and degrades gracefully at the others",
    "distillation_helps": "Distilling from a ViT teacher that also initialises the student improves FlexiViT",
}
FRONTIER_GAIN = 2.0  # x the binomial s.e. of a difference of two accuracies: a gain the test set can resolve


def frontier_claim(record: dict, profile: str) -> Claim:
    """Beyond the papers: do patch size x keep rate together reach accuracies that the better of the
    two knobs alone does not reach at equal measured throughput?"""
    gains = frontier_gains(record)
    points = record["result"]["points"]
    n_test = record["result"]["n_test"]
    noise = FRONTIER_GAIN * math.sqrt(2) * binomial_se(statistics.median(p["acc"] for p in points), n_test)
    gain = gains["either"]["max_gain"]
    verdict = "reproduced" if gain > noise else "within_noise" if gain > 0 else "not_reproduced"
    return Claim(
        id="two_knobs_dominate", claim="Beyond the papers: FlexiViT's patch size and EViT's keep rate together reach "
        "accuracies that neither knob alone reaches at equal measured throughput",
        paper_value="beyond the papers", unit="points gained at equal throughput over the better single knob "
        "(over patch size alone / keep rate alone)",
        our_value=f"{gain:+.2f} ({gains['patch']['max_gain']:+.2f} / {gains['keep']['max_gain']:+.2f})", verdict=verdict,
        profile=profile,
        evidence=f"{record_source(record)}; rule: at some throughput, the best accuracy of all patch-size x keep-rate points "
        "at least that fast exceeds the best of the single-knob points (keep rate 1 at every patch size, or every keep "
        f"rate at the smallest patch size) at least that fast by more than {FRONTIER_GAIN:g} binomial s.e. of a "
        f"difference ({noise:.2f} pp on {n_test:,} test images; within noise if by less); largest gain at "
        f"{gains['either']['at_images_per_s']:.0f} img/s. The keep rate is applied to the trained FlexiViT without "
        "training with it",
        paper_source="none: FlexiViT (Beyer et al., 2023) and EViT (Liang et al., 2022) each study one knob")
