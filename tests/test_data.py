"""Tests for patchlib.data: shapes10, the CIFAR-10 readers and cache, and augmentation.

CIFAR-10 is fabricated in tmp_path (a few random images per class) in every accepted layout;
nothing here touches the network, the user's cache or a real data root.
"""
from __future__ import annotations

import errno
import io
import pickle
import shutil
import tarfile
from pathlib import Path

import pytest
import torch
import torchvision.datasets.utils
import torchvision.transforms.v2.functional as TF
from PIL import Image

from patchlib.data import (CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, SHAPES10_CLASSES, DataNotFoundError,
                           ImageData, iterate_batches, load_dataset, make_shapes10, normalize, rand_augment,
                           random_crop_flip)
from patchlib.data import cache, cifar

TRAIN_PER_CLASS, TEST_PER_CLASS = 3, 1


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Each test gets its own cache folder and no $PATCHLIB_DATA."""
    monkeypatch.setenv("PATCHLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PATCHLIB_DATA", raising=False)


# ----------------------------------------------------------------------------------------------
# Fabricated CIFAR-10


@pytest.fixture(scope="module")
def pixels() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Random 32x32 images with shuffled, balanced labels, per split: (uint8 [N,3,32,32], int64 [N])."""
    generator = torch.Generator().manual_seed(0)
    splits = {}
    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        n = 10 * per_class
        labels = (torch.arange(n) % 10)[torch.randperm(n, generator=generator)]
        splits[split] = torch.randint(0, 256, (n, 3, 32, 32), generator=generator, dtype=torch.uint8), labels
    return splits


def write_pickle_folder(root: Path, pixels) -> Path:
    """torchvision's layout: cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train_images, train_labels = pixels["train"]
    batches = {f"data_batch_{i + 1}": chunk for i, chunk in enumerate(torch.arange(len(train_labels)).chunk(5))}
    for name, index in batches.items():
        record = {"batch_label": name, "data": train_images[index].reshape(len(index), -1).numpy(),
                  "labels": train_labels[index].tolist()}
        (folder / name).write_bytes(pickle.dumps(record))
    test_images, test_labels = pixels["test"]
    (folder / "test_batch").write_bytes(pickle.dumps({"data": test_images.reshape(len(test_images), -1).numpy(),
                                                      "labels": test_labels.tolist()}))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CIFAR10_CLASSES),
                                                        "num_vis": 3072}))
    return folder


def write_image_folder(root: Path, pixels, suffix: str = ".png") -> Path:
    """ImageFolder layout root/{train,test}/<class>/NNNN<suffix>; names follow the split's order."""
    for split, (images, labels) in pixels.items():
        for index, (image, label) in enumerate(zip(images, labels)):
            path = root / split / CIFAR10_CLASSES[label] / f"{index:04d}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(path, quality=75)
    return root


