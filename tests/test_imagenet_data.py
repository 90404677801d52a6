"""ImageNet-1k val reading (patchlib.data.imagenet) on generated fixtures: both layouts, the class
index, the refusals and the errors that name the file; the eval transform's parity with timm."""
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from patchlib.data.imagenet import (FIXTURE_CLASSES, IMAGENET1K_WNIDS_SHA256, IMAGENET_MEAN, IMAGENET_STD,
                                    INCEPTION_MEAN, INCEPTION_STD, SYNSET_MAPPING, VAL_SOLUTION, EvalTransform,
                                    ImageNetFileError, imagenet_val_batches, read_imagenet_val, wnids_sha256,
                                    write_imagenet_fixture)
from patchlib.data.root import DataNotFoundError

timm = pytest.importorskip("timm")
TIMM_INFO = Path(timm.__file__).parent / "data" / "_info"
SMALL = EvalTransform(32, 1.0, "bilinear", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def at(path: Path) -> str:
    """A path as a regular expression matching itself."""
    return re.escape(str(path))


def timm_wnids() -> list[str]:
    return (TIMM_INFO / "imagenet_synsets.txt").read_text().split()


def test_both_layouts_read_the_same_images_with_the_same_labels(tmp_path):
    folder = read_imagenet_val(write_imagenet_fixture(tmp_path / "a", layout="folder").parent, allow_subset=True)
    flat = read_imagenet_val(write_imagenet_fixture(tmp_path / "b", layout="flat").parent, allow_subset=True)
    assert (folder.layout, flat.layout) == ("folder", "flat")
    names = [path.name for path in folder.files]
    assert names == [path.name for path in flat.files] == [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 7)]
    assert folder.labels == flat.labels and sorted(folder.labels) == [0, 0, 1, 1, 2, 2]
    assert folder.labels != tuple(sorted(folder.labels))  # classes interleaved, as in the real val set
    for path, label in zip(folder.files, folder.labels):
        assert path.parent.name == folder.wnids[label]  # the folder layout's label is its folder's wnid
        assert path.read_bytes() == (flat.val_dir / path.name).read_bytes()
    assert folder.wnids == flat.wnids == ("n01440764", "n01443537", "n01484850")
    assert folder.names[1] == "goldfish, Carassius auratus" and not folder.complete
    assert "LOC_val_solution.csv" in flat.source and "a subset" in flat.source
    limited = read_imagenet_val(tmp_path / "b", allow_subset=True, limit=4)
    assert limited.files == flat.files[:4] and limited.labels == flat.labels[:4]
    kaggle = tmp_path / "b" / "imagenet" / "ILSVRC" / "Data" / "CLS-LOC"  # Kaggle's download keeps val/ here
    kaggle.mkdir(parents=True)
    (tmp_path / "b" / "imagenet" / "val").rename(kaggle / "val")
    moved = read_imagenet_val(tmp_path / "b", allow_subset=True)
    assert [p.name for p in moved.files] == names and moved.labels == flat.labels and moved.val_dir == kaggle / "val"


def test_class_index_is_the_position_among_the_1000_sorted_wnids(tmp_path):
    wnids = timm_wnids()  # timm's ImageNet-1k class order
    assert wnids == sorted(wnids) and wnids_sha256(wnids) == IMAGENET1K_WNIDS_SHA256
    lemmas = dict(line.split("\t") for line in (TIMM_INFO / "imagenet_synset_to_lemma.txt").read_text().splitlines())
    assert [(w, lemmas[w]) for w in wnids[:10]] == list(FIXTURE_CLASSES)
    # a full tree (1000 folders, no mapping file): labels are positions among the folder names
    val = tmp_path / "imagenet" / "val"
    for wnid in wnids:
        (val / wnid).mkdir(parents=True)
    source = write_imagenet_fixture(tmp_path / "src", classes=1, per_class=1) / "val" / "n01440764"
    shutil.copy(source / "ILSVRC2012_val_00000001.JPEG", val / "n15075141" / "ILSVRC2012_val_00000007.JPEG")
    shutil.copy(source / "ILSVRC2012_val_00000001.JPEG", val / "n01443537" / "ILSVRC2012_val_00000009.JPEG")
    data = read_imagenet_val(tmp_path, allow_subset=True)
    assert data.wnids == tuple(wnids) and data.names == tuple(wnids) and data.labels == (999, 1)
    with pytest.raises(ValueError, match=r"not the complete ImageNet-1k.*2 images, not 50,000.*allow_subset=True"):
        read_imagenet_val(tmp_path)
    # the 1000-line mapping with a partial tree: still indices into all 1000
    (tmp_path / "imagenet" / SYNSET_MAPPING).write_text("".join(f"{w} {lemmas[w]}\n" for w in wnids))
    for wnid in wnids[2:-1]:
        (val / wnid).rmdir()
    data = read_imagenet_val(tmp_path, allow_subset=True)
    assert data.labels == (999, 1) and data.names[999] == lemmas["n15075141"] and len(data.names) == 1000
    with pytest.raises(ValueError, match="3 of the 1000 class folders"):
        read_imagenet_val(tmp_path)


