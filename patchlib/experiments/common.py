"""The chapter skeleton: what every chapter's experiment does the same way.

Each chapter module reads top to bottom as: `PAPER` values (with sources), `SIZES` per profile,
config builders, `run()`, claims. `run()` has one signature everywhere,

    run(profile="smoke", *, seed=0, device="auto", data_root=None, results_dir=None, force=False,
        progress=True) -> dict

resolves a `ChapterRun` once, computes (or loads) one cached record per piece with
`ctx.record(...)`, writes the chapter's `claims.json`, and returns the records indexed for the
figures (plus "claims"). `force` is True (recompute every piece) or a set of piece names.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import torch

from ..claims import Claim, write_claims
from ..data import DataSplits, load_dataset
from ..profiles import get_profile
from ..results import default_results_dir, result_path, run_or_load
from ..runtime import resolve_device

EMBEDDED_DATA_SEED = 0  # seed of the synthetic data and of data subsets, whatever the training seed

# Source files every trained result depends on (a chapter adds its model files): a change to any
# of them marks the chapter's records as computed with older code (`patchlib.results.stale_files`).
CORE_CODE = ("patchlib/layers.py", "patchlib/train.py", "patchlib/runtime.py", "patchlib/measure.py",
             "patchlib/data/augment.py", "patchlib/data/cache.py", "patchlib/data/cifar.py",
             "patchlib/data/synthetic.py")


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return seed


@dataclass(kw_only=True)
class ChapterRun:
    """One chapter's run context, resolved once by `ChapterRun.resolve` (see the module docstring)."""

    chapter: str
    profile: str
    size: object                     # the chapter's SIZES[profile]
    seed: int
    device: torch.device
    data_root: Path | None
    results_dir: Path
    force: bool | frozenset[str]
    progress: bool
    pieces: tuple[str, ...]
    code: tuple[str, ...]
    prepare: Callable | None = None  # prepare(data, size) -> data: a chapter's fixed preprocessing (FlexiViT upsamples)
    device_requested: str = "auto"   # what the caller asked for: the gpu profile computes on a CPU only if asked by name
    _data: dict = field(default_factory=dict, repr=False)

    @classmethod
    def resolve(cls, *, chapter: str, sizes: Mapping, pieces: Iterable[str], code: Iterable[str], profile: str,
                seed: int = 0, device="auto", data_root=None, results_dir=None, force: bool | Iterable[str] = False,
                progress: bool = True, prepare: Callable | None = None) -> ChapterRun:
        """Validate the run's parameters (each error names the parameter) and fix them for the run."""
        profile = get_profile(profile).name
        pieces = tuple(pieces)
        if not isinstance(force, bool):
            if isinstance(force, str):
                force = {force}
            force = frozenset(force)
            if force - set(pieces):
                raise ValueError(f"force: unknown piece(s) {sorted(force - set(pieces))} of the {chapter} chapter; "
                                 f"use True, False or a set of {', '.join(pieces)}")
        root = Path(data_root).expanduser() if data_root is not None else None
        return cls(chapter=chapter, profile=profile, size=sizes[profile], seed=check_seed(seed),
                   device=resolve_device(device), data_root=root,
                   results_dir=Path(results_dir) if results_dir is not None else default_results_dir(),
                   force=force, progress=bool(progress), pieces=pieces, code=tuple(code), prepare=prepare,
                   device_requested="auto" if device is None else str(device))

    def profile_dataset(self) -> str:
        """The dataset of this run's profile ("shapes10", "cifar10")."""
        return get_profile(self.profile).dataset

    def forced(self, piece: str) -> bool:
        """Whether `piece` must be recomputed even when a stored record exists."""
        if piece not in self.pieces:
            raise ValueError(f"unknown piece {piece!r} of the {self.chapter} chapter")
        return self.force is True or (not isinstance(self.force, bool) and piece in self.force)

    def data(self, n_train: int | None = None, n_test: int | None = None) -> DataSplits:
        """The profile's dataset cut to `n_train` / `n_test` images (None: all), loaded once per run."""
        key = (n_train, n_test)
        if key not in self._data:
            data = load_profile_data(self.profile, data_root=self.data_root, n_train=n_train, n_test=n_test)
            self._data[key] = self.prepare(data, self.size) if self.prepare else data
        return self._data[key]

    def config(self, name: str, **entries) -> dict:
        """A record's configuration: chapter, name, profile and seed, then the piece's own entries."""
        return {"chapter": self.chapter, "name": name, "profile": self.profile, "seed": self.seed} | entries

    def record(self, piece: str, config: dict, compute: Callable, *, uses_data: bool = True,
               force: bool = False) -> dict:
        """The stored record for `config`, or `compute`'s result stored as one.

        The piece is recomputed when the run forces it or `force` is True (a chapter whose stored
        record lost the checkpoint it needs). With `uses_data`, `compute(data)` gets the profile's data cut to the config's `n_train` /
        `n_test`, loaded only when a record has to be computed (a stored record needs no data),
        and the data's identity goes into the provenance; otherwise `compute()` takes nothing.
        """
        def computed() -> dict:
            self.check_device()
            check_checkpoint(self.checkpoint(config))  # a resumable run's checkpoint must be readable
            if not uses_data:
                return compute()
            data = self.data(config.get("n_train"), config.get("n_test"))
            return compute(data) | {"data": data_identity(data, self.data_root)}

        if not (force or self.forced(piece)):
            return run_or_load(config, computed, code=self.code, results_dir=self.results_dir, device=self.device)
        # Forced: train from scratch. The piece's own checkpoint is set aside (not resumed) and is
        # deleted only once the new record is written; it is put back if the computation fails.
        checkpoint = self.checkpoint(config)
        aside = checkpoint.with_name(checkpoint.name + ".replaced")
        if checkpoint.exists():
            os.replace(checkpoint, aside)
        try:
            record = run_or_load(config, computed, code=self.code, results_dir=self.results_dir, force=True,
                                 device=self.device)
        except BaseException:
            if aside.exists() and not checkpoint.exists():
                os.replace(aside, checkpoint)
            raise
        aside.unlink(missing_ok=True)
        return record

    def checkpoint(self, config: dict) -> Path:
        return checkpoint_path(config, self.results_dir)

    def check_device(self) -> None:
        """The gpu profile computes on a GPU. Without CUDA it is refused (it would run for days
        without a word) unless the caller named a non-CUDA device; stored records still load."""
        if self.profile == "gpu" and self.device.type != "cuda" and self.device_requested == "auto":
            raise RuntimeError(f"the gpu profile of the {self.chapter} chapter trains for hours on a GPU (days on a "
                               f"CPU), and this machine has no CUDA device ({self.device} was found); nothing was "
                               "computed. Run it on a GPU machine, or ask for this device by name to run it anyway "
                               "(device='cpu' in run() or the notebook, DEVICE=cpu with make)")

    def source(self, record: dict) -> str:
        """The record's file, relative to the results folder, for evidence strings."""
        return record_source(record)

    def write_claims(self, claims: list[Claim]) -> list[Claim]:
        write_claims(self.chapter, claims, results_dir=self.results_dir, profile=self.profile)
        return claims


