"""Procedural people written exactly as COCO's person keypoints: the ViTPose chapter's embedded
training and validation data, for where COCO cannot be downloaded.

A generated set has COCO's layout (`annotations/person_keypoints_<split>.json` next to
`<split>/<image_id:012d>.png`), so pycocotools, the top-down loader and COCOeval read it as they
read COCO. It is meant to be learnable the way real people are and not trivial:

- Body: a 3D stick skeleton in units of the standing height H, with an adult's proportions
  (shoulders 0.82 H above the ankles, hips 0.53 H, a head 0.125 H tall), each segment scaled by up
  to +-7% per person and the build (widths, thickness) by up to +-15%. Joint angles are sampled for
  one of six kinds of pose (`POSE_KINDS`: standing, walking, arms raised, crouching, sitting, free
  action). The body is turned to an azimuth (70% face the camera, 30% are seen from the back, some
  nearly in profile), projected orthographically, so limbs that point at the camera are
  foreshortened, rotated in the image plane (within +-30 degrees, 7% lying or tilted by 45-100
  degrees) and scaled to 55-190 px tall (for 192-pixel-high images; in proportion otherwise).
- Drawing: filled polygons at twice the resolution, box-filtered down (anti-aliased edges): torso
  and pelvis outlines, tapered capsules for limbs, hands, shoes, a head ellipse with hair and ears
  and, on a head facing the camera, eyes, nose and mouth, and a neckline on a chest facing it.
  Colours per person: skin tone, hair, shirt (long, short or no sleeves; plain, striped or
  checked), trousers, shorts or a skirt, shoes. A person's parts are painted far to near (painter's
  algorithm on the projected depth), so near limbs hide far ones where they cross.
- Left and right as for real people: facing the camera, a person's left side is on the image's
  right and the face shows; from the back the head is hair, no face keypoints are labelled and the
  left side is on the image's left (keypoints keep COCO's order, `keypoints.NAMES`).
- Scene: 1-4 people per image, the higher (farther) ones drawn first, some cut by the border;
  backgrounds of gradients, colour noise, floors, stripes; distractors that look like limbs
  (skin- and cloth-coloured bars) or heads, boxes, discs; occluders (boxes, poles, discs, bars)
  drawn over people; a lighting gradient and pixel noise.

Labels come from the drawing. Everything is first painted into an index map saying which part of
which person (or which occluder) covers each pixel, then coloured through a palette. A keypoint
inside the image ([0, W-1] x [0, H-1]) is labelled; it is visible (v=2) when the pixel under it
shows one of its own parts (an elbow: that side's upper arm or forearm) and occluded (v=1) when it
shows anything else -- another person, an occluder, another part of the same body -- or when the
head turns it away (the far eye, an ear behind the head). Keypoints outside the image and the nose
and eyes of a head seen from behind are not labelled (v=0, x=y=0), as in COCO. `area` counts the
person's visible pixels; `bbox` is the extent of the whole drawn person, clipped to the image.
Each annotation also carries "facing" ("front"/"back") and "pose" (a `POSE_KINDS` name), which
COCO's tools ignore.

Coordinates: keypoints in COCO's pixel-index convention (the centre of pixel column j is x = j, as
the UDP heatmaps in `heatmaps.py` assume); `bbox` in COCO's continuous one (pixel j spans
[j, j+1]).

Determinism: image i of a split is drawn with its own generator, seeded from (seed, split, i), so
a set depends on nothing else, and PNGs are saved with fixed options: the same arguments give
byte-identical files (on one machine; another libm or zlib could differ in rare pixels or bytes).
"""
from __future__ import annotations

import colorsys
import contextlib
import hashlib
import json
import math
import numbers
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from ..data.cache import NoSpaceError, cache_dir, is_disk_full, no_space_error
from .data import build_folder
from .keypoints import NAMES, SKELETON

# Bump when the output changes for the same arguments: it is part of `people_dataset`'s cache key.
GENERATOR_VERSION = 1
IMAGE_SIZE = (192, 256)  # (height, width)

POSE_KINDS = ("standing", "walking", "arms_raised", "crouching", "sitting", "action")
POSE_PROBABILITIES = (0.28, 0.24, 0.14, 0.08, 0.10, 0.16)
PEOPLE_PER_IMAGE = {1: 0.30, 2: 0.30, 3: 0.25, 4: 0.15}
BACK_FACING = 0.3          # fraction of people seen from the back
SUPERSAMPLING = 2          # drawn at this many times the resolution, then box-filtered
MAX_IMAGES_PER_SPLIT = 10**6

# ----------------------------------------------------------------------------------------------
# Body parts and the index map: person p's part q is code 1 + p * PARTS_PER_PERSON + q; occluders
# take codes from OCCLUDER_CODE up; 0 is the background.

PARTS = ("torso", "pelvis", "neck", "head", "hair", "eyes", "face_marks", "neckline", "skirt",
         "left_upper_arm", "left_forearm", "left_hand", "left_thigh", "left_shank", "left_foot",
         "right_upper_arm", "right_forearm", "right_hand", "right_thigh", "right_shank", "right_foot")
PART = {name: index for index, name in enumerate(PARTS)}
PARTS_PER_PERSON = 24
OCCLUDER_CODE = 200
MAX_PEOPLE = max(PEOPLE_PER_IMAGE)
assert 1 + MAX_PEOPLE * PARTS_PER_PERSON <= OCCLUDER_CODE and len(PARTS) <= PARTS_PER_PERSON

_HEAD_PARTS = ("head", "hair", "eyes", "face_marks")


def _own_parts(name: str) -> tuple[str, ...]:
    """The parts of a person that, seen at keypoint `name`, make it visible (v=2)."""
    if name in NAMES[:5]:
        return _HEAD_PARTS
    side, joint = name.split("_")
    return {"shoulder": ("torso", "neckline", "neck", f"{side}_upper_arm"),
            "elbow": (f"{side}_upper_arm", f"{side}_forearm"),
            "wrist": (f"{side}_forearm", f"{side}_hand"),
            "hip": ("torso", "pelvis", "skirt", f"{side}_thigh"),
            "knee": (f"{side}_thigh", f"{side}_shank"),
            "ankle": (f"{side}_shank", f"{side}_foot")}[joint]


OWN_PARTS = tuple(tuple(PART[part] for part in _own_parts(name)) for name in NAMES)


# ----------------------------------------------------------------------------------------------
# Public API


