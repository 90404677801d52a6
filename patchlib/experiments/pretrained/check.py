"""What the `pretrained` profile needs and what is missing (issue 25 §3): per chapter, every released
weights file and every data set its evaluations read, with where to download each and where to put it.

    python -m patchlib.experiments.pretrained check [--data-root DIR] [--weights DIR] [--chapters vit ...] [--strict]

`run()` asks the same questions: an evaluation whose inputs are missing is not run, and its claim is
`not_tested`, naming the missing file (never a fallback to generated data).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...data.imagenet import HOW_TO_GET_IMAGENET, find_imagenet_val
from ...data.root import resolve_data_root
from ...models.checkpoints import CHECKPOINTS, WEIGHTS_ENV
from .config import DETECTIONS_FILE, DETECTIONS_FOLDER, EVALUATIONS, VIT_CHECKPOINT, VITPOSE

SIZE_NOT_RECORDED = "size not recorded"
COCO_SOURCE = ("https://cocodataset.org/#download (2017 Val images, 2017 Train/Val annotations), unpacked into "
               "<data root>/coco/ (coco/val2017/*.jpg, coco/annotations/person_keypoints_val2017.json)")
DETECTIONS_SOURCE = ("the COCO val2017 person detection results that mmpose's COCO data preparation page and "
                     "ViTPose's README link to (the file the ViTPose configs name in data_cfg.bbox_file)")


@dataclass(frozen=True)
class Missing:
    """An input an evaluation needs and this machine lacks."""

    what: str
    file: str
    size: str
    source: str
    destination: str

    def line(self) -> str:
        return f"{self.what}: {self.file} ({self.size}). Get it: {self.source}. Put it in {self.destination}"


def weight_source(name: str) -> str:
    """Where the released weights `name` are downloaded from."""
    entry = CHECKPOINTS[name]
    if entry.url:
        return entry.url
    if entry.timm:
        return (f"https://huggingface.co/timm/{entry.timm} (its model.safetensors, saved as {entry.file}; or run "
                "with download=True and timm fetches it)")
    return f"{entry.page} ({entry.source})"


def missing_weights(name: str, folder: Path, dry_run: bool = False, download: bool = False) -> Missing | None:
    """The released weights `name` if their file is not in `folder` (a dry run's: `dryrun.shrunk`'s file) and,
    with `download`, neither timm nor an official URL can fetch them."""
    from .dryrun import shrunk

    entry = shrunk(CHECKPOINTS[name]) if dry_run else CHECKPOINTS[name]
    if (Path(folder) / entry.file).is_file() or (download and not dry_run and (entry.timm or entry.url)):
        return None
    return Missing(f"weights {name}", entry.file, SIZE_NOT_RECORDED, weight_source(name),
                   f"{folder}/ (the weights folder: ${WEIGHTS_ENV}, else <data root>/weights)")


def missing_imagenet(data_root) -> Missing | None:
    found, _ = find_imagenet_val(resolve_data_root(data_root))
    if found is not None:
        return None
    return Missing("ImageNet-1k val", "ILSVRC2012_img_val.tar with its labels", "6.3 GB", HOW_TO_GET_IMAGENET,
                   f"{resolve_data_root(data_root) / 'imagenet'}/ (val/<wnid>/*.JPEG, or val/*.JPEG with "
                   "LOC_val_solution.csv and LOC_synset_mapping.txt)")


def missing_coco(data_root) -> Missing | None:
    """COCO val2017 with its keypoint annotations, as unpacked from COCO's archives (the coco-mini test
    fixture does not count: a real run never evaluates on generated people)."""
    root = resolve_data_root(data_root)
    for folder in (root / "coco", root):
        if (folder / "annotations" / "person_keypoints_val2017.json").is_file() and (folder / "val2017").is_dir():
            return None
    return Missing("COCO val2017 keypoints", "val2017.zip, annotations_trainval2017.zip", SIZE_NOT_RECORDED,
                   COCO_SOURCE, f"{root / 'coco'}/")


def detections_path(data_root) -> Path | None:
    """The person detector's boxes that ViTPose's COCO configs evaluate with, if present."""
    root = resolve_data_root(data_root)
    for path in (root / DETECTIONS_FOLDER / DETECTIONS_FILE, root / "person_detection_results" / DETECTIONS_FILE):
        if path.is_file():
            return path
    return None


def missing_detections(data_root) -> Missing | None:
    if detections_path(data_root) is not None:
        return None
    return Missing("COCO val2017 person detections", DETECTIONS_FILE, SIZE_NOT_RECORDED, DETECTIONS_SOURCE,
                   f"{resolve_data_root(data_root) / DETECTIONS_FOLDER}/")


def chapter_missing(chapter: str, data_root, weights: Path, dry_run: bool = False,
                    download: bool = False) -> dict[str, list[Missing]]:
    """{evaluation id: its missing inputs} for every evaluation of `chapter` (empty lists: runnable); with
    `download`, weights that timm or an official URL can fetch are not missing."""
    found: dict[str, list[Missing]] = {}
    imagenet = missing_imagenet(data_root)

    def weights_of(name: str) -> list[Missing]:
        return [m for m in (missing_weights(name, weights, dry_run, download),) if m]

    for evaluation in EVALUATIONS.get(chapter, ()):
        found[evaluation.id] = [m for name in evaluation.checkpoints for m in weights_of(name)] + (
            [imagenet] if imagenet else [])
    if chapter == "vit":
        found["vit_fig7"] = weights_of(VIT_CHECKPOINT)
        found["vit_attention_distance"] = found["vit_fig7"] + ([imagenet] if imagenet else [])
    if chapter == "vitpose":
        coco, detections = missing_coco(data_root), missing_detections(data_root)
        for decoder, entry in VITPOSE.items():
            base = weights_of(entry["checkpoint"]) + ([coco] if coco else [])
            found[f"vitpose_b_{decoder}_gt_boxes"] = base
            found[f"vitpose_b_{decoder}_detected_boxes"] = base + ([detections] if detections else [])
    return found


def report(chapters, data_root, weights: Path) -> tuple[str, int]:
    """The preflight's text and the number of distinct missing files."""
    lines, distinct = [], {}
    for chapter in chapters:
        missing = chapter_missing(chapter, data_root, weights)
        runnable = [i for i, m in missing.items() if not m]
        lines.append(f"== {chapter}: {len(runnable)} of {len(missing)} evaluations can run")
        for evaluation, items in missing.items():
            distinct |= {item.file: item for item in items}
            if items:
                lines.append(f"  {evaluation}: missing " + ", ".join(item.file for item in items))
    if distinct:
        lines.append("To download (each once), and where to put it:")
        lines += [f"  - {item.line()}" for item in distinct.values()]
    else:
        lines.append("Everything the pretrained profile reads is here.")
    return "\n".join(lines), len(distinct)
