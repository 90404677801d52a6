"""Figures of the ViTPose chapter, drawn from stored records (see patchlib.experiments.vitpose):
the backbones' pretraining, Table 2 beside ours, the training curves, predicted skeletons and the
generated data."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from ..experiments.vitpose.config import BACKBONE_LABELS, BACKBONES, DECODERS, PAPER
from ..experiments.vitpose.readers import SHOWN_SCORE
from ..experiments.vitpose.setting import pretrain_curves
from ..pose.keypoints import SKELETON
from . import provenance

DECODER_COLOURS = {"classic": "C0", "simple": "C1"}


def provenance_line(record: dict, data: dict | None = None) -> str:
    """`figures.provenance` of a ViTPose record, its data counted as what they are: people (the crops a
    pose model sees), in the images of the `data` record's splits, not "test images"."""
    text = provenance(record)
    counted = (record.get("provenance") or {}).get("data") or {}
    if isinstance(counted.get("n_train"), int) and isinstance(counted.get("n_test"), int):
        splits = None if data is None else data["result"]
        same = splits is not None and (splits["train"]["people"], splits["val"]["people"]) == (counted["n_train"],
                                                                                               counted["n_test"])
        images = f" in {splits['train']['images']:,} / {splits['val']['images']:,} images" if same else ""
        text = text.replace(f"{counted['n_train']:,} train / {counted['n_test']:,} test images",
                            f"{counted['n_train']:,} train / {counted['n_test']:,} val people{images}")
    return text


def ablation_figure(table):
    """Paper Table 2 beside ours: AP of each backbone with the classic and the simple decoder
    (ours: mean over seeds, error bars one standard deviation, one dot per seed)."""
    table2 = PAPER["table2"]["value"]
    fig, (ax_paper, ax_ours) = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    width = 0.38
    paper_rows = ("ResNet-50", "ResNet-152", "ViTPose-B")
    for j, decoder in enumerate(DECODERS):
        values = [table2[(row, decoder)][0] for row in paper_rows]
        bars = ax_paper.bar(np.arange(len(paper_rows)) + (j - 0.5) * width, values, width,
                            color=DECODER_COLOURS[decoder], label=decoder)
        ax_paper.bar_label(bars, fmt="%.1f", fontsize=8)
        rows = table.set_index(["backbone", "decoder"])
        means = [rows.loc[(BACKBONE_LABELS[b], decoder), "AP"] for b in BACKBONES]
        sds = [rows.loc[(BACKBONE_LABELS[b], decoder), "AP sd"] for b in BACKBONES]
        x = np.arange(len(BACKBONES)) + (j - 0.5) * width
        bars = ax_ours.bar(x, means, width, yerr=np.nan_to_num(sds), capsize=3, color=DECODER_COLOURS[decoder],
                           label=decoder, alpha=0.85)
        ax_ours.bar_label(bars, fmt="%.1f", fontsize=8, padding=6)
    crop = "x".join(map(str, PAPER["official_config"]["value"]["input"]))
    ax_paper.set(xticks=range(len(paper_rows)), xticklabels=paper_rows, ylabel="COCO val AP",
                 title=f"Paper (Table 2): COCO, {crop}", ylim=(0, 95))
    ours = table.iloc[0]
    ax_ours.set(xticks=range(len(BACKBONES)), xticklabels=[f"{BACKBONE_LABELS[b]}\n({table.set_index('backbone').loc[BACKBONE_LABELS[b], 'model'].iloc[0]})"
                                                            for b in BACKBONES],
                ylabel="val AP (x100, OKS)", title=f"Ours: same recipe and budget, {int(ours['seeds'])} seeds")
    top = max(1.0, float(np.nanmax(table["AP"] + np.nan_to_num(table["AP sd"]))))
    ax_ours.set_ylim(0, top * 1.45)
    ax_paper.legend(title="decoder", fontsize=8, loc="upper center", ncol=2)
    ax_ours.legend(title="decoder", fontsize=8, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def curves_figure(records: dict):
    """Val AP against epoch for each backbone and decoder (mean over seeds, band: min to max),
    beside the official ViTPose-B logs' curves (classic and simple decoder)."""
    fig, (ax_paper, ax_ours) = plt.subplots(1, 2, figsize=(10, 4))
    curves = PAPER["curves"]
    for decoder in DECODERS:
        ax_paper.plot(curves["epochs"], 100 * np.array(curves[decoder]), "o-", markersize=3,
                      color=DECODER_COLOURS[decoder], label=f"ViTPose-B {decoder}")
    ax_paper.set(xlabel="epoch", ylabel="COCO val AP", title="Official ViTPose-B logs (COCO)")
    for backbone, style in zip(BACKBONES, ("-", "--")):
        for decoder in DECODERS:
            runs = [r for (b, d, _), r in records["train"].items() if (b, d) == (backbone, decoder)]
            epochs = [e["epoch"] for e in runs[0]["result"]["history"] if "AP" in e]
            values = np.array([[100 * e["AP"] for e in r["result"]["history"] if "AP" in e] for r in runs])
            ax_ours.plot(epochs, values.mean(0), style, marker="o", markersize=3, color=DECODER_COLOURS[decoder],
                         label=f"{BACKBONE_LABELS[backbone]} {decoder}")
            if len(runs) > 1:
                ax_ours.fill_between(epochs, values.min(0), values.max(0), color=DECODER_COLOURS[decoder], alpha=0.15)
    ax_ours.set(xlabel="epoch", ylabel="val AP (x100, OKS)", title="Ours (mean over seeds; band: min-max)")
    for ax in (ax_paper, ax_ours):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pretrain_figure(records: dict):
    """The in-book pretraining per epoch, one panel per pretrained backbone: the MAE's loss on the
    removed patches (training crops; test images' centre crops with fixed masks), the classifier's
    accuracy (training crops; test images)."""
    curves = pretrain_curves(records)
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False)
    for ax, (backbone, curve) in zip(axes[0], curves.items()):
        metric, label = ("acc", "accuracy (%)") if "test_acc" in curve else ("loss", "loss on removed patches")
        for split, style in (("train", "o--"), ("test", "o-")):
            ax.plot(curve["epoch"], curve[f"{split}_{metric}"], style, markersize=4, label=f"{split}"
                    + (" (augmented crops)" if split == "train" else " (centre crops)"))
        objective = "classifier" if metric == "acc" else "masked autoencoder"
        ax.set(xlabel="epoch", ylabel=label, title=f"{BACKBONE_LABELS[backbone]}: {objective}",
               xticks=curve["epoch"])
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def draw_skeleton(ax, keypoints, *, colour: str, threshold: float = 0.2, linewidth: float = 1.5) -> None:
    """COCO keypoints [x, y, v-or-score] * 17 as the COCO skeleton (points below `threshold` skipped)."""
    points = np.asarray(keypoints, dtype=float).reshape(17, 3)
    shown = points[:, 2] > threshold
    for a, b in SKELETON:
        if shown[a] and shown[b]:
            ax.plot(points[[a, b], 0], points[[a, b], 1], "-", color=colour, linewidth=linewidth)
    ax.scatter(points[shown, 0], points[shown, 1], s=6, color=colour, zorder=3)


