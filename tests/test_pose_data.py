"""Top-down COCO crops (patchlib.pose.data): finding COCO, the UDP crop geometry, the warp's
exactness, the round trip back to image coordinates, flip consistency, seeded augmentation and
half-body boxes. Real-data tests use the coco-mini-val2017 fixture (79 val2017 images, 68 people
with keypoints), found as `$PATCHLIB_DATA/coco-mini-val2017.tar.gz`, and skip without it; the
others write tiny COCO-format sets of their own."""
import errno
import json
import os
import re
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from patchlib.data.cifar import DataNotFoundError
from patchlib.pose.data import (LOWER_BODY, UPPER_BODY, PoseAugment, TopDownDataset, apply_affine, build_folder,
                                find_coco, invert_affine)
from patchlib.pose.evaluate import evaluate_keypoints
from patchlib.pose.keypoints import flip_permutation

FIXTURE = "coco-mini-val2017.tar.gz"
NO_AUGMENT = dict(flip=0.0, scale=0.0, rotation=0.0, half_body_prob=0.0)  # PoseAugment fields that switch it off


# ----------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    """(annotations, image folder) of the real fixture, extracted into a private cache folder."""
    root = os.environ.get("PATCHLIB_DATA")
    if not root or not (Path(root) / FIXTURE).is_file():
        pytest.skip(f"the real-COCO fixture {FIXTURE} is not in $PATCHLIB_DATA ({root!r})")
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("cache")
        patch.setenv("PATCHLIB_CACHE", str(cache))
        yield find_coco(root, "val2017")


@pytest.fixture(scope="module")
def dataset(coco):
    return TopDownDataset(*coco, cache_images=True)


