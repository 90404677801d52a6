"""Building blocks shared by every model in patchlib.

The Transformer blocks follow the ViT paper (Dosovitskiy et al., 2021, §3.1, Eq. 1-4): a linear
patch embedding (written as a strided convolution), learned 1-D position embeddings, and pre-norm
Transformer blocks made of multi-head self-attention (MSA) and a two-layer GELU MLP. The
convolutional blocks at the end (conv-norm-activation, MobileNetV2's inverted residual,
LayerNorm2d, the 1x1-conv MLP) serve MobileViT's stages and stems.
"""
from __future__ import annotations

import contextlib
import math
import numbers
from functools import lru_cache

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from .runtime import attention_mode


def to_2tuple(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def is_int(value) -> bool:
    """Whether `value` is an integer (Python or numpy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(value, name: str, *, minimum: int = 1) -> int:
    """`value` if it is an int >= `minimum` (not a bool, float or string), else a ValueError naming `name`."""
    if not is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_size(value, name: str) -> tuple[int, int]:
    """A size given as one int or (height, width), as two positive ints; else a ValueError naming `name`."""
    pair = (value, value) if is_int(value) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(is_int(v) and v >= 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or (height, width) of positive ints, got {value!r}")
    return int(pair[0]), int(pair[1])


class PatchEmbed(nn.Module):
    """Split an image into non-overlapping patches and project each one linearly (Eq. 1).

    A convolution with kernel = stride = patch size is exactly the flattened-patch linear
    projection E of the paper, computed without materialising the patches.
    """

    def __init__(self, *, image_size: int | tuple[int, int], patch_size: int | tuple[int, int],
                 in_channels: int = 3, dim: int):
        super().__init__()
        self.image_size = check_size(image_size, "image_size")
        self.patch_size = check_size(patch_size, "patch_size")
        for size, patch in zip(self.image_size, self.patch_size):
            if size % patch != 0:
                raise ValueError(f"image size {self.image_size} is not divisible by patch size {self.patch_size}")
        self.grid_size = (self.image_size[0] // self.patch_size[0], self.image_size[1] // self.patch_size[1])
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=self.patch_size, stride=self.patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[-2:]) != self.image_size:
            raise ValueError(f"expected images of size {self.image_size}, got {tuple(images.shape[-2:])}")
        patches = self.proj(images)                           # [B, D, gh, gw]
        return rearrange(patches, "b d gh gw -> b (gh gw) d")  # [B, N, D], row-major patch order


def resize_pos_embed(pos_embed: torch.Tensor, new_grid: tuple[int, int], *, old_grid: tuple[int, int] | None = None,
                     num_prefix_tokens: int = 1, interpolation: str = "bicubic",
                     antialias: bool = True) -> torch.Tensor:
    """Resize learned position embeddings to a new patch grid by 2-D interpolation.

    ViT §3.2 ("Fine-tuning and higher resolution"): the pre-trained embeddings are
    interpolated in 2-D according to their location in the original image. Prefix tokens
    (the CLS token) keep their embedding. `pos_embed` is [1, prefix + gh*gw, D].
    """
    prefix, grid_tokens = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    if old_grid is None:
        side = math.isqrt(grid_tokens.shape[1])
        if side * side != grid_tokens.shape[1]:
            raise ValueError("old_grid must be given for a non-square position-embedding grid")
        old_grid = (side, side)
    new_grid = to_2tuple(new_grid)
    if tuple(old_grid) == new_grid:
        return pos_embed
    grid = rearrange(grid_tokens, "1 (gh gw) d -> 1 d gh gw", gh=old_grid[0], gw=old_grid[1])
    grid = F.interpolate(grid.float(), size=new_grid, mode=interpolation, antialias=antialias,
                         align_corners=False if interpolation in ("bilinear", "bicubic") else None)
    grid_tokens = rearrange(grid, "1 d gh gw -> 1 (gh gw) d").to(pos_embed.dtype)
    return torch.cat([prefix, grid_tokens], dim=1)


@contextlib.contextmanager
def attention_precision(q: torch.Tensor):
    """The attention's precision inside `patchlib.runtime.autocast` (its `attention_mode`): under bf16
    autocast with mode "fp32", autocast is switched off and the yielded cast makes q, k, v float32;
    with mode "math", PyTorch's math kernel replaces the fused ones; otherwise nothing changes."""
    mode = attention_mode()
    if mode == "fp32" and torch.is_autocast_enabled(q.device.type):
        with torch.autocast(q.device.type, enabled=False):
            yield lambda t: t.float()
    elif mode == "math":
        with sdpa_kernel(SDPBackend.MATH):
            yield lambda t: t
    else:
        yield lambda t: t


class Attention(nn.Module):
    """Multi-head self-attention (ViT Eq. 2; Vaswani et al., 2017).

    Uses `scaled_dot_product_attention` (fused kernels) unless the caller asks for the
    attention maps, in which case softmax(QK^T / sqrt(d)) is computed explicitly and returned
    as [B, heads, N, N]. Both paths give the same output. `return_cls_attention` keeps the
    fused kernel for the output and computes only the class token's row of the attention,
    [B, heads, 1, N] (all that EViT's reorganisation reads).
    """

    def __init__(self, dim: int, *, heads: int, qkv_bias: bool = True):
        super().__init__()
        check_int(heads, "heads")
        if dim % heads != 0:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, *, return_attention: bool = False, return_cls_attention: bool = False):
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        scale = self.head_dim ** -0.5
        with attention_precision(q) as cast:
            q, k, v = cast(q), cast(k), cast(v)
            if return_attention:
                attention = (q @ k.transpose(-2, -1) * scale).softmax(dim=-1)                # [B, h, N, N]
                out = attention @ v
            else:
                out = F.scaled_dot_product_attention(q, k, v)
                attention = (q[:, :, :1] @ k.transpose(-2, -1) * scale).softmax(dim=-1) if return_cls_attention else None
        out = self.proj(rearrange(out, "b h n d -> b n (h d)"))
        return (out, attention) if return_attention or return_cls_attention else out


