"""One training loop for every chapter (`fit`), and its classification task (`train`).

`fit` owns what every training run shares: the random streams, the optimiser (AdamW) with its
parameter groups and schedule, gradient clipping, multi-process training, an evaluation and a
checkpoint after every epoch (or at the task's cadence), exact resumption, the time estimate, the
progress bar and the per-epoch history. A `Task` supplies the rest, as d2l's and Lightning's
modules do: its data per epoch, `training_step(model, batch, streams) -> (loss, counts)`,
`evaluate(model) -> metrics`, its learning-rate schedule and, optionally, a learning-rate scale per
parameter. `ClassificationTask` (here: cross-entropy with label smoothing or a chapter's loss, the
named augmentation, top-1 accuracy) and `patchlib.pose.train.PoseTask` (heatmap MSE, COCO OKS AP)
are the two tasks; `train` and `patchlib.pose.train.train_pose` wrap them.

Determinism: every random draw of epoch `e` comes from streams seeded with (seed, e)
(`epoch_streams`), so a run resumed from the checkpoint of epoch `e - 1` draws exactly what an
uninterrupted run would have drawn, and on CPU reaches bit-identical weights. The streams: the data
order (the same on every rank), the augmentation (rank 0 draws from the order's generator, as a
single process does; other ranks from their own), the choices every replica must share (FlexiViT's
patch size per step: the same on every rank, apart from the order's), and torch's global RNG
(RandAugment, dropout; per rank).

Several processes (`torchrun --nproc_per_node=N`): each rank trains on its slice of every global
batch, with DistributedDataParallel; see `patchlib.distributed` for what is shared and what not.
"""
from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import distributed
from .data import DataSplits, ImageData, iterate_batches, normalize
from .data.augment import AUGMENTATIONS, augment_to_device, channel_stats
from .measure import TRAINING_OBSERVER
from .runtime import autocast, check_precision, resolve_device


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
    precision: str = "auto"           # one of patchlib.runtime.PRECISIONS ("auto": bf16 on CUDA, fp32 elsewhere)
    eval_batch_size: int = 512
    # Speed options added after the first records (see `record`): AdamW's implementation (`ADAMW_IMPLS`)
    # and torch.compile of the training forward (opt-in; the compiled and eager loss curves agree, tests/test_engine.py).
    adamw_impl: str = "default"
    compile: bool = False

    def __post_init__(self):
        if self.schedule not in ("cosine", "onecycle"):
            raise ValueError(f"unknown schedule {self.schedule!r}; use 'cosine' or 'onecycle'")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augment {self.augment!r}; use one of {', '.join(AUGMENTATIONS)}")
        check_precision(self.precision, "TrainConfig.precision")
        check_speed_options(self, "TrainConfig")
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
        check_grad_clip(self.grad_clip, "TrainConfig")

    def record(self) -> dict:
        """This config as a record's `train` entry (`record_fields`)."""
        return record_fields(self)


# AdamW's implementations in PyTorch: "default" (PyTorch's choice: foreach on CUDA, a loop over the
# parameters on CPU), "foreach" (multi-tensor) or "fused" (one kernel).
ADAMW_IMPLS = ("default", "foreach", "fused")

# Options added to the training configs after records had been computed, with the value every earlier
# record was computed with: a record keeps such a field only when it differs, so adding an option that
# changes nothing keeps every earlier record's configuration (and cache key) as it was.
LATER_FIELDS = {"adamw_impl": "default", "compile": False}


def record_fields(config) -> dict:
    """A training config (`TrainConfig`, `PoseTrainConfig`) as the dict a record keeps: every field,
    except the `LATER_FIELDS` still at the value earlier records were computed with."""
    return {name: value for name, value in asdict(config).items()
            if not (name in LATER_FIELDS and value == LATER_FIELDS[name])}


def check_speed_options(config, owner: str) -> None:
    """Refuse an unknown AdamW implementation or a non-boolean compile flag, naming the choices."""
    if config.adamw_impl not in ADAMW_IMPLS:
        raise ValueError(f"{owner}.adamw_impl: unknown AdamW implementation {config.adamw_impl!r}; "
                         f"use one of {', '.join(ADAMW_IMPLS)}")
    if not isinstance(config.compile, bool):
        raise ValueError(f"{owner}.compile must be True or False, got {config.compile!r}")


def make_adamw(groups: list[dict], config) -> torch.optim.AdamW:
    """AdamW over `groups` at the config's peak learning rate, in its `adamw_impl`."""
    impl = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[
        getattr(config, "adamw_impl", LATER_FIELDS["adamw_impl"])]
    return torch.optim.AdamW(groups, lr=config.lr, **impl)