def record_source(record: dict) -> str:
    """A record's file, relative to the results folder (for evidence strings outside a run)."""
    return f"results/{record['config']['chapter']}/{record['config']['name']}-{record['config_hash']}.json"


def load_profile_data(profile: str, *, data_root=None, n_train: int | None = None,
                      n_test: int | None = None) -> DataSplits:
    """The dataset of `profile`, cut to `n_train` / `n_test` images (None: all of it)."""
    sizes = {key: value for key, value in (("n_train", n_train), ("n_test", n_test)) if value is not None}
    return load_dataset(get_profile(profile).dataset, data_root, seed=EMBEDDED_DATA_SEED, **sizes)


def relative_to_data_root(text: str, data_root: Path | None) -> str:
    """`text` with the data root (and any other absolute path) replaced by `<data root>/...`:
    records and the book never hold a machine's paths."""
    roots = [Path(data_root).expanduser()] if data_root is not None else []
    if os.environ.get("PATCHLIB_DATA"):
        roots.append(Path(os.environ["PATCHLIB_DATA"]).expanduser())
    for root in roots:
        for form in {str(root), str(root.resolve())}:
            text = text.replace(form.rstrip("/") + "/", "<data root>/")
    return re.sub(r"(?<![\w<>.])/(?:[^\s/;,()]+/)+([^\s/;,()]+)", r"<data root>/\1", text)


def data_identity(data: DataSplits, data_root: Path | None = None) -> dict:
    """The dataset part of a result's provenance (no absolute paths)."""
    return {"name": data.train.name, "source": relative_to_data_root(data.train.source, data_root),
            "fingerprint": f"{data.train.fingerprint}-{data.test.fingerprint}",
            "n_train": len(data.train), "n_test": len(data.test)}


class CheckpointError(ValueError):
    """A training checkpoint that cannot be resumed from; the message names the file and the fix."""


CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "epoch", "config", "history", "train_time_s")


def check_checkpoint(path: Path) -> dict | None:
    """The checkpoint at `path` (None if there is none), checked to be one `patchlib.train` wrote.
    A truncated or foreign file raises `CheckpointError` naming it, instead of a pickle error
    from deep inside training."""
    path = Path(path)
    if not path.exists():
        return None
    problem = None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many kinds for a damaged file (pickle, zip, EOF, runtime)
        problem = f"cannot be loaded ({type(error).__name__}: {error})"
    else:
        missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
        problem = f"is not a patchlib training checkpoint (missing: {', '.join(missing)})" if missing else None
    if problem:
        raise CheckpointError(f"checkpoint {path} {problem}; delete it to train from scratch "
                              "(it only holds an unfinished or finished run's weights; results are kept elsewhere)")
    return state


def checkpoint_path(config: dict, results_dir=None) -> Path:
    """Where a run's training checkpoint lives: next to its result, under `checkpoints/` (not committed)."""
    path = result_path(config, results_dir)
    return path.parent / "checkpoints" / (path.stem + ".pt")
