"""Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021).

Image -> patches -> linear embedding + learned position embeddings, a prepended [class]
token, L pre-norm Transformer blocks, a final LayerNorm and a linear head on the class token
(§3.1, Eq. 1-4). Variants are small frozen configs; the paper's Table 1 sizes are registered
next to the CIFAR-scale ones used by the book's `cpu` profile.

EViT (Liang et al., ICLR 2022) is an option of this model, not a fork: `ViTConfig.evit` makes the
chosen blocks keep only their most attentive image tokens (`patchlib.models.evit`).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace

import torch
from einops import rearrange
from torch import nn

from ..layers import Block, PatchEmbed, check_int, check_size
from .evit import EViTConfig, check_keep_rate, reorganizing_block
from .registry import register_model


@dataclass(frozen=True)
class ViTConfig:
    image_size: int = 224
    patch_size: int = 16
    in_channels: int = 3
    num_classes: int = 1000
    dim: int = 768                 # D: token width
    depth: int = 12                # L: Transformer blocks
    heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    evit: EViTConfig | None = None  # EViT token reorganisation (`patchlib.models.evit`); None: a plain ViT

    def __post_init__(self):
        if isinstance(self.evit, dict):  # a config read back from a result record
            object.__setattr__(self, "evit", EViTConfig(**self.evit))
        image = check_size(self.image_size, "ViTConfig.image_size")
        patch = check_size(self.patch_size, "ViTConfig.patch_size")
        if image[0] % patch[0] or image[1] % patch[1]:
            raise ValueError(f"ViTConfig.image_size {self.image_size} is not divisible by patch_size "
                             f"{self.patch_size}: the patches must tile the image exactly; pick a patch_size that "
                             "divides image_size")
        check_encoder_sizes(self, "ViTConfig")
        if self.evit is not None and not isinstance(self.evit, EViTConfig):
            raise ValueError(f"ViTConfig.evit must be an EViTConfig, a dict of its fields or None, got {self.evit!r}")
        if self.evit is not None and any(i >= self.depth for i in self.evit.layers):
            raise ValueError(f"EViT layers {self.evit.layers} must be block indices in 0..{self.depth - 1}")


def check_encoder_sizes(config, name: str) -> None:
    """Check the Transformer sizes a ViT-like config shares (in_channels, num_classes, dim, depth,
    heads, mlp_ratio); a ValueError names the field as `name.field`."""
    for field_name, minimum in (("in_channels", 1), ("num_classes", 0), ("dim", 1), ("depth", 1), ("heads", 1)):
        check_int(getattr(config, field_name), f"{name}.{field_name}", minimum=minimum)
    if config.dim % config.heads:
        raise ValueError(f"{name}.dim {config.dim} is not divisible by heads={config.heads}: each head takes "
                         "dim / heads channels; pick dim and heads accordingly")
    ratio = config.mlp_ratio
    if (isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not 0 < ratio < math.inf
            or int(config.dim * ratio) < 1):
        raise ValueError(f"{name}.mlp_ratio must be a number > 0 (the MLP is int(dim * mlp_ratio) >= 1 wide), "
                         f"got {ratio!r}")


@dataclass
class Features:
    """What a ViT's encoder produced: one contract for every caller (classification, analyses,
    EViT's kept tokens, dense features for pose heads)."""

    tokens: torch.Tensor                                             # [B, 1 + N', D] after the final norm
    grid: tuple[int, int]                                            # patch grid of the input (gh, gw)
    attention: list[torch.Tensor] = field(default_factory=list)      # per block [B, h, N_l, N_l], if asked
    kept: list[torch.Tensor] = field(default_factory=list)           # per EViT layer: original positions
                                                                     # [B, k_l] of the image tokens left, -1 = fused

    def patch_map(self) -> torch.Tensor:
        """Image tokens as a feature map [B, D, gh, gw] (every token must still be there)."""
        gh, gw = self.grid
        if self.tokens.shape[1] - 1 != gh * gw:
            raise ValueError(f"{self.tokens.shape[1] - 1} image tokens do not fill the {gh}x{gw} grid "
                             "(EViT dropped some): switch the reorganisation off (keep rate 1) for dense features")
        return rearrange(self.tokens[:, 1:], "b (gh gw) d -> b d gh gw", gh=gh, gw=gw)