def write_coco(folder: Path, images: dict[str, np.ndarray | bytes | None], people: list[dict]) -> tuple[Path, Path]:
    """A COCO person_keypoints json and its image folder. images: file name -> HxWx3 uint8 pixels
    (saved as PNG), raw bytes, or None (listed but not written; give its "size" in people).
    people: {"image": file name, "bbox": [x, y, w, h], "keypoints": [17, 3], optional "iscrowd", "id"}."""
    image_dir = folder / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for image_id, (name, pixels) in enumerate(images.items(), start=1):
        height, width = (pixels.shape[:2] if isinstance(pixels, np.ndarray) else (48, 64))
        entries.append({"id": image_id, "file_name": name, "height": height, "width": width})
        if isinstance(pixels, np.ndarray):
            Image.fromarray(pixels).save(image_dir / name)
        elif isinstance(pixels, bytes):
            (image_dir / name).write_bytes(pixels)
    ids = {entry["file_name"]: entry["id"] for entry in entries}
    annotations = []
    for n, person in enumerate(people, start=1):
        keypoints = np.asarray(person["keypoints"], dtype=float).reshape(17, 3)
        annotations.append({"id": person.get("id", n), "image_id": ids[person["image"]], "category_id": 1,
                            "bbox": list(person["bbox"]), "area": person["bbox"][2] * person["bbox"][3],
                            "iscrowd": person.get("iscrowd", 0), "num_keypoints": int((keypoints[:, 2] > 0).sum()),
                            "keypoints": keypoints.flatten().tolist()})
    path = folder / "person_keypoints.json"
    path.write_text(json.dumps({"images": entries, "annotations": annotations,
                                "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}))
    return path, image_dir


def standing_person(x: float = 100.0, top: float = 40.0, height: float = 240.0) -> np.ndarray:
    """17 labelled keypoints [17, 3] of an upright person: upper body (0-10) in the top 40% of
    `height`, lower body (11-16) in the bottom 40%, left and right 15 px either side of x."""
    keypoints = np.zeros((17, 3))
    for k in range(17):
        side = 0 if k == 0 else (-15 if k % 2 else 15)
        # Unevenly spaced, so that the keypoints' mean is not the middle of their extent.
        fraction = 0.05 + 0.35 * (k / 10) ** 2 if k in UPPER_BODY else 0.6 + 0.4 * ((k - 11) / 5) ** 0.5
        keypoints[k] = (x + side, top + fraction * height, 2)
    return keypoints


def ramp_image(height: int = 180, width: int = 240, seed: int = 0) -> np.ndarray:
    """R = x, G = y (the pixel's own coordinates), B = noise (so bilinear differs from nearest)."""
    ys, xs = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(seed).integers(0, 256, (height, width))
    return np.stack([xs, ys, noise], axis=-1).astype(np.uint8)


def bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples [C, ...] of image [C, H, W] (float64) at (x, y), zero outside the image."""
    _, height, width = image.shape
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0

    def at(yy, xx):
        valid = (xx >= 0) & (xx < width) & (yy >= 0) & (yy < height)
        return image[:, np.clip(yy, 0, height - 1), np.clip(xx, 0, width - 1)] * valid

    return (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy)
            + at(y0 + 1, x0) * (1 - fx) * fy + at(y0 + 1, x0 + 1) * fx * fy)


def inside(points: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    height, width = image_size
    x, y = points[..., 0], points[..., 1]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


# ----------------------------------------------------------------------------------------------
# Finding COCO


def test_find_coco_extracts_the_fixture_once(coco):
    annotations, images = coco
    assert annotations.name == "person_keypoints_val2017.json" and annotations.is_file()
    listed = [image["file_name"] for image in json.loads(annotations.read_text())["images"]]
    assert images.name == "val2017" and len(listed) == 79 and all((images / name).is_file() for name in listed)
    cache = Path(os.environ["PATCHLIB_CACHE"])
    before = sorted(p.name for p in cache.iterdir())
    assert find_coco(os.environ["PATCHLIB_DATA"], "val2017") == coco  # reused, not extracted again
    assert sorted(p.name for p in cache.iterdir()) == before and len(before) == 1  # no temporary leftovers


@pytest.mark.parametrize("folder", ["coco", "."])
def test_find_coco_reads_both_folder_layouts(tmp_path, monkeypatch, folder):
    base = tmp_path / folder
    (base / "annotations").mkdir(parents=True)
    (base / "annotations" / "person_keypoints_val2017.json").write_text("{}")
    (base / "val2017").mkdir()
    expected = (base / "annotations" / "person_keypoints_val2017.json", base / "val2017")
    assert find_coco(tmp_path, "val2017") == expected
    monkeypatch.setenv("PATCHLIB_DATA", str(tmp_path))
    assert find_coco(None, "val2017") == expected  # the data root from $PATCHLIB_DATA


def test_find_coco_lists_every_path_looked_at(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "person_keypoints_val2017.json").write_text("{}")  # no image folder beside it
    with pytest.raises(DataNotFoundError) as error:
        find_coco(tmp_path, "val2017")
    message = str(error.value)
    for path in (tmp_path / "coco/annotations/person_keypoints_val2017.json", tmp_path / "coco/val2017",
                 tmp_path / "annotations/person_keypoints_val2017.json", tmp_path / "val2017",
                 tmp_path / "coco-mini-val2017.tar.gz"):
        assert str(path) in message
    assert "cocodataset.org" in message and "annotations_trainval2017.zip" in message
    with pytest.raises(ValueError, match="split"):
        find_coco(tmp_path, "../val2017")


def test_find_coco_names_a_damaged_archive_and_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHLIB_CACHE", str(tmp_path / "cache"))
    (tmp_path / "coco-mini-val2017.tar.gz").write_bytes(b"not a tar file")
    with pytest.raises(DataNotFoundError, match=r"(?s)coco-mini-val2017.tar.gz.*damaged"):
        find_coco(tmp_path, "val2017")
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT], ids=["ENOSPC", "EDQUOT"])
def test_find_coco_on_a_full_disk_says_so_not_damaged(tmp_path, monkeypatch, code):
    """A full disk (or quota) while extracting the fixture names the extraction folder and the fix."""
    monkeypatch.setenv("PATCHLIB_CACHE", str(tmp_path / "cache"))
    small = write_coco(tmp_path / "src", {"a.png": ramp_image(48, 64)}, [])[0].parent
    with tarfile.open(tmp_path / "coco-mini-val2017.tar.gz", "w:gz") as tar:
        tar.add(small, arcname="coco-mini")

    def full_disk(self, *args, **kwargs):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(tarfile.TarFile, "extractall", full_disk)
    with pytest.raises(OSError) as error:
        find_coco(tmp_path, "val2017")
    message = str(error.value)
    assert error.value.errno == code and "damaged" not in message
    assert f"no space left at {tmp_path / 'cache' / 'coco-mini-val2017-'}" in message
    assert "free space" in message and "PATCHLIB_CACHE" in message
    assert list((tmp_path / "cache").iterdir()) == []


def test_build_folder_on_a_full_disk_names_the_destination(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(tempfile, "mkdtemp", full_disk)
    with pytest.raises(OSError, match=f"no space left at {re.escape(str(tmp_path / 'set'))} .*PATCHLIB_CACHE") as error:
        build_folder(tmp_path / "set", lambda folder: None, built=lambda: False)
    assert error.value.errno == errno.ENOSPC


# ----------------------------------------------------------------------------------------------
# The fixture's people and their crops


def test_fixture_people_and_the_udp_crop_geometry(dataset):
    """68 people; each keypoint lands where the UDP map of the padded box puts it, computed here
    independently; so every keypoint inside its COCO box, and every visible (v = 2) one, is in
    the crop. The 5 keypoints that are not are occluded (v = 1) ones annotated beyond the box."""
    assert len(dataset) == 68
    keys = [(p.image_id, p.annotation_id) for p in dataset.persons]
    assert keys == sorted(keys) and len(set(keys)) == 68
    height, width = dataset.image_size
    outside = 0
    for i, person in enumerate(dataset.persons):
        item = dataset[i]
        assert item["image"].shape == (3, 256, 192) and item["image"].dtype == torch.uint8
        assert item["keypoints"].shape == (17, 2) and item["keypoints"].dtype == torch.float32
        assert item["visible"].dtype == torch.float32 and item["index"] == i
        assert torch.equal(item["visible"], (person.keypoints[:, 2] > 0).float())
        x, y, w, h = person.box
        box_w, box_h = max(w, h * width / height) * 1.25, max(h, w * height / width) * 1.25
        left, top = x + w / 2 - box_w / 2, y + h / 2 - box_h / 2
        expected = torch.stack([(person.keypoints[:, 0].double() - left) * (width - 1) / box_w,
                                (person.keypoints[:, 1].double() - top) * (height - 1) / box_h], dim=-1)
        torch.testing.assert_close(item["keypoints"].double(), expected, atol=1e-4, rtol=0)
        kx, ky, v = person.keypoints.unbind(-1)
        labelled = v > 0
        in_box = (kx >= x) & (kx <= x + w) & (ky >= y) & (ky <= y + h)
        in_crop = inside(item["keypoints"], dataset.image_size)
        assert in_crop[labelled & in_box].all() and in_crop[v == 2].all()
        outside += int((labelled & ~in_crop).sum())
    assert outside == 5


def mmpose_warp_matrix(theta: float, size_input, size_dst, size_target) -> np.ndarray:
    """mmpose 0.x `get_warp_matrix` (post_transforms.py), as TopDownAffine(use_udp=True) calls it
    with (rotation, 2 * centre, image_size - 1, box size)."""
    theta = np.deg2rad(theta)
    scale_x, scale_y = size_dst[0] / size_target[0], size_dst[1] / size_target[1]
    cos, sin = np.cos(theta), np.sin(theta)
    return np.array([
        [cos * scale_x, -sin * scale_x,
         scale_x * (-0.5 * size_input[0] * cos + 0.5 * size_input[1] * sin + 0.5 * size_target[0])],
        [sin * scale_y, cos * scale_y,
         scale_y * (-0.5 * size_input[0] * sin - 0.5 * size_input[1] * cos + 0.5 * size_target[1])]])


@pytest.mark.parametrize("rotation", [0.0, 30.0, -70.0])
def test_crop_transform_matches_mmpose_udp_warp_matrix(dataset, rotation):
    """Parity with mmpose's UDP matrix for (centre, scale * 200) of `_xywh2cs` (padding 1.25, the
    clean_bbox step left out); a flip equals mmpose's flip-the-image-first with the opposite rotation."""
    for i in (0, 6, 50):
        x, y, w, h = dataset.persons[i].box
        size = np.array([max(w, h * 0.75), max(h, w / 0.75)]) * 1.25 * 0.8  # 192 / 256 = 0.75; scale 0.8
        centre = np.array([x + w / 2, y + h / 2])
        expected = mmpose_warp_matrix(rotation, 2 * centre, np.array([191.0, 255.0]), size)
        ours = dataset.crop_transform(i, scale=0.8, rotation=rotation).numpy()
        np.testing.assert_allclose(ours, expected, atol=1e-9, rtol=1e-9)
        image_width = dataset.image(i).shape[-1]
        flipped_centre = np.array([image_width - 1 - centre[0], centre[1]])
        mirror = np.array([[-1.0, 0.0, image_width - 1], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # flip the image
        expected = mmpose_warp_matrix(-rotation, 2 * flipped_centre, np.array([191.0, 255.0]), size) @ mirror
        ours = dataset.crop_transform(i, scale=0.8, rotation=rotation, flip=True).numpy()
        np.testing.assert_allclose(ours, expected, atol=1e-9, rtol=1e-9)


def test_crops_show_the_image_where_the_keypoints_are(dataset):
    """The crop's pixel at a keypoint's crop position is the image's pixel at the keypoint."""
    errors = []
    for i in range(0, 68, 7):
        item, image = dataset[i], dataset.image(i).double()
        person = dataset.persons[i]
        keep = inside(item["keypoints"], dataset.image_size) & (person.keypoints[:, 2] > 0)
        for (cx, cy), (x, y) in zip(item["keypoints"][keep].round().long().tolist(),
                                    apply_affine(invert_affine(dataset.crop_transform(i)),
                                                 item["keypoints"][keep].round()).tolist()):
            sample = bilinear(image.numpy(), np.array(x), np.array(y))
            errors.append(np.abs(item["image"][:, cy, cx].double().numpy() - sample).max())
    assert len(errors) > 50 and max(errors) <= 0.5 + 1e-3


# ----------------------------------------------------------------------------------------------
# The warp


@pytest.mark.parametrize("scale, rotation, flip", [(1.0, 0.0, False), (0.8, 30.0, False), (1.3, -65.0, True)])
def test_the_warp_is_bilinear_sampling_at_the_inverse_mapped_position(tmp_path, scale, rotation, flip):
    """On an image whose pixels hold their own coordinates, every crop pixel equals the bilinear
    sample (zero outside the image) at the inverse-mapped position, up to uint8 rounding."""
    pixels = ramp_image()
    annotations, images = write_coco(tmp_path, {"ramp.png": pixels},
                                     [{"image": "ramp.png", "bbox": [150, 100, 70, 90],
                                       "keypoints": standing_person(180, 110, 80)}])
    data = TopDownDataset(annotations, images, image_size=(64, 48))
    crop = data.crop(0, scale=scale, rotation=rotation, flip=flip)["image"].double().numpy()
    inverse = invert_affine(data.crop_transform(0, scale=scale, rotation=rotation, flip=flip))
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(48.0), indexing="ij")
    source = apply_affine(inverse, torch.stack([xs, ys], dim=-1)).numpy()
    expected = bilinear(pixels.transpose(2, 0, 1).astype(float), source[..., 0], source[..., 1])
    assert np.abs(crop - expected).max() <= 0.5 + 1e-3
    within = (source[..., 0] >= 0) & (source[..., 0] <= 239) & (source[..., 1] >= 0) & (source[..., 1] <= 179)
    assert np.abs(crop[0][within] - source[..., 0][within]).max() <= 0.5 + 1e-3  # R = x
    assert np.abs(crop[1][within] - source[..., 1][within]).max() <= 0.5 + 1e-3  # G = y
    assert 0.3 < within.mean() < 1.0  # the box sits near the corner: part of the crop is padding


# ----------------------------------------------------------------------------------------------
# Back to image coordinates


def test_to_results_round_trip_returns_the_annotated_keypoints(dataset, coco):
    order = list(reversed(range(len(dataset))))
    points = torch.stack([dataset.crop(i)["keypoints"] for i in order])
    results = dataset.to_results(order, points, torch.ones(len(order), 17))
    for i, result in zip(order, results):
        person = dataset.persons[i]
        assert result["image_id"] == person.image_id and result["category_id"] == 1 and result["score"] == 1.0
        keypoints = torch.tensor(result["keypoints"], dtype=torch.float64).reshape(17, 3)
        torch.testing.assert_close(keypoints[:, :2], person.keypoints[:, :2].double(), atol=1e-3, rtol=0)
    scores = evaluate_keypoints(coco[0], results)
    assert scores["AP"] == pytest.approx(1.0) and scores["AR"] == pytest.approx(1.0)


def test_person_score_is_the_mean_keypoint_score_above_0_2(dataset):
    scores = torch.full((2, 17), 0.1)
    scores[0, :3] = torch.tensor([0.9, 0.5, 0.19])  # 0.19 is not above the threshold
    results = dataset.to_results(torch.tensor([3, 4]), torch.zeros(2, 17, 2), scores)
    assert results[0]["score"] == pytest.approx(0.7) and results[1]["score"] == 0.0
    assert results[0]["keypoints"][2::3][:3] == pytest.approx([0.9, 0.5, 0.19])


# ----------------------------------------------------------------------------------------------
# Flip, determinism, half-body


def test_flipped_crop_is_the_mirrored_crop_with_left_and_right_swapped(dataset, coco):
    order = flip_permutation()
    always_flip = TopDownDataset(*coco, augment=PoseAugment(**(NO_AUGMENT | {"flip": 1.0})))
    for i in (0, 6, 30, 50):
        for rotation in (0.0, 25.0):
            plain, flipped = dataset.crop(i, rotation=rotation), dataset.crop(i, rotation=rotation, flip=True)
            difference = (flipped["image"].int() - plain["image"].flip(-1).int()).abs()
            assert difference.max() <= 1 and (difference == 0).float().mean() > 0.999  # rounding at .5 only
            mirrored = plain["keypoints"][order].clone()
            mirrored[:, 0] = 191 - mirrored[:, 0]
            torch.testing.assert_close(flipped["keypoints"], mirrored, atol=1e-4, rtol=0)
            assert torch.equal(flipped["visible"], plain["visible"][order])
        assert not torch.equal(plain["visible"], plain["visible"][order]) or \
            not torch.allclose(plain["keypoints"], plain["keypoints"][order])  # the swap matters here
        item = always_flip[i]  # __getitem__ with augmentation: the same flip
        assert always_flip.draw(i).flip and torch.equal(item["image"], dataset.crop(i, flip=True)["image"])


def test_augmentation_is_seeded_per_item_and_epoch(coco):
    data, again = (TopDownDataset(*coco, augment=PoseAugment(), seed=3) for _ in range(2))
    items = {i: data[i] for i in (5, 0, 17)}
    for i in (17, 0, 5):  # another dataset, another access order: the same items
        assert all(torch.equal(items[i][key], again[i][key]) for key in ("image", "keypoints", "visible"))
        draw = data.draw(i)
        assert torch.equal(items[i]["image"], data.crop(i, scale=draw.scale, rotation=draw.rotation, flip=draw.flip,
                                                        box=draw.box)["image"])
    first = [data.draw(i) for i in range(len(data))]
    data.set_epoch(1)
    assert sum(d != e for d, e in zip(first, [data.draw(i) for i in range(len(data))])) >= 60
    other_seed = TopDownDataset(*coco, augment=PoseAugment(), seed=4)
    assert sum(d != e for d, e in zip(first, [other_seed.draw(i) for i in range(len(data))])) >= 60
    loader = torch.utils.data.DataLoader(data, batch_size=16, num_workers=2)  # workers draw the same crops
    batches = list(loader)
    direct = [data[i] for i in range(len(data))]
    assert torch.equal(torch.cat([b["image"] for b in batches]), torch.stack([d["image"] for d in direct]))
    assert torch.equal(torch.cat([b["keypoints"] for b in batches]), torch.stack([d["keypoints"] for d in direct]))

    # ViTPose's draws, and crops that still show the person.
    draws = []
    for epoch in range(20):
        data.set_epoch(epoch)
        draws += [data.draw(i) for i in range(len(data))]
    assert 0.45 < np.mean([d.flip for d in draws]) < 0.55
    assert 0.55 < np.mean([d.rotation != 0 for d in draws]) < 0.65
    assert max(abs(d.rotation) for d in draws) <= 80 and all(0.5 <= d.scale <= 1.5 for d in draws)
    eligible = np.mean([int((p.keypoints[:, 2] > 0).sum()) > 8 for p in data.persons])
    assert np.mean([d.half_body is not None for d in draws]) == pytest.approx(0.3 * eligible, abs=0.04)
    kept = labelled = 0
    for item in direct:
        kept += int((inside(item["keypoints"], data.image_size) & (item["visible"] > 0)).sum())
        labelled += int(item["visible"].sum())
        assert item["image"].float().std() > 10  # not a blank crop
    assert kept / labelled > 0.75


def test_half_body_boxes_cover_the_chosen_half_only(tmp_path):
    annotations, images = write_coco(tmp_path, {"person.png": np.zeros((320, 200, 3), np.uint8)},
                                     [{"image": "person.png", "bbox": [70, 35, 60, 250],
                                       "keypoints": standing_person()}])
    data = TopDownDataset(annotations, images, augment=PoseAugment(**(NO_AUGMENT | {"half_body_prob": 1.0})))
    keypoints = data.persons[0].keypoints
    halves = []
    for epoch in range(300):
        data.set_epoch(epoch)
        draw = data.draw(0)
        halves.append(draw.half_body)
        chosen, other = (UPPER_BODY, LOWER_BODY) if draw.half_body == "upper" else (LOWER_BODY, UPPER_BODY)
        x, y, w, h = draw.box
        centre = torch.tensor([x + w / 2, y + h / 2], dtype=torch.float64)
        torch.testing.assert_close(centre, keypoints[list(chosen), :2].mean(0).double())
        if epoch < 20:  # the crops themselves
            points = data[0]["keypoints"]
            assert inside(points[list(chosen)], data.image_size).all()
            assert not inside(points[list(other)], data.image_size).any()
    # mmpose picks the upper body when randn() < 0.5: probability 0.69.
    assert set(halves) == {"upper", "lower"} and 0.62 < halves.count("upper") / 300 < 0.76

    few = standing_person()
    few[8:, 2] = 0  # 8 labelled keypoints (all upper body): never a half-body crop
    nine = standing_person()
    nine[9:, 2] = 0  # 9 labelled, all upper body: always the upper half
    annotations, images = write_coco(tmp_path / "few", {"person.png": np.zeros((320, 200, 3), np.uint8)},
                                     [{"image": "person.png", "bbox": [70, 35, 60, 250], "keypoints": k}
                                      for k in (few, nine)])
    data = TopDownDataset(annotations, images, augment=PoseAugment(**(NO_AUGMENT | {"half_body_prob": 1.0})))
    draws = [(data.set_epoch(epoch), data.draw(0).half_body, data.draw(1).half_body)[1:] for epoch in range(30)]
    assert all(d[0] is None for d in draws) and all(d[1] == "upper" for d in draws)


def test_half_body_crops_on_real_people_keep_the_chosen_half(coco):
    data = TopDownDataset(*coco, augment=PoseAugment(**(NO_AUGMENT | {"half_body_prob": 1.0})))
    kept = total = 0
    for i, person in enumerate(data.persons):
        draw = data.draw(i)
        if draw.half_body is None:
            continue
        ids = list(UPPER_BODY if draw.half_body == "upper" else LOWER_BODY)
        chosen = person.keypoints[ids][person.keypoints[ids, 2] > 0]
        points = apply_affine(data.crop_transform(i, box=draw.box), chosen[:, :2])
        kept, total = kept + int(inside(points, data.image_size).sum()), total + len(chosen)
    assert total > 200 and kept / total > 0.9


# ----------------------------------------------------------------------------------------------
# Errors and the image cache


@pytest.fixture
def small(tmp_path):
    return write_coco(tmp_path, {"a.png": ramp_image(48, 64)},
                      [{"image": "a.png", "bbox": [10, 5, 30, 35], "keypoints": standing_person(25, 8, 30)}])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(image_size=(256,)), ValueError, "image_size"),
    (dict(image_size=(1, 192)), ValueError, "image_size"),
    (dict(image_size=(256.0, 192)), ValueError, "image_size"),
    (dict(padding=0), ValueError, "padding"),
    (dict(augment=True), TypeError, "augment"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=1.5), ValueError, "seed"),
])
def test_bad_arguments_are_named(small, kwargs, error, match):
    with pytest.raises(error, match=match):
        TopDownDataset(*small, **kwargs)