class Mlp(nn.Module):
    """Two-layer MLP with a GELU non-linearity (ViT §3.1)."""

    def __init__(self, dim: int, hidden_dim: int, *, activation: type[nn.Module] = nn.GELU):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = activation()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm Transformer encoder block (ViT Eq. 2-3): x + MSA(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, *, heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads=heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, *, return_attention: bool = False):
        if return_attention:
            attn_out, attention = self.attn(self.norm1(x), return_attention=True)
            x = x + attn_out
            return x + self.mlp(self.norm2(x)), attention
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))



class DropPathBlock(Block):
    """`Block` with stochastic depth (Huang et al., 2016), as timm's `DropPath` and ViTPose's
    `vit.py`: in training each residual branch is zeroed for a whole sample with probability
    `drop_path` and kept ones are scaled by 1 / (1 - drop_path); in eval mode it is `Block`. (A class
    of its own so that `Block`, which every classifier chapter's records name, stays as it was.)"""

    def __init__(self, dim: int, *, heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path: float = 0.0):
        super().__init__(dim, heads=heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias)
        if isinstance(drop_path, bool) or not isinstance(drop_path, numbers.Real) or not 0 <= drop_path < 1:
            raise ValueError(f"drop_path must be a rate in [0, 1), got {drop_path!r}")
        self.drop_path = float(drop_path)

    def _drop_path(self, branch: torch.Tensor) -> torch.Tensor:
        """The residual branch [B, ...], each sample's kept with probability 1 - drop_path (training only)."""
        if not self.training or self.drop_path == 0:
            return branch
        keep = 1 - self.drop_path
        mask = branch.new_empty((branch.shape[0],) + (1,) * (branch.ndim - 1)).bernoulli_(keep)  # [B, 1, ...]
        return branch * mask / keep

    def forward(self, x: torch.Tensor, *, return_attention: bool = False):
        if return_attention:
            attn_out, attention = self.attn(self.norm1(x), return_attention=True)
            x = x + self._drop_path(attn_out)
            return x + self._drop_path(self.mlp(self.norm2(x))), attention
        x = x + self._drop_path(self.attn(self.norm1(x)))
        return x + self._drop_path(self.mlp(self.norm2(x)))

# ---- Resampling the patch-embedding kernel (FlexiViT, Beyer et al., 2023, §3.4) ----

KERNEL_RESIZE_METHODS = ("pi", "resize", "area", "norm")
KERNEL_INTERPOLATIONS = ("bilinear", "bicubic")


@lru_cache(maxsize=256)
def _resize_matrix(old: tuple[int, int], new: tuple[int, int], interpolation: str, antialias: bool) -> torch.Tensor:
    """B [h'w', hw] with resize(x).flatten() = B @ x.flatten(), built by resizing one-hot images (float64, CPU)."""
    basis = torch.eye(old[0] * old[1], dtype=torch.float64).reshape(-1, 1, *old)                # [hw, 1, h, w]
    resized = F.interpolate(basis, size=new, mode=interpolation, antialias=antialias, align_corners=False)
    return resized.reshape(old[0] * old[1], new[0] * new[1]).T.contiguous()                   # [h'w', hw]


@lru_cache(maxsize=256)
def _pi_resize_matrix(old: tuple[int, int], new: tuple[int, int], interpolation: str, antialias: bool) -> torch.Tensor:
    """pinv(B^T) [h'w', hw]: the least-squares solution map of FlexiViT §3.4 (float64, CPU)."""
    return torch.linalg.pinv(_resize_matrix(old, new, interpolation, antialias).T)


