"""The pose chapter's in-book pretraining of its backbones, in the spirit of the paper's (ViTPose
§4.1: ViTs from MAE's self-supervised ImageNet weights, ResNets from supervised ImageNet ones), on
natural images standing in for ImageNet (CIFAR-10's training images in the cpu profile):

- objective "mae" (the ViT): a masked autoencoder around the pose model's own `PoseViT`
  (`patchlib.models.mae`, He et al., CVPR 2022, §3);
- objective "classify" (the ResNet): supervised classification of the same images with the same
  `ResNetBackbone` (global average pooling and a linear layer, `ResNetClassifier`).

Images: each image becomes one crop of the pose model's size (H x W, e.g. 128x96), so the
backbone meets the geometry it is fine-tuned at. Training crops follow MAE's augmentation
(RandomResizedCrop(scale=(0.2, 1.0)) and a horizontal flip, `main_pretrain.py`): a region of a
uniformly drawn share of the image's area, whose aspect ratio is the crop's (W / H) times a
log-uniform factor in [3/4, 4/3], clipped to the image, at a uniform position, flipped with
probability 1/2, resampled bilinearly to H x W (`random_resized_crops`). Evaluation crops are the
largest central region of the crop's aspect ratio, resampled the same way (`centre_crops`). The
crops are normalised with ImageNet's statistics, as the pose crops are (`patchlib.pose.train`).

The loop is `patchlib.train.fit` (`PretrainTask`): AdamW with the book's no-decay rule (the fixed
sine-cosine position embeddings get no gradient), linear warm-up then a half-cosine (MAE's
schedule), checkpoints and exact resumption. AdamW keeps torch's betas (0.9, 0.999); MAE's
pretraining uses (0.9, 0.95) (`fit` has no option for them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed
from ..data import DataSplits, iterate_batches, normalize
from ..layers import check_size
from ..models.checkpoints import load_checkpoint
from ..models.mae import MAEConfig, MaskedAutoencoder
from ..models.vitpose import PoseViTConfig, ResNetClassifier, ResNetConfig, TopDownPose
from ..runtime import autocast, check_precision, resolve_device
from ..train import EpochStreams, Task, check_grad_clip, check_speed_options, fit, lr_factor, record_fields
from .train import MEAN, STD

OBJECTIVES = {"mae": "vit", "classify": "resnet"}  # objective -> the backbone it pretrains
MAE_FIELDS = ("mask_ratio", "decoder_dim", "decoder_depth", "decoder_heads", "norm_pix_loss")
CLASSIFY_FIELDS = ("label_smoothing",)
EVAL_MASK_SEED = 0  # the masks of the MAE's test loss: the same at every evaluation, so the curve compares like with like


@dataclass(frozen=True)
class PretrainConfig:
    objective: str                            # "mae" (a ViT backbone) or "classify" (a ResNet backbone)
    epochs: int
    n_train: int | None = None                # training images (a class-balanced subset; None: all)
    n_test: int | None = None                 # test images of the per-epoch evaluation (None: all)
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05                # MAE: 0.05
    warmup_epochs: float = 1.0
    grad_clip: float | None = None            # MAE: no clipping
    precision: str = "auto"
    crop_scale: tuple[float, float] = (0.2, 1.0)  # share of the image's area in a training crop (MAE's RandomResizedCrop)
    # objective "mae" (MAEConfig; official defaults for ViT-B: decoder 512 wide, 8 blocks, 16 heads)
    mask_ratio: float = 0.75
    decoder_dim: int = 512
    decoder_depth: int = 8
    decoder_heads: int = 16
    norm_pix_loss: bool = True
    # objective "classify"
    label_smoothing: float = 0.0
    adamw_impl: str = "default"               # speed options, as TrainConfig's (patchlib.train.LATER_FIELDS)
    compile: bool = False

    def __post_init__(self):
        object.__setattr__(self, "crop_scale", tuple(self.crop_scale))
        if self.objective not in OBJECTIVES:
            raise ValueError(f"PretrainConfig.objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"PretrainConfig.{name} must be a positive integer, got {value!r}")
        for name in ("n_train", "n_test"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"PretrainConfig.{name} must be None (all images) or a positive integer, got {value!r}")
        for name in ("lr", "weight_decay", "warmup_epochs", "label_smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"PretrainConfig.{name} must be a finite number >= 0, got {value!r}")
        if self.lr == 0 or self.label_smoothing >= 1:
            raise ValueError(f"PretrainConfig.lr must be positive and .label_smoothing below 1, got {self.lr!r}, "
                             f"{self.label_smoothing!r}")
        low, high = self.crop_scale if len(self.crop_scale) == 2 else (None, None)
        if low is None or not 0 < low <= high <= 1:
            raise ValueError(f"PretrainConfig.crop_scale must be (low, high) with 0 < low <= high <= 1, got "
                             f"{self.crop_scale!r}")
        check_grad_clip(self.grad_clip, "PretrainConfig")
        check_precision(self.precision, "PretrainConfig.precision")
        check_speed_options(self, "PretrainConfig")

    @property
    def backbone(self) -> str:
        return OBJECTIVES[self.objective]

    def mae(self, encoder: PoseViTConfig) -> MAEConfig:
        """The masked autoencoder around `encoder` (objective "mae")."""
        return MAEConfig(encoder=encoder, **{name: getattr(self, name) for name in MAE_FIELDS})

    def record(self) -> dict:
        """This config as a record's entry: `record_fields`, without the other objective's fields."""
        other = CLASSIFY_FIELDS if self.objective == "mae" else MAE_FIELDS
        return {name: value for name, value in record_fields(self).items() if name not in other}


# ---- the crops ----

def _resample(images: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int], flip: torch.Tensor) -> torch.Tensor:
    """Each image's box (x0, y0, w, h in pixels) resampled bilinearly to `size`, mirrored where `flip`:
    uint8 [B, C, h, w] -> float [B, C, H, W] in [0, 1] (one `grid_sample`)."""
    height, width = images.shape[-2:]
    x0, y0, w, h = boxes.unbind(1)
    theta = torch.zeros(len(images), 2, 3)
    theta[:, 0, 0] = w / width * torch.where(flip, -1.0, 1.0)
    theta[:, 0, 2] = (2 * x0 + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * y0 + h) / height - 1
    theta = theta.to(images.device)
    grid = F.affine_grid(theta, [len(images), images.shape[1], *size], align_corners=False)
    return F.grid_sample(images.float() / 255, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_resized_crops(images: torch.Tensor, size: tuple[int, int], scale: tuple[float, float],
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """MAE's training crops (see the module docstring): uint8 [B, C, h, w] -> float [B, C, H, W] in [0, 1]."""
    size = check_size(size, "size")
    batch, (height, width) = len(images), images.shape[-2:]
    draws = torch.rand(batch, 5, generator=generator)                            # area, ratio, x, y, flip
    area = (scale[0] + (scale[1] - scale[0]) * draws[:, 0]) * height * width
    ratio = size[1] / size[0] * torch.exp(math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * draws[:, 1])
    w = torch.sqrt(area * ratio).clamp(max=width)
    h = torch.sqrt(area / ratio).clamp(max=height)
    boxes = torch.stack([(width - w) * draws[:, 2], (height - h) * draws[:, 3], w, h], dim=1)
    return _resample(images, boxes, size, draws[:, 4] < 0.5)


