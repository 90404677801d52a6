"""The `pretrained` profile's dry run (issue 25 §4): every evaluation on generated inputs, through the
same readers and converters as a real run, so the profile cannot rot without the weights or the data.

- Data: the generated ImageNet-format fixture (`write_imagenet_fixture`: real folder layout and class
  mapping, a few classes), a COCO-format set of generated people (`generate_people`) and person
  detections made up from their boxes (`write_detections`), under a dry-run data root.
- Weights: random weights written in each release's official format and container (timm's state
  dicts as safetensors, DeiT's {"model"}, EViT's {"model", "epoch", "args"}, ViTPose's mmcv
  {"meta", "state_dict"}), then read back by `load_release` and the format's converter, as a real
  file would be. The models are shrunk (`shrunk`): fewer layers, a head over the fixture's classes,
  the Transformers at ViT-Ti's width; kernels, patch sizes, grids and the MobileViTs stay the
  release's. FlexiViT's releases are big_vision .npz files that timm reads into its state dict: the
  dry run writes that state dict directly.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from ...data.imagenet import write_imagenet_fixture
from ...models.checkpoints import CHECKPOINTS, Checkpoint
from ...models.registry import create_model
from ...models.vitpose import PoseViTConfig
from ...pose.synthetic import generate_people
from .config import DETECTIONS_FILE, DETECTIONS_FOLDER

CLASSES, PER_CLASS = 4, 2      # the ImageNet fixture: 8 images of the first 4 ImageNet-1k classes
PEOPLE_IMAGES = 3              # generated COCO val2017 images
DRY_DEPTH = 1                  # Transformer blocks / ConvMixer layers of a shrunk model
DRY_WIDTH = {"dim": 192, "heads": 3}  # a shrunk Transformer's width: ViT-Ti's


def shrunk(entry: Checkpoint, classes: int = CLASSES) -> Checkpoint:
    """The release `entry` as the dry run builds it: fewer layers, `classes` outputs, the file name of
    the state dict it writes (`.safetensors` for a big_vision .npz)."""
    head = {} if entry.overrides.get("num_classes") == 0 else {"num_classes": classes}
    if entry.format == "evit":  # keep rates at layers 2-4 of 4 (DeiT-S: 4, 7, 10 of 12)
        overrides = {"depth": 4, "evit": replace(entry.overrides["evit"], layers=(1, 2, 3))} | DRY_WIDTH | head
    elif entry.format in ("timm_vit", "timm_flexivit"):
        overrides = {"depth": DRY_DEPTH} | DRY_WIDTH | head
    elif entry.format == "timm_convmixer":
        overrides = {"depth": DRY_DEPTH} | head
    elif entry.format == "timm_mobilevit":
        overrides = head
    elif entry.format == "vitpose":
        overrides = {"backbone": PoseViTConfig(depth=DRY_DEPTH, **DRY_WIDTH)}
    else:
        raise ValueError(f"the pretrained dry run has no shrunk form of {entry.format!r} releases")
    file = Path(entry.file).with_suffix(".safetensors").name if entry.file.endswith(".npz") else entry.file
    return replace(entry, file=file, overrides=entry.overrides | overrides)


_VITPOSE_OFFICIAL = ((r"^backbone\.vit\.norm\.", "backbone.last_norm."), (r"^backbone\.vit\.", "backbone."),
                     (r"^decoder\.deconvs\.", "keypoint_head.deconv_layers."),
                     (r"^decoder\.head\.", "keypoint_head.final_layer."))


def official_state(entry: Checkpoint, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights of (shrunk) `entry` under the official key names: timm's own model for timm's
    ConvMixer and MobileViT layouts; for ViT/DeiT/EViT (timm's names are ours), FlexiViT (no class-token
    position slot) and ViTPose (the inverse of `checkpoints.RENAMES["vitpose"]`), our model's, renamed."""
    import re

    torch.manual_seed(seed)
    ours = create_model(entry.model, **entry.overrides)
    if entry.format == "timm_convmixer":
        from timm.models.convmixer import ConvMixer

        c = ours.config
        act = torch.nn.ReLU if c.activation == "relu" else torch.nn.GELU
        return ConvMixer(dim=c.dim, depth=c.depth, kernel_size=c.kernel_size, patch_size=c.patch_size,
                         num_classes=c.num_classes, act_layer=act).state_dict()
    if entry.format == "timm_mobilevit":
        import timm

        return timm.create_model(entry.model, num_classes=entry.overrides.get("num_classes", 1000)).state_dict()
    state = {key: value for key, value in ours.state_dict().items() if value.numel() > 0}  # headless: no head keys
    if entry.format == "timm_flexivit":
        state["pos_embed"] = state["pos_embed"][:, 1:]
    if entry.format == "vitpose":
        renamed = {}
        for key, value in state.items():
            for pattern, replacement in _VITPOSE_OFFICIAL:  # the first rule that matches
                key, matched = re.subn(pattern, replacement, key)
                if matched:
                    break
            renamed[key] = value
        state = renamed
    return state


