"""In-memory image datasets (`ImageData`, `DataSplits`) and their on-disk tensor cache.

Every loader in `patchlib.data` returns the whole dataset as uint8 tensors: CIFAR-10 is 184 MB
that way, small enough to keep in memory (or on a GPU) and to index batches from directly,
with no DataLoader workers. Decoding images is the slow part, so a decoded dataset is saved
once as a `.pt` file in the cache directory and read back on later calls.
"""
from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

# Bump when the decoding changes, so that caches written by older code are not reused.
CACHE_FORMAT_VERSION = 1


def fingerprint_tensors(images: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> str:
    """Short SHA-256 (16 hex digits) of the exact content: shape, pixels, labels, class names.

    Hashes bytes in a fixed layout (C-contiguous uint8 pixels, little-endian int64 labels), so
    identical data gives the identical fingerprint on any machine.
    """
    digest = hashlib.sha256()
    digest.update(repr((tuple(images.shape), list(classes))).encode())
    digest.update(images.detach().cpu().contiguous().numpy().tobytes())
    digest.update(labels.detach().cpu().to(torch.int64).numpy().astype("<i8").tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class ImageData:
    """A labelled image dataset held in memory.

    images: uint8 [N, 3, H, W]; labels: int64 [N] indexing `classes`; name: short dataset id
    ("cifar10", "shapes10"); source: where the pixels came from and in which format;
    fingerprint: `fingerprint_tensors` of the content, which identifies the exact data in
    result files.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str
    source: str
    fingerprint: str

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 [N, C, H, W], got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must be int64 [{len(self.images)}], got {self.labels.dtype} "
                             f"{tuple(self.labels.shape)}")

    @classmethod
    def from_tensors(cls, images: torch.Tensor, labels: torch.Tensor, classes: list[str], *,
                     name: str, source: str) -> ImageData:
        """Build an ImageData, computing its fingerprint from the content."""
        return cls(images, labels, list(classes), name, source, fingerprint_tensors(images, labels, classes))

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"ImageData(name={self.name!r}, n={len(self)}, image_shape={tuple(self.images.shape[1:])}, "
                f"classes={len(self.classes)}, fingerprint={self.fingerprint!r}, source={self.source!r})")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device: str | torch.device) -> ImageData:
        """The same data with its tensors on `device` (the fingerprint is unchanged)."""
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def subset(self, n: int, seed: int = 0) -> ImageData:
        """A class-balanced random subset of `n` images, deterministic in `seed`.

        Images are drawn round-robin over the classes (one random image of each class, then a
        second of each, ...), so every class gets n // num_classes or one more while it has
        images left. The chosen images keep their original order. The fingerprint is that of
        the subset's content.
        """
        if not 0 < n <= len(self):
            raise ValueError(f"subset size must be in 1..{len(self)}, got {n}")
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self), generator=generator)
        shuffled_labels = self.labels.cpu()[order]
        one_hot = torch.nn.functional.one_hot(shuffled_labels, self.num_classes)
        rank_in_class = (one_hot.cumsum(0) * one_hot).sum(1) - 1  # 0 for a class's first image in `order`
        round_robin = torch.argsort(rank_in_class * self.num_classes + shuffled_labels, stable=True)
        chosen = order[round_robin[:n]].sort().values.to(self.images.device)
        return ImageData.from_tensors(
            self.images[chosen], self.labels[chosen], self.classes, name=self.name,
            source=f"{self.source}; class-balanced subset of {n} (seed {seed})")


@dataclass(frozen=True)
class DataSplits:
    """The train and test split of one dataset."""

    train: ImageData
    test: ImageData


# A write that ran out of room: the disk is full (ENOSPC) or the user's quota is used up (EDQUOT).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
CACHE_SPACE_FIX = "free space on that disk, or set PATCHLIB_CACHE to a folder on a disk with room"


class NoSpaceError(OSError):
    """A write ran out of disk space or quota; the message names the path and the fix."""


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` is an OSError saying the disk (or the user's quota) is full."""
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS


def no_space_error(path: str | Path, error: OSError, fix: str = CACHE_SPACE_FIX) -> NoSpaceError:
    """A NoSpaceError (same errno as `error`) saying that no space is left at `path`, and `fix`."""
    return NoSpaceError(error.errno, f"no space left at {path} ({error.strerror or error}): {fix}")


def cache_dir() -> Path:
    """Where decoded datasets are cached: $PATCHLIB_CACHE, else ~/.cache/patchlib/data."""
    return Path(os.environ.get("PATCHLIB_CACHE") or Path.home() / ".cache" / "patchlib" / "data")


def cache_path(name: str, source_identity: object) -> Path:
    """Cache file for a dataset decoded from the source described by `source_identity`.

    `source_identity` is any repr-able description that changes when the source changes
    (e.g. paths with their sizes and modification times).
    """
    key = hashlib.sha256(repr((CACHE_FORMAT_VERSION, source_identity)).encode()).hexdigest()[:16]
    return cache_dir() / f"{name}-{key}.pt"


def _to_record(data: ImageData) -> dict:
    return {"images": data.images, "labels": data.labels, "classes": list(data.classes),
            "name": data.name, "source": data.source, "fingerprint": data.fingerprint}


def save_splits(splits: DataSplits, path: Path) -> None:
    """Write `splits` to `path` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"version": CACHE_FORMAT_VERSION, "train": _to_record(splits.train), "test": _to_record(splits.test)}
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(handle)
    try:
        torch.save(record, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; the cache follows the user's umask
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_splits(path: Path) -> DataSplits:
    """Read splits written by `save_splits`; raises if the file is unreadable or malformed."""
    record = torch.load(path, map_location="cpu", weights_only=True)
    if record.get("version") != CACHE_FORMAT_VERSION:
        raise ValueError(f"cache format {record.get('version')} != {CACHE_FORMAT_VERSION}")
    return DataSplits(train=ImageData(**record["train"]), test=ImageData(**record["test"]))


def cached_splits(path: Path, build: Callable[[], DataSplits]) -> DataSplits:
    """Splits from the cache file `path` if it is readable, else `build()` them and cache them.

    A corrupt or outdated cache file is reported with a warning and rebuilt. When the cache file
    cannot be written (a full disk: torch.save then raises RuntimeError from its zip writer, or
    OSError), the built splits are returned uncached, with a warning.
    """
    if path.exists():
        try:
            return load_splits(path)
        except Exception as error:  # noqa: BLE001  (any unreadable file is simply rebuilt)
            warnings.warn(f"ignoring unreadable data cache {path} ({type(error).__name__}: {error}); rebuilding it",
                          stacklevel=3)
    splits = build()
    try:
        save_splits(splits, path)
    except (OSError, RuntimeError) as error:
        warnings.warn(f"could not write data cache {path} ({type(error).__name__}: {error}); the data is used "
                      "but not cached, so it will be decoded again next time: free space on that disk (or make "
                      "the folder writable), or set PATCHLIB_CACHE to a folder on a disk with room", stacklevel=3)
    return splits