def centre_crops(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The largest central region of the crop's aspect ratio, resampled to `size` (evaluation)."""
    size = check_size(size, "size")
    height, width = images.shape[-2:]
    h = min(height, width * size[0] / size[1])
    w = h * size[1] / size[0]
    boxes = torch.tensor([[(width - w) / 2, (height - h) / 2, w, h]]).expand(len(images), 4)
    return _resample(images, boxes, size, torch.zeros(len(images), dtype=torch.bool))


# ---- the models and the task ----

def pretraining_model(config: PretrainConfig, backbone: PoseViTConfig | ResNetConfig, num_classes: int) -> nn.Module:
    """The model `config` trains: an MAE around the ViT `backbone`, or a classifier on the ResNet."""
    if config.objective == "mae":
        if not isinstance(backbone, PoseViTConfig):
            raise ValueError(f"objective 'mae' pretrains a ViT backbone (PoseViTConfig), got {type(backbone).__name__}")
        return MaskedAutoencoder(config.mae(backbone))
    if not isinstance(backbone, ResNetConfig):
        raise ValueError(f"objective 'classify' pretrains a ResNet backbone (ResNetConfig), got {type(backbone).__name__}")
    return ResNetClassifier(backbone, num_classes)


class PretrainTask(Task):
    """`PretrainConfig`'s objective on the crops of `data.train`'s images for `patchlib.train.fit`;
    after every epoch, the objective on `data.test`'s centre crops (MAE: the masked loss with masks
    from EVAL_MASK_SEED; classification: loss and top-1 accuracy). Crops, and MAE's masks, are drawn
    from the epoch's augmentation stream: different for every image and step, the same on a rerun."""

    def __init__(self, data: DataSplits, config: PretrainConfig, *, image_size: tuple[int, int], device: torch.device):
        self.data, self.config, self.device, self.image_size = data, config, device, check_size(image_size, "image_size")
        self.steps_per_epoch = len(data.train) // config.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"PretrainConfig.batch_size {config.batch_size} exceeds the {len(data.train)} training "
                             "images")
        self.warmup_steps = round(config.warmup_epochs * self.steps_per_epoch)
        self.my_part = distributed.shard(config.batch_size)

    def batches(self, epoch: int, streams: EpochStreams):
        for images, labels in iterate_batches(self.data.train, self.config.batch_size, shuffle=True,
                                              generator=streams.order, drop_last=True):
            yield images[self.my_part], labels[self.my_part]

    def _objective(self, model, images: torch.Tensor, labels: torch.Tensor, generator) -> tuple[torch.Tensor, dict]:
        images = normalize(images.to(self.device, non_blocking=True), MEAN, STD)
        with autocast(self.device, self.config.precision):
            if self.config.objective == "mae":
                return model(images, generator)["loss"], {}
            logits = model(images)
        labels = labels.to(self.device)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.config.label_smoothing)
        return loss, {"correct": (logits.argmax(dim=1) == labels).sum()}

    def training_step(self, model, batch, streams):
        images, labels = batch
        images = images.to(self.device, non_blocking=True)  # cropped where the model runs (uint8 travels)
        crops = random_resized_crops(images, self.image_size, self.config.crop_scale, streams.augment)
        loss, counts = self._objective(model, crops, labels, streams.augment)
        return loss, counts | {"seen": len(labels)}

    def schedule(self, step: int, total_steps: int) -> float:
        return lr_factor(step, total_steps, self.warmup_steps, "cosine")

    @torch.no_grad()
    def evaluate(self, model):
        model.eval()
        test, generator = self.data.test, torch.Generator().manual_seed(EVAL_MASK_SEED)
        sums = {"loss": 0.0, "correct": 0}
        for images, labels in iterate_batches(test, 256, shuffle=False):
            crops = centre_crops(images.to(self.device), self.image_size)
            loss, counts = self._objective(model, crops, labels, generator)
            sums = {"loss": sums["loss"] + float(loss) * len(labels),
                    "correct": sums["correct"] + int(counts.get("correct", 0))}
        scores = {"test_loss": sums["loss"] / len(test)}
        return scores | ({"test_acc": 100 * sums["correct"] / len(test)} if self.config.objective == "classify" else {})

    def train_metrics(self, sums):
        return {"train_acc": 100 * float(sums["correct"]) / sums["seen"]} if "correct" in sums else {}

    def summary(self, entry):
        return f"loss {entry['train_loss']:.3f}, test loss {entry['test_loss']:.3f}" + (
            f", test acc {entry['test_acc']:.1f}%" if "test_acc" in entry else "")


