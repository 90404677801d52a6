"""Figures of the EViT chapter, drawn from its stored records (read by `patchlib.experiments.evit.readers`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.evit.config import PAPER
from ..experiments.evit.readers import by_point, finetuned_by_point, per_seed, zoo


def _series(points: dict, fuse: bool):
    keys = sorted(k for k in points if k[1] is fuse)
    return [k[0] for k in keys], [points[k]["acc"] for k in keys]


def _seeded(records: dict) -> dict:
    """(keep rate, fuse) -> accuracies over fine-tuning seeds (one where a point has one seed)."""
    return {key: [result["acc"] for result in results] for key, results in per_seed(records).items()}


def _paper_changes() -> dict:
    """The Model Zoo's accuracy and throughput at each keep rate relative to DeiT-S (the paper's model at
    keep rate 1): {fusion: ([keep rates], [accuracy change, pp], [speed-up, x])}. DeiT-S's row is secondary."""
    base = PAPER["deit_s_baseline"]["value"]
    out = {}
    for fuse in (True, False):
        rows = sorted((key, row) for key, row in zoo().items() if key[1] is fuse)
        out[fuse] = ([key[0] for key, _ in rows], [row["acc1"] - base["acc1"] for _, row in rows],
                     [row["throughput"] / base["throughput"] for _, row in rows])
    return out


def _legend_below(fig, handles, columns: int = 3) -> None:
    fig.legend(handles=handles, loc="lower center", ncol=columns, fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, -0.02))


def accuracy_vs_keep_rate(records: dict):
    """Left: top-1 accuracy against keep rate, off the shelf (dashed) and fine-tuned (solid), fused or
    dropped (colour), with the baseline and the keep-1 control (fine-tuned with the same budget, no
    reorganisation); fine-tuned points with several seeds show their mean and standard deviation (error
    bars; the lines join the first seed's runs, which every point has). Right: the change in accuracy
    from keep rate 1, ours (fine-tuned, mean over seeds, against the control) beside the paper's Model Zoo
    (EViT-DeiT-S against DeiT-S, whose row is secondary)."""
    from matplotlib.lines import Line2D

    off = by_point(records["offshelf"]["result"]["points"])
    finetuned = {key: record["result"] for key, record in finetuned_by_point(records).items()}
    control = finetuned[(1.0, None)]
    control_off = by_point(control["eval"])
    every = _seeded(records)
    seeded = {key: accs for key, accs in every.items() if len(accs) > 1}
    fig, (ax, ax_change) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1.35, 1]})
    colors = {True: "C0", False: "C3"}
    for fuse in (True, False):
        ax.plot(*_series(off, fuse), ls="--", marker="o", mfc="white", color=colors[fuse])
        ax.plot(*_series(finetuned, fuse), ls="-", marker="o", color=colors[fuse])
        keys = sorted(k for k in seeded if k[1] is fuse)
        if keys:
            nudge = 0.008 if fuse else -0.008  # fused and dropped points side by side, not on top of each other
            ax.errorbar([k[0] + nudge for k in keys], [np.mean(seeded[k]) for k in keys],
                        yerr=[np.std(seeded[k], ddof=1) for k in keys], fmt="D", ms=4, capsize=3,
                        color=colors[fuse], mfc="white")
    ax.plot(*_series(control_off, True), ls=":", marker="^", mfc="white", color="C2")
    ax.axhline(off[(1.0, None)]["acc"], color="0.3", lw=1)
    ax.axhline(control["acc"], color="C2", lw=1, ls="-.")
    if (1.0, None) in seeded:
        ax.errorbar([1.0], [np.mean(seeded[(1.0, None)])], yerr=[np.std(seeded[(1.0, None)], ddof=1)], fmt="D", ms=4,
                    capsize=3, color="C2", mfc="white")
    ax.set(xlabel="keep rate", ylabel="top-1 test accuracy (%)", title="Ours: accuracy against keep rate")
    ax.invert_xaxis()

    reference = np.mean(every[(1.0, None)])
    for fuse, label in ((True, "fused"), (False, "dropped")):
        keys = sorted(k for k in every if k[1] is fuse)
        ax_change.plot([k[0] for k in keys], [np.mean(every[k]) - reference for k in keys], "-o", color=colors[fuse],
                       label=f"ours, {label} (fine-tuned minus the control)")
        rates, changes, _ = _paper_changes()[fuse]
        ax_change.plot(rates, changes, ls="none", marker="s", ms=6, mfc="none", mew=1.5, color=colors[fuse],
                       label=f"paper (Model Zoo), {label}, minus DeiT-S")
    ax_change.axhline(0, color="0.3", lw=1)
    ax_change.set(xlabel="keep rate", ylabel="change in top-1 from keep rate 1 (points)",
                  title="Ours beside the paper")
    ax_change.invert_xaxis()
    ax_change.legend(fontsize=8, loc="lower left", frameon=True)

    seeds = max((len(accs) for accs in seeded.values()), default=1)
    handles = [Line2D([], [], color="C0", lw=6, label="fused"), Line2D([], [], color="C3", lw=6, label="dropped"),
               Line2D([], [], color="0.2", ls="-", marker="o", label="fine-tuned with reorganisation"),
               Line2D([], [], color="0.2", ls="--", marker="o", mfc="white", label="baseline reorganised off the shelf"),
               Line2D([], [], color="C2", ls=":", marker="^", mfc="white",
                      label="keep-1 control reorganised off the shelf"),
               Line2D([], [], color="0.3", lw=1, label="baseline at keep 1"),
               Line2D([], [], color="C2", lw=1, ls="-.", label="keep-1 control (same fine-tuning budget)")]
    if seeded:
        handles.append(Line2D([], [], color="0.2", ls="none", marker="D", mfc="white",
                              label=f"mean ± sd over {seeds} fine-tuning seeds"))
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    _legend_below(fig, handles, columns=3)
    return fig


