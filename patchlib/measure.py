"""Speed and cost of a model: measured throughput and counted FLOPs.

Throughput protocol (STYLE.md §11): warm-up iterations first, device synchronisation around
every timed repeat, the median of several repeats; the record states batch size, precision,
threads and device, so that two numbers are only compared when measured the same way.
"""
from __future__ import annotations

import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from .results import device_name
from .runtime import autocast


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def throughput(model: nn.Module, input_shape: tuple[int, ...], *, batch_size: int = 128,
               device: str | torch.device = "cpu", precision: str = "fp32", warmup: int = 3,
               repeats: int = 7, iterations: int = 1) -> dict:
    """Inference images/s of `model` on random inputs of shape [batch_size, *input_shape].

    Each repeat times `iterations` forward passes; the result is the median over repeats.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    images = torch.randn(batch_size, *input_shape, device=device)
    with autocast(device, precision):
        for _ in range(warmup):
            model(images)
        _synchronize(device)
        times = []
        for _ in range(repeats):
            tic = time.perf_counter()
            for _ in range(iterations):
                model(images)
            _synchronize(device)
            times.append((time.perf_counter() - tic) / iterations)
    median = statistics.median(times)
    return {"images_per_s": batch_size / median, "median_batch_s": median,
            "batch_size": batch_size, "precision": precision, "device": str(device),
            "device_name": device_name(device), "threads": torch.get_num_threads(),
            "warmup": warmup, "repeats": repeats, "iterations": iterations}


def alternating_throughput(models: dict[str, nn.Module], input_shape: tuple[int, ...], *, rounds: int,
                           **throughput_kwargs) -> dict[str, list[float]]:
    """Images/s of each model per round, the models timed in turn within every round (their order
    reversed every other round), so that drift in the machine's speed hits them alike."""
    rates = {name: [] for name in models}
    for round_index in range(rounds):
        for name, model in (models.items() if round_index % 2 == 0 else reversed(models.items())):
            rates[name].append(throughput(model, input_shape, **throughput_kwargs)["images_per_s"])
    return rates


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
