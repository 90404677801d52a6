"""ViTPose (Xu et al., NeurIPS 2022): a plain ViT as a top-down pose estimator, and the ResNet
baselines it is compared with (SimpleBaseline, Xiao et al., ECCV 2018).

A person crop (256x192 in the paper) goes through a backbone to one feature map; a decoder turns
it into K keypoint heatmaps at 1/4 of the input resolution (§3.1):

- backbone "vit": the official ViTPose backbone (`PoseViT`, ViTAE-Transformer/ViTPose
  `mmpose/models/backbones/vit.py`): the ViT chapter's Transformer blocks with stochastic depth
  (`patchlib.layers.DropPathBlock`) after the official embedding, which differs from the classifier's in three ways: the patch
  convolution is padded by 2 pixels, there is no class token in the sequence, and the class
  token's position embedding (kept from MAE pre-training) is added to every patch; its tokens
  laid back on the patch grid: [B, D, H/16, W/16];
- backbone "resnet": torchvision's ResNet up to its last stage (stride 32; 16 with
  `ResNetConfig.last_stride` 1), randomly initialised;
- decoder "classic" (Eq. 2): deconvolution blocks (4x4 transposed conv, stride 2, BN, ReLU), one
  per factor 2 between the backbone's stride and 1/4 (two for a ViT, three for a stride-32 ResNet,
  as in SimpleBaseline; two at stride 16), then a 1x1 conv to K heatmaps;
- decoder "simple" (Eq. 3): K = Conv3x3(Bilinear(ReLU(F))), bilinear upsampling straight to 1/4.

Paper Table 2 (decoder ablation): the simple decoder costs a ResNet about 18 AP, a ViT under 0.3.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..layers import DropPathBlock, check_int, check_size
from .registry import register_model

DECODERS = ("classic", "simple")
RESNET_DEPTHS = (18, 34, 50, 101, 152)
HEATMAP_STRIDE = 4  # heatmaps at 1/4 of the input resolution (§3.1)


@dataclass(frozen=True)
class ResNetConfig:
    depth: int = 50
    in_channels: int = 3
    # The stride of the last stage's first block: 2 (torchvision's; the backbone's stride is 32) or 1
    # (that block's 3x3 convolution and its 1x1 downsample at stride 1: the backbone's stride is 16, so a
    # 128x96 crop ends in an 8x6 map, the paper's map at 256x192). Not a dilation: the later blocks
    # are unchanged, each cell of layer4 sees a smaller share of the crop than at stride 2.
    last_stride: int = 2

    def __post_init__(self):
        if self.depth not in RESNET_DEPTHS:
            raise ValueError(f"ResNet depth {self.depth!r} does not exist; use one of {RESNET_DEPTHS}")
        if isinstance(self.last_stride, bool) or self.last_stride not in (1, 2):
            raise ValueError(f"ResNetConfig.last_stride must be 2 (torchvision's ResNet, stride 32) or 1 (the last "
                             f"stage at stride 1, stride 16), got {self.last_stride!r}")

    @property
    def stride(self) -> int:
        """The backbone's output stride: 32 with torchvision's last stage, 16 with `last_stride` 1."""
        return 16 * self.last_stride


@dataclass(frozen=True)
class PoseViTConfig:
    """ViTPose's plain ViT backbone, as the official `vit.py` builds it (ViTPose's configs pass
    `ratio=1`, `qkv_bias=True` and a `drop_path_rate` per size)."""

    image_size: tuple[int, int] = (256, 192)      # (height, width) of a person crop
    patch_size: int = 16
    in_channels: int = 3
    dim: int = 768                                # D: token width
    depth: int = 12                               # L: Transformer blocks
    heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    patch_padding: int = 2                        # the official Conv2d's padding=4 + 2 * (ratio // 2 - 1), ratio 1
    drop_path: float = 0.0                        # stochastic depth of the last block (drop_path_rate); block
                                                  # i of L: drop_path * i / (L - 1), torch.linspace(0, rate, L)

    def __post_init__(self):
        object.__setattr__(self, "image_size", check_size(self.image_size, "PoseViTConfig.image_size"))
        check_int(self.patch_size, "PoseViTConfig.patch_size")
        if any(side % self.patch_size for side in self.image_size):
            raise ValueError(f"PoseViTConfig.image_size {self.image_size} is not divisible by patch_size "
                             f"{self.patch_size}: the patches must tile the crop; pick a patch_size that divides it")
        for name in ("in_channels", "dim", "depth", "heads"):
            check_int(getattr(self, name), f"PoseViTConfig.{name}")
        if self.dim % self.heads:
            raise ValueError(f"PoseViTConfig.dim {self.dim} is not divisible by heads={self.heads}")
        ratio = self.mlp_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < math.inf \
                or int(self.dim * ratio) < 1:
            raise ValueError(f"PoseViTConfig.mlp_ratio must be a number > 0, got {ratio!r}")
        check_int(self.patch_padding, "PoseViTConfig.patch_padding", minimum=0)
        if 2 * self.patch_padding >= self.patch_size:
            raise ValueError(f"PoseViTConfig.patch_padding {self.patch_padding} must be below half the patch size "
                             f"{self.patch_size}, or the padded convolution adds a row of patches (official: 2)")
        rate = self.drop_path
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"PoseViTConfig.drop_path must be a rate in [0, 1), got {rate!r}")

    @property
    def grid_size(self) -> tuple[int, int]:
        return (self.image_size[0] // self.patch_size, self.image_size[1] // self.patch_size)


@dataclass(frozen=True)
class PoseConfig:
    backbone: PoseViTConfig | ResNetConfig = field(default_factory=ResNetConfig)
    decoder: str = "classic"                      # "classic" (Eq. 2) or "simple" (Eq. 3)
    num_keypoints: int = 17                       # K: COCO's 17 body keypoints
    image_size: tuple[int, int] = (256, 192)      # (height, width) of a person crop
    deconv_channels: int = 256                    # width of the classic decoder's deconvolutions

    def __post_init__(self):
        if isinstance(self.backbone, dict):       # a config read back from a result record
            kind = PoseViTConfig if "patch_size" in self.backbone else ResNetConfig
            fields = {key: tuple(value) if isinstance(value, list) else value for key, value in self.backbone.items()}
            object.__setattr__(self, "backbone", kind(**fields))
        object.__setattr__(self, "image_size", tuple(self.image_size))
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r}; use one of {', '.join(DECODERS)}")
        if isinstance(self.backbone, PoseViTConfig) and tuple(self.backbone.image_size) != self.image_size:
            raise ValueError(f"the ViT backbone is built for {self.backbone.image_size} images, the pose model "
                             f"for {self.image_size}: give both the same image_size")
        if any(side % self.stride for side in self.image_size):
            raise ValueError(f"image_size {self.image_size} must be divisible by the backbone's stride {self.stride}")

    @property
    def stride(self) -> int:
        """The backbone's output stride: the ViT's patch size, or the ResNet's (32, or 16 with last_stride 1)."""
        return self.backbone.patch_size if isinstance(self.backbone, PoseViTConfig) else self.backbone.stride

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return (self.image_size[0] // HEATMAP_STRIDE, self.image_size[1] // HEATMAP_STRIDE)


class PaddedPatchEmbed(nn.Module):
    """The official patch embedding: Conv2d(kernel = stride = patch, padding = `padding`). With
    padding 2 each 16x16 patch starts 2 pixels up and left of the grid (the first reads 2 rows and
    columns of zeros) and the last 2 rows and columns of the crop are never read; the grid is the
    unpadded one, (H/16, W/16), since 2 * padding < patch."""

    def __init__(self, config: PoseViTConfig):
        super().__init__()
        self.proj = nn.Conv2d(config.in_channels, config.dim, kernel_size=config.patch_size,
                              stride=config.patch_size, padding=config.patch_padding)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return rearrange(self.proj(images), "b d gh gw -> b (gh gw) d")          # [B, N, D], row-major


class PoseViT(nn.Module):
    """ViTPose's backbone (official `vit.py`, `ViT.forward_features`): padded patch embedding, no
    class token; the position embeddings keep MAE's class-token slot [1, 1 + N, D] (so MAE weights
    load as they are) and add it to every patch, z_0 = x_p E + E_pos[1:] + E_pos[0]; then the L
    blocks (stochastic depth rising linearly to `drop_path`), the final LayerNorm, and the tokens
    laid on the patch grid [B, D, gh, gw]. Parameter names are the official ones but `norm`
    (official: `last_norm`); `patchlib.models.checkpoints` converts official checkpoints."""

    def __init__(self, config: PoseViTConfig):
        super().__init__()
        self.config = config
        self.grid_size = config.grid_size
        self.patch_embed = PaddedPatchEmbed(config)
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid_size[0] * self.grid_size[1], config.dim))
        rates = torch.linspace(0, config.drop_path, config.depth, device="cpu").tolist()  # the official rule
        self.blocks = nn.ModuleList(DropPathBlock(config.dim, heads=config.heads, mlp_ratio=config.mlp_ratio,
                                                  qkv_bias=config.qkv_bias, drop_path=rate) for rate in rates)
        self.norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official `init_weights(pretrained=None)`: truncated-normal(0.02) position embeddings and
        linear weights, zero biases, LayerNorms at identity; the patch convolution keeps torch's default."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[-2:]) != self.config.image_size:
            raise ValueError(f"expected crops of size {self.config.image_size}, got {tuple(images.shape[-2:])}")
        x = self.patch_embed(images) + self.pos_embed[:, 1:] + self.pos_embed[:, :1]  # [B, N, D]
        for block in self.blocks:
            x = block(x)
        gh, gw = self.grid_size
        return rearrange(self.norm(x), "b (gh gw) d -> b d gh gw", gh=gh, gw=gw)   # [B, D, gh, gw]


