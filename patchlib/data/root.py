"""Where the datasets are: the one data root that CIFAR-10, COCO and every other real dataset are
found under, and the error that says a dataset is missing."""
from __future__ import annotations

import os
from pathlib import Path

DATA_ROOT_ENV = "PATCHLIB_DATA"


class DataNotFoundError(FileNotFoundError):
    """The requested real dataset is not on disk. The message lists where we looked."""


# The project's own data folder (git-ignored contents, see data/README.md): the data root when
# neither the argument nor $PATCHLIB_DATA names one.
DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / "data"


def resolve_data_root(data_root: str | Path | None) -> Path:
    """The data root: the argument if given, else $PATCHLIB_DATA, else the repository's `data/`."""
    if data_root is None:
        data_root = os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(data_root).expanduser()