def generate_people(root: str | Path, split: str, *, num_images: int, seed: int,
                    image_size: tuple[int, int] = IMAGE_SIZE, progress: bool = False) -> Path:
    """Write `num_images` images to `root/<split>/<image_id:012d>.png` and their annotations to
    `root/annotations/person_keypoints_<split>.json` (COCO's layout); return the json path.

    Image ids count up from `first_image_id(split)`; annotation ids are 10 * image id + the
    person's number in the image (1-4)."""
    split, num_images, seed, image_size = _check_arguments(split, num_images, seed, image_size)
    root = Path(root)
    image_folder = root / split
    with _disk_full_named(image_folder):
        image_folder.mkdir(parents=True, exist_ok=True)
    with _disk_full_named(root / "annotations"):
        (root / "annotations").mkdir(parents=True, exist_ok=True)
    height, width = image_size
    first_id = first_image_id(split)
    images, annotations = [], []
    for index in tqdm(range(num_images), desc=f"drawing {split} people", disable=not progress):
        image_id = first_id + index
        pixels, people = draw_scene(image_generator(seed, split, index), image_size)
        file_name = f"{image_id:012d}.png"
        with _disk_full_named(image_folder / file_name):
            Image.fromarray(pixels).save(image_folder / file_name, format="PNG", compress_level=1, optimize=False)
        images.append({"id": image_id, "file_name": file_name, "height": height, "width": width})
        for number, person in enumerate(people, start=1):
            annotations.append({"id": image_id * 10 + number, "image_id": image_id, "category_id": 1} | person)
    data = {
        "info": {"description": "patchlib's procedural people (patchlib.pose.synthetic), in COCO's "
                                "person-keypoints format", "generator_version": GENERATOR_VERSION,
                 "version": str(GENERATOR_VERSION), "seed": seed, "split": split, "num_images": num_images,
                 "image_size": list(image_size)},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(NAMES),
                        "skeleton": [[a + 1, b + 1] for a, b in SKELETON]}],
    }
    path = root / "annotations" / f"person_keypoints_{split}.json"
    with _disk_full_named(path):
        path.write_text(json.dumps(data, separators=(",", ":")))
    return path


@contextlib.contextmanager
def _disk_full_named(path: Path):
    """Turn a full disk (ENOSPC, EDQUOT) while writing `path` into a NoSpaceError naming it and the fix."""
    try:
        yield
    except OSError as error:
        if is_disk_full(error) and not isinstance(error, NoSpaceError):
            raise no_space_error(path, error, "free space on that disk, or generate elsewhere: another root for "
                                 "generate_people, or PATCHLIB_CACHE set to a folder on a disk with room for "
                                 "people_dataset (the chapters' generated data)") from error
        raise


def people_dataset(split: str, *, num_images: int, seed: int, image_size: tuple[int, int] = IMAGE_SIZE,
                   progress: bool = False) -> Path:
    """The generated set for these arguments under cache_dir() (a folder named from a hash of the
    arguments and GENERATOR_VERSION), generated once and reused; return its root folder (the one
    holding `annotations/` and `<split>/`). Written atomically: generated into a temporary folder
    next to the destination, then renamed, so an interrupted run never leaves a half set."""
    split, num_images, seed, image_size = _check_arguments(split, num_images, seed, image_size)
    key = hashlib.sha256(repr((GENERATOR_VERSION, split, num_images, seed, image_size)).encode()).hexdigest()[:16]
    destination = cache_dir() / f"pose-people-{split}-{key}"
    annotations = destination / "annotations" / f"person_keypoints_{split}.json"
    if annotations.is_file():
        return destination
    build_folder(destination, lambda folder: generate_people(folder, split, num_images=num_images, seed=seed,
                                                             image_size=image_size, progress=progress),
                 built=annotations.is_file)
    return destination


def describe(annotations: str | Path) -> dict:
    """Simple statistics of a COCO person-keypoints file (generated here or not).

    Truncated people have an unlabelled keypoint (v=0) that is not the nose or an eye of a person
    marked "facing": "back" (those are never labelled); without that field, any v=0 counts."""
    data = json.loads(Path(annotations).read_text())
    people = [a for a in data["annotations"] if not a.get("iscrowd")]
    keypoints = np.array([a["keypoints"] for a in people], dtype=np.float64).reshape(len(people), 17, 3)
    v = keypoints[..., 2]
    unlabelled = v == 0
    back = np.array([a.get("facing") == "back" for a in people], dtype=bool)
    unlabelled[back, :3] = False
    labelled = (v > 0).sum()
    return {"images": len(data["images"]),
            "people": len(people),
            "people_per_image": len(people) / max(len(data["images"]), 1),
            "labelled_keypoints_per_person": float((v > 0).sum(1).mean()) if people else 0.0,
            "occluded_fraction": float((v == 1).sum() / labelled) if labelled else 0.0,
            "truncated_fraction": float(unlabelled.any(1).mean()) if people else 0.0,
            "back_facing_fraction": float(back.mean()) if people else 0.0,
            "median_person_height": float(np.median([a["bbox"][3] for a in people])) if people else 0.0}


def first_image_id(split: str) -> int:
    """Image id of a split's first image: 1 + a multiple of 10^6 taken from a hash of the name, so
    the ids of different splits (train, val) do not collide."""
    block = int.from_bytes(hashlib.sha256(f"patchlib.pose.synthetic/{split}".encode()).digest()[:4], "big")
    return 1 + (1000 + block % 9000) * MAX_IMAGES_PER_SPLIT


def image_generator(seed: int, split: str, index: int) -> np.random.Generator:
    """The random generator of image `index` of `split`: depends on these three values only."""
    split_key = int.from_bytes(hashlib.sha256(f"patchlib.pose.synthetic/{split}".encode()).digest()[:8], "big")
    return np.random.default_rng(np.random.SeedSequence([seed, split_key, index]))


def _check_arguments(split, num_images, seed, image_size) -> tuple[str, int, int, tuple[int, int]]:
    def is_int(value) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    if not isinstance(split, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", split):
        raise ValueError(f"split must be a non-empty name of letters, digits, '_' or '-', got {split!r}")
    if not is_int(num_images) or not 0 < num_images <= MAX_IMAGES_PER_SPLIT:
        raise ValueError(f"num_images must be an int in 1..{MAX_IMAGES_PER_SPLIT}, got {num_images!r}")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(is_int(side) and side >= 64 for side in image_size)):
        raise ValueError(f"image_size must be two ints (height, width), each >= 64, got {image_size!r}")
    return split, int(num_images), int(seed), (int(image_size[0]), int(image_size[1]))


# ----------------------------------------------------------------------------------------------
# One image


