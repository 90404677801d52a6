"""Top-down COCO keypoint data: one annotated person per item, cut out of its image as a fixed-size
crop with the keypoints in crop coordinates, as ViTPose (Xu et al., NeurIPS 2022, §3 and §4.1)
trains and tests: mmpose's top-down COCO pipeline with unbiased data processing (UDP; Huang et
al., CVPR 2020), the recipe of SimpleBaseline (Xiao et al., ECCV 2018) plus HRNet's half-body crop.

Geometry of a crop of `image_size` (H, W), the same for images and keypoints (mmpose's
`TopDownAffine(use_udp=True)` with `get_warp_matrix`):

1. a box (x, y, w, h) gives the centre c = (x + w/2, y + h/2) and a size (w, h) whose aspect
   ratio is set to W/H by enlarging the short side, then multiplied by `padding` (1.25) and by
   the augmentation's scale s;
2. UDP: the box's width spans W - 1 crop unit lengths and its height H - 1, so
   crop = S R(theta) (p - c) + ((W - 1)/2, (H - 1)/2) with S = diag((W-1)/w, (H-1)/h) and
   R(theta) = [[cos, -sin], [sin, cos]] (mmpose's sign): a rotation about the box centre;
3. a flip mirrors the crop, x -> (W - 1) - x, and permutes the keypoints with
   `flip_permutation()` (left <-> right), exact under UDP (`heatmaps.flip_heatmaps` relies on it).

Pixels are sampled bilinearly at the inverse-mapped positions with zero padding (torch's
`grid_sample`, align_corners=True, so pixel centres sit at integer coordinates as in cv2). Keypoints
that fall outside the crop keep their coordinates (`heatmaps.encode` gives them weight 0); COCO's
v = 0 keypoints get `visible` 0. Crops stay uint8: normalising them is the model's business.

Training augmentation (`PoseAugment`, the draws of ViTPose's COCO config,
`configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/ViTPose_base_coco_256x192.py`), in mmpose's
order: flip with probability 0.5 (`TopDownRandomFlip`); half-body with probability 0.3 for people
with more than 8 labelled keypoints (`TopDownHalfBodyTransform`: the upper body with mmpose's
probability P(N(0, 1) < 0.5) = 0.69 if it has more than 2 labelled keypoints, else the lower; a box
centred on their mean, their extent with aspect ratio W/H times 1.5, no padding); scale
clip(N(1, 0.5), 0.5, 1.5) and, with probability 0.6, a rotation clip(N(0, 40), -80, 80) degrees
(`TopDownGetRandomScaleRotation`). Item i of epoch e draws from its own generator seeded with
(seed, e, i), so a run's crops do not depend on the number of DataLoader workers or the order of
access. Workers copy the dataset when an epoch's iterator starts: call `set_epoch` before that
(persistent workers would keep the epoch they started with).

How this differs from mmpose 0.x (the ViTPose code):
- mmpose clips each COCO box to the image and shrinks it by 1 px (`clean_bbox`); we use the box
  as annotated (centre within 0.5 px, size 1 px larger for boxes inside the image);
- mmpose's `_xywh2cs` shifts 30% of the training boxes' centres by up to 20% of the box, drawn
  once when the dataset is built (the same shift every epoch); we leave this out;
- mmpose flips the image before cropping and then rotates by theta, which equals our mirrored
  crop with rotation -theta: the same distribution, since the rotation draw is symmetric;
- cv2.warpAffine rounds sampling positions to 1/32 px; ours are exact (float32), so pixels can
  differ by a few grey levels at sharp edges;
- people come with their annotated boxes; ViTPose's COCO val results use a person detector's boxes
  (56 AP), which this module does not read (`crop_transform(box=...)` takes any box).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import math
import operator
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from ..data.cache import CACHE_SPACE_FIX, NoSpaceError, cache_dir, is_disk_full, no_space_error
from ..data.root import DataNotFoundError, resolve_data_root
from .keypoints import NAMES, flip_permutation

UPPER_BODY = tuple(range(11))        # nose ... right wrist (mmpose's upper_body_ids)
LOWER_BODY = tuple(range(11, 17))    # hips, knees, ankles
HALF_BODY_ENLARGE = 1.5              # mmpose's half-body box: the keypoints' extent times 1.5 (no padding)
RESCORE_THRESHOLD = 0.2              # mmpose's vis_thr: keypoint scores above it make the person score

HOW_TO_GET_COCO = (
    "To use COCO keypoints, download the 2017 train/val images (train2017.zip, val2017.zip) and "
    "annotations_trainval2017.zip from https://cocodataset.org/#download and unpack them into <data root>/coco/, "
    "giving coco/annotations/person_keypoints_<split>.json and coco/<split>/*.jpg; the data root is the "
    "data_root argument, else $PATCHLIB_DATA, else the repository's data/ folder.")


# ----------------------------------------------------------------------------------------------
# Finding the data


def find_coco(data_root: str | Path | None, split: str) -> tuple[Path, Path]:
    """(annotations json, image folder) of COCO `split` ("train2017", "val2017") under the data
    root (the argument, else $PATCHLIB_DATA, else data/). Looks for
    <root>/coco/annotations/person_keypoints_<split>.json with <root>/coco/<split>/, then
    <root>/annotations/... with <root>/<split>/, then the archive <root>/coco-mini-<split>.tar.gz
    (the test fixture), which is extracted once into the cache directory.
    Raises DataNotFoundError listing every path looked at."""
    if not isinstance(split, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", split) or split in {".", ".."}:
        raise ValueError(f"split must be a COCO split folder name such as 'train2017' or 'val2017', got {split!r}")
    root = resolve_data_root(data_root)
    looked_at = []
    for folder in (root / "coco", root):
        found = _coco_layout(folder, split)
        looked_at.append(f"{folder / 'annotations' / f'person_keypoints_{split}.json'} with {folder / split}/")
        if found:
            return found
    archive = root / f"coco-mini-{split}.tar.gz"
    looked_at.append(f"{archive} (the coco-mini test fixture)")
    if archive.is_file():
        extracted = _extract_once(archive)
        for folder in (extracted, *sorted(p for p in extracted.iterdir() if p.is_dir())):
            if found := _coco_layout(folder, split):
                return found
        raise DataNotFoundError(f"{archive} (extracted to {extracted}) holds no "
                                f"[<folder>/]annotations/person_keypoints_{split}.json with its {split}/ image "
                                "folder beside it: replace the archive.\n" + HOW_TO_GET_COCO)
    raise DataNotFoundError(f"COCO {split} not found. Looked at:\n  " + "\n  ".join(looked_at) + "\n"
                            + HOW_TO_GET_COCO)


def _coco_layout(folder: Path, split: str) -> tuple[Path, Path] | None:
    annotations, images = folder / "annotations" / f"person_keypoints_{split}.json", folder / split
    return (annotations, images) if annotations.is_file() and images.is_dir() else None


def _extract_once(archive: Path) -> Path:
    """`archive` unpacked into the cache directory (keyed by its path, size and modification
    time), safely (tarfile's "data" filter) and atomically (a temporary folder renamed into place)."""
    stat = archive.stat()
    key = hashlib.sha256(repr((str(archive.resolve()), stat.st_size, stat.st_mtime_ns)).encode()).hexdigest()[:16]
    target = cache_dir() / f"{archive.name.removesuffix('.tar.gz')}-{key}"
    if target.is_dir():
        return target

    def extract(folder: Path) -> None:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(folder, filter="data")
        except (tarfile.TarError, EOFError, OSError) as error:
            if is_disk_full(error):  # the archive is fine: the cache disk is full
                raise no_space_error(target, error, f"extracting {archive} needs room there: {CACHE_SPACE_FIX}"
                                     ) from error
            raise DataNotFoundError(f"cannot extract {archive} ({type(error).__name__}: {error}): the archive is "
                                    "damaged; copy it again") from error

    build_folder(target, extract, built=target.is_dir)
    return target


def build_folder(destination: Path, build, *, built) -> None:
    """Make `destination` atomically: `build(folder)` fills a temporary folder next to it, which is
    then renamed into place with the user's umask, so an interrupted run never leaves half a folder.
    If the rename fails because a concurrent run finished first (`built()` is then true), theirs is kept.
    A full disk raises a `NoSpaceError` naming `destination` (unless `build` already named its own path)."""
    try:
        _build_folder(destination, build, built=built)
    except NoSpaceError:
        raise
    except OSError as error:
        if is_disk_full(error):
            raise no_space_error(destination, error) from error
        raise


def _build_folder(destination: Path, build, *, built) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=destination.parent, prefix=destination.name + ".", suffix=".tmp"))
    try:
        build(folder)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(folder, 0o777 & ~umask)  # mkdtemp makes an owner-only folder; follow the user's umask
        try:
            os.rename(folder, destination)
        except OSError:
            if not built():
                raise
    finally:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Geometry