def tradeoff(records: dict):
    """Left: top-1 accuracy against measured throughput for every fine-tuned point, the baseline and the
    control, each point labelled with its keep rate. Right: the speed-up over keep rate 1 at each keep
    rate, measured here beside the paper's Model Zoo (on an A100; DeiT-S's throughput is secondary)."""
    cost = by_point(records["cost"]["result"]["points"])
    off = by_point(records["offshelf"]["result"]["points"])
    finetuned = {key: record["result"] for key, record in finetuned_by_point(records).items()}
    fig, (ax, ax_speed) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.35, 1]})
    # Labels on opposite sides of the two curves (fused above, dropped below), on a white ground above
    # the markers, so that no label hides behind a point.
    for fuse, color, label, offset in ((True, "C0", "EViT fine-tuned, fused", (-6, 7)),
                                       (False, "C3", "EViT fine-tuned, dropped", (6, -12))):
        keys = sorted(k for k in finetuned if k[1] is fuse and k in cost)
        xs = [cost[k]["images_per_s"] for k in keys]
        ys = [finetuned[k]["acc"] for k in keys]
        ax.plot(xs, ys, marker="o", color=color, label=label, zorder=2)
        for k, x, y in zip(keys, xs, ys):
            ax.annotate(f"{k[0]:g}", (x, y), textcoords="offset points", xytext=offset, fontsize=8, color=color,
                        ha="center", zorder=4, bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                                                     "alpha": 0.85})
    base_x = cost[(1.0, None)]["images_per_s"]
    ax.scatter([base_x], [off[(1.0, None)]["acc"]], marker="*", s=160, color="0.2", zorder=3,
               label="baseline (keep 1)")
    ax.scatter([base_x], [finetuned[(1.0, None)]["acc"]], marker="^", s=60, color="C2", zorder=3,
               label="keep-1 control (same budget)")
    protocol = records["cost"]["result"]["protocol"]
    ax.set(xlabel=f"throughput (images/s; batch {protocol['batch_size']}, {protocol['precision']}, "
                  f"{protocol['device']}, {protocol['threads']} threads)",
           ylabel="top-1 test accuracy (%)", title="Ours: accuracy against measured speed")
    ax.margins(x=0.06, y=0.1)  # room for the keep-rate labels at the ends of the curves
    ax.legend(fontsize=8.5, loc="lower left", frameon=True)

    for fuse, color, label in ((True, "C0", "fused"), (False, "C3", "dropped")):
        keys = sorted(k for k in cost if k[1] is fuse)
        ax_speed.plot([k[0] for k in keys], [cost[k]["images_per_s"] / base_x for k in keys], "-o", color=color,
                      label=f"ours, {label} (measured here)")
        rates, _, speedups = _paper_changes()[fuse]
        ax_speed.plot(rates, speedups, ls="none", marker="s", ms=6, mfc="none", mew=1.5, color=color,
                      label=f"paper (Model Zoo), {label}")
    ax_speed.axhline(1, color="0.3", lw=1)
    ax_speed.set(xlabel="keep rate", ylabel="speed-up over keep rate 1 (x)", title="Ours beside the paper")
    ax_speed.invert_xaxis()
    ax_speed.legend(fontsize=8, loc="upper left", frameon=True)
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
