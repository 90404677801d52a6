"""Multi-process training (`torchrun`, issue 10 §3), checked on this CPU with the gloo backend and
2 processes against the same tiny run in one process.

Tolerance: without augmentation the 2-process run averages the same per-example gradients as the
1-process run, in another summation order; after 8 AdamW steps of a 1-layer ViT the weights agree
to 1e-4 and the test metrics to 1e-3 (exact equality is not expected: floating-point sums depend
on their order).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import distributed_worker as worker  # noqa: E402

from patchlib import distributed  # noqa: E402
from patchlib.experiments import vit  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def torchrun(case: str, out: Path, *extra: str) -> list[dict]:
    """Run the worker under torchrun with 2 gloo processes; each rank's saved outcome."""
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(REPO / "tests" / "distributed_worker.py"), case, str(out), *extra]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [torch.load(out.with_name(f"{out.stem}-rank{rank}.pt"), weights_only=False) for rank in (0, 1)]


def assert_same_run(two: dict, one: dict, atol: float = 1e-4) -> None:
    for name, tensor in one["state"].items():
        torch.testing.assert_close(two["state"][name], tensor, atol=atol, rtol=1e-3, msg=name)
    for a, b in zip(two["history"], one["history"], strict=True):
        for key in ("train_loss", "test_loss", "test_acc", "train_acc", "lr_end"):
            assert a[key] == pytest.approx(b[key], abs=1e-3), key


@pytest.mark.parametrize("case", ["vit", "flexivit"])
def test_two_processes_train_like_one(case, tmp_path):
    """The same weights and metrics as one process; FlexiViT's patch size per step is the same on
    both ranks (drawn from the shared stream, seeded alike on every rank; were it drawn per rank,
    rank 1 would take other sizes and the weights would differ)."""
    ranks = torchrun(case, tmp_path / case)
    assert [r["world"] for r in ranks] == [2, 2]
    assert_same_run(ranks[0], worker.run(case))
    assert_same_run(ranks[1], ranks[0], atol=0)  # DDP keeps the replicas identical


def test_a_two_process_run_resumes_from_rank_zeros_checkpoint(tmp_path):
    """Stopped after one epoch and restarted with fresh models, it ends where an uninterrupted run
    ends; only rank 0 wrote the checkpoint (one file, no partial temporaries)."""
    ranks = torchrun("resume", tmp_path / "resume")
    assert_same_run(ranks[0], worker.run("vit"))
    assert sorted(p.name for p in tmp_path.iterdir() if "ckpt" in p.name) == ["resume.pt.ckpt"]


def test_ranks_draw_their_own_augmentation(tmp_path):
    """With augmentation, rank 0 keeps the single-process draws and rank 1 has its own seed: a run
    differs from the 1-process run (other crops), but stays close (the same data, order and steps)."""
    ranks = torchrun("vit", tmp_path / "augmented", "crop_flip")
    one = worker.run("vit", augment="crop_flip")
    differences = [(ranks[0]["state"][name] - tensor).abs().max().item() for name, tensor in one["state"].items()]
    assert max(differences) > 1e-4
    assert distributed.rank_seed(7) == 7  # a single process (rank 0) keeps its seed


def test_two_processes_train_pose_like_one(tmp_path):
    """ViTPose's loop: each person's augmentation is drawn from (seed, epoch, index), so even with
    augmentation 2 processes follow 1; the flip-test evaluation is split over the ranks and gathered."""
    ranks = torchrun("pose", tmp_path / "pose")
    one = worker.run_pose(tmp_path / "people-single")
    for name, tensor in one["state"].items():
        torch.testing.assert_close(ranks[0]["state"][name], tensor, atol=1e-4, rtol=1e-3, msg=name)
    for a, b in zip(ranks[0]["history"], one["history"], strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
        assert a["AP"] == pytest.approx(b["AP"], abs=1e-3)


def test_the_readme_command_computes_a_chapter_under_torchrun(tmp_path):
    """`torchrun ... -m patchlib.experiments <chapter>`: rank 0 writes each record (marked with the
    process count) and the claims; nothing else is written."""
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "patchlib.experiments", "vit", "--profile", "smoke", "--results-dir", str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = sorted(p.name.split("-")[0] for p in (tmp_path / "vit").glob("*.json") if "claims" not in p.name)
    seeds = vit.SIZES["smoke"].seeds  # one fig7 record per seed
    assert records == ["cost"] + ["fig7"] * seeds and (tmp_path / "vit" / "claims-smoke.json").exists()
    for path in (tmp_path / "vit").glob("fig7-*.json"):
        assert json.loads(path.read_text())["provenance"]["processes"] == 2
    assert not list(tmp_path.rglob("*.tmp"))


def test_helpers_are_the_identity_in_one_process():
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.shard(12) == slice(0, 12) and distributed.split_evenly(5) == slice(0, 5)
    assert distributed.sum_over_ranks(1.5, 2) == [1.5, 2]
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, torch.device("cpu")) is model
