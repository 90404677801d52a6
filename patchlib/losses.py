"""Training objectives beyond plain cross-entropy, for `patchlib.train.train(..., loss_fn=...)`.

FlexiViT (Beyer et al., CVPR 2023) trains one model at a patch size drawn uniformly per step
(§3.2, `random_patch_loss`), optionally distilling from a fixed-patch ViT teacher (§3.5,
`distillation_loss`). Each factory returns `loss_fn(model, images, labels, generator) -> (loss, logits)`.

The patch size is drawn from `generator`, never from Python's or torch's global random state: the
training loop passes the epoch's shared stream (`patchlib.train.EpochStreams.shared`), seeded from
the run's seed and the epoch, and the same on every rank of a multi-process run, so a resumed run
draws the sizes an uninterrupted one draws, every replica takes the same size at every step, and
nothing else that draws random numbers (augmentation, dropout) moves the sizes.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def sample_patch_size(patch_sizes: Sequence[int], generator: torch.Generator) -> int:
    """One of `patch_sizes`, uniformly, drawn from `generator`."""
    return int(patch_sizes[int(torch.randint(len(patch_sizes), (1,), generator=generator))])


def random_patch_loss(patch_sizes: Sequence[int], label_smoothing: float = 0.0):
    """Cross-entropy at a patch size drawn uniformly per step (§3.2: FlexiViT training)."""
    sizes = tuple(patch_sizes)

    def loss_fn(model, images, labels, generator: torch.Generator):
        logits = model(images, patch_size=sample_patch_size(sizes, generator))
        return F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing), logits

    return loss_fn


def distillation_loss(teacher: nn.Module, patch_sizes: Sequence[int], temperature: float = 1.0):
    """KL(teacher || student) on the same augmented view (§3.5, FunMatch-style distillation).

    The teacher runs frozen, in eval mode, at its own patch size; the student at a size drawn
    uniformly per step. Scaled by temperature^2 so that gradients keep their size across temperatures.
    """
    sizes = tuple(patch_sizes)
    teacher.eval().requires_grad_(False)

    def loss_fn(model, images, labels, generator: torch.Generator):
        if next(teacher.parameters()).device != images.device:
            teacher.to(images.device)
        with torch.no_grad():
            target = F.log_softmax(teacher(images).float() / temperature, dim=-1)
        logits = model(images, patch_size=sample_patch_size(sizes, generator))
        student = F.log_softmax(logits.float() / temperature, dim=-1)
        loss = F.kl_div(student, target, log_target=True, reduction="batchmean") * temperature ** 2
        return loss, logits

    return loss_fn
