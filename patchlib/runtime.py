"""Where and in which precision code runs: device choice and autocast, shared by training
and measurement."""
from __future__ import annotations

import platform

import torch


def resolve_device(device: str | torch.device | None) -> torch.device:
    """`None` or "auto" picks CUDA when available; anything else is taken as given."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but CUDA is not available here")
    return device


def autocast(device: torch.device, precision: str):
    """bf16 autocast for precision "bf16", or "auto" on CUDA; a no-op context otherwise."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"unknown precision {precision!r}; use 'auto', 'fp32' or 'bf16'")
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)


def device_name(device: str | torch.device) -> str:
    """The device's hardware name ("NVIDIA H100 80GB HBM3", or the CPU's processor string)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()
