"""Where and in which precision code runs: device choice, autocast and the attention kernel,
shared by training and measurement.

A precision names how a forward pass computes (chosen per chapter and profile by measurement:
`benchmarks/training_speed.py`):
- "fp32": everything in float32;
- "bf16": bf16 autocast, attention included (on CPU, PyTorch's flash-attention kernel in bf16,
  measured 0.57x of fp32: slower, not faster);
- "bf16_fp32_attention": bf16 autocast for the matrix products, with the attention
  (softmax(QK^T/sqrt(d))V) computed in float32 (measured 1.35x of fp32 on the ViT family's training
  on a 2-core CPU with AMX);
- "bf16_math_attention": bf16 autocast with attention by PyTorch's math (non-fused) kernel;
- "auto": "bf16" on CUDA, "fp32" elsewhere.
"""
from __future__ import annotations

import contextlib
import contextvars
import platform

import torch

PRECISIONS = {
    "auto": "bf16 autocast on CUDA, fp32 elsewhere",
    "fp32": "float32 throughout",
    "bf16": "bf16 autocast, attention in bf16",
    "bf16_fp32_attention": "bf16 autocast, attention in fp32",
    "bf16_math_attention": "bf16 autocast, attention by the math (non-fused) kernel",
}

# How `patchlib.layers.Attention` computes inside the current `autocast` block: "default" (as
# autocast says), "fp32" or "math". A context variable, so nested and concurrent blocks each see their own.
_ATTENTION_MODE = contextvars.ContextVar("patchlib_attention_mode", default="default")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """`None` or "auto" picks CUDA when available; anything else is taken as given."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but CUDA is not available here")
    return device


def check_precision(precision, owner: str = "precision") -> str:
    """`precision` if it is one of PRECISIONS; else a ValueError naming the choices."""
    if precision not in PRECISIONS:
        raise ValueError(f"{owner}: unknown precision {precision!r}; use one of: "
                         + "; ".join(f"{name!r} ({what})" for name, what in PRECISIONS.items()))
    return precision


def uses_bf16(device: torch.device, precision: str) -> bool:
    """Whether `precision` runs bf16 autocast on `device`."""
    check_precision(precision)
    return precision.startswith("bf16") or (precision == "auto" and torch.device(device).type == "cuda")


@contextlib.contextmanager
def autocast(device: torch.device, precision: str):
    """The forward pass's precision (see the module docstring): bf16 autocast where `precision`
    asks for it, and the attention mode that `patchlib.layers.Attention` reads."""
    device = torch.device(device)
    mode = {"bf16_fp32_attention": "fp32", "bf16_math_attention": "math"}.get(check_precision(precision), "default")
    token = _ATTENTION_MODE.set(mode)
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(device, precision)):
            yield
    finally:
        _ATTENTION_MODE.reset(token)


def attention_mode() -> str:
    """How attention computes in the current `autocast` block: "default", "fp32" or "math"."""
    return _ATTENTION_MODE.get()


def device_name(device: str | torch.device) -> str:
    """The device's hardware name ("NVIDIA H100 80GB HBM3", or the CPU's processor string)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()
