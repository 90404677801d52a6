"""ViT chapter: train a small ViT and rebuild Figure 7 (Dosovitskiy et al., 2021, §4.5).

Two cached pieces: "fig7" (the trained model's Figure 7 analyses: patch-embedding PCA, position-
embedding similarity, attention distance; its training curve) and "cost" (parameters, counted
GMACs and measured throughput of the architecture, random weights). The trained model itself is
public to later chapters through `trained_model` (EViT fine-tunes it).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..claims import Claim, verdict_from_checks
from ..interpret import mean_attention_distance, patch_distances, patch_embedding_components, position_embedding_similarity
from ..measure import ThroughputProtocol, flops, measure_throughput, parameter_count
from ..models import config_record, create_model
from ..train import TrainConfig, train
from .common import CORE_CODE, ChapterRun, check_checkpoint, record_source

CHAPTER = "vit"
PIECES = ("fig7", "cost")
CODE = CORE_CODE + ("patchlib/models/vit.py", "patchlib/models/evit.py", "patchlib/models/registry.py",
                    "patchlib/interpret.py")

# Published values used in this chapter (../shared/paper_values.md §6, all CONFIRMED).
PAPER = {
    "vit_l16_jft_cifar10": {"value": 99.42, "std": 0.03, "unit": "% top-1",
                            "source": "ViT paper, Table 2 (ViT-L/16 pre-trained on JFT-300M, CIFAR-10 column; "
                                      "mean ± std over 3 fine-tuning runs)", "status": "confirmed"},
    "vit_l16_params": {"value": 307, "unit": "M parameters", "source": "ViT paper, Table 1 (ViT-Large)",
                       "status": "confirmed"},
    "fig7_models": {"value": {"left, centre": "ViT-L/32", "right": "ViT-L/16 (16 heads)"}, "unit": "model",
                    "source": "ViT paper, Fig. 7 (left and centre: ViT-L/32; right: plot label ViT-L/16)",
                    "status": "confirmed"},
    "fig7_images": {"value": 128, "unit": "images", "source": "ViT paper, Appendix Fig. 11 caption (attention "
                    "distance computed for 128 example images; image width 224 px)", "status": "confirmed"},
    "fig7_components": {"value": 28, "unit": "principal components", "status": "confirmed",
                        "source": "ViT paper, Fig. 7 left (first 28 principal components of the RGB embedding filters)"},
}


@dataclass(frozen=True, kw_only=True)
class Size:
    model: str
    model_overrides: dict
    train: TrainConfig
    n_train: int | None          # None: the whole training set
    n_test: int | None
    attention_images: int        # test images averaged for Fig. 7 (right)
    components: int = 28         # principal components shown in Fig. 7 (left), as in the paper
    throughput: ThroughputProtocol = ThroughputProtocol()


SIZES = {
    # Seconds on any CPU: checks the whole pipeline on the embedded synthetic data.
    "smoke": Size(model="vit_micro", model_overrides={"depth": 4, "heads": 4},
                  train=TrainConfig(epochs=5, batch_size=128, lr=3e-3, warmup_epochs=0.5),
                  n_train=2560, n_test=512, attention_images=128,
                  throughput=ThroughputProtocol(batch_size=32, warmup=1, repeats=2, rounds=1)),
    # ~35 min on 2 CPU cores (measured ~230 train img/s): 6 layers, width 128, 8 heads,
    # 4x4 patches (an 8x8 grid, 64 tokens), 8 epochs of the full CIFAR-10 training set.
    "cpu": Size(model="vit_tiny_cifar", model_overrides={"dim": 128, "heads": 8},
                train=TrainConfig(epochs=8, batch_size=128, lr=1e-3), n_train=None, n_test=None,
                attention_images=1024),
    # A ViT-S-like model for a GPU: 12 layers, width 384, 12 heads, 4x4 patches, 200 epochs
    # with RandAugment (not yet run: see the chapter).
    "gpu": Size(model="vit_tiny_cifar", model_overrides={"dim": 384, "depth": 12, "heads": 12},
                train=TrainConfig(epochs=200, batch_size=512, lr=1e-3, warmup_epochs=10, augment="randaugment"),
                n_train=None, n_test=None, attention_images=2048),
}


def build_model(size: Size, **overrides) -> nn.Module:
    return create_model(size.model, **size.model_overrides, **overrides)


def architecture(profile: str, **overrides) -> nn.Module:
    """This chapter's ViT for `profile`, randomly initialised (`overrides`: e.g. `evit=EViTConfig(...)`)."""
    return build_model(SIZES[context(profile).profile], **overrides)


