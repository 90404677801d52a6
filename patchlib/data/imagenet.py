"""ImageNet-1k validation images (Russakovsky et al., 2015, "ImageNet Large Scale Visual Recognition
Challenge"), read lazily from local files, and the evaluation preprocessing of released checkpoints.

For evaluating pretrained models only: nothing here trains. Accepted layouts, under
`<data root>/imagenet/` or the data root itself (`val/` may also be Kaggle's `ILSVRC/Data/CLS-LOC/val/`):

* "folder": `val/<wnid>/*.JPEG`, the ImageFolder tree that `torchvision.datasets.ImageNet` makes
  (`parse_val_archive`) and that timm reads. Labels come from the folder names.
* "flat": `val/ILSVRC2012_val_000xxxxx.JPEG` as extracted from `ILSVRC2012_img_val.tar`, with
  Kaggle's `LOC_val_solution.csv` (`ImageId,PredictionString`; the first token of
  PredictionString is the wnid) next to `val/`.

Class index k is the k-th of the 1000 wnids in sorted order (torchvision's and timm's
convention: a model's output k means that class). `LOC_synset_mapping.txt` (`<wnid> <names>`
per line, in that order) next to `val/` gives the label space and human-readable names; without
it a complete folder tree's 1000 folder names are the label space and the names are the wnids.
Not read: the devkit's `ILSVRC2012_validation_ground_truth.txt`, whose ILSVRC2012_IDs map to
wnids only through `meta.mat` (MATLAB, needs scipy, which patchlib does not depend on), and
torchvision's `meta.bin`. Images are sorted by file name in both layouts, so `limit=N` picks the
same N images from either.
"""
from __future__ import annotations

import csv
import hashlib
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .root import DATA_ROOT_ENV, DataNotFoundError, resolve_data_root

SYNSET_MAPPING = "LOC_synset_mapping.txt"
VAL_SOLUTION = "LOC_val_solution.csv"
VAL_FOLDERS = ("val", "ILSVRC/Data/CLS-LOC/val")
NUM_CLASSES, NUM_VAL_IMAGES = 1000, 50_000
# SHA-256 of the 1000 sorted ImageNet-1k wnids, one per line ("n01440764\n...n15075141\n"); checked
# against timm's `imagenet_synsets.txt` in tests/test_imagenet_data.py.
IMAGENET1K_WNIDS_SHA256 = "70002b0ff5de60a3a17a82dbfcff291931f96225ddf941ad2e182fc39e183d15"
WNID = re.compile(r"n\d{8}")
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")
# Normalisation constants of the released checkpoints (timm.data.constants): DeiT/EViT, ConvMixer
# use the ImageNet statistics; big_vision's ViT and FlexiViT map [0, 1] to [-1, 1]; MobileViT
# (cvnets) does not normalise.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
INCEPTION_MEAN, INCEPTION_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
HOW_TO_GET_IMAGENET = (
    "ImageNet-1k cannot be downloaded automatically: it needs an account at https://image-net.org "
    "(accept the terms, then download from the ILSVRC2012 page) ILSVRC2012_img_val.tar (6.3 GB, the 50,000 "
    "validation JPEGs) and ILSVRC2012_devkit_t12.tar.gz (the labels). Then either run "
    "torchvision.datasets.ImageNet('<data root>/imagenet', split='val') once with both files in that folder "
    "(it needs scipy and sorts the images into imagenet/val/<wnid>/), or extract the tar into "
    "<data root>/imagenet/val/ and put Kaggle's LOC_val_solution.csv and LOC_synset_mapping.txt (ImageNet "
    "Object Localization Challenge) in <data root>/imagenet/. The data root is the argument, else "
    f"${DATA_ROOT_ENV}, else the repository's data/ (see data/README.md)."
)


class ImageNetFileError(ValueError):
    """A file of the ImageNet copy is damaged or inconsistent. The message names the file and the fix."""


