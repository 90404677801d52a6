"""The ViTPose chapter's cpu-profile time, estimated from short measured runs (issue 23: the chapter's cpu run must
stay within 75 minutes on 2 cores).

Trains each kind of run the cpu profile makes as the profile makes it (model, batch, precision, through the chapter's
own engine): the ViT's MAE pretraining and the ResNet's supervised pretraining (`patchlib.pose.pretrain.pretrain`, on
random 32x32 images standing in for CIFAR-10's: the cost does not depend on the pixels), and the four fine-tuning runs,
{ViT, ResNet (last stage at stride 1)} x {classic, simple} decoder (`patchlib.pose.train.train_pose`, on a few
generated people), each for two short epochs of `--steps` steps, and takes the second epoch's images/s (the first pays
for warm-up). Evaluation is timed once per kind (the pretraining's test images; the flip test on generated people).
Then multiplies out the plan in `SIZES["cpu"]`: the pretraining's epochs of its images, every seed's fine-tuning
epochs of the training people, and one evaluation per epoch. Prints the estimate per run kind and in total against
`--budget` minutes, and how many pretraining epochs would fit the time the fine-tuning leaves. The data, cost and
qualitative pieces are not timed (about a minute together on the committed cpu records' machine).

    PYTHONPATH=. python benchmarks/vitpose_budget.py [--steps 8] [--budget 75]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from patchlib.data import DataSplits, ImageData
from patchlib.experiments.vitpose import BACKBONES, DECODERS, SIZES
from patchlib.models import create_model
from patchlib.pose.data import TopDownDataset
from patchlib.pose.pretrain import PretrainTask, pretrain, pretraining_model
from patchlib.pose.synthetic import generate_people
from patchlib.pose.train import evaluate_pose, train_pose

CIFAR_TRAIN, CIFAR_TEST, CIFAR_CLASSES = 50_000, 10_000, 10
REPO = Path(__file__).resolve().parents[1]


def random_images(n: int, seed: int) -> ImageData:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.arange(n) % CIFAR_CLASSES
    return ImageData.from_tensors(images, labels, [str(i) for i in range(CIFAR_CLASSES)], name="random",
                                  source="random")


def pretrain_rates(backbone: str, steps: int) -> tuple[float, float]:
    """(training images/s of the second of two `steps`-step epochs, evaluation images/s) of a pretraining."""
    size = SIZES["cpu"]
    plan = replace(size.pretrain[backbone], epochs=2, warmup_epochs=0)
    name, overrides = size.backbones[backbone]
    data = DataSplits(train=random_images(steps * plan.batch_size, 1), test=random_images(256, 2))
    torch.manual_seed(0)
    model = pretraining_model(plan, create_model(name, **overrides).config.backbone, CIFAR_CLASSES)
    history = pretrain(model, data, plan, image_size=size.image_size, seed=0, device="cpu", progress=False)["history"]
    task = PretrainTask(data, plan, image_size=size.image_size, device=torch.device("cpu"))
    start = time.perf_counter()
    task.evaluate(model)
    return history[-1]["train_images_per_s"], len(data.test) / (time.perf_counter() - start)


def people(folder: Path, steps: int, batch_size: int) -> tuple[TopDownDataset, TopDownDataset, Path]:
    """Generated people: enough training people for `steps` batches, a few for validation."""
    size, images = SIZES["cpu"], max(4, steps * batch_size // 2)
    while True:
        annotations = generate_people(folder, "train", num_images=images, seed=0)
        train = TopDownDataset(annotations, folder / "train", image_size=size.image_size, augment=size.augment, seed=0,
                               cache_images=True)
        if len(train) >= steps * batch_size:
            break
        images *= 2
    val_annotations = generate_people(folder, "val", num_images=8, seed=1)
    val = TopDownDataset(val_annotations, folder / "val", image_size=size.image_size, cache_images=True)
    train.persons = train.persons[:steps * batch_size]
    return train, val, val_annotations


def finetune_rates(backbone: str, decoder: str, data, steps: int) -> tuple[float, float]:
    """(training people/s of the second of two `steps`-step epochs, evaluation people/s with the flip test)."""
    size = SIZES["cpu"]
    train_set, val_set, annotations = data
    config = replace(size.train, epochs=2, warmup_steps=1, eval_every=2)
    name, overrides = size.backbones[backbone]
    torch.manual_seed(0)
    model = create_model(name, **overrides, decoder=decoder)
    history = train_pose(model, train_set, val_set, annotations, config, seed=0, device="cpu", progress=False)["history"]
    start = time.perf_counter()
    evaluate_pose(model, val_set, annotations, device=torch.device("cpu"), decoding=config.decoding)
    return history[-1]["train_images_per_s"], len(val_set) / (time.perf_counter() - start)


def committed_people() -> tuple[int, int]:
    """(train, val) people of the cpu profile's generated data, from its committed data record."""
    found = sorted((REPO / "results" / "vitpose").glob("data-cpu-*.json"))
    if not found:
        raise SystemExit("no results/vitpose/data-cpu-*.json to count the cpu profile's people from; pass "
                         "--people TRAIN VAL")
    result = json.loads(found[-1].read_text())["result"]
    return result["train"]["people"], result["val"]["people"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--budget", type=float, default=75.0, help="minutes for the whole chapter")
    parser.add_argument("--people", type=int, nargs=2, metavar=("TRAIN", "VAL"), default=None,
                        help="people of the cpu profile's data (default: from its committed data record)")
    args = parser.parse_args()
    if args.steps < 1:
        raise SystemExit(f"--steps must be at least 1, got {args.steps}")
    torch.set_num_threads(2)
    size = SIZES["cpu"]
    train_people, val_people = args.people or committed_people()
    minutes, per_epoch = {}, {}
    for backbone in BACKBONES:
        plan = size.pretrain[backbone]
        rate, eval_rate = pretrain_rates(backbone, args.steps)
        images, tests = plan.n_train or CIFAR_TRAIN, plan.n_test or CIFAR_TEST
        per_epoch[backbone] = (images / rate + tests / eval_rate) / 60
        minutes[f"pretrain {backbone} ({plan.objective}, {plan.epochs} epochs)"] = plan.epochs * per_epoch[backbone]
        print(f"pretrain {backbone}: {rate:.0f} train img/s, {eval_rate:.0f} eval img/s, "
              f"{per_epoch[backbone]:.1f} min per epoch of {images:,} images", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        data = people(Path(folder), args.steps, size.train.batch_size)
        for backbone in BACKBONES:
            for decoder in DECODERS:
                rate, eval_rate = finetune_rates(backbone, decoder, data, args.steps)
                runs = f"{backbone} {decoder} ({size.seeds} seeds x {size.train.epochs} epochs)"
                minutes[runs] = size.seeds * size.train.epochs * (train_people / rate + val_people / eval_rate) / 60
                print(f"fine-tune {backbone} {decoder}: {rate:.0f} train people/s, {eval_rate:.0f} eval people/s",
                      flush=True)
    total = sum(minutes.values())
    for name, value in minutes.items():
        print(f"{name:48s} {value:6.1f} min")
    print(f"{'total (data, cost and qualitative pieces not included)':48s} {total:6.1f} min "
          f"({'within' if total <= args.budget else 'OVER'} the {args.budget:g}-minute budget)")
    finetune = total - sum(v for k, v in minutes.items() if k.startswith("pretrain"))
    share = (args.budget - finetune) / 2
    for backbone in BACKBONES:
        print(f"pretraining epochs of {backbone} that fit half of the rest of {args.budget:g} min: "
              f"{max(0, int(share // per_epoch[backbone]))} (at {per_epoch[backbone]:.1f} min each)")


if __name__ == "__main__":
    main()