def crop_region(box: Sequence[float], image_size: tuple[int, int], padding: float = 1.25
                ) -> tuple[tuple[float, float], tuple[float, float]]:
    """(centre (x, y), size (w, h)) of the image region a crop of `image_size` (H, W) covers for
    the box (x, y, w, h): the box's aspect ratio set to W/H by enlarging its short side, times `padding`."""
    x, y, w, h = (float(v) for v in box)
    aspect = image_size[1] / image_size[0]
    width, height = (w, w / aspect) if w > aspect * h else (h * aspect, h)
    return (x + w / 2, y + h / 2), (width * padding, height * padding)


def crop_matrix(centre: Sequence[float], size: Sequence[float], image_size: tuple[int, int], *,
                rotation: float = 0.0, flip: bool = False) -> torch.Tensor:
    """2x3 float64 matrix from image (x, y) to crop (x, y) (UDP, mmpose's `get_warp_matrix`): the
    region of `size` (w, h) about `centre`, rotated by `rotation` degrees, onto W - 1 by H - 1
    crop unit lengths; `flip` then mirrors the crop, x -> (W - 1) - x."""
    height, width = image_size
    scale_x, scale_y = (width - 1) / size[0], (height - 1) / size[1]
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    linear = torch.tensor([[scale_x * cos, -scale_x * sin], [scale_y * sin, scale_y * cos]], dtype=torch.float64)
    offset = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=torch.float64)
    offset = offset - linear @ torch.tensor([float(centre[0]), float(centre[1])], dtype=torch.float64)
    if flip:
        linear[0], offset[0] = -linear[0], (width - 1) - offset[0]
    return torch.cat([linear, offset[:, None]], dim=1)