def test_bad_calls_are_named(small, tmp_path):
    data = TopDownDataset(*small)
    for call, error, match in [
        (lambda: data[1], IndexError, "index 1"), (lambda: data["0"], TypeError, "index"),
        (lambda: data.set_epoch(-1), ValueError, "epoch"),
        (lambda: data.crop_transform(0, scale=0), ValueError, "scale"),
        (lambda: data.to_results([0], torch.zeros(1, 17, 3), torch.zeros(1, 17)), ValueError, "points"),
        (lambda: data.to_results([0], torch.zeros(1, 17, 2), torch.zeros(2, 17)), ValueError, "scores"),
        (lambda: PoseAugment(flip=1.5), ValueError, "flip"), (lambda: PoseAugment(scale=1.0), ValueError, "scale"),
        (lambda: PoseAugment(rotation=-1), ValueError, "rotation"),
        (lambda: TopDownDataset(tmp_path / "none.json", small[1]), FileNotFoundError, "none.json"),
        (lambda: TopDownDataset(small[0], tmp_path / "nowhere"), FileNotFoundError, "image_dir"),
    ]:
        with pytest.raises(error, match=match):
            call()


def test_people_are_filtered_and_ordered(tmp_path):
    body, nothing = standing_person(25, 8, 30), np.zeros((17, 3))
    people = [{"image": "b.png", "bbox": [10, 5, 30, 35], "keypoints": body, "id": 7},
              {"image": "a.png", "bbox": [10, 5, 30, 35], "keypoints": body, "id": 9},
              {"image": "a.png", "bbox": [10, 5, 30, 35], "keypoints": body, "id": 3},
              {"image": "a.png", "bbox": [10, 5, 30, 35], "keypoints": body, "id": 4, "iscrowd": 1},
              {"image": "a.png", "bbox": [10, 5, 30, 35], "keypoints": nothing, "id": 5},
              {"image": "a.png", "bbox": [10, 5, 0, 35], "keypoints": body, "id": 6}]
    data = TopDownDataset(*write_coco(tmp_path, {"a.png": ramp_image(48, 64), "b.png": ramp_image(48, 64)}, people))
    assert [(p.image_id, p.annotation_id) for p in data.persons] == [(1, 3), (1, 9), (2, 7)]
    assert data.persons[0].file.name == "a.png" and data.persons[0].keypoints.shape == (17, 3)


