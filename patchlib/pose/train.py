"""Training and evaluation of top-down pose models: ViTPose's recipe (§4.1 and Table 1; the
official mmpose configs), with the book's checkpoint and resume conventions (`patchlib.train`).

- Targets: UDP Gaussian heatmaps (sigma 2 heatmap pixels) with a weight per keypoint, 0 where a
  keypoint is unlabelled; by default ViTPose's (`target="udp_window"`: cut to a 13x13 window, a
  partial Gaussian for keypoints just outside the crop; `patchlib.pose.heatmaps.encode`).
- Loss: mean squared error between predicted and target heatmaps, each keypoint's map multiplied
  by its weight first (mmpose's JointsMSELoss with `use_target_weight=True`).
- Optimiser: AdamW with no weight decay on biases, norms and position/class tokens, and for a ViT
  backbone the layer-wise learning-rate decay of Table 1 (block l of L gets lr * decay^(L + 1 - l),
  the patch embedding decay^(L + 1), the decoder the full lr).
- Schedule: linear warm-up over `warmup_steps` steps from 0.001 of the peak, then the paper's step
  decay (lr / 10 at epochs 170 and 200 of 210, kept here as fractions of training) or a cosine.
- Evaluation: un-augmented crops from the people's boxes, heatmaps averaged with those of the
  flipped crop (the flip test), decoded with sub-pixel refinement (DARK-UDP by default), mapped
  back to the image, rescored, thinned by OKS-NMS (0.9) and scored with COCO's OKS AP/AR
  (`patchlib.pose.evaluate`).

The loop is `patchlib.train.fit` with `PoseTask`: its random streams (epoch e's data order from
(seed, e); each person's augmentation from (seed, e, index), `TopDownDataset.set_epoch`), parameter
groups (the no-decay rule, with the layer-wise decay as a learning-rate scale per parameter),
checkpoints, exact resumption and multi-process training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed
from ..data import normalize
from ..runtime import autocast, check_precision, resolve_device
from ..train import EpochStreams, Task, check_grad_clip, check_speed_options, fit, record_fields
from .data import crop_region
from .evaluate import OKS_NMS_THRESHOLD, evaluate_keypoints, oks_nms
from .heatmaps import DECODINGS, TARGETS, decode, encode, flip_heatmaps

# ImageNet statistics, as mmpose normalises COCO crops (and ours: the crops of every dataset).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SCHEDULES = ("step", "cosine")


@dataclass(frozen=True)
class PoseTrainConfig:
    epochs: int
    batch_size: int = 64
    lr: float = 5e-4                          # Table 1 (COCO only, batch 512)
    weight_decay: float = 0.1
    layer_decay: float | None = None          # ViT backbones: Table 1's layer-wise decay (0.75 for B)
    warmup_steps: int = 500                   # mmpose: linear warm-up over 500 iterations from 0.001
    schedule: str = "step"                    # "step" (the paper's) or "cosine"
    milestones: tuple[float, ...] = (170 / 210, 200 / 210)  # step decay points, fractions of training
    sigma: float = 2.0                        # Gaussian std of the targets, heatmap pixels
    target: str = "udp_window"                # heatmap targets (heatmaps.TARGETS; ViTPose's by default)
    decoding: str = "dark_udp"                # heatmap decoding (heatmaps.DECODINGS; ViTPose's by default)
    grad_clip: float | None = 1.0             # the official configs' max_norm
    precision: str = "auto"                   # of training steps (patchlib.runtime.PRECISIONS); evaluation runs in fp32
    flip_test: bool = True
    eval_every: int = 1                       # epochs between evaluations (the last epoch always)
    num_workers: int = 0                      # DataLoader processes (0: load in the training process)
    adamw_impl: str = "default"               # speed options, as TrainConfig's (patchlib.train.LATER_FIELDS)
    compile: bool = False

    def __post_init__(self):
        object.__setattr__(self, "milestones", tuple(self.milestones))
        check_grad_clip(self.grad_clip, "PoseTrainConfig")
        for name in ("epochs", "batch_size", "eval_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"PoseTrainConfig.{name} must be a positive integer, got {value!r}")
        for name in ("warmup_steps", "num_workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"PoseTrainConfig.{name} must be a non-negative integer, got {value!r}")
        for name in ("lr", "weight_decay", "sigma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"PoseTrainConfig.{name} must be a finite number >= 0, got {value!r}")
        if self.lr == 0 or self.sigma == 0:
            raise ValueError("PoseTrainConfig.lr and .sigma must be positive")
        if self.layer_decay is not None and not 0 < self.layer_decay <= 1:
            raise ValueError(f"PoseTrainConfig.layer_decay must be in (0, 1] or None, got {self.layer_decay!r}")
        if self.target not in TARGETS or self.decoding not in DECODINGS:
            raise ValueError(f"PoseTrainConfig.target must be one of {', '.join(TARGETS)} and .decoding one of "
                             f"{', '.join(DECODINGS)}; got {self.target!r}, {self.decoding!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; use one of {', '.join(SCHEDULES)}")
        if any(not 0 < m < 1 for m in self.milestones):
            raise ValueError(f"PoseTrainConfig.milestones are fractions of training in (0, 1), got {self.milestones}")
        check_precision(self.precision, "PoseTrainConfig.precision")
        check_speed_options(self, "PoseTrainConfig")

    def record(self) -> dict:
        """This config as a record's `train` entry (`patchlib.train.record_fields`)."""
        return record_fields(self)


