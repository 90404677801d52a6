"""Training and evaluation of top-down pose models: ViTPose's recipe (§4.1 and Table 1; the
official mmpose configs), with the book's checkpoint and resume conventions (`patchlib.train`).

- Targets: UDP Gaussian heatmaps (sigma 2 heatmap pixels) with a weight per keypoint, 0 where a
  keypoint is unlabelled or falls outside the crop (`patchlib.pose.heatmaps.encode`).
- Loss: mean squared error between predicted and target heatmaps, each keypoint's map multiplied
  by its weight first (mmpose's JointsMSELoss with `use_target_weight=True`).
- Optimiser: AdamW with no weight decay on biases, norms and position/class tokens, and for a ViT
  backbone the layer-wise learning-rate decay of Table 1 (block l of L gets lr * decay^(L + 1 - l),
  the patch embedding decay^(L + 1), the decoder the full lr).
- Schedule: linear warm-up over `warmup_steps` steps from 0.001 of the peak, then the paper's step
  decay (lr / 10 at epochs 170 and 200 of 210, kept here as fractions of training) or a cosine.
- Evaluation: un-augmented crops from the people's boxes, heatmaps averaged with those of the
  flipped crop (the flip test), decoded with sub-pixel refinement, mapped back to the image and
  scored with COCO's OKS AP/AR (`patchlib.pose.evaluate`).

Determinism as in `patchlib.train`: epoch e's order and augmentation come from (seed, e), so a run
resumed from the checkpoint of epoch e - 1 sees the batches an uninterrupted run would have seen.
Checkpoints, resumption, the optimisation step and multi-process training are `patchlib.train`'s.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import distributed
from ..runtime import autocast, resolve_device
from ..train import TimeEstimate, checkpoint_state, optimisation_step, resume, save_checkpoint
from .evaluate import evaluate_keypoints
from .heatmaps import decode, encode, flip_heatmaps

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
    grad_clip: float | None = 1.0             # the official configs' max_norm
    precision: str = "auto"                   # of training steps; evaluation always runs in fp32
    flip_test: bool = True
    eval_every: int = 1                       # epochs between evaluations (the last epoch always)
    num_workers: int = 0                      # DataLoader processes (0: load in the training process)

    def __post_init__(self):
        object.__setattr__(self, "milestones", tuple(self.milestones))
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
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; use one of {', '.join(SCHEDULES)}")
        if any(not 0 < m < 1 for m in self.milestones):
            raise ValueError(f"PoseTrainConfig.milestones are fractions of training in (0, 1), got {self.milestones}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"unknown precision {self.precision!r}; use 'auto', 'fp32' or 'bf16'")


def lr_factor(step: int, total_steps: int, config: PoseTrainConfig) -> float:
    """Multiplier of the peak learning rate at `step` (0-based): warm-up, then step or cosine decay."""
    if step < config.warmup_steps:
        return 0.001 + (1 - 0.001) * step / config.warmup_steps
    progress = step / max(1, total_steps)
    if config.schedule == "step":
        return 0.1 ** sum(progress >= m for m in config.milestones)
    after_warmup = (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(after_warmup, 1.0)))


def parameter_groups(model: nn.Module, config: PoseTrainConfig) -> list[dict]:
    """AdamW groups: no weight decay on 1-d parameters (biases, norms) and position/class tokens;
    with `layer_decay`, the learning rate of a ViT backbone's layer l scaled by decay^(L + 1 - l)."""
    blocks = getattr(getattr(getattr(model, "backbone", None), "vit", None), "blocks", None)
    depth = len(blocks) if (config.layer_decay is not None and blocks is not None) else None
    groups: dict[tuple[float, float], list] = {}
    for name, param in model.named_parameters():
        no_decay = param.ndim <= 1 or name.endswith(("pos_embed", "cls_token"))
        scale = 1.0
        if depth is not None and name.startswith("backbone.vit."):
            layer = _vit_layer(name.removeprefix("backbone.vit."), depth)
            scale = config.layer_decay ** (depth + 1 - layer)
        key = (0.0 if no_decay else config.weight_decay, scale)
        groups.setdefault(key, []).append(param)
    return [{"params": params, "weight_decay": decay, "lr_scale": scale} for (decay, scale), params in groups.items()]


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


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 crops [B, 3, H, W] -> float, normalised with the ImageNet statistics."""
    mean = torch.tensor(MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255 - mean) / std


def _loader(dataset, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0, num_workers: int = 0,
            drop_last: bool = False):
    """Batches of `dataset`; shuffled ones are this rank's slices of global batches (`ShardedBatches`)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    if not shuffle:
        return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    return torch.utils.data.DataLoader(dataset, generator=generator, num_workers=num_workers,
                                       batch_sampler=ShardedBatches(len(dataset), batch_size, generator, drop_last))


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
            num_workers: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(indices [N], keypoints [N, K, 2] in crop coordinates, scores [N, K]) for every person of an
    un-augmented `dataset`; with `flip_test`, each person's heatmaps are averaged with the flipped
    crop's heatmaps mapped back (`flip_heatmaps`)."""
    model.eval()
    indices, points, scores = [], [], []
    part = distributed.split_evenly(len(dataset))  # a multi-process run splits the people, then gathers
    mine = dataset if (part.start, part.stop) == (0, len(dataset)) else torch.utils.data.Subset(dataset, range(
        part.start, part.stop))
    for batch in _loader(mine, batch_size, shuffle=False, num_workers=num_workers):
        images = normalize(batch["image"].to(device))
        heatmaps = model(images).float()
        if flip_test:
            heatmaps = (heatmaps + flip_heatmaps(model(images.flip(-1)).float())) / 2
        crop_points, crop_scores = decode(heatmaps.cpu(), image_size=dataset.image_size)
        indices.append(batch["index"])
        points.append(crop_points)
        scores.append(crop_scores)
    return tuple(torch.cat(distributed.gather_to_all(torch.cat(part))) for part in (indices, points, scores))


