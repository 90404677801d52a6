"""The `pretrained` profile's computations: one cached record per evaluation (`ChapterRun.record`, so
each carries its fingerprint and provenance; a dry run's records live apart).

- "imagenet": a released classifier's top-1/top-5 on ImageNet-1k val through its own evaluation
  preprocessing (`patchlib.pretrained.imagenet_accuracy`); EViT's also its counted GMACs and parameters.
- "flexivit": a FlexiViT release at every patch size of Fig. 2/3 (PI-resized kernels, resampled
  position embeddings: `AtPatchSize`).
- "fig7": ViT Fig. 7 from the released ViT-L/32: the filters' principal components and the position
  embeddings' similarity (no data), and mean attention distances on the first validation images.
- "coco": a released ViTPose's COCO val2017 OKS AP/AR with ground-truth boxes (`evaluate_pose`:
  flip test, DARK-UDP decoding, OKS-NMS, COCOeval).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ...data.imagenet import ImageNetVal, imagenet_val_batches, read_imagenet_val
from ...interpret import attention_distance, patch_distances, patch_embedding_components, position_embedding_similarity
from ...measure import flops, parameter_count
from ...models.checkpoints import CHECKPOINTS, Checkpoint, load_release
from ...models.flexivit import AtPatchSize
from ...pretrained import imagenet_accuracy
from ..common import ChapterRun, relative_to_data_root
from .config import FLEXIVIT_PATCH_SIZES, VIT_CHECKPOINT, VIT_COMPONENTS, VIT_FIG7_IMAGES, Evaluation
from .dryrun import shrunk


@dataclass(frozen=True)
class Inputs:
    """Where a run reads its data and weights, and whether missing weights may be downloaded."""

    data_root: Path | None
    weights: Path
    download: bool = False


def release(ctx: ChapterRun, name: str) -> Checkpoint:
    """The registry's entry `name`, shrunk in a dry run (`dryrun.shrunk`)."""
    entry = CHECKPOINTS[name]
    return shrunk(entry) if ctx.dry_run else entry


def load_model(ctx: ChapterRun, inputs: Inputs, name: str) -> torch.nn.Module:
    return load_release(release(ctx, name), name=name, folder=inputs.weights, download=inputs.download)


def read_val(ctx: ChapterRun, inputs: Inputs) -> ImageNetVal:
    """ImageNet-1k val: the whole of it in a real run (a partial copy is refused), the fixture in a dry run."""
    return read_imagenet_val(inputs.data_root, allow_subset=ctx.dry_run, limit=ctx.size.n_images)


def _config(ctx: ChapterRun, name: str, checkpoints, inputs: Inputs, **entries) -> dict:
    files = [release(ctx, n).file for n in checkpoints]
    return ctx.config(name, checkpoints=list(checkpoints), files=files, batch_size=ctx.size.batch_size,
                      precision=ctx.size.precision, **entries)


def _val_entries(val: ImageNetVal, inputs: Inputs) -> dict:
    return {"data": relative_to_data_root(val.source, inputs.data_root), "n_images": len(val)}


def data_identity(name: str, source: str, n: int, inputs: Inputs) -> dict:
    """The evaluation data as a record's provenance states it (no absolute paths; no training images)."""
    return {"name": name, "source": f"{name}: {relative_to_data_root(source, inputs.data_root)}", "n_train": 0,
            "n_test": n}


def _accuracy(ctx: ChapterRun, model, val: ImageNetVal, entry: Checkpoint) -> dict:
    return imagenet_accuracy(model, val, entry.preprocessing, batch_size=ctx.size.batch_size, device=ctx.device,
                             precision=ctx.size.precision, num_workers=ctx.size.num_workers, progress=ctx.progress)


def imagenet_record(ctx: ChapterRun, inputs: Inputs, evaluation: Evaluation, val: ImageNetVal) -> dict:
    """Top-1/top-5 of `evaluation`'s checkpoint; for a ViT (DeiT, EViT) also its GMACs and parameters."""
    (name,) = evaluation.checkpoints
    entry = release(ctx, name)

    def compute() -> dict:
        model = load_model(ctx, inputs, name)
        result = _accuracy(ctx, model, val, entry)
        result["data"] = data_identity("ImageNet-1k val", val.source, len(val), inputs)
        if entry.format in ("timm_vit", "evit"):
            size = entry.preprocessing.size
            result |= {"gmacs": flops(model.to(ctx.device), (3, size, size))["gmacs"],
                       "params_m": parameter_count(model) / 1e6}
        return result | {"checkpoint": name, "checkpoint_source": entry.source,
                         "preprocessing_source": entry.preprocessing_source}

    config = _config(ctx, evaluation.id, evaluation.checkpoints, inputs, **_val_entries(val, inputs),
                     preprocessing=entry.preprocessing.record())
    return ctx.record("imagenet", config, compute, uses_data=False)


