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

import contextlib
import contextvars
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import torch

from .. import distributed
from ..claims import Claim, write_claims
from ..data import DataNotFoundError, DataSplits, load_dataset
from ..fingerprint import Migration, fingerprint_record
from ..measure import TRAINING_OBSERVER
from ..profiles import get_profile
from ..results import default_results_dir, load_result, record_source, result_path, run_or_load, stale_code
from ..runtime import resolve_device

EMBEDDED_DATA_SEED = 0  # seed of the synthetic data and of data subsets, whatever the training seed

# A dry run (`dry_run=True`, `make reproduce PROFILE=gpu DRY_RUN=1`) builds a profile's models and
# data pipeline at full size but takes a few optimisation steps on a handful of images: every field
# of a chapter's Size is shrunk by its type below (epochs 1, small batches, DRY_RUN_IMAGES images),
# then by the chapter's own `DRY_RUN` overrides (e.g. fewer token counts to time).
DRY_RUN_IMAGES = 16
DRY_RUN_NOTE = ("DRY RUN: full-size models and data pipeline, but one epoch of a few optimisation steps on a "
                "handful of images; the numbers mean nothing")

# While a `Migration` is active (`python -m patchlib.fingerprint migrate`), every stored record a
# chapter loads is re-fingerprinted from the source at its recorded revision (never recomputed).
_MIGRATION: contextvars.ContextVar[Migration | None] = contextvars.ContextVar("migration", default=None)


