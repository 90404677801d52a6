"""ViT chapter: train a small ViT and rebuild Figure 7 (Dosovitskiy et al., 2021, §4.5).

Sizes per profile live in `SIZES`; `run()` trains (or loads the cached result of) one
configuration and stores everything the figures need, so the notebook only plots.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from ..claims import Claim, verdict_from_checks
from ..interpret import mean_attention_distance, patch_distances, patch_embedding_components, position_embedding_similarity
from ..measure import flops, parameter_count, throughput
from ..profiles import get_profile
from ..registry import create_model
from ..runtime import resolve_device
from ..train import TrainConfig, train
from ..vit import config_record
from .common import checkpoint_path, load_profile_data, run_experiment

CHAPTER = "vit"


@dataclass(frozen=True)
class Size:
    model: str
    model_overrides: dict
    train: TrainConfig
    n_train: int | None          # None: the whole training set
    n_test: int | None
    attention_images: int        # test images averaged for Fig. 7 (right)
    components: int = 28         # principal components shown in Fig. 7 (left), as in the paper


SIZES = {
    # Seconds on any CPU: checks the whole pipeline on the embedded synthetic data.
    "smoke": Size("vit_micro", {"depth": 4, "heads": 4},
                  TrainConfig(epochs=5, batch_size=128, lr=3e-3, warmup_epochs=0.5),
                  n_train=2560, n_test=512, attention_images=128),
    # ~35-45 min on 2 CPU cores (measured ~230 train img/s): 6 layers, width 128, 8 heads,
    # 4x4 patches (an 8x8 grid, 64 tokens), 8 epochs of the full CIFAR-10 training set.
    "cpu": Size("vit_tiny_cifar", {"dim": 128, "heads": 8}, TrainConfig(epochs=8, batch_size=128, lr=1e-3),
                n_train=None, n_test=None, attention_images=1024),
    # A ViT-S-like model for a GPU: 12 layers, width 384, 12 heads, 4x4 patches, 200 epochs
    # with RandAugment (not yet run: see the chapter).
    "gpu": Size("vit_tiny_cifar", {"dim": 384, "depth": 12, "heads": 12},
                TrainConfig(epochs=200, batch_size=512, lr=1e-3, warmup_epochs=10, augment="randaugment"),
                n_train=None, n_test=None, attention_images=2048),
}


def experiment_config(profile: str, seed: int) -> dict:
    size = SIZES[get_profile(profile).name]
    model_config = config_record(create_model(size.model, **size.model_overrides).config)
    return {"chapter": CHAPTER, "name": f"fig7-{profile}", "profile": profile, "seed": seed,
            "dataset": get_profile(profile).dataset, "n_train": size.n_train, "n_test": size.n_test,
            "model": size.model, "model_config": model_config, "train": asdict(size.train),
            "attention_images": size.attention_images, "components": size.components}


def run(profile: str = "smoke", *, seed: int = 0, device: str | None = "auto", data_root=None,
        results_dir=None, force: bool = False, progress: bool = True) -> dict:
    """Train (or load) the chapter's ViT and compute the three Figure 7 analyses."""
    size = SIZES[get_profile(profile).name]
    config = experiment_config(profile, seed)
    device = resolve_device(device)

    def compute(data) -> dict:
        torch.manual_seed(seed)
        model = create_model(size.model, **size.model_overrides)
        initial_embedding = model.patch_embed.proj.weight.detach().clone()
        trained = train(model, data, size.train, seed=seed, device=device, progress=progress,
                        checkpoint=checkpoint_path(config, results_dir))
        model.eval()
        image_shape = (3, model.config.image_size, model.config.image_size)
        pca = patch_embedding_components(model.patch_embed.proj.weight, size.components)
        pca_initial = patch_embedding_components(initial_embedding, size.components)
        return {
            "history": trained["history"], "final": trained["final"], "train_time_s": trained["train_time_s"],
            "normalization": {"mean": trained["mean"], "std": trained["std"]},
            "parameters": parameter_count(model),
            "cost": flops(model, image_shape),
            "throughput": throughput(model, image_shape, batch_size=128, device=device),
            "grid": list(model.grid_size), "patch_size": model.config.patch_size,
            "pca_components": pca["components"].tolist(),
            "pca_explained_variance": pca["explained_variance_ratio"].tolist(),
            "pca_initial_components": pca_initial["components"].tolist(),
            "pos_embed_similarity": position_embedding_similarity(model.pos_embed, model.grid_size).tolist(),
            "attention_distance": mean_attention_distance(
                model, data.test, mean=trained["mean"], std=trained["std"],
                num_images=size.attention_images, device=device).tolist(),
        }

    load_data = lambda: load_profile_data(profile, data_root=data_root, n_train=size.n_train, n_test=size.n_test)
    return run_experiment(config, compute, load_data=load_data, results_dir=results_dir, force=force, device=device)


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


def claims(record: dict) -> list[Claim]:
    result, profile = record["result"], record["config"]["profile"]
    source = f"results/{CHAPTER}/{record['config']['name']}-{record['config_hash']}.json"
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
        Claim("pca_basis", "The top principal components of the patch-embedding filters look like plausible "
              "basis functions (smooth, low-frequency patterns)", "qualitative", round(trained_low, 3),
              "low-frequency energy share of top 8 PCs", verdict_from_checks([trained_low > initial_low]), profile,
              f"{source}; rule: share after training ({trained_low:.3f}) > share at initialisation ({initial_low:.3f})",
              "Fig. 7 (left)"),
        Claim("pos_embed_distance", "Closer patches have more similar position embeddings", "qualitative",
              round(structure["distance_correlation"], 3), "corr(grid distance, cosine similarity)",
              verdict_from_checks([structure["distance_correlation"] < -0.3]), profile,
              f"{source}; rule: correlation < -0.3", "Fig. 7 (centre), §4.5"),
        Claim("pos_embed_rows_columns", "Position embeddings show row-column structure: patches in the same row "
              "or column have similar embeddings", "qualitative",
              round(structure["same_row_or_column"] - structure["other"], 3),
              "mean cos-sim, same row/column minus other", verdict_from_checks(
                  [structure["same_row_or_column"] > structure["other"] + 0.05]), profile,
              f"{source}; rule: same-row/column similarity ({structure['same_row_or_column']:.3f}) exceeds "
              f"the rest ({structure['other']:.3f}) by > 0.05", "Fig. 7 (centre), §4.5"),
        Claim("global_heads_early", "Some heads attend to most of the image already in the lowest layer, while "
              "others attend locally", "qualitative",
              f"{first.min().item():.1f}–{first.max().item():.1f}", "px, layer-1 head distances",
              verdict_from_checks([first.max().item() >= 0.75 * uniform, first.min().item() <= 0.6 * uniform]),
              profile, f"{source}; rule: max ≥ 0.75 and min ≤ 0.6 × the uniform-attention distance "
              f"({uniform:.1f} px)", "Fig. 7 (right), §4.5"),
        Claim("distance_grows_with_depth", "Attention distance increases with network depth", "qualitative",
              f"{early:.1f} → {late:.1f}", "px, mean of first vs last half of layers",
              verdict_from_checks([late > early]), profile, f"{source}; rule: later half > earlier half",
              "Fig. 7 (right), §4.5"),
        Claim("cifar10_accuracy", "ViT-L/16 pre-trained on JFT-300M reaches 99.42% on CIFAR-10 after fine-tuning",
              99.42, round(result["final"]["test_acc"], 2), "% top-1", "not_tested", profile,
              f"{source}; our model is trained from scratch, without pre-training, so this is not a test of "
              "the claim", "Table 2"),
    ]
