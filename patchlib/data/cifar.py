"""CIFAR-10 (Krizhevsky, 2009, "Learning Multiple Layers of Features from Tiny Images") from local files.

Accepted layouts under the data root (the root may also be the folder or archive itself):

* torchvision's copy of the original: `cifar-10-batches-py/` (python pickles `data_batch_1..5`,
  `test_batch`, `batches.meta`) or its archive `cifar-10-python.tar.gz`. Original pixels.
* an ImageFolder tree `cifar10/{train,test}/<class>/*.png|jpg`, or a `.tar.gz` of one
  (e.g. `cifar10-jpeg.tar.gz`). JPEG copies are lossy re-encodings; `ImageData.source` says so.

Archives are read as streams (nothing is extracted); the decoded tensors are cached once
(see `patchlib.data.cache`). The pickles are read by a small reader of our own, which unlike
`torchvision.datasets.CIFAR10` does not insist on the official md5 sums, so test fixtures and
re-packed copies load too; only `download=True` goes through torchvision's downloader.
Both formats give the standard class order (`CIFAR10_CLASSES`, which is also alphabetical)
and the same label ids.
"""
from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
import torch
import torchvision.io
from PIL import Image
from tqdm.auto import tqdm

from .cache import DataSplits, ImageData, cache_path, cached_splits
from .root import DATA_ROOT_ENV, DataNotFoundError, resolve_data_root

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# The official archive, as in torchvision.datasets.CIFAR10.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
PICKLE_FOLDER = "cifar-10-batches-py"
PICKLE_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp")
SPLITS = ("train", "test")
HOW_TO_GET_DATA = (
    f"To use CIFAR-10, put it in the repository's data/ folder, or set the environment variable {DATA_ROOT_ENV} "
    "(or the notebook's data_root) to a "
    f"folder holding one of: {PICKLE_FOLDER}/ or {CIFAR10_ARCHIVE} (torchvision's format), an ImageFolder "
    "tree cifar10/{train,test}/<class>/*.png|jpg, or a .tar.gz of that tree; or pass download=True "
    f"where the internet is reachable (fetches {CIFAR10_URL} into the data root)."
)


class DataFileError(ValueError):
    """A file of the CIFAR-10 copy is damaged (truncated or corrupt). The message names the file
    and the fix: delete the copy and get CIFAR-10 again."""


# What each reader raises on damaged bytes.
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)
PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, KeyError, TypeError, IndexError)
IMAGE_ERRORS = (RuntimeError, OSError, ValueError)  # torchvision.io, PIL (UnidentifiedImageError is an OSError)


@contextmanager
def _damaged_file(copy: Path, problem: str, errors: tuple[type[Exception], ...], member: str | None = None):
    """Re-raise `errors` from the block as a DataFileError naming `copy` (the folder or archive
    holding CIFAR-10) and its `member`, and saying how to replace the copy."""
    try:
        yield
    except errors as error:
        if copy.is_dir():  # not "delete the folder": it may be the data root itself
            where, remove = (copy / member if member else copy), f"the CIFAR-10 files in {copy}"
        else:
            where, remove = (f"{copy} (member {member})" if member else copy), copy
        raise DataFileError(
            f"{where}: {problem} ({type(error).__name__}: {error}); delete {remove} and download CIFAR-10 again "
            f"(`make reproduce PROFILE=cpu` rebuilds the book from the committed results without it). "
            f"{HOW_TO_GET_DATA}") from error


# ----------------------------------------------------------------------------------------------
# Finding the data


@dataclass(frozen=True)
class CifarSource:
    """Where CIFAR-10 was found: kind is "pickle-folder", "image-folder" or "archive"."""

    kind: str
    path: Path

    def identity(self) -> tuple:
        """Paths, sizes and modification times of the source files (the cache key)."""
        if self.kind == "archive":
            files = [self.path]
        elif self.kind == "pickle-folder":
            files = [self.path / name for name in [*PICKLE_FILES["train"], *PICKLE_FILES["test"], "batches.meta"]]
        else:
            files = sorted(p for split in SPLITS for p in (self.path / split).rglob("*") if p.is_file())
        stats = [(str(file), file.stat()) for file in files]
        return self.kind, str(self.path.resolve()), [(name, st.st_size, st.st_mtime_ns) for name, st in stats]