def flexivit_record(ctx: ChapterRun, inputs: Inputs, evaluation: Evaluation, val: ImageNetVal) -> dict:
    """A FlexiViT release's top-1 at every patch size of `FLEXIVIT_PATCH_SIZES` (one model, loaded once)."""
    (name,) = evaluation.checkpoints
    entry = release(ctx, name)

    def compute() -> dict:
        model = load_model(ctx, inputs, name)
        per_size = [_accuracy(ctx, AtPatchSize(model, p), val, entry) for p in FLEXIVIT_PATCH_SIZES]
        return {"patch_sizes": list(FLEXIVIT_PATCH_SIZES), "top1": [r["top1"] for r in per_size],
                "top1_se": [r["top1_se"] for r in per_size], "top5": [r["top5"] for r in per_size],
                "images_per_s": [r["images_per_s"] for r in per_size], "n": per_size[0]["n"],
                "preprocessing": per_size[0]["preprocessing"], "checkpoint": name,
                "preprocessing_source": entry.preprocessing_source,
                "data": data_identity("ImageNet-1k val", val.source, len(val), inputs)}

    config = _config(ctx, evaluation.id, evaluation.checkpoints, inputs, **_val_entries(val, inputs),
                     patch_sizes=list(FLEXIVIT_PATCH_SIZES), preprocessing=entry.preprocessing.record())
    return ctx.record("flexivit", config, compute, uses_data=False)


def fig7_record(ctx: ChapterRun, inputs: Inputs, val: ImageNetVal | None) -> dict:
    """ViT Fig. 7 from the released ViT-L/32: principal components of the patch-embedding filters,
    position-embedding cosine similarity and, with `val`, each head's mean attention distance (pixels)
    over its first `VIT_FIG7_IMAGES` images (none without: "attention_distance" is None)."""
    entry = release(ctx, VIT_CHECKPOINT)
    images = min(VIT_FIG7_IMAGES, len(val)) if val is not None else 0

    @torch.no_grad()
    def compute() -> dict:
        model = load_model(ctx, inputs, VIT_CHECKPOINT).to(ctx.device)
        components = patch_embedding_components(model.patch_embed.proj.weight, VIT_COMPONENTS)
        similarity = position_embedding_similarity(model.pos_embed, model.grid_size)
        patch = model.patch_embed.patch_size[0]
        result = {"pca_components": components["components"].tolist(),
                  "explained_variance_ratio": components["explained_variance_ratio"].tolist(),
                  "pos_embed_similarity": similarity.tolist(), "grid": list(model.grid_size), "patch_size": patch,
                  "attention_distance": None, "attention_images": images}
        if images:
            distances, total = patch_distances(model.grid_size, patch), None
            subset = replace(val, files=val.files[:images], labels=val.labels[:images])
            for batch, _ in imagenet_val_batches(subset, entry.preprocessing, batch_size=ctx.size.batch_size,
                                                 progress=ctx.progress):
                attentions = model.forward_intermediates(batch.to(ctx.device), attention=True).attention
                per_layer = torch.stack([attention_distance(a, distances).sum(dim=0) for a in attentions])
                total = per_layer if total is None else total + per_layer
            result["attention_distance"] = (total / images).cpu().tolist()       # [layers, heads]
            result["data"] = data_identity("ImageNet-1k val", val.source, images, inputs)
        return result | {"checkpoint": VIT_CHECKPOINT, "checkpoint_source": entry.source}

    extra = _val_entries(val, inputs) if val is not None else {}
    config = _config(ctx, "vit_fig7", (VIT_CHECKPOINT,), inputs, components=VIT_COMPONENTS, attention_images=images,
                     **extra)
    return ctx.record("fig7", config, compute, uses_data=False)


def coco_record(ctx: ChapterRun, inputs: Inputs, record_id: str, name: str, detections: Path | None = None) -> dict:
    """COCO val2017 OKS AP/AR (x100) of the released ViTPose `name`, evaluated as ViTPose evaluates (flip
    test, DARK-UDP decoding, OKS-NMS at 0.9): on the annotated boxes (`patchlib.pose.train.evaluate_pose`),
    or with `detections` on a person detector's boxes (`detections.evaluate_detected`)."""
    from ...pose.data import TopDownDataset, find_coco
    from ...pose.evaluate import OKS_NMS_THRESHOLD, STAT_NAMES
    from ...pose.train import evaluate_pose
    from .detections import DETECTION_THRESHOLD, evaluate_detected

    annotations, images = find_coco(inputs.data_root, "val2017")
    boxes = "ground truth" if detections is None else "detected"

    def compute() -> dict:
        model = load_model(ctx, inputs, name).to(ctx.device)
        dataset = TopDownDataset(annotations, images, image_size=model.config.image_size)
        people = len(dataset)
        options = dict(device=ctx.device, batch_size=ctx.size.batch_size, num_workers=ctx.size.num_workers)
        if detections is None:
            with torch.inference_mode():
                metrics = evaluate_pose(model, dataset, annotations, **options)
        else:
            metrics = evaluate_detected(model, dataset, detections, **options)
        return {key: 100 * metrics[key] for key in STAT_NAMES} | {
            "people": people, "boxes_evaluated": metrics.get("boxes", people), "checkpoint": name, "boxes": boxes,
            "data": data_identity("COCO val2017 person keypoints", str(annotations), people, inputs)}

    extra = {} if detections is None else {"detections": relative_to_data_root(str(detections), inputs.data_root),
                                           "detection_threshold": DETECTION_THRESHOLD}
    config = _config(ctx, record_id, (name,), inputs, data=relative_to_data_root(str(annotations), inputs.data_root),
                     boxes=boxes, flip_test=True, decoding="dark_udp", oks_nms=OKS_NMS_THRESHOLD, **extra)
    return ctx.record("coco", config, compute, uses_data=False)