def make_tar_gz(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def sorted_by_class(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The order of an ImageFolder (class, then file name = original index)."""
    order = torch.argsort(labels, stable=True)
    return images[order], labels[order]


# ----------------------------------------------------------------------------------------------
# shapes10


def test_shapes10_shapes_dtypes_and_balance():
    splits = make_shapes10(n_train=200, n_test=100)
    for data, n in ((splits.train, 200), (splits.test, 100)):
        assert data.images.shape == (n, 3, 32, 32) and data.images.dtype == torch.uint8
        assert data.labels.dtype == torch.int64 and len(data) == n
        assert torch.bincount(data.labels, minlength=10).tolist() == [n // 10] * 10
        assert data.classes == SHAPES10_CLASSES and data.name == "shapes10"
    assert make_shapes10(n_train=20, n_test=10, image_size=48).train.images.shape == (20, 3, 48, 48)


def test_shapes10_is_deterministic_and_seeded():
    first, again = make_shapes10(100, 50, seed=3), make_shapes10(100, 50, seed=3)
    assert torch.equal(first.train.images, again.train.images) and torch.equal(first.test.labels, again.test.labels)
    assert first.train.fingerprint == again.train.fingerprint
    other = make_shapes10(100, 50, seed=4)
    assert not torch.equal(first.train.images, other.train.images)
    assert first.train.fingerprint != other.train.fingerprint
    # train and test come from different streams: no test image repeats a train image
    assert not (first.test.images[:, None] == first.train.images[None]).flatten(2).all(2).any()


def test_shapes10_is_not_solved_by_nearest_class_mean_on_pixels():
    splits = make_shapes10(n_train=1000, n_test=500, seed=1)
    train, test = splits.train.images.flatten(1).float(), splits.test.images.flatten(1).float()
    means = torch.stack([train[splits.train.labels == c].mean(0) for c in range(10)])
    accuracy = (torch.cdist(test, means).argmin(1) == splits.test.labels).float().mean().item()
    assert accuracy < 0.4  # chance is 0.1; a small CNN reaches ~85%


def test_load_dataset_shapes10_and_unknown_name():
    splits = load_dataset("shapes10", n_train=30, n_test=20, seed=5)
    assert torch.equal(splits.train.images, make_shapes10(30, 20, seed=5).train.images)
    with pytest.raises(ValueError, match="cifar10, shapes10"):
        load_dataset("imagenet")


def test_subset_is_class_balanced_deterministic_and_fingerprinted():
    data = make_shapes10(n_train=100, n_test=10).train
    part = data.subset(30, seed=1)
    assert len(part) == 30 and torch.bincount(part.labels, minlength=10).tolist() == [3] * 10
    assert torch.equal(part.images, data.subset(30, seed=1).images)
    assert part.fingerprint not in (data.fingerprint, data.subset(30, seed=2).fingerprint)
    assert data.subset(len(data)).fingerprint == data.fingerprint  # all images, original order
    with pytest.raises(ValueError):
        data.subset(101)


def test_image_data_checks_dtypes():
    with pytest.raises(ValueError, match="uint8"):
        ImageData.from_tensors(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.int64), ["a"], name="x", source="y")


# ----------------------------------------------------------------------------------------------
# CIFAR-10 from files


def test_cifar10_pickle_folder(tmp_path, pixels):
    write_pickle_folder(tmp_path / "data", pixels)
    splits = load_dataset("cifar10", data_root=tmp_path / "data")
    for split in ("train", "test"):
        data = getattr(splits, split)
        assert torch.equal(data.images, pixels[split][0]) and torch.equal(data.labels, pixels[split][1])
        assert data.classes == list(CIFAR10_CLASSES) and data.name == "cifar10"
        assert "pickle" in data.source and "lossless" in data.source


def pickle_archive(root, pixels):
    make_tar_gz(write_pickle_folder(root / "unpacked", pixels), root / "cifar-10-python.tar.gz")
    shutil.rmtree(root / "unpacked")
    return root


def image_archive(root, pixels, name="cifar10-png.tar.gz"):
    make_tar_gz(write_image_folder(root / "unpacked" / "cifar10", pixels), root / name)
    shutil.rmtree(root / "unpacked")
    return root


# Each writes fabricated CIFAR-10 under a folder and returns the data root to pass.
LAYOUTS = {
    "pickle folder is the root": write_pickle_folder,
    "pickle archive": pickle_archive,
    "image folder under root": lambda root, pixels: write_image_folder(root / "cifar10", pixels).parent,
    "image folder is the root": lambda root, pixels: write_image_folder(root / "cifar10", pixels),
    "image archive under root": image_archive,
    "image archive is the root": lambda root, pixels: image_archive(root, pixels, "my-copy.tar.gz") / "my-copy.tar.gz",
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_cifar10_layouts_agree_on_pixels_labels_and_classes(tmp_path, pixels, layout):
    data_root = LAYOUTS[layout](tmp_path / "data", pixels)
    splits = load_dataset("cifar10", data_root=data_root)
    for split in ("train", "test"):
        data, (images, labels) = getattr(splits, split), pixels[split]
        assert data.classes == list(CIFAR10_CLASSES)
        if "pickle" in layout:  # original order
            assert torch.equal(data.images, images) and torch.equal(data.labels, labels)
        else:                   # ImageFolder order: by class, then file name
            expected_images, expected_labels = sorted_by_class(images, labels)
            assert torch.equal(data.images, expected_images) and torch.equal(data.labels, expected_labels)
            assert "PNG" in data.source and "lossless" in data.source


def test_cifar10_jpeg_folder_is_labelled_as_lossy_reencoding(tmp_path, pixels):
    write_image_folder(tmp_path / "cifar10", pixels, suffix=".jpg")
    data = load_dataset("cifar10", data_root=tmp_path).train
    assert "JPEG" in data.source and "lossy" in data.source and "quality 75" in data.source
    assert data.images.shape == (10 * TRAIN_PER_CLASS, 3, 32, 32)
    assert torch.equal(data.labels, sorted_by_class(*pixels["train"])[1])


def test_cifar10_data_root_from_environment(tmp_path, pixels, monkeypatch):
    write_pickle_folder(tmp_path / "data", pixels)
    monkeypatch.setenv("PATCHLIB_DATA", str(tmp_path / "data"))
    assert torch.equal(load_dataset("cifar10").test.images, pixels["test"][0])


def test_cifar10_subset_kwargs(tmp_path, pixels):
    write_pickle_folder(tmp_path, pixels)
    splits = load_dataset("cifar10", data_root=tmp_path, n_train=20, n_test=10, seed=1)
    assert len(splits.train) == 20 and torch.bincount(splits.train.labels).tolist() == [2] * 10
    assert "subset of 20 (seed 1)" in splits.train.source


def test_cifar10_cache_is_reused_without_decoding(tmp_path, pixels, monkeypatch):
    write_image_folder(tmp_path / "cifar10", pixels)
    write_pickle_folder(tmp_path / "other", pixels)
    first_images = load_dataset("cifar10", data_root=tmp_path).train.images
    first_pickled = load_dataset("cifar10", data_root=tmp_path / "other").train.images
    assert len(list((tmp_path / "cache").glob("cifar10-*.pt"))) == 2

    def fail(*args, **kwargs):
        raise AssertionError("decoded although a cache file exists")
    monkeypatch.setattr(cifar, "decode_image", fail)
    monkeypatch.setattr(cifar, "unpickle_batch", fail)
    assert torch.equal(load_dataset("cifar10", data_root=tmp_path).train.images, first_images)
    assert torch.equal(load_dataset("cifar10", data_root=tmp_path / "other").train.images, first_pickled)


def test_cifar10_corrupt_cache_is_rebuilt(tmp_path, pixels):
    write_pickle_folder(tmp_path, pixels)
    load_dataset("cifar10", data_root=tmp_path)
    (cache_file,) = (tmp_path / "cache").glob("cifar10-*.pt")
    cache_file.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="unreadable data cache"):
        splits = load_dataset("cifar10", data_root=tmp_path)
    assert torch.equal(splits.train.images, pixels["train"][0])
    assert torch.load(cache_file, weights_only=True)["train"]["fingerprint"] == splits.train.fingerprint


@pytest.mark.parametrize("error", [RuntimeError("[enforce fail at inline_container.cc:626] . PytorchStreamWriter "
                                                   "failed writing file data/0: file write failed (No space left on "
                                                   "device)"),
                                      OSError(errno.ENOSPC, "No space left on device")],
                         ids=["RuntimeError", "ENOSPC"])
def test_cifar10_full_cache_disk_warns_and_returns_the_decoded_data(tmp_path, pixels, monkeypatch, error):
    """torch.save raises RuntimeError (its zip writer) or OSError on a full disk: the data is still
    returned, with a warning naming the cache file and the fix, and no temporary file is left."""
    write_pickle_folder(tmp_path, pixels)

    def full_disk(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise error
    monkeypatch.setattr(cache.torch, "save", full_disk)
    with pytest.warns(UserWarning, match=r"(?s)could not write data cache .*cifar10-.*\.pt.*PATCHLIB_CACHE") as caught:
        splits = load_dataset("cifar10", data_root=tmp_path)
    assert type(error).__name__ in str(caught[0].message) and "not cached" in str(caught[0].message)
    assert torch.equal(splits.train.images, pixels["train"][0]) and torch.equal(splits.test.labels, pixels["test"][1])
    assert not list((tmp_path / "cache").glob("*"))


def test_cifar10_missing_data_names_every_path_looked_at(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        load_dataset("cifar10", data_root=tmp_path)
    message = str(error.value)
    assert isinstance(error.value, FileNotFoundError)
    for looked_at in (tmp_path / "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz", tmp_path / "cifar10"):
        assert str(looked_at) in message
    assert "PATCHLIB_DATA" in message and "download=True" in message
    with pytest.raises(DataNotFoundError, match="PATCHLIB_DATA"):  # no root at all
        load_dataset("cifar10")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_dataset("cifar10", data_root=tmp_path / "nowhere")


def test_cifar10_download_goes_through_torchvision(tmp_path, pixels, monkeypatch):
    archive = make_tar_gz(write_pickle_folder(tmp_path / "fabricated", pixels), tmp_path / "cifar-10-python.tar.gz")
    calls = []

    def fake_download_and_extract_archive(url, download_root, filename=None, md5=None, **kwargs):
        calls.append({"url": url, "md5": md5})
        shutil.copy(archive, Path(download_root) / filename)
        torchvision.datasets.utils.extract_archive(str(Path(download_root) / filename), download_root)
    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", fake_download_and_extract_archive)

    data_root = tmp_path / "data"
    splits = load_dataset("cifar10", data_root=data_root, download=True)
    assert calls == [{"url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                      "md5": "c58f30108f718f92721af3b95e74349a"}]
    assert (data_root / "cifar-10-batches-py" / "data_batch_1").is_file()
    assert torch.equal(splits.train.images, pixels["train"][0])
    load_dataset("cifar10", data_root=data_root, download=True)
    assert len(calls) == 1  # already there: no second download


def test_cifar10_pickle_reader_refuses_arbitrary_objects():
    class Exploit:
        def __reduce__(self):
            return (print, ("unpickled arbitrary code",))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        cifar.unpickle_batch(io.BytesIO(pickle.dumps({"data": Exploit()})))


# ----------------------------------------------------------------------------------------------
# Augmentation and batching


def test_random_crop_flip_keeps_shape_dtype_and_is_seeded():
    images = make_shapes10(16, 10).train.images
    for batch in (images, images.float() / 255):
        out = random_crop_flip(batch, padding=4, generator=torch.Generator().manual_seed(0))
        assert out.shape == batch.shape and out.dtype == batch.dtype
        again = random_crop_flip(batch, padding=4, generator=torch.Generator().manual_seed(0))
        assert torch.equal(out, again)
    other = random_crop_flip(images, padding=4, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(other, random_crop_flip(images, padding=4, generator=torch.Generator().manual_seed(0)))


def test_random_crop_flip_matches_torchvision_pad_crop_and_flip():
    images = torch.randint(0, 256, (24, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    flipped_only = random_crop_flip(images, padding=0, generator=torch.Generator().manual_seed(0))
    is_flipped = [torch.equal(out, TF.horizontal_flip(image)) for out, image in zip(flipped_only, images)]
    is_same = [torch.equal(out, image) for out, image in zip(flipped_only, images)]
    assert all(a or b for a, b in zip(is_flipped, is_same)) and any(is_flipped) and any(is_same)

    padding = 2
    out = random_crop_flip(images, padding=padding, generator=torch.Generator().manual_seed(1))
    for crop, image in zip(out, images):
        padded = TF.pad(image, [padding], fill=0)
        candidates = [view for top in range(2 * padding + 1) for left in range(2 * padding + 1)
                      for view in (TF.crop(padded, top, left, 8, 8), TF.horizontal_flip(TF.crop(padded, top, left, 8, 8)))]
        assert any(torch.equal(crop, candidate) for candidate in candidates)


def test_normalize_matches_torchvision():
    images = make_shapes10(8, 10).train.images
    expected = TF.normalize(TF.to_dtype(images, torch.float32, scale=True), list(CIFAR10_MEAN), list(CIFAR10_STD))
    torch.testing.assert_close(normalize(images, CIFAR10_MEAN, CIFAR10_STD), expected)
    torch.testing.assert_close(normalize(images.float() / 255, CIFAR10_MEAN, CIFAR10_STD), expected)


def test_rand_augment_shapes_and_determinism():
    images = make_shapes10(8, 10).train.images
    out = rand_augment(images, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    assert torch.equal(out, rand_augment(images, generator=torch.Generator().manual_seed(0)))


def test_iterate_batches_covers_the_data_once_and_is_seeded():
    data = make_shapes10(50, 10).train
    batches = list(iterate_batches(data, 16, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert [len(labels) for _, labels in batches] == [16, 16, 16, 2]
    seen = torch.cat([images for images, _ in batches])
    assert torch.equal(seen.flatten(1).sum(1).sort().values, data.images.flatten(1).sum(1).sort().values)
    again = list(iterate_batches(data, 16, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, again))
    assert len(list(iterate_batches(data, 16, shuffle=False, drop_last=True))) == 3
    first_images, first_labels = next(iterate_batches(data, 16, shuffle=False))
    assert torch.equal(first_images, data.images[:16]) and torch.equal(first_labels, data.labels[:16])


# ----------------------------------------------------------------------------------------------
# Damaged CIFAR-10 files: the error names the file and the fix, and nothing is cached


def truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return path


def load_damaged(tmp_path: Path, data_root: Path, *names: Path | str) -> str:
    """The DataFileError message of loading CIFAR-10 from a damaged copy, checked to contain each of
    `names` and the fix; also checks that nothing was cached."""
    with pytest.raises(cifar.DataFileError) as error:
        load_dataset("cifar10", data_root=data_root)
    message = str(error.value)
    for name in names:
        assert str(name) in message
    assert "delete" in message and "download" in message
    assert not list((tmp_path / "cache").glob("*"))
    return message


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_cifar10_damaged_archive_names_it_and_the_fix(tmp_path, pixels, damage):
    archive = pickle_archive(tmp_path / "data", pixels) / "cifar-10-python.tar.gz"
    if damage == "truncated":
        truncate(archive)
    else:
        archive.write_bytes(b"not a tar.gz archive" * 100)
    message = load_damaged(tmp_path, tmp_path / "data", f"delete {archive} ")
    assert message.startswith(f"{archive}: is truncated or not a valid tar/tar.gz archive")


def test_cifar10_garbage_image_in_folder_names_the_file_and_the_fix(tmp_path, pixels):
    tree = write_image_folder(tmp_path / "data" / "cifar10", pixels, suffix=".jpg")
    image = sorted((tree / "train" / "cat").glob("*.jpg"))[0]
    image.write_bytes(b"not an image")
    message = load_damaged(tmp_path, tmp_path / "data", f"delete the CIFAR-10 files in {tree} ")
    assert message.startswith(f"{image}: is truncated or not a readable image")


def test_cifar10_truncated_image_in_archive_names_archive_and_member(tmp_path, pixels):
    tree = write_image_folder(tmp_path / "unpacked" / "cifar10", pixels)
    image = truncate(sorted((tree / "test" / "dog").glob("*.png"))[0])
    archive = make_tar_gz(tree, tmp_path / "cifar10-png.tar.gz")
    message = load_damaged(tmp_path, archive, f"delete {archive} ")
    assert message.startswith(f"{archive} (member test/dog/{image.name}): is truncated or not a readable image")


@pytest.mark.parametrize("layout", ["folder", "archive"])
def test_cifar10_truncated_pickle_batch_names_it_and_the_fix(tmp_path, pixels, layout):
    folder = write_pickle_folder(tmp_path / "data", pixels)
    truncate(folder / "data_batch_3")
    if layout == "folder":
        copy, where, remove = folder, folder / "data_batch_3", f"the CIFAR-10 files in {folder}"
    else:
        copy = remove = make_tar_gz(folder, tmp_path / "cifar-10-python.tar.gz")
        where = f"{copy} (member data_batch_3)"
    message = load_damaged(tmp_path, copy, f"delete {remove} ")
    assert message.startswith(f"{where}: is truncated or not a CIFAR-10 pickle batch")
