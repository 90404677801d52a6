"""The ConvMixer chapter's cpu-profile time, estimated from short measured runs (issue 23: the chapter's cpu run must
stay within 75 minutes on 2 cores).

Trains each kind of run the cpu profile makes (a grid cell at every patch size, the recipe run) as the profile trains
it (model, batch, precision, channels-last, AdamW and augmentation, through the chapter's own engine,
`patchlib.train.train`) for two short epochs of `--steps` steps on random 32-px images, and takes the second epoch's
images/s (the first pays for warm-up; kernel size barely changes the cost, so one k per patch size). Then multiplies
out the plan: every cell's and every further seed's images, the recipe run's epochs of the whole training set, and
one evaluation of the test set per epoch (timed on the trained model). Prints the estimate per piece and in total, and how many epochs of the
recipe would fit the rest of `--budget` minutes.

    PYTHONPATH=. python benchmarks/convmixer_budget.py [--steps 8] [--budget 75] [--compile]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from patchlib.data import DataSplits, ImageData
from patchlib.experiments.convmixer import SIZES
from patchlib.experiments.convmixer.pieces import _build, _model_config
from patchlib.train import evaluate, train

CIFAR_TRAIN, CIFAR_TEST = 50_000, 10_000


def random_data(n: int, seed: int) -> ImageData:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    return ImageData.from_tensors(images, labels, [str(i) for i in range(10)], name="random", source="random")


def images_per_s(model_name: str, model_config: dict, config, channels_last: bool, steps: int) -> tuple[float, float]:
    """(training images/s of the second of two `steps`-step epochs, evaluation images/s) of one run."""
    torch.manual_seed(0)
    config = replace(config, epochs=2, warmup_epochs=0)
    data = DataSplits(train=random_data(steps * config.batch_size, 1), test=random_data(1024, 2))
    model = _build(model_name, model_config, channels_last)
    history = train(model, data, config, seed=0, device="cpu", progress=False)["history"]
    start = time.perf_counter()
    evaluate(model, data.test, mean=(0.5,) * 3, std=(0.25,) * 3, device=torch.device("cpu"),
             batch_size=config.eval_batch_size, precision=config.precision)
    return history[-1]["train_images_per_s"], len(data.test) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--budget", type=float, default=75.0, help="minutes for the whole chapter")
    parser.add_argument("--compile", action="store_true", help="time every run with torch.compile (TrainConfig.compile)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    size = SIZES["cpu"]
    grid_train, recipe_train = (replace(c, compile=args.compile) for c in (size.grid_train, size.recipe_train))
    n_grid, n_test = size.grid_n_train or CIFAR_TRAIN, size.n_test or CIFAR_TEST
    cells = size.grid_cells()
    cells_per_patch = {p: sum(q == p for _, q in cells) + (size.seeds - 1) * sum(q == p for _, q in size.seeded_cells)
                       for p in size.patch_sizes}
    minutes = {}
    for patch, runs in cells_per_patch.items():
        config = _model_config(size.grid_model, size.grid_overrides | {"kernel_size": 5, "patch_size": patch})
        rate, eval_rate = images_per_s(size.grid_model, config, grid_train, size.channels_last, args.steps)
        minutes[f"grid p={patch} ({runs} runs)"] = runs * grid_train.epochs * (n_grid / rate + n_test / eval_rate) / 60
        print(f"grid p={patch}: {rate:.0f} train img/s, {eval_rate:.0f} eval img/s", flush=True)
    recipe_config = _model_config(size.recipe_model, size.recipe_overrides)
    rate, eval_rate = images_per_s(size.recipe_model, recipe_config, recipe_train, size.channels_last, args.steps)
    per_epoch = ((size.recipe_n_train or CIFAR_TRAIN) / rate + n_test / eval_rate) / 60
    recipe_name = f"recipe ({recipe_train.epochs} epochs)"
    minutes[recipe_name] = recipe_train.epochs * per_epoch
    print(f"recipe: {rate:.0f} train img/s, {eval_rate:.0f} eval img/s, {per_epoch:.1f} min per epoch", flush=True)
    total = sum(minutes.values())
    for name, value in minutes.items():
        print(f"{name:28s} {value:6.1f} min")
    print(f"{'total (throughput timing not included)':28s} {total:6.1f} min")
    rest = args.budget - (total - minutes[recipe_name])
    print(f"recipe epochs that fit {args.budget:g} min: {int(rest // per_epoch)} (at {per_epoch:.1f} min each)")


if __name__ == "__main__":
    main()
