"""The ConvMixer chapter's compute pieces, in the order `run()` computes them: the grid cells
(kernel k x patch p, the paper's CIFAR-10 ablation, §3 and appendix) and the recipe run, each a
ConvMixer trained with the convmixer-cifar10 recipe; then the cells' inference throughput."""
from __future__ import annotations


import torch

from ...measure import flops, measure_throughput, parameter_count
from ...models import config_record, create_model
from ...train import TrainConfig, train
from ..common import ChapterRun


def _model_config(name: str, overrides: dict) -> dict:
    return config_record(create_model(name, **overrides).config)


# ---- the configurations of the records ----

def cell_config(ctx: ChapterRun, kernel_size: int, patch_size: int, seed: int | None = None) -> dict:
    """One grid cell; `seed`: a further seed (None or the chapter's seed: the main run)."""
    size = ctx.size
    overrides = size.grid_overrides | {"kernel_size": kernel_size, "patch_size": patch_size}
    suffix = "" if seed in (None, ctx.seed) else f"-s{seed}"
    config = ctx.config(f"grid-k{kernel_size}-p{patch_size}{suffix}-{ctx.profile}", dataset=ctx.profile_dataset(),
                        n_train=size.grid_n_train, n_test=size.n_test, model=size.grid_model,
                        model_config=_model_config(size.grid_model, overrides), train=size.grid_train.record(),
                        channels_last=size.channels_last)
    return config | {"seed": seed} if suffix else config


def recipe_config(ctx: ChapterRun) -> dict:
    """The recipe run; `recipe_of` (where the profile cuts a longer recipe short): the length of the
    schedule whose first epochs it trains (`config.recipe_start`)."""
    size = ctx.size
    cut = {} if size.recipe_of is None else {"recipe_of": size.recipe_of}
    return ctx.config(f"recipe-{ctx.profile}", dataset=ctx.profile_dataset(), n_train=size.recipe_n_train,
                      n_test=size.n_test, model=size.recipe_model,
                      model_config=_model_config(size.recipe_model, size.recipe_overrides),
                      train=size.recipe_train.record(), channels_last=size.channels_last, **cut)


def throughput_config(ctx: ChapterRun, cells: list[dict]) -> dict:
    return ctx.config(f"throughput-{ctx.profile}", device_type=ctx.device.type, channels_last=ctx.size.channels_last,
                      throughput=ctx.size.throughput.record(), models=[cell["model_config"] for cell in cells])


# ---- the computations ----

def _build(model_name: str, model_config: dict, channels_last: bool):
    model = create_model(model_name, **model_config)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def _train_one(ctx: ChapterRun, piece: str, config: dict) -> dict:
    """Train the ConvMixer of `config` with its recipe (or load the stored result): pieces "grid"
    and "recipe"."""
    def compute(data) -> dict:
        torch.manual_seed(config["seed"])
        model = _build(config["model"], config["model_config"], config["channels_last"])
        trained = train(model, data, TrainConfig(**config["train"]), seed=config["seed"], device=ctx.device,
                        progress=ctx.progress, checkpoint=ctx.checkpoint(config))
        return {"history": trained["history"], "final": trained["final"], "train_time_s": trained["train_time_s"],
                "parameters": parameter_count(model), "cost": flops(model, (3, 32, 32))}

    return ctx.record(piece, config, compute)


def measure(ctx, size, speed) -> dict:
    """Piece "throughput": every grid cell of `speed` (`throughput_config`) timed in one run with
    the shared protocol (`patchlib.measure`), in the cells' order."""
    models = {f"cell{i}": _build(size.grid_model, config, size.channels_last)
              for i, config in enumerate(speed["models"])}
    measured = measure_throughput(models, (3, 32, 32), size.throughput, device=ctx.device)
    return {"throughput": [measured["models"][name] for name in models], "protocol": measured["protocol"]}
