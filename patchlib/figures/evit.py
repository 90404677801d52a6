"""Figures of the EViT chapter, drawn from its stored records (read by `patchlib.experiments.evit.readers`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.evit.readers import by_point, finetuned_by_point, per_seed


def _series(points: dict, fuse: bool):
    keys = sorted(k for k in points if k[1] is fuse)
    return [k[0] for k in keys], [points[k]["acc"] for k in keys]


def _seeded(records: dict) -> dict:
    """(keep rate, fuse) -> accuracies over fine-tuning seeds (one where a point has one seed)."""
    return {key: [result["acc"] for result in results] for key, results in per_seed(records).items()}


def accuracy_vs_keep_rate(records: dict):
    """Top-1 accuracy against keep rate: off the shelf, fine-tuned, fused or not, with the baseline
    and the keep-1 control (fine-tuned with the same budget, no reorganisation) as lines. Fine-tuned
    points with several seeds show their mean and standard deviation (error bars); the lines join
    the first seed's runs, which every point has."""
    off = by_point(records["offshelf"]["result"]["points"])
    finetuned = {key: record["result"] for key, record in finetuned_by_point(records).items()}
    control = finetuned[(1.0, None)]
    control_off = by_point(control["eval"])
    seeded = {key: accs for key, accs in _seeded(records).items() if len(accs) > 1}
    fig, ax = plt.subplots(figsize=(9.6, 4.0))
    colors = {True: "C0", False: "C3"}
    for fuse, label in ((True, "fused"), (False, "dropped")):
        ax.plot(*_series(off, fuse), ls="--", marker="o", mfc="white", color=colors[fuse],
                label=f"baseline, reorganised off the shelf ({label})")
        ax.plot(*_series(finetuned, fuse), ls="-", marker="o", color=colors[fuse],
                label=f"fine-tuned with reorganisation ({label})")
        keys = sorted(k for k in seeded if k[1] is fuse)
        if keys:
            nudge = 0.008 if fuse else -0.008  # fused and dropped points side by side, not on top of each other
            ax.errorbar([k[0] + nudge for k in keys], [np.mean(seeded[k]) for k in keys],
                        yerr=[np.std(seeded[k], ddof=1) for k in keys], fmt="D", ms=4, capsize=3,
                        color=colors[fuse], mfc="white",
                        label=f"mean ± sd over {len(seeded[keys[0]])} fine-tuning seeds ({label})")
    ax.plot(*_series(control_off, True), ls=":", marker="^", mfc="white", color="C2",
            label="keep-1 control, reorganised off the shelf (fused)")
    ax.axhline(off[(1.0, None)]["acc"], color="0.3", lw=1, label="baseline (ViT chapter), keep 1")
    ax.axhline(control["acc"], color="C2", lw=1, ls="-.", label="keep-1 control (same fine-tuning budget)")
    if (1.0, None) in seeded:
        ax.errorbar([1.0], [np.mean(seeded[(1.0, None)])], yerr=[np.std(seeded[(1.0, None)], ddof=1)], fmt="D", ms=4,
                    capsize=3, color="C2", mfc="white", label="keep-1 control, mean ± sd over seeds")
    ax.set(xlabel="keep rate", ylabel="top-1 test accuracy (%)", title="Accuracy vs keep rate")
    ax.invert_xaxis()
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=True)
    fig.tight_layout()
    return fig


def tradeoff(records: dict):
    """Top-1 accuracy against measured throughput for every fine-tuned point, the baseline and the control."""
    cost = by_point(records["cost"]["result"]["points"])
    off = by_point(records["offshelf"]["result"]["points"])
    finetuned = {key: record["result"] for key, record in finetuned_by_point(records).items()}
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for fuse, color, label in ((True, "C0", "EViT fine-tuned, fused"), (False, "C3", "EViT fine-tuned, dropped")):
        keys = sorted(k for k in finetuned if k[1] is fuse)
        xs = [cost[k]["images_per_s"] for k in keys]
        ys = [finetuned[k]["acc"] for k in keys]
        ax.plot(xs, ys, marker="o", color=color, label=label)
        for k, x, y in zip(keys, xs, ys):
            ax.annotate(f"{k[0]:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color=color)
    base_x = cost[(1.0, None)]["images_per_s"]
    ax.scatter([base_x], [off[(1.0, None)]["acc"]], marker="*", s=160, color="0.2", zorder=3,
               label="baseline (keep 1)")
    ax.scatter([base_x], [finetuned[(1.0, None)]["acc"]], marker="^", s=60, color="C2", zorder=3,
               label="keep-1 control (same budget)")
    protocol = records["cost"]["result"]["protocol"]
    ax.set(xlabel=f"throughput (images/s; batch {protocol['batch_size']}, {protocol['precision']}, "
                  f"{protocol['device']}, {protocol['threads']} threads)",
           ylabel="top-1 test accuracy (%)", title="Accuracy vs measured speed")
    ax.legend(fontsize=7, loc="lower left", frameon=True)
    fig.tight_layout()
    return fig


def _shown(image_chw: np.ndarray, kept: list[int], grid, patch: int) -> np.ndarray:
    """The image with every patch not held as its own token greyed out."""
    image = np.transpose(image_chw, (1, 2, 0)).astype(float) / 255
    mask = np.zeros(grid[0] * grid[1], dtype=bool)
    mask[kept] = True
    mask = np.kron(mask.reshape(grid), np.ones((patch, patch), dtype=bool))[..., None]
    return np.where(mask, image, 0.35 * image + 0.65 * 0.85)


def token_grid(record: dict):
    """Each test image, then the patches kept as tokens after each reorganisation layer (dropped or
    fused patches greyed), for the fine-tuned model and for the baseline reorganised off the shelf."""
    result = record["result"]
    images = np.asarray(result["images"], dtype=np.uint8)
    grid, patch = result["grid"], result["patch_size"]
    layers = [i + 1 for i in record["config"]["reorganize_layers"]]
    models = [("finetuned", "fine-tuned"), ("offshelf", "off the shelf")]
    cols = 1 + len(layers) * len(models)
    fig, axes = plt.subplots(len(images), cols, figsize=(1.25 * cols, 1.3 * len(images)), squeeze=False)
    for row, image in enumerate(images):
        axes[row, 0].imshow(np.transpose(image, (1, 2, 0)), interpolation="nearest")
        axes[row, 0].set_ylabel(result["classes"][row], fontsize=8)
        col = 1
        for name, title in models:
            model = result["models"][name]
            for layer_index, layer in enumerate(layers):
                ax = axes[row, col]
                ax.imshow(_shown(image, model["kept"][layer_index][row], grid, patch), interpolation="nearest")
                if row == 0:
                    ax.set_title(f"{title}\nlayer {layer}", fontsize=8)
                col += 1
    axes[0, 0].set_title("image", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout(pad=0.3)
    return fig
