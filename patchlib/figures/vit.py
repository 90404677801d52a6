"""Figures of the ViT chapter, drawn from a stored result record (see patchlib.experiments.vit)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.vit.config import PAPER
from ..experiments.vit.readers import attention_reference


def _rgb(filter_chw: np.ndarray) -> np.ndarray:
    """A C×p×p filter as an RGB image scaled to [0, 1]."""
    image = np.transpose(filter_chw, (1, 2, 0))
    low, high = image.min(), image.max()
    return (image - low) / (high - low + 1e-12)


def figure7(record: dict, *, seeds: list[dict] | None = None, components_shown: int = 28):
    """ViT Figure 7 rebuilt: (left) principal components of the patch-embedding filters, (centre)
    position-embedding cosine similarity, (right) mean attention distance per head vs depth, with the
    same model's heads at initialisation (grey crosses, where the record has them), each seed's layer
    mean (black lines; `seeds`: the "fig7" records of every seed, `run()`'s "seeds"), the distance of
    uniform attention on our grid (dashed) and the band of any query-independent attention (shaded;
    `readers.attention_reference`). Left and centre show `record`'s model. No paper values are drawn:
    the paper's per-head distances are plotted only, not sourced as numbers (`readers.figure7_references`)."""
    result = record["result"]
    components = np.asarray(result["pca_components"])[:components_shown]
    similarity = np.asarray(result["pos_embed_similarity"])       # [gh, gw, gh, gw]
    distance = np.asarray(result["attention_distance"])            # [layers, heads] (None: not computed)
    gh, gw = similarity.shape[:2]

    fig = plt.figure(figsize=(13, 4.4))
    outer = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.15], wspace=0.45)

    cols = 7
    rows = int(np.ceil(len(components) / cols))
    left = outer[0].subgridspec(rows, cols, wspace=0.08, hspace=0.08)
    for i, component in enumerate(components):
        ax = fig.add_subplot(left[i // cols, i % cols])
        ax.imshow(_rgb(component), interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        if i == cols // 2:
            ax.set_title(f"Embedding filters\n(first {len(components)} principal components)", fontsize=10)

    # One mosaic image (tiles separated by a blank line) in one axes with equal aspect: square tiles.
    mosaic = np.full((gh * (gh + 1) - 1, gw * (gw + 1) - 1), np.nan)
    for i in range(gh):
        for j in range(gw):
            mosaic[i * (gh + 1):i * (gh + 1) + gh, j * (gw + 1):j * (gw + 1) + gw] = similarity[i, j]
    ax = fig.add_subplot(outer[1])
    image = ax.imshow(np.ma.masked_invalid(mosaic), vmin=-1, vmax=1, cmap="viridis", interpolation="nearest",
                      aspect="equal")
    ax.set_xticks([j * (gw + 1) + (gw - 1) / 2 for j in range(gw)], [str(j + 1) for j in range(gw)], fontsize=7)
    ax.set_yticks([i * (gh + 1) + (gh - 1) / 2 for i in range(gh)], [str(i + 1) for i in range(gh)], fontsize=7)
    ax.tick_params(length=0)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set(xlabel="Input patch column", ylabel="Input patch row")
    ax.set_title("Position embedding\nsimilarity", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8, pad=0.03, label="cosine similarity")

    ax = fig.add_subplot(outer[2])
    if result["attention_distance"] is None:  # a record without images (the pretrained profile without val)
        ax.axis("off")
        ax.text(0.5, 0.5, "Attention distance:\nnot computed\n(no validation images)", ha="center", va="center")
        return fig
    layers, heads = distance.shape
    reference = attention_reference(result["grid"], result["patch_size"])
    ax.axhspan(reference["blind_low"], reference["blind_high"], color="0.9", zorder=0,
               label="query-independent attention")
    ax.axhline(reference["uniform"], color="0.4", ls="--", lw=1, zorder=1, label="uniform attention")
    depth = np.arange(1, layers + 1)
    for head in range(heads):
        ax.scatter(depth, distance[:, head], s=14, label=f"head {head + 1}")
    if "attention_distance_initial" in result:
        initial = np.asarray(result["attention_distance_initial"])
        ax.scatter(np.repeat(depth, heads) + 0.25, initial.reshape(-1), marker="x", s=12, color="0.55", lw=0.8,
                   label="heads at initialisation")
    for i, seeded in enumerate(seeds if seeds and len(seeds) > 1 else []):
        ax.plot(depth, np.asarray(seeded["result"]["attention_distance"]).mean(axis=1), color="black", lw=0.9,
                alpha=0.75, label="layer mean, each seed" if i == 0 else None)
    grid_extent = result["patch_size"] * max(gh, gw)
    ax.set(xlabel="Network depth (layer)", ylabel="Mean attention distance (pixels)",
           ylim=(0, grid_extent), xticks=range(1, layers + 1), title="Attention distance")
    ax.legend(fontsize=8, ncol=2, loc="lower right", frameon=True)
    return fig


def training_curve(record: dict):
    """Test accuracy and training loss per epoch, with the paper's CIFAR-10 accuracy of ViT-L/16 (Table 2:
    pre-trained on JFT-300M, then fine-tuned; mean ± std over 3 fine-tuning runs) as a reference line."""
    history = record["result"]["history"]
    epochs = [h["epoch"] for h in history]
    paper = PAPER["vit_l16_jft_cifar10"]
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_acc.plot(epochs, [h["test_acc"] for h in history], marker="o", label="test")
    ax_acc.plot(epochs, [h["train_acc"] for h in history], marker=".", ls="--", label="train (augmented)")
    ax_acc.axhline(paper["value"], color="0.35", ls=":", lw=1.5,
                   label=f"paper: ViT-L/16, JFT-300M pre-trained, {paper['value']:g}% (Table 2)")
    ax_acc.axhspan(paper["value"] - paper["std"], paper["value"] + paper["std"], color="0.35", alpha=0.15, lw=0)
    ax_acc.set(xlabel="epoch", ylabel="top-1 accuracy (%)", title="Accuracy", ylim=(0, 100.5))
    ax_acc.legend(fontsize=8, loc="lower right")
    ax_loss.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train")
    ax_loss.plot(epochs, [h["test_loss"] for h in history], marker="o", label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax_loss.legend()
    fig.tight_layout()
    return fig