def draw_scene(rng: np.random.Generator, image_size: tuple[int, int] = IMAGE_SIZE) -> tuple[np.ndarray, list[dict]]:
    """One image (uint8 [H, W, 3]) and its people as COCO annotation fields (keypoints,
    num_keypoints, bbox, area, iscrowd, segmentation, facing, pose), in drawing order."""
    height, width = image_size
    s = SUPERSAMPLING
    size_scale = height / IMAGE_SIZE[0]
    background = Image.fromarray(_background(rng, height, width)).resize((width * s, height * s), Image.BILINEAR)
    background = _draw_distractors(rng, background, size_scale * s)

    count = int(rng.choice(list(PEOPLE_PER_IMAGE), p=list(PEOPLE_PER_IMAGE.values())))
    figures = _place_figures(rng, [_make_figure(rng, size_scale) for _ in range(count)], image_size)
    figures.sort(key=lambda figure: figure.extent[3] + rng.normal(0, 8 * size_scale))  # far (high) first

    codes = np.zeros((height * s, width * s), np.uint8)
    palette = np.zeros((256, 3), np.uint8)
    boxes = []
    for slot, figure in enumerate(figures):
        layer = Image.new("L", (width * s, height * s), 0)
        pen = ImageDraw.Draw(layer)
        first = 1 + slot * PARTS_PER_PERSON
        for part, polygon in figure.shapes:
            pen.polygon(_to_canvas(polygon), fill=first + PART[part])
        for part, colour in figure.colours.items():
            palette[first + PART[part]] = colour
        boxes.append(layer.getbbox())
        if boxes[-1] is None:
            continue  # wholly outside the image
        left, top, right, bottom = boxes[-1]
        drawn = np.asarray(layer)
        region = (slice(top, bottom), slice(left, right))
        codes[region] = np.where(drawn[region] > 0, drawn[region], codes[region])
    _draw_occluders(rng, codes, palette, figures, size_scale)

    pixels = np.where(codes[..., None] > 0, palette[codes], background)
    for slot, (figure, box) in enumerate(zip(figures, boxes)):
        if box is not None:
            _texture_clothes(pixels, codes, slot, figure, box)
    pixels = np.asarray(Image.fromarray(pixels).reduce(s))
    pixels = _light_and_noise(rng, pixels)

    visible_area = np.bincount(codes.ravel(), minlength=256) / s**2
    people = []
    for slot, (figure, box) in enumerate(zip(figures, boxes)):
        first = 1 + slot * PARTS_PER_PERSON
        area = float(visible_area[first:first + PARTS_PER_PERSON].sum())
        if area == 0:
            continue  # completely hidden or outside: not annotated, as it cannot be seen
        keypoints = _label_keypoints(figure, codes, first, image_size)
        left, top, right, bottom = (value / s for value in box)
        flat = [value for x, y, v in keypoints.tolist() for value in ((x, y, int(v)) if v > 0 else (0, 0, 0))]
        people.append({"keypoints": flat, "num_keypoints": int((keypoints[:, 2] > 0).sum()),
                       "bbox": [left, top, right - left, bottom - top], "area": area, "iscrowd": 0,
                       "segmentation": [], "facing": figure.facing, "pose": figure.pose})
    return pixels, people


def _to_canvas(polygon: np.ndarray) -> list[tuple[float, float]]:
    """Image coordinates (pixel centre of column j at x = j) to the supersampled canvas's
    (PIL's integer coordinates are its pixel centres): X = s * x + (s - 1) / 2."""
    canvas = polygon * SUPERSAMPLING + (SUPERSAMPLING - 1) / 2
    return [tuple(point) for point in canvas.tolist()]


