"""Figures of the FlexiViT chapter, drawn from stored result records (see patchlib.experiments.flexivit)."""
from __future__ import annotations

import matplotlib.pyplot as plt

NAMES = {"vit_small": "ViT/{p}", "vit_large": "ViT/{p}", "flexi": "FlexiViT", "distill": "FlexiViT (distilled)"}
METHOD_NAMES = {"pi": "PI-resize", "resize": "Resize", "area": "Area-scaled resize", "norm": "Norm-scaled resize"}


def _label(role: str, model: dict) -> str:
    return NAMES.get(role, role).format(p=model.get("own_patch"))


def figure3(evaluation: dict, measurement: dict):
    """FlexiViT Figure 3 rebuilt: (left) test accuracy vs patch size, with the sequence length on
    the top axis; (right) accuracy vs measured throughput: FlexiViT as a curve over patch sizes,
    each fixed ViT as a point at its own size and, faded, at the sizes it was not trained for."""
    result = evaluation["result"]
    sizes, seq_len = result["patch_sizes"], result["seq_len"]
    speed = {row["patch_size"]: row["images_per_s"] for row in measurement["result"]["rows"]}
    rate = [speed[p] for p in sizes]
    colours = dict(zip(result["models"], plt.rcParams["axes.prop_cycle"].by_key()["color"]))

    fig, (ax_patch, ax_speed) = plt.subplots(1, 2, figsize=(11, 4.2))
    for role, model in result["models"].items():
        acc, own, label = model["acc"], model["own_patch"], _label(role, model)
        if own is None:
            ax_patch.plot(sizes, acc, marker="o", color=colours[role], label=label, lw=2)
            ax_speed.plot(rate, acc, marker="o", color=colours[role], label=label, lw=2)
            continue
        i = sizes.index(own)
        ax_patch.plot(sizes, acc, marker="o", ls="--", color=colours[role], label=label)
        ax_patch.scatter([own], [acc[i]], marker="*", s=220, color=colours[role], zorder=5)
        ax_speed.plot(rate, acc, marker=".", ls="--", color=colours[role], alpha=0.35)
        ax_speed.scatter([rate[i]], [acc[i]], marker="*", s=220, color=colours[role], zorder=5,
                         label=f"{label} (at its own size)")
    ax_patch.axhline(result["chance"], color="grey", lw=0.8, ls=":", label="chance")
    ax_patch.set(xscale="log", xlabel="patch size (pixels)", ylabel="test top-1 accuracy (%)",
                 title="Accuracy vs patch size")
    ax_patch.set_xticks(sizes, [str(p) for p in sizes])
    ax_patch.minorticks_off()
    top = ax_patch.secondary_xaxis("top")
    top.set_xticks(sizes, [str(n) for n in seq_len])
    top.set_xlabel("sequence length (image tokens)")
    top.minorticks_off()
    ax_patch.legend(fontsize=8)
    protocol = measurement["result"]["protocol"]
    ax_speed.set(xscale="log", xlabel=f"throughput (images/s, batch {protocol['batch_size']}, {protocol['precision']}, "
                                      f"{protocol['device']})",
                 ylabel="test top-1 accuracy (%)", title="Accuracy vs speed")
    for p, x, y in zip(sizes, rate, result["models"]["flexi"]["acc"]):
        ax_speed.annotate(f"/{p}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax_speed.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure4(record: dict):
    """FlexiViT Figure 4 rebuilt: accuracy of one ViT when the image and the patch are upsampled by
    the same factor (the token grid is unchanged) and the kernel is resampled by each method."""
    result = record["result"]
    patches, images = result["patch_sizes"], result["image_sizes"]
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = dict(zip(METHOD_NAMES, "osD^"))
    for method, acc in result["accuracy"].items():
        pi = method == "pi"  # drawn wide and underneath, so that methods with equal accuracy stay visible
        ax.plot(patches, acc, marker=markers.get(method, "o"), label=METHOD_NAMES.get(method, method),
                lw=5 if pi else 1.4, ms=10 if pi else 6, alpha=0.5 if pi else 1.0, zorder=1 if pi else 2)
    ax.set_xticks(patches, [f"{p}\n({s} px)" for p, s in zip(patches, images)])
    ax.set(xlabel="new patch size (image size)", ylabel="test top-1 accuracy (%)",
           title=f"Upsampling a ViT/{patches[0]} (grid {result['grid'][0]}×{result['grid'][1]} fixed)")
    low = min(min(a) for a in result["accuracy"].values())
    high = max(max(a) for a in result["accuracy"].values())
    ax.set_ylim(max(0.0, low - 5), min(100.0, high + 2))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def accuracy_table(evaluation: dict, measurement: dict):
    """Accuracy of every model at every patch size, with sequence length, GMACs and throughput."""
    import pandas as pd

    result = evaluation["result"]
    rows = {row["patch_size"]: row for row in measurement["result"]["rows"]}
    table = {"sequence length": result["seq_len"],
             "GMACs / image": [rows[p]["gmacs"] for p in result["patch_sizes"]],
             "images/s": [rows[p]["images_per_s"] for p in result["patch_sizes"]]}
    for role, model in result["models"].items():
        table[_label(role, model) + " (%)"] = model["acc"]
    frame = pd.DataFrame(table, index=pd.Index(result["patch_sizes"], name="patch size"))
    return frame.style.format({"GMACs / image": "{:.4f}", "images/s": "{:.0f}",
                               **{c: "{:.1f}" for c in frame.columns if c.endswith("(%)")}})