class ViTBackbone(nn.Module):
    """The ViT backbone as a dense feature extractor (`PoseViT`): [B, 3, H, W] -> [B, D, H/16, W/16]."""

    def __init__(self, config: PoseViTConfig):
        super().__init__()
        self.vit = PoseViT(config)
        self.out_channels = config.dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.vit(images)


class ResNetBackbone(nn.Module):
    """torchvision's ResNet without its pooling and classifier: the map of its last stage, at stride
    32, or 16 with `last_stride` 1 (the strided convolutions of layer4's first block at stride 1:
    `conv1` of a BasicBlock, `conv2` of a Bottleneck (torchvision's v1.5), and the downsample)."""

    def __init__(self, config: ResNetConfig):
        super().__init__()
        import torchvision

        resnet = getattr(torchvision.models, f"resnet{config.depth}")(weights=None)
        if config.in_channels != 3:
            resnet.conv1 = nn.Conv2d(config.in_channels, 64, 7, stride=2, padding=3, bias=False)
        if config.last_stride == 1:
            first = resnet.layer4[0]
            strided = [conv for conv in (first.conv1, first.conv2, first.downsample[0]) if conv.stride == (2, 2)]
            assert len(strided) == 2, "torchvision's ResNet: one strided 3x3 convolution and a strided downsample"
            for conv in strided:
                conv.stride = (1, 1)
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.stages = nn.Sequential(resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4)
        self.out_channels = resnet.fc.in_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(images))


