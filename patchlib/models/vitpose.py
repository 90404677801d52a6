"""ViTPose (Xu et al., NeurIPS 2022): a plain ViT as a top-down pose estimator, and the ResNet
baselines it is compared with (SimpleBaseline, Xiao et al., ECCV 2018).

A person crop (256x192 in the paper) goes through a backbone to one feature map; a decoder turns
it into K keypoint heatmaps at 1/4 of the input resolution (§3.1):

- backbone "vit": the book's `VisionTransformer` (the ViT chapter's encoder, not a copy), its
  image tokens laid back on the patch grid by `Features.patch_map()`: [B, D, H/16, W/16];
- backbone "resnet": torchvision's ResNet up to its last stage (stride 32), randomly initialised;
- decoder "classic" (Eq. 2): deconvolution blocks (4x4 transposed conv, stride 2, BN, ReLU), one
  per factor 2 between the backbone's stride and 1/4 (two for a ViT, three for a ResNet, as in
  SimpleBaseline), then a 1x1 conv to K heatmaps;
- decoder "simple" (Eq. 3): K = Conv3x3(Bilinear(ReLU(F))), bilinear upsampling straight to 1/4.

Paper Table 2 (decoder ablation): the simple decoder costs a ResNet about 18 AP, a ViT under 0.3.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model
from .vit import ViTConfig, VisionTransformer

DECODERS = ("classic", "simple")
RESNET_DEPTHS = (18, 34, 50, 101, 152)
HEATMAP_STRIDE = 4  # heatmaps at 1/4 of the input resolution (§3.1)


@dataclass(frozen=True)
class ResNetConfig:
    depth: int = 50
    in_channels: int = 3

    def __post_init__(self):
        if self.depth not in RESNET_DEPTHS:
            raise ValueError(f"ResNet depth {self.depth!r} does not exist; use one of {RESNET_DEPTHS}")


@dataclass(frozen=True)
class PoseConfig:
    backbone: ViTConfig | ResNetConfig = field(default_factory=ResNetConfig)
    decoder: str = "classic"                      # "classic" (Eq. 2) or "simple" (Eq. 3)
    num_keypoints: int = 17                       # K: COCO's 17 body keypoints
    image_size: tuple[int, int] = (256, 192)      # (height, width) of a person crop
    deconv_channels: int = 256                    # width of the classic decoder's deconvolutions

    def __post_init__(self):
        if isinstance(self.backbone, dict):       # a config read back from a result record
            kind = ViTConfig if "patch_size" in self.backbone else ResNetConfig
            fields = {key: tuple(value) if isinstance(value, list) else value for key, value in self.backbone.items()}
            object.__setattr__(self, "backbone", kind(**fields))
        object.__setattr__(self, "image_size", tuple(self.image_size))
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r}; use one of {', '.join(DECODERS)}")
        if isinstance(self.backbone, ViTConfig) and tuple(self.backbone.image_size) != self.image_size:
            raise ValueError(f"the ViT backbone is built for {self.backbone.image_size} images, the pose model "
                             f"for {self.image_size}: give both the same image_size")
        if any(side % self.stride for side in self.image_size):
            raise ValueError(f"image_size {self.image_size} must be divisible by the backbone's stride {self.stride}")

    @property
    def stride(self) -> int:
        """The backbone's output stride: the ViT's patch size, or 32 for a ResNet."""
        return self.backbone.patch_size if isinstance(self.backbone, ViTConfig) else 32

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return (self.image_size[0] // HEATMAP_STRIDE, self.image_size[1] // HEATMAP_STRIDE)


class ViTBackbone(nn.Module):
    """The ViT encoder as a dense feature extractor: image tokens as a map [B, D, gh, gw]. The
    class token stays in the sequence (it is part of the shared encoder) but is not decoded."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        with warnings.catch_warnings():  # a 0-class head is empty; torch warns that initialising it does nothing
            warnings.filterwarnings("ignore", "Initializing zero-element tensors")
            self.vit = VisionTransformer(replace(config, num_classes=0))
        self.vit.head = nn.Identity()   # dense features: no classification head
        self.out_channels = config.dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.vit.forward_intermediates(images).patch_map()


class ResNetBackbone(nn.Module):
    """torchvision's ResNet without its pooling and classifier: the stride-32 map of its last stage."""

    def __init__(self, config: ResNetConfig):
        super().__init__()
        import torchvision

        resnet = getattr(torchvision.models, f"resnet{config.depth}")(weights=None)
        if config.in_channels != 3:
            resnet.conv1 = nn.Conv2d(config.in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.stages = nn.Sequential(resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4)
        self.out_channels = resnet.fc.in_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(images))


