"""Pretrained backbones for the pose models (`patchlib.models.vitpose`): which weights a run asks
for, how the record names them, and how they are loaded into a backbone.

The paper starts its ViTs from MAE-pretrained weights and its ResNets from ImageNet ones (ViTPose
§4.1); the book starts from random weights unless an environment variable names weights.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..results import file_digest

# Pretrained backbones, an explicit option (the paper starts from MAE-pretrained ViTs and
# ImageNet-pretrained ResNets; no profile downloads or assumes weights): an environment variable
# per backbone names a file: for the ViT an MAE checkpoint (e.g. MAE's mae_pretrain_vit_base.pth) or
# any timm-layout ViT state dict, loaded as ViTPose loads MAE (`patchlib.models.checkpoints`, format
# "mae"); for the ResNet a state dict of torchvision's ResNet (its own key names), or "imagenet",
# torchvision's IMAGENET1K_V1 weights (downloaded by torchvision where it can).
INIT_ENV = {"vit": "PATCHLIB_VITPOSE_VIT_INIT", "resnet": "PATCHLIB_VITPOSE_RESNET_INIT"}


def backbone_init(backbone: str) -> str | None:
    """The pretrained weights asked for `backbone` (None: random initialisation, the default)."""
    value = os.environ.get(INIT_ENV[backbone], "").strip()
    if value and value != "imagenet" and not Path(value).expanduser().is_file():
        raise FileNotFoundError(f"{INIT_ENV[backbone]}={value}: no such file; give a state-dict file"
                                + (" or 'imagenet'" if backbone == "resnet" else "") + ", or unset it for random init")
    if value == "imagenet" and backbone != "resnet":
        raise ValueError(f"{INIT_ENV[backbone]}=imagenet: only the ResNet has torchvision ImageNet weights; give an "
                         "MAE checkpoint file (e.g. mae_pretrain_vit_base.pth) or a timm-layout ViT state dict")
    return value or None


def _init_record(backbone: str) -> dict:
    """The config entry of a pretrained initialisation (nothing when there is none: configs keep their hash)."""
    source = backbone_init(backbone)
    if source is None:
        return {}
    return {"init": source if source == "imagenet" else f"{Path(source).name} (sha256 {file_digest(Path(source).expanduser())})"}


def load_backbone_weights(model, backbone: str, source: str) -> None:
    """Load pretrained weights into `model.backbone` (see INIT_ENV). The ResNet's classifier is
    dropped; a ViT is initialised as ViTPose initialises it from MAE (`checkpoints`, format "mae":
    no class token, MAE's final norm left out, position embeddings resized to the pose grid). Any
    other missing or unexpected key is an error naming it."""
    if backbone == "resnet":
        import torchvision

        if source == "imagenet":
            state = getattr(torchvision.models, f"resnet{model.config.backbone.depth}")(weights="IMAGENET1K_V1").state_dict()
        else:
            state = torch.load(Path(source).expanduser(), map_location="cpu", weights_only=True)
        renamed = {}
        for key, value in state.items():
            head, _, rest = key.partition(".")
            if head == "fc":
                continue
            if head in ("conv1", "bn1"):
                renamed[f"stem.{0 if head == 'conv1' else 1}.{rest}"] = value
            elif head.startswith("layer"):
                renamed[f"stages.{int(head[5:]) - 1}.{rest}"] = value
            else:
                renamed[key] = value
        target, state = model.backbone, renamed
    else:
        from .checkpoints import load_checkpoint

        load_checkpoint(model.backbone.vit, Path(source).expanduser(), format="mae")
        return
    missing, unexpected = target.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("head.")]
    if missing or unexpected:
        raise ValueError(f"pretrained {backbone} weights from {source} do not fit the backbone: missing "
                         f"{missing[:5]}, unexpected {unexpected[:5]}")
