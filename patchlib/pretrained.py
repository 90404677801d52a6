"""Released classifiers on ImageNet-1k val, evaluated as their releases evaluate them: the measurement
of the `pretrained` profile (issue 25), which checks the papers' published numbers where the cpu and
gpu profiles retrain.

`evaluate_checkpoint(name, val)` loads the released weights `name` (`patchlib.models.checkpoints`),
preprocesses every image with the release's own evaluation transform (`Checkpoint.preprocessing`)
and returns top-1 and top-5 accuracy with their binomial standard errors, the images counted and
the speed of the whole loop (decoding included) and of the model alone. `imagenet_accuracy` does the
same for any model and transform.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from .claims import binomial_se
from .data.imagenet import EvalTransform, ImageNetVal, imagenet_val_batches
from .runtime import autocast


def imagenet_accuracy(model: nn.Module, val: ImageNetVal, transform: EvalTransform, *, batch_size: int = 64,
                      device: str | torch.device = "cpu", precision: str = "fp32", num_workers: int = 0,
                      progress: bool = True) -> dict:
    """Top-1 and top-5 accuracy (%) of `model` on `val` through `transform`. The model must score the
    1000 ImageNet-1k classes in the sorted-wnid order that `val`'s labels use. Counts stay on the
    device until the end (one read); `images_per_s` times the whole loop, `model_images_per_s` the
    forward passes alone (synchronised per batch)."""
    device = torch.device(device)
    model = model.eval().to(device)
    correct = torch.zeros(2, dtype=torch.long, device=device)  # top-1, top-5
    n, model_s, start = 0, 0.0, time.perf_counter()
    with torch.inference_mode():
        for images, labels in imagenet_val_batches(val, transform, batch_size=batch_size, num_workers=num_workers,
                                                   progress=progress):
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            forward = time.perf_counter()
            with autocast(device, precision):
                logits = model(images)
            if logits.shape[-1] != len(val.wnids):
                raise ValueError(f"the model scores {logits.shape[-1]} classes, the validation set has "
                                 f"{len(val.wnids)}: evaluate a checkpoint with an ImageNet-1k head")
            top5 = logits.float().topk(min(5, logits.shape[-1]), dim=-1).indices
            hits = top5 == labels[:, None]
            correct += torch.stack([hits[:, 0].sum(), hits.any(dim=-1).sum()])
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            model_s += time.perf_counter() - forward
            n += len(labels)
    if n == 0:
        raise ValueError(f"no images to evaluate in {val.source}")
    wall = time.perf_counter() - start
    top1, top5 = (100 * value / n for value in correct.tolist())
    return {"top1": top1, "top1_se": binomial_se(top1, n), "top5": top5, "top5_se": binomial_se(top5, n), "n": n,
            "images_per_s": n / wall, "model_images_per_s": n / model_s, "wall_time_s": wall,
            "preprocessing": transform.record(), "data": val.source}


def evaluate_checkpoint(name: str, val: ImageNetVal, *, data_root: str | Path | None = None,
                        download: bool = True, **options) -> dict:
    """`imagenet_accuracy` of the released weights `name`, preprocessed as the release states
    (`Checkpoint.preprocessing`); the result names the checkpoint and where its preprocessing comes from."""
    from .models.checkpoints import CHECKPOINTS, load_pretrained

    entry = CHECKPOINTS.get(name)
    if entry is None:
        raise ValueError(f"unknown checkpoint {name!r}; known: {', '.join(sorted(CHECKPOINTS))}")
    if entry.preprocessing is None:
        raise ValueError(f"checkpoint {name!r} is not an ImageNet-1k classifier (no evaluation preprocessing)")
    model = load_pretrained(name, data_root=data_root, download=download)
    result = imagenet_accuracy(model, val, entry.preprocessing, **options)
    return result | {"checkpoint": name, "checkpoint_source": entry.source,
                     "preprocessing_source": entry.preprocessing_source}
