"""Cached, provenance-carrying experiment results that know their code.

`run_or_load(config, compute, definitions=...)` returns the result of `compute()` for an experiment
configuration, computing it only when no result for exactly that configuration exists.
Results live in `<results_dir>/<chapter>/<name>-<hash>.json`, where the hash covers the
whole configuration, so a changed configuration never reuses an old result. Each file holds
the configuration, the result and its provenance (seed, git revision and the files that differed
from it, package versions, device, threads, wall time, dataset identity, and the fingerprint of
every definition the computation can reach, `patchlib.fingerprint`), and is written atomically.

A stored record whose code has changed since is still used (a rerun can take an hour), never
silently: `stale_code(record)` names the changed definitions, the book prints them beside every
figure built from the record (`patchlib.figures.provenance`), and `python -m patchlib.results`
(`make check-results`) lists every stale record.

A stored record is read only if it has the shape its readers rely on (`record_problems`: the config
its hash was taken of, the provenance `environment()` and the run write, training histories of
numbers, no number written as text); a damaged one raises `ResultFileError` naming the file, what is
wrong and the fix, instead of a TypeError deep inside a chapter's reader (issue 27, 3.6).
"""
from __future__ import annotations

import hashlib
import json
import numbers
import os
import platform
import re
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

from . import distributed
from .fingerprint import SourceIndex, stale_definitions
from .runtime import device_name

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_VERSION = 3            # 3: provenance holds "definitions" (patchlib.fingerprint); 2 held file hashes
READABLE_SCHEMAS = (1, 2, 3)  # older records are read, and reported stale until re-fingerprinted


def default_results_dir() -> Path:
    """`PATCHLIB_RESULTS` if set, else `results/` at the repository root."""
    return Path(os.environ.get("PATCHLIB_RESULTS") or REPO_ROOT / "results")


def config_hash(config: dict) -> str:
    """A short SHA-256 of the configuration's canonical JSON (sorted keys)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


RECORDS_FOLDER = "results/"  # the committed records: outputs, which a recompute rewrites in place


def code_changes(dirty_files) -> list[str]:
    """The changed files that can alter a computation: all but the records under `results/` (a recompute
    of a chapter overwrites its committed records one by one, so later records saw earlier ones changed)."""
    return [name for name in dirty_files if not name.startswith(RECORDS_FOLDER)]


def git_state(root: Path = REPO_ROOT) -> dict:
    """The checkout's commit and the tracked files other than records that differ from it (read before
    computing)."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True).stdout
        changed = sorted(line[3:] for line in status.splitlines() if line.strip())
        return {"git_revision": rev, "dirty_files": code_changes(changed)}
    except (OSError, subprocess.CalledProcessError):
        return {"git_revision": "unknown", "dirty_files": []}


def file_digest(path: Path) -> str:
    """Short SHA-256 (16 hex digits) of a file's bytes, read in chunks (data files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def stale_code(record: dict, index: SourceIndex | None = None, root: Path | None = None) -> list[str]:
    """What changed in the code of `record` since it was computed ([] when it is current): the
    names of changed definitions. A record of file fingerprints (schema 2, from before
    `patchlib.fingerprint`) names its changed files; one with neither gives ["(code not recorded)"]."""
    provenance = record.get("provenance", {})
    if "definitions" in provenance:
        return stale_definitions(provenance["definitions"], index)
    stored = provenance.get("code")
    if not stored:
        return ["(code not recorded)"]
    root = Path(root) if root is not None else REPO_ROOT
    changed = []
    for name, digest in stored.items():
        path = root / name
        if not path.is_file():
            changed.append(f"{name} (gone)")
        elif file_digest(path) != digest:
            changed.append(name)
    return changed


def environment(device: str | torch.device = "cpu") -> dict:
    """Where a result was computed: code revision, library versions, hardware."""
    import numpy

    return {
        **git_state(),
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


def record_source(record: dict) -> str:
    """A record's file, relative to the results folder (for evidence strings outside a run)."""
    return f"results/{record['config']['chapter']}/{record['config']['name']}-{record['config_hash']}.json"


class ResultFileError(ValueError):
    """A stored result file that cannot be used. It is never overwritten silently: the message
    names the file, what is wrong with it and the fix (restore it from git, delete it to recompute
    it, or recompute the chapter in place)."""

    def __init__(self, path: Path, problem: str, config: dict | None = None):
        config = config or {}
        make = " ".join([f"make notebooks CHAPTERS={config.get('chapter', Path(path).parent.name)}",
                         *([f"PROFILE={config['profile']}"] if isinstance(config.get("profile"), str) else []),
                         *(["DRY_RUN=1"] if config.get("dry_run") is True else []), "RECOMPUTE=all"])
        super().__init__(f"result file {path} {problem}. It is left as it is: restore it "
                         f"(`git checkout -- {path}` if it is committed), or delete it to recompute it (the "
                         f"chapter's next run computes it, and only it), or recompute every record of the chapter "
                         f"in place with `{make}` (force=True in run())")
        self.path = path