def _is_pickle_folder(path: Path) -> bool:
    return (path / "batches.meta").is_file() and all(
        (path / name).is_file() for name in [*PICKLE_FILES["train"], *PICKLE_FILES["test"]])


def _is_image_folder(path: Path) -> bool:
    return all((path / split).is_dir() for split in SPLITS)


def find_cifar10(root: Path) -> tuple[CifarSource | None, list[str]]:
    """The first CIFAR-10 source under `root`, in order of preference (lossless first), and
    a description of every place looked at."""
    looked_at = []
    if root.is_file():
        looked_at.append(f"{root} (a .tar.gz of {PICKLE_FOLDER}/ or of an ImageFolder tree)")
        return (CifarSource("archive", root) if tarfile.is_tarfile(root) else None), looked_at
    candidates = [
        ("pickle-folder", root / PICKLE_FOLDER, _is_pickle_folder, "data_batch_1..5, test_batch, batches.meta"),
        ("pickle-folder", root, _is_pickle_folder, "data_batch_1..5, test_batch, batches.meta"),
        ("archive", root / CIFAR10_ARCHIVE, Path.is_file, "torchvision's archive"),
        ("image-folder", root / "cifar10", _is_image_folder, "train/<class>/*, test/<class>/*"),
        ("image-folder", root, _is_image_folder, "train/<class>/*, test/<class>/*"),
    ]
    archives = sorted({*root.glob("cifar10*.tar.gz"), *root.glob("cifar10*.tgz"), *root.glob("cifar10*.tar")})
    candidates += [("archive", path, Path.is_file, "a .tar.gz of an ImageFolder tree") for path in archives]
    for kind, path, accepts, expected in candidates:
        looked_at.append(f"{path} ({expected})")
        if accepts(path):
            return CifarSource(kind, path), looked_at
    looked_at.append(f"{root}/cifar10*.tar.gz (a .tar.gz of an ImageFolder tree): none found")
    return None, looked_at


def download_cifar10(root: Path) -> None:
    """Fetch and unpack the official archive into `root` with torchvision's downloader (md5-checked)."""
    from torchvision.datasets import utils as tv_utils

    root.mkdir(parents=True, exist_ok=True)
    tv_utils.download_and_extract_archive(CIFAR10_URL, download_root=str(root), filename=CIFAR10_ARCHIVE,
                                          md5=CIFAR10_ARCHIVE_MD5)


def load_cifar10(data_root: str | Path | None = None, *, download: bool = False) -> DataSplits:
    """CIFAR-10 train (50,000) and test (10,000) splits from the data root (see module docstring).

    With download=True the official archive is fetched first if no copy is found.
    Raises DataNotFoundError, listing every path looked at, when there is no copy.
    """
    root = resolve_data_root(data_root)
    source, looked_at = find_cifar10(root) if root.exists() else (None, [f"{root} (does not exist)"])
    if source is None and download:
        download_cifar10(root)
        source, looked_at = find_cifar10(root)
    if source is None:
        raise DataNotFoundError("CIFAR-10 not found. Looked at:\n  " + "\n  ".join(looked_at) + "\n"
                                + HOW_TO_GET_DATA)
    return cached_splits(cache_path("cifar10", source.identity()), lambda: read_cifar10(source))


# ----------------------------------------------------------------------------------------------
# Reading the data