def check_grad_clip(value, owner: str) -> None:
    """A gradient-clipping norm is None (no clipping) or a finite positive number: NaN would train
    silently to NaN weights, and a negative norm means nothing."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}.grad_clip must be None (no clipping) or a finite number > 0, got {value!r}")


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


# ---- random streams: one scheme for every run ----

EPOCH_SEED_STRIDE = 100_003  # epoch e of seed s draws from s * EPOCH_SEED_STRIDE + e (no two (s, e) collide for e < it)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed every random stream of `epoch` derives from."""
    return seed * EPOCH_SEED_STRIDE + epoch


@dataclass(frozen=True)
class EpochStreams:
    """The random streams of one epoch (see the module docstring); torch's global RNG is seeded too."""
    order: torch.Generator      # the data order: the same on every rank
    augment: torch.Generator    # augmentation: rank 0 shares `order` (as a single process does), other ranks their own
    shared: torch.Generator     # per-step choices every replica shares (FlexiViT's patch size): the same on every rank


def epoch_streams(seed: int, epoch: int) -> EpochStreams:
    """Epoch `epoch`'s streams, from (seed, epoch) alone; seeds torch's global RNG (per rank).

    The order is seeded with `epoch_seed`, the other ranks' augmentation and every rank's global
    RNG with its `distributed.rank_seed`, and the shared stream with a number drawn from a fresh
    generator of `epoch_seed`: a stream apart from the order's. (Not with `epoch_seed` plus a large
    offset: torch's CPU generator keeps only the low 32 bits of a seed.)
    """
    base = epoch_seed(seed, epoch)
    order = torch.Generator().manual_seed(base)
    augment = order if distributed.is_main() else torch.Generator().manual_seed(distributed.rank_seed(base))
    torch.manual_seed(distributed.rank_seed(base))  # for ops that use the global RNG (RandAugment, dropout)
    shared_seed = int(torch.randint(2**62, (1,), generator=torch.Generator().manual_seed(base)))
    return EpochStreams(order, augment, torch.Generator().manual_seed(shared_seed))


# ---- the optimiser ----

def decays(name: str, param: torch.Tensor) -> bool:
    """The weight-decay rule: every weight matrix and kernel decays; biases, norms (1-d parameters),
    position embeddings and class tokens do not."""
    return param.ndim > 1 and not name.endswith(("pos_embed", "cls_token"))


def parameter_groups(model: nn.Module, weight_decay: float,
                     lr_scale: Callable[[str], float] | None = None) -> list[dict]:
    """AdamW groups of `model`'s parameters by (`decays`, learning-rate scale), in order of first
    appearance: weight decay `weight_decay` or 0, and "lr_scale" (`lr_scale(name)`, 1 without it:
    the pose task's layer-wise decay) by which the schedule multiplies the group's learning rate."""
    groups: dict[tuple[bool, float], list] = {}
    for name, param in model.named_parameters():
        groups.setdefault((decays(name, param), 1.0 if lr_scale is None else lr_scale(name)), []).append(param)
    return [{"params": params, "weight_decay": weight_decay if decay else 0.0, "lr_scale": scale}
            for (decay, scale), params in groups.items()]


