"""MobileViT (Mehta & Rastegari, ICLR 2022) and MobileViTv2 (Mehta & Rastegari, TMLR 2023).

Both are MobileNetV2 networks in which the last three stages end with a block that adds global
context with a Transformer. The feature map is cut into non-overlapping ph x pw patches and each
of the P = ph*pw pixel positions attends across the N patches ("unfold"); the result is put
back in place ("fold"), so every pixel sees the whole map at the cost of attention over N, not
H*W, tokens (v1 §3.1, Fig. 1b).

- v1 (`MobileViTBlock`): 3x3 conv, 1x1 conv to width d, L pre-norm Transformer layers (multi-head
  self-attention + FFN, LayerNorm), fold, 1x1 conv back, concatenation with the block's input
  and a 3x3 fusion conv.
- v2 (`MobileViTv2Block`): separable self-attention (`SeparableSelfAttention`, v2 §3.2), linear
  in the number of tokens; a depthwise 3x3 local conv, LayerNorm2d (GroupNorm with one group)
  instead of LayerNorm, and neither the concatenation nor the fusion conv (v2 §3.3). Widths
  scale with one multiplier alpha (v2 Table 6).

Variants are registered under timm's names (`mobilevit_xxs`, ..., `mobilevitv2_200`), with the
same layer order, so timm's weights map one to one (tests/test_mobilevit.py checks the outputs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..layers import ConvMlp, ConvNormAct, InvertedResidual, LayerNorm2d, make_divisible
from ..layers import Attention, Mlp, to_2tuple
from .registry import register_model


def check_patch_grid(height: int, width: int, patch_size: tuple[int, int], where: str = "MobileViT block") -> None:
    """Unfolding needs a feature map that is a whole number of patches."""
    if height % patch_size[0] or width % patch_size[1]:
        raise ValueError(f"{where}: a {height}x{width} feature map is not divisible by the patch size "
                         f"{patch_size[0]}x{patch_size[1]}; feed images whose size is a multiple of the "
                         "network's stride times the patch size (MobileViT.input_multiple), e.g. 256x256")


class TransformerLayer(nn.Module):
    """Pre-norm Transformer layer of MobileViT v1: x + MHA(LN(x)), then x + FFN(LN(x)), with a
    SiLU ("swish") FFN as in the paper's network (v1 §3.1, appendix A)."""

    def __init__(self, dim: int, *, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads=heads, qkv_bias=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), activation=nn.SiLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MobileViTBlock(nn.Module):
    """The MobileViT block (v1 §3.1, Fig. 1b): local convolutions, global Transformer over unfolded
    patches, fold, projection, and fusion with the block's input."""

    def __init__(self, channels: int, *, dim: int, depth: int, heads: int = 4, mlp_ratio: float = 2.0,
                 patch_size: int | tuple[int, int] = 2):
        super().__init__()
        self.patch_size = to_2tuple(patch_size)
        self.local_conv = ConvNormAct(channels, channels, 3)
        self.local_proj = nn.Conv2d(channels, dim, 1, bias=False)
        self.transformer = nn.Sequential(*(TransformerLayer(dim, heads=heads, mlp_ratio=mlp_ratio)
                                           for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.proj = ConvNormAct(dim, channels, 1)
        self.fusion = ConvNormAct(2 * channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        check_patch_grid(height, width, self.patch_size)
        ph, pw = self.patch_size
        local = self.local_proj(self.local_conv(x))                                            # [B, d, H, W]
        # Unfold: pixel position (i, j) of every patch forms one sequence over the N patches.
        tokens = rearrange(local, "b d (nh ph) (nw pw) -> (b ph pw) (nh nw) d", ph=ph, pw=pw)  # [B*P, N, d]
        tokens = self.norm(self.transformer(tokens))
        folded = rearrange(tokens, "(b ph pw) (nh nw) d -> b d (nh ph) (nw pw)", ph=ph, pw=pw, nh=height // ph)
        return self.fusion(torch.cat([x, self.proj(folded)], dim=1))


class SeparableSelfAttention(nn.Module):
    """Separable self-attention (v2 §3.2, Fig. 4c), on tokens laid out as [B, d, P, N]: each of
    the P pixel positions attends over its N tokens.

    A 1-d projection gives each token a context score, softmax-normalised over the tokens
    (c_s = softmax(x W_I)); the context vector is the score-weighted sum of the key projections
    (c_v = sum_i c_s(i) x_K(i)); it is broadcast onto ReLU(x W_V) by an element-wise product, and
    projected out: y = (ReLU(x W_V) * c_v) W_O. Every step is linear in N: O(N d^2), against
    multi-head attention's O(N^2 d). The three input projections are one 1x1 convolution with
    1 + 2d outputs (score, keys, values), in that order.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.qkv = nn.Conv2d(dim, 1 + 2 * dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores, keys, values = self.qkv(x).split([1, self.dim, self.dim], dim=1)  # [B,1,P,N], [B,d,P,N] x2
        scores = scores.softmax(dim=-1)                                          # over the N tokens
        context = torch.einsum("bdpn,bpn->bdp", keys, scores[:, 0])               # [B, d, P]
        return self.proj(F.relu(values) * context.unsqueeze(-1))


class SeparableTransformerLayer(nn.Module):
    """Pre-norm Transformer layer of MobileViTv2 (v2 §3.3): separable self-attention and a 1x1-conv
    FFN, each after a LayerNorm2d, on tokens [B, d, P, N]."""

    def __init__(self, dim: int, *, mlp_ratio: float = 2.0):
        super().__init__()
        self.norm1 = LayerNorm2d(dim)
        self.attn = SeparableSelfAttention(dim)
        self.norm2 = LayerNorm2d(dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), activation=nn.SiLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MobileViTv2Block(nn.Module):
    """The MobileViTv2 block (v2 §3.3): depthwise 3x3 and 1x1 local convolutions, separable-attention
    Transformer layers over unfolded patches, fold, and a linear 1x1 projection (no skip
    concatenation, no fusion conv)."""

    def __init__(self, channels: int, *, dim: int, depth: int, mlp_ratio: float = 2.0,
                 patch_size: int | tuple[int, int] = 2):
        super().__init__()
        self.patch_size = to_2tuple(patch_size)
        self.local_conv = ConvNormAct(channels, channels, 3, groups=channels)
        self.local_proj = nn.Conv2d(channels, dim, 1, bias=False)
        self.transformer = nn.Sequential(*(SeparableTransformerLayer(dim, mlp_ratio=mlp_ratio)
                                           for _ in range(depth)))
        self.norm = LayerNorm2d(dim)
        self.proj = ConvNormAct(dim, channels, 1, activation=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        check_patch_grid(height, width, self.patch_size, "MobileViTv2 block")
        ph, pw = self.patch_size
        local = self.local_proj(self.local_conv(x))                                            # [B, d, H, W]
        tokens = rearrange(local, "b d (nh ph) (nw pw) -> b d (ph pw) (nh nw)", ph=ph, pw=pw)  # [B, d, P, N]
        tokens = self.norm(self.transformer(tokens))
        folded = rearrange(tokens, "b d (ph pw) (nh nw) -> b d (nh ph) (nw pw)", ph=ph, pw=pw, nh=height // ph)
        return self.proj(folded)


@dataclass(frozen=True)
class MobileViTConfig:
    """A MobileViT network: a stride-`stem_stride` 3x3 stem, then five stages. Stage i has
    `blocks[i]` inverted residuals (the first with stride `strides[i]`) and, where
    `transformer_depths[i] > 0`, a MobileViT block of width `transformer_dims[i]` (v1 Table 4;
    v2 Table 6). v1 ends with a 1x1 conv to `final_channels` before pooling; v2 has none."""

    version: int = 1                                   # 1: MobileViT (multi-head attention), 2: MobileViTv2 (separable)
    stem_channels: int = 16
    channels: tuple[int, ...] = (16, 24, 48, 64, 80)  # output channels of each stage
    blocks: tuple[int, ...] = (1, 3, 1, 1, 1)          # inverted residuals per stage
    strides: tuple[int, ...] = (1, 2, 2, 2, 2)         # stride of each stage's first block
    expansion: float = 2.0                             # MobileNetV2 expansion of every inverted residual
    transformer_dims: tuple[int, ...] = (0, 0, 64, 80, 96)
    transformer_depths: tuple[int, ...] = (0, 0, 2, 4, 3)
    heads: int = 4                                     # v1's multi-head attention (v2 has a single context score)
    mlp_ratio: float = 2.0
    patch_size: int = 2
    final_channels: int | None = 320
    stem_stride: int = 2
    image_size: int = 256                              # the size it is trained and measured at (any multiple of input_multiple works)
    in_channels: int = 3
    num_classes: int = 1000

    def __post_init__(self):
        if self.version not in (1, 2):
            raise ValueError(f"version must be 1 (MobileViT) or 2 (MobileViTv2), got {self.version!r}")
        for name in ("stem_channels", "heads", "patch_size", "stem_stride", "image_size", "in_channels", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MobileViTConfig.{name} must be a positive integer, got {value!r}")
        stages = {len(self.channels), len(self.blocks), len(self.strides), len(self.transformer_dims),
                  len(self.transformer_depths)}
        if len(stages) != 1:
            raise ValueError("channels, blocks, strides, transformer_dims and transformer_depths must have one "
                             "entry per stage")
        for dim, depth in zip(self.transformer_dims, self.transformer_depths):
            if depth > 0 and self.version == 1 and dim % self.heads:
                raise ValueError(f"transformer width {dim} is not divisible by heads={self.heads}")
        if self.image_size % self.input_multiple:
            raise ValueError(f"image_size={self.image_size} is not a multiple of {self.input_multiple} (the stride "
                             f"before the last MobileViT block times the patch size {self.patch_size})")

    @property
    def input_multiple(self) -> int:
        """Image sides must be multiples of this: the total stride before the last MobileViT
        block, times the patch size (every block then unfolds a whole number of patches)."""
        stride, multiple = self.stem_stride, 1
        for s, depth in zip(self.strides, self.transformer_depths):
            stride *= s
            if depth > 0:
                multiple = stride * self.patch_size
        return multiple


class MobileViT(nn.Module):
    def __init__(self, config: MobileViTConfig):
        super().__init__()
        self.config = config
        self.stem = ConvNormAct(config.in_channels, config.stem_channels, 3, stride=config.stem_stride)
        stages, width = [], config.stem_channels
        for out, blocks, stride, dim, depth in zip(config.channels, config.blocks, config.strides,
                                                   config.transformer_dims, config.transformer_depths):
            stage = [InvertedResidual(width if i == 0 else out, out, stride=stride if i == 0 else 1,
                                      expansion=config.expansion) for i in range(blocks)]
            if depth > 0 and config.version == 1:
                stage.append(MobileViTBlock(out, dim=dim, depth=depth, heads=config.heads,
                                            mlp_ratio=config.mlp_ratio, patch_size=config.patch_size))
            elif depth > 0:
                stage.append(MobileViTv2Block(out, dim=dim, depth=depth, mlp_ratio=config.mlp_ratio,
                                              patch_size=config.patch_size))
            stages.append(nn.Sequential(*stage))
            width = out
        self.stages = nn.Sequential(*stages)
        self.final_conv = ConvNormAct(width, config.final_channels, 1) if config.final_channels else nn.Identity()
        self.num_features = config.final_channels or width
        self.head = nn.Linear(self.num_features, config.num_classes)
        self.apply(_init_weights)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """The last feature map [B, num_features, H/32, W/32] (H/16 for the CIFAR variants)."""
        height, width = images.shape[-2:]
        multiple = self.config.input_multiple
        if height % multiple or width % multiple:
            raise ValueError(f"image size {height}x{width}: this MobileViT needs sides that are multiples of "
                             f"{multiple} (its stride before the last MobileViT block times the patch size "
                             f"{self.config.patch_size}); resize or crop the images, e.g. to "
                             f"{self.config.image_size}x{self.config.image_size}")
        return self.final_conv(self.stages(self.stem(images)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(images).mean(dim=(-2, -1)))  # global average pooling


def _init_weights(module: nn.Module) -> None:
    """The reference code's initialisation (apple/ml-cvnets): convolutions He-normal (fan-out),
    linear layers truncated normal (std 0.02), norms to identity, biases zero."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out")
    elif isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
    elif isinstance(module, (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)):
        nn.init.ones_(module.weight)
    if isinstance(module, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)) and module.bias is not None:
        nn.init.zeros_(module.bias)


# ---- v1 variants (v1 Table 4 / appendix A; timm's names) ----

def _mobilevit(defaults: MobileViTConfig, overrides: dict) -> MobileViT:
    return MobileViT(replace(defaults, **overrides))


V1_XXS = MobileViTConfig()
V1_XS = replace(V1_XXS, stem_channels=16, channels=(32, 48, 64, 80, 96), expansion=4.0,
                transformer_dims=(0, 0, 96, 120, 144), final_channels=384)
V1_S = replace(V1_XS, channels=(32, 64, 96, 128, 160), transformer_dims=(0, 0, 144, 192, 240), final_channels=640)
# CIFAR scale (32 px): a stride-1 stem and no downsampling in the last stage, so the three
# MobileViT blocks see 8x8, 4x4 and 4x4 maps (16, 4 and 4 patches of 2x2) instead of 1x1 ones.
CIFAR_SCALE = {"stem_stride": 1, "strides": (1, 2, 2, 2, 1), "image_size": 32, "num_classes": 10}


@register_model
def mobilevit_xxs(**overrides) -> MobileViT:
    """MobileViT-XXS, 1.3 M parameters (v1 Table 4)."""
    return _mobilevit(V1_XXS, overrides)


@register_model
def mobilevit_xs(**overrides) -> MobileViT:
    """MobileViT-XS, 2.3 M parameters (v1 Table 4)."""
    return _mobilevit(V1_XS, overrides)


@register_model
def mobilevit_s(**overrides) -> MobileViT:
    """MobileViT-S, 5.6 M parameters (v1 Table 4)."""
    return _mobilevit(V1_S, overrides)


@register_model
def mobilevit_xxs_cifar(**overrides) -> MobileViT:
    """MobileViT-XXS widths for 32 px CIFAR images (stride-1 stem, last stage not downsampled), 10 classes."""
    return _mobilevit(replace(V1_XXS, **CIFAR_SCALE), overrides)


# ---- v2 variants: one width multiplier alpha (v2 §3.3, Table 6) ----

V2_STEM, V2_CHANNELS = 32, (64, 128, 256, 384, 512)
V2_WIDTHS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


def mobilevitv2_config(width_multiplier: float, **overrides) -> MobileViTConfig:
    """MobileViTv2-alpha: stem 32·alpha, stages (64, 128, 256, 384, 512)·alpha, transformer width
    half the stage width. alpha must make every width an integer (a multiple of 1/32)."""
    numeric = isinstance(width_multiplier, (int, float)) and not isinstance(width_multiplier, bool)
    alpha = Fraction(str(width_multiplier)) if numeric and math.isfinite(width_multiplier) else None
    if alpha is None or alpha <= 0 or (alpha * V2_STEM).denominator != 1:
        raise ValueError(f"width_multiplier={width_multiplier!r} gives non-integer channels (the stem has 32 x alpha "
                         "channels); use a positive multiple of 1/32, e.g. one of "
                         + ", ".join(str(w) for w in V2_WIDTHS))
    channels = tuple(int(c * alpha) for c in V2_CHANNELS)
    config = MobileViTConfig(version=2, stem_channels=int(V2_STEM * alpha), channels=channels, blocks=(1, 2, 1, 1, 1),
                             expansion=2.0, transformer_dims=(0, 0) + tuple(make_divisible(c / 2) for c in channels[2:]),
                             transformer_depths=(0, 0, 2, 4, 3), final_channels=None)
    return replace(config, **overrides)


def mobilevitv2(width_multiplier: float, **overrides) -> MobileViT:
    return MobileViT(mobilevitv2_config(width_multiplier, **overrides))


def _register_v2(width: float) -> None:
    def factory(**overrides) -> MobileViT:
        return mobilevitv2(width, **overrides)
    factory.__name__ = f"mobilevitv2_{round(width * 100):03d}"
    factory.__doc__ = f"MobileViTv2-{width} (v2 Table 6)."
    register_model(factory)


for _width in V2_WIDTHS:
    _register_v2(_width)


@register_model
def mobilevitv2_050_cifar(**overrides) -> MobileViT:
    """MobileViTv2-0.5 widths for 32 px CIFAR images (as `mobilevit_xxs_cifar`), 10 classes."""
    return mobilevitv2(0.5, **(CIFAR_SCALE | overrides))
