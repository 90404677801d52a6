"""Training-step speed of each chapter's cpu training configuration, per precision and kernel choice.

For every chapter's model, batch size and optimiser as its cpu profile trains them, the candidates
(fp32; bf16 autocast as it is; bf16 with the attention in fp32; bf16 with the math attention
kernel; foreach and fused AdamW; channels_last for convolutional networks; optionally
torch.compile, its compile time reported apart) train on the same batch, alternated round after
round in one process so that drift in the machine's speed hits all alike (STYLE.md §11). Prints
images/s per candidate (median over rounds) and its ratio to fp32 (the median of the per-round
ratios). The engine takes the chosen setting from the chapter's TrainConfig (`precision`,
`adamw_impl`, `compile`; patchlib/runtime.py and patchlib/train.py), recorded in every record.

    PYTHONPATH=. python benchmarks/training_speed.py [--chapters vit convmixer] [--rounds 5] [--steps 4]
        [--compile] [--threads 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from patchlib.runtime import autocast
from patchlib.train import TrainConfig, make_adamw, optimisation_step, parameter_groups


@dataclass
class Workload:
    """One chapter's training step: its model, input shape, batch, loss and which candidates apply."""
    chapter: str
    label: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    batch_size: int
    loss: Callable                      # (output, target) -> loss
    target: Callable[[int], torch.Tensor]
    attention: bool                     # has softmax attention (the attention variants apply)
    convolutional: bool                 # channels_last applies
    precision_now: str                  # the cpu profile's precision today
    channels_last_now: bool = False     # ... and its memory format


def classification(chapter: str, label: str, build, size: int, batch: int, *, attention: bool,
                   convolutional: bool, precision_now: str, channels_last_now: bool = False) -> Workload:
    return Workload(chapter, label, build, (3, size, size), batch,
                    lambda out, y: F.cross_entropy(out.float(), y, label_smoothing=0.1),
                    lambda n: torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(1)),
                    attention, convolutional, precision_now, channels_last_now)