def resample_patch_embed(weight: torch.Tensor, new_size: int | tuple[int, int], *, method: str = "pi",
                         interpolation: str = "bilinear", antialias: bool = False) -> torch.Tensor:
    """Resample a patch-embedding kernel [D, C, h, w] to [D, C, h', w'] (FlexiViT §3.4, Fig. 4).

    A token is <x, w> for a patch x. When the patch is resized, x -> B x (B: the linear resize
    operator, `F.interpolate(mode=interpolation, antialias=antialias, align_corners=False)`), the
    methods compared in FlexiViT Fig. 4 give:

    * "pi" (PI-resize, §3.4): w' = argmin_w' E_x[(<x, w> - <Bx, w'>)^2] = pinv(B^T) w. When upsampling
      (h' >= h, w' >= w) B^T has full row rank and <Bx, w'> = <x, w> for every patch x; when
      downsampling it is the least-squares solution (for x ~ N(0, I)).
    * "resize": w' = B w, the kernel resized like an image (the "vanilla" baseline).
    * "area": w' = B w * (h w) / (h' w'): keeps the token scale when the patch's pixel count changes.
    * "norm": w' = B w, each output filter rescaled to the L2 norm of the original filter.

    The defaults (bilinear, no antialiasing) match big_vision's FlexiViT (`tf.image.resize`,
    "bilinear"). Differentiable in `weight`; B and pinv(B^T) are computed once per
    (sizes, interpolation, antialias) in float64 and cast to the weight's device and dtype.
    """
    if weight.ndim != 4:
        raise ValueError(f"expected a kernel [D, C, h, w], got shape {tuple(weight.shape)}")
    if method not in KERNEL_RESIZE_METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(KERNEL_RESIZE_METHODS)}")
    if interpolation not in KERNEL_INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; use one of {', '.join(KERNEL_INTERPOLATIONS)}")
    new_size = to_2tuple(new_size)
    if len(new_size) != 2 or any(not isinstance(s, int) or s < 1 for s in new_size):
        raise ValueError(f"new_size must be a positive int or (h, w), got {new_size!r}")
    old_size = tuple(weight.shape[-2:])
    if old_size == new_size:
        return weight
    dim, channels = weight.shape[:2]
    flat = weight.reshape(dim, channels, old_size[0] * old_size[1])                             # [D, C, hw]
    if method == "pi":
        matrix = _pi_resize_matrix(old_size, new_size, interpolation, bool(antialias))         # [h'w', hw]
    else:
        matrix = _resize_matrix(old_size, new_size, interpolation, bool(antialias))            # [h'w', hw]
    resized = flat @ matrix.to(device=weight.device, dtype=weight.dtype).T                     # [D, C, h'w']
    resized = resized.reshape(dim, channels, *new_size)
    if method == "area":
        resized = resized * (old_size[0] * old_size[1] / (new_size[0] * new_size[1]))
    elif method == "norm":
        old_norm = weight.flatten(1).norm(dim=1)                                                # [D]
        new_norm = resized.flatten(1).norm(dim=1).clamp_min(torch.finfo(resized.dtype).tiny)
        resized = resized * (old_norm / new_norm)[:, None, None, None]
    return resized


# --- convolutional blocks (MobileViT's MobileNetV2 stages and stems, conv heads) ---------------
def make_divisible(value: float, divisor: int = 8, *, round_limit: float = 0.9) -> int:
    """`value` rounded to the nearest multiple of `divisor`, never below `round_limit * value`
    (the channel-rounding rule of MobileNetV2's reference code, used by MobileViT)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


class ConvNormAct(nn.Module):
    """k x k convolution without bias (padding k // 2), BatchNorm, then an activation (none when
    `activation` is None: a linear output). The activation runs in place on the BatchNorm output,
    which nothing else reads (measured ~3x faster for SiLU on CPU than allocating its output), so
    it must take `inplace` (SiLU, ReLU, Hardswish do)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, *, stride: int = 1,
                 groups: int = 1, activation: type[nn.Module] | None = nn.SiLU):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                              groups=groups, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        self.act = activation(inplace=True) if activation is not None else nn.Identity()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class InvertedResidual(nn.Module):
    """MobileNetV2's inverted residual block (Sandler et al., 2018, §3.3 and Table 1).

    A 1x1 convolution expands the channels by `expansion`, a 3x3 depthwise convolution (with the
    block's stride) mixes space, and a linear 1x1 convolution projects back ("linear
    bottleneck": no activation after it). The input is added back when the shapes allow it
    (stride 1 and as many output channels as input channels).
    """

    def __init__(self, in_channels: int, out_channels: int, *, stride: int = 1, expansion: float = 4.0,
                 activation: type[nn.Module] = nn.SiLU):
        super().__init__()
        hidden = make_divisible(in_channels * expansion)
        self.expand = ConvNormAct(in_channels, hidden, 1, activation=activation)
        self.depthwise = ConvNormAct(hidden, hidden, 3, stride=stride, groups=hidden, activation=activation)
        self.project = ConvNormAct(hidden, out_channels, 1, activation=None)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x):
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


class LayerNorm2d(nn.GroupNorm):
    """Layer normalisation of a channel-first tensor [B, C, ...] over C and every other axis
    together: GroupNorm with one group (MobileViTv2's "LayerNorm2d", v2 paper §3.3)."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__(1, channels, eps=eps)


class ConvMlp(nn.Module):
    """The Transformer MLP on channel-first tokens [B, C, ...]: two 1x1 convolutions with an
    activation between them."""

    def __init__(self, dim: int, hidden_dim: int, *, activation: type[nn.Module] = nn.SiLU):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden_dim, 1)
        self.act = activation()
        self.fc2 = nn.Conv2d(hidden_dim, dim, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
