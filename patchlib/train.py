"""One training loop for every chapter.

AdamW with linear warm-up and cosine decay (or a one-cycle schedule, as in the ConvMixer
CIFAR-10 recipe), label smoothing, gradient clipping, bf16 autocast where it pays off, an
evaluation and a checkpoint after every epoch, and exact resumption after an interruption.

Determinism: the data order and augmentation of epoch `e` are drawn from a generator seeded
with (seed, e), so a run resumed from the checkpoint of epoch `e - 1` sees exactly the batches
an uninterrupted run would have seen, and on CPU reaches bit-identical weights.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .data import DataSplits, ImageData, iterate_batches, normalize
from .data.augment import rand_augment, random_crop_flip
from .runtime import autocast, resolve_device


AUGMENTATIONS = {
    "none": "no augmentation",
    "crop_flip": "pad-4 random crop and horizontal flip",
    "randaugment": "RandAugment (2 ops, magnitude 9), then pad-4 random crop and horizontal flip",
    # locuslab/convmixer-cifar10's recommended command: RandomResizedCrop with scale=(1.0, 1.0) and
    # ratio 1 (the identity on 32x32 images), flip, RandAugment(2, 12); no jitter, no erasing.
    "flip_randaugment_m12": "horizontal flip, then RandAugment (2 ops, magnitude 12); no crop",
}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    schedule: str = "cosine"          # "cosine" (linear warm-up + cosine) or "onecycle" (see lr_factor)
    label_smoothing: float = 0.1
    augment: str = "crop_flip"        # one of AUGMENTATIONS
    grad_clip: float | None = 1.0
    precision: str = "auto"           # "fp32", "bf16" or "auto" (bf16 on CUDA, fp32 on CPU)
    eval_batch_size: int = 512

    def __post_init__(self):
        if self.schedule not in ("cosine", "onecycle"):
            raise ValueError(f"unknown schedule {self.schedule!r}; use 'cosine' or 'onecycle'")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augment {self.augment!r}; use one of {', '.join(AUGMENTATIONS)}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"unknown precision {self.precision!r}; use 'auto', 'fp32' or 'bf16'")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        for name in ("lr", "weight_decay", "warmup_epochs", "label_smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"TrainConfig.{name} must be a finite number >= 0, got {value!r}")
        if self.lr == 0:
            raise ValueError("TrainConfig.lr must be positive, got 0")
        if self.label_smoothing >= 1:
            raise ValueError(f"TrainConfig.label_smoothing must be below 1, got {self.label_smoothing!r}")


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images [N, C, H, W], in [0, 1] units."""
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    for start in range(0, len(images), chunk):
        x = images[start:start + chunk].to(torch.float64) / 255
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).sqrt()
    return mean.tolist(), std.tolist()


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the peak learning rate at `step`.

    cosine: linear warm-up from 0, then half-cosine to 0.
    onecycle: the piecewise-linear schedule of locuslab/convmixer-cifar10 (`np.interp` over the
    knots 0, 2/5, 4/5 and 1 of training with values 0, 1, 1/20, 0): linear up to the peak over the
    warm-up (set warmup_epochs to 2/5 of the epochs to match it), linear down to 1/20 of the peak
    at 4/5 of training, then linear to 0.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "cosine":
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    knot = 0.8 * total_steps
    if step < knot:
        return 1.0 - 0.95 * (step - warmup_steps) / max(1.0, knot - warmup_steps)
    return max(0.0, 0.05 * (total_steps - step) / max(1.0, total_steps - knot))


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageData, *, mean, std, device: torch.device,
             batch_size: int = 512, precision: str = "auto") -> dict:
    """Top-1 accuracy (%) and mean cross-entropy on `data`."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for images, labels in iterate_batches(data, batch_size, shuffle=False):
        images, labels = normalize(images.to(device), mean, std), labels.to(device)
        with autocast(device, precision):
            logits = model(images)
        loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum").item()
        correct += (logits.argmax(dim=1) == labels).sum().item()
    return {"loss": loss_sum / len(data), "acc": 100.0 * correct / len(data)}


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(model: nn.Module, data: DataSplits, config: TrainConfig, *, seed: int,
          device: str | torch.device | None = None, checkpoint: str | Path | None = None,
          progress: bool = True, loss_fn: Callable | None = None,
          stop_after_epochs: int | None = None, step_hook: Callable[[int, int], None] | None = None) -> dict:
    """Train `model` on `data.train`, evaluating on `data.test` after every epoch.

    `checkpoint`: a file written after every epoch; if it exists when training starts, the
    run resumes from it. `loss_fn(model, images, labels) -> (loss, logits)` replaces the
    default cross-entropy step (e.g. for distillation). `stop_after_epochs` ends the call
    early, as an interruption would (used by the resume test). `step_hook(step, total_steps)` is
    called at the start of every optimisation step, before its forward pass, with the global step
    (0-based, counted over all epochs, so a resumed run sees the same steps) and the total; EViT
    uses it for its keep-rate schedule.
    Returns {"history": [per-epoch metrics], "final": last test metrics, "mean"/"std": the
    normalisation used, "train_time_s": seconds spent training in this and earlier calls}.
    """
    device = resolve_device(device)
    model.to(device)
    mean, std = channel_stats(data.train.images)
    steps_per_epoch = len(data.train) // config.batch_size  # drop_last: every step has a full batch
    if steps_per_epoch == 0:
        raise ValueError(f"batch size {config.batch_size} exceeds the {len(data.train)} training images")
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim <= 1 or name.endswith(("pos_embed", "cls_token")) else decay).append(param)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, config.schedule))

    history, start_epoch, train_time = [], 0, 0.0
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        if state["config"] != asdict(config):
            raise ValueError(f"checkpoint {checkpoint} was written by a different training config")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, start_epoch, train_time = state["history"], state["epoch"], state["train_time_s"]

    criterion = loss_fn or (lambda m, x, y: _cross_entropy_step(m, x, y, config.label_smoothing))
    end_epoch = config.epochs if stop_after_epochs is None else min(config.epochs, start_epoch + stop_after_epochs)
    for epoch in range(start_epoch, end_epoch):
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        torch.manual_seed(seed * 100_003 + epoch)  # for ops that use the global RNG (RandAugment)
        model.train()
        tic, loss_sum, correct, seen = time.perf_counter(), 0.0, 0, 0
        batches = iterate_batches(data.train, config.batch_size, shuffle=True, generator=generator, drop_last=True)
        bar = tqdm(batches, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=not progress, leave=False)
        for batch_index, (images, labels) in enumerate(bar):
            if step_hook is not None:
                step_hook(epoch * steps_per_epoch + batch_index, total_steps)
            images = _augment(images, config.augment, generator)
            images, labels = normalize(images.to(device), mean, std), labels.to(device)
            with autocast(device, config.precision):
                loss, logits = criterion(model, images, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * len(labels)
            correct += (logits.argmax(dim=1) == labels).sum().item()
            seen += len(labels)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{100 * correct / seen:.1f}")
        epoch_time = time.perf_counter() - tic
        train_time += epoch_time
        test = evaluate(model, data.test, mean=mean, std=std, device=device,
                        batch_size=config.eval_batch_size, precision=config.precision)
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": 100 * correct / seen,
                        "test_loss": test["loss"], "test_acc": test["acc"],
                        "lr_end": scheduler.get_last_lr()[0], "train_images_per_s": seen / epoch_time})
        if progress:
            tqdm.write(f"epoch {epoch + 1}/{config.epochs}: train loss {loss_sum / seen:.3f}, "
                       f"test acc {test['acc']:.2f}% ({seen / epoch_time:.0f} img/s)")
        if checkpoint is not None:
            _save_checkpoint(checkpoint, {"config": asdict(config), "model": model.state_dict(),
                                          "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                          "history": history, "epoch": epoch + 1, "train_time_s": train_time})
    return {"history": history, "final": {k: history[-1][k] for k in ("test_loss", "test_acc")} if history else None,
            "mean": mean, "std": std, "train_time_s": train_time, "completed": len(history) == config.epochs}


def _augment(images: torch.Tensor, augment: str, generator: torch.Generator) -> torch.Tensor:
    """One batch of uint8 images through the named augmentation (see AUGMENTATIONS)."""
    if augment == "randaugment":
        images = rand_augment(images)
    if augment in ("randaugment", "crop_flip"):
        images = random_crop_flip(images, padding=4, generator=generator)
    if augment == "flip_randaugment_m12":  # a zero-padding crop is a flip only
        images = rand_augment(random_crop_flip(images, padding=0, generator=generator), num_ops=2, magnitude=12)
    return images


def _cross_entropy_step(model, images, labels, label_smoothing):
    logits = model(images)
    return F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing), logits