def invert_affine(matrix: torch.Tensor) -> torch.Tensor:
    """The inverse of a 2x3 affine matrix (as a 2x3 matrix)."""
    linear = torch.linalg.inv(matrix[:, :2].double())
    return torch.cat([linear, -(linear @ matrix[:, 2:].double())], dim=1)


def apply_affine(matrix: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Points [..., 2] (x, y) mapped by a 2x3 affine matrix (float64)."""
    matrix = matrix.double()
    return points.double() @ matrix[:, :2].T + matrix[:, 2]


def _homogeneous(matrix: torch.Tensor) -> torch.Tensor:
    """A 2x3 affine matrix as 3x3 (float64), for composing."""
    return torch.cat([matrix.double(), torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)])


def warp_affine(image: torch.Tensor, matrix: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """The crop uint8 [C, H, W] of `image` uint8 [C, H_in, W_in] under `matrix` (image -> crop):
    crop pixel q is the bilinear sample of the image at matrix^-1 q, zero outside the image."""
    height, width = image_size
    channels, in_height, in_width = image.shape
    inverse = invert_affine(matrix)                                                  # crop (x, y) -> image (x, y)
    # Only the rectangle of image pixels the crop samples (an affine map's extremes lie at the
    # crop's corners) is converted to float, with a zero border: grid_sample's zero padding stays
    # exact and the patch is at least 3 px wide.
    corners = apply_affine(inverse, torch.tensor([[0.0, 0.0], [width - 1, 0.0], [0.0, height - 1],
                                                  [width - 1, height - 1]], dtype=torch.float64))
    xs, ys = corners[:, 0].tolist(), corners[:, 1].tolist()
    x0, x1 = max(math.floor(min(xs)), 0), min(math.ceil(max(xs)), in_width - 1)
    y0, y1 = max(math.floor(min(ys)), 0), min(math.ceil(max(ys)), in_height - 1)
    if x0 > x1 or y0 > y1:  # the crop lies wholly outside the image
        return torch.zeros(channels, height, width, dtype=torch.uint8)
    patch = F.pad(image[:, y0:y1 + 1, x0:x1 + 1].float(), (1, 1, 1, 1))           # [C, h + 2, w + 2]
    patch_height, patch_width = patch.shape[-2:]
    # affine_grid's output coordinates u in [-1, 1] -> crop pixel -> image pixel -> patch coordinates
    # in [-1, 1] (align_corners=True: -1 and 1 are the centres of the first and last pixel).
    unit_to_crop = torch.tensor([[(width - 1) / 2, 0, (width - 1) / 2], [0, (height - 1) / 2, (height - 1) / 2]],
                                dtype=torch.float64)
    image_to_patch = torch.tensor([[2 / (patch_width - 1), 0, -2 * (x0 - 1) / (patch_width - 1) - 1],
                                   [0, 2 / (patch_height - 1), -2 * (y0 - 1) / (patch_height - 1) - 1]],
                                  dtype=torch.float64)
    theta = (_homogeneous(image_to_patch) @ _homogeneous(inverse) @ _homogeneous(unit_to_crop))[:2]
    grid = F.affine_grid(theta[None], [1, channels, height, width], align_corners=True)  # [1, H, W, 2]
    crop = F.grid_sample(patch[None], grid.float(), mode="bilinear", padding_mode="zeros",
                         align_corners=True)[0]                                      # [C, H, W]
    return crop.round_().clamp_(0, 255).to(torch.uint8)


def half_body_box(keypoints: torch.Tensor | np.ndarray, part: str, image_size: tuple[int, int],
                  padding: float = 1.25) -> tuple[float, float, float, float] | None:
    """The box (x, y, w, h) whose crop (`crop_region` with `padding`) is mmpose's half-body
    region for the labelled keypoints [K, 3] of `part` ("upper": indices 0-10, "lower": 11-16):
    centred on their mean, their extent with aspect ratio W/H, times 1.5. None with fewer than
    two of them or a zero extent."""
    # numpy: torch's tiny reductions can stall for milliseconds on a busy machine (thread pool waits).
    keypoints = np.asarray(keypoints, dtype=np.float64)[list(UPPER_BODY if part == "upper" else LOWER_BODY)]
    chosen = keypoints[keypoints[:, 2] > 0, :2]
    if len(chosen) < 2:
        return None
    centre = chosen.mean(0)
    w, h = chosen.max(0) - chosen.min(0)
    if w == 0 and h == 0:
        return None
    aspect = image_size[1] / image_size[0]
    width, height = (w, w / aspect) if w > aspect * h else (h * aspect, h)
    width, height = width * HALF_BODY_ENLARGE / padding, height * HALF_BODY_ENLARGE / padding
    return (float(centre[0] - width / 2), float(centre[1] - height / 2), float(width), float(height))


# ----------------------------------------------------------------------------------------------
# Images


def read_image(file: Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """uint8 RGB [3, H, W] of an image file, decoded with PIL; `size` (H, W) is checked if given."""
    try:
        with Image.open(file) as image:
            pixels = np.array(image.convert("RGB"))  # a writable copy
    except FileNotFoundError:
        raise FileNotFoundError(f"image {file} not found: image_dir must be the folder of the annotated split's "
                                "images (e.g. coco/val2017/); unpack COCO's image zip there") from None
    except (UnidentifiedImageError, OSError) as error:
        raise OSError(f"cannot decode image {file} ({type(error).__name__}: {error}): the file is damaged or "
                      "truncated; copy or unpack it again") from error
    if size is not None and pixels.shape[:2] != tuple(size):
        raise ValueError(f"image {file} is {pixels.shape[0]}x{pixels.shape[1]} (HxW) but the annotations say "
                         f"{size[0]}x{size[1]}: image_dir holds different images than the annotations describe")
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


# ----------------------------------------------------------------------------------------------
# The dataset


@dataclass(frozen=True, eq=False)  # compared by identity: == on the keypoints tensor would be ambiguous
class Person:
    """One annotated person: the image, COCO's box (x, y, w, h), keypoints float32 [17, 3] (x, y, v)."""

    image_id: int
    file: Path
    box: tuple[float, float, float, float]
    keypoints: torch.Tensor
    area: float
    annotation_id: int


@dataclass(frozen=True)
class PoseAugment:
    """Training augmentation; the defaults are ViTPose's COCO config (mmpose 0.x pipeline)."""

    flip: float = 0.5                 # probability of a horizontal flip (with left/right swap)
    scale: float = 0.5                # box scale factor clip(N(1, scale), 1 - scale, 1 + scale) (scale_factor)
    rotation: float = 40.0            # degrees: clip(N(0, rotation), -2 rotation, 2 rotation) (rot_factor) ...
    rotation_prob: float = 0.6        # ... with this probability, else 0
    half_body_prob: float = 0.3       # probability of a half-body crop (upper or lower body box) ...
    half_body_min_keypoints: int = 8  # ... for people with more labelled keypoints than this

    def __post_init__(self):
        for name in ("flip", "rotation_prob", "half_body_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"PoseAugment.{name} is a probability in [0, 1], got {getattr(self, name)!r}")
        if not 0 <= self.scale < 1:
            raise ValueError(f"PoseAugment.scale must be in [0, 1) (boxes scale by 1 +- scale), got {self.scale!r}")
        if not 0 <= self.rotation <= 180:
            raise ValueError(f"PoseAugment.rotation must be in [0, 180] degrees, got {self.rotation!r}")
        _check_int(self.half_body_min_keypoints, "PoseAugment.half_body_min_keypoints", minimum=0)


@dataclass(frozen=True)
class Augmentation:
    """The augmentation drawn for one item: `box` is a half-body box (None: the person's box) and
    `half_body` says which half ("upper", "lower") or None."""

    flip: bool = False
    scale: float = 1.0
    rotation: float = 0.0
    box: tuple[float, float, float, float] | None = None
    half_body: str | None = None


def _check_int(value, name: str, *, minimum: int) -> int:
    """`value` as an int >= minimum (numpy ints too, not bools or floats), else a ValueError naming it."""
    try:
        if isinstance(value, bool):
            raise TypeError
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _is_finite_number(value) -> bool:
    """Whether a json value is a finite number (not a bool, a string or None)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_image_size(image_size) -> tuple[int, int]:
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise ValueError(f"image_size must be two ints (H, W), got {image_size!r}")
    return tuple(_check_int(v, "image_size (H, W; UDP divides by H - 1 and W - 1)", minimum=2) for v in image_size)


class TopDownDataset(torch.utils.data.Dataset):
    """COCO people as crops (see the module docstring): items are {"image": uint8 [3, H, W],
    "keypoints": float32 [17, 2] crop (x, y), "visible": float32 [17], "index": int}.

    `persons`: every annotation with at least one labelled keypoint, not a crowd, with a box of
    positive width and height, ordered by (image id, annotation id). `augment` None gives the
    un-augmented crops of evaluation. `cache_images` keeps every image decoded in memory once read
    (small sets); `preload_images` decodes images up to a memory budget ahead of training (large sets).
    """

    def __init__(self, annotations: str | Path, image_dir: str | Path, *, image_size: tuple[int, int] = (256, 192),
                 augment: PoseAugment | None = None, padding: float = 1.25, seed: int = 0,
                 cache_images: bool = False):
        self.image_size = _check_image_size(image_size)
        if isinstance(padding, bool) or not isinstance(padding, (int, float)) or not 0 < padding < math.inf:
            raise ValueError(f"padding must be a number > 0 (boxes are enlarged by it; 1.25 in mmpose), "
                             f"got {padding!r}")
        if augment is not None and not isinstance(augment, PoseAugment):
            raise TypeError(f"augment must be a PoseAugment or None, got {type(augment).__name__}")
        self.annotations, self.image_dir = Path(annotations), Path(image_dir)
        if not self.annotations.is_file():
            raise FileNotFoundError(f"annotations file {self.annotations} not found: pass a "
                                    "person_keypoints_<split>.json (find_coco locates one)")
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"image_dir {self.image_dir} is not a folder: pass the split's image folder "
                                    "(find_coco locates one)")
        self.augment, self.padding, self.epoch = augment, float(padding), 0
        self.seed = _check_int(seed, "seed", minimum=0)
        self.persons, self._sizes = self._read_persons()
        self._images: dict[Path, torch.Tensor] = {}    # decoded images kept in memory
        self._cache_on_read = bool(cache_images)        # keep each image decoded on a read (else: preloaded only)
        self._flip = flip_permutation(len(NAMES))

    def _read_persons(self) -> tuple[list[Person], dict[Path, tuple[int, int]]]:
        from pycocotools.coco import COCO

        try:
            with contextlib.redirect_stdout(io.StringIO()):
                coco = COCO(str(self.annotations))
        except Exception as error:  # noqa: BLE001  (json or structure errors: say which file)
            raise ValueError(f"cannot read COCO annotations {self.annotations} ({type(error).__name__}: {error}): "
                             "pass a person_keypoints_<split>.json") from error
        person_ids = set(coco.getCatIds(catNms=["person"]))
        if not person_ids:
            raise ValueError(f"{self.annotations} has no 'person' category: pass a person_keypoints_<split>.json")
        persons, sizes, candidates = [], {}, 0
        for annotation in sorted(coco.anns.values(), key=lambda a: (a["image_id"], a["id"])):
            keypoints = annotation.get("keypoints")
            if annotation.get("category_id") not in person_ids or annotation.get("iscrowd") or not keypoints:
                continue
            candidates += 1
            where = f"annotation {annotation['id']} in {self.annotations}"
            if not isinstance(keypoints, (list, tuple)):
                raise ValueError(f"{where} has 'keypoints' {keypoints!r}: expected a list of {3 * len(NAMES)} "
                                 "numbers (COCO's 17 keypoints as x, y, v)")
            if len(keypoints) != 3 * len(NAMES):
                raise ValueError(f"annotation {annotation['id']} in {self.annotations} has {len(keypoints)} keypoint "
                                 f"values, expected {3 * len(NAMES)} (COCO's 17 keypoints as x, y, v)")
            if bad := [v for v in keypoints if not _is_finite_number(v)]:
                raise ValueError(f"{where} has {bad[0]!r} in 'keypoints': expected {3 * len(NAMES)} finite numbers "
                                 "(COCO's 17 keypoints as x, y, v); fix or drop this annotation")
            if not any(v > 0 for v in keypoints[2::3]):
                continue
            box = annotation.get("bbox")
            if not isinstance(box, (list, tuple)) or len(box) != 4 or not all(_is_finite_number(v) for v in box):
                raise ValueError(f"{where} has 'bbox' {box!r}: expected four finite numbers (x, y, w, h); fix or drop "
                                 "this annotation")
            x, y, w, h = (float(v) for v in box)
            if w <= 0 or h <= 0:
                continue
            if "area" in annotation and not _is_finite_number(annotation["area"]):
                raise ValueError(f"{where} has 'area' {annotation['area']!r}: expected a finite number")
            image = coco.imgs.get(annotation["image_id"])
            if image is None:
                raise ValueError(f"{where} refers to image id {annotation['image_id']!r}, which is not in the file's "
                                 "'images': the annotations and the image list do not match; pass a complete "
                                 "person_keypoints_<split>.json")
            if not isinstance(image.get("file_name"), str):
                raise ValueError(f"image id {annotation['image_id']!r} in {self.annotations} has no 'file_name'")
            file = self.image_dir / image["file_name"]
            if "height" in image and "width" in image:
                sizes[file] = (int(image["height"]), int(image["width"]))
            persons.append(Person(image_id=int(annotation["image_id"]), file=file, box=(x, y, w, h),
                                  keypoints=torch.tensor(keypoints, dtype=torch.float32).reshape(len(NAMES), 3),
                                  area=float(annotation.get("area", w * h)),
                                  annotation_id=int(annotation["id"])))
        if not persons:  # an empty dataset would only fail later, in training (torch.cat of no batches)
            raise ValueError(f"no person in {self.annotations} has labelled keypoints: none of its {candidates} person "
                             "annotations (not crowds, with keypoints) has a keypoint with v > 0 and a box of positive "
                             "width and height, so there is nothing to train or evaluate on; pass a "
                             "person_keypoints_<split>.json with labelled people")
        return persons, sizes

    def __repr__(self) -> str:
        return (f"TopDownDataset({self.annotations.name}, {len(self)} persons, image_size={self.image_size}, "
                f"augment={self.augment}, epoch={self.epoch})")

    def __len__(self) -> int:
        return len(self.persons)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation `__getitem__` draws."""
        self.epoch = _check_int(epoch, "epoch", minimum=0)

    def _index(self, i) -> int:
        try:
            i = operator.index(i)
        except TypeError:
            raise TypeError(f"index must be an int, got {type(i).__name__}") from None
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range for {len(self)} persons")
        return i % len(self)

    def draw(self, i: int) -> Augmentation:
        """The augmentation of item `i` in the current epoch, from a generator seeded with
        (seed, epoch, i); `Augmentation()` (none) without `augment`."""
        i, augment = self._index(i), self.augment
        if augment is None:
            return Augmentation()
        rng = np.random.default_rng([self.seed, self.epoch, i])
        flip = bool(rng.random() < augment.flip)
        box, half = None, None
        keypoints = self.persons[i].keypoints.numpy()
        upper = int((keypoints[list(UPPER_BODY), 2] > 0).sum())
        lower = int((keypoints[list(LOWER_BODY), 2] > 0).sum())
        if upper + lower > augment.half_body_min_keypoints and rng.random() < augment.half_body_prob:
            # mmpose's choice, quirk included: randn() < 0.5 picks the upper body with probability 0.69.
            if rng.standard_normal() < 0.5 and upper > 2:
                half = "upper"
            else:
                half = "lower" if lower > 2 else "upper"
            box = half_body_box(keypoints, half, self.image_size, self.padding)
            half = half if box is not None else None
        scale = float(np.clip(rng.standard_normal() * augment.scale + 1, 1 - augment.scale, 1 + augment.scale))
        rotation = float(np.clip(rng.standard_normal() * augment.rotation, -2 * augment.rotation, 2 * augment.rotation))
        rotation = rotation if rng.random() < augment.rotation_prob else 0.0
        return Augmentation(flip=flip, scale=scale, rotation=rotation, box=box, half_body=half)

    def crop_transform(self, i: int, *, scale: float = 1.0, rotation: float = 0.0, flip: bool = False,
                       box: Sequence[float] | None = None) -> torch.Tensor:
        """2x3 float64 matrix from image (x, y) to crop (x, y) for person `i`, or for `box`
        (x, y, w, h; padded like the person's box) when given."""
        person = self.persons[self._index(i)]
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        if box is None:
            box = person.box
        elif len(box) != 4 or not (box[2] > 0 and box[3] > 0):
            raise ValueError(f"box must be (x, y, w, h) with w, h > 0, got {box!r}")
        centre, (width, height) = crop_region(box, self.image_size, self.padding)
        return crop_matrix(centre, (width * scale, height * scale), self.image_size, rotation=rotation, flip=flip)

    def image(self, i: int) -> torch.Tensor:
        """uint8 RGB [3, H, W] of person `i`'s whole image."""
        file = self.persons[self._index(i)].file
        if file in self._images:
            return self._images[file]
        image = read_image(file, self._sizes.get(file))
        if self._cache_on_read:
            self._images[file] = image
        return image

    def preload_images(self, budget_bytes: int, *, threads: int | None = None) -> int:
        """Decode this dataset's images, in the order of its people, into memory until the next one
        would pass `budget_bytes` (3 x H x W bytes each); returns the bytes held. Threads decode in
        parallel (PIL releases the GIL while decoding). Call it before a DataLoader starts its worker
        processes: forked workers then share the decoded pixels (copy-on-write; nothing writes them)
        instead of decoding every crop's whole image again, every epoch. Images past the budget are
        decoded on each read as before; the crops are the same either way."""
        from concurrent.futures import ThreadPoolExecutor

        budget_bytes = _check_int(budget_bytes, "budget_bytes", minimum=0)
        files = list(dict.fromkeys(person.file for person in self.persons))
        chosen, held = [], sum(image.numel() for image in self._images.values())
        for file in files:
            if file in self._images:
                continue
            if file not in self._sizes:
                raise ValueError(f"preload_images needs every image's height and width in {self.annotations} "
                                 f"(its 'images' entries), and {file.name} has none: add them or use cache_images")
            height, width = self._sizes[file]
            if held + 3 * height * width > budget_bytes:
                break
            chosen.append(file)
            held += 3 * height * width
        with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
            for file, image in zip(chosen, pool.map(lambda f: read_image(f, self._sizes[f]), chosen)):
                self._images[file] = image
        return held

    def crop(self, i: int, *, scale: float = 1.0, rotation: float = 0.0, flip: bool = False,
             box: Sequence[float] | None = None) -> dict:
        """The item of person `i` for explicit augmentation parameters (see `crop_transform`)."""
        i = self._index(i)
        matrix = self.crop_transform(i, scale=scale, rotation=rotation, flip=flip, box=box)
        keypoints = self.persons[i].keypoints
        points = apply_affine(matrix, keypoints[:, :2]).float()                   # [17, 2] crop (x, y)
        visible = (keypoints[:, 2] > 0).float()                                     # [17]
        if flip:
            points, visible = points[self._flip], visible[self._flip]
        return {"image": warp_affine(self.image(i), matrix, self.image_size), "keypoints": points,
                "visible": visible, "index": i}

    def __getitem__(self, i: int) -> dict:
        draw = self.draw(i)
        return self.crop(i, scale=draw.scale, rotation=draw.rotation, flip=draw.flip, box=draw.box)

    def to_results(self, indices: Sequence[int], points: torch.Tensor, scores: torch.Tensor) -> list[dict]:
        """COCO results from predictions on un-augmented crops: `points` [N, 17, 2] crop (x, y) of
        persons `indices` [N], mapped back to the image by the inverse of `crop_transform`, and
        keypoint `scores` [N, 17]; the person's score is the mean of its keypoint scores above 0.2
        (mmpose's rescoring; 0 if none) times the box score, 1.0 for annotated boxes."""
        indices = [self._index(i) for i in (indices.tolist() if torch.is_tensor(indices) else indices)]
        points, scores = torch.as_tensor(points).double().cpu(), torch.as_tensor(scores).double().cpu()
        if points.shape != (len(indices), len(NAMES), 2):
            raise ValueError(f"points must be [N, {len(NAMES)}, 2] with N = len(indices) = {len(indices)}, "
                             f"got {tuple(points.shape)}")
        if scores.shape != (len(indices), len(NAMES)):
            raise ValueError(f"scores must be [N, {len(NAMES)}] with N = len(indices) = {len(indices)}, "
                             f"got {tuple(scores.shape)}")
        if not indices:
            return []
        inverse = torch.stack([invert_affine(self.crop_transform(i)) for i in indices])     # [N, 2, 3] crop -> image
        image_points = points @ inverse[:, :, :2].transpose(1, 2) + inverse[:, None, :, 2]  # [N, 17, 2]
        kept = scores > RESCORE_THRESHOLD                                                    # [N, 17]
        person_scores = (scores * kept).sum(1) / kept.sum(1).clamp_min(1)                   # [N], 0 if none kept
        keypoints = torch.cat([image_points, scores[..., None]], dim=-1).flatten(1)          # [N, 51]
        box_score = 1.0  # annotated boxes
        return [{"image_id": self.persons[i].image_id, "category_id": 1, "keypoints": row,
                 "score": score * box_score}
                for i, row, score in zip(indices, keypoints.tolist(), person_scores.tolist())]
