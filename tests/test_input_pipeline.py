"""Issue 26 beyond RandAugment: the gpu profile's cost report (a smoke-sized dry run), the FLOP count
of a training step, the pose loader's preloaded images, and what the gpu profile calls itself."""
from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import pytest
import torch

import patchlib.train
from patchlib.data import DataSplits, ImageData
from patchlib.experiments.common import FULL_TRAINING_SET, ChapterRun
from patchlib.measure import (GPU_PEAK_FLOPS, MODELLED_UTILISATION, TRAINING_OBSERVER, flops, repeat_batch,
                              time_training_step)
from patchlib.models import create_model
from patchlib.pose.data import TopDownDataset
from patchlib.pose.synthetic import generate_people
from patchlib.profiles import PROFILES
from patchlib.train import ClassificationTask, TrainConfig

README = Path(__file__).resolve().parents[1] / "README.md"


@dataclasses.dataclass(frozen=True)
class ToySize:
    """A chapter's Size in miniature: a training config and a training-set cut (None: all of it)."""
    train: TrainConfig
    n_train: int | None = None


def toy_data(n: int = 16) -> DataSplits:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=generator, dtype=torch.uint8)
    labels = torch.arange(n) % 10
    split = ImageData.from_tensors(images, labels, [str(i) for i in range(10)], name="cifar10", source="random")
    return DataSplits(train=split, test=split)


def test_a_dry_run_finds_the_full_size_settings_of_derived_training(tmp_path):
    """A chapter that derives training settings from its Size (FlexiViT's equal-compute run: 5x the
    epochs) names the derivation, and a dry run's cost report finds the full-size settings through it;
    settings no Size field or derivation gives stay unknown (None: not estimated)."""
    full = TrainConfig(epochs=7, batch_size=64, augment="randaugment")
    longer = lambda size: dataclasses.replace(size.train, epochs=size.train.epochs * 5)  # noqa: E731
    ctx = ChapterRun.resolve(chapter="demo", sizes={p: ToySize(train=full) for p in PROFILES}, pieces=("a",),
                             profile="gpu", dry_run=True, results_dir=tmp_path, device="cpu", derived_configs=[longer])
    assert ctx.full_config(longer(ctx.size)) == dataclasses.replace(full, epochs=35)
    assert ctx.full_config(dataclasses.replace(ctx.size.train, epochs=3)) is None
    flexivit = importlib.import_module("patchlib.experiments.flexivit")
    fctx = flexivit.context("gpu", dry_run=True, results_dir=tmp_path, device="cpu")
    for role in ("flexi_long", "distill"):
        assert fctx.full_config(flexivit.role_training(fctx.size, role)) == flexivit.role_training(fctx.full_size, role)