def fig7_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    return ctx.config(f"fig7-{ctx.profile}", dataset=ctx.profile_dataset(), n_train=size.n_train,
                      n_test=size.n_test, model=size.model, model_config=config_record(build_model(size).config),
                      train=asdict(size.train), attention_images=size.attention_images, components=size.components)


def cost_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    return ctx.config(f"cost-{ctx.profile}", model=size.model, model_config=config_record(build_model(size).config),
                      device_type=ctx.device.type, throughput=size.throughput.record())


DRY_RUN = {"attention_images": 8}  # dry-run overrides (see common.dry_run_size)


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, code=CODE, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """Train (or load) the chapter's ViT, compute the three Figure 7 analyses and the model's cost.

    Returns {"fig7": record, "cost": record, "claims": [Claim]}.
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    size = ctx.size
    config = fig7_config(ctx)

    def compute_fig7(data) -> dict:
        torch.manual_seed(ctx.seed)
        model = build_model(size)
        initial_embedding = model.patch_embed.proj.weight.detach().clone()
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
        }

    def compute_cost() -> dict:
        torch.manual_seed(ctx.seed)
        model = build_model(size)
        image_shape = (3, model.config.image_size, model.config.image_size)
        return {"parameters": parameter_count(model), "cost": flops(model, image_shape),
                "throughput": measure_throughput({"vit": model}, image_shape, size.throughput, device=ctx.device)}

    records = {"fig7": ctx.record("fig7", config, compute_fig7),
               "cost": ctx.record("cost", cost_config(ctx), compute_cost, uses_data=False)}
    records["claims"] = ctx.write_claims(claims(records))
    return records


def trained_model(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
                  progress: bool = True, dry_run: bool = False, **model_overrides) -> nn.Module:
    """This chapter's trained ViT for (profile, seed), for later chapters (EViT fine-tunes it).

    Returns the model in eval mode (its inputs are normalised with the training set's channel
    statistics, `patchlib.train.channel_stats`). The weights come from the chapter's training checkpoint; a missing or unfinished one is trained (or resumed)
    with exactly this chapter's settings, at the same path, without writing the chapter's result.
    `model_overrides` change the architecture options that carry no weights (e.g. `evit`).
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir,
                  progress=progress, dry_run=dry_run)
    size = ctx.size
    path = ctx.checkpoint(fig7_config(ctx))
    state = check_checkpoint(path)
    if state is None or state["epoch"] < size.train.epochs:
        torch.manual_seed(ctx.seed)
        train(build_model(size), ctx.data(size.n_train, size.n_test), size.train, seed=ctx.seed, device=ctx.device,
              progress=ctx.progress, checkpoint=path)
        state = check_checkpoint(path)
    if state["config"] != asdict(size.train):
        raise ValueError(f"checkpoint {path} was written by another training config; delete it to retrain")
    model = build_model(size, **model_overrides)
    model.load_state_dict(state["model"])
    return model.to(ctx.device).eval()


def data_sizes(profile: str, dry_run: bool = False) -> tuple[int | None, int | None]:
    """(n_train, n_test) of this chapter's data for `profile` (None: the whole split)."""
    size = context(profile, dry_run=dry_run).size
    return size.n_train, size.n_test


# ---- claims: each verdict is computed from the record by the rule stated beside it ----

def low_frequency_share(components: torch.Tensor, keep: int = 8) -> float:
    """Share of the top `keep` filters' energy at spatial frequencies of at most one cycle per patch."""
    spectrum = torch.fft.fft2(components[:keep].double()).abs() ** 2            # [k, C, p, p]
    p = components.shape[-1]
    freq = torch.fft.fftfreq(p) * p                                              # cycles per patch
    low = (freq.abs()[:, None] <= 1) & (freq.abs()[None, :] <= 1)
    return float(spectrum[..., low].sum() / spectrum.sum())


