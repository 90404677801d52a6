"""Does a faster precision change what training reaches? A short seeded comparison (issue 28).

For a chapter's cpu model and recipe, trains the same model from the same seeds on the same
CIFAR-10 subset with the same schedule, once in the chapter's current precision and once in the
candidate, and compares the final test accuracies: the difference of the means against its
noise (the seeds' pooled standard deviation over sqrt(seeds / 2)). "agrees" when the difference
is within two of those errors. The runs are shortened (a subset, a few epochs) so that the check
fits beside the work it protects; it shows agreement at that length, not at every length.

    PYTHONPATH=. PATCHLIB_DATA=/path/to/data python benchmarks/precision_agreement.py vit \
        --candidate bf16_fp32_attention [--seeds 3] [--epochs 3] [--n-train 10000] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import replace

import torch

from patchlib.data import load_dataset
from patchlib.train import train


def chapter_setup(chapter: str):
    """(model builder, the cpu profile's TrainConfig) of a chapter's main training."""
    from patchlib.experiments import convmixer, vit
    from patchlib.models import create_model

    if chapter == "vit":
        return (lambda: vit.architecture("cpu")), vit.SIZES["cpu"].train
    if chapter == "convmixer":
        size = convmixer.SIZES["cpu"]
        memory_format = torch.channels_last if size.channels_last else torch.contiguous_format
        return (lambda: create_model(size.recipe_model, **size.recipe_overrides).to(memory_format=memory_format),
                size.recipe_train)
    raise ValueError(f"no agreement check for chapter {chapter!r}; use vit or convmixer")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("chapter")
    arguments.add_argument("--baseline", default=None, help="default: the chapter's cpu precision today")
    arguments.add_argument("--candidate", required=True)
    arguments.add_argument("--seeds", type=int, default=3)
    arguments.add_argument("--epochs", type=int, default=3)
    arguments.add_argument("--n-train", type=int, default=10_000)
    arguments.add_argument("--n-test", type=int, default=None, help="default: the whole test set")
    arguments.add_argument("--json", default=None)
    args = arguments.parse_args()

    build, recipe = chapter_setup(args.chapter)
    baseline = args.baseline or recipe.precision
    data = load_dataset("cifar10", n_train=args.n_train, n_test=args.n_test)
    print(f"{args.chapter}: {args.n_train} training images, {len(data.test)} test images, {args.epochs} epochs of "
          f"the cpu recipe (batch {recipe.batch_size}, lr {recipe.lr}), seeds 0..{args.seeds - 1}, {baseline} "
          f"against {args.candidate}")
    runs = {baseline: [], args.candidate: []}
    for seed in range(args.seeds):
        for precision in runs:  # the two precisions alternate, seed by seed
            config = replace(recipe, epochs=args.epochs, precision=precision)
            torch.manual_seed(seed)
            model = build()
            tic = time.perf_counter()
            trained = train(model, data, config, seed=seed, progress=False)
            runs[precision].append({"seed": seed, "test_acc": trained["final"]["test_acc"],
                                    "train_loss": trained["history"][-1]["train_loss"],
                                    "train_time_s": trained["train_time_s"], "wall_s": time.perf_counter() - tic})
            print(f"  seed {seed} {precision:<20} test acc {trained['final']['test_acc']:.2f}%  "
                  f"train {trained['train_time_s']:.0f} s", flush=True)
    accs = {p: [r["test_acc"] for r in rows] for p, rows in runs.items()}
    means = {p: statistics.mean(a) for p, a in accs.items()}
    pooled_sd = math.sqrt(statistics.mean(statistics.variance(a) for a in accs.values())) if args.seeds > 1 else float("nan")
    error = pooled_sd * math.sqrt(2 / args.seeds)
    difference = means[args.candidate] - means[baseline]
    speed = statistics.mean(r["train_time_s"] for r in runs[baseline]) / statistics.mean(
        r["train_time_s"] for r in runs[args.candidate])
    verdict = "agrees" if abs(difference) <= 2 * error else "differs"
    print(f"mean test acc: {baseline} {means[baseline]:.2f}%, {args.candidate} {means[args.candidate]:.2f}%; "
          f"difference {difference:+.2f} ± {error:.2f} (pooled seed sd {pooled_sd:.2f}): {verdict} within 2 errors; "
          f"training {speed:.2f}x faster")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"chapter": args.chapter, "baseline": baseline, "candidate": args.candidate,
                       "epochs": args.epochs, "n_train": args.n_train, "n_test": len(data.test), "runs": runs,
                       "means": means, "pooled_sd": pooled_sd, "difference": difference, "error": error,
                       "verdict": verdict, "speedup": speed, "torch": torch.__version__,
                       "threads": torch.get_num_threads()}, handle, indent=1)


if __name__ == "__main__":
    main()