RECORD_FIELDS = {"schema": int, "config_hash": str, "config": dict, "provenance": dict, "result": dict}
# What run_or_load writes into a provenance (patchlib.results.environment and the run), and what
# the readers (patchlib.figures.provenance, the scorecard, the chapters' readers) rely on.
NONE = type(None)
PROVENANCE_FIELDS = {"git_revision": str, "python": str, "torch": str, "numpy": str, "device": str,
                     "device_name": str, "cpu_count": (int, NONE), "torch_threads": int, "hostname_hash": str,
                     "started_at": str, "wall_time_s": float, "seed": (int, NONE), "data": (dict, NONE)}
PROVENANCE_FIELDS_V3 = {"definitions": dict, "dirty_files": list}  # written since schema 3
PROVENANCE_OPTIONAL = {"code": dict, "processes": int, "refingerprinted": dict}
DATA_FIELDS = {"name": (str, NONE), "source": (str, NONE), "fingerprint": (str, NONE), "n_train": (int, NONE),
               "n_test": (int, NONE)}
NUMBER_AS_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*|[+-]?(nan|inf|infinity)", re.IGNORECASE)


KIND_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
              NONE: "null", bool: "a boolean"}


def _kind(value: Any) -> str:
    """What a JSON value is, in words."""
    if isinstance(value, bool) or value is None:
        return KIND_NAMES[type(value)]
    if isinstance(value, numbers.Real):
        return "a number"
    return KIND_NAMES.get(list if isinstance(value, tuple) else type(value), type(value).__name__)