def evaluate_pose(model: nn.Module, dataset, annotations: str | Path, *, device: torch.device,
                  batch_size: int = 64, flip_test: bool = True, num_workers: int = 0) -> dict:
    """COCO OKS AP/AR of `model` on the people of `dataset` (boxes from the annotations) against
    `annotations`, plus the predictions as COCO results ("results")."""
    indices, points, scores = predict(model, dataset, device=device, batch_size=batch_size, flip_test=flip_test,
                                      num_workers=num_workers)
    results = dataset.to_results(indices.tolist(), points, scores)
    return evaluate_keypoints(annotations, results) | {"results": results}


def train_pose(model: nn.Module, train_set, val_set, val_annotations: str | Path, config: PoseTrainConfig, *,
               seed: int, device=None, checkpoint: str | Path | None = None, progress: bool = True,
               stop_after_epochs: int | None = None) -> dict:
    """Train `model` on the crops of `train_set` (a `TopDownDataset` with augmentation) and score it
    on `val_set` (without) every `eval_every` epochs.

    `checkpoint`: written after every epoch; if present when training starts, the run resumes from
    it (it must have been written with the same config). `stop_after_epochs` ends the call early,
    as an interruption would. Returns {"history": per-epoch metrics (train loss; AP, AP50, AR, ...
    where evaluated), "final": the last evaluation's metrics, "train_time_s", "completed"}.
    """
    device = resolve_device(device)
    model.to(device)
    steps_per_epoch = len(train_set) // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"batch size {config.batch_size} exceeds the {len(train_set)} training people")
    total_steps = steps_per_epoch * config.epochs
    groups = parameter_groups(model, config)
    optimizer = torch.optim.AdamW(groups, lr=config.lr)
    scales = [group["lr_scale"] for group in groups]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, [lambda step, s=s: s * lr_factor(step, total_steps, config) for s in scales])
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    history, start_epoch, train_time = resume(checkpoint, config, model, optimizer, scheduler, device)
    trained = distributed.wrap(model, device)

    progress = progress and distributed.is_main()
    heatmap_size = tuple(s // 4 for s in train_set.image_size)
    end_epoch = config.epochs if stop_after_epochs is None else min(config.epochs, start_epoch + stop_after_epochs)
    estimate = TimeEstimate(end_epoch - start_epoch, steps_per_epoch, enabled=progress)
    for epoch in range(start_epoch, end_epoch):
        train_set.set_epoch(epoch)  # each person's augmentation is drawn from (seed, epoch, index): rank-free
        torch.manual_seed(distributed.rank_seed(seed * 100_003 + epoch))
        trained.train()
        tic, loss_sum, seen = time.perf_counter(), 0.0, 0
        batches = _loader(train_set, config.batch_size, shuffle=True, seed=seed, epoch=epoch,
                          num_workers=config.num_workers, drop_last=True)
        bar = tqdm(batches, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress,
                   leave=False)
        for batch in bar:
            target, weight = encode(batch["keypoints"], batch["visible"], image_size=train_set.image_size,
                                    heatmap_size=heatmap_size, sigma=config.sigma)
            images = normalize(batch["image"].to(device))
            with autocast(device, config.precision):
                predicted = trained(images)
            loss = heatmap_loss(predicted, target.to(device), weight.to(device))
            optimisation_step(loss, trained, optimizer, scheduler, config.grad_clip)
            loss_sum += loss.item() * len(images)
            seen += len(images)
            bar.set_postfix(loss=f"{loss_sum / seen:.2e}")
            estimate.step_done()
        loss_sum, seen = distributed.sum_over_ranks(loss_sum, seen)
        epoch_time = time.perf_counter() - tic
        train_time += epoch_time
        entry = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "lr_end": scheduler.get_last_lr()[-1],
                 "train_images_per_s": seen / epoch_time}
        if (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs:
            scores = evaluate_pose(model, val_set, val_annotations, device=device, flip_test=config.flip_test,
                                   num_workers=config.num_workers)
            entry |= {name: value for name, value in scores.items() if name != "results"}
            if progress:
                tqdm.write(f"epoch {epoch + 1}/{config.epochs}: loss {entry['train_loss']:.2e}, val AP "
                           f"{entry['AP']:.3f} ({entry['train_images_per_s']:.0f} img/s)")
        history.append(entry)
        if checkpoint is not None:
            save_checkpoint(checkpoint, checkpoint_state(config, model, optimizer, scheduler, history, train_time))
    evaluated = [entry for entry in history if "AP" in entry]
    return {"history": history, "final": {k: v for k, v in evaluated[-1].items() if k[0].isupper()} if evaluated else None,
            "train_time_s": train_time, "completed": len(history) == config.epochs}