def test_missing_damaged_or_mismatched_images_are_named(tmp_path):
    body = standing_person(25, 8, 30)
    names = ("missing.png", "damaged.png", "other_size.png")
    annotations, images = write_coco(tmp_path, {"missing.png": None, "damaged.png": b"not an image",
                                                "other_size.png": ramp_image(30, 30)},
                                     [{"image": name, "bbox": [10, 5, 30, 35], "keypoints": body} for name in names])
    json_data = json.loads(annotations.read_text())
    json_data["images"][2].update(height=48, width=64)  # the annotations expect another size
    annotations.write_text(json.dumps(json_data))
    data = TopDownDataset(annotations, images)
    for i, (name, error) in enumerate(zip(names, (FileNotFoundError, OSError, ValueError))):
        with pytest.raises(error, match=name):
            data[i]


@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(image_id=99), r"annotation 7 .*image id 99.*not in .*'images'"),
    (lambda a: a.update(bbox=[float("nan"), 5, 30, 35]), r"annotation 7 .*'bbox'.*nan"),
    (lambda a: a.update(bbox=[10, 5, float("nan"), 35]), r"annotation 7 .*'bbox'"),   # NaN width: was kept silently
    (lambda a: a.update(bbox=[10, 5, float("inf"), 35]), r"annotation 7 .*'bbox'"),
    (lambda a: a.update(bbox=[10, 5, 30]), r"annotation 7 .*'bbox'"),
    (lambda a: a.update(bbox="10 5 30 35"), r"annotation 7 .*'bbox'"),
    (lambda a: a.pop("bbox"), r"annotation 7 .*'bbox'"),
    (lambda a: a.update(area="big"), r"annotation 7 .*'area'"),
    (lambda a: a["keypoints"].__setitem__(0, "12.5"), r"annotation 7 .*'12\.5' in 'keypoints'"),
    (lambda a: a["keypoints"].__setitem__(0, float("nan")), r"annotation 7 .*'keypoints'"),
    (lambda a: a["keypoints"].__setitem__(2, None), r"annotation 7 .*'keypoints'"),
], ids=["missing-image", "nan-x", "nan-width", "inf-width", "3-values", "string-bbox", "no-bbox", "string-area",
        "string-keypoint", "nan-keypoint", "null-visibility"])