def _canvas_pixel(points: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the canvas pixel under image points [n, 2] (clipped to the canvas)."""
    canvas = np.floor(points * SUPERSAMPLING + SUPERSAMPLING / 2).astype(int)
    return np.clip(canvas[:, 1], 0, shape[0] - 1), np.clip(canvas[:, 0], 0, shape[1] - 1)


def _label_keypoints(figure: Figure, codes: np.ndarray, first_code: int, image_size: tuple[int, int]) -> np.ndarray:
    """[17, 3] COCO keypoints (x, y, v) of a drawn figure, read against the finished index map."""
    height, width = image_size
    points = np.round(figure.keypoints, 2)
    inside = (points[:, 0] >= 0) & (points[:, 0] <= width - 1) & (points[:, 1] >= 0) & (points[:, 1] <= height - 1)
    labelled = inside & ~figure.unlabelled
    rows, columns = _canvas_pixel(points, codes.shape)
    under = codes[rows, columns].astype(int) - first_code
    own = np.array([part in OWN_PARTS[k] for k, part in enumerate(under)])
    v = np.where(labelled, np.where(own & ~figure.turned_away, 2, 1), 0)
    return np.column_stack([np.where(labelled, points[:, 0], 0.0), np.where(labelled, points[:, 1], 0.0), v])


# ----------------------------------------------------------------------------------------------
# A figure: skeleton, pose, projection and the polygons to draw


@dataclass
class Figure:
    """A person ready to draw, in image pixels: keypoints [17, 2] (COCO order); `turned_away` [17]
    marks keypoints hidden by the head's own turn (v=1 wherever they are), `unlabelled` [17] those
    never labelled (face of a head seen from behind); shapes are (part, polygon [n, 2]) far to
    near; `pattern`: (kind, colour, period in H, angle, shirt parts) of a striped or checked shirt;
    extent is (left, top, right, bottom) of all shapes."""

    keypoints: np.ndarray
    turned_away: np.ndarray
    unlabelled: np.ndarray
    shapes: list[tuple[str, np.ndarray]]
    colours: dict[str, tuple[int, int, int]]
    facing: str
    pose: str
    height: float
    pattern: tuple | None = None
    extent: tuple[float, float, float, float] = field(init=False)

    def __post_init__(self):
        points = np.concatenate([polygon for _, polygon in self.shapes])
        self.extent = (*points.min(0).tolist(), *points.max(0).tolist())

    def moved(self, offset: np.ndarray) -> Figure:
        """The same figure translated by `offset` (x, y) pixels."""
        return replace(self, keypoints=self.keypoints + offset,
                       shapes=[(part, polygon + offset) for part, polygon in self.shapes])


# Segment lengths and radii in units of the standing height H (an adult of about 7.5 heads).
_BODY = {"torso": 0.29, "shoulder_half": 0.115, "hip_half": 0.085, "upper_arm": 0.19, "forearm": 0.15,
         "thigh": 0.245, "shank": 0.245, "foot": 0.11, "neck": 0.045, "head_rx": 0.05, "head_ry": 0.0625}
_RADII = {"upper_arm": (0.034, 0.028), "forearm": (0.027, 0.021), "thigh": (0.056, 0.041),
          "shank": (0.039, 0.027), "neck": 0.027, "hand": 0.026, "foot": 0.025}

_SKIN_TONES = ((255, 223, 196), (241, 194, 160), (224, 172, 125), (198, 140, 95), (160, 105, 68),
               (115, 74, 48), (82, 56, 42))
_HAIR_COLOURS = ((22, 18, 16), (55, 38, 28), (100, 68, 42), (150, 110, 70), (205, 175, 120), (150, 150, 148),
                 (135, 62, 35))


def _make_figure(rng: np.random.Generator, size_scale: float) -> Figure:
    """A random person at the origin (pelvis), drawn to a random height in pixels."""
    pose, angles = _sample_pose(rng)
    height = float(np.exp(rng.uniform(np.log(55), np.log(190)))) * size_scale
    back = rng.random() < BACK_FACING
    turn = rng.normal(0, 25)
    if rng.random() < 0.08:
        turn = rng.choice([-1, 1]) * rng.uniform(65, 82)  # nearly in profile
    azimuth = math.radians((180 if back else 0) + float(np.clip(turn, -82, 82)))
    if rng.random() < 0.07:
        tilt = rng.choice([-1, 1]) * rng.uniform(45, 100)  # lying or strongly tilted
    else:
        tilt = float(np.clip(rng.normal(0, 10), -30, 30))
    skeleton = _Skeleton(rng, angles, azimuth)
    colours, style = _outfit(rng)
    keypoints, shapes, turned_away, unlabelled = skeleton.draw(style)
    rotation = _rotation(math.radians(tilt)) * height  # in the image plane
    pattern = None if style["pattern"] == "plain" else (
        style["pattern"], style["pattern_colour"], style["pattern_period"],
        math.radians(tilt) + style["pattern_angle"], style["shirt_parts"])
    return Figure(keypoints @ rotation.T, turned_away, unlabelled,
                  [(part, polygon @ rotation.T) for part, polygon in shapes], colours,
                  "back" if math.cos(azimuth) < 0 else "front", pose, height, pattern)


def _rotation(angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[cos, -sin], [sin, cos]])


def _sample_pose(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    """A kind of pose and its joint angles in radians: per side arm abduction (outwards from the
    body), flexion (forwards) and elbow bend; leg abduction, flexion and knee bend; foot turn-out;
    and the torso's forward bend and sideways lean, the head's roll and yaw."""
    kind = str(rng.choice(POSE_KINDS, p=POSE_PROBABILITIES))

    def u(low: float, high: float) -> float:
        return math.radians(rng.uniform(low, high))

    def standing_arm() -> tuple[float, float, float]:
        return u(3, 22), u(-15, 20), u(0, 40)

    angles = {"bend": u(-5, 8), "lean": math.radians(rng.normal(0, 4))}
    arms, legs = {}, {}
    if kind == "standing":
        for side in ("left", "right"):
            arms[side] = standing_arm()
            legs[side] = u(-3, 10), u(-8, 10), u(0, 12)
    elif kind == "walking":
        stride, forward = rng.uniform(10, 35), rng.choice(["left", "right"])
        for side in ("left", "right"):
            sign = 1 if side == forward else -1
            knee = u(3, 25) if sign > 0 else u(10, 50)  # the leg behind bends more
            legs[side] = u(-2, 6), math.radians(sign * stride * rng.uniform(0.8, 1.1)), knee
            arms[side] = u(3, 15), math.radians(-sign * stride * rng.uniform(0.5, 1.2)), u(10, 60)
        angles["bend"] = u(0, 10)
    elif kind == "arms_raised":
        raised = {"left": rng.random() < 0.75, "right": rng.random() < 0.75}
        if not any(raised.values()):
            raised[str(rng.choice(["left", "right"]))] = True
        for side in ("left", "right"):
            arms[side] = (u(70, 175), u(-20, 70), u(0, 120)) if raised[side] else standing_arm()
            legs[side] = u(0, 22), u(-8, 10), u(0, 15)
    elif kind == "crouching":
        for side in ("left", "right"):
            arms[side] = u(5, 45), u(10, 80), u(10, 100)
            legs[side] = u(5, 35), u(70, 115), u(100, 145)
        angles["bend"] = u(20, 50)
    elif kind == "sitting":
        for side in ("left", "right"):
            arms[side] = u(0, 25), u(0, 50), u(20, 110)
            legs[side] = u(0, 20), u(70, 100), u(65, 110)
        angles["bend"] = u(-10, 15)
    else:  # free action: dancing, sports
        for side in ("left", "right"):
            arms[side] = u(0, 180), u(-40, 120), u(0, 140)
            legs[side] = u(-10, 55), u(-30, 110), u(0, 130)
        angles["bend"], angles["lean"] = u(-15, 40), math.radians(rng.normal(0, 10))
    for side in ("left", "right"):
        angles[f"{side}_arm_abduction"], angles[f"{side}_arm_flexion"], angles[f"{side}_elbow"] = arms[side]
        angles[f"{side}_leg_abduction"], angles[f"{side}_leg_flexion"], angles[f"{side}_knee"] = legs[side]
        angles[f"{side}_foot_out"] = u(0, 30)
    angles["head_roll"] = math.radians(float(np.clip(rng.normal(0, 8), -25, 25)))
    angles["head_yaw"] = math.radians(float(np.clip(rng.normal(0, 15), -50, 50)))
    return kind, angles


def _outfit(rng: np.random.Generator) -> tuple[dict[str, tuple[int, int, int]], dict]:
    """Colours of every part, and the style choices the drawing needs (hair, skirt, pattern)."""
    def jitter(colour, amount: float) -> np.ndarray:
        return np.clip(np.asarray(colour, float) + rng.normal(0, amount, 3), 0, 255)

    def cloth() -> np.ndarray:
        hue, saturation, value = rng.random(), rng.beta(1.2, 1.8), rng.uniform(0.12, 0.95)
        return np.array(colorsys.hsv_to_rgb(hue, saturation, value)) * 255

    skin = jitter(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], 8)
    hair = jitter(_HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))], 10)
    shirt, lower, shoes = cloth(), cloth(), cloth() * 0.5
    sleeves = str(rng.choice(["long", "short", "none"], p=[0.45, 0.4, 0.15]))
    legwear = str(rng.choice(["trousers", "shorts", "skirt"], p=[0.6, 0.25, 0.15]))
    legs = jitter(skin, 4) if rng.random() < 0.7 else cloth()  # bare legs or tights under a skirt
    shade = {}
    for side in ("left", "right"):
        shade[f"{side}_upper_arm"] = skin if sleeves == "none" else shirt
        shade[f"{side}_forearm"] = shirt if sleeves == "long" else skin
        shade[f"{side}_hand"] = skin
        shade[f"{side}_thigh"] = legs if legwear == "skirt" else lower
        shade[f"{side}_shank"] = lower if legwear == "trousers" else legs if legwear == "skirt" else skin
        shade[f"{side}_foot"] = shoes
    shade |= {"torso": shirt, "pelvis": lower, "skirt": lower, "neck": skin, "head": skin, "hair": hair,
              "eyes": np.array((30.0, 24, 20)), "face_marks": skin * 0.72, "neckline": skin}
    # a little shading per part, so touching parts of one colour stay distinguishable
    colours = {part: tuple(int(c) for c in np.clip(colour * rng.uniform(0.88, 1.08), 0, 255).round())
               for part, colour in shade.items()}
    pattern = str(rng.choice(["plain", "stripes", "checks"], p=[0.6, 0.28, 0.12]))
    style = {"skirt": legwear == "skirt", "long_hair": rng.random() < 0.3,
             "hairline": 0.95 if rng.random() < 0.05 else rng.uniform(0.05, 0.45),
             "pattern": pattern, "pattern_colour": tuple(int(c) for c in cloth().round()),
             "pattern_period": rng.uniform(0.025, 0.06), "pattern_angle": rng.normal(0, 0.2),
             "shirt_parts": ("torso",) + tuple(f"{side}_{part}" for side in ("left", "right")
                                               for part in ("upper_arm", "forearm")
                                               if shade[f"{side}_{part}"] is shirt)}
    return colours, style


class _Skeleton:
    """A posed 3D skeleton (person frame: x to the person's left, y down, z forwards; units of H,
    origin at the pelvis), seen from a camera at `azimuth` (0: the person faces the camera) and
    projected orthographically: image u = x cos(a) + z sin(a), v = y, depth to the camera
    d = z cos(a) - x sin(a)."""

    def __init__(self, rng: np.random.Generator, angles: dict[str, float], azimuth: float):
        self.angles, self.azimuth = angles, azimuth
        self.size = {name: length * rng.uniform(0.93, 1.07) for name, length in _BODY.items()}
        build = rng.uniform(0.85, 1.15)
        self.size["shoulder_half"] *= build
        self.size["hip_half"] *= rng.uniform(0.9, 1.12)
        self.thickness = build * rng.uniform(0.9, 1.1)
        self.joints = self._pose()

    def _pose(self) -> dict[str, np.ndarray]:
        a, size = self.angles, self.size
        bend, lean = a["bend"], a["lean"]
        up = np.array([math.sin(lean) * math.cos(bend), -math.cos(lean) * math.cos(bend), math.sin(bend)])
        across = np.array([math.cos(lean), math.sin(lean), 0.0])  # to the person's left, along the shoulders
        joints = {"pelvis": np.zeros(3), "neck_base": size["torso"] * up}
        joints["head"] = joints["neck_base"] + (size["neck"] + size["head_ry"]) * up
        for side, sign in (("left", 1.0), ("right", -1.0)):
            shoulder = joints["neck_base"] + sign * size["shoulder_half"] * across
            upper = _limb_direction(sign, a[f"{side}_arm_abduction"], a[f"{side}_arm_flexion"])
            elbow = shoulder + size["upper_arm"] * upper
            fore = _bend(upper, np.array([-0.3 * sign, -0.3, 1.0]), a[f"{side}_elbow"])
            wrist = elbow + size["forearm"] * fore
            hip = np.array([sign * size["hip_half"], 0.0, 0.0])
            thigh = _limb_direction(sign, a[f"{side}_leg_abduction"], a[f"{side}_leg_flexion"])
            knee = hip + size["thigh"] * thigh
            shank = _bend(thigh, np.array([0.0, 0.0, -1.0]), a[f"{side}_knee"])
            ankle = knee + size["shank"] * shank
            out = a[f"{side}_foot_out"]
            foot = np.array([sign * math.sin(out), 0.25, math.cos(out)])
            joints |= {f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_wrist": wrist,
                       f"{side}_hand": wrist + 0.035 * fore, f"{side}_hip": hip, f"{side}_knee": knee,
                       f"{side}_ankle": ankle, f"{side}_heel": ankle - 0.02 * foot / np.linalg.norm(foot),
                       f"{side}_toe": ankle + size["foot"] * foot / np.linalg.norm(foot)}
        return joints

    def project(self, point: np.ndarray) -> np.ndarray:
        cos, sin = math.cos(self.azimuth), math.sin(self.azimuth)
        return np.array([point[0] * cos + point[2] * sin, point[1]])

    def depth(self, point: np.ndarray) -> float:
        cos, sin = math.cos(self.azimuth), math.sin(self.azimuth)
        return float(point[2] * cos - point[0] * sin)

    def draw(self, style: dict) -> tuple[np.ndarray, list[tuple[str, np.ndarray]], np.ndarray, np.ndarray]:
        """Keypoints [17, 2], (part, polygon) shapes sorted far to near, and the turned-away and
        unlabelled flags [17], all in units of H around the pelvis."""
        j, r = self.joints, self.thickness
        p = {name: self.project(point) for name, point in j.items()}
        pieces = []  # (depth, order, part, polygon)

        def add(depth: float, part: str, polygon: np.ndarray):
            pieces.append((depth, len(pieces), part, polygon))

        for side in ("left", "right"):
            for part, start, end in (("upper_arm", "shoulder", "elbow"), ("forearm", "elbow", "wrist"),
                                     ("thigh", "hip", "knee"), ("shank", "knee", "ankle")):
                radius_start, radius_end = _RADII[part]
                depth = (self.depth(j[f"{side}_{start}"]) + self.depth(j[f"{side}_{end}"])) / 2
                if part == "thigh":
                    depth -= 0.03  # thigh tops tuck under the pelvis unless the thigh points forwards
                add(depth, f"{side}_{part}", _capsule(p[f"{side}_{start}"], p[f"{side}_{end}"],
                                                      radius_start * r, radius_end * r))
            add(self.depth(j[f"{side}_hand"]), f"{side}_hand",
                _ellipse(p[f"{side}_hand"], 1.25 * _RADII["hand"] * r, 0.95 * _RADII["hand"] * r,
                         _angle_of(p[f"{side}_hand"] - p[f"{side}_wrist"])))
            add((self.depth(j[f"{side}_heel"]) + self.depth(j[f"{side}_toe"])) / 2, f"{side}_foot",
                _capsule(p[f"{side}_heel"], p[f"{side}_toe"], _RADII["foot"] * r, _RADII["foot"] * r))

        torso_depth = (self.depth(j["pelvis"]) + self.depth(j["neck_base"])) / 2 - 0.02
        for part, polygon in self._trunk(p, style):
            add(torso_depth, part, polygon)
        head_shapes, head_points, turned_away, unlabelled = self._head(p, style)
        head_depth = self.depth(j["neck_base"]) + 0.015
        for part, polygon in head_shapes:
            add(head_depth, part, polygon)

        pieces.sort(key=lambda piece: piece[:2])
        keypoints = np.array([head_points[name] if name in head_points else p[name] for name in NAMES])
        return keypoints, [(part, polygon) for _, _, part, polygon in pieces], turned_away, unlabelled

    def _widths(self, width: float, depth: float) -> float:
        """Projected half-width of a body section with this half-width and half-depth (an ellipse)."""
        return math.hypot(width * math.cos(self.azimuth), depth * math.sin(self.azimuth))

    def _trunk(self, p: dict[str, np.ndarray], style: dict) -> list[tuple[str, np.ndarray]]:
        """Pelvis, skirt, torso, neckline, in drawing order."""
        size, r = self.size, self.thickness
        pelvis, neck_base = p["pelvis"], p["neck_base"]
        axis = neck_base - pelvis
        length = float(np.linalg.norm(axis))
        up = axis / length if length > 1e-6 else np.array([0.0, -1.0])
        across = np.array([-up[1], up[0]])
        shrink = length / size["torso"]  # foreshortening of the torso

        def at(height: float, offset: float) -> np.ndarray:
            return pelvis + up * height * shrink + across * offset

        shoulders = self._widths(size["shoulder_half"] + 0.02 * r, 0.07 * r)
        waist = self._widths(0.095 * r, 0.06 * r)
        hips = self._widths(size["hip_half"] + 0.05 * r, 0.065 * r)
        top = size["torso"]
        torso = [at(top + 0.012, -0.035 * r), at(top - 0.004, -shoulders), at(top - 0.07, -0.96 * shoulders),
                 at(0.12, -waist), at(0.03, -(waist + hips) / 2), at(0.03, (waist + hips) / 2), at(0.12, waist),
                 at(top - 0.07, 0.96 * shoulders), at(top - 0.004, shoulders), at(top + 0.012, 0.035 * r)]
        pelvis_outline = [at(0.13, -waist), at(0.02, -hips), at(-0.05, -0.9 * hips), at(-0.075, 0.0),
                          at(-0.05, 0.9 * hips), at(0.02, hips), at(0.13, waist)]
        shapes = [("pelvis", np.array(pelvis_outline))]
        if style["skirt"]:
            hem = -0.05 - 0.12 * float(np.clip(math.cos(self.angles["left_leg_flexion"]), 0.2, 1))
            shapes.append(("skirt", np.array([at(0.1, -waist), at(0.1, waist), at(hem, hips + 0.05),
                                              at(hem, -hips - 0.05)])))
        shapes.append(("torso", np.array(torso)))
        if math.cos(self.azimuth) > 0.3:  # the neckline shows on a chest facing the camera
            shift = 0.03 * math.sin(self.azimuth)
            shapes.append(("neckline", np.array([at(top + 0.01, shift - 0.032 * r), at(top + 0.01, shift + 0.032 * r),
                                                 at(top - 0.05, shift)])))
        return shapes

    def _head(self, p: dict[str, np.ndarray], style: dict):
        """Neck and head shapes, the five face keypoints, and the turned-away/unlabelled flags [17].

        A face feature at azimuth `alpha` on the head (0: the nose, +: towards the person's left)
        shows at u = rx sin(alpha + yaw) and faces the camera when cos(alpha + yaw) > 0. The head
        turns on the neck but stays on the body's side (within 85 degrees of facing the camera, or
        of facing away), so the face is labelled exactly on people "facing": "front"."""
        size, r = self.size, self.thickness
        away = math.pi if math.cos(self.azimuth) < 0 else 0.0
        yaw = away + float(np.clip(self.azimuth - away + self.angles["head_yaw"], -1.48, 1.48))
        axis = p["neck_base"] - p["pelvis"]
        roll = _angle_of(axis) + math.pi / 2 + self.angles["head_roll"] if np.linalg.norm(axis) > 1e-6 else 0.0
        frame = _rotation(roll)  # head frame (right, down) -> image directions
        head_up = frame @ np.array([0.0, -1.0])
        shrink = max(float(np.linalg.norm(axis)) / size["torso"], 0.6)
        centre = p["neck_base"] + head_up * (size["neck"] + size["head_ry"]) * shrink
        rx, ry = size["head_rx"], size["head_ry"]

        def on_head(x: float, y: float) -> np.ndarray:
            return centre + frame @ np.array([x, y])

        faces_camera = math.cos(yaw) > 0
        features = {"nose": (0.0, 0.22, 1.1), "left_eye": (0.42, -0.1, 0.97), "right_eye": (-0.42, -0.1, 0.97),
                    "left_ear": (math.pi / 2, 0.05, 0.9), "right_ear": (-math.pi / 2, 0.05, 0.9)}
        points, turned_away = {}, np.zeros(len(NAMES), bool)
        unlabelled = np.zeros(len(NAMES), bool)
        for name, (alpha, height, reach) in features.items():
            points[name] = on_head(reach * rx * math.sin(alpha + yaw), height * ry)
            facing = math.cos(alpha + yaw)
            turned_away[NAMES.index(name)] = facing < (-0.5 if name.endswith("ear") else 0.0)
            unlabelled[NAMES.index(name)] = not faces_camera and not name.endswith("ear")

        shapes = []
        if style["long_hair"]:  # behind the neck, down to the shoulders
            shapes.append(("hair", np.array([on_head(-1.02 * rx, -0.2 * ry), on_head(1.02 * rx, -0.2 * ry),
                                             on_head(0.9 * rx, 1.7 * ry), on_head(-0.9 * rx, 1.7 * ry)])))
        shapes.append(("neck", _capsule(p["neck_base"], p["neck_base"] + head_up * (size["neck"] + 0.02) * shrink,
                                        _RADII["neck"] * r, _RADII["neck"] * r)))
        for name in ("left_ear", "right_ear"):
            if not turned_away[NAMES.index(name)]:
                alpha = math.pi / 2 if name == "left_ear" else -math.pi / 2
                ear = on_head(rx * math.sin(alpha + yaw), 0.05 * ry)
                shapes.append(("head", _ellipse(ear, 0.22 * rx, 0.32 * ry, roll)))
        if faces_camera:
            shapes.append(("head", _ellipse(centre, rx, ry, roll)))
            # hair: the part of the head towards the top and the back of the head
            direction = np.array([-math.sin(yaw) * 0.9, -1.0])
            hair = _cap(centre, 1.06 * rx, 1.08 * ry, roll, direction, style["hairline"])
            if len(hair) >= 3:
                shapes.append(("hair", hair))
            for name in ("left_eye", "right_eye"):
                if not turned_away[NAMES.index(name)]:
                    shapes.append(("eyes", _ellipse(points[name], 0.13 * rx, 0.1 * ry, roll)))
            shapes.append(("face_marks", _ellipse(points["nose"], 0.12 * rx, 0.14 * ry, roll)))
            shapes.append(("face_marks", _ellipse(on_head(0.9 * rx * math.sin(yaw), 0.55 * ry),
                                                  0.3 * rx * max(math.cos(yaw), 0.3), 0.07 * ry, roll)))
        else:
            shapes.append(("hair", _ellipse(centre, 1.03 * rx, 1.03 * ry, roll)))
        return shapes, points, turned_away, unlabelled


def _limb_direction(sign: float, abduction: float, flexion: float) -> np.ndarray:
    """Unit vector of a limb: straight down, swung outwards by `abduction` and forwards by `flexion`."""
    return np.array([sign * math.sin(abduction) * math.cos(flexion), math.cos(abduction) * math.cos(flexion),
                     math.sin(flexion)])


def _bend(direction: np.ndarray, towards: np.ndarray, angle: float) -> np.ndarray:
    """`direction` turned by `angle` in the plane it spans with `towards` (a joint's bend)."""
    normal = towards - (towards @ direction) * direction
    norm = float(np.linalg.norm(normal))
    if norm < 1e-6:
        normal, norm = np.array([1.0, 0.0, 0.0]) - direction[0] * direction, 1.0
        norm = float(np.linalg.norm(normal))
    return math.cos(angle) * direction + math.sin(angle) * normal / norm


def _angle_of(vector: np.ndarray) -> float:
    return math.atan2(float(vector[1]), float(vector[0]))


def _ellipse(centre: np.ndarray, rx: float, ry: float, angle: float, points: int = 20) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, points, endpoint=False)
    return centre + np.column_stack([rx * np.cos(t), ry * np.sin(t)]) @ _rotation(angle).T


def _cap(centre: np.ndarray, rx: float, ry: float, angle: float, towards: np.ndarray, threshold: float,
         points: int = 32) -> np.ndarray:
    """The part of an ellipse whose boundary points lie towards `towards` (head frame) beyond
    `threshold` (cosine), as a polygon closed by the chord (fewer than 3 points: nothing)."""
    t = np.linspace(0, 2 * math.pi, points, endpoint=False)
    boundary = np.column_stack([rx * np.cos(t), ry * np.sin(t)])
    cosine = (boundary / np.linalg.norm(boundary, axis=1, keepdims=True)) @ (towards / np.linalg.norm(towards))
    keep = cosine > threshold
    if keep.all():
        return centre + boundary @ _rotation(angle).T
    start = int(np.argmin(keep))  # a point outside the cap: roll it to the front so the cap is contiguous
    arc = np.roll(boundary, -start, axis=0)[np.roll(keep, -start)]
    return centre + arc @ _rotation(angle).T


def _capsule(start: np.ndarray, end: np.ndarray, radius_start: float, radius_end: float, points: int = 8) -> np.ndarray:
    """A tapered capsule: half circles around both ends joined by straight sides."""
    angle = _angle_of(end - start) if np.linalg.norm(end - start) > 1e-9 else 0.0
    half = np.linspace(-math.pi / 2, math.pi / 2, points)
    around_end = end + radius_end * np.column_stack([np.cos(angle + half), np.sin(angle + half)])
    around_start = start + radius_start * np.column_stack([np.cos(angle + math.pi + half),
                                                           np.sin(angle + math.pi + half)])
    return np.concatenate([around_end, around_start])


# ----------------------------------------------------------------------------------------------
# Placing people, background, distractors, occluders, texture and noise


def _place_figures(rng: np.random.Generator, figures: list[Figure], image_size: tuple[int, int]) -> list[Figure]:
    """Each figure moved to a random place: wholly inside the image where it fits, except that 20%
    straddle a random border with 15-50% of their extent outside (cut by it). A place whose box
    overlaps an earlier person's by IoU > 0.5 is drawn again (up to 8 times)."""
    height, width = image_size
    placed, boxes = [], []
    for figure in figures:
        left, top, right, bottom = figure.extent
        size = np.array([right - left, bottom - top])
        low = np.array([-0.5 - left, -0.5 - top])                      # offsets putting it at the top left
        high = np.array([width - 0.5 - right, height - 0.5 - bottom])  # ... and at the bottom right
        for _ in range(8):
            offset = np.where(low <= high, rng.uniform(np.minimum(low, high), np.maximum(low, high)),
                              (low + high) / 2 + rng.normal(0, 0.1, 2) * size)
            if rng.random() < 0.2:
                axis, cut = rng.integers(2), rng.uniform(0.15, 0.5) * size
                offset[axis] = low[axis] - cut[axis] if rng.random() < 0.5 else high[axis] + cut[axis]
            box = np.array([left, top, right, bottom]) + np.tile(offset, 2)
            if all(_iou(box, other) <= 0.5 for other in boxes):
                break
        placed.append(figure.moved(offset))
        boxes.append(box)
    return placed


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    overlap = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union > 0 else 0.0


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A distractor's colour: a skin tone (30%), a cloth-like colour (35%) or any colour."""
    choice = rng.random()
    if choice < 0.3:
        base = np.asarray(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], float) + rng.normal(0, 10, 3)
    elif choice < 0.65:
        base = np.array(colorsys.hsv_to_rgb(rng.random(), rng.beta(1.2, 1.8), rng.uniform(0.12, 0.95))) * 255
    else:
        base = rng.uniform(0, 255, 3)
    return tuple(int(c) for c in np.clip(base, 0, 255).round())


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """uint8 [height, width, 3]: a two-colour gradient, low-frequency colour noise, sometimes a
    floor below a horizon and stripes."""
    y = np.linspace(-1, 1, height, dtype=np.float32)[:, None, None]
    x = np.linspace(-1, 1, width, dtype=np.float32)[None, :, None]
    angle = rng.uniform(0, 2 * math.pi)
    t = 0.5 + 0.5 * (math.cos(angle) * x + math.sin(angle) * y) / math.sqrt(2)
    start = rng.uniform(0, 255, 3).astype(np.float32)
    end = start + (rng.uniform(0, 255, 3).astype(np.float32) - start) * rng.uniform(0.2, 0.8)
    image = start + (end - start) * t                                             # [h, w, 3]
    if rng.random() < 0.45:  # a floor of another colour below a horizon
        horizon = rng.uniform(-0.3, 0.6)
        floor = rng.uniform(0, 255, 3).astype(np.float32) * (0.8 + 0.3 * (y - horizon))
        image = np.where(y > horizon, floor, image)
    if rng.random() < 0.3:  # stripes (a wall, a fence)
        direction = rng.uniform(0, math.pi)
        period = rng.uniform(0.04, 0.3)
        wave = np.sign(np.sin(2 * math.pi * (math.cos(direction) * x + math.sin(direction) * y) / period))
        image = image + rng.uniform(10, 50) * wave
    coarse = rng.normal(128, rng.uniform(8, 30), (rng.integers(3, 7), rng.integers(3, 9), 3))
    noise = Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8)).resize((width, height), Image.BILINEAR)
    image = image + np.asarray(noise, np.float32) - 128
    return np.clip(image, 0, 255).astype(np.uint8)


