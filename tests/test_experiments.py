"""The chapter skeleton's contract (`patchlib.experiments.common`): one run signature, profiles
for every chapter, missing data fails loudly, stored results stand in for it, force recomputes."""
import importlib
import inspect
import json

import pytest
import torch

from patchlib.data import DataNotFoundError
from patchlib.experiments import common, vit
from patchlib.experiments.common import ChapterRun, relative_to_data_root
from patchlib.figures import provenance
from patchlib.profiles import PROFILES, TRAINING_PROFILES
from patchlib.results import result_path, run_or_load

from patchlib.chapters import NAMES as CHAPTERS  # the one registry


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_defines_every_profile_and_the_same_run_signature(name):
    chapter = importlib.import_module(f"patchlib.experiments.{name}")
    assert set(chapter.SIZES) == set(TRAINING_PROFILES)  # the pretrained profile: patchlib.experiments.pretrained
    assert chapter.CHAPTER == name and chapter.PIECES
    for entry in chapter.PAPER.values():  # every published value names its source
        assert entry["source"] and entry["status"] in ("confirmed", "secondary", "not sourced")
    reference = inspect.signature(vit.run)
    assert inspect.signature(chapter.run).parameters.keys() == reference.parameters.keys()
    for profile in TRAINING_PROFILES:
        ctx = chapter.context(profile)
        assert ctx.profile == profile and ctx.size is chapter.SIZES[profile] and ctx.chapter == name


def test_bad_run_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        vit.run("fast")
    for seed in ("abc", 1.5, -1, True):
        with pytest.raises(ValueError, match="seed"):
            vit.run("smoke", seed=seed)
    with pytest.raises(ValueError, match="force: unknown piece"):
        vit.run("smoke", force={"trian"})


def test_cpu_profile_without_data_fails_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv("PATCHLIB_DATA", raising=False)
    monkeypatch.setattr("patchlib.data.root.DEFAULT_DATA_ROOT", tmp_path / "no-data")
    with pytest.raises(DataNotFoundError, match="PATCHLIB_DATA"):
        vit.run("cpu", results_dir=tmp_path / "results")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError, match=str(empty)):
        vit.run("cpu", data_root=empty, results_dir=tmp_path / "results")


def _store(config, tmp_path, result):
    """A complete stored record of `result` for `config` (provenance as a run writes it), computed without data."""
    run_or_load(config, lambda: result | {"data": {"fingerprint": "x"}}, results_dir=tmp_path)


def test_stored_results_are_used_when_the_data_is_absent(tmp_path, monkeypatch):
    monkeypatch.delenv("PATCHLIB_DATA", raising=False)
    monkeypatch.setattr("patchlib.data.root.DEFAULT_DATA_ROOT", tmp_path / "no-data")
    monkeypatch.setattr(vit, "claims", lambda records: [])
    ctx = vit.context("cpu")
    for seed in ctx.seeds:  # the chapter's seeds, each its own record
        _store(vit.fig7_config(vit.context("cpu", seed=seed)), tmp_path, {"marker": 1})
    _store(vit.cost_config(ctx), tmp_path, {"marker": 2})
    records = vit.run("cpu", results_dir=tmp_path)
    assert records["fig7"]["result"] == {"marker": 1} and records["cost"]["result"] == {"marker": 2}
    assert len(records["seeds"]) == len(ctx.seeds) == 3
    with pytest.raises(DataNotFoundError):  # force: recompute, which needs the data
        vit.run("cpu", results_dir=tmp_path, force={"fig7"})
    with pytest.raises(DataNotFoundError):  # another seed is another configuration
        vit.run("cpu", seed=1, results_dir=tmp_path)


def test_record_memoises_data_and_forced_pieces_train_from_scratch(tmp_path):
    ctx = ChapterRun.resolve(chapter="demo", sizes={p: None for p in PROFILES}, pieces=("a",),
                             profile="smoke", results_dir=tmp_path, device="cpu")
    config = ctx.config("a-smoke", n_train=64, n_test=32)
    seen = []

    def compute(data):
        checkpoint = ctx.checkpoint(config)
        seen.append(checkpoint.exists())            # a forced run must not find (and resume) the old checkpoint
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"epoch": 1}, checkpoint)
        return {"n": len(data.train)}

    first = ctx.record("a", config, compute)
    assert first["result"] == {"n": 64} and first["provenance"]["data"]["n_train"] == 64
    assert ctx.data(64, 32) is ctx.data(64, 32)
    assert ctx.record("a", config, compute)["provenance"]["started_at"] == first["provenance"]["started_at"]
    forced = ChapterRun.resolve(chapter="demo", sizes={p: None for p in PROFILES}, pieces=("a",),
                                profile="smoke", results_dir=tmp_path, device="cpu", force=True)
    forced.record("a", config, compute)
    assert seen == [False, False]
    assert not ctx.checkpoint(config).with_name(ctx.checkpoint(config).name + ".replaced").exists()


