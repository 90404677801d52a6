"""Figures of the ConvMixer chapter, drawn from stored records and the grid table of
`patchlib.experiments.convmixer.readers` (the recipe curve; the kernel x patch grid, §3 and appendix)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.convmixer.config import PAPER


def recipe_curve(record: dict, *, follows_recipe: bool):
    """Test and train accuracy per epoch of the recipe run against the README's published run.
    `follows_recipe` (the run is the README recipe or its first epochs exactly:
    `readers.recipe_run_kind`): epoch by epoch on the README's epochs, the log drawn in full;
    otherwise on a common x axis, the fraction of each run's schedule (both one-cycle)."""
    history = record["result"]["history"]
    epochs = len(history)
    published = np.asarray(PAPER["recipe_log"]["value"])  # the README's run of the recommended command
    ours_x = np.arange(1, epochs + 1) / (1 if follows_recipe else epochs)
    log_x = np.arange(1, len(published) + 1) / (1 if follows_recipe else len(published))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(ours_x, [h["test_acc"] for h in history], "o-", label=f"ours, test ({epochs} epoch{'s' * (epochs > 1)})")
    ax.plot(ours_x, [h["train_acc"] for h in history], "o--", alpha=0.6, label="ours, train (augmented)")
    command = PAPER["recipe_command"]["value"]
    ax.plot(log_x, published, "s-", color="0.45", markersize=3,
            label=f"convmixer-cifar10 README, test ({command['model']}, {len(published)} epochs)")
    ax.set(xlabel="epoch of the README's schedule" if follows_recipe else "fraction of the training schedule",
           ylabel="top-1 accuracy (%)", ylim=(0, 100), title="The convmixer-cifar10 recipe")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def grid_figure(table):
    """Left: accuracy over kernel size x patch size (heatmap; cells with several seeds show their
    mean ± sd; cells the profile does not run say so). Right: accuracy vs measured inference throughput, one point per cell, labelled
    (k, p), with ± sd error bars where a cell has several seeds."""
    accuracy = table.pivot(index="patch", columns="kernel", values="accuracy (%)")
    spread = table.pivot(index="patch", columns="kernel", values="sd")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.25]})
    image = left.imshow(accuracy.values, cmap="viridis", aspect="auto")
    for i, patch in enumerate(accuracy.index):
        for j, kernel in enumerate(accuracy.columns):
            value, sd = accuracy.loc[patch, kernel], spread.loc[patch, kernel]
            if np.isnan(value):  # a cell the profile does not run
                left.text(j, i, "not run", ha="center", va="center", color="0.4", fontsize=8)
                continue
            left.text(j, i, f"{value:.1f}" + ("" if np.isnan(sd) else f"\n±{sd:.1f}"), ha="center", va="center",
                      color="white" if value < np.nanmean(accuracy.values) else "black", fontsize=9)
    left.set_xticks(range(len(accuracy.columns)), [str(k) for k in accuracy.columns])
    left.set_yticks(range(len(accuracy.index)), [str(p) for p in accuracy.index])
    left.set(xlabel="kernel size k", ylabel="patch size p", title="Test accuracy (%)")
    left.grid(False)
    fig.colorbar(image, ax=left, shrink=0.85)

    for patch, cells in table.groupby("patch"):
        points = right.scatter(cells["img/s"], cells["accuracy (%)"], s=30, label=f"p = {patch}")
        seeded = cells[cells["seeds"] > 1]
        if len(seeded):
            right.errorbar(seeded["img/s"], seeded["accuracy (%)"], yerr=seeded["sd"], fmt="none", capsize=3,
                           color=points.get_facecolor()[0])
        _label_cells(right, cells, table, color=points.get_facecolor()[0])
    right.set_xscale("log")
    right.set(xlabel="inference throughput (images/s, log scale)", ylabel="test accuracy (%)",
              title="Accuracy vs speed")
    right.legend(fontsize=8, loc="center right")
    return fig


def _label_cells(ax, cells, table, *, color):
    """Label one patch size's cells "k=..." in a column beside the group, ordered by accuracy and
    spread at least 6 % of the y range apart, each joined to its point by a thin line: the cells of
    one patch size often lie too close together for labels placed at the points."""
    low = (table["accuracy (%)"] - table["sd"].fillna(0)).min()
    high = (table["accuracy (%)"] + table["sd"].fillna(0)).max()
    gap = 0.06 * (high - low)
    cells = cells.sort_values("accuracy (%)", ascending=False)
    label_y = list(cells["accuracy (%)"])
    for i in range(1, len(label_y)):
        label_y[i] = min(label_y[i], label_y[i - 1] - gap)
    shift = cells["accuracy (%)"].mean() - np.mean(label_y)   # centre the column on the points
    speeds = np.log10(table["img/s"])
    on_the_left = np.log10(cells["img/s"].max()) > speeds.min() + 0.75 * (speeds.max() - speeds.min())
    x = cells["img/s"].min() / 1.35 if on_the_left else cells["img/s"].max() * 1.35
    for (_, cell), y in zip(cells.iterrows(), label_y):
        ax.annotate(f"k={int(cell['kernel'])}", (cell["img/s"], cell["accuracy (%)"]), xytext=(x, y + shift),
                    fontsize=7, va="center", ha="right" if on_the_left else "left",
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": color, "shrinkA": 1, "shrinkB": 3})