def optimisation_step(loss: torch.Tensor, model: nn.Module, optimizer, scheduler, grad_clip: float | None) -> None:
    """Backward, gradient clipping (global norm), optimiser and schedule steps."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    scheduler.step()


# ---- checkpoints ----

def save_checkpoint(path: Path, state: dict) -> None:
    """Write a training checkpoint atomically (a temporary file, then a rename), from rank 0 only;
    every rank waits until it is written."""
    if distributed.is_main():
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary name of its own (never a fixed one two runs could share), removed on failure.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(state, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
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
    optimizer.load_state_dict(_in_group_order(state["optimizer"], optimizer))
    scheduler.load_state_dict(state["scheduler"])
    return state["history"], state["epoch"], state["train_time_s"]


def _in_group_order(saved: dict, optimizer) -> dict:
    """`saved` (an optimiser state) with its groups in `optimizer`'s order. Checkpoints of the
    classification loop written before `parameter_groups` (issue 21) list the decayed group first;
    a group is recognised by its weight decay and size (its parameters keep their order within it)."""
    wanted = [(group["weight_decay"], len(group["params"])) for group in optimizer.param_groups]
    found = [(group["weight_decay"], len(group["params"])) for group in saved["param_groups"]]
    if found == wanted or sorted(found) != sorted(wanted) or len(set(wanted)) < len(wanted):
        return saved  # the same order, or not a reordering (load_state_dict names the mismatch), or ambiguous
    return saved | {"param_groups": [saved["param_groups"][found.index(k)] for k in wanted]}


# ---- the loop ----

class TimeEstimate:
    """Prints once how long this call's training will take on this device, from the time of its
    first steps (the very first step, which includes one-off set-up, is not counted). It is a rough
    estimate and says so: a machine under other load times its first steps slowly (one probe read
    6x high with three timed steps), so it times ten."""

    def __init__(self, epochs: int, steps_per_epoch: int, *, timed_steps: int = 10, enabled: bool = True):
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
            tqdm.write(f"rough estimate of the training time here: "
                       f"{_duration(per_step * self.epochs * self.steps_per_epoch)} ({self.epochs} epoch(s) of "
                       f"{self.steps_per_epoch} steps at {per_step:.3g} s per step, timed over steps 2-{self.count}; "
                       "evaluation not included; other load on this machine makes it high)")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 2 * 3600 else f"{seconds / 3600:.1f} h"


class Task:
    """What `fit` trains a model to do. A task sets `config` (a frozen dataclass with at least
    epochs, lr, weight_decay and grad_clip; checkpoints record it whole) and `steps_per_epoch`, and
    implements `batches`, `training_step`, `schedule` and `evaluate`; the rest has defaults. The
    config's speed options (`adamw_impl`, `compile`; see `TrainConfig`) are optional."""
    config: Any
    steps_per_epoch: int
    eval_every: int = 1  # epochs between evaluations (the last epoch is always evaluated)

    def batches(self, epoch: int, streams: EpochStreams) -> Iterable:
        """This rank's batches of `epoch` (its slice of each global batch), in the order of `streams.order`."""
        raise NotImplementedError

    def training_step(self, model: nn.Module, batch, streams: EpochStreams) -> tuple[torch.Tensor, dict]:
        """(the mean loss over this rank's part of the batch, counts to add up over the epoch:
        "seen", the number of examples (an int), and any others `train_metrics` reads: ints or
        tensors left on the device, which `fit` reads once per epoch, never per step)."""
        raise NotImplementedError

    def schedule(self, step: int, total_steps: int) -> float:
        """Multiplier of the peak learning rate at `step` (0-based, counted over all epochs)."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module) -> dict:
        """Metrics of the (unwrapped) model, for the history."""
        raise NotImplementedError

    def lr_scales(self, model: nn.Module) -> Callable[[str], float] | None:
        """A learning-rate multiplier per parameter name (layer-wise decay), or None: 1 for all."""
        return None

    def train_metrics(self, sums: dict) -> dict:
        """Training metrics of an epoch from the summed counts (train loss aside, which `fit` computes)."""
        return {}

    def summary(self, entry: dict) -> str:
        """An epoch's history entry in a few words, for the progress output."""
        return f"train loss {entry['train_loss']:.3g}"


PROGRESS_EVERY = 50  # training steps between progress-bar updates of the running loss (each reads the device once)


def host_values(sums: dict) -> dict:
    """`sums` with every tensor read to a Python float, in one transfer from the device."""
    names = [name for name, value in sums.items() if torch.is_tensor(value)]
    values = torch.stack([sums[name].double().reshape(()) for name in names]).tolist() if names else []
    return sums | dict(zip(names, values))