def test_a_subset_is_refused_unless_allowed(tmp_path):
    imagenet = write_imagenet_fixture(tmp_path, layout="folder")
    with pytest.raises(ValueError, match=rf"{SYNSET_MAPPING}\) has 3 wnids, not ImageNet-1k's 1000.*6 images"):
        read_imagenet_val(tmp_path)
    (imagenet / SYNSET_MAPPING).unlink()  # a partial tree without the mapping has no label space at all
    with pytest.raises(ValueError, match=rf"3 class folders.*put {SYNSET_MAPPING}"):
        read_imagenet_val(tmp_path, allow_subset=True)


def test_a_missing_copy_names_every_place_looked_at_and_how_to_get_imagenet(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHLIB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError) as error:
        read_imagenet_val()
    message = str(error.value)
    for expected in ["nowhere/imagenet/val", "nowhere/imagenet/ILSVRC/Data/CLS-LOC/val", "nowhere/val",
                     "image-net.org", "ILSVRC2012_img_val.tar (6.3 GB", "ILSVRC2012_devkit_t12.tar.gz",
                     "cannot be downloaded automatically", VAL_SOLUTION]:
        assert expected in message
    imagenet = write_imagenet_fixture(tmp_path, layout="flat")
    (imagenet / VAL_SOLUTION).unlink()  # flat images without their labels: the devkit alone is not read
    with pytest.raises(DataNotFoundError, match=rf"{at(imagenet / VAL_SOLUTION)}.*meta.mat and scipy"):
        read_imagenet_val(tmp_path, allow_subset=True)


def test_damaged_label_files_are_named(tmp_path):
    imagenet = write_imagenet_fixture(tmp_path, layout="flat")
    solution = imagenet / VAL_SOLUTION
    lines = solution.read_text().splitlines()
    solution.write_text("\n".join(lines[:-1]) + "\n")  # one line short
    with pytest.raises(ImageNetFileError, match=rf"{at(solution)} has no line for .*ILSVRC2012_val_00000006.JPEG"):
        read_imagenet_val(tmp_path, allow_subset=True)
    solution.write_text("\n".join([*lines, "ILSVRC2012_val_00000007,n09999999 0 0 1 1"]) + "\n")
    with pytest.raises(ImageNetFileError, match=rf"{at(solution)} line 8: .*wnid of {SYNSET_MAPPING}"):
        read_imagenet_val(tmp_path, allow_subset=True)
    mapping = imagenet / SYNSET_MAPPING
    mapping.write_text("n01443537 goldfish\nn01440764 tench\nn01484850 great white shark\n")
    with pytest.raises(ImageNetFileError, match=rf"{at(mapping)} line 2: n01440764 after n01443537.*sorted"):
        read_imagenet_val(tmp_path, allow_subset=True)
    folder = write_imagenet_fixture(tmp_path / "f", layout="folder")
    (folder / SYNSET_MAPPING).write_text("n01440764 tench\nn01443537 goldfish\n")  # a class folder too many
    with pytest.raises(ImageNetFileError, match=rf"{at(folder / 'val' / 'n01484850')}: wnid not in"):
        read_imagenet_val(tmp_path / "f", allow_subset=True)


@pytest.mark.parametrize("damage", ["truncated", "not an image"])
def test_a_corrupt_jpeg_is_named_when_decoded(tmp_path, damage):
    val = read_imagenet_val(write_imagenet_fixture(tmp_path, layout="flat").parent, allow_subset=True)
    bad = val.files[3]
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"<html>404</html>")
    batches = imagenet_val_batches(val, SMALL, batch_size=2, progress=False)
    assert len(next(batches)[1]) == 2  # lazily: the first batch decodes before the damaged file
    with pytest.raises(ImageNetFileError, match=rf"{at(bad)}: not a readable image.*ILSVRC2012_img_val.tar"):
        next(batches)