def write_official(entry: Checkpoint, folder: Path, seed: int = 0) -> Path:
    """Write random weights of (shrunk) `entry` into `folder`/`entry.file` in the release's container."""
    path = Path(folder) / entry.file
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().clone().contiguous() for key, value in official_state(entry, seed).items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, path)
    elif entry.format == "evit":
        torch.save({"model": state, "epoch": 299, "args": argparse.Namespace(base_keep_rate=0.7)}, path)
    elif entry.format == "vitpose":
        torch.save({"meta": {"epoch": 210}, "state_dict": state}, path)
    else:
        torch.save({"model": state}, path)
    return path


def write_detections(annotations: Path, path: Path, seed: int = 0) -> Path:
    """A person detector's results in COCO's format, made up from the annotated people: each box shifted
    by up to a tenth of its size with a score in [0.5, 1], plus one low-scoring box per image."""
    import json
    import random

    rng, truth = random.Random(seed), json.loads(Path(annotations).read_text())
    found = []
    for person in truth["annotations"]:
        x, y, w, h = person["bbox"]
        jitter = [rng.uniform(-0.1, 0.1) * s for s in (w, h, w, h)]
        found.append({"image_id": person["image_id"], "category_id": 1, "score": round(rng.uniform(0.5, 1.0), 3),
                      "bbox": [x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]), max(1.0, h + jitter[3])]})
    found += [{"image_id": image["id"], "category_id": 1, "score": 0.05, "bbox": [0.0, 0.0, 40.0, 80.0]}
              for image in truth["images"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(found))
    return path


def write_inputs(root: str | Path, checkpoints: tuple[str, ...] = tuple(CHECKPOINTS), *,
                 weights: str | Path | None = None) -> tuple[Path, Path]:
    """The dry run's data root and weights folder under `root` (weights: `weights` if given, else
    `root`/weights): the ImageNet fixture, generated COCO val2017 people, and random official-format
    weights of `checkpoints` (the ImageNet classifiers with the fixture's classes). Files already
    there are kept (a second dry run reuses them) unless they were written for other shrink settings."""
    root = Path(root)
    folder = Path(weights) if weights is not None else root / "weights"
    if not (root / "imagenet" / "val").is_dir():
        write_imagenet_fixture(root, classes=CLASSES, per_class=PER_CLASS, layout="folder")
    if not (root / "coco" / "annotations" / "person_keypoints_val2017.json").is_file():
        generate_people(root / "coco", "val2017", num_images=PEOPLE_IMAGES, seed=1, image_size=(256, 192))
    if not (root / DETECTIONS_FOLDER / DETECTIONS_FILE).is_file():
        write_detections(root / "coco" / "annotations" / "person_keypoints_val2017.json",
                         root / DETECTIONS_FOLDER / DETECTIONS_FILE)
    # Weights written for other shrink settings would not fit today's models: the stamp says which these are.
    folder.mkdir(parents=True, exist_ok=True)
    stamp, settings = folder / "dry-run-settings.txt", f"depth {DRY_DEPTH}, width {DRY_WIDTH}, classes {CLASSES}\n"
    if not (stamp.is_file() and stamp.read_text() == settings):
        for entry in CHECKPOINTS.values():  # only the files a dry run writes
            if entry.format in ("timm_vit", "evit", "timm_flexivit", "timm_convmixer", "timm_mobilevit", "vitpose"):
                (folder / shrunk(entry).file).unlink(missing_ok=True)
        stamp.write_text(settings)
    for seed, name in enumerate(checkpoints):
        entry = shrunk(CHECKPOINTS[name])
        if not (folder / entry.file).is_file():
            write_official(entry, folder, seed)
    return root, folder
