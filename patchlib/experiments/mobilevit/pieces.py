"""The MobileViT chapter's compute pieces, in the order `run()` computes them: the attention-unit
curve (v2 Fig. 1), the table of ImageNet variants (v1 Table 4, v2 Table 6), the CIFAR-10 models
trained with the ViT chapter's recipe (v2 Table 1's question), and their throughput."""
from __future__ import annotations


import torch

from ...layers import Attention
from ...measure import ThroughputProtocol, flops, measure_throughput, parameter_count
from ...models import config_record, create_model
from ...models.mobilevit import SeparableSelfAttention
from ...train import train
from .. import vit as vit_chapter
from ..common import ChapterRun

# ---- the attention-unit curve (v2 Fig. 1) ----


def attention_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    return ctx.config(f"attention-{ctx.profile}", device_type=ctx.device.type, token_counts=list(size.token_counts),
                      dim=size.attention_dim, heads=size.attention_heads, threads=size.attention_threads,
                      limit_s=size.attention_limit_s, protocol=size.attention_protocol.record())


def attention_units(dim: int, heads: int) -> dict:
    """The compared units and their input shapes for k tokens: multi-head attention on [k, d]
    tokens (v1's unit), separable self-attention on [d, 1, k] (v2's layout, one pixel position)."""
    return {"multi-head attention": (Attention(dim, heads=heads), lambda k: (k, dim)),
            "separable self-attention": (SeparableSelfAttention(dim), lambda k: (dim, 1, k))}


def time_attention_units(dim: int, heads: int, token_counts, *, threads: int, limit_s: float,
                         protocol: ThroughputProtocol, device, progress: bool = False) -> dict:
    """Latency (s) of each unit of `attention_units(dim, heads)` at every k, the units timed in
    one run with the shared protocol on `threads` threads; a unit stops at the first k where a
    pass takes longer than `limit_s`. Also the counted FLOPs of each unit at every k."""
    units = attention_units(dim, heads)
    curves = {name: [] for name in units}
    counted = {name: [] for name in units}
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for k in token_counts:
            active = {name: unit for name, (unit, _) in units.items()
                      if not curves[name] or curves[name][-1]["latency_s"] <= limit_s}
            if not active:
                break
            shapes = {name: units[name][1](k) for name in active}
            measured = measure_throughput(active, shapes, protocol, device=device)
            for name in active:
                curves[name].append({"k": k, "latency_s": 1 / measured["models"][name]["images_per_s"]})
                counted[name].append({"k": k, "flops": flops(active[name], shapes[name])["flops"]})
            if progress:
                print(f"k={k}: " + ", ".join(f"{name} {curves[name][-1]['latency_s'] * 1e3:.2f} ms" for name in active),
                      flush=True)
    finally:
        torch.set_num_threads(previous_threads)
    return {"curves": curves, "flops": counted, "protocol": measured["protocol"]}


def attention_curve(ctx: ChapterRun) -> dict:
    """The profile's attention-unit curve (v2 Fig. 1 protocol), see `time_attention_units`."""
    size = ctx.size
    torch.manual_seed(ctx.seed)
    return time_attention_units(size.attention_dim, size.attention_heads, size.token_counts,
                                threads=size.attention_threads, limit_s=size.attention_limit_s,
                                protocol=size.attention_protocol, device=ctx.device, progress=ctx.progress)


# ---- the model table (v1 Table 4, v2 Table 6) ----

def models_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    return ctx.config(f"models-{ctx.profile}", device_type=ctx.device.type, models=list(size.table_models),
                      model_configs=[config_record(create_model(name).config) for name in size.table_models],
                      image_size=size.table_image_size, protocol=size.table_protocol.record())


def model_table(ctx: ChapterRun) -> dict:
    size = ctx.size
    torch.manual_seed(ctx.seed)
    shape = (3, size.table_image_size, size.table_image_size)
    models = {name: create_model(name) for name in size.table_models}
    rows = {name: {"parameters": parameter_count(model), "cost": flops(model, shape)} for name, model in models.items()}
    measured = measure_throughput(models, shape, size.table_protocol, device=ctx.device)
    for name in models:
        rows[name]["throughput"] = measured["models"][name]
    return {"models": rows, "protocol": measured["protocol"]}


# ---- CIFAR-10 training and throughput (v2 Table 1's question at CIFAR scale) ----

def _build(model: tuple[str, dict], channels_last: bool):
    name, overrides = model
    built = create_model(name, **overrides)
    return built.to(memory_format=torch.channels_last) if channels_last else built


def train_config(ctx: ChapterRun, version: str) -> dict:
    size = ctx.size
    name, overrides = size.models[version]
    return ctx.config(f"train-{version}-{ctx.profile}", dataset=ctx.profile_dataset(), n_train=size.n_train,
                      n_test=size.n_test, model=name, model_config=config_record(create_model(name, **overrides).config),
                      train=size.train.record(), channels_last=size.channels_last)


def _train_one(ctx: ChapterRun, version: str) -> dict:
    config = train_config(ctx, version)

    def compute(data) -> dict:
        torch.manual_seed(ctx.seed)
        model = _build(ctx.size.models[version], config["channels_last"])
        trained = train(model, data, ctx.size.train, seed=ctx.seed, device=ctx.device, progress=ctx.progress,
                        checkpoint=ctx.checkpoint(config))
        image_size = model.config.image_size
        return {"history": trained["history"], "final": trained["final"], "train_time_s": trained["train_time_s"],
                "parameters": parameter_count(model), "cost": flops(model, (3, image_size, image_size))}

    return ctx.record("train", config, compute)


def throughput_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    reference = vit_chapter.architecture(ctx.profile)
    return ctx.config(f"throughput-{ctx.profile}", device_type=ctx.device.type, channels_last=size.channels_last,
                      models={version: train_config(ctx, version)["model_config"] for version in size.models}
                      | {"vit": config_record(reference.config)}, protocol=size.throughput.record())


def measure_cifar_models(ctx: ChapterRun) -> dict:
    size = ctx.size
    torch.manual_seed(ctx.seed)
    models = {version: _build(size.models[version], size.channels_last) for version in size.models}
    models["vit"] = vit_chapter.architecture(ctx.profile)
    shapes = {name: (3, model.config.image_size, model.config.image_size) for name, model in models.items()}
    measured = measure_throughput(models, shapes, size.throughput, device=ctx.device)
    return {"throughput": measured["models"], "protocol": measured["protocol"]}