def test_the_loader_streams_batches_in_order_with_the_labels(tmp_path):
    val = read_imagenet_val(write_imagenet_fixture(tmp_path, classes=3, per_class=3).parent, allow_subset=True)
    batches = list(imagenet_val_batches(val, SMALL, batch_size=4, progress=False))
    assert [tuple(images.shape) for images, _ in batches] == [(4, 3, 32, 32), (4, 3, 32, 32), (1, 3, 32, 32)]
    assert all(images.dtype == torch.float32 and labels.dtype == torch.int64 for images, labels in batches)
    assert torch.cat([labels for _, labels in batches]).tolist() == list(val.labels)
    assert torch.equal(batches[0][0][1], SMALL(Image.open(val.files[1]).convert("RGB")))
    workers = list(imagenet_val_batches(val, SMALL, batch_size=4, num_workers=1, progress=False))
    assert all(torch.equal(a, b) and torch.equal(c, d) for (a, c), (b, d) in zip(batches, workers))


# Released checkpoints' settings: DeiT/EViT (0.875), big_vision ViT (0.9, inception mean), a
# bilinear full-image crop at MobileViT's size without normalisation.
# bilinear full-image crop at MobileViT's size without normalisation; big_vision's FlexiViT squash
# (resize(272)|central_crop(240)).
PARITY_CONFIGS = [(224, 0.875, "bicubic", IMAGENET_MEAN, IMAGENET_STD, "center"),
                  (224, 0.9, "bicubic", INCEPTION_MEAN, INCEPTION_STD, "center"),
                  (256, 1.0, "bilinear", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "center"),
                  (240, 240 / 272, "bilinear", INCEPTION_MEAN, INCEPTION_STD, "squash")]


@pytest.mark.parametrize("size, crop_pct, interpolation, mean, std, crop_mode", PARITY_CONFIGS,
                         ids=["deit-0.875-bicubic", "vit-0.9-bicubic", "mobilevit-1.0-bilinear", "flexivit-squash"])
def test_eval_transform_matches_timm(size, crop_pct, interpolation, mean, std, crop_mode):
    from timm.data import create_transform, resolve_data_config

    config = resolve_data_config({"input_size": (3, size, size), "crop_pct": crop_pct, "interpolation": interpolation,
                                  "mean": mean, "std": std, "crop_mode": crop_mode})
    ours, reference = EvalTransform.from_timm(config), create_transform(**config)
    resize = {"center": "shorter", "squash": "square"}[crop_mode]
    assert ours == EvalTransform(size, crop_pct, interpolation, mean, std, resize)
    rng = np.random.default_rng(0)
    for height, width in [(375, 500), (200, 150)]:  # a typical ImageNet photo; a small one (upsampled)
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        # measured: 0.0, bit-identical (both resize with PIL, then the same float ops)
        torch.testing.assert_close(ours(image), reference(image), rtol=0, atol=1e-6)


def test_eval_transform_geometry_and_parameter_checks():
    assert [EvalTransform(224, crop, "bicubic", IMAGENET_MEAN, IMAGENET_STD).resize_to
            for crop in (0.875, 0.9, 1.0)] == [256, 248, 224]
    halves = np.zeros((32, 64, 3), dtype=np.uint8)
    halves[:, 32:] = 255  # left half black, right half white: the center crop keeps columns 16..47
    out = SMALL(Image.fromarray(halves))
    assert out.shape == (3, 32, 32) and out[:, :, :16].max() == 0 and out[:, :, 16:].min() == 1
    with pytest.raises(ValueError, match="interpolation must be 'bicubic' or 'bilinear', got 'nearest'"):
        EvalTransform(224, 0.9, "nearest", IMAGENET_MEAN, IMAGENET_STD)
    with pytest.raises(ValueError, match="crop_pct must be in"):
        EvalTransform(224, 1.2, "bicubic", IMAGENET_MEAN, IMAGENET_STD)
    with pytest.raises(ValueError, match="crop_mode 'center'"):
        EvalTransform.from_timm({"input_size": (3, 224, 224), "crop_pct": 1.0, "interpolation": "bicubic",
                                 "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "crop_mode": "border"})
    with pytest.raises(ValueError, match="resize must be 'shorter' or 'square'"):
        EvalTransform(224, 0.9, "bicubic", IMAGENET_MEAN, IMAGENET_STD, "crop")