def pretrain(model: nn.Module, data: DataSplits, config: PretrainConfig, *, image_size: tuple[int, int], seed: int,
             device=None, checkpoint: str | Path | None = None, progress: bool = True,
             stop_after_epochs: int | None = None) -> dict:
    """Pretrain `model` (`pretraining_model`) on `data` (`PretrainTask`, `patchlib.train.fit`; a
    checkpoint after every epoch, resumed from when present). Returns {"history": per-epoch train
    loss (and accuracy), test loss (and accuracy), lr, images/s; "final": the last evaluation;
    "train_time_s", "completed", "images_seen"}."""
    device = resolve_device(device)
    task = PretrainTask(data, config, image_size=image_size, device=device)
    run = fit(model, task, seed=seed, device=device, checkpoint=checkpoint, progress=progress,
              stop_after_epochs=stop_after_epochs)
    history = run["history"]
    return {"history": history, "train_time_s": run["train_time_s"], "completed": run["completed"],
            "final": {k: v for k, v in history[-1].items() if k.startswith("test_")} if history else None,
            "images_seen": len(history) * task.steps_per_epoch * config.batch_size}


def load_pretrained_backbone(pose: TopDownPose, pretrained: nn.Module) -> None:
    """Load a pretrained model's backbone into the pose model's: an MAE's encoder as ViTPose loads
    MAE's (`checkpoints.load_checkpoint(format="mae")`: every `PoseViT` weight but the final norm,
    which stays at its initialisation like the official `last_norm`), a classifier's ResNet whole
    (strict: every weight by name)."""
    if isinstance(pretrained, MaskedAutoencoder):
        load_checkpoint(pose.backbone.vit, {"model": pretrained.pretrained_encoder_state()}, format="mae")
    elif isinstance(pretrained, ResNetClassifier):
        pose.backbone.load_state_dict(pretrained.backbone.state_dict())
    else:
        raise ValueError(f"no pretrained backbone in a {type(pretrained).__name__}; expected a MaskedAutoencoder or "
                         "a ResNetClassifier")