def _draw_distractors(rng: np.random.Generator, canvas: Image.Image, scale: float) -> np.ndarray:
    """The background (uint8 [h, w, 3]) with 2-9 things drawn on it that the people will stand in
    front of: boxes, polygons, ellipses, lines, limb-like bars in skin and cloth colours, head-like
    discs. `scale`: canvas pixels per pixel of a 192-pixel-high image."""
    width, height = canvas.size
    pen = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(2, 10)):
        kind = rng.choice(["box", "polygon", "ellipse", "line", "limb", "limb", "head"])
        colour = _random_colour(rng)
        centre = rng.uniform([0, 0], [width, height])
        if kind == "box":
            half = rng.uniform(0.03, 0.25, 2) * [width, height]
            pen.rectangle([*(centre - half), *(centre + half)], fill=colour)
        elif kind == "polygon":
            corners = rng.integers(3, 7)
            radius = rng.uniform(10, 60) * scale
            angles = np.sort(rng.uniform(0, 2 * math.pi, corners))
            points = centre + radius * np.column_stack([np.cos(angles), np.sin(angles)])
            pen.polygon([tuple(point) for point in points.tolist()], fill=colour)
        elif kind == "ellipse":
            pen.polygon([tuple(point) for point in _ellipse(centre, *rng.uniform(4, 40, 2) * scale,
                                                             rng.uniform(0, math.pi)).tolist()], fill=colour)
        elif kind == "line":
            end = centre + rng.uniform(-80, 80, 2) * scale
            pen.line([*centre, *end], fill=colour, width=max(1, int(rng.uniform(0.5, 3) * scale)))
        elif kind == "limb":  # a bar as thick and long as an arm or a leg
            length, angle = rng.uniform(10, 45) * scale, rng.uniform(0, 2 * math.pi)
            end = centre + length * np.array([math.cos(angle), math.sin(angle)])
            thickness = rng.uniform(1.2, 5) * scale
            points = _capsule(centre, end, thickness, thickness * rng.uniform(0.7, 1))
            pen.polygon([tuple(point) for point in points.tolist()], fill=colour)
        else:  # a skin-coloured disc with a dark cap, like a head
            radius = rng.uniform(3, 12) * scale
            skin = tuple(int(c) for c in _SKIN_TONES[rng.integers(len(_SKIN_TONES))])
            pen.polygon([tuple(point) for point in _ellipse(centre, 0.8 * radius, radius, 0).tolist()], fill=skin)
            cap = _cap(centre, 0.85 * radius, 1.05 * radius, 0, np.array([0.0, -1.0]), 0.4)
            pen.polygon([tuple(point) for point in cap.tolist()], fill=_HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))])
    return np.asarray(canvas)