def wnids_sha256(wnids) -> str:
    """SHA-256 of wnids one per line, the form of `IMAGENET1K_WNIDS_SHA256`."""
    return hashlib.sha256("".join(f"{wnid}\n" for wnid in wnids).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------
# Finding and reading the validation set


@dataclass(frozen=True, eq=False)
class ImageNetVal:
    """The validation images (paths, decoded only when iterated) and their labels.

    labels[i] indexes `wnids` (sorted; the model's output order when `complete`); names are the
    human-readable class names. complete: the label space is ImageNet-1k's 1000 wnids and all
    50,000 images are present (before `limit`). source says where images and labels came from.
    """

    val_dir: Path
    layout: str
    files: tuple[Path, ...]
    labels: tuple[int, ...]
    wnids: tuple[str, ...]
    names: tuple[str, ...]
    complete: bool
    source: str

    def __len__(self) -> int:
        return len(self.files)


def find_imagenet_val(root: Path) -> tuple[tuple[Path, Path] | None, list[str]]:
    """(the first `val/` folder under `root`, the folder of its label files), or None, and every place
    looked at (see module docstring)."""
    looked_at = []
    for folder in (root / "imagenet", root):
        for name in VAL_FOLDERS:
            looked_at.append(f"{folder / name} (val/<wnid>/*.JPEG, or the flat ILSVRC2012_val_*.JPEG "
                             f"with {VAL_SOLUTION} in {folder})")
            if (folder / name).is_dir():
                return (folder / name, folder), looked_at
        if (folder / "ILSVRC2012_img_val.tar").is_file():
            looked_at.append(f"{folder / 'ILSVRC2012_img_val.tar'}: found but not read as an archive; "
                             f"extract it into {folder / 'val'}/")
    return None, looked_at


def read_synset_mapping(path: Path) -> tuple[list[str], list[str]]:
    """(wnids, names) of a `LOC_synset_mapping.txt`; the wnids must be unique and sorted."""
    wnids, names = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        wnid, _, name = line.strip().partition(" ")
        if not WNID.fullmatch(wnid) or wnid in wnids:
            raise ImageNetFileError(f"{path} line {number}: {line!r} is not '<new wnid> <names>'; replace "
                                    f"{path.name} with Kaggle's copy")
        if wnids and wnid < wnids[-1]:
            raise ImageNetFileError(f"{path} line {number}: {wnid} after {wnids[-1]}: the wnids must be in "
                                    "sorted order, since class index k is the k-th sorted wnid (torchvision/timm)")
        wnids.append(wnid)
        names.append(name.strip() or wnid)
    return wnids, names


def read_val_solution(path: Path, wnids: list[str]) -> dict[str, str]:
    """{ImageId: wnid} from Kaggle's `LOC_val_solution.csv` (the first token of PredictionString)."""
    known, solution = set(wnids), {}
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    if not rows or rows[0] != ["ImageId", "PredictionString"]:
        raise ImageNetFileError(f"{path}: the header must be 'ImageId,PredictionString'; replace it with Kaggle's copy")
    for number, row in enumerate(rows[1:], start=2):
        wnid = row[1].split()[0] if len(row) == 2 and row[1].split() else ""
        if wnid not in known or row[0] in solution:
            raise ImageNetFileError(f"{path} line {number}: {row} is not '<new ImageId>,<wnid> ...' with a wnid of "
                                    f"{SYNSET_MAPPING}; replace it with Kaggle's copy")
        solution[row[0]] = wnid
    return solution


def _images(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]


def read_imagenet_val(data_root: str | Path | None = None, *, allow_subset: bool = False,
                      limit: int | None = None) -> ImageNetVal:
    """The ImageNet-1k validation set under the data root (argument, else $PATCHLIB_DATA).

    Refuses (ValueError) anything but the complete set, 1000 classes and 50,000 images, unless
    allow_subset=True (fixtures, partial copies). `limit` keeps the first N images in file-name
    order. Raises DataNotFoundError listing every path looked at when there is no copy, and
    ImageNetFileError naming the file when a label file is damaged or disagrees with the images.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    root = resolve_data_root(data_root)
    found, looked_at = find_imagenet_val(root)
    if found is None:
        raise DataNotFoundError("ImageNet-1k validation set not found. Looked at:\n  " + "\n  ".join(looked_at)
                                + "\n" + HOW_TO_GET_IMAGENET)
    val_dir, labels_folder = found
    mapping, solution_file = labels_folder / SYNSET_MAPPING, labels_folder / VAL_SOLUTION
    wnids, names = read_synset_mapping(mapping) if mapping.is_file() else (None, None)
    class_dirs = sorted(p.name for p in val_dir.iterdir() if p.is_dir() and WNID.fullmatch(p.name))
    flat = sorted(_images(val_dir))
    if class_dirs and flat:
        raise ImageNetFileError(f"{val_dir} mixes class folders ({class_dirs[0]}/, ...) with images ({flat[0].name}, "
                                "...); keep one layout: val/<wnid>/*.JPEG or the flat ILSVRC2012_val_*.JPEG")
    if not class_dirs and not flat:
        raise DataNotFoundError(f"{val_dir} holds neither <wnid>/ folders nor images.\n" + HOW_TO_GET_IMAGENET)
    if class_dirs:
        layout, label_source = "folder", f"labels from the <wnid>/ folder names of {val_dir}"
        if wnids is None:
            if len(class_dirs) != NUM_CLASSES:
                raise ValueError(f"{val_dir} has {len(class_dirs)} class folders, not ImageNet-1k's {NUM_CLASSES}, "
                                 f"and no {mapping}: a model's output k is the k-th of all {NUM_CLASSES} sorted "
                                 f"wnids, so put {SYNSET_MAPPING} (listing the {NUM_CLASSES}) at {mapping}")
            wnids, names = class_dirs, class_dirs
        unknown = sorted(set(class_dirs) - set(wnids))
        if unknown:
            raise ImageNetFileError(f"{val_dir / unknown[0]}: wnid not in {mapping} ({len(unknown)} such folders); "
                                    f"use the {NUM_CLASSES}-line {SYNSET_MAPPING} from Kaggle")
        by_name = {}
        for wnid in class_dirs:
            for path in _images(val_dir / wnid):
                if path.name in by_name:
                    raise ImageNetFileError(f"{path} and {by_name[path.name][0]}: one image in two class folders; "
                                            "delete the wrong copy")
                by_name[path.name] = (path, wnid)
        items = [by_name[name] for name in sorted(by_name)]
    else:
        if wnids is None or not solution_file.is_file():
            raise DataNotFoundError(f"{val_dir} holds the flat ILSVRC2012_val_*.JPEG files; their labels need "
                                    f"{solution_file} and {mapping} (Kaggle's files; the devkit's ground truth "
                                    f"needs meta.mat and scipy, not read here).\n" + HOW_TO_GET_IMAGENET)
        layout, label_source = "flat", f"labels from {solution_file}"
        solution = read_val_solution(solution_file, wnids)
        missing = [path for path in flat if path.stem not in solution]
        if missing:
            raise ImageNetFileError(f"{solution_file} has no line for {missing[0]} ({len(missing)} images unlabelled; "
                                    f"{len(solution)} lines for {len(flat)} images); replace it with Kaggle's copy")
        items = [(path, solution[path.stem]) for path in flat]
    problems = []
    if wnids_sha256(wnids) != IMAGENET1K_WNIDS_SHA256:
        problems.append(f"the label space ({mapping if mapping.is_file() else val_dir}) has {len(wnids)} wnids, "
                        f"not ImageNet-1k's {NUM_CLASSES}")
    if layout == "folder" and len(class_dirs) != len(wnids):
        problems.append(f"{len(class_dirs)} of the {len(wnids)} class folders")
    if len(items) != NUM_VAL_IMAGES:
        problems.append(f"{len(items)} images, not {NUM_VAL_IMAGES:,}")
    if problems and not allow_subset:
        raise ValueError(f"{val_dir} is not the complete ImageNet-1k validation set: {'; '.join(problems)}. "
                         f"Accuracy on it would not be the papers' ImageNet-1k accuracy; pass allow_subset=True "
                         f"for a fixture or partial copy (labels then index the wnids of {SYNSET_MAPPING}).")
    index = {wnid: k for k, wnid in enumerate(wnids)}
    items = items[:limit]
    return ImageNetVal(val_dir, layout, tuple(path for path, _ in items), tuple(index[w] for _, w in items),
                       tuple(wnids), tuple(names), not problems,
                       f"{len(items)} images ({layout} layout) from {val_dir}, {label_source}; "
                       f"{'complete' if not problems else 'a subset: ' + '; '.join(problems)}")


# ----------------------------------------------------------------------------------------------
# Evaluation preprocessing and the streaming loader


@dataclass(frozen=True)
class EvalTransform:
    """timm's evaluation transform (`transforms_imagenet_eval`): resize with PIL's `interpolation`
    the shorter side to floor(size / crop_pct) (`resize` "shorter", timm's crop_mode "center") or the
    whole image to that square (`resize` "square", timm's crop_mode "squash", big_vision's
    `resize(n)|central_crop(size)`), center-crop size x size, scale to [0, 1], subtract mean and
    divide by std per channel."""

    size: int
    crop_pct: float
    interpolation: str  # "bicubic" or "bilinear": what the checkpoint was evaluated with
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: str = "shorter"  # "shorter" (keep the aspect ratio) or "square" (squash to a square)

    def __post_init__(self):
        if not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"EvalTransform size must be a positive int, got {self.size!r}")
        if not 0 < self.crop_pct <= 1:
            raise ValueError(f"EvalTransform crop_pct must be in (0, 1], got {self.crop_pct!r}")
        if self.interpolation not in ("bicubic", "bilinear"):
            raise ValueError(f"EvalTransform interpolation must be 'bicubic' or 'bilinear', got {self.interpolation!r}")
        if self.resize not in ("shorter", "square"):
            raise ValueError(f"EvalTransform resize must be 'shorter' or 'square', got {self.resize!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"EvalTransform mean and std need 3 values (std > 0), got {self.mean}, {self.std}")

    @classmethod
    def from_timm(cls, config: dict) -> EvalTransform:
        """From `timm.data.resolve_data_config(...)`'s dict (square input_size, crop_mode "center" or "squash")."""
        _, height, width = config["input_size"]
        modes = {"center": "shorter", "squash": "square"}
        if height != width or config.get("crop_mode", "center") not in modes:
            raise ValueError(f"EvalTransform reads square inputs with crop_mode 'center' or 'squash', got {config}")
        return cls(int(height), float(config["crop_pct"]), config["interpolation"], tuple(config["mean"]),
                   tuple(config["std"]), modes[config.get("crop_mode", "center")])

    def record(self) -> dict:
        """The settings as a record stores them (JSON types)."""
        return {"size": self.size, "crop_pct": self.crop_pct, "interpolation": self.interpolation,
                "mean": list(self.mean), "std": list(self.std), "resize": self.resize, "resize_to": self.resize_to}

    @property
    def resize_to(self) -> int:
        """The shorter side after resizing, as timm computes it."""
        return math.floor(self.size / self.crop_pct)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """float32 [3, size, size] from an RGB PIL image."""
        mode = TF.InterpolationMode.BICUBIC if self.interpolation == "bicubic" else TF.InterpolationMode.BILINEAR
        shape = [self.resize_to] if self.resize == "shorter" else [self.resize_to, self.resize_to]
        image = TF.center_crop(TF.resize(image, shape, interpolation=mode), [self.size, self.size])
        pixels = TF.pil_to_tensor(image).to(torch.float32).div(255)
        return TF.normalize(pixels, list(self.mean), list(self.std))


def decode_rgb(path: Path) -> Image.Image:
    """The image at `path` as RGB (`.convert("RGB")`, as timm's loader); ImageNetFileError if unreadable."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as error:  # UnidentifiedImageError, truncated file
        raise ImageNetFileError(f"{path}: not a readable image ({type(error).__name__}: {error}); replace it "
                                "with the original from ILSVRC2012_img_val.tar") from None


class _TransformedImages(Dataset):
    def __init__(self, val: ImageNetVal, transform: EvalTransform):
        self.files, self.labels, self.transform = val.files, val.labels, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(decode_rgb(self.files[i])), self.labels[i]


def imagenet_val_batches(val: ImageNetVal, transform: EvalTransform, *, batch_size: int, num_workers: int = 0,
                         progress: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(float32 [B, 3, size, size], int64 [B]) batches in `val`'s order, decoded as they are needed
    (num_workers > 0 decodes in DataLoader worker processes); a tqdm bar over batches if progress."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    loader = DataLoader(_TransformedImages(val, transform), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers)
    yield from tqdm(loader, desc="ImageNet val", unit="batch", mininterval=1.0, disable=not progress)


# ----------------------------------------------------------------------------------------------
# A generated fixture in the same formats

# The first ten ImageNet-1k classes (sorted wnids) and their names, as in LOC_synset_mapping.txt.
FIXTURE_CLASSES = (
    ("n01440764", "tench, Tinca tinca"), ("n01443537", "goldfish, Carassius auratus"),
    ("n01484850", "great white shark, white shark, man-eater, man-eating shark, Carcharodon carcharias"),
    ("n01491361", "tiger shark, Galeocerdo cuvieri"), ("n01494475", "hammerhead, hammerhead shark"),
    ("n01496331", "electric ray, crampfish, numbfish, torpedo"), ("n01498041", "stingray"), ("n01514668", "cock"),
    ("n01514859", "hen"), ("n01518878", "ostrich, Struthio camelus"),
)


def write_imagenet_fixture(root: str | Path, *, classes: int = 3, per_class: int = 2, layout: str = "folder",
                           seed: int = 0) -> Path:
    """Write a tiny ImageNet-format copy under `root`/imagenet/ and return that folder: JPEGs of
    random sizes named ILSVRC2012_val_<id>.JPEG with classes interleaved by a seeded shuffle, in
    `layout` "folder" (val/<wnid>/) or "flat" (val/ plus LOC_val_solution.csv), and a
    LOC_synset_mapping.txt of its `classes` wnids. Read it with allow_subset=True."""
    if layout not in ("folder", "flat"):
        raise ValueError(f"layout must be 'folder' or 'flat', got {layout!r}")
    if not 1 <= classes <= len(FIXTURE_CLASSES) or per_class < 1:
        raise ValueError(f"need 1 <= classes <= {len(FIXTURE_CLASSES)} and per_class >= 1, got {classes}, {per_class}")
    rng = random.Random(seed)
    folder = Path(root) / "imagenet"
    (folder / "val").mkdir(parents=True, exist_ok=True)
    chosen = FIXTURE_CLASSES[:classes]
    (folder / SYNSET_MAPPING).write_text("".join(f"{wnid} {name}\n" for wnid, name in chosen))
    owners = [k for k in range(classes) for _ in range(per_class)]
    rng.shuffle(owners)
    solution = ["ImageId,PredictionString"]
    for number, k in enumerate(owners, start=1):
        image_id, wnid = f"ILSVRC2012_val_{number:08d}", chosen[k][0]
        width, height = rng.randint(40, 96), rng.randint(40, 96)
        pixels = bytes(min(255, 40 * k + rng.randrange(64)) for _ in range(width * height * 3))
        where = folder / "val" / (wnid if layout == "folder" else "")
        where.mkdir(exist_ok=True)
        Image.frombytes("RGB", (width, height), pixels).save(where / f"{image_id}.JPEG", quality=90)
        solution.append(f"{image_id},{wnid} 0 0 {width - 1} {height - 1}")
    if layout == "flat":
        (folder / VAL_SOLUTION).write_text("\n".join(solution) + "\n")
    return folder