@contextlib.contextmanager
def migrating(migration: Migration):
    token = _MIGRATION.set(migration)
    try:
        yield migration
    finally:
        _MIGRATION.reset(token)


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
    force: bool | frozenset[str] | str  # True, a set of piece names, or RECOMPUTE_STALE
    progress: bool
    pieces: tuple[str, ...]
    prepare: Callable | None = None  # prepare(data, size) -> data: a chapter's fixed preprocessing (FlexiViT upsamples)
    device_requested: str = "auto"   # what the caller asked for: the gpu profile computes on a CPU only if asked by name
    dry_run: bool = False            # see DRY_RUN_NOTE; its records carry "dry_run": True and live apart
    full_size: object = None         # the profile's Size before a dry run shrinks it (the cost report's full run)
    dry_run_overridden: tuple[str, ...] = ()  # the Size fields the chapter's DRY_RUN overrides set
    derived_configs: tuple[Callable, ...] = ()  # size -> TrainConfig: training settings a chapter derives (full_config)
    cost_reports: list = field(default_factory=list, repr=False)  # `report_training_cost`'s, in order
    _data: dict = field(default_factory=dict, repr=False)
    _computing: str | None = field(default=None, repr=False)  # the record being computed (for the cost report)
    _pipeline_rates: dict = field(default_factory=dict, repr=False)  # measured once per pipeline (cost report)

    @classmethod
    def resolve(cls, *, chapter: str, sizes: Mapping, pieces: Iterable[str], profile: str, 
                seed: int = 0, device="auto", data_root=None, results_dir=None, force: bool | Iterable[str] = False,
                progress: bool = True, prepare: Callable | None = None, dry_run: bool = False,
                dry_run_overrides: Mapping | None = None, derived_configs: Iterable[Callable] = ()) -> ChapterRun:
        """Validate the run's parameters (each error names the parameter) and fix them for the run."""
        profile = get_profile(profile).name
        if not isinstance(dry_run, bool):
            raise ValueError(f"dry_run must be True or False, got {dry_run!r}")
        size = dry_run_size(sizes[profile], dry_run_overrides or {}) if dry_run else sizes[profile]
        if results_dir is None and dry_run:
            results_dir = dry_run_results_dir()
        pieces = tuple(pieces)
        if not isinstance(force, bool) and force != RECOMPUTE_STALE:
            if isinstance(force, str):
                force = {force}
            force = frozenset(force)
            if force - set(pieces):
                raise ValueError(f"force: unknown piece(s) {sorted(force - set(pieces))} of the {chapter} chapter; "
                                 f"use True, False, {RECOMPUTE_STALE!r} or a set of {', '.join(pieces)}")
        root = Path(data_root).expanduser() if data_root is not None else None
        return cls(chapter=chapter, profile=profile, size=size, full_size=sizes[profile], seed=check_seed(seed),
                   device=resolve_device(device), data_root=root,
                   results_dir=Path(results_dir) if results_dir is not None else default_results_dir(),
                   force=force, progress=bool(progress) and distributed.is_main(), pieces=pieces, prepare=prepare,
                   device_requested="auto" if device is None else str(device), dry_run=dry_run,
                   dry_run_overridden=tuple(dry_run_overrides or ()) if dry_run else (),
                   derived_configs=tuple(derived_configs))

    @property
    def seeds(self) -> list[int]:
        """The seeds of the chapter's seeded runs: its own seed first, then seed + 1, ... (`size.seeds`
        of them; one for a size without that field)."""
        return [self.seed + i for i in range(getattr(self.size, "seeds", 1))]

    def profile_dataset(self) -> str:
        """The dataset of this run's profile ("shapes10", "cifar10")."""
        return get_profile(self.profile).dataset

    def forced(self, piece: str) -> bool:
        """Whether `piece` must be recomputed even when a stored record exists."""
        if piece not in self.pieces:
            raise ValueError(f"unknown piece {piece!r} of the {self.chapter} chapter")
        return self.force is True or (isinstance(self.force, frozenset) and piece in self.force)

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
        config = self.marked(config)

        def computed() -> dict:
            self.check_device()
            check_checkpoint(self.checkpoint(config))  # a resumable run's checkpoint must be readable
            if self.progress:
                print(f"{self.chapter}: computing {plan_line(config)} on {self.device}", flush=True)
            with results_lock(self.results_dir / self.chapter), self.observing_training(config["name"]):
                if not uses_data:
                    return compute()
                data = self.data(config.get("n_train"), config.get("n_test"))
                identity = data_identity(data, self.data_root)
                checkpoint = self.checkpoint(config)
                keep_checkpoint_with_its_data(checkpoint, identity["fingerprint"], progress=self.progress)
                result = compute(data) | {"data": identity}
                if not checkpoint.exists():  # a piece that keeps no checkpoint keeps no note of one
                    with distributed.main_writes() as writer:
                        if writer:
                            data_note_path(checkpoint).unlink(missing_ok=True)
                return result

        extra = (load_profile_data, self.prepare) if uses_data else ()

        def definitions() -> dict:
            return fingerprint_record(compute, config, extra)

        path = result_path(config, self.results_dir)
        stored = path.exists()
        restore_interrupted_replacement(self.checkpoint(config), progress=self.progress)
        migration = _MIGRATION.get()
        if stored and migration is not None:
            migration.visit(path, load_result(path, config), compute, extra)
        if stored and self.force == RECOMPUTE_STALE and not force:
            force = self.out_of_date(load_result(path, config), uses_data)
        if not (force or self.forced(piece)):
            record = run_or_load(config, computed, definitions=definitions, results_dir=self.results_dir,
                                 device=self.device)
            note = self.data_note(record) if stored and uses_data else None
            return record | {"data_note": note} if note else record
        # Forced: train from scratch. The piece's own checkpoint (and the note of its data) is set
        # aside, not resumed, and deleted only once the new record is written; it is put back if the
        # computation fails.
        checkpoint = self.checkpoint(config)
        moved = [(kept, replaced_path(kept)) for kept in (checkpoint, data_note_path(checkpoint))]
        with distributed.main_writes() as writer:
            for kept, aside in moved:
                if writer and kept.exists():
                    os.replace(kept, aside)
        try:
            record = run_or_load(config, computed, definitions=definitions, results_dir=self.results_dir, force=True,
                                 device=self.device)
        except BaseException:
            for kept, aside in moved:
                if distributed.is_main() and aside.exists():
                    os.replace(aside, kept)
            raise
        with distributed.main_writes() as writer:
            for _, aside in moved:
                if writer:
                    aside.unlink(missing_ok=True)
        return record

    def data_note(self, record: dict) -> str | None:
        """None when the data found here is the data `record` was computed on, or when there is no
        data here to compare with (the stored record is then all there is); otherwise a note saying
        so, which the book shows with the record. Never recomputes anything."""
        stored = (record.get("provenance", {}).get("data") or {})
        if not stored.get("fingerprint"):
            return None
        config = record["config"]
        try:
            data = self.data(config.get("n_train"), config.get("n_test"))
        except DataNotFoundError:
            return None
        except Exception as error:  # a damaged copy must not block the use of stored results
            return (f"the data found here could not be read to compare it with the stored result's "
                    f"({type(error).__name__}: {error}); the stored result is shown")
        ours = data_identity(data, self.data_root)
        if ours["fingerprint"] == stored["fingerprint"]:
            return None
        return (f"computed on data {stored['fingerprint']} ({stored.get('source')}); the data found here is "
                f"{ours['fingerprint']} ({ours['source']}). The stored result is shown; recompute it on your data "
                f"with force=True, or RECOMPUTE=stale with make")

    def out_of_date(self, record: dict | None, uses_data: bool) -> bool:
        """Whether a stored record was computed with other code or (where data is found) other data."""
        if record is None:
            return True
        return bool(stale_code(record)) or bool(uses_data and self.data_note(record))

    def checkpoint(self, config: dict) -> Path:
        return checkpoint_path(self.marked(config), self.results_dir)

    def marked(self, config: dict) -> dict:
        """`config` as stored: a dry run's records say so (and so never share a hash with real ones)."""
        return config | {"dry_run": True} if self.dry_run else config

    def check_device(self) -> None:
        """The gpu profile computes on a GPU. Without CUDA it is refused (it would run for days
        without a word) unless the caller named a non-CUDA device; stored records still load."""
        if self.profile == "gpu" and self.device.type != "cuda" and self.device_requested == "auto" and not self.dry_run:
            raise RuntimeError(f"the gpu profile of the {self.chapter} chapter trains for hours on a GPU (days on a "
                               f"CPU), and this machine has no CUDA device ({self.device} was found); nothing was "
                               "computed. Run it on a GPU machine, or ask for this device by name to run it anyway "
                               "(device='cpu' in run() or the notebook, DEVICE=cpu with make)")

    def source(self, record: dict) -> str:
        """The record's file, relative to the results folder, for evidence strings."""
        return record_source(record)

    def write_claims(self, claims: list[Claim]) -> list[Claim]:
        write_claims(self.chapter, claims, results_dir=self.results_dir, profile=self.profile)
        if self.cost_reports:
            text = describe_chapter_cost(self.chapter, self.cost_reports)
            if self.dry_run_overridden:
                text += (" (the chapter's dry-run overrides, which may leave out runs the full run makes: "
                         + "; ".join(_override_note(name, getattr(self.size, name), getattr(self.full_size, name))
                                     for name in self.dry_run_overridden) + ")")
            print(text, flush=True)
        return claims

    # ---- the gpu profile's cost report (issue 26): printed, never stored in a record ----

    @contextlib.contextmanager
    def observing_training(self, name: str):
        """While record `name` computes in the gpu profile (or its dry run), every training run
        (`patchlib.train.fit`, through `measure.TRAINING_OBSERVER`) is first costed and reported
        (`report_training_cost`). Elsewhere, nothing."""
        if self.profile != "gpu" or not distributed.is_main():
            yield
            return
        token, outer = TRAINING_OBSERVER.set(self.report_training_cost), self._computing
        self._computing = name
        try:
            yield
        finally:
            TRAINING_OBSERVER.reset(token)
            self._computing = outer

    def report_training_cost(self, model, task, device) -> dict:
        """Measure, print and keep (`cost_reports`) what the training run of `task` costs at the
        profile's full size: `training_cost`, measured once per model and training config (further
        seeds of a run reuse it). torch's RNG is left as it was, the model untouched."""
        device = torch.device(device)
        loss = getattr(task, "loss_fn", None)  # an objective of the chapter's (FlexiViT's distillation adds a teacher)
        key = (type(model).__name__, repr(getattr(model, "config", None)), repr(task.config), str(device),
               getattr(loss, "__qualname__", None))
        measured = next((r for r in self.cost_reports if r["key"] == key), None)
        if measured is None:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                measured = training_cost(model, task, device, full_config=self.full_config(task.config),
                                         full_images=self.full_training_images(task), timed_full_batch=not (
                                             self.dry_run and device.type != "cuda"),
                                         pipeline_rates=self._pipeline_rates) | {"key": key}
        report = measured | {"record": self._computing, "dry_run": self.dry_run,
                             "measured_for": measured.get("measured_for") or measured.get("record")}
        self.cost_reports.append(report)
        print(describe_training_cost(report), flush=True)
        return report

    def full_config(self, config):
        """The full-size training config a dry run's `config` stands for (itself outside a dry run):
        the Size field whose dry-run version it equals, else the chapter's derived config (`derived_configs`,
        each a function of a Size) whose dry-run version it equals; None if none does."""
        if not self.dry_run:
            return config
        from dataclasses import fields

        for f in fields(self.size):
            value = getattr(self.size, f.name)
            if type(value) is type(config) and value == config:
                return getattr(self.full_size, f.name)
        for derive in self.derived_configs:
            if derive(self.size) == config:
                return derive(self.full_size)
        return None

    def full_training_images(self, task) -> int | None:
        """Training images per epoch of the full-size run: the task's own outside a dry run; in one,
        the whole training set of the profile's data (FULL_TRAINING_SET) when the full Size takes all
        of it (its training-subset fields are None), else None (not estimated)."""
        if not self.dry_run:
            return task.steps_per_epoch * task.config.batch_size
        from dataclasses import fields

        subsets = [f.name for f in fields(self.full_size) if f.name in ("n_train", "n_finetune", "max_people")
                   or f.name.endswith("_n_train")]
        if any(getattr(self.full_size, name) is not None for name in subsets):
            return None
        return FULL_TRAINING_SET.get(getattr(self.full_size, "dataset", None) or self.profile_dataset())


