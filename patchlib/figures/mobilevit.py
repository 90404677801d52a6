"""Figures of the MobileViT chapter, drawn from stored records (see patchlib.experiments.mobilevit):
the attention-unit curve (v2 Fig. 1) and the same-budget CIFAR-10 comparison (v2 Table 1's question)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.mobilevit.readers import slope_range, slopes

UNIT_STYLE = {"multi-head attention": ("o-", "C3"), "separable self-attention": ("s-", "C0")}


def attention_curve(record: dict):
    """v2 Fig. 1 rebuilt: latency of one attention unit against the number of tokens k (log-log),
    with the fitted slopes over `slope_range(record)` and O(k) / O(k^2) guides through the
    first separable point."""
    config = record["config"]
    low, high = slope_range(record)
    fitted = slopes(record)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    first = None
    for name, curve in record["result"]["curves"].items():
        k = np.array([p["k"] for p in curve])
        latency = np.array([p["latency_s"] for p in curve]) * 1e3
        marker, colour = UNIT_STYLE.get(name, ("^-", "C2"))
        slope = fitted[name]
        label = name + (f" (slope {slope:.2f})" if slope is not None else "")
        ax.plot(k, latency, marker, color=colour, label=label)
        if name == "separable self-attention":
            first = (k[0], latency[0])
    if first is not None:
        ks = np.array([first[0], max(p["k"] for c in record["result"]["curves"].values() for p in c)])
        for power, style in ((1, ":"), (2, "--")):
            ax.plot(ks, first[1] * (ks / ks[0]) ** power, style, color="0.55", linewidth=1,
                    label=f"O(k{'^2' if power == 2 else ''}) guide")
    ax.axvspan(low, high, color="0.92", zorder=0, label=f"slope fitted over k in [{low}, {high}]")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(xlabel="number of tokens k", ylabel="latency of one unit (ms, log scale)",
           title=f"One attention unit, d = {config['dim']}, {config['heads']} heads, {config['threads']} CPU thread(s)")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def cifar_figure(table):
    """The same-budget CIFAR-10 comparison: test accuracy against measured inference throughput,
    marker area proportional to the parameter count."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (label, row) in enumerate(table.iterrows()):
        ax.scatter(row["img/s"], row["test accuracy (%)"], s=300 * row["params (M)"], alpha=0.7, color=f"C{i}",
                   label=f"{label}: {row['params (M)']:.2f} M params")
        ax.annotate(f"{row['test accuracy (%)']:.1f}%", (row["img/s"], row["test accuracy (%)"]), fontsize=8,
                    textcoords="offset points", xytext=(8, -3))
    ax.set_xscale("log")
    ax.set(xlabel="inference throughput (images/s, log scale)", ylabel="test accuracy (%)",
           title="Same recipe and budget on CIFAR-10")
    ax.margins(x=0.3, y=0.3)
    ax.legend(fontsize=8, loc="lower right", markerscale=0.4)
    return fig