def pose_lr_factor(step: int, total_steps: int, config: PoseTrainConfig) -> float:
    """Multiplier of the peak learning rate at `step` (0-based): warm-up, then step or cosine decay."""
    if step < config.warmup_steps:
        return 0.001 + (1 - 0.001) * step / config.warmup_steps
    progress = step / max(1, total_steps)
    if config.schedule == "step":
        return 0.1 ** sum(progress >= m for m in config.milestones)
    after_warmup = (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(after_warmup, 1.0)))


def layer_wise_decay(model: nn.Module, layer_decay: float | None) -> Callable[[str], float] | None:
    """Table 1's layer-wise learning-rate decay for `model`'s ViT backbone, as a scale per parameter
    name (`patchlib.train.parameter_groups`): layer l of L scaled by decay^(L + 1 - l), everything
    outside the backbone by 1. None without `layer_decay` or a ViT backbone."""
    blocks = getattr(getattr(getattr(model, "backbone", None), "vit", None), "blocks", None)
    if layer_decay is None or blocks is None:
        return None
    depth = len(blocks)

    def scale(name: str) -> float:
        if not name.startswith("backbone.vit."):
            return 1.0
        return layer_decay ** (depth + 1 - _vit_layer(name.removeprefix("backbone.vit."), depth))

    return scale


def _vit_layer(name: str, depth: int) -> int:
    """Layer index of a ViT parameter for layer-wise decay: embeddings 0, block i -> i + 1, the rest L + 1."""
    if name.startswith(("patch_embed", "pos_embed", "cls_token")):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return depth + 1


def heatmap_loss(predicted: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted heatmap MSE: mean over [B, K, h, w] of ((predicted - target) * weight[b, k])^2."""
    weight = weight[..., None, None]
    return F.mse_loss(predicted.float() * weight, target * weight)


def _loader(dataset, batch_size: int, *, generator: torch.Generator | None = None, num_workers: int = 0,
            drop_last: bool = False, pin_memory: bool = False):
    """Batches of `dataset`: in order without `generator`; with it, shuffled, this rank's slices of
    global batches (`ShardedBatches`). `pin_memory` (for a GPU) lets batches be copied without
    blocking; with workers, each keeps 4 batches ready."""
    options = {"num_workers": num_workers, "pin_memory": pin_memory} | ({"prefetch_factor": 4} if num_workers else {})
    if generator is None:
        return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, **options)
    return torch.utils.data.DataLoader(dataset, generator=generator,
                                       batch_sampler=ShardedBatches(len(dataset), batch_size, generator, drop_last),
                                       **options)


class ShardedBatches:
    """A random order drawn from `generator` when iterated (as torch's RandomSampler draws it), cut
    into global batches of `batch_size`, of which this rank gets its slice (`distributed.shard`)."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator, drop_last: bool):
        self.n, self.batch_size, self.generator, self.drop_last = n, batch_size, generator, drop_last
        self.part = distributed.shard(batch_size)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator).tolist()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start:start + self.batch_size][self.part]


@torch.no_grad()
def predict(model: nn.Module, dataset, *, device: torch.device, batch_size: int = 64, flip_test: bool = True,
            num_workers: int = 0, decoding: str = "dark_udp") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(indices [N], keypoints [N, K, 2] in crop coordinates, scores [N, K]) for every person of an
    un-augmented `dataset`; with `flip_test`, each person's heatmaps are averaged with the flipped
    crop's heatmaps mapped back (`flip_heatmaps`); decoded by `decoding` (`heatmaps.DECODINGS`;
    ViTPose's DARK-UDP by default)."""
    model.eval()
    indices, points, scores = [], [], []
    part = distributed.split_evenly(len(dataset))  # a multi-process run splits the people, then gathers
    mine = dataset if (part.start, part.stop) == (0, len(dataset)) else torch.utils.data.Subset(dataset, range(
        part.start, part.stop))
    for batch in _loader(mine, batch_size, num_workers=num_workers):
        images = normalize(batch["image"].to(device), MEAN, STD)
        heatmaps = model(images).float()
        if flip_test:
            heatmaps = (heatmaps + flip_heatmaps(model(images.flip(-1)).float())) / 2
        crop_points, crop_scores = decode(heatmaps.cpu(), image_size=dataset.image_size, method=decoding)
        indices.append(batch["index"])
        points.append(crop_points)
        scores.append(crop_scores)
    return tuple(torch.cat(distributed.gather_to_all(torch.cat(part))) for part in (indices, points, scores))