def read_cifar10(source: CifarSource) -> DataSplits:
    """Decode CIFAR-10 from `source` (no cache). Raises DataFileError on a damaged file."""
    if source.kind == "pickle-folder":
        return _splits_from_pickles(lambda name: open(source.path / name, "rb"), f"folder {source.path}",
                                    source.path)
    if source.kind == "image-folder":
        return _splits_from_images(_folder_images(source.path), f"ImageFolder tree {source.path}", source.path)
    return _read_archive(source.path)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles the CIFAR batches (dicts of numpy arrays and lists), refusing any other object."""

    ALLOWED = {"_reconstruct", "ndarray", "dtype", "_frombuffer", "scalar"}

    def find_class(self, module: str, name: str):
        if (module.split(".")[0] == "numpy" and name in self.ALLOWED) or (module, name) == ("_codecs", "encode"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core in pickles from numpy 1
                return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} from a CIFAR batch file")


def unpickle_batch(file: BinaryIO) -> dict:
    """One CIFAR pickle (written by Python 2, hence latin1) as a dict with str keys."""
    return _ArrayUnpickler(file, encoding="latin1").load()


def _check_classes(found: list[str], where: str) -> None:
    if list(found) != list(CIFAR10_CLASSES):
        raise ValueError(f"{where} has classes {list(found)}, expected the CIFAR-10 classes {list(CIFAR10_CLASSES)}")


def _splits_from_pickles(open_file, where: str, copy: Path) -> DataSplits:
    """Splits from the pickle batches of `copy`; `open_file(name)` opens one of them as a binary file."""
    problem = "is truncated or not a CIFAR-10 pickle batch"
    with _damaged_file(copy, problem, PICKLE_ERRORS, member="batches.meta"), open_file("batches.meta") as file:
        label_names = unpickle_batch(file)["label_names"]
    _check_classes(label_names, where)
    splits = {}
    for split, names in PICKLE_FILES.items():
        images, labels = [], []
        for name in names:
            with _damaged_file(copy, problem, PICKLE_ERRORS, member=name):
                with open_file(name) as file:
                    batch = unpickle_batch(file)
                images.append(torch.from_numpy(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)))
                labels.append(torch.as_tensor(batch["labels"], dtype=torch.int64))
        images, labels = torch.cat(images), torch.cat(labels)
        splits[split] = ImageData.from_tensors(
            images, labels, list(CIFAR10_CLASSES), name="cifar10",
            source=f"CIFAR-10 {split} split, {len(labels)} images: original pixels (torchvision's python "
                   f"pickle batches, lossless) from {where}")
    return DataSplits(**splits)


def decode_image(data: bytes) -> torch.Tensor:
    """Decode an encoded image (PNG, JPEG, ...) to uint8 RGB [3, H, W] with torchvision.io
    (libjpeg-turbo/libpng; about 5x faster than PIL here, identical pixels on CIFAR-10's JPEGs)."""
    encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    try:
        return torchvision.io.decode_image(encoded, mode=torchvision.io.ImageReadMode.RGB)
    except RuntimeError:  # formats torchvision.io does not read (bmp, ppm): fall back to PIL
        with Image.open(io.BytesIO(data)) as image:
            return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).contiguous()