def pos_embed_structure(similarity: torch.Tensor) -> dict:
    """Mean cosine similarity to other positions in the same row or column vs to all others,
    and the correlation of similarity with grid distance."""
    gh, gw = similarity.shape[:2]
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    sim = similarity.reshape(gh * gw, gh * gw)
    same_line = (rows[:, None] == rows[None, :]) | (cols[:, None] == cols[None, :])
    not_self = ~torch.eye(gh * gw, dtype=torch.bool)
    distance = patch_distances((gh, gw), 1)[not_self]
    values = sim[not_self]
    correlation = torch.corrcoef(torch.stack([distance, values]))[0, 1]
    return {"same_row_or_column": float(sim[same_line & not_self].mean()),
            "other": float(sim[~same_line].mean()), "distance_correlation": float(correlation)}


def claims(records: dict) -> list[Claim]:
    record = records["fig7"]
    result, profile = record["result"], record["config"]["profile"]
    source = record_source(record)
    structure = pos_embed_structure(torch.tensor(result["pos_embed_similarity"]))
    distance = torch.tensor(result["attention_distance"])                      # [layers, heads]
    grid, patch = result["grid"], result["patch_size"]
    uniform = float(patch_distances(tuple(grid), patch).mean())                 # a head that attends uniformly
    first = distance[0]
    depth = distance.shape[0]
    early, late = distance[: depth // 2].mean().item(), distance[depth - depth // 2:].mean().item()
    trained_low = low_frequency_share(torch.tensor(result["pca_components"]))
    initial_low = low_frequency_share(torch.tensor(result["pca_initial_components"]))
    return [
        Claim(id="pca_basis", claim="The top principal components of the patch-embedding filters look like plausible "
              "basis functions (smooth, low-frequency patterns)", paper_value="qualitative", our_value=round(trained_low, 3),
              unit="low-frequency energy share of top 8 PCs", verdict=verdict_from_checks([trained_low > initial_low]), profile=profile,
              evidence=f"{source}; rule: share after training ({trained_low:.3f}) > share at initialisation ({initial_low:.3f})",
              paper_source="Fig. 7 (left)"),
        Claim(id="pos_embed_distance", claim="Closer patches have more similar position embeddings", paper_value="qualitative",
              our_value=round(structure["distance_correlation"], 3), unit="corr(grid distance, cosine similarity)",
              verdict=verdict_from_checks([structure["distance_correlation"] < -0.3]), profile=profile,
              evidence=f"{source}; rule: correlation < -0.3", paper_source="Fig. 7 (centre), §4.5"),
        Claim(id="pos_embed_rows_columns", claim="Position embeddings show row-column structure: patches in the same row "
              "or column have similar embeddings", paper_value="qualitative",
              our_value=round(structure["same_row_or_column"] - structure["other"], 3),
              unit="mean cos-sim, same row/column minus other", verdict=verdict_from_checks(
                  [structure["same_row_or_column"] > structure["other"] + 0.05]), profile=profile,
              evidence=f"{source}; rule: same-row/column similarity ({structure['same_row_or_column']:.3f}) exceeds "
              f"the rest ({structure['other']:.3f}) by > 0.05", paper_source="Fig. 7 (centre), §4.5"),
        Claim(id="global_heads_early", claim="Some heads attend to most of the image already in the lowest layer, while "
              "others attend locally", paper_value="qualitative",
              our_value=f"{first.min().item():.1f}–{first.max().item():.1f}", unit="px, layer-1 head distances",
              verdict=verdict_from_checks([first.max().item() >= 0.75 * uniform, first.min().item() <= 0.6 * uniform]),
              profile=profile, evidence=f"{source}; rule: max ≥ 0.75 and min ≤ 0.6 × the uniform-attention distance "
              f"({uniform:.1f} px)", paper_source="Fig. 7 (right), §4.5"),
        Claim(id="distance_grows_with_depth", claim="Attention distance increases with network depth", paper_value="qualitative",
              our_value=f"{early:.1f} → {late:.1f}", unit="px, mean of first vs last half of layers",
              verdict=verdict_from_checks([late > early]), profile=profile, evidence=f"{source}; rule: later half > earlier half",
              paper_source="Fig. 7 (right), §4.5"),
        Claim(id="cifar10_accuracy", claim="ViT-L/16 pre-trained on JFT-300M reaches 99.42% on CIFAR-10 after fine-tuning",
              paper_value=PAPER["vit_l16_jft_cifar10"]["value"], our_value=round(result["final"]["test_acc"], 2), unit="% top-1", verdict="not_tested", profile=profile,
              evidence=f"{source}; our model is trained from scratch, without pre-training, so this is not a test of "
              "the claim", paper_source=PAPER["vit_l16_jft_cifar10"]["source"]),
    ]
