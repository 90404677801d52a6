"""Runs one tiny training under `torchrun` (or in-process, for the single-process reference) and
saves rank 0's outcome; used by tests/test_distributed.py."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

import patchlib
from patchlib import distributed
from patchlib.data import load_dataset
from patchlib.losses import random_patch_loss
from patchlib.train import TrainConfig, train

CONFIG = TrainConfig(epochs=2, batch_size=32, lr=3e-3, warmup_epochs=0.5, augment="none")


def tiny_model(case: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if case == "flexivit":
        return patchlib.create_model("flexivit_micro", dim=32, depth=1, heads=2, image_size=32, patch_sizes=(4, 8, 16),
                                     base_patch_size=8, base_grid=4)
    return patchlib.create_model("vit_micro", dim=32, depth=1, heads=2, patch_size=8)


def run_pose(people: Path) -> dict:
    """A tiny ViTPose (simple decoder: no batch norm, whose statistics are per rank on CPU) on generated people."""
    from patchlib.experiments import vitpose as chapter
    from patchlib.pose.data import TopDownDataset
    from patchlib.pose.synthetic import generate_people
    from patchlib.pose.train import PoseTrainConfig, train_pose

    files = {split: (generate_people(people, split, num_images=count, seed=3), people / split)
             for split, count in (("train", 6), ("val", 2))}
    train_set = TopDownDataset(*files["train"], image_size=(128, 96), augment=chapter.SIZES["smoke"].augment, seed=1)
    val_set = TopDownDataset(*files["val"], image_size=(128, 96))
    name, overrides = chapter.SIZES["smoke"].backbones["vit"]
    torch.manual_seed(0)
    model = chapter.create_model(name, **overrides | {"decoder": "simple"})
    config = PoseTrainConfig(epochs=2, batch_size=4, lr=1e-3, warmup_steps=1, precision="fp32", flip_test=True)
    result = train_pose(model, train_set, val_set, files["val"][0], config, seed=5, progress=False)
    return {"history": result["history"], "state": model.state_dict()}


def run(case: str, checkpoint: Path | None = None, augment: str = "none") -> dict:
    """Train the case's tiny model; "resume" stops after one epoch and resumes from the checkpoint
    with a fresh model, as a restarted job would."""
    data = load_dataset("shapes10", n_train=128, n_test=48, seed=0)
    config = CONFIG if augment == "none" else TrainConfig(**{**CONFIG.__dict__, "augment": augment})
    loss_fn = random_patch_loss((4, 8, 16)) if case == "flexivit" else None
    model = tiny_model(case)
    if case == "resume":
        train(model, data, config, seed=1, progress=False, checkpoint=checkpoint, stop_after_epochs=1)
        model = tiny_model(case)
    result = train(model, data, config, seed=1, progress=False, checkpoint=checkpoint, loss_fn=loss_fn)
    return {"history": result["history"], "state": model.state_dict()}


if __name__ == "__main__":
    case, out = sys.argv[1], Path(sys.argv[2])
    augment = sys.argv[3] if len(sys.argv) > 3 else "none"
    torch.set_num_threads(1)
    assert distributed.init_from_environment(torch.device("cpu")), "run me under torchrun with 2 processes"
    if case == "pose":
        outcome = run_pose(out.parent / f"people-rank{distributed.rank()}")
    else:
        outcome = run(case, out.with_suffix(".pt.ckpt") if case == "resume" else None, augment)
    outcome["rank"], outcome["world"] = distributed.rank(), distributed.world_size()
    torch.save(outcome, out.with_name(f"{out.stem}-rank{distributed.rank()}.pt"))
