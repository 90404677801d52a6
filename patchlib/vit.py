"""Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021).

Image -> patches -> linear embedding + learned position embeddings, a prepended [class]
token, L pre-norm Transformer blocks, a final LayerNorm and a linear head on the class token
(§3.1, Eq. 1-4). Variants are small frozen configs; the paper's Table 1 sizes are registered
next to the CIFAR-scale ones used by the book's `cpu` profile.

EViT (Liang et al., "Not All Patches are What You Need", ICLR 2022) is an option of this
model, not a fork: `keep_rate`, `reorganize_layers` and `fuse_inattentive` in the config make
the chosen blocks keep only their most attentive image tokens (`patchlib.layers.reorganize_tokens`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from .layers import Block, PatchEmbed
from .registry import register_model


@dataclass(frozen=True)
class ViTConfig:
    image_size: int = 224
    patch_size: int = 16
    in_channels: int = 3
    num_classes: int = 1000
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    # EViT (Liang et al., 2022): token reorganisation in these blocks (0-based) at this keep rate.
    keep_rate: float = 1.0
    reorganize_layers: tuple[int, ...] = ()
    fuse_inattentive: bool = True

    def __post_init__(self):
        if not 0 < self.keep_rate <= 1:
            raise ValueError(f"keep rate must be in (0, 1], got {self.keep_rate}")
        layers = tuple(int(i) for i in self.reorganize_layers)
        if list(layers) != sorted(set(layers)) or any(not 0 <= i < self.depth for i in layers):
            raise ValueError(f"reorganize_layers must be distinct, increasing block indices in 0..{self.depth - 1}, "
                             f"got {self.reorganize_layers}")
        object.__setattr__(self, "reorganize_layers", layers)


EVIT_DEFAULTS = {"keep_rate": 1.0, "reorganize_layers": (), "fuse_inattentive": True}


def config_record(config: ViTConfig) -> dict:
    """`asdict(config)` without the EViT fields while they are at their defaults, so that a plain
    ViT's configuration (and the hash of every result keyed on it) is what it was before EViT."""
    record = asdict(config)
    for key, default in EVIT_DEFAULTS.items():
        if record[key] == default:
            del record[key]
    return record


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


class VisionTransformer(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = config
        self.keep_rate = config.keep_rate  # run-time keep rate of the reorganisation layers (`set_keep_rate`)
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

    def set_keep_rate(self, keep_rate: float) -> None:
        """Change the keep rate of the reorganisation layers (EViT's training schedule, or one
        trained model evaluated at several keep rates). 1.0 turns reorganisation off."""
        if not 0 < keep_rate <= 1:
            raise ValueError(f"keep rate must be in (0, 1], got {keep_rate}")
        self.keep_rate = float(keep_rate)

    def forward_features(self, images: torch.Tensor, *, return_attention: bool = False, return_kept: bool = False):
        """Token features after the final norm; optionally the attention map of every block and,
        per reorganisation layer, the original patch positions (0..num_patches-1, row-major) of
        the image tokens left after it, [B, tokens]; -1 marks a fused token. With EViT the number
        of tokens shrinks at each reorganisation layer, and so do the attention maps after it."""
        return self.encode(self.embed(images), return_attention=return_attention, return_kept=return_kept)

    def encode(self, x: torch.Tensor, *, return_attention: bool = False, return_kept: bool = False):
        """The Transformer encoder (Eq. 2-3, with EViT's reorganisation where configured) and the
        final norm, on embedded tokens [B, 1 + N, D]; see `forward_features`."""
        reorganize = self.keep_rate < 1.0  # keep rate 1: the plain ViT, fused attention kernels included
        positions = torch.arange(x.shape[1] - 1, device=x.device).expand(x.shape[0], -1)  # [B, N-1]
        attentions, kept_positions = [], []
        for index, block in enumerate(self.blocks):
            if reorganize and index in self.config.reorganize_layers:
                x, attention, kept = block.forward_reorganize(x, keep_rate=self.keep_rate,
                                                              fuse_inattentive=self.config.fuse_inattentive,
                                                              full_attention=return_attention)
                if kept is not None:
                    positions = torch.gather(positions, 1, kept)                                 # [B, k]
                    if self.config.fuse_inattentive:
                        positions = torch.cat([positions, positions.new_full((len(x), 1), -1)], dim=1)
            elif return_attention:
                x, attention = block(x, return_attention=True)
            else:
                x = block(x)
            if return_attention:
                attentions.append(attention)
            if return_kept and index in self.config.reorganize_layers:
                kept_positions.append(positions)
        x = self.norm(x)
        extras = ([attentions] if return_attention else []) + ([kept_positions] if return_kept else [])
        return (x, *extras) if extras else x

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