class ResNetClassifier(nn.Module):
    """A `ResNetBackbone` with torchvision's classifier on top (global average pooling, one linear
    layer): the supervised pretraining of the pose chapter's ResNet (`patchlib.pose.pretrain`),
    whose `backbone` loads into a `TopDownPose` by name."""

    def __init__(self, config: ResNetConfig, num_classes: int):
        super().__init__()
        self.config = config
        self.backbone = ResNetBackbone(config)
        self.head = nn.Linear(self.backbone.out_channels, check_int(num_classes, "num_classes"))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images).mean(dim=(2, 3)))


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
        vit = isinstance(config.backbone, PoseViTConfig)
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


def _vit_backbone(dim: int, depth: int, heads: int, drop_path: float) -> PoseViTConfig:
    return PoseViTConfig(dim=dim, depth=depth, heads=heads, drop_path=drop_path)


# ViTPose sizes (paper §3.1 and Table 9; ViTPose-S from the official README), with the drop path
# rates of the official COCO configs (ViTPose_{small,base,large,huge}_coco_256x192.py).
@register_model
def vitpose_s(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=_vit_backbone(384, 12, 12, 0.1)), overrides)


@register_model
def vitpose_b(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=_vit_backbone(768, 12, 12, 0.3)), overrides)


@register_model
def vitpose_l(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=_vit_backbone(1024, 24, 16, 0.5)), overrides)


@register_model
def vitpose_h(**overrides) -> TopDownPose:
    return _pose(PoseConfig(backbone=_vit_backbone(1280, 32, 16, 0.55)), overrides)


@register_model
def vitpose_tiny(**overrides) -> TopDownPose:
    """A CPU-scale ViTPose: ViT-Ti widths (192, 12 layers, 3 heads), no drop path."""
    return _pose(PoseConfig(backbone=_vit_backbone(192, 12, 3, 0.0)), overrides)


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