def fit(model: nn.Module, task: Task, *, seed: int, device: str | torch.device | None = None,
        checkpoint: str | Path | None = None, progress: bool = True, stop_after_epochs: int | None = None,
        step_hook: Callable[[int, int], None] | None = None) -> dict:
    """Train `model` on `task` for `task.config.epochs` epochs (see the module docstring).

    `checkpoint`: a file written after every epoch; if it exists when training starts, the run
    resumes from it (it must have been written with the same config). `stop_after_epochs` ends the
    call early, as an interruption would. `step_hook(step, total_steps)` is called at the start of
    every optimisation step, before its batch is trained on, with the global step (0-based, counted
    over all epochs, so a resumed run sees the same steps) and the total.
    Returns {"history": [per-epoch metrics: epoch, train_loss, the task's train metrics and, where
    evaluated, its evaluation, lr_end, train_images_per_s], "train_time_s": seconds spent training
    in this and earlier calls, "completed": whether every epoch is trained}.
    """
    device = resolve_device(device)
    model.to(device)
    config, steps_per_epoch = task.config, task.steps_per_epoch
    total_steps = steps_per_epoch * config.epochs
    groups = parameter_groups(model, config.weight_decay, task.lr_scales(model))
    optimizer = make_adamw(groups, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, [lambda step, s=group["lr_scale"]: s * task.schedule(step, total_steps) for group in groups])
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    history, start_epoch, train_time = resume(checkpoint, config, model, optimizer, scheduler, device)
    trained = distributed.wrap(model, device)
    if getattr(config, "compile", LATER_FIELDS["compile"]):
        trained = torch.compile(trained)  # the forward and backward of training steps; evaluation stays eager

    progress = progress and distributed.is_main()
    end_epoch = config.epochs if stop_after_epochs is None else min(config.epochs, start_epoch + stop_after_epochs)
    estimate = TimeEstimate(end_epoch - start_epoch, steps_per_epoch, enabled=progress)
    observer = TRAINING_OBSERVER.get()  # the gpu profile's cost report (patchlib.measure): it only prints
    if observer is not None and distributed.is_main() and start_epoch < end_epoch:
        observer(model, task, device)
    for epoch in range(start_epoch, end_epoch):
        streams = epoch_streams(seed, epoch)
        trained.train()
        tic, sums = time.perf_counter(), {"loss": 0.0}
        bar = tqdm(task.batches(epoch, streams), total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=not progress, leave=False)
        for batch_index, batch in enumerate(bar):
            if step_hook is not None:
                step_hook(epoch * steps_per_epoch + batch_index, total_steps)
            loss, counts = task.training_step(trained, batch, streams)
            optimisation_step(loss, trained, optimizer, scheduler, config.grad_clip)
            # Sums stay where they are computed (on the device): no step waits for the device to report.
            sums["loss"] = sums["loss"] + loss.detach().float() * counts["seen"]
            for name, count in counts.items():
                sums[name] = sums.get(name, 0) + count
            if progress and (batch_index + 1) % PROGRESS_EVERY == 0:  # one read of the device per PROGRESS_EVERY steps
                read = host_values(sums)
                bar.set_postfix(loss=f"{read['loss'] / read['seen']:.3g}",
                                **{name: f"{value:.3g}" for name, value in task.train_metrics(read).items()})
            estimate.step_done()
        sums = dict(zip(sums, distributed.sum_over_ranks(*host_values(sums).values())))
        epoch_time = time.perf_counter() - tic
        train_time += epoch_time
        evaluated = (epoch + 1) % task.eval_every == 0 or epoch + 1 == config.epochs
        entry = {"epoch": epoch + 1, "train_loss": sums["loss"] / sums["seen"], **task.train_metrics(sums),
                 **(task.evaluate(model) if evaluated else {}),
                 # the learning rate of the unscaled groups (lr_scale 1; layer-wise decay scales below it)
                 "lr_end": max(scheduler.get_last_lr()), "train_images_per_s": sums["seen"] / epoch_time}
        history.append(entry)
        if progress:
            tqdm.write(f"epoch {epoch + 1}/{config.epochs}: {task.summary(entry)} "
                       f"({entry['train_images_per_s']:.0f} img/s)")
        if checkpoint is not None:
            save_checkpoint(checkpoint, checkpoint_state(config, model, optimizer, scheduler, history, train_time))
    return {"history": history, "train_time_s": train_time, "completed": len(history) == config.epochs}


# ---- classification ----

@torch.no_grad()
def evaluate(model: nn.Module, data: ImageData, *, mean, std, device: torch.device,
             batch_size: int = 512, precision: str = "auto") -> dict:
    """Top-1 accuracy (%) and mean cross-entropy on `data` (split over the ranks of a multi-process run)."""
    model.eval()
    sums = {"loss": 0.0, "correct": 0}  # on the device until the end
    part = distributed.split_evenly(len(data))
    for start in range(part.start, part.stop, batch_size):
        stop = min(start + batch_size, part.stop)
        images, labels = normalize(data.images[start:stop].to(device), mean, std), data.labels[start:stop].to(device)
        with autocast(device, precision):
            logits = model(images)
        sums["loss"] = sums["loss"] + F.cross_entropy(logits.float(), labels, reduction="sum").double()
        sums["correct"] = sums["correct"] + (logits.argmax(dim=1) == labels).sum()
    loss_sum, correct = distributed.sum_over_ranks(*host_values(sums).values())
    return {"loss": loss_sum / len(data), "acc": 100.0 * correct / len(data)}