def _draw_occluders(rng: np.random.Generator, codes: np.ndarray, palette: np.ndarray, figures: list[Figure],
                    size_scale: float) -> None:
    """In 40% of images, 1-2 objects drawn over a random person near one of its joints (boxes,
    poles, discs, limb-like bars), into the index map with their own codes."""
    if not figures or rng.random() >= 0.4:
        return
    canvas = Image.fromarray(codes)
    pen = ImageDraw.Draw(canvas)
    for number in range(rng.integers(1, 3)):
        figure = figures[rng.integers(len(figures))]
        centre = figure.keypoints[rng.integers(len(NAMES))] + rng.normal(0, 0.06, 2) * figure.height
        kind = rng.choice(["box", "pole", "disc", "bar"])
        angle = rng.uniform(0, math.pi)
        if kind == "box":
            half = rng.uniform(0.08, 0.25, 2) * figure.height
            polygon = centre + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half @ _rotation(rng.normal(0, 0.15)).T
        elif kind == "pole":
            tilt = math.pi / 2 + rng.normal(0, 0.15)
            polygon = _capsule(centre - 200 * np.array([math.cos(tilt), math.sin(tilt)]),
                               centre + 200 * np.array([math.cos(tilt), math.sin(tilt)]),
                               *[rng.uniform(0.02, 0.06) * figure.height] * 2)
        elif kind == "disc":
            polygon = _ellipse(centre, *rng.uniform(0.06, 0.18, 2) * figure.height, angle)
        else:
            along = 0.2 * figure.height * np.array([math.cos(angle), math.sin(angle)])
            polygon = _capsule(centre - along, centre + along, *[rng.uniform(0.02, 0.05) * figure.height] * 2)
        code = OCCLUDER_CODE + number
        pen.polygon(_to_canvas(polygon), fill=code)
        palette[code] = _random_colour(rng)
    codes[:] = np.asarray(canvas)