def _images_by_id(annotations: Path) -> dict[int, str]:
    return {image["id"]: image["file_name"] for image in json.loads(Path(annotations).read_text())["images"]}


def qualitative_figure(record: dict, val_annotations: Path, val_images: Path,
                       models=("vit-classic", "vit-simple", "resnet-classic", "resnet-simple")):
    """Held-out images with each listed model's predicted skeletons (coloured; keypoints whose
    heatmap peak is below SHOWN_SCORE left out) over the ground truth (white)."""
    result = record["result"]
    files = _images_by_id(val_annotations)
    truth = {}
    for annotation in json.loads(Path(val_annotations).read_text())["annotations"]:
        truth.setdefault(annotation["image_id"], []).append(annotation["keypoints"])
    images = result["images"]
    fig, axes = plt.subplots(len(models), len(images), figsize=(3 * len(images), 2.4 * len(models)), squeeze=False)
    for row, model in enumerate(models):
        backbone, decoder = model.split("-")
        for col, image_id in enumerate(images):
            ax = axes[row, col]
            image = Image.open(Path(val_images) / files[image_id]).convert("RGB")
            ax.imshow(image)
            for keypoints in truth.get(image_id, []):
                draw_skeleton(ax, keypoints, colour="white", threshold=0, linewidth=2.5)
            for prediction in result["predictions"][model]:
                if prediction["image_id"] == image_id:
                    draw_skeleton(ax, prediction["keypoints"], colour=DECODER_COLOURS[decoder], threshold=SHOWN_SCORE)
            ax.set_xlim(-0.5, image.width - 0.5)
            ax.set_ylim(image.height - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(f"{BACKBONE_LABELS[backbone]}, {decoder}")
    fig.suptitle("Held-out generated images: ground truth (white) and predictions (colour)", fontsize=10)
    fig.tight_layout()
    return fig


def coco_mini_figure(record: dict, annotations: Path, image_dir: Path, count: int = 6):
    """The real coco-mini-val2017 images with the ViT + classic model's predictions: out of domain
    (the model never saw a real person)."""
    coco = record["result"]["coco_mini"]
    files = _images_by_id(annotations)
    by_image = {}
    for prediction in coco["predictions"]:
        by_image.setdefault(prediction["image_id"], []).append(prediction)
    shown = sorted(by_image, key=lambda i: -len(by_image[i]))[:count]
    fig, axes = plt.subplots(1, len(shown), figsize=(3 * len(shown), 3), squeeze=False)
    for ax, image_id in zip(axes[0], shown):
        image = Image.open(Path(image_dir) / files[image_id]).convert("RGB")
        ax.imshow(image)
        for prediction in by_image[image_id]:
            draw_skeleton(ax, prediction["keypoints"], colour="C3", threshold=SHOWN_SCORE)
        ax.set_xlim(-0.5, image.width - 0.5)
        ax.set_ylim(image.height - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"OUT OF DOMAIN: real COCO val2017 images (coco-mini fixture), predictions of our ViT + classic "
                 f"model trained only on generated people (AP {100 * coco['scores']['AP']:.1f} on its "
                 f"{coco['people']} people)", fontsize=9)
    fig.tight_layout()
    return fig


def data_figure(annotations: Path, image_dir: Path, count: int = 4):
    """Generated training images with their ground-truth skeletons (COCO format)."""
    files = _images_by_id(annotations)
    truth = {}
    for annotation in json.loads(Path(annotations).read_text())["annotations"]:
        truth.setdefault(annotation["image_id"], []).append(annotation)
    shown = sorted(truth)[:count]
    fig, axes = plt.subplots(1, len(shown), figsize=(3 * len(shown), 2.6), squeeze=False)
    for ax, image_id in zip(axes[0], shown):
        ax.imshow(Image.open(Path(image_dir) / files[image_id]).convert("RGB"))
        for annotation in truth[image_id]:
            draw_skeleton(ax, annotation["keypoints"], colour="C2", threshold=0)
            x, y, w, h = annotation["bbox"]
            ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, edgecolor="yellow", linewidth=1))
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Generated people (patchlib.pose.synthetic): boxes and labelled keypoints", fontsize=10)
    fig.tight_layout()
    return fig