def cross_entropy_loss(label_smoothing: float = 0.0):
    """The default objective: `loss_fn(model, images, labels, generator) -> (loss, logits)`, the
    cross-entropy of the model's logits (no random choice: `generator` is not used)."""
    def loss_fn(model, images, labels, generator):
        logits = model(images)
        return F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing), logits

    return loss_fn


class ClassificationTask(Task):
    """Image classification: the named augmentation of `data.train`'s images (normalised with their
    channel statistics), `loss_fn(model, images, labels, generator) -> (loss, logits)` under the
    config's precision (cross-entropy with label smoothing by default; FlexiViT's objectives in
    `patchlib.losses` draw from `generator`, the epoch's shared stream), and top-1 accuracy and
    loss on `data.test` after every epoch."""

    def __init__(self, data: DataSplits, config: TrainConfig, *, device: torch.device, loss_fn: Callable | None = None):
        self.data, self.config, self.device = data, config, device
        self.mean, self.std = channel_stats(data.train.images)
        self.steps_per_epoch = len(data.train) // config.batch_size  # drop_last: every step has a full batch
        if self.steps_per_epoch == 0:
            raise ValueError(f"batch size {config.batch_size} exceeds the {len(data.train)} training images")
        self.warmup_steps = round(config.warmup_epochs * self.steps_per_epoch)
        self.loss_fn = loss_fn or cross_entropy_loss(config.label_smoothing)
        self.my_part = distributed.shard(config.batch_size)  # the whole batch in a single process

    def batches(self, epoch: int, streams: EpochStreams):
        for images, labels in iterate_batches(self.data.train, self.config.batch_size, shuffle=True,
                                              generator=streams.order, drop_last=True):
            yield images[self.my_part], labels[self.my_part]

    def training_step(self, model, batch, streams):
        images, labels = batch
        images = augment_to_device(images, self.config.augment, streams.augment, self.device)
        images, labels = normalize(images, self.mean, self.std), labels.to(self.device)
        with autocast(self.device, self.config.precision):
            loss, logits = self.loss_fn(model, images, labels, streams.shared)
        return loss, {"correct": (logits.argmax(dim=1) == labels).sum(), "seen": len(labels)}

    def schedule(self, step: int, total_steps: int) -> float:
        return lr_factor(step, total_steps, self.warmup_steps, self.config.schedule)

    def evaluate(self, model):
        test = evaluate(model, self.data.test, mean=self.mean, std=self.std, device=self.device,
                        batch_size=self.config.eval_batch_size, precision=self.config.precision)
        return {"test_loss": test["loss"], "test_acc": test["acc"]}

    def train_metrics(self, sums):
        return {"train_acc": 100 * sums["correct"] / sums["seen"]}

    def summary(self, entry):
        return f"train loss {entry['train_loss']:.3f}, test acc {entry['test_acc']:.2f}%"


def train(model: nn.Module, data: DataSplits, config: TrainConfig, *, seed: int,
          device: str | torch.device | None = None, checkpoint: str | Path | None = None,
          progress: bool = True, loss_fn: Callable | None = None,
          stop_after_epochs: int | None = None, step_hook: Callable[[int, int], None] | None = None) -> dict:
    """Train `model` on `data.train`, evaluating on `data.test` after every epoch (`ClassificationTask`, `fit`).

    `checkpoint`: a file written after every epoch; if it exists when training starts, the run
    resumes from it. `loss_fn(model, images, labels, generator) -> (loss, logits)` replaces the
    default cross-entropy step (e.g. for distillation; `patchlib.losses`). `stop_after_epochs` ends
    the call early, as an interruption would (used by the resume test). `step_hook(step, total_steps)`
    is called at the start of every optimisation step, before its forward pass (EViT's keep-rate
    schedule; see `fit`).
    Returns {"history": [per-epoch metrics], "final": last test metrics, "mean"/"std": the
    normalisation used, "train_time_s": seconds spent training in this and earlier calls, "completed"}.
    """
    device = resolve_device(device)
    task = ClassificationTask(data, config, device=device, loss_fn=loss_fn)
    run = fit(model, task, seed=seed, device=device, checkpoint=checkpoint, progress=progress,
              stop_after_epochs=stop_after_epochs, step_hook=step_hook)
    history = run["history"]
    return {"history": history, "final": {k: history[-1][k] for k in ("test_loss", "test_acc")} if history else None,
            "mean": task.mean, "std": task.std, "train_time_s": run["train_time_s"], "completed": run["completed"]}
