"""ConvMixer (Trockman & Kolter, "Patches Are All You Need?", TMLR 2023).

A patch embedding (a convolution with kernel = stride = p, then activation and BatchNorm),
then `depth` identical layers that mix space with a large-kernel depthwise convolution and
channels with a pointwise one, each followed by the activation and BatchNorm; only the
depthwise part has a residual connection (§2, Eq. 1-3). Global average pooling and a linear
head classify. Unlike a ViT, the patch grid keeps its 2-D layout and its resolution
throughout ("isotropic"): no downsampling after the stem.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from .registry import register_model

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


@dataclass(frozen=True)
class ConvMixerConfig:
    dim: int = 256                 # h: channels of every layer ("hidden dimension")
    depth: int = 8                 # d: number of ConvMixer layers
    kernel_size: int = 9           # k: depthwise kernel
    patch_size: int = 7            # p: patch size of the stem
    in_channels: int = 3
    num_classes: int = 1000
    activation: str = "gelu"       # "gelu", or "relu" (the paper's ConvMixer-768/32)

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; use one of {', '.join(ACTIVATIONS)}")
        if min(self.dim, self.depth, self.kernel_size, self.patch_size) < 1:
            raise ValueError("dim, depth, kernel_size and patch_size must be positive")


class ConvMixerLayer(nn.Module):
    """One ConvMixer layer (Eq. 2-3):

    z' = BN(σ(DepthwiseConv(z))) + z      spatial mixing, with a residual
    z  = BN(σ(PointwiseConv(z')))         channel mixing, without one
    """

    def __init__(self, dim: int, kernel_size: int, activation: type[nn.Module]):
        super().__init__()
        self.depthwise = nn.Conv2d(dim, dim, kernel_size, groups=dim, padding="same")
        self.depthwise_act = activation()
        self.depthwise_norm = nn.BatchNorm2d(dim)
        self.pointwise = nn.Conv2d(dim, dim, kernel_size=1)
        self.pointwise_act = activation()
        self.pointwise_norm = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.depthwise_norm(self.depthwise_act(self.depthwise(x)))
        return self.pointwise_norm(self.pointwise_act(self.pointwise(x)))


class ConvMixer(nn.Module):
    def __init__(self, config: ConvMixerConfig):
        super().__init__()
        self.config = config
        activation = ACTIVATIONS[config.activation]
        # Eq. 1: z_0 = BN(σ(Conv_{c_in -> h}(X, stride=p, kernel_size=p)))
        self.patch_embed = nn.Conv2d(config.in_channels, config.dim, kernel_size=config.patch_size,
                                     stride=config.patch_size)
        self.patch_act = activation()
        self.patch_norm = nn.BatchNorm2d(config.dim)
        self.layers = nn.Sequential(*(ConvMixerLayer(config.dim, config.kernel_size, activation)
                                      for _ in range(config.depth)))
        self.head = nn.Linear(config.dim, config.num_classes)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """The last layer's feature map [B, h, H/p, W/p]."""
        height, width = images.shape[-2:]
        p = self.config.patch_size
        if height % p or width % p:
            raise ValueError(f"image size {height}x{width} is not divisible by the patch size {p}: "
                             "the stem would silently drop the border; resize or crop the images")
        x = self.patch_norm(self.patch_act(self.patch_embed(images)))
        return self.layers(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(images).mean(dim=(-2, -1)))  # global average pooling


def _convmixer(defaults: ConvMixerConfig, overrides: dict) -> ConvMixer:
    return ConvMixer(replace(defaults, **overrides))


# CIFAR-10 (32x32): the convmixer-cifar10 repository's model.
@register_model
def convmixer_256_8(**overrides) -> ConvMixer:
    """ConvMixer-256/8, kernel 5, patch 2: the locuslab/convmixer-cifar10 model (~92.5% in 25 epochs)."""
    return _convmixer(ConvMixerConfig(dim=256, depth=8, kernel_size=5, patch_size=2, num_classes=10), overrides)


@register_model
def convmixer_micro(**overrides) -> ConvMixer:
    """A 2-layer, 32-wide ConvMixer for smoke runs and tests."""
    return _convmixer(ConvMixerConfig(dim=32, depth=2, kernel_size=5, patch_size=2, num_classes=10), overrides)


# The paper's ImageNet models (Table 1; "ConvMixer-h/d", kernel k and patch p).
@register_model
def convmixer_1536_20(**overrides) -> ConvMixer:
    return _convmixer(ConvMixerConfig(dim=1536, depth=20, kernel_size=9, patch_size=7), overrides)


@register_model
def convmixer_768_32(**overrides) -> ConvMixer:
    return _convmixer(ConvMixerConfig(dim=768, depth=32, kernel_size=7, patch_size=7, activation="relu"), overrides)


@register_model
def convmixer_1024_20(**overrides) -> ConvMixer:
    return _convmixer(ConvMixerConfig(dim=1024, depth=20, kernel_size=9, patch_size=14), overrides)
