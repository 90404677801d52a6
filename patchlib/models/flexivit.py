"""FlexiViT (Beyer et al., "FlexiViT: One Model for All Patch Sizes", CVPR 2023).

A plain ViT whose patch size is chosen per forward pass (§3.1-3.2, Fig. 1): the stored
patch-embedding kernel (`base_patch_size`, 32 in the paper) is PI-resized to the requested patch
size (§3.4) and the learned position embeddings (a `base_grid` grid, 7x7 in the paper) are
bilinearly resized to the resulting token grid; every other weight is shared as-is. Training
samples one patch size per step uniformly from a fixed set (§3.2), optionally distilling from a
fixed-patch ViT teacher that also initialises the student (§3.5): those objectives are in
`patchlib.losses`, the teacher initialisation (`init_from_vit`) is here. The stored parameters keep
their base shapes: big_vision's FlexiViT README warns that chained resizes (32 -> 8 -> 32) are
lossy, so every size is derived from the base, on the fly.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..layers import check_int, resample_patch_embed, resize_pos_embed
from .registry import register_model
from .evit import EViTConfig
from .vit import Features, ViTConfig, VisionTransformer, check_encoder_sizes

# The paper's patch sizes at 240 px (grids 5..30), largest first as in big_vision's configs.
PAPER_PATCH_SIZES = (48, 40, 30, 24, 20, 16, 15, 12, 10, 8)


@dataclass(frozen=True)
class FlexiViTConfig:
    image_size: int = 240
    patch_sizes: tuple[int, ...] = PAPER_PATCH_SIZES  # sizes sampled in training; one size = a plain ViT
    base_patch_size: int = 32                         # stored kernel, PI-resized per size (§3.4)
    base_grid: int = 7                                # stored position-embedding grid (§3.4)
    in_channels: int = 3
    num_classes: int = 1000
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    # big_vision resizes the kernel with tf.image.resize "bilinear" (no antialiasing) and the
    # position embeddings with jax.image.resize "linear" (antialiased when shrinking).
    kernel_interpolation: str = "bilinear"
    kernel_antialias: bool = False
    posemb_interpolation: str = "bilinear"
    posemb_antialias: bool = True
    evit: EViTConfig | None = None      # EViT token reorganisation: the second compute knob (keep rate)

    def __post_init__(self):
        if not isinstance(self.patch_sizes, (tuple, list)):
            raise ValueError(f"FlexiViTConfig.patch_sizes must be a tuple of patch sizes, got {self.patch_sizes!r}")
        object.__setattr__(self, "patch_sizes", tuple(self.patch_sizes))
        if isinstance(self.evit, dict):  # a config read back from a result record
            object.__setattr__(self, "evit", EViTConfig(**self.evit))
        check_int(self.image_size, "FlexiViTConfig.image_size")
        if not self.patch_sizes:
            raise ValueError("FlexiViTConfig.patch_sizes is empty: give at least one patch size")
        for p in self.patch_sizes:
            check_int(p, f"FlexiViTConfig.patch_sizes (each of {self.patch_sizes})")
        if any(self.image_size % p for p in self.patch_sizes):
            raise ValueError(f"FlexiViTConfig.patch_sizes: every patch size must divide the image size "
                             f"{self.image_size}, got {self.patch_sizes}")
        check_int(self.base_patch_size, "FlexiViTConfig.base_patch_size")
        check_int(self.base_grid, "FlexiViTConfig.base_grid")
        check_encoder_sizes(self, "FlexiViTConfig")

    @property
    def default_patch_size(self) -> int:
        """The patch size used when none is given: the smallest of the set (the most accurate)."""
        return min(self.patch_sizes)

    def vit_config(self) -> ViTConfig:
        """The ViT whose parameters FlexiViT stores: a base_patch_size kernel on a base_grid grid."""
        return ViTConfig(image_size=self.base_patch_size * self.base_grid, patch_size=self.base_patch_size,
                         in_channels=self.in_channels, num_classes=self.num_classes, dim=self.dim,
                         depth=self.depth, heads=self.heads, mlp_ratio=self.mlp_ratio, qkv_bias=self.qkv_bias,
                         evit=self.evit)


class FlexiViT(VisionTransformer):
    """A ViT that runs at any patch size dividing the image (any image size, any grid).

    The parameters are those of `VisionTransformer(config.vit_config())` (same names), so a
    FlexiViT at its base patch size and grid is exactly that ViT. In eval mode without autograd,
    the resized kernel and position embeddings are cached per (patch size, grid, device, dtype)
    and recomputed when the parameters change (an optimizer step, `load_state_dict`: keyed on the
    parameters' version counters and storage) or after `.train()`.
    """

    def __init__(self, config: FlexiViTConfig):
        super().__init__(config.vit_config())
        self.config = config
        self._resized: dict = {}

    @property
    def grid_size(self) -> tuple[int, int]:
        """Token grid at the default patch size and the config's image size."""
        side = self.config.image_size // self.config.default_patch_size
        return side, side

    def train(self, mode: bool = True):
        if mode:  # stale entries are never served (see resized_parameters); this frees their memory
            self._resized.clear()
        return super().train(mode)

    @classmethod
    def from_vit(cls, vit: VisionTransformer, patch_sizes: Sequence[int] | None = None) -> FlexiViT:
        """A trained fixed-patch ViT as a FlexiViT with the ViT's own kernel and grid as its base
        (identical outputs at its own size), runnable at any other patch size by PI-resize."""
        vit_config = vit.config
        config = FlexiViTConfig(
            image_size=vit_config.image_size, patch_sizes=tuple(patch_sizes or (vit_config.patch_size,)),
            base_patch_size=vit_config.patch_size, base_grid=vit.grid_size[0], in_channels=vit_config.in_channels,
            num_classes=vit_config.num_classes, dim=vit_config.dim, depth=vit_config.depth, heads=vit_config.heads,
            mlp_ratio=vit_config.mlp_ratio, qkv_bias=vit_config.qkv_bias, evit=vit_config.evit)
        if vit.grid_size[0] != vit.grid_size[1]:
            raise ValueError(f"FlexiViT needs a square patch grid, got {vit.grid_size}")
        return init_from_vit(cls(config).to(next(vit.parameters()).device), vit)

    def _apply(self, fn, *args, **kwargs):  # .to(), .cuda(), .double(): drop tensors cached elsewhere
        self._resized.clear()
        return super()._apply(fn, *args, **kwargs)

    def resized_parameters(self, patch_size: int, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The kernel [D, C, p, p] PI-resized to `patch_size` and the position embeddings
        [1, 1 + gh*gw, D] resized to `grid` (cached when not training and not recording gradients)."""
        weight, pos_embed = self.patch_embed.proj.weight, self.pos_embed
        cacheable = not self.training and not torch.is_grad_enabled()
        if cacheable:
            key = (patch_size, grid, weight.device, weight.dtype)
            stamp = (weight._version, weight.data_ptr(), pos_embed._version, pos_embed.data_ptr())
            cached = self._resized.get(key)
            if cached is not None and cached[0] == stamp:
                return cached[1], cached[2]
        kernel = resample_patch_embed(weight, patch_size, method="pi", interpolation=self.config.kernel_interpolation,
                                      antialias=self.config.kernel_antialias)
        base = (self.config.base_grid, self.config.base_grid)
        pos_embed = resize_pos_embed(pos_embed, grid, old_grid=base, interpolation=self.config.posemb_interpolation,
                                     antialias=self.config.posemb_antialias)
        if cacheable:
            self._resized[key] = (stamp, kernel, pos_embed)
        return kernel, pos_embed

    def embed(self, images: torch.Tensor, patch_size: int | None = None) -> torch.Tensor:
        """ViT Eq. 1 at patch size p: z_0 = [x_class; x_p PI-resize(E)] + resize(E_pos), [B, 1 + N, D]."""
        patch = self._patch_size(images, patch_size)
        height, width = images.shape[-2:]
        kernel, pos_embed = self.resized_parameters(patch, (height // patch, width // patch))
        patches = F.conv2d(images, kernel, self.patch_embed.proj.bias, stride=patch)  # [B, D, gh, gw]
        return self.tokens(rearrange(patches, "b d gh gw -> b (gh gw) d"), pos_embed)

    def _patch_size(self, images: torch.Tensor, patch_size: int | None) -> int:
        patch = self.config.default_patch_size if patch_size is None else patch_size
        height, width = images.shape[-2:]
        if isinstance(patch, bool) or not isinstance(patch, int) or patch < 1 or height % patch or width % patch:
            raise ValueError(f"patch_size must be a positive int dividing the image size {(height, width)} (not divisible), "
                             f"got {patch!r}")
        return patch

    def forward_intermediates(self, images: torch.Tensor, *, patch_size: int | None = None,
                              attention: bool = False) -> Features:
        """The encoder's output at `patch_size` (see `VisionTransformer.forward_intermediates`)."""
        patch = self._patch_size(images, patch_size)
        grid = (images.shape[-2] // patch, images.shape[-1] // patch)
        return self.encode(self.embed(images, patch), grid, attention=attention)

    def forward_features(self, images: torch.Tensor, *, patch_size: int | None = None) -> torch.Tensor:
        """Token features after the final norm at `patch_size`."""
        return self.forward_intermediates(images, patch_size=patch_size).tokens

    def forward(self, images: torch.Tensor, patch_size: int | None = None) -> torch.Tensor:
        """Logits at `patch_size` (None: `config.default_patch_size`)."""
        return self.head(self.forward_features(images, patch_size=patch_size)[:, 0])


class AtPatchSize(nn.Module):
    """A FlexiViT pinned to one patch size: `model(images)` for code that knows nothing of patch sizes
    (evaluation, throughput and FLOP counting)."""

    def __init__(self, model: FlexiViT, patch_size: int):
        super().__init__()
        self.model, self.patch_size = model, patch_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images, patch_size=self.patch_size)


def resample_posemb(pos_embed: torch.Tensor, new_grid: tuple[int, int], old_grid: tuple[int, int], *,
                    num_prefix_tokens: int = 1) -> torch.Tensor:
    """Position embeddings [1, prefix + gh*gw, D] resampled to `new_grid` as big_vision's checkpoint
    loader does (`resample_posemb`: `scipy.ndimage.zoom(grid, zoom, order=1)`): linear, corner-aligned
    (the corner embeddings are kept exactly, i.e. align_corners=True), no antialiasing, in float64.
    Prefix tokens keep their embedding."""
    if tuple(old_grid) == tuple(new_grid):
        return pos_embed
    prefix, tokens = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    grid = rearrange(tokens.double(), "1 (gh gw) d -> 1 d gh gw", gh=old_grid[0], gw=old_grid[1])
    grid = F.interpolate(grid, size=tuple(new_grid), mode="bilinear", align_corners=True, antialias=False)
    return torch.cat([prefix, rearrange(grid, "1 d gh gw -> 1 (gh gw) d").to(pos_embed.dtype)], dim=1)


@torch.no_grad()
def init_from_vit(flexi: FlexiViT, vit: nn.Module | dict) -> FlexiViT:
    """Load a trained fixed-patch ViT (model or state dict) into `flexi` (§3.5, teacher init).

    The kernel is PI-resized (in float64) to `base_patch_size`; the position embeddings are
    resampled to `base_grid` like big_vision's loader (`resample_posemb`: linear, corner-aligned);
    all other weights are copied. Exact at the teacher's patch size when the base kernel is at
    least as large as the teacher's and the base grid equals the teacher's grid (PI-resize is
    lossless when upsampling).
    """
    state = {name: tensor.detach().clone() for name, tensor in
             (vit.state_dict() if isinstance(vit, nn.Module) else vit).items()}
    kernel = state["patch_embed.proj.weight"]
    config = flexi.config
    state["patch_embed.proj.weight"] = resample_patch_embed(
        kernel.double(), config.base_patch_size, method="pi", interpolation=config.kernel_interpolation,
        antialias=config.kernel_antialias).to(kernel.dtype)
    if isinstance(vit, FlexiViT):
        old_grid = (vit.config.base_grid, vit.config.base_grid)
    elif isinstance(vit, VisionTransformer):
        old_grid = tuple(vit.grid_size)
    else:                                              # a state dict: a square grid, inferred from its length
        side = math.isqrt(state["pos_embed"].shape[1] - 1)
        old_grid = (side, side)
    state["pos_embed"] = resample_posemb(state["pos_embed"], (config.base_grid, config.base_grid), old_grid)
    flexi.load_state_dict(state)
    return flexi


# ---- variants ----

def _flexivit(defaults: FlexiViTConfig, overrides: dict) -> FlexiViT:
    return FlexiViT(replace(defaults, **overrides))


# CIFAR-scale variants: CIFAR-10 upsampled to 48 px; sizes 6..24 give grids 8, 6, 4, 3, 2.
CIFAR_PATCH_SIZES = (6, 8, 12, 16, 24)


@register_model
def flexivit_micro(**overrides) -> FlexiViT:
    """A 2-layer, 64-wide FlexiViT for smoke runs and tests."""
    return _flexivit(FlexiViTConfig(image_size=48, patch_sizes=CIFAR_PATCH_SIZES, base_patch_size=12, base_grid=4,
                                    num_classes=10, dim=64, depth=2, heads=2), overrides)


@register_model
def flexivit_cifar(**overrides) -> FlexiViT:
    """6 layers, width 192, 3 heads (the ViT chapter's vit_tiny_cifar) on 48-px inputs; base kernel 12
    on a 4x4 grid (48 / 12, as the paper's 7x7 grid is 224 / 32)."""
    return _flexivit(FlexiViTConfig(image_size=48, patch_sizes=CIFAR_PATCH_SIZES, base_patch_size=12, base_grid=4,
                                    num_classes=10, dim=192, depth=6, heads=3), overrides)


# The paper's models (§3, Table 1 of ViT for widths): 240-px inputs, sizes 8..48, base 32 on 7x7.
@register_model
def flexivit_small(**overrides) -> FlexiViT:
    return _flexivit(FlexiViTConfig(dim=384, depth=12, heads=6), overrides)


@register_model
def flexivit_base(**overrides) -> FlexiViT:
    return _flexivit(FlexiViTConfig(dim=768, depth=12, heads=12), overrides)
