"""One training loop for every chapter.

AdamW with linear warm-up and cosine decay (or a one-cycle schedule, as in the ConvMixer
CIFAR-10 recipe), label smoothing, gradient clipping, bf16 autocast where it pays off, an
evaluation and a checkpoint after every epoch, and exact resumption after an interruption.

Determinism: the data order and augmentation of epoch `e` are drawn from a generator seeded
with (seed, e), so a run resumed from the checkpoint of epoch `e - 1` sees exactly the batches
an uninterrupted run would have seen, and on CPU reaches bit-identical weights.

Several processes (`torchrun --nproc_per_node=N`): each rank trains on its slice of every global
batch, with DistributedDataParallel; see `patchlib.distributed` for what is shared and what not.
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

from . import distributed
from .data import DataSplits, ImageData, iterate_batches, normalize
from .data.augment import channel_stats, rand_augment, random_crop_flip
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
    """Top-1 accuracy (%) and mean cross-entropy on `data` (split over the ranks of a multi-process run)."""
    model.eval()
    loss_sum, correct = 0.0, 0
    part = distributed.split_evenly(len(data))
    for start in range(part.start, part.stop, batch_size):
        stop = min(start + batch_size, part.stop)
        images, labels = normalize(data.images[start:stop].to(device), mean, std), data.labels[start:stop].to(device)
        with autocast(device, precision):
            logits = model(images)
        loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum").item()
        correct += (logits.argmax(dim=1) == labels).sum().item()
    loss_sum, correct = distributed.sum_over_ranks(loss_sum, correct)
    return {"loss": loss_sum / len(data), "acc": 100.0 * correct / len(data)}


def save_checkpoint(path: Path, state: dict) -> None:
    """Write a training checkpoint atomically (a temporary file, then a rename), from rank 0 only;
    every rank waits until it is written."""
    if distributed.is_main():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
    distributed.barrier()


def checkpoint_state(config, model: nn.Module, optimizer, scheduler, history: list, train_time: float) -> dict:
    """What a checkpoint holds: enough to resume exactly (`resume`)."""
    return {"config": asdict(config), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "history": history, "epoch": len(history), "train_time_s": train_time}


def resume(checkpoint: Path | None, config, model: nn.Module, optimizer, scheduler,
           device: torch.device) -> tuple[list, int, float]:
    """(history, first epoch to train, training seconds so far): from `checkpoint` when it exists
    (it must have been written with the same config), else a fresh start."""
    if checkpoint is None or not checkpoint.exists():
        return [], 0, 0.0
    state = torch.load(checkpoint, map_location=device, weights_only=False)
    if state["config"] != asdict(config):
        raise ValueError(f"checkpoint {checkpoint} was written by a different training config; delete it to "
                         "train from scratch")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return state["history"], state["epoch"], state["train_time_s"]


def optimisation_step(loss: torch.Tensor, model: nn.Module, optimizer, scheduler, grad_clip: float | None) -> None:
    """Backward, gradient clipping (global norm), optimiser and schedule steps."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    scheduler.step()


class TimeEstimate:
    """Prints once how long this call's training will take on this device, from the time of its
    first steps (the very first step, which includes one-off set-up, is not counted)."""

    def __init__(self, epochs: int, steps_per_epoch: int, *, timed_steps: int = 3, enabled: bool = True):
        self.epochs, self.steps_per_epoch, self.timed_steps = epochs, steps_per_epoch, timed_steps
        self.done, self.count, self.tic = not enabled, 0, 0.0

    def step_done(self) -> None:
        if self.done:
            return
        self.count += 1
        if self.count == 1:
            self.tic = time.perf_counter()
        elif self.count == self.timed_steps + 1 or self.count == self.epochs * self.steps_per_epoch:
            self.done = True
            per_step = (time.perf_counter() - self.tic) / (self.count - 1)
            tqdm.write(f"estimated training time here: {_duration(per_step * self.epochs * self.steps_per_epoch)} "
                       f"({self.epochs} epoch(s) of {self.steps_per_epoch} steps at {per_step:.3g} s per step, "
                       f"timed over steps 2-{self.count}; evaluation not included)")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 2 * 3600 else f"{seconds / 3600:.1f} h"


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
    my_part = distributed.shard(config.batch_size)  # the whole batch in a single process

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim <= 1 or name.endswith(("pos_embed", "cls_token")) else decay).append(param)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, config.schedule))
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    history, start_epoch, train_time = resume(checkpoint, config, model, optimizer, scheduler, device)
    trained = distributed.wrap(model, device)

    progress = progress and distributed.is_main()
    criterion = loss_fn or (lambda m, x, y: _cross_entropy_step(m, x, y, config.label_smoothing))
    end_epoch = config.epochs if stop_after_epochs is None else min(config.epochs, start_epoch + stop_after_epochs)
    estimate = TimeEstimate(end_epoch - start_epoch, steps_per_epoch, enabled=progress)
    for epoch in range(start_epoch, end_epoch):
        epoch_seed = seed * 100_003 + epoch
        generator = torch.Generator().manual_seed(epoch_seed)  # the data order: the same on every rank
        # augmentation: rank 0 draws from the order's generator, as a single process does; other ranks their own
        augment_generator = generator if distributed.is_main() else torch.Generator().manual_seed(
            distributed.rank_seed(epoch_seed))
        torch.manual_seed(distributed.rank_seed(epoch_seed))  # for ops that use the global RNG (RandAugment)
        trained.train()
        tic, loss_sum, correct, seen = time.perf_counter(), 0.0, 0, 0
        batches = iterate_batches(data.train, config.batch_size, shuffle=True, generator=generator, drop_last=True)
        bar = tqdm(batches, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=not progress, leave=False)
        for batch_index, (images, labels) in enumerate(bar):
            if step_hook is not None:
                step_hook(epoch * steps_per_epoch + batch_index, total_steps)
            images = _augment(images[my_part], config.augment, augment_generator)
            images, labels = normalize(images.to(device), mean, std), labels[my_part].to(device)
            with autocast(device, config.precision):
                loss, logits = criterion(trained, images, labels)
            optimisation_step(loss, trained, optimizer, scheduler, config.grad_clip)
            loss_sum += loss.item() * len(labels)
            correct += (logits.argmax(dim=1) == labels).sum().item()
            seen += len(labels)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{100 * correct / seen:.1f}")
            estimate.step_done()
        loss_sum, correct, seen = distributed.sum_over_ranks(loss_sum, correct, seen)
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
            save_checkpoint(checkpoint, checkpoint_state(config, model, optimizer, scheduler, history, train_time))
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
