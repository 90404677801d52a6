"""Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021).

Image -> patches -> linear embedding + learned position embeddings, a prepended [class]
token, L pre-norm Transformer blocks, a final LayerNorm and a linear head on the class token
(§3.1, Eq. 1-4). Variants are small frozen configs; the paper's Table 1 sizes are registered
next to the CIFAR-scale ones used by the book's `cpu` profile.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

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


class VisionTransformer(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = config
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
        patches = self.patch_embed(images)
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        return torch.cat([cls, patches], dim=1) + self.pos_embed

    def forward_features(self, images: torch.Tensor, *, return_attention: bool = False):
        """Token features after the final norm; optionally the attention map of every block."""
        x = self.embed(images)
        attentions = []
        for block in self.blocks:
            if return_attention:
                x, attention = block(x, return_attention=True)
                attentions.append(attention)
            else:
                x = block(x)
        x = self.norm(x)
        return (x, attentions) if return_attention else x

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