def test_failed_forced_run_puts_the_old_checkpoint_back(tmp_path):
    ctx = ChapterRun.resolve(chapter="demo", sizes={p: None for p in PROFILES}, pieces=("a",),
                             profile="smoke", results_dir=tmp_path, device="cpu", force=True)
    config = ctx.config("a-smoke")
    checkpoint = ctx.checkpoint(config)
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"old")

    def failing():
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        ctx.record("a", config, failing, uses_data=False)
    assert checkpoint.read_bytes() == b"old"


def test_records_and_captions_hold_no_machine_paths(tmp_path):
    text = "CIFAR-10 train split: JPEG files from ImageFolder archive /work/shared/data/cifar10-jpeg.tar.gz"
    assert relative_to_data_root(text, None).endswith("archive <data root>/cifar10-jpeg.tar.gz")
    assert relative_to_data_root(f"folder {tmp_path}/cifar-10-batches-py", tmp_path) == \
        "folder <data root>/cifar-10-batches-py"
    data = common.load_profile_data("smoke", n_train=32, n_test=16)
    assert "/" not in common.data_identity(data, tmp_path)["source"].replace("<data root>/", "")


@pytest.mark.parametrize("content", [b"garbage, not a checkpoint", b""])
def test_a_damaged_checkpoint_names_itself_and_the_fix(tmp_path, content):
    """A truncated or foreign checkpoint is reported by name before any training starts."""
    ctx = vit.context("smoke", results_dir=tmp_path, progress=False)
    path = ctx.checkpoint(vit.fig7_config(ctx))
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(common.CheckpointError, match="delete it to train from scratch") as error:
        vit.run("smoke", results_dir=tmp_path, progress=False)
    assert str(path) in str(error.value)
    with pytest.raises(common.CheckpointError):
        vit.trained_model("smoke", results_dir=tmp_path, progress=False)
    torch.save({"model": {}}, path)  # loads, but is not a training checkpoint
    with pytest.raises(common.CheckpointError, match="missing: optimizer"):
        vit.run("smoke", results_dir=tmp_path, progress=False)