def test_broken_annotations_name_the_annotation_the_field_and_the_file(tmp_path, change, match):
    person = {"image": "a.png", "bbox": [10, 5, 30, 35], "keypoints": standing_person(25, 8, 30), "id": 7}
    annotations, images = write_coco(tmp_path, {"a.png": ramp_image(48, 64)}, [person])
    data = json.loads(annotations.read_text())
    change(data["annotations"][0])
    annotations.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=match) as error:
        TopDownDataset(annotations, images)
    assert str(annotations) in str(error.value)


def test_a_set_without_labelled_people_fails_at_load_naming_the_file(tmp_path):
    """Every keypoint v=0: the dataset used to load empty and fail later in training (torch.cat() of
    an empty list)."""
    nothing = np.zeros((17, 3))
    annotations, images = write_coco(tmp_path, {"a.png": ramp_image(48, 64)},
                                     [{"image": "a.png", "bbox": [10, 5, 30, 35], "keypoints": nothing, "id": n}
                                      for n in (1, 2)])
    with pytest.raises(ValueError, match=r"(?s)no person .*labelled keypoints") as error:
        TopDownDataset(annotations, images)
    assert str(annotations) in str(error.value) and "2 person annotations" in str(error.value)


def test_cached_images_give_the_same_crops_without_the_file(small):
    cached, plain = TopDownDataset(*small, cache_images=True), TopDownDataset(*small)
    first = cached[0]["image"]
    assert torch.equal(first, plain[0]["image"])
    (small[1] / "a.png").unlink()
    assert torch.equal(cached[0]["image"], first)
    with pytest.raises(FileNotFoundError, match="a.png"):
        plain[0]