RECOMPUTE_STALE = "stale"  # force="stale": recompute only records computed with other code or data


# ---- the cost report ----

# Training-set sizes of the gpu profile's data, for a dry run's estimate of the full run (every gpu Size
# trains on the whole training set). COCO: train2017's people with keypoints as mmpose counts them ("load
# 149813 samples" in its top-down COCO training logs; not among the project's sourced values).
FULL_TRAINING_SET = {"cifar10": 50_000, "coco": 149_813}
PIPELINE_MARGIN = 1.5  # the input pipeline should deliver this many times the modelled GPU step rate (issue 26)


def training_cost(model, task, device: torch.device, *, full_config, full_images: int | None,
                  timed_full_batch: bool = True, pipeline_rates: dict | None = None) -> dict:
    """What a training run costs, measured before it starts:

    - FLOPs of one training image (forward and backward, counted on a step of the task's own
      `training_step`, `measure.time_training_step`), and of the full run (`full_config`'s epochs of
      `full_images` images, drop-last batches);
    - the images/s the input pipeline sustains here: the config's augmentation on a full-size batch of
      the task's images (`measure.augmentation_images_per_s`), or the pose loader with the full
      config's workers (`measure.loader_images_per_s`);
    - the time of one step on `device`, at the full batch (`timed_full_batch`) or at the task's own
      (a dry run off a GPU: scaled per image), and so of the full run here;
    - the full run modelled on an H100 (`measure.modelled_gpu_seconds`) and the pipeline's margin
      over that step rate.
    Evaluation is not included. `pipeline_rates` keeps the pipelines measured (a chapter's runs share them).
    """
    from .. import measure
    from ..runtime import device_name
    from ..train import EpochStreams

    streams = EpochStreams(*(torch.Generator().manual_seed(i) for i in range(3)))
    batch = next(iter(task.batches(0, streams)))
    full_batch = full_config.batch_size if full_config is not None else task.config.batch_size
    timed_batch = measure.repeat_batch(batch, full_batch) if timed_full_batch else batch
    timed = measure.time_training_step(task, model, timed_batch, device=device,
                                       repeats=3 if device.type == "cuda" else 1)
    seconds_per_image = timed["seconds_per_step"] / timed["batch_size"]
    rates = {} if pipeline_rates is None else pipeline_rates
    if hasattr(task.config, "augment"):   # classification: the named augmentation of in-memory images
        pipeline_name = task.config.augment
        images = measure.repeat_batch(batch[0], full_batch)
        key = (pipeline_name, tuple(images.shape), str(device))
        if key not in rates:
            rates[key] = measure.augmentation_images_per_s(images, pipeline_name, device=device)
    elif hasattr(task, "train_set"):      # pose: decoding and warping crops in DataLoader workers
        workers = full_config.num_workers if full_config is not None else task.config.num_workers
        pipeline_name = f"pose crops, {workers} worker(s)"
        key = (str(getattr(task.train_set, "annotations", "")), len(task.train_set), workers, str(device))
        if key not in rates:
            rates[key] = measure.loader_images_per_s(task.train_set, batch_size=min(full_batch, 8),
                                                     num_workers=workers, device=device,
                                                     items=16 * max(1, workers))  # 2 batches a worker
    else:
        pipeline_name, key = "not measured (unknown task)", None
    pipeline = rates.get(key)
    report = {"model": type(model).__name__, "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
              "device": str(device), "device_name": device_name(device), "flops_per_image": timed["flops_per_image"],
              "timed_batch": timed["batch_size"], "seconds_per_step": timed["seconds_per_step"],
              "pipeline": pipeline_name, "pipeline_images_per_s": pipeline,
              "epochs": None if full_config is None else full_config.epochs, "batch_size": full_batch,
              "images_per_epoch": None, "total_flops": None, "seconds_here": None, "modelled_h100_s": None,
              "pipeline_margin": None}
    if full_config is not None and full_images is not None:
        images = full_config.epochs * (full_images // full_batch) * full_batch
        total = timed["flops_per_image"] * images
        modelled = measure.modelled_gpu_seconds(total)
        report |= {"images_per_epoch": full_images, "total_flops": total, "seconds_here": images * seconds_per_image,
                   "modelled_h100_s": modelled,
                   "pipeline_margin": None if pipeline is None else pipeline / (images / modelled)}
    return report


def _override_note(name: str, dry, full) -> str:
    if isinstance(full, (tuple, list)) and isinstance(dry, (tuple, list)):
        return f"{name} {len(dry)} of {len(full)}"
    return f"{name} {dry!r} instead of {full!r}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not estimated"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 2 * 3600 else f"{seconds / 3600:.1f} h"


def describe_training_cost(report: dict) -> str:
    """`training_cost`'s report as the lines printed before the run trains."""
    from ..measure import GPU_PEAK_FLOPS, MODELLED_UTILISATION

    where = f"{report['device_name']} ({report['device']})"
    pipeline = report["pipeline_images_per_s"]
    dry = " (dry run: the full run estimated)" if report["dry_run"] else ""
    again = report["measured_for"] not in (None, report["record"])
    reused = f", measured for {report['measured_for']}" if again else ""
    lines = [(f"cost of {report['record']}{dry}{reused}: "
              f"{report['model']}, {report['parameters_m']:.1f} M parameters, "
              f"{report['flops_per_image'] / 1e9:.3g} GFLOP per training image (forward + backward, counted)"),
             f"  input pipeline ({report['pipeline']}): "
             + (f"{pipeline:,.0f} images/s on {where}" if pipeline is not None else "not measured"),
             f"  one training step: {report['seconds_per_step']:.3g} s for {report['timed_batch']} images on {where}"]
    if report["total_flops"] is not None:
        gpu = next(iter(GPU_PEAK_FLOPS))
        margin = report["pipeline_margin"]
        lines += [(f"  full run: {report['epochs']} epoch(s) of {report['images_per_epoch']:,} images in batches of "
                   f"{report['batch_size']}: {report['total_flops'] / 1e15:.3g} PFLOP; "
                   f"{_duration(report['seconds_here'])} on {where} (training only, no evaluation)"),
                  f"  modelled on an {gpu} at {MODELLED_UTILISATION:.0%} of its bf16 peak: "
                  f"{_duration(report['modelled_h100_s'])}"
                  + ("" if margin is None else f"; the input pipeline here delivers {margin:.2g}x that step rate"
                     + (f" (below the {PIPELINE_MARGIN}x it needs: it would be the bottleneck)"
                        if margin < PIPELINE_MARGIN else ""))]
    else:
        lines.append("  full run: not estimated (its training config or training-set size is not known here)")
    return "\n".join(lines)


def describe_chapter_cost(chapter: str, reports: list[dict]) -> str:
    """One line for a chapter's training runs together (printed at the end of its run)."""
    known = [r for r in reports if r["total_flops"] is not None]
    margins = [r["pipeline_margin"] for r in known if r["pipeline_margin"] is not None]
    pipelines = [r["pipeline_images_per_s"] for r in reports if r["pipeline_images_per_s"] is not None]
    where = f"{reports[0]['device_name']} ({reports[0]['device']})"
    text = (f"cost of the {chapter} chapter's gpu profile: {len(reports)} training run(s)"
            f"{'' if len(known) == len(reports) else f' ({len(reports) - len(known)} not estimated)'}, "
            f"{sum(r['total_flops'] for r in known) / 1e15:.3g} PFLOP; "
            f"{_duration(sum(r['seconds_here'] for r in known))} on {where}, modelled "
            f"{_duration(sum(r['modelled_h100_s'] for r in known))} on an H100 (training only)")
    if pipelines:
        text += f"; slowest input pipeline {min(pipelines):,.0f} images/s here"
    if margins:
        text += f", {min(margins):.2g}x the modelled GPU step rate at worst"
    return text


def data_note_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + ".data")


