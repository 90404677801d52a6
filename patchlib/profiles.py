"""The run profiles, defined once for every chapter: three that train (smoke, cpu, gpu) and one that
evaluates the papers' released weights (pretrained).

A profile fixes the data, the hardware it is meant for and its time budget; each chapter
declares its own sizes (model, epochs, subset) for each profile next to its experiment code.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    dataset: str
    hardware: str
    budget: str
    description: str


# What the gpu profile is, and what it is not: it reruns each chapter at a larger scale on the same data
# (CIFAR-10; COCO for ViTPose), so no gpu run can test a paper's ImageNet, JFT or MAE-pretrained number.
GPU_DESCRIPTION = ("A larger-scale rerun on CIFAR-10 (COCO for ViTPose): larger models, longer training and the "
                   "official recipes where CIFAR-10 allows, each chapter listing how it differs; it cannot test "
                   "the papers' ImageNet, JFT or MAE-pretrained numbers.")

PROFILES = {
    "smoke": Profile("smoke", "shapes10", "any CPU (a laptop)", "a few minutes for the whole book",
                     "Checks that every chapter runs end to end, on patchlib's embedded synthetic data "
                     "(shapes10, generated from a seed). Its numbers are not comparable to the papers'."),
    "cpu": Profile("cpu", "cifar10", "2 CPU cores", "at most 60 minutes per chapter",
                   "A faithful small-scale rerun on CIFAR-10: smaller models, fewer epochs, same mechanisms."),
    # Budget: the dry run's cost report (training FLOPs counted, an H100 at 40 % of its bf16 peak;
    # `patchlib.experiments.common.training_cost`), not yet a measured run.
    "gpu": Profile("gpu", "cifar10", "1 GPU (H100 class)",
                   "modelled: minutes of training per CIFAR-10 chapter, about 18 h for ViTPose (the dry run prints "
                   "each chapter's)",
                   GPU_DESCRIPTION),
    # Evaluation only (patchlib.experiments.pretrained): the released weights on the real validation sets.
    "pretrained": Profile("pretrained", "ImageNet-1k val; COCO val2017", "1 GPU",
                          "about an hour of evaluation on one GPU (not yet measured)",
                          "Evaluates the papers' released checkpoints on the papers' own benchmarks (ImageNet-1k "
                          "val, COCO val2017) and checks the published numbers, where the cpu and gpu profiles "
                          "retrain each chapter at a smaller scale; nothing is trained."),
}

# The profiles in which every chapter trains (each chapter's SIZES has one entry per profile here); the
# pretrained profile evaluates released weights instead (patchlib.experiments.pretrained, notebooks/pretrained.ipynb).
TRAINING_PROFILES = ("smoke", "cpu", "gpu")


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def main(argv: list[str] | None = None) -> int:
    """`python -m patchlib.profiles NAME`: exit 0 if NAME is a profile, else say which exist (exit 2).
    `make` runs it before starting any notebook kernel."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m patchlib.profiles PROFILE", file=sys.stderr)
        return 2
    try:
        get_profile(args[0])
    except ValueError as error:
        print(f"PROFILE={args[0]}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
