"""Cached, provenance-carrying experiment results.

`run_or_load(config, compute)` returns the result of `compute()` for an experiment
configuration, computing it only when no result for exactly that configuration exists.
Results live in `<results_dir>/<chapter>/<name>-<hash>.json`, where the hash covers the
whole configuration, so a changed configuration never reuses an old result. Each file holds
the configuration, the result and its provenance (seed, git revision, package versions,
device, threads, wall time, dataset identity), and is written atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_VERSION = 1


def default_results_dir() -> Path:
    """`PATCHLIB_RESULTS` if set, else `results/` at the repository root."""
    return Path(os.environ.get("PATCHLIB_RESULTS") or REPO_ROOT / "results")


def config_hash(config: dict) -> str:
    """A short SHA-256 of the configuration's canonical JSON (sorted keys)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def git_revision() -> str:
    """The checkout's commit, with `+dirty` when tracked files differ from it."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def device_name(device: str | torch.device) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def environment(device: str | torch.device = "cpu") -> dict:
    """Where a result was computed: code revision, library versions, hardware."""
    import numpy

    return {
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "device": str(device),
        "device_name": device_name(device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "hostname_hash": hashlib.sha256(platform.node().encode()).hexdigest()[:8],
    }


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to a temporary file in the same folder, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; results are for everyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def result_path(config: dict, results_dir: Path | None = None) -> Path:
    """`<results_dir>/<chapter>/<name>-<hash>.json` for a config with `chapter` and `name`."""
    for key in ("chapter", "name"):
        if key not in config:
            raise ValueError(f"an experiment config needs a {key!r} entry")
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    return results_dir / config["chapter"] / f"{config['name']}-{config_hash(config)}.json"


def load_result(path: Path, config: dict) -> dict | None:
    """The stored record at `path` if it is readable and belongs to `config`, else None."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        warnings.warn(f"ignoring unreadable result file {path}: {error}")
        return None
    if record.get("schema") != SCHEMA_VERSION or record.get("config_hash") != config_hash(config):
        warnings.warn(f"ignoring result file {path}: it does not match the requested configuration")
        return None
    return record


def run_or_load(config: dict, compute: Callable[[], dict], *, results_dir: Path | None = None,
                force: bool = False, data_fingerprint: str | None = None,
                device: str | torch.device = "cpu") -> dict:
    """Return the record for `config`, computing it with `compute()` if needed.

    `compute` returns a JSON-serialisable dict; it may include a `"data"` entry describing
    the dataset it used (name, source, fingerprint, sizes), which goes into the provenance.
    `force=True` recomputes even if a result exists. If `data_fingerprint` is given and a
    cached result was computed on different data, it is recomputed rather than reused.
    """
    path = result_path(config, results_dir)
    if not force:
        record = load_result(path, config)
        stored_fingerprint = record and (record["provenance"].get("data") or {}).get("fingerprint")
        if record is not None and (data_fingerprint is None or stored_fingerprint == data_fingerprint):
            return record
    provenance = environment(device)  # taken before computing: the code as it was when the run started
    start = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = compute()
    provenance |= {
        "started_at": started_at,
        "wall_time_s": round(time.perf_counter() - start, 2),
        "seed": config.get("seed"),
        "data": result.pop("data", None),
    }
    record = {"schema": SCHEMA_VERSION, "config_hash": config_hash(config), "config": config,
              "provenance": provenance, "result": result}
    write_json_atomic(path, record)
    return record