def _texture_clothes(pixels: np.ndarray, codes: np.ndarray, slot: int,
                     figure: Figure, box: tuple[int, int, int, int]) -> None:
    """Stripes or checks on a patterned shirt, in place (canvas pixels); stripes run across the
    body (turned with it)."""
    if figure.pattern is None:
        return
    pattern, colour, period, angle, parts = figure.pattern
    left, top, right, bottom = box
    region = (slice(top, bottom), slice(left, right))
    first = 1 + slot * PARTS_PER_PERSON
    shirt = np.isin(codes[region], [first + PART[part] for part in parts])
    if not shirt.any():
        return
    y, x = np.mgrid[top:bottom, left:right].astype(np.float32)
    period_px = period * figure.height * SUPERSAMPLING
    mask = ((y * math.cos(angle) - x * math.sin(angle)) / period_px % 1) < 0.5
    if pattern == "checks":
        mask ^= ((x * math.cos(angle) + y * math.sin(angle)) / period_px % 1) < 0.5
    pixels[region][shirt & mask] = colour


def _light_and_noise(rng: np.random.Generator, pixels: np.ndarray) -> np.ndarray:
    """A linear lighting gradient (+-15%) over the whole image and Gaussian pixel noise (std 1-6)."""
    height, width = pixels.shape[:2]
    y = np.linspace(-1, 1, height, dtype=np.float32)[:, None, None]
    x = np.linspace(-1, 1, width, dtype=np.float32)[None, :, None]
    angle = rng.uniform(0, 2 * math.pi)
    light = 1 + rng.uniform(0, 0.15) * (math.cos(angle) * x + math.sin(angle) * y) / math.sqrt(2)
    noise = rng.standard_normal((height, width, 3), dtype=np.float32) * rng.uniform(1, 6)
    return np.clip(pixels * light + noise, 0, 255).round().astype(np.uint8)