def test_the_gpu_profile_is_refused_without_cuda_unless_asked_by_name(tmp_path, monkeypatch):
    """Without CUDA, `device="auto"` resolves to the CPU: a gpu-profile piece that would have to
    be computed is refused before any data is read or anything is written."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA device.*nothing was computed.*device='cpu'"):
        vit.run("gpu", results_dir=tmp_path, progress=False)
    assert not any(tmp_path.rglob("*.json"))
    ctx = vit.context("gpu", device="cpu", results_dir=tmp_path)
    ctx.check_device()  # asked for by name: allowed


def _demo(tmp_path, **options) -> ChapterRun:
    return ChapterRun.resolve(chapter="demo", sizes={p: None for p in PROFILES}, pieces=("a",),
                              profile="smoke", results_dir=tmp_path, device="cpu", progress=False, **options)


def test_a_record_of_other_data_is_shown_with_a_note_and_not_retrained(tmp_path):
    """Data here that differs from a stored record's: the record is used as stored, with a visible
    note; only force (or force="stale", make's RECOMPUTE=stale) recomputes it."""
    ctx = _demo(tmp_path)
    config = ctx.config("a-smoke", n_train=64, n_test=32)
    calls = []

    def compute(data):
        calls.append(len(data.train))
        return {"n": len(data.train)}

    first = ctx.record("a", config, compute)
    assert "data_note" not in ctx.record("a", config, compute) and calls == [64]  # same data: no note
    path = result_path(config, tmp_path)
    stored = json.loads(path.read_text())
    stored["provenance"]["data"]["fingerprint"] = "0123456789abcdef-fedcba9876543210"  # another copy's
    path.write_text(json.dumps(stored))
    again = _demo(tmp_path).record("a", config, compute)
    assert calls == [64] and "0123456789abcdef" in again["data_note"] and "force=True" in again["data_note"]
    assert "**Data differs:**" in provenance(again)
    assert again["provenance"] == stored["provenance"]  # nothing was rewritten
    recomputed = _demo(tmp_path, force="stale").record("a", config, compute)
    assert calls == [64, 64] and recomputed["provenance"]["data"]["fingerprint"] == first["provenance"]["data"]["fingerprint"]
    _demo(tmp_path, force="stale").record("a", config, compute)  # now current: not recomputed again
    assert calls == [64, 64]


def test_stale_recomputes_records_of_changed_code_only(tmp_path):
    ctx = _demo(tmp_path)
    config = ctx.config("a-smoke")
    calls = []
    ctx.record("a", config, lambda: calls.append(1) or {"x": 1}, uses_data=False)
    _demo(tmp_path, force="stale").record("a", config, lambda: calls.append(2) or {"x": 2}, uses_data=False)
    assert calls == [1]
    path = result_path(config, tmp_path)
    stored = json.loads(path.read_text())
    stored["provenance"]["definitions"] = {"train": "an older hash"}
    path.write_text(json.dumps(stored))
    record = _demo(tmp_path, force="stale").record("a", config, lambda: calls.append(3) or {"x": 3}, uses_data=False)
    assert calls == [1, 3] and record["result"] == {"x": 3}


def test_a_checkpoint_of_other_data_is_set_aside_not_resumed(tmp_path):
    ctx = _demo(tmp_path)
    config = ctx.config("a-smoke", n_train=64, n_test=32)
    checkpoint = ctx.checkpoint(config)
    checkpoint.parent.mkdir(parents=True)
    torch.save({key: 0 for key in common.CHECKPOINT_KEYS}, checkpoint)
    common.data_note_path(checkpoint).write_text("another-copy\n")
    found = []
    ctx.record("a", config, lambda data: found.append(checkpoint.exists()) or {"n": 1})
    assert found == [False]  # the run did not see (and resume) the other data's checkpoint
    assert checkpoint.with_name(f"{checkpoint.stem}.data-another-copy.pt").exists()  # kept, renamed
    # the piece wrote no checkpoint of its own, so no note of one is left behind either
    assert not common.data_note_path(checkpoint).exists()


def test_force_accepts_stale_and_names_the_choices():
    with pytest.raises(ValueError, match="'stale'"):
        vit.run("smoke", force={"trian"})
    assert vit.context("smoke", force="stale").force == "stale"


def test_two_runs_never_compute_one_chapter_at_once(tmp_path):
    """A second run that would compute into a chapter folder another run is computing into stops at
    once, naming the holder; loading stored records needs no lock; one run may nest pieces."""
    import fcntl

    ctx = _demo(tmp_path)
    nested = ctx.record("a", ctx.config("outer-smoke"), lambda: ctx.record("a", ctx.config("inner-smoke"),
                                                                            lambda: {"x": 1}, uses_data=False),
                        uses_data=False)
    assert nested["result"]["result"] == {"x": 1}
    lock = tmp_path / "demo" / ".lock"
    with open(lock, "a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)   # as another process would
        other.truncate(0)
        other.write("pid 4242 since then\n")
        other.flush()
        with pytest.raises(RuntimeError, match=r"another run holds the lock .*\(pid 4242 since then\)"):
            common.results_lock(tmp_path / "demo").__enter__()
        assert ctx.record("a", ctx.config("outer-smoke"), lambda: {"x": 2}, uses_data=False)["result"] == \
            nested["result"]  # stored: loads without the lock


def test_a_piece_without_a_checkpoint_leaves_no_data_note_and_a_killed_forced_run_is_undone(tmp_path):
    ctx = _demo(tmp_path)
    config = ctx.config("a-smoke", n_train=64, n_test=32)
    ctx.record("a", config, lambda data: {"n": len(data.train)})
    checkpoint = ctx.checkpoint(config)
    assert not common.data_note_path(checkpoint).exists() and not checkpoint.exists()
    # a forced run killed before it wrote anything left the old checkpoint aside as .replaced
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    aside = common.replaced_path(checkpoint)
    aside.write_text("old weights")
    ctx.record("a", config, lambda data: {"n": 0})
    assert checkpoint.read_text() == "old weights" and not aside.exists()