def jpeg_quality(data: bytes) -> int | None:
    """The IJG quality setting that produced this JPEG's luminance quantisation table, if it is
    one of the standard libjpeg tables (JPEG standard, Annex K.1), else None."""
    base = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
            14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
            49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
    with Image.open(io.BytesIO(data)) as image:
        table = list(getattr(image, "quantization", {}).get(0, []))
    for quality in range(1, 101):
        scale = 5000 // quality if quality < 50 else 200 - 2 * quality
        if table == [min(max((q * scale + 50) // 100, 1), 255) for q in base]:
            return quality
    return None


def _image_member(path: str) -> tuple[str, str] | None:
    """(split, class) for a path ending in <train|test>/<class>/<file with an image extension>."""
    parts = PurePosixPath(path).parts
    if len(parts) < 3 or parts[-3] not in SPLITS or parts[-1].startswith("."):
        return None
    return (parts[-3], parts[-2]) if parts[-1].lower().endswith(IMAGE_EXTENSIONS) else None


def _folder_images(root: Path) -> Iterator[tuple[str, str, str, bytes]]:
    """(split, class, file name, encoded bytes) for every image of an ImageFolder tree."""
    files = sorted(p for split in SPLITS for p in (root / split).glob("*/*") if _image_member(p.as_posix()))
    for path in tqdm(files, desc=f"decoding {root.name}", unit="img", mininterval=1.0):
        yield path.parent.parent.name, path.parent.name, path.name, path.read_bytes()


def _describe_encoding(names: list[str], first_jpeg: bytes | None) -> str:
    counts = Counter(PurePosixPath(name).suffix.lower().replace(".jpeg", ".jpg") for name in names)
    kinds = []
    for suffix, count in sorted(counts.items()):
        if suffix == ".jpg":
            quality = jpeg_quality(first_jpeg) if first_jpeg else None
            kinds.append(f"{count} JPEG files (a lossy JPEG re-encoding, "
                         f"{f'quality {quality}' if quality else 'unknown quality'})")
        elif suffix == ".png":
            kinds.append(f"{count} PNG files (lossless)")
        else:
            kinds.append(f"{count} {suffix} files")
    return ", ".join(kinds)


def _splits_from_images(images: Iterator[tuple[str, str, str, bytes]], where: str, copy: Path) -> DataSplits:
    """Splits from (split, class, file name, bytes) records of the tree or archive `copy`; ordered by
    class, then file name."""
    records = {split: [] for split in SPLITS}
    first_jpeg = None
    for split, class_name, file_name, data in images:
        if first_jpeg is None and file_name.lower().endswith((".jpg", ".jpeg")):
            first_jpeg = data
        with _damaged_file(copy, "is truncated or not a readable image", IMAGE_ERRORS,
                           member=f"{split}/{class_name}/{file_name}"):
            image = decode_image(data)
        records[split].append((class_name, file_name, image))
    splits = {}
    for split, items in records.items():
        items.sort(key=lambda item: item[:2])
        classes = sorted({class_name for class_name, _, _ in items})
        _check_classes(classes, f"{where} ({split})")
        shapes = {tuple(image.shape) for _, _, image in items}
        if len(shapes) != 1:
            raise ValueError(f"{where} ({split}) holds images of several sizes: {sorted(shapes)}")
        images_tensor = torch.stack([image for _, _, image in items])
        labels = torch.tensor([classes.index(class_name) for class_name, _, _ in items], dtype=torch.int64)
        splits[split] = ImageData.from_tensors(
            images_tensor, labels, classes, name="cifar10",
            source=f"CIFAR-10 {split} split, {len(labels)} images: "
                   f"{_describe_encoding([name for _, name, _ in items], first_jpeg)} from {where}")
    return DataSplits(**splits)


def _read_archive(path: Path) -> DataSplits:
    """Splits from a tar(.gz) holding either the pickle batches or an ImageFolder tree, read in one
    streaming pass (progress shown over the compressed bytes)."""
    pickles, images = {}, []
    with _damaged_file(path, "is truncated or not a valid tar/tar.gz archive", ARCHIVE_ERRORS), \
            open(path, "rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as archive, \
            tqdm(total=path.stat().st_size, desc=f"reading {path.name}", unit="B", unit_scale=True,
                 mininterval=1.0) as bar:
        for member in archive:
            bar.update(raw.tell() - bar.n)
            if not member.isfile():
                continue
            name = PurePosixPath(member.name).name
            if name in {*PICKLE_FILES["train"], *PICKLE_FILES["test"], "batches.meta"}:
                pickles[name] = archive.extractfile(member).read()
            elif split_and_class := _image_member(member.name):
                images.append((*split_and_class, name, archive.extractfile(member).read()))
    if len(pickles) == 7:
        return _splits_from_pickles(lambda name: io.BytesIO(pickles[name]), f"archive {path}", path)
    if images:
        return _splits_from_images(iter(tqdm(images, desc="decoding", unit="img", mininterval=1.0)),
                                   f"ImageFolder archive {path}", path)
    raise DataNotFoundError(f"{path} holds neither CIFAR-10's pickle batches nor a "
                            f"<train|test>/<class>/<image> tree.\n" + HOW_TO_GET_DATA)