def workloads() -> list[Workload]:
    """Each chapter's cpu training configuration (model, batch, precision today)."""
    from patchlib.experiments import convmixer, evit, flexivit, mobilevit, vit, vitpose
    from patchlib.models import create_model

    found = []
    size = vit.SIZES["cpu"]
    found.append(classification("vit", f"{size.model} {size.model_overrides}", lambda: vit.architecture("cpu"), 32,
                                size.train.batch_size, attention=True, convolutional=False,
                                precision_now=size.train.precision))
    size = flexivit.SIZES["cpu"]
    found.append(classification("flexivit", f"ViT/{size.small_patch} at {size.image_size} px",
                                lambda: flexivit.build_role_model(flexivit.SIZES["cpu"], "vit_small"), size.image_size,
                                size.train.batch_size, attention=True, convolutional=False,
                                precision_now=size.train.precision))
    size = evit.SIZES["cpu"]
    found.append(classification("evit", "EViT keep 0.7 (fused), fine-tuning", lambda: evit.evit_model("cpu", 0.7, True),
                                32, size.finetune.batch_size, attention=True, convolutional=False,
                                precision_now=size.finetune.precision))
    size = convmixer.SIZES["cpu"]
    found.append(classification("convmixer", f"{size.recipe_model} {size.recipe_overrides} (recipe)",
                                lambda s=size: create_model(s.recipe_model, **s.recipe_overrides), 32,
                                size.recipe_train.batch_size, attention=False, convolutional=True,
                                precision_now=size.recipe_train.precision, channels_last_now=size.channels_last))
    size = mobilevit.SIZES["cpu"]
    for version, (name, overrides) in size.models.items():
        found.append(classification("mobilevit", f"{version}: {name}", lambda n=name, o=overrides: create_model(n, **o),
                                    32, size.train.batch_size, attention=version == "v1", convolutional=True,
                                    precision_now=size.train.precision, channels_last_now=size.channels_last))
    size = vitpose.SIZES["cpu"]
    height, width = size.image_size
    for backbone, (name, overrides) in size.backbones.items():
        found.append(Workload(
            "vitpose", f"{backbone}: {name}, classic decoder",
            lambda n=name, o=overrides: create_model(n, **o, decoder="classic"), (3, height, width),
            size.train.batch_size, lambda out, y: F.mse_loss(out.float(), y),
            lambda n: torch.rand(n, 17, height // 4, width // 4, generator=torch.Generator().manual_seed(1)),
            attention=backbone == "vit", convolutional=True, precision_now=size.train.precision))
    return found


def candidates(workload: Workload, with_compile: bool) -> dict[str, dict]:
    """name -> settings (precision, adamw_impl, channels_last, compile) that apply to `workload`."""
    found = {"fp32": {}, "bf16": {"precision": "bf16"}}
    if workload.attention:
        found["bf16_fp32_attention"] = {"precision": "bf16_fp32_attention"}
        found["bf16_math_attention"] = {"precision": "bf16_math_attention"}
    found["fp32 foreach AdamW"] = {"adamw_impl": "foreach"}
    found["fp32 fused AdamW"] = {"adamw_impl": "fused"}
    if workload.convolutional:
        found["fp32 channels_last"] = {"channels_last": True}
        found["bf16 channels_last"] = {"precision": "bf16", "channels_last": True}
        if workload.attention:
            found["bf16_fp32_attention channels_last"] = {"precision": "bf16_fp32_attention", "channels_last": True}
    if with_compile:
        found["fp32 compiled"] = {"compile": True}
    return {name: {"precision": "fp32", "adamw_impl": "default", "channels_last": False, "compile": False} | settings
            for name, settings in found.items()}


class Trainer:
    """One candidate: its own copy of the model and optimiser, stepping on a fixed batch."""

    def __init__(self, workload: Workload, model: nn.Module, settings: dict, images, target):
        self.settings, self.workload = settings, workload
        self.model = copy.deepcopy(model)
        if settings["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)
            images = images.contiguous(memory_format=torch.channels_last)
        self.images, self.target = images, target
        config = TrainConfig(epochs=1, adamw_impl=settings["adamw_impl"])
        self.optimizer = make_adamw(parameter_groups(self.model, 0.05), config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: 1.0)
        self.forward = torch.compile(self.model) if settings["compile"] else self.model
        self.model.train()
        self.compile_s = 0.0
        if settings["compile"]:
            tic = time.perf_counter()
            self.step()
            self.compile_s = time.perf_counter() - tic

    def step(self) -> None:
        with autocast(torch.device("cpu"), self.settings["precision"]):
            out = self.forward(self.images)
        loss = self.workload.loss(out, self.target)
        optimisation_step(loss, self.model, self.optimizer, self.scheduler, grad_clip=1.0)

    def time(self, steps: int) -> float:
        tic = time.perf_counter()
        for _ in range(steps):
            self.step()
        return steps * self.workload.batch_size / (time.perf_counter() - tic)


def today_candidate(workload: Workload, trainers: dict) -> str:
    """The candidate that trains as the chapter's cpu profile does today ("auto" is fp32 on a CPU)."""
    precision = "fp32" if workload.precision_now == "auto" else workload.precision_now
    wanted = {"precision": precision, "adamw_impl": "default", "channels_last": workload.channels_last_now,
              "compile": False}
    return next(name for name, trainer in trainers.items() if trainer.settings == wanted)


def benchmark(workload: Workload, args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    model = workload.build()
    images = torch.randn(workload.batch_size, *workload.input_shape, generator=torch.Generator().manual_seed(0))
    target = workload.target(workload.batch_size)
    trainers = {name: Trainer(workload, model, settings, images, target)
                for name, settings in candidates(workload, args.compile).items()}
    for trainer in trainers.values():  # warm-up: allocator, kernels' first calls
        for _ in range(args.warmup):
            trainer.step()
    rates: dict[str, list[float]] = {name: [] for name in trainers}
    names = list(trainers)
    for round_index in range(args.rounds):
        for name in names[round_index % len(names):] + names[:round_index % len(names)]:  # a rotating order
            rates[name].append(trainers[name].time(args.steps))
    ratios = {name: statistics.median(r / f for r, f in zip(rates[name], rates["fp32"])) for name in names}
    today = today_candidate(workload, trainers)
    to_today = {name: statistics.median(r / t for r, t in zip(rates[name], rates[today])) for name in names}
    return {"chapter": workload.chapter, "model": workload.label, "batch_size": workload.batch_size,
            "input": list(workload.input_shape), "precision_now": workload.precision_now,
            "channels_last_now": workload.channels_last_now, "today": today,
            "candidates": {name: {"images_per_s": statistics.median(rates[name]), "rounds": rates[name],
                                  "ratio_to_fp32": ratios[name], "ratio_to_today": to_today[name],
                                  "compile_s": trainers[name].compile_s,
                                  "settings": trainers[name].settings} for name in names}}


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--chapters", nargs="*", default=None, help="default: every chapter")
    arguments.add_argument("--rounds", type=int, default=5)
    arguments.add_argument("--steps", type=int, default=4, help="timed training steps per candidate and round")
    arguments.add_argument("--warmup", type=int, default=2)
    arguments.add_argument("--compile", action="store_true", help="add torch.compile (fp32) as a candidate")
    arguments.add_argument("--threads", type=int, default=None)
    arguments.add_argument("--json", default=None, help="also write the measurements here")
    args = arguments.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.rounds} rounds of {args.steps} "
          f"steps per candidate, alternated; ratio = median over rounds of (candidate / fp32)")
    results = []
    for workload in workloads():
        if args.chapters and workload.chapter not in args.chapters:
            continue
        measured = benchmark(workload, args)
        results.append(measured)
        print(f"\n{workload.chapter}: {workload.label}, batch {workload.batch_size}, input {workload.input_shape}, "
              f"cpu profile today: {measured['today']}")
        for name, row in measured["candidates"].items():
            extra = f"  (compile {row['compile_s']:.0f} s)" if row["compile_s"] else ""
            mark = "  <- today" if name == measured["today"] else ""
            print(f"  {name:<34} {row['images_per_s']:8.1f} img/s  {row['ratio_to_fp32']:5.2f}x fp32  "
                  f"{row['ratio_to_today']:5.2f}x today{extra}{mark}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "rounds": args.rounds,
                       "steps": args.steps, "results": results}, handle, indent=1)


if __name__ == "__main__":
    main()
