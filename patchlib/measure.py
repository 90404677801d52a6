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

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

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