def evaluate_pose(model: nn.Module, dataset, annotations: str | Path, *, device: torch.device,
                  batch_size: int = 64, flip_test: bool = True, num_workers: int = 0, decoding: str = "dark_udp",
                  oks_nms_threshold: float | None = OKS_NMS_THRESHOLD) -> dict:
    """COCO OKS AP/AR of `model` on the people of `dataset` (boxes from the annotations) against
    `annotations`, as ViTPose evaluates: predictions decoded by `decoding`, rescored (`to_results`),
    near-duplicates removed by OKS-NMS at `oks_nms_threshold` (None: not), then COCOeval. Also the
    scored predictions as COCO results ("results")."""
    indices, points, scores = predict(model, dataset, device=device, batch_size=batch_size, flip_test=flip_test,
                                      num_workers=num_workers, decoding=decoding)
    results = dataset.to_results(indices.tolist(), points, scores)
    if oks_nms_threshold is not None:  # OKS scale: the padded crop region's area (mmpose's box area)
        areas = [math.prod(crop_region(dataset.persons[i].box, dataset.image_size, dataset.padding)[1])
                 for i in indices.tolist()]
        results = oks_nms(results, areas, threshold=oks_nms_threshold)
    return evaluate_keypoints(annotations, results) | {"results": results}


class PoseTask(Task):
    """Top-down pose estimation for `patchlib.train.fit`: the weighted heatmap MSE on the augmented
    crops of `train_set` (targets encoded per batch), the config's layer-wise decay and schedule,
    and COCO OKS AP/AR on `val_set` every `eval_every` epochs."""

    def __init__(self, train_set, val_set, val_annotations: str | Path, config: PoseTrainConfig, *,
                 device: torch.device):
        self.train_set, self.val_set, self.val_annotations = train_set, val_set, val_annotations
        self.config, self.device, self.eval_every = config, device, config.eval_every
        self.steps_per_epoch = len(train_set) // config.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"batch size {config.batch_size} exceeds the {len(train_set)} training people")
        self.heatmap_size = tuple(s // 4 for s in train_set.image_size)

    def batches(self, epoch: int, streams: EpochStreams):
        self.train_set.set_epoch(epoch)  # each person's augmentation is drawn from (seed, epoch, index): rank-free
        return _loader(self.train_set, self.config.batch_size, generator=streams.order,
                       num_workers=self.config.num_workers, drop_last=True, pin_memory=self.device.type == "cuda")

    def training_step(self, model, batch, streams):
        target, weight = encode(batch["keypoints"], batch["visible"], image_size=self.train_set.image_size,
                                heatmap_size=self.heatmap_size, sigma=self.config.sigma, method=self.config.target)
        images = normalize(batch["image"].to(self.device, non_blocking=True), MEAN, STD)
        with autocast(self.device, self.config.precision):
            predicted = model(images)
        return heatmap_loss(predicted, target.to(self.device), weight.to(self.device)), {"seen": len(images)}

    def schedule(self, step: int, total_steps: int) -> float:
        return pose_lr_factor(step, total_steps, self.config)

    def lr_scales(self, model):
        return layer_wise_decay(model, self.config.layer_decay)

    def evaluate(self, model):
        scores = evaluate_pose(model, self.val_set, self.val_annotations, device=self.device,
                               flip_test=self.config.flip_test, num_workers=self.config.num_workers,
                               decoding=self.config.decoding)
        return {name: value for name, value in scores.items() if name != "results"}

    def summary(self, entry):
        return f"loss {entry['train_loss']:.2e}" + (f", val AP {entry['AP']:.3f}" if "AP" in entry else "")


def train_pose(model: nn.Module, train_set, val_set, val_annotations: str | Path, config: PoseTrainConfig, *,
               seed: int, device=None, checkpoint: str | Path | None = None, progress: bool = True,
               stop_after_epochs: int | None = None) -> dict:
    """Train `model` on the crops of `train_set` (a `TopDownDataset` with augmentation) and score it
    on `val_set` (without) every `eval_every` epochs (`PoseTask`, `patchlib.train.fit`).

    `checkpoint`: written after every epoch; if present when training starts, the run resumes from
    it (it must have been written with the same config). `stop_after_epochs` ends the call early,
    as an interruption would. Returns {"history": per-epoch metrics (train loss; AP, AP50, AR, ...
    where evaluated), "final": the last evaluation's metrics, "train_time_s", "completed"}.
    """
    device = resolve_device(device)
    run = fit(model, PoseTask(train_set, val_set, val_annotations, config, device=device), seed=seed, device=device,
              checkpoint=checkpoint, progress=progress, stop_after_epochs=stop_after_epochs)
    evaluated = [entry for entry in run["history"] if "AP" in entry]
    return {"history": run["history"],
            "final": {k: v for k, v in evaluated[-1].items() if k[0].isupper()} if evaluated else None,
            "train_time_s": run["train_time_s"], "completed": run["completed"]}