def replaced_path(path: Path) -> Path:
    """Where a forced run keeps the file it replaces until its new record is written."""
    return path.with_name(path.name + ".replaced")


def restore_interrupted_replacement(checkpoint: Path, *, progress: bool = True) -> None:
    """A forced run that was killed before it wrote anything leaves the checkpoint it set aside as
    `.replaced`: put it back (with its data note), so nothing is lost and no stray file stays."""
    with distributed.main_writes() as writer:
        if not writer:
            return
        for kept in (checkpoint, data_note_path(checkpoint)):
            aside = replaced_path(kept)
            if aside.exists() and not kept.exists():
                os.replace(aside, kept)
                if progress:
                    print(f"{kept.name}: restored from an interrupted forced run ({aside.name})", flush=True)


_HELD_LOCKS: dict[Path, list] = {}  # lock file -> [open file, depth]: re-entrant within a process


@contextlib.contextmanager
def results_lock(folder: Path):
    """Hold `folder/.lock` while computing into it, so that two runs never write one chapter's
    records and checkpoints at once: a second run stops at once with a clear message. Under
    torchrun the main rank holds it. Re-entrant (a piece may compute another piece's record)."""
    import fcntl

    if not distributed.is_main():
        yield
        return
    path = (Path(folder) / ".lock").resolve()
    if path in _HELD_LOCKS:
        _HELD_LOCKS[path][1] += 1
        try:
            yield
        finally:
            _HELD_LOCKS[path][1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RuntimeError(f"another run holds the lock on {folder} ({holder}): two runs must not compute one "
                           "chapter's records at once. Wait for it to finish (or stop it), then run again; stored "
                           "records are not affected") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    _HELD_LOCKS[path] = [handle, 1]
    try:
        yield
    finally:
        del _HELD_LOCKS[path]
        handle.truncate(0)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def keep_checkpoint_with_its_data(checkpoint: Path, fingerprint: str, *, progress: bool = True) -> None:
    """Checkpoints are tied to the data they were trained on: a note beside each names it. Before a
    run resumes, a checkpoint of other data is set aside (renamed, never resumed, never deleted)."""
    with distributed.main_writes() as writer:  # under torchrun, rank 0 moves and writes
        if writer:
            _keep_checkpoint_with_its_data(checkpoint, fingerprint, progress=progress)


def _keep_checkpoint_with_its_data(checkpoint: Path, fingerprint: str, *, progress: bool) -> None:
    note = data_note_path(checkpoint)
    trained_on = note.read_text().strip() if note.exists() else None
    if checkpoint.exists() and trained_on not in (None, fingerprint):
        aside = checkpoint.with_name(f"{checkpoint.stem}.data-{trained_on}{checkpoint.suffix}")
        os.replace(checkpoint, aside)
        if progress:
            print(f"{checkpoint.name} was trained on other data ({trained_on}, not {fingerprint}): "
                  f"set aside as {aside.name}; training starts from scratch", flush=True)
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(fingerprint + "\n")


def dry_run_results_dir() -> Path:
    """Where dry runs keep their records: `dry-run/` in $PATCHLIB_RESULTS if set, else build/dry-run/results
    (never beside the real results, never committed)."""
    if os.environ.get("PATCHLIB_RESULTS"):
        return default_results_dir() / "dry-run"
    return Path(__file__).resolve().parents[2] / "build" / "dry-run" / "results"


def dry_run_size(size, overrides: Mapping):
    """`size` shrunk for a dry run: training configs to one epoch of small batches, throughput
    protocols to one timed pass of 2 images, image counts (`n_*` fields, None meaning all) to
    DRY_RUN_IMAGES; then the chapter's `overrides`."""
    from dataclasses import fields, replace

    from ..measure import ThroughputProtocol
    from ..pose.train import PoseTrainConfig
    from ..train import TrainConfig

    changes = {}
    for f in fields(size):
        value = getattr(size, f.name)
        if isinstance(value, TrainConfig):
            changes[f.name] = replace(value, epochs=1, batch_size=4, eval_batch_size=8)
        elif isinstance(value, PoseTrainConfig):
            changes[f.name] = replace(value, epochs=1, batch_size=2, warmup_steps=1, num_workers=0)
        elif isinstance(value, ThroughputProtocol):
            changes[f.name] = replace(value, batch_size=2, warmup=0, repeats=1, rounds=1)
        elif f.name.startswith("n_") or f.name.endswith("_n_train"):
            changes[f.name] = DRY_RUN_IMAGES if value is None else min(value, DRY_RUN_IMAGES)
        elif f.name.endswith("_epochs") and isinstance(value, int) and not isinstance(value, bool):
            changes[f.name] = min(value, 1)  # 0 (a stage switched off) stays off
    unknown = set(overrides) - {f.name for f in fields(size)}
    if unknown:
        raise ValueError(f"DRY_RUN overrides name no field of the chapter's Size: {sorted(unknown)}")
    return replace(size, **(changes | dict(overrides)))


def plan_line(config: dict) -> str:
    """What computing a record will do, from its config: name, model, epochs, images."""
    details = [f"model {config['model']}"] if isinstance(config.get("model"), str) else []
    train = config.get("train")
    if isinstance(train, dict) and "epochs" in train:
        details.append(f"{train['epochs']} epoch(s) of batch {train.get('batch_size')}")
    if "n_train" in config:
        details.append(f"{'all' if config['n_train'] is None else config['n_train']} training images")
    if config.get("dry_run"):
        details.append("dry run")
    return config["name"] + (f" ({', '.join(details)})" if details else "")


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
