"""Datasets as in-memory uint8 tensors, and cheap batched augmentation.

`load_dataset(name, data_root)` is the one entry point the notebooks use:

* "shapes10": the procedurally drawn dataset of `patchlib.data.synthetic` (no files needed).
* "cifar10": real CIFAR-10 from the data root (argument, else $PATCHLIB_DATA); see
  `patchlib.data.cifar` for the accepted layouts. Missing data is an error, never a silent
  switch to synthetic data.
"""
from __future__ import annotations

from pathlib import Path

from .augment import CIFAR10_MEAN, CIFAR10_STD, iterate_batches, normalize, rand_augment, random_crop_flip
from .cache import DataSplits, ImageData
from .cifar import CIFAR10_CLASSES, DataNotFoundError, load_cifar10
from .resize import upsample_images, upsample_splits
from .synthetic import SHAPES10_CLASSES, make_shapes10

DATASETS = ("cifar10", "shapes10")

__all__ = ["CIFAR10_CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "DATASETS", "DataNotFoundError", "DataSplits",
           "ImageData", "SHAPES10_CLASSES", "iterate_batches", "load_dataset", "make_shapes10", "normalize",
           "rand_augment", "random_crop_flip", "upsample_images", "upsample_splits"]


def load_dataset(name: str, data_root: str | Path | None = None, *, download: bool = False, seed: int = 0,
                 **kwargs) -> DataSplits:
    """Train and test splits of dataset `name`.

    shapes10: kwargs n_train, n_test, image_size are passed to `make_shapes10`; `seed` picks the
    draw; data_root and download are ignored.
    cifar10: read from `data_root` (else $PATCHLIB_DATA), fetched there first with torchvision's
    downloader if download=True and no copy is found. Optional kwargs n_train / n_test take
    class-balanced subsets (`ImageData.subset`, with `seed`). Raises DataNotFoundError (a
    FileNotFoundError) listing the paths looked at when the data is missing.
    """
    if name == "shapes10":
        return make_shapes10(seed=seed, **kwargs)
    if name == "cifar10":
        unknown = set(kwargs) - {"n_train", "n_test"}
        if unknown:
            raise TypeError(f"load_dataset('cifar10') got unexpected arguments {sorted(unknown)}")
        splits = load_cifar10(data_root, download=download)
        n_train, n_test = kwargs.get("n_train"), kwargs.get("n_test")
        return DataSplits(train=splits.train if n_train is None else splits.train.subset(n_train, seed),
                          test=splits.test if n_test is None else splits.test.subset(n_test, seed))
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