def test_the_cost_report_of_a_dry_run_estimates_the_full_run(tmp_path, capsys):
    """A gpu-profile dry run (batch 4, one epoch) reports the full run it stands for: the full
    config's epochs and batch over the whole training set, FLOPs counted forward and backward, the
    pipeline measured, the modelled H100 time; the run's RNG and weights are left as they were."""
    full = TrainConfig(epochs=7, batch_size=64, augment="randaugment")
    ctx = ChapterRun.resolve(chapter="demo", sizes={p: ToySize(train=full) for p in PROFILES}, pieces=("a",),
                             profile="gpu", dry_run=True, results_dir=tmp_path, device="cpu")
    assert ctx.size.train.batch_size == 4 and ctx.full_config(ctx.size.train) == full
    torch.manual_seed(0)
    model = create_model("vit_micro")
    task = ClassificationTask(toy_data(), ctx.size.train, device=torch.device("cpu"))
    weights, rng = [p.detach().clone() for p in model.parameters()], torch.get_rng_state()
    with ctx.observing_training("a-gpu"):
        observer = TRAINING_OBSERVER.get()
        report = observer(model, task, torch.device("cpu"))
    assert TRAINING_OBSERVER.get() is None  # only while a gpu record computes
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))

    forward = flops(model, (3, 32, 32))["flops"]
    assert 2.5 * forward < report["flops_per_image"] < 3.5 * forward  # backward ~ twice the forward
    images = full.epochs * (FULL_TRAINING_SET["cifar10"] // full.batch_size) * full.batch_size
    assert report["images_per_epoch"] == FULL_TRAINING_SET["cifar10"] and report["epochs"] == 7
    assert report["total_flops"] == pytest.approx(report["flops_per_image"] * images)
    assert report["modelled_h100_s"] == pytest.approx(
        report["total_flops"] / (GPU_PEAK_FLOPS["NVIDIA H100 SXM"] * MODELLED_UTILISATION))
    assert report["timed_batch"] == 4 and report["seconds_here"] == pytest.approx(
        images * report["seconds_per_step"] / 4)
    assert report["pipeline"] == "randaugment" and report["pipeline_images_per_s"] > 0
    printed = capsys.readouterr().out
    assert "cost of a-gpu (dry run: the full run estimated)" in printed
    assert re.search(r"input pipeline \(randaugment\): [\d,]+ images/s", printed)
    assert "modelled on an NVIDIA H100 SXM" in printed and ctx.cost_reports == [report]


def test_no_cost_report_outside_the_gpu_profile(tmp_path):
    ctx = ChapterRun.resolve(chapter="demo", sizes={p: ToySize(train=TrainConfig(epochs=1)) for p in PROFILES},
                             pieces=("a",), profile="cpu", results_dir=tmp_path, device="cpu")
    with ctx.observing_training("a-cpu"):
        assert TRAINING_OBSERVER.get() is None


def test_fit_lets_the_cost_report_see_every_training_run(tmp_path):
    """`patchlib.train.fit` hands its model and task to the observer before its first epoch."""
    seen = []
    token = TRAINING_OBSERVER.set(lambda model, task, device: seen.append((model, task.config.epochs, device)))
    try:
        model = create_model("vit_micro", depth=1)
        patchlib.train.train(model, toy_data(8), TrainConfig(epochs=1, batch_size=4), seed=0, device="cpu",
                             progress=False)
    finally:
        TRAINING_OBSERVER.reset(token)
    assert seen == [(model, 1, torch.device("cpu"))]


def test_a_training_step_counts_grouped_convolutions_right():
    """torch's counter charges a depthwise convolution's weight gradient once per group too many;
    the training count is forward + input gradient + weight gradient, 3x the forward."""
    conv = torch.nn.Conv2d(16, 16, 5, groups=16, padding=2)

    def step(model, batch, streams):
        return model(batch).square().mean(), {}
    task = type("Task", (), {"training_step": staticmethod(step), "config": TrainConfig(epochs=1)})()
    inputs = torch.randn(2, 16, 8, 8, requires_grad=True)  # as inside a network: the input's gradient too
    timed = time_training_step(task, conv, inputs, device=torch.device("cpu"))
    forward = 2 * 16 * 1 * 25 * 64  # per image: 2 x out channels x in channels per group x kernel x positions
    assert timed["flops_per_image"] == pytest.approx(3 * forward)
    assert repeat_batch({"x": torch.arange(3), "n": 1}, 7)["x"].tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_preloaded_images_give_the_same_crops_within_the_budget(tmp_path):
    files = (generate_people(tmp_path, "train2017", num_images=3, seed=1, image_size=(64, 80)), tmp_path / "train2017")
    plain, preloaded = TopDownDataset(*files, image_size=(32, 24)), TopDownDataset(*files, image_size=(32, 24))
    one_image = 3 * 64 * 80
    assert preloaded.preload_images(2 * one_image + 1, threads=2) == 2 * one_image  # two of the three fit
    assert all(torch.equal(plain[i]["image"], preloaded[i]["image"]) for i in range(len(plain)))
    expected = plain[0]["image"]
    preloaded.persons[0].file.unlink()  # a preloaded image is never read again
    assert torch.equal(preloaded[0]["image"], expected)
    with pytest.raises(FileNotFoundError):
        plain[0]
    with pytest.raises(ValueError, match="budget_bytes"):
        preloaded.preload_images(-1)


def test_the_gpu_profile_says_what_it_is():
    gpu = PROFILES["gpu"]
    assert gpu.description.startswith("A larger-scale rerun on CIFAR-10 (COCO for ViTPose)")
    assert "full reproduction" not in gpu.description and "full-scale" not in gpu.description
    row = next(line for line in README.read_text().splitlines() if line.startswith("| `gpu` |"))
    assert "larger-scale rerun on CIFAR-10 (COCO for ViTPose)" in row and "full-scale" not in row
