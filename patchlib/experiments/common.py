"""What every chapter's experiment does the same way: data for a profile, checkpoints, and
the rule for when committed results may stand in for missing data."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..data import DataNotFoundError, DataSplits, load_dataset
from ..profiles import get_profile
from ..results import default_results_dir, load_result, result_path, run_or_load

EMBEDDED_DATA_SEED = 0  # seed of the synthetic data and of data subsets, whatever the training seed


def load_profile_data(profile: str, *, data_root=None, n_train: int | None = None,
                      n_test: int | None = None) -> DataSplits:
    """The dataset of `profile`, cut to `n_train` / `n_test` images (None: all of it)."""
    sizes = {key: value for key, value in (("n_train", n_train), ("n_test", n_test)) if value is not None}
    return load_dataset(get_profile(profile).dataset, data_root, seed=EMBEDDED_DATA_SEED, **sizes)


def data_identity(data: DataSplits) -> dict:
    """The dataset part of a result's provenance."""
    return {"name": data.train.name, "source": data.train.source,
            "fingerprint": f"{data.train.fingerprint}-{data.test.fingerprint}",
            "n_train": len(data.train), "n_test": len(data.test)}


def checkpoint_path(config: dict, results_dir=None) -> Path:
    """Where a run's training checkpoint lives: next to its result, under `checkpoints/` (not committed)."""
    path = result_path(config, results_dir)
    return path.parent / "checkpoints" / (path.stem + ".pt")


def run_experiment(config: dict, compute: Callable[[DataSplits], dict], *, load_data: Callable[[], DataSplits],
                   results_dir=None, force: bool = False, device: str | torch.device = "cpu") -> dict:
    """Load the data, then return the cached record for `config` or compute it.

    Without the data, a stored result for exactly this configuration is still returned
    (the book is built from committed results); with no such result, the data error stands.
    A stored result computed on different data than what is present is recomputed.
    """
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    try:
        data = load_data()
    except DataNotFoundError:
        record = None if force else load_result(result_path(config, results_dir), config)
        if record is None:
            raise
        return record
    identity = data_identity(data)
    return run_or_load(config, lambda: compute(data) | {"data": identity}, results_dir=results_dir,
                       force=force, data_fingerprint=identity["fingerprint"], device=device)
