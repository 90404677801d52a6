"""Figures of the `pretrained` profile (patchlib.experiments.pretrained), drawn from its records: the
released checkpoints' numbers beside the published ones. ConvMixer, MobileViT and ViTPose get a table only."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ..experiments.pretrained.config import EVIT_BASELINE, EVIT_ZOO_ROWS, FLEXIVIT, FLEXIVIT_TIMM_SOURCE


def flexivit_curves(records: dict):
    """Fig. 2 rebuilt: top-1 on ImageNet-1k val of the released FlexiViT-S/B/L against patch size, with
    timm's evaluation of the same weights at patch 16 (the paper's own points are not sourced)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    drawn = False
    for evaluation in FLEXIVIT:
        record = records["evaluations"].get(evaluation.id)
        label = evaluation.claim.split(" (")[0]
        if record is not None:
            result = record["result"]
            line, = ax.plot(result["patch_sizes"], result["top1"], marker="o", label=f"{label} (ours)")
            ax.scatter([16], [evaluation.paper_value], marker="*", s=120, color=line.get_color(), zorder=3,
                       edgecolor="black", label=f"{label}, timm's evaluation at patch 16")
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    sizes = [8, 10, 12, 15, 16, 20, 24, 30, 40, 48]
    ax.set_xticks(sizes, ["" if size == 15 else str(size) for size in sizes])  # 15 and 16 would overlap
    ax.minorticks_off()
    ax.set(xlabel="Patch size (px, 240 px images)", ylabel="ImageNet-1k val top-1 (%)",
           title="Released FlexiViTs at every patch size")
    ax.legend(fontsize=8)
    ax.text(0.01, -0.2, f"Stars: {FLEXIVIT_TIMM_SOURCE}.", transform=ax.transAxes, fontsize=7, wrap=True)
    return fig


def evit_tradeoff(records: dict):
    """Top-1 of the released EViT-DeiT-S models against keep rate (ours and the Model Zoo's), and against
    the images per second measured here (the zoo's throughputs were measured on an A100, secondary)."""
    rows = []
    for name, row in EVIT_ZOO_ROWS.items():
        record = next((r for r in records["evaluations"].values() if r and r["result"].get("checkpoint") == name), None)
        if record is not None:
            rows.append((row, record["result"]))
    if not rows:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for fuse, colour in ((True, "tab:blue"), (False, "tab:orange")):
        chosen = sorted((r for r in rows if r[0]["fusion"] is fuse), key=lambda r: r[0]["keep_rate"])
        if not chosen:
            continue
        word = "fused" if fuse else "not fused"
        keep = [r[0]["keep_rate"] for r in chosen]
        left.plot(keep, [r[1]["top1"] for r in chosen], marker="o", color=colour, label=f"ours, {word}")
        left.plot(keep, [r[0]["acc1"] for r in chosen], marker="x", ls="--", color=colour, label=f"Model Zoo, {word}")
        right.plot([r[1]["model_images_per_s"] for r in chosen], [r[1]["top1"] for r in chosen], marker="o",
                   color=colour, label=f"ours, {word}")
    base = next((r for r in records["evaluations"].values()
                 if r and r["result"].get("checkpoint", "").startswith("deit_small")), None)
    if base is not None:
        left.axhline(base["result"]["top1"], color="0.3", lw=1, label="DeiT-S, ours")
        right.scatter([base["result"]["model_images_per_s"]], [base["result"]["top1"]], color="0.3", marker="s",
                      label="DeiT-S, ours")
    left.axhline(EVIT_BASELINE["value"]["acc1"], color="0.6", lw=1, ls=":", label="DeiT-S, paper (secondary)")
    left.set(xlabel="Keep rate", ylabel="ImageNet-1k val top-1 (%)", title="Accuracy vs keep rate")
    right.set(xlabel="Images per second (forward passes, measured here)", ylabel="ImageNet-1k val top-1 (%)",
              title="Accuracy vs measured speed")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def vit_figure7(records: dict):
    """ViT Fig. 7 from the released ViT-L/32 (`patchlib.figures.vit.figure7` on its record)."""
    from .vit import figure7

    record = records["evaluations"].get("vit_fig7")
    return None if record is None else figure7(record)


FIGURES = {"flexivit": flexivit_curves, "evit": evit_tradeoff, "vit": vit_figure7}
# What each figure shows, for readers who cannot see it (the book refuses an image without alt text).
ALT_TEXTS = {
    "flexivit": "Line chart: ImageNet-1k validation top-1 of the released FlexiViT-S, -B and -L at every patch size "
                "from 8 to 48 on 240-pixel images, one line per model, with timm's evaluation at patch 16 as stars.",
    "evit": "Two line charts of the released EViT-DeiT-S models, fused and not fused: top-1 against keep rate beside "
            "the Model Zoo's values and DeiT-S, and top-1 against the images per second measured here.",
    "vit": "ViT Figure 7 from the released ViT-L/32: the principal components of the patch-embedding filters, the "
           "similarity of each position embedding to the others, and the attention distance of each head by depth.",
}


def pretrained_figure(chapter: str, records: dict):
    """The chapter's figure of the pretrained profile, ready to `display()` with its alt text
    (`figure_output`), or None (a table is enough, or nothing was run)."""
    from . import figure_output

    draw = FIGURES.get(chapter)
    figure = None if draw is None else draw(records)
    return None if figure is None else figure_output(figure, ALT_TEXTS[chapter])
