"""Speed and cost of a model: measured throughput and counted FLOPs.

One throughput protocol for every chapter and benchmark (STYLE.md §11), `ThroughputProtocol`:
random inputs of a fixed batch size and precision; per model and round, `warmup` untimed forward
passes, then `repeats` timed ones with device synchronisation around each, the round's value
being the median pass; the models are timed in turn within each round, their order reversed
every round, so that drift in the machine's speed hits them alike; a model's result is the
median of its round values. Every measurement returns the protocol (with its `version`, the
device and the thread count) so that records and captions can state it, and results keyed on
the protocol are re-measured when it changes.
"""
from __future__ import annotations

import contextvars
import copy
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, conv_backward_flop, sdpa_flop_count

from .runtime import autocast, device_name

THROUGHPUT_PROTOCOL_VERSION = 2  # 1: the chapters' own loops (before the shared protocol)


@dataclass(frozen=True, kw_only=True)
class ThroughputProtocol:
    batch_size: int = 128
    precision: str = "fp32"
    warmup: int = 2            # untimed passes per model and round
    repeats: int = 5           # timed passes per model and round; the round's value is their median
    rounds: int = 3            # rounds over all models, order reversed every round; result: median of rounds
    version: int = THROUGHPUT_PROTOCOL_VERSION

    def __post_init__(self):
        for name in ("batch_size", "warmup", "repeats", "rounds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "warmup" else 1):
                raise ValueError(f"ThroughputProtocol.{name} must be a positive integer, got {value!r}")

    def record(self) -> dict:
        """The protocol as plain data, for a result's config (changing it re-measures)."""
        return asdict(self)

    def describe(self, device: str | torch.device | None = None, threads: int | None = None) -> str:
        """One line for captions: how the numbers were measured."""
        where = "" if device is None else f", {device}" + (f" ({threads} threads)" if threads else "")
        return (f"batch {self.batch_size}, {self.precision}{where}; {self.warmup} warm-up + {self.repeats} timed "
                f"passes per model and round, median pass; {self.rounds} round(s) with the models' order reversed "
                f"every round; median of rounds (protocol v{self.version})")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def _timed_passes(model: Callable, images: torch.Tensor, protocol: ThroughputProtocol) -> float:
    """Images/s of one round: the median of `repeats` timed passes after `warmup` untimed ones."""
    with autocast(images.device, protocol.precision):
        for _ in range(protocol.warmup):
            model(images)
        _synchronize(images.device)
        times = []
        for _ in range(protocol.repeats):
            tic = time.perf_counter()
            model(images)
            _synchronize(images.device)
            times.append(time.perf_counter() - tic)
    return protocol.batch_size / statistics.median(times)


def measure_throughput(models: dict[str, nn.Module], input_shape: tuple[int, ...] | dict[str, tuple[int, ...]],
                       protocol: ThroughputProtocol = ThroughputProtocol(), *,
                       device: str | torch.device = "cpu") -> dict:
    """Inference images/s of each model under `protocol` (see the module docstring).

    `input_shape` is one image's shape, shared or per model. Returns {"protocol": the protocol with
    device and threads, "models": {name: {"images_per_s": median of rounds, "rounds": [...]}}}.
    """
    device = torch.device(device)
    shapes = input_shape if isinstance(input_shape, dict) else {name: input_shape for name in models}
    inputs = {name: torch.randn(protocol.batch_size, *shapes[name], device=device) for name in models}
    prepared = {name: model.to(device).eval() for name, model in models.items()}
    rounds = {name: [] for name in models}
    order = list(models)
    for round_index in range(protocol.rounds):
        for name in (order if round_index % 2 == 0 else reversed(order)):
            rounds[name].append(_timed_passes(prepared[name], inputs[name], protocol))
    return {"protocol": protocol.record() | {"device": str(device), "device_name": device_name(device),
                                             "threads": torch.get_num_threads()},
            "models": {name: {"images_per_s": statistics.median(values), "rounds": values}
                       for name, values in rounds.items()}}


def describe_protocol(measured: dict) -> str:
    """The caption line for a `measure_throughput` result (or its stored record)."""
    protocol = dict(measured["protocol"])
    device, threads = protocol.pop("device"), protocol.pop("threads")
    protocol.pop("device_name", None)
    return ThroughputProtocol(**protocol).describe(device, threads)


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# torch's counter knows the CUDA attention kernels but not the CPU one, and would silently
# count attention as free on CPU (tests/test_measure.py checks a hand count).
_EXTRA_FORMULAS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}


def flops(model: nn.Module, input_shape: tuple[int, ...], **forward_kwargs) -> dict:
    """FLOPs of one forward pass on one image, counted by `torch.utils.flop_counter`.

    The counter counts a multiply-add as 2 FLOPs; MACs = FLOPs / 2 (papers usually report
    "FLOPs" meaning MACs: say which when comparing).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_EXTRA_FORMULAS) as counter:
        model(torch.zeros(1, *input_shape, device=device), **forward_kwargs)
    model.train(was_training)
    total = counter.get_total_flops()
    return {"flops": total, "macs": total / 2, "gmacs": total / 2e9}


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---- the cost of a training run, before it runs (issue 26) ----

# `patchlib.train.fit` calls the observer set here, if any, as observer(model, task, device) before its
# first epoch. The gpu profile's chapters set one that measures and prints what the run will cost
# (`patchlib.experiments.common.ChapterRun`); it only reports, so no record's fingerprint holds its code.
TRAINING_OBSERVER: contextvars.ContextVar[Callable | None] = contextvars.ContextVar("training_observer", default=None)

# Dense (no sparsity) bf16 tensor-core peaks, FLOP/s, from NVIDIA's H100 datasheet (SXM5: 989 TFLOPS; the
# datasheet's 1,979 counts 2:4 sparsity). A modelled time divides a run's counted FLOPs by the peak times
# MODELLED_UTILISATION: an assumption, not a measurement (small CIFAR models use a GPU less well than that).
GPU_PEAK_FLOPS = {"NVIDIA H100 SXM": 989e12}
MODELLED_UTILISATION = 0.4


def modelled_gpu_seconds(total_flops: float, gpu: str = "NVIDIA H100 SXM") -> float:
    """Seconds to compute `total_flops` at MODELLED_UTILISATION of `gpu`'s dense bf16 peak."""
    return total_flops / (GPU_PEAK_FLOPS[gpu] * MODELLED_UTILISATION)


