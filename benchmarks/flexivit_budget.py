"""The FlexiViT chapter's cpu-profile time, estimated from short measured runs (issue 23: the chapter's cpu run must
stay within 75 minutes on 2 cores).

Trains every training role as the cpu profile trains it (its model, batch, precision, AdamW and augmentation, through
the chapter's own engine, `patchlib.train.train`) for two short epochs of `--steps` steps on random images of the
profile's size, FlexiViT and the distilled student at each patch size they draw (the student with its teacher's
forward pass), and takes the second epoch's images/s (the first pays for warm-up). Times the forward pass over the
test set at each patch size, in fp32 (the evaluate piece) and in the training precision (the evaluations in the
training histories, at each role's `evaluation_cadence`). Then multiplies out the cpu profile's plan: steps per
epoch x epochs x runs, the histories' evaluations, and the evaluate piece (every run at every size, the fixed ViTs a
second time away from their own size).
Figure 4, the frontier and the throughput measurement are taken from the committed records' wall times (their work
does not change). Prints the estimate per piece and in total.

    PYTHONPATH=. python benchmarks/flexivit_budget.py [--steps 16]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from patchlib.data import DataSplits, ImageData
from patchlib.experiments.flexivit import FIXED, SIZES, build_role_model, role_training, roles
from patchlib.experiments.flexivit.pieces import evaluation_cadence
from patchlib.losses import distillation_loss, random_patch_loss
from patchlib.models.flexivit import AtPatchSize
from patchlib.runtime import autocast
from patchlib.train import train

CIFAR_TRAIN, CIFAR_TEST = 50_000, 10_000


def random_data(n: int, side: int, seed: int) -> ImageData:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    return ImageData.from_tensors(images, labels, [str(i) for i in range(10)], name="random", source="random")


def seconds_per_step(role: str, patch: int | None, size, teacher, steps: int) -> float:
    """Seconds per optimisation step of `role` (at `patch` for the FlexiViTs) in the engine: the second of two
    epochs of `steps` steps (its evaluation of a 64-image test set aside)."""
    torch.manual_seed(0)
    config = replace(role_training(size, role), epochs=2, warmup_epochs=0)
    data = DataSplits(train=random_data(steps * config.batch_size, size.image_size, 1),
                      test=random_data(64, size.image_size, 2))
    loss_fn = (None if role in FIXED else distillation_loss(teacher, (patch,)) if role == "distill"
               else random_patch_loss((patch,), config.label_smoothing))
    history = train(build_role_model(size, role), data, config, seed=0, device="cpu", progress=False,
                    loss_fn=loss_fn)["history"]
    return config.batch_size / history[-1]["train_images_per_s"]


@torch.no_grad()
def test_set_seconds(model, size, precision: str, images: int = 1024, batch: int = 512) -> float:
    """Seconds of the forward pass over the CIFAR-10 test set, timed on `images` random images in batches of `batch`."""
    x = torch.randn(batch, 3, size.image_size, size.image_size)
    model.eval()
    with autocast(torch.device("cpu"), precision):
        model(x[:8])
        tic = time.perf_counter()
        for _ in range(images // batch):
            model(x)
    return (time.perf_counter() - tic) * CIFAR_TEST / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16, help="steps per measured epoch")
    args = parser.parse_args()
    size = SIZES["cpu"]
    precision = size.train.precision
    teacher = build_role_model(size, "vit_small").eval()
    step = {(role, patch): seconds_per_step(role, patch, size, teacher, args.steps)
            for role in roles(size) if role != "flexi_long"
            for patch in ((None,) if role in FIXED else size.patch_sizes)}
    for (role, patch), value in step.items():
        print(f"step {role:9s} patch {patch or '-':>4} {precision}: {value:.3f} s")
    flexi = build_role_model(size, "flexi")
    test = {(p, q): test_set_seconds(AtPatchSize(flexi, p), size, q) for p in size.patch_sizes
            for q in ("fp32", precision)}
    for (p, q), value in test.items():
        print(f"test set at patch {p:>2} {q}: {value:.1f} s")

    steps_per_epoch = CIFAR_TRAIN // size.train.batch_size
    seeds = {role: size.fewer_seeds.get(role, size.seeds) if role in size.seeded_roles else 1 for role in roles(size)}
    plan = {}
    for role in roles(size):
        drawn = "flexi" if role == "flexi_long" else role  # the FlexiViTs draw their patch size uniformly per step
        mean_step = statistics.mean(value for (r, _), value in step.items() if r == drawn)
        at = {"vit_small": size.small_patch, "vit_large": size.large_patch}.get(role, min(size.patch_sizes))
        epochs = role_training(size, role).epochs
        run = epochs * steps_per_epoch * mean_step + epochs // evaluation_cadence(size, role) * test[(at, precision)]
        plan[f"train {role} x{seeds[role]} ({epochs} epochs)"] = seeds[role] * run / 60
    own = {"vit_small": size.small_patch, "vit_large": size.large_patch}
    plan["evaluate"] = (sum(seeds.values()) * sum(test[(p, "fp32")] for p in size.patch_sizes)
                        + sum(seeds[r] * sum(test[(p, "fp32")] for p in size.patch_sizes if p != own[r])
                              for r in FIXED)) / 60
    committed = Path(__file__).resolve().parents[1] / "results" / "flexivit"
    for piece in ("figure4", "frontier", "measure"):
        record = json.loads(next(committed.glob(f"{piece}-cpu-*.json")).read_text())
        plan[f"{piece} (committed record's wall time)"] = record["provenance"]["wall_time_s"] / 60
    for name, minutes in plan.items():
        print(f"{name:48s} {minutes:6.1f} min")
    print(f"{'total':48s} {sum(plan.values()):6.1f} min")


if __name__ == "__main__":
    main()