def _upsampling(stride: int) -> int:
    factor = stride // HEATMAP_STRIDE
    if factor < 1 or factor * HEATMAP_STRIDE != stride or factor & (factor - 1):
        raise ValueError(f"a backbone of stride {stride} cannot be decoded to 1/{HEATMAP_STRIDE} resolution by "
                         "factors of 2; use a stride of 4 times a power of two (e.g. patch size 16)")
    return factor


class ClassicDecoder(nn.Module):
    """Eq. 2: log2(stride / 4) blocks of Deconv(4x4, stride 2) -> BN -> ReLU, then Conv1x1 to K."""

    def __init__(self, in_channels: int, num_keypoints: int, *, stride: int, channels: int = 256):
        super().__init__()
        blocks, width = [], in_channels
        for _ in range(int(math.log2(_upsampling(stride)))):
            blocks += [nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
            width = channels
        self.deconvs = nn.Sequential(*blocks)
        self.head = nn.Conv2d(width, num_keypoints, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.deconvs(features))


class SimpleDecoder(nn.Module):
    """Eq. 3: K = Conv3x3(Bilinear(ReLU(F))), bilinear upsampling by stride / 4 in one step."""

    def __init__(self, in_channels: int, num_keypoints: int, *, stride: int):
        super().__init__()
        self.scale = _upsampling(stride)
        self.head = nn.Conv2d(in_channels, num_keypoints, 3, padding=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        upsampled = F.interpolate(F.relu(features), scale_factor=self.scale, mode="bilinear", align_corners=False)
        return self.head(upsampled)


class TopDownPose(nn.Module):
    """Backbone + decoder: person crops [B, 3, H, W] -> heatmaps [B, K, H/4, W/4]."""

    def __init__(self, config: PoseConfig):
        super().__init__()
        self.config = config
        vit = isinstance(config.backbone, ViTConfig)
        self.backbone = ViTBackbone(config.backbone) if vit else ResNetBackbone(config.backbone)
        channels = self.backbone.out_channels
        if config.decoder == "classic":
            self.decoder = ClassicDecoder(channels, config.num_keypoints, stride=config.stride,
                                          channels=config.deconv_channels)
        else:
            self.decoder = SimpleDecoder(channels, config.num_keypoints, stride=config.stride)
        self.decoder.apply(_init_decoder)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[-2:]) != self.config.image_size:
            raise ValueError(f"expected person crops of size {self.config.image_size}, got {tuple(images.shape[-2:])}")
        return self.decoder(self.backbone(images))


def _init_decoder(module: nn.Module) -> None:
    """The reference heads' initialisation (SimpleBaseline, mmpose): deconvolution and output
    convolution weights normal with std 0.001, biases zero, BatchNorm to identity."""
    if isinstance(module, (nn.ConvTranspose2d, nn.Conv2d)):
        nn.init.normal_(module.weight, std=0.001)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _pose(defaults: PoseConfig, overrides: dict) -> TopDownPose:
    return TopDownPose(replace(defaults, **overrides))


def _vit_backbone(dim: int, depth: int, heads: int, image_size=(256, 192)) -> ViTConfig:
    return ViTConfig(image_size=image_size, patch_size=16, num_classes=0, dim=dim, depth=depth, heads=heads)


# ViTPose sizes (paper §3.1 and Table 9; ViTPose-S from the official configs and README).
@register_model
def vitpose_s(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=_vit_backbone(384, 12, 12)), overrides)


@register_model
def vitpose_b(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=_vit_backbone(768, 12, 12)), overrides)


@register_model
def vitpose_l(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=_vit_backbone(1024, 24, 16)), overrides)


@register_model
def vitpose_h(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=_vit_backbone(1280, 32, 16)), overrides)


@register_model
def vitpose_tiny(**overrides) -> TopDownPose:
    """A CPU-scale ViTPose: ViT-Ti widths (192, 12 layers, 3 heads)."""
    return _pose(PoseConfig(backbone=_vit_backbone(192, 12, 3)), overrides)


# SimpleBaseline's ResNets (the CNN rows of Table 2), classic decoder by default.
@register_model
def simplebaseline_res50(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=ResNetConfig(50)), overrides)


@register_model
def simplebaseline_res152(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=ResNetConfig(152)), overrides)


@register_model
def simplebaseline_res18(**overrides) -> TopDownPose:
    """A CPU-scale SimpleBaseline on ResNet-18."""
    return _pose(PoseConfig(backbone=ResNetConfig(18)), overrides)
