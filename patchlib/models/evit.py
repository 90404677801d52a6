"""EViT token reorganisation (Liang et al., "Not All Patches are What You Need: Expediting Vision
Transformers via Token Reorganizations", ICLR 2022).

In a few blocks, between the attention residual and the MLP, each image keeps the image tokens its
class token attends to most and fuses the others into one token (§3.2-3.3, Fig. 2, Eq. 3). The
mechanism has no parameters, so it is an option of any `VisionTransformer` (FlexiViT included:
one model with two compute knobs, patch size and keep rate), set by `EViTConfig` in the model's
config and changed at run time with `model.set_keep_rate`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..layers import is_int


@dataclass(frozen=True, kw_only=True)
class EViTConfig:
    keep_rate: float = 1.0               # ρ: share of image tokens kept at each reorganisation layer
    layers: tuple[int, ...] = ()         # 0-based blocks that reorganise (paper: 4, 7, 10 of 12, 1-based)
    fuse_inattentive: bool = True        # fuse the dropped tokens into one (EViT) or drop them

    def __post_init__(self):
        check_keep_rate(self.keep_rate)
        if not isinstance(self.layers, (tuple, list)):
            raise ValueError(f"EViTConfig.layers must be a tuple of 0-based block indices, got {self.layers!r}")
        for i in self.layers:  # a float such as 1.7 is an error, not block 1
            if not is_int(i) or i < 0:
                raise ValueError(f"EViTConfig.layers must be ints >= 0 (0-based block indices), got {i!r} in "
                                 f"{self.layers!r}")
        layers = tuple(int(i) for i in self.layers)
        if list(layers) != sorted(set(layers)):
            raise ValueError(f"EViTConfig.layers must be distinct and increasing block indices, got {self.layers!r}")
        if not isinstance(self.fuse_inattentive, bool):
            raise ValueError(f"EViTConfig.fuse_inattentive must be True or False, got {self.fuse_inattentive!r}")
        object.__setattr__(self, "layers", layers)


def check_keep_rate(keep_rate) -> float:
    """`keep_rate` as a float in (0, 1], or a ValueError naming it."""
    if isinstance(keep_rate, bool) or not isinstance(keep_rate, (int, float)) or not 0 < keep_rate <= 1:
        raise ValueError(f"keep_rate must be a number in (0, 1], got {keep_rate!r}")
    return float(keep_rate)


def evit_layers(depth: int) -> tuple[int, ...]:
    """0-based blocks that reorganise tokens: the paper's layers 4, 7 and 10 of 12 (1-based; EViT
    §4.1, official `--drop_loc (3, 6, 9)`), scaled to `depth` as ⌈l · depth / 12⌉ (1-based),
    duplicates removed. Depth 12 gives (3, 6, 9); depth 6 gives layers 2, 4, 5, i.e. (1, 3, 4)."""
    return tuple(sorted({math.ceil(layer * depth / 12) - 1 for layer in (4, 7, 10)}))


def keep_rate_schedule(step: int, total_steps: int, target: float, *, start: float = 10 / 300,
                       ramp: float = 100 / 300) -> float:
    """EViT's keep rate at `step` of `total_steps` (§4.1; official `helpers.adjust_keep_rate`).

    1 for the first `start` fraction of training, then a half-cosine from 1 down to `target`
    over the next `ramp` fraction, then `target`. The defaults are the paper's: keep everything
    for 10 of 300 epochs, then decrease over 100 epochs.
    """
    start_step, ramp_steps = round(start * total_steps), round(ramp * total_steps)
    if step < start_step:
        return 1.0
    if step >= start_step + ramp_steps:
        return target
    return target + (1.0 - target) * 0.5 * (1.0 + math.cos(math.pi * (step - start_step) / ramp_steps))


def keep_count(num_image_tokens: int, keep_rate: float) -> int:
    """Image tokens an EViT reorganisation keeps: ⌈keep_rate · n⌉ (official `evit.py`, `Attention`).

    `n` counts every non-CLS token entering the block, a fused token from an earlier
    reorganisation included (with N tokens in all, n = N − 1).
    """
    check_keep_rate(keep_rate)
    return min(num_image_tokens, math.ceil(keep_rate * num_image_tokens))


def reorganize_tokens(x: torch.Tensor, attention: torch.Tensor, keep_rate: float, *,
                      fuse_inattentive: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The token reorganisation (§3.2-3.3, Fig. 2, Eq. 3).

    x: [B, N, D] tokens, CLS first; attention: [B, h, N, N] post-softmax attention of the same
    block, or just its class-token row [B, h, 1, N]. Attentiveness of image token j is the CLS
    token's attention to it averaged over heads. Each image keeps its own top ⌈keep_rate·(N−1)⌉
    tokens, in descending attentiveness (`torch.topk(sorted=True)`, as the official code; the order
    has no effect on the output, since attention is permutation-equivariant and positions were
    added at the input). With fusion the others become ONE token, Σ_j a_j x_j over the dropped
    tokens, weighted by their CLS attention and, as in the official code, not renormalised; it is
    appended last. Returns (tokens [B, 1 + k (+1), D], kept indices [B, k] among the N−1 image
    tokens), or (x, None) when nothing would be dropped.
    """
    batch, n, dim = x.shape
    k = keep_count(n - 1, keep_rate)
    if k == n - 1:
        return x, None
    cls_attention = attention[:, :, 0, 1:].mean(dim=1)                                 # [B, N-1]
    kept = torch.topk(cls_attention, k, dim=1, largest=True, sorted=True).indices       # [B, k]
    image = x[:, 1:]                                                                   # [B, N-1, D]
    attentive = torch.gather(image, 1, kept.unsqueeze(-1).expand(-1, -1, dim))         # [B, k, D]
    parts = [x[:, :1], attentive]
    if fuse_inattentive:
        weights = cls_attention.scatter(1, kept, 0.0)                                  # [B, N-1], 0 where kept
        parts.append(torch.einsum("bn,bnd->bd", weights, image).unsqueeze(1))          # [B, 1, D]
    return torch.cat(parts, dim=1), kept                                               # [B, 1+k(+1), D]


def reorganizing_block(block: nn.Module, x: torch.Tensor, *, keep_rate: float, fuse_inattentive: bool = True,
                       full_attention: bool = False):
    """A Transformer block (`patchlib.layers.Block`) run as an EViT block (Fig. 2): attention, then
    the token reorganisation between the attention residual and the MLP.

    The output comes from the fused attention kernel and only the class token's attention row is
    computed explicitly, unless `full_attention` asks for the whole map (for analyses).
    Returns (tokens, attention [B, h, N, N] or its CLS row [B, h, 1, N], kept [B, k] or None when
    nothing is dropped).
    """
    attn_out, attention = block.attn(block.norm1(x), return_attention=full_attention,
                                     return_cls_attention=not full_attention)
    x, kept = reorganize_tokens(x + attn_out, attention, keep_rate, fuse_inattentive=fuse_inattentive)
    return x + block.mlp(block.norm2(x)), attention, kept