class VisionTransformer(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = config
        self.keep_rate = config.evit.keep_rate if config.evit else 1.0  # run time (`set_keep_rate`)
        self.patch_embed = PatchEmbed(image_size=config.image_size, patch_size=config.patch_size,
                                      in_channels=config.in_channels, dim=config.dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, config.dim))
        self.blocks = nn.ModuleList(
            Block(config.dim, heads=config.heads, mlp_ratio=config.mlp_ratio, qkv_bias=config.qkv_bias)
            for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.head = nn.Linear(config.dim, config.num_classes)
        self.reset_parameters()

    @property
    def grid_size(self) -> tuple[int, int]:
        return self.patch_embed.grid_size

    def reset_parameters(self) -> None:
        """Truncated-normal(0.02) weights and zero biases, as in the reference implementations."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        nn.init.zeros_(self.head.weight)  # zero-initialised head (ViT Appendix B.1.1)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Eq. 1: z_0 = [x_class; x_p E] + E_pos, shape [B, 1 + N, D]."""
        return self.tokens(self.patch_embed(images), self.pos_embed)

    def tokens(self, patches: torch.Tensor, pos_embed: torch.Tensor) -> torch.Tensor:
        """The class token prepended to embedded patches [B, N, D], plus position embeddings."""
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        return torch.cat([cls, patches], dim=1) + pos_embed

    @property
    def reorganize_layers(self) -> tuple[int, ...]:
        """Blocks that reorganise tokens when the keep rate is below 1 (EViT); () for a plain ViT."""
        return self.config.evit.layers if self.config.evit else ()

    def set_keep_rate(self, keep_rate: float) -> None:
        """Change the keep rate of the EViT reorganisation layers (EViT's training schedule, or one
        trained model evaluated at several keep rates). 1.0 turns reorganisation off."""
        keep_rate = check_keep_rate(keep_rate)
        if keep_rate < 1 and not self.reorganize_layers:
            raise ValueError("this model has no EViT reorganisation layers, so a keep rate < 1 would do nothing; "
                             "build it with evit=EViTConfig(layers=evit_layers(depth)) (patchlib.models.evit)")
        self.keep_rate = keep_rate

    def forward_intermediates(self, images: torch.Tensor, *, attention: bool = False) -> Features:
        """The encoder's output with what it saw on the way (see `Features`): the attention map of
        every block when `attention=True`, and the kept positions of every EViT layer."""
        return self.encode(self.embed(images), self.grid_size, attention=attention)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Token features after the final norm, [B, 1 + N', D] (N' < N when EViT drops tokens)."""
        return self.forward_intermediates(images).tokens

    def encode(self, x: torch.Tensor, grid: tuple[int, int], *, attention: bool = False) -> Features:
        """The Transformer encoder (Eq. 2-3, with EViT's reorganisation where configured) and the
        final norm, on embedded tokens [B, 1 + N, D] of a `grid` of patches."""
        reorganize = self.keep_rate < 1.0  # keep rate 1: the plain ViT, fused attention kernels included
        fuse = self.config.evit.fuse_inattentive if self.config.evit else True
        positions = torch.arange(x.shape[1] - 1, device=x.device).expand(x.shape[0], -1)  # [B, N-1]
        features = Features(tokens=x, grid=tuple(grid))
        for index, block in enumerate(self.blocks):
            if reorganize and index in self.reorganize_layers:
                x, attention_map, kept = reorganizing_block(block, x, keep_rate=self.keep_rate, fuse_inattentive=fuse,
                                                            full_attention=attention)
                if kept is not None:
                    positions = torch.gather(positions, 1, kept)                                 # [B, k]
                    if fuse:
                        positions = torch.cat([positions, positions.new_full((len(x), 1), -1)], dim=1)
            elif attention:
                x, attention_map = block(x, return_attention=True)
            else:
                x = block(x)
            if attention:
                features.attention.append(attention_map)
            if index in self.reorganize_layers:
                features.kept.append(positions)
        features.tokens = self.norm(x)
        return features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(images)[:, 0])  # Eq. 4: y = LN(z_L^0) -> head


def _vit(defaults: ViTConfig, overrides: dict) -> VisionTransformer:
    return VisionTransformer(replace(defaults, **overrides))


# CIFAR-scale variants (32x32 inputs) used by the book's smoke and cpu profiles.
@register_model
def vit_tiny_cifar(**overrides) -> VisionTransformer:
    """6 layers, width 192, 3 heads, 4x4 patches: 64 tokens on 32x32 images."""
    return _vit(ViTConfig(image_size=32, patch_size=4, num_classes=10, dim=192, depth=6, heads=3), overrides)


@register_model
def vit_micro(**overrides) -> VisionTransformer:
    """A 2-layer, 64-wide ViT for smoke runs and tests."""
    return _vit(ViTConfig(image_size=32, patch_size=4, num_classes=10, dim=64, depth=2, heads=2), overrides)


# ViT paper, Table 1 (ImageNet resolution; patch size is the suffix in the paper's names).
@register_model
def vit_base_patch16_224(**overrides) -> VisionTransformer:
    return _vit(ViTConfig(dim=768, depth=12, heads=12), overrides)


@register_model
def vit_large_patch16_224(**overrides) -> VisionTransformer:
    return _vit(ViTConfig(dim=1024, depth=24, heads=16), overrides)


@register_model
def vit_huge_patch14_224(**overrides) -> VisionTransformer:
    return _vit(ViTConfig(patch_size=14, dim=1280, depth=32, heads=16), overrides)