def repeat_batch(batch, size: int):
    """`batch` (a tensor, or a tuple, list or dict of tensors and other values) with every tensor's
    rows repeated or cut to `size` along dim 0: a full-size batch made from a dry run's few images."""
    if torch.is_tensor(batch):
        reps = -(-size // len(batch))
        return batch.repeat(reps, *([1] * (batch.ndim - 1)))[:size]
    if isinstance(batch, dict):
        return {key: repeat_batch(value, size) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(repeat_batch(value, size) for value in batch)
    return batch


def _conv_backward_flops(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
                         output_padding, groups, output_mask, out_shape=None) -> int:
    """torch's count of a convolution's backward, with the weight gradient of a grouped convolution
    divided by its groups: torch 2.13 counts it as if every output channel saw every input channel
    (256 times too many FLOPs for ConvMixer-256's depthwise convolutions)."""
    def part(mask):
        return conv_backward_flop(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
                                  output_padding, groups, mask, out_val=out_shape)  # torch's, shapes in
    return part([output_mask[0], False, False]) + part([False, output_mask[1], False]) // groups


# The counter's formulas for a training step: forward, and backward with grouped convolutions counted right.
_TRAINING_FORMULAS = _EXTRA_FORMULAS | {torch.ops.aten.convolution_backward: _conv_backward_flops}


def time_training_step(task, model: nn.Module, batch, *, device: torch.device, repeats: int = 1) -> dict:
    """Seconds of one training step of `task` (its `training_step`, then backward, clipping and an AdamW
    step: `patchlib.train.optimisation_step`) on `batch`, and the FLOPs of one image's step.

    Runs on a copy of `model` with an optimiser of its own, so the run's weights are untouched (the
    caller keeps torch's RNG apart). The first step is counted by `torch.utils.flop_counter` (matrix
    products, convolutions and attention, forward and backward) and not timed; on CUDA a second
    untimed step warms up; then `repeats` timed steps, the median kept.
    Returns {"seconds_per_step", "flops_per_image", "batch_size"}.
    """
    from .train import EpochStreams, optimisation_step

    work = copy.deepcopy(model).to(device).train()
    optimizer = torch.optim.AdamW(work.parameters(), lr=1e-6)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    streams = EpochStreams(*(torch.Generator().manual_seed(i) for i in range(3)))
    size = _batch_size(batch)

    def step() -> None:
        loss, _ = task.training_step(work, batch, streams)
        optimisation_step(loss, work, optimizer, scheduler, task.config.grad_clip)

    with FlopCounterMode(display=False, custom_mapping=_TRAINING_FORMULAS) as counter:
        step()
    if device.type == "cuda":
        step()
    _synchronize(device)
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        step()
        _synchronize(device)
        times.append(time.perf_counter() - tic)
    return {"seconds_per_step": statistics.median(times), "flops_per_image": counter.get_total_flops() / size,
            "batch_size": size}


def _batch_size(batch) -> int:
    """Rows of a batch (a tensor, or the first tensor of a tuple, list or dict)."""
    if torch.is_tensor(batch):
        return len(batch)
    values = batch.values() if isinstance(batch, dict) else batch
    return next(_batch_size(value) for value in values if torch.is_tensor(value))


def augmentation_images_per_s(images: torch.Tensor, augment: str, *, device: torch.device, repeats: int = 3) -> float:
    """Images/s of the named augmentation (`patchlib.data.augment.AUGMENTATIONS`) on the uint8 CPU
    batch `images`, delivered on `device` as training gets it (`augment_to_device`, the copy
    included). One untimed pass, then the median of `repeats` timed passes."""
    from .data.augment import augment_to_device

    generator = torch.Generator().manual_seed(0)

    def once() -> None:
        augment_to_device(images, augment, generator, device)
        _synchronize(device)

    once()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        once()
        times.append(time.perf_counter() - tic)
    return len(images) / statistics.median(times)


def loader_images_per_s(dataset, *, batch_size: int, num_workers: int, device: torch.device, items: int) -> float:
    """Crops/s a DataLoader of `dataset` (`num_workers` processes, pinned memory on CUDA) delivers to
    `device`, over `items` items drawn in order round the dataset, timed from its first batch (the
    workers' start-up is not counted)."""
    indices = [i % len(dataset) for i in range(items)]
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, indices), batch_size=batch_size,
                                         num_workers=num_workers, pin_memory=device.type == "cuda")
    batches = iter(loader)
    first = next(batches)
    tic, counted = time.perf_counter(), 0
    for batch in batches:
        batch["image"].to(device, non_blocking=True)
        counted += len(batch["image"])
    _synchronize(device)
    if counted == 0:
        raise ValueError(f"loader_images_per_s: items={items} fill only one batch of {len(first['image'])}; "
                         "time at least two batches")
    return counted / (time.perf_counter() - tic)
