"""Convolutional building blocks shared by the convolutional models (MobileViT's MobileNetV2
stages and convolutional stems; the ResNet backbones and heatmap decoders of later chapters).

The Transformer blocks live in `patchlib.layers`. The two files are kept apart on purpose: a
chapter's results are fingerprinted by the files its code depends on (`patchlib.results`), so a
new convolutional block does not mark the ViT-family chapters' results as computed with older code.
"""
from __future__ import annotations

from torch import nn


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
