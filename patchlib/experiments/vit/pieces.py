"""The ViT chapter's compute pieces, in the order the chapter computes them.

- "fig7": train the chapter's ViT and run the three analyses of Fig. 7 (§4.5) on it: principal
  components of the patch-embedding filters, position-embedding similarity, mean attention
  distance per head (also of the same model at initialisation, the figure's reference); the record
  also keeps the training curve. One record per seed (`Size.seeds`).
- "cost": parameters, counted GMACs and measured throughput of the same architecture (random weights).
"""
from __future__ import annotations


import torch
from torch import nn

from ...interpret import mean_attention_distance, patch_embedding_components, position_embedding_similarity
from ...measure import flops, measure_throughput, parameter_count
from ...models import config_record, create_model
from ...train import train
from ..common import ChapterRun
from .config import Size


def build_classifier(size: Size, **overrides) -> nn.Module:
    return create_model(size.model, **size.model_overrides, **overrides)


# ---- "fig7": the trained model and its Figure 7 analyses ----

def fig7_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    return ctx.config(f"fig7-{ctx.profile}", dataset=ctx.profile_dataset(), n_train=size.n_train,
                      n_test=size.n_test, model=size.model, model_config=config_record(build_classifier(size).config),
                      train=size.train.record(), attention_images=size.attention_images, components=size.components)


def compute_fig7(ctx, size, config, data) -> dict:
    """Train the model on `data`, then analyse its patch embedding, position embedding and attention."""
    torch.manual_seed(ctx.seed)
    model = build_classifier(size)
    initial_state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    initial_embedding = initial_state["patch_embed.proj.weight"]
    trained = train(model, data, size.train, seed=ctx.seed, device=ctx.device, progress=ctx.progress,
                    checkpoint=ctx.checkpoint(config))
    model.eval()
    pca = patch_embedding_components(model.patch_embed.proj.weight, size.components)
    pca_initial = patch_embedding_components(initial_embedding, size.components)
    return {
        "history": trained["history"], "final": trained["final"], "train_time_s": trained["train_time_s"],
        "normalization": {"mean": trained["mean"], "std": trained["std"]},
        "parameters": parameter_count(model),
        "grid": list(model.grid_size), "patch_size": model.config.patch_size,
        "pca_components": pca["components"].tolist(),
        "pca_explained_variance": pca["explained_variance_ratio"].tolist(),
        "pca_initial_components": pca_initial["components"].tolist(),
        "pos_embed_similarity": position_embedding_similarity(model.pos_embed, model.grid_size).tolist(),
        "attention_distance": mean_attention_distance(
            model, data.test, mean=trained["mean"], std=trained["std"],
            num_images=size.attention_images, device=ctx.device).tolist(),
        "attention_distance_initial": _initial_attention_distance(size, initial_state, data, trained, ctx.device),
    }


def _initial_attention_distance(size: Size, state: dict, data, trained: dict, device) -> list:
    """The attention distance of the same model before training (its initial weights, the trained
    model's input normalisation, the same test images): Fig. 7 (right)'s reference for what training did."""
    initial = build_classifier(size)
    initial.load_state_dict(state)
    return mean_attention_distance(initial, data.test, mean=trained["mean"], std=trained["std"],
                                   num_images=size.attention_images, device=device).tolist()


# ---- "cost": what the architecture costs ----

def cost_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    return ctx.config(f"cost-{ctx.profile}", model=size.model,
                      model_config=config_record(build_classifier(size).config),
                      device_type=ctx.device.type, throughput=size.throughput.record())


def compute_cost(ctx, size) -> dict:
    """Parameters, GMACs and inference throughput of a randomly initialised model."""
    torch.manual_seed(ctx.seed)
    model = build_classifier(size)
    image_shape = (3, model.config.image_size, model.config.image_size)
    return {"parameters": parameter_count(model), "cost": flops(model, image_shape),
            "throughput": measure_throughput({"vit": model}, image_shape, size.throughput, device=ctx.device)}
