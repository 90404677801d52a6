"""Figures of the FlexiViT chapter, drawn from stored result records (computed by
`patchlib.experiments.flexivit`, read through its `readers`), and the reading of the two-knob frontier
record they draw (points by knob, Pareto frontiers, margins at equal throughput), which the readers
re-export and judge."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np

from ..experiments.flexivit.config import PAPER
from ..experiments.flexivit.knobs import knob_points, pareto


NAMES = {"vit_small": "ViT/{p}", "vit_large": "ViT/{p}", "flexi": "FlexiViT", "flexi_long": "FlexiViT, equal compute per size",
         "distill": "FlexiViT (distilled)"}
PLAIN = "acc_plain"  # the evaluate record's accuracies of a fixed ViT resized as the paper's Fig. 3 does
METHOD_NAMES = {"pi": "PI-resize", "resize": "Resize", "area": "Area-scaled resize", "norm": "Norm-scaled resize"}


# ---- the two-knob frontier record, read (the chapter's readers judge its claim from these) ----

def _label(role: str, model: dict) -> str:
    return NAMES.get(role, role).format(p=model.get("own_patch"))


def runs_by_role(result: dict, key: str = "acc") -> dict[str, tuple[dict, np.ndarray]]:
    """role -> (its main run's entry, accuracies `key` [seeds, patch sizes]) from an evaluate record
    (the main run is keyed by its role, `experiments.flexivit.pieces.run_key`); roles without `key` are left out."""
    models = result["models"]
    roles = dict.fromkeys(model.get("role", name) for name, model in models.items() if key in model)  # in record order
    return {role: (models[role], np.asarray([m[key] for name, m in models.items() if m.get("role", name) == role]))
            for role in roles}


def figure3(evaluation: dict, measurement: dict):
    """FlexiViT Figure 3 rebuilt: (left) test accuracy vs patch size, with the sequence length on
    the top axis; (right) accuracy vs measured throughput: each FlexiViT as a curve over patch sizes,
    each fixed ViT as a point at its own size and, at the sizes it was not trained for, resized as the paper's
    Fig. 3 resizes it (kernel and position embeddings bilinearly: dashed) and, faded and dotted, with its kernel
    PI-resized (the book's addition). Records made before the plain resize have only the PI-resize curve, drawn
    dashed. Models trained with several seeds show the mean and ± sd error bars (n in the legend). A third panel
    shows the paper's own Fig. 3 points that are sourced (`config.PAPER["fig3_points"]`, second-hand) on the
    paper's axis (patch size at its 240-px input), beside ours rather than on our axes: their scale differs."""
    result = evaluation["result"]
    sizes, seq_len = result["patch_sizes"], result["seq_len"]
    speed = {row["patch_size"]: row["images_per_s"] for row in measurement["result"]["rows"]}
    rate = [speed[p] for p in sizes]
    runs, plain = runs_by_role(result), runs_by_role(result, PLAIN)
    colours = dict(zip(runs, plt.rcParams["axes.prop_cycle"].by_key()["color"]))

    def mean_sd(accs: np.ndarray):
        return accs.mean(axis=0), accs.std(axis=0, ddof=1) if len(accs) > 1 else None

    fig, (ax_patch, ax_speed, ax_paper) = plt.subplots(1, 3, figsize=(15, 4.6), width_ratios=(1, 1, 0.55))
    for role, (model, accs) in runs.items():
        (acc, sd), own = mean_sd(accs), model["own_patch"]
        label = _label(role, model) + (f" (mean ± sd, {len(accs)} seeds)" if sd is not None else "")
        if own is None:
            ax_patch.errorbar(sizes, acc, yerr=sd, marker="o", color=colours[role], label=label, lw=2, capsize=3)
            ax_speed.errorbar(rate, acc, yerr=sd, marker="o", color=colours[role], label=label, lw=2, capsize=3)
            continue
        i = sizes.index(own)
        if role in plain:
            paper, paper_sd = mean_sd(plain[role][1])
            ax_patch.errorbar(sizes, paper, yerr=paper_sd, marker="o", ls="--", color=colours[role], capsize=3,
                              label=f"{label}, other sizes resized plainly (the paper's Fig. 3)")
            ax_patch.errorbar(sizes, acc, yerr=sd, marker=".", ls=":", color=colours[role], capsize=2, alpha=0.45,
                              label=f"{_label(role, model)}, other sizes through PI-resize (the book's addition)")
            ax_speed.plot(rate, paper, marker=".", ls="--", color=colours[role], alpha=0.35)
        else:
            ax_patch.errorbar(sizes, acc, yerr=sd, marker="o", ls="--", color=colours[role], capsize=3,
                              label=f"{label}, other sizes through PI-resize")
            ax_speed.plot(rate, acc, marker=".", ls="--", color=colours[role], alpha=0.35)
        ax_patch.scatter([own], [acc[i]], marker="*", s=220, color=colours[role], zorder=5)
        ax_speed.errorbar([rate[i]], [acc[i]], yerr=None if sd is None else [sd[i]], fmt="*", ms=15,
                          color=colours[role], zorder=5, capsize=3, label=f"{label} (at its own size)")
    ax_patch.axhline(result["chance"], color="grey", lw=0.8, ls=":", label="chance")
    ax_patch.set(xscale="log", xlabel="patch size (pixels)", ylabel="test top-1 accuracy (%)",
                 title="Accuracy vs patch size")
    ax_patch.set_xticks(sizes, [str(p) for p in sizes])
    ax_patch.minorticks_off()
    top = ax_patch.secondary_xaxis("top")
    top.set_xticks(sizes, [str(n) for n in seq_len])
    top.set_xlabel("sequence length (image tokens)")
    top.minorticks_off()
    ax_patch.legend(fontsize=7)
    protocol = measurement["result"]["protocol"]
    ax_speed.set(xscale="log", xlabel=f"throughput (images/s, batch {protocol['batch_size']}, {protocol['precision']}, "
                                      f"{protocol['device']})",
                 ylabel="test top-1 accuracy (%)", title="Accuracy vs speed")
    for p, x, y in zip(sizes, rate, runs["flexi"][1].mean(axis=0)):
        ax_speed.annotate(f"/{p}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax_speed.legend(fontsize=7)
    _paper_points(ax_paper)
    fig.tight_layout()
    return fig


def _paper_points(ax) -> None:
    """The sourced points of the paper's Fig. 3 ("<model> @<p>x<p>": value) at patch size p of its 240-px input."""
    entry, resolution = PAPER["fig3_points"], PAPER["input_resolution"]["value"]
    by_model: dict[str, list[tuple[int, float]]] = {}
    for key, value in entry["value"].items():
        model, patch = key.split(" @")
        by_model.setdefault(model, []).append((int(patch.split("x")[0]), value))
    greys = iter(("black", "0.45", "0.7"))  # not our models' colours: these are the paper's models
    for model, points in by_model.items():
        patches, values = zip(*sorted(points))
        ax.plot(patches, values, marker="D" if model.startswith("FlexiViT") else "s", ls="-", color=next(greys, "0.8"),
                label=model)
        for x, y in zip(patches, values):
            ax.annotate(f"{y:g}", (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set(xscale="log", xlim=(6, 40), ylim=(0, 60), xlabel=f"patch size (pixels, {resolution}-px input)",
           ylabel=entry["unit"].split(" (")[0], title=f"The paper's points ({entry['status']})")
    ax.set_xticks([8, 30], ["8", "30"])
    ax.minorticks_off()
    ax.legend(fontsize=8, loc="lower right")


def training_length_figure(course: dict):
    """FlexiViT against the smaller-patch ViT over training, at the smallest patch size (`readers.training_length`):
    test accuracy after every evaluated epoch against the epochs trained (left: equal epochs) and against the epochs'
    worth of steps taken at that patch size (right: equal compute per size, a FlexiViT taking 1/len(sizes) of its steps
    there). Several runs: mean ± sd."""
    names = {"vit_small": f"ViT/{course['patch']}", "flexi": "FlexiViT", "flexi_long": "FlexiViT, trained longer"}
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = {"vit_small": cycle[0], "flexi": cycle[2], "flexi_long": cycle[3]}  # as in `figure3`
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for role, runs in course["curves"].items():
        if role not in names:
            continue
        epochs, accs = np.asarray(runs[0][0]), np.asarray([acc for _, acc in runs])  # the runs of a role share epochs
        share = 1.0 if role == "vit_small" else 1.0 / course["n_sizes"]
        sd = accs.std(axis=0, ddof=1) if len(accs) > 1 else None
        label = names[role] + f" ({epochs[-1]} epochs" + (f", mean ± sd of {len(accs)} runs)" if sd is not None else ")")
        for ax, x in ((axes[0], epochs), (axes[1], epochs * share)):
            ax.errorbar(x, accs.mean(axis=0), yerr=sd, marker="o", ms=4, capsize=3, color=colours[role], label=label)
    axes[0].set(xlabel="epochs trained", ylabel=f"test top-1 accuracy at patch {course['patch']} (%)",
                title="Equal epochs")
    axes[1].set(xlabel=f"epochs' worth of steps at patch {course['patch']}", title="Equal compute per patch size")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def frontier_figure(record: dict):
    """Beyond the papers: the FlexiViT at every patch size x EViT keep rate, accuracy against
    measured throughput (left) and GMACs (right); the Pareto frontier of each knob alone (patch
    size at keep rate 1; keep rate at the smallest patch size) and of both together."""
    knobs = knob_points(record)
    points = knobs["both"]
    sizes = sorted({p["patch_size"] for p in points})
    keep_rates = sorted({p["keep_rate"] for p in points}, reverse=True)
    colours = dict(zip(sizes, plt.cm.viridis(np.linspace(0.0, 0.85, len(sizes)))))  # lines keep C0, C3, black
    markers = dict(zip(keep_rates, "osD^v<>"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = ((axes[0], "images_per_s", "measured throughput (images/s)", lambda p: p["images_per_s"]),
              (axes[1], "gmacs", "GMACs per image", lambda p: -p["gmacs"]))  # faster: more images/s, fewer GMACs
    for ax, x_key, x_label, speed in panels:
        for point in points:
            ax.scatter(point[x_key], point["acc"], color=colours[point["patch_size"]], marker=markers[point["keep_rate"]],
                       s=36, zorder=3)
        # Frontiers as steps: the best accuracy reachable at each speed (fastest point first, each
        # point's accuracy held until the next, slower one). The single-knob frontiers wide and pale
        # underneath, so that where they coincide with the two-knob one both stay visible.
        for name, subset, style in (("patch size alone (keep 1)", knobs["patch"], dict(color="C0", marker="o")),
                                    (f"keep rate alone (patch {sizes[0]})", knobs["keep"], dict(color="C3", marker="o")),
                                    ("both knobs", points, dict(color="black", lw=1.5, alpha=1.0, zorder=4))):
            front = pareto(subset, speed)
            ax.plot([p[x_key] for p in front], [p["acc"] for p in front], label=f"Pareto frontier: {name}",
                    drawstyle="steps-post", **({"lw": 5, "ms": 11, "alpha": 0.4, "zorder": 2} | style))
        ax.set(xscale="log", xlabel=x_label, ylabel="test top-1 accuracy (%)")
        ax.xaxis.set_major_locator(mticker.LogLocator(subs=(1, 2, 5)))
        ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    for size in sizes:
        axes[0].scatter([], [], color=colours[size], marker="o", label=f"patch {size}")
    for keep in keep_rates:
        axes[0].scatter([], [], color="grey", marker=markers[keep], label=f"keep rate {keep:g}")
    axes[0].set_title("Accuracy vs speed: two knobs")
    axes[1].set_title("Accuracy vs compute")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
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
    """Accuracy of every model at every patch size (the mean, and sd, over seeds where a model has
    several; the fixed ViTs both ways they are resized to the other sizes, where the record holds both), with
    sequence length, GMACs and throughput."""
    import pandas as pd

    result = evaluation["result"]
    rows = {row["patch_size"]: row for row in measurement["result"]["rows"]}
    table = {"sequence length": result["seq_len"],
             "GMACs / image": [rows[p]["gmacs"] for p in result["patch_sizes"]],
             "images/s": [rows[p]["images_per_s"] for p in result["patch_sizes"]]}
    plain = runs_by_role(result, PLAIN)
    for role, (model, accs) in runs_by_role(result).items():
        columns = [(" plain resize", plain[role][1]), (" PI-resize", accs)] if role in plain else [("", accs)]
        for suffix, values in columns:
            table[_label(role, model) + suffix + " (%)"] = values.mean(axis=0)
            if len(values) > 1:
                table[_label(role, model) + suffix + " sd"] = values.std(axis=0, ddof=1)
    frame = pd.DataFrame(table, index=pd.Index(result["patch_sizes"], name="patch size"))
    return frame.style.format({"GMACs / image": "{:.4f}", "images/s": "{:.0f}",
                               **{c: "{:.1f}" for c in frame.columns if c.endswith(("(%)", " sd"))}})