def _is(value: Any, kinds) -> bool:
    """isinstance for JSON values: a boolean is no number, an integer is a number (float), a tuple a list."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool):
        return bool in kinds
    return any(isinstance(value, numbers.Real) if kind is float else isinstance(value, numbers.Integral)
               if kind is int else isinstance(value, (list, tuple)) if kind is list else isinstance(value, kind)
               for kind in kinds)


def _expect(where: str, value: Any, kinds) -> list[str]:
    """[] if `value` is of `kinds`, else the problem in words."""
    if _is(value, kinds):
        return []
    expected = " or ".join(KIND_NAMES[kind] for kind in (kinds if isinstance(kinds, tuple) else (kinds,)))
    return [f"{where} is {_kind(value)} ({json.dumps(value, default=str)[:40]}), not {expected}"]


def _result_problems(value: Any, where: str) -> list[str]:
    """The problems of a record's result, searched depth first: every `history` is a training
    history (a list of per-epoch objects of numbers or null), and no number is written as text."""
    if isinstance(value, str):
        return [f"{where} is a number written as text ({value!r})"] if NUMBER_AS_TEXT.fullmatch(value) else []
    problems = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key != "history":
                problems += _result_problems(inner, f"{where}.{key}")
                continue
            history = f"{where}.history"
            problems += _expect(history, inner, list)
            for i, entry in enumerate(inner if isinstance(inner, (list, tuple)) else []):
                problems += _expect(f"{history}[{i}]", entry, dict)
                for name, number in (entry.items() if isinstance(entry, dict) else ()):
                    problems += _expect(f"{history}[{i}].{name}", number, (float, NONE))
    elif isinstance(value, (list, tuple)):
        for i, inner in enumerate(value):
            problems += _result_problems(inner, f"{where}[{i}]")
    return problems


def record_problems(record: Any) -> list[str]:
    """What is wrong with the shape of a stored record ([] for a usable one): the top level, a
    config that no longer matches its hash (edited or damaged), the provenance entries the readers
    rely on, training histories (lists of per-epoch objects of numbers) and numbers written as text.
    `load_result` refuses a record with any; `run_or_load` refuses to write one."""
    if not isinstance(record, dict):
        return [f"not a result record: it holds {_kind(record)}, not an object"]
    missing = [name for name in RECORD_FIELDS if name not in record]
    wrong = [problem for name, kind in RECORD_FIELDS.items() if name in record
             for problem in _expect(name, record[name], kind)]
    if missing or wrong:
        return ["not a result record: " + "; ".join(([f"{', '.join(missing)} missing"] if missing else []) + wrong)]
    problems = []
    if config_hash(record["config"]) != record["config_hash"]:
        problems.append("config does not match the record's config_hash (it was edited or damaged)")
    provenance = record["provenance"]
    required = PROVENANCE_FIELDS | (PROVENANCE_FIELDS_V3 if record["schema"] >= 3 else {})
    missing = [name for name in required if name not in provenance]
    if missing:
        problems.append(f"provenance lacks {', '.join(missing)}")
    for name, kinds in (required | PROVENANCE_OPTIONAL).items():
        if name in provenance:
            problems += _expect(f"provenance.{name}", provenance[name], kinds)
    for name, kinds in DATA_FIELDS.items():
        if isinstance(provenance.get("data"), dict) and name in provenance["data"]:
            problems += _expect(f"provenance.data.{name}", provenance["data"][name], kinds)
    problems += _result_problems(record["result"], "result")
    return problems


def load_result(path: Path, config: dict) -> dict | None:
    """The stored record at `path` for `config`, or None if there is none.

    A file that exists but cannot be used (not JSON, not a record, damaged inside as
    `record_problems` says, or another configuration's record) raises `ResultFileError` naming it,
    what is wrong and the fix: a result is never replaced without being asked.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ResultFileError(path, f"cannot be read ({error})", config) from error
    try:
        record = json.loads(text)
    except ValueError as error:
        raise ResultFileError(path, f"is not valid JSON ({error}; truncated?)", config) from error
    problems = record_problems(record)
    if problems and problems[0].startswith("not a result record"):  # the top level: nothing else was checked
        raise ResultFileError(path, f"is {problems[0]}", config)
    if record["schema"] not in READABLE_SCHEMAS:
        raise ResultFileError(path, f"has schema {record['schema']}, which this version of patchlib cannot read "
                                    f"(it reads {', '.join(map(str, READABLE_SCHEMAS))})", config)
    if record["config_hash"] != config_hash(config):
        raise ResultFileError(path, "holds the record of another configuration than its name says", config)
    if problems:
        shown = problems[:5] + ([f"and {len(problems) - 5} more"] if len(problems) > 5 else [])
        raise ResultFileError(path, "is damaged inside: " + "; ".join(shown), config)
    return record


def run_or_load(config: dict, compute: Callable[[], dict], *, definitions: Callable[[], dict] | dict | None = None,
                results_dir: Path | None = None, force: bool = False, device: str | torch.device = "cpu") -> dict:
    """Return the record for `config`, computing it with `compute()` if needed.

    `compute` returns a JSON-serialisable dict; it may include a `"data"` entry describing
    the dataset it used (name, source, fingerprint, sizes), which goes into the provenance.
    `definitions` is the code fingerprint (`patchlib.fingerprint.fingerprint_record`), or a function
    returning it, taken before computing. `force=True` recomputes even if a result exists.
    """
    path = result_path(config, results_dir)
    if not force:
        record = load_result(path, config)
        if record is not None:
            return record
    provenance = environment(device)  # taken before computing: the code as it was when the run started
    provenance["definitions"] = dict(definitions() if callable(definitions) else definitions or {})
    start = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = compute()
    provenance |= {
        "started_at": started_at,
        "wall_time_s": round(time.perf_counter() - start, 2),
        "seed": config.get("seed"),
        "data": result.pop("data", None),
    }
    if distributed.world_size() > 1:
        provenance["processes"] = distributed.world_size()  # torchrun: data-parallel over this many ranks
    record = {"schema": SCHEMA_VERSION, "config_hash": config_hash(config), "config": config,
              "provenance": provenance, "result": result}
    problems = record_problems(record)
    if problems:  # a fault of the piece's code: a record the readers would refuse is never written
        raise ValueError(f"the computed record for {path.name} ({config['chapter']} chapter) is not a usable record "
                         f"and was not written: {'; '.join(problems[:5])}. Fix the piece's compute function")
    with distributed.main_writes() as writer:  # under torchrun, rank 0 writes
        if writer:
            write_json_atomic(path, record)
    return record


def check_results(results_dir: Path | None = None, index: SourceIndex | None = None,
                  root: Path | None = None) -> list[tuple[Path, list[str]]]:
    """(record file, changed definitions) for every stale record under `results_dir`; a file
    that is not a readable record, or is damaged inside (`record_problems`), is listed with the reason instead."""
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    stale = []
    for path in sorted(results_dir.glob("*/*.json")):
        if path.name.startswith("claims"):
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            changed = [f"(not a readable result record: {type(error).__name__}: {error})"]
        else:
            problems = record_problems(record)
            changed = [f"(damaged: {'; '.join(problems)})"] if problems else stale_code(record, index, root)
        if changed:
            stale.append((path, changed))
    return stale


def main(argv: list[str] | None = None) -> int:
    """`python -m patchlib.results [RESULTS_DIR]`: list stale records; exit 1 if there are any."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("results_dir", nargs="?", default=None, help="default: $PATCHLIB_RESULTS or results/")
    args = parser.parse_args(argv)
    stale = check_results(args.results_dir)
    for path, changed in stale:
        print(f"stale: {path}: computed with other code (changed since: {', '.join(changed)})")
    print(f"{len(stale)} stale record(s)" + ("; recompute them with force=True in their chapter" if stale else ""))
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
