"""FlexiViT chapter, the records read for the claims, the prose and the figures: every run's accuracies by role,
their seed noise, each model's training compute per patch size, its training history (the gap over training
length) and which resize ran the fixed ViTs. Computes nothing."""
from __future__ import annotations

import math
import statistics

from ...claims import binomial_se, mean_and_error, pooled_sd
from .config import FIXED

PLAIN = "acc_plain"       # an evaluate entry's accuracies with the paper's Fig. 3 resize (plain bilinear kernel and
#                           position embeddings); records made before the experiments issue hold only "acc" (PI-resize)


def runs_of(models: dict, role: str, key: str = "acc") -> list[list[float]]:
    """The accuracies per patch size (`key`) of every run of `role` in an evaluate record, main run first."""
    return [entry[key] for name, entry in models.items() if entry.get("role", name) == role and key in entry]


def seed_sd(models: dict) -> float:
    """Pooled seed-to-seed sd (pp) of one accuracy over the roles with seeds (nan without any)."""
    roles = {entry.get("role", key) for key, entry in models.items()}
    return pooled_sd(values for role in roles for values in zip(*runs_of(models, role)))


def test_images(record: dict) -> int | None:  # the test images behind a record's accuracies
    return (record.get("provenance", {}).get("data") or {}).get("n_test") or record["result"].get("n_test")


def accuracy_noise(acc: float, record: dict, sd: float) -> float:
    """The noise of one single-run accuracy: the pooled seed sd where measured, else the test set's."""
    return sd if not math.isnan(sd) else binomial_se(acc, test_images(record))


def retained_fraction(acc: list[float], own: int, chance: float) -> float:
    """Mean over the other patch sizes of (acc - chance) / (acc at the own size - chance)."""
    top = acc[own] - chance
    return statistics.mean((a - chance) / top for i, a in enumerate(acc) if i != own) if top > 0 else math.nan


def retained(runs: list[list[float]], own: int, chance: float, sigma: float) -> tuple[float, float, int]:
    """(mean retained fraction, s.e., runs): over seeds where there are several, else the delta-method s.e.
    with `sigma` the noise of each accuracy; nan for a run at chance at its own size."""
    values = [retained_fraction(run, own, chance) for run in runs]
    if any(map(math.isnan, values)) or len(values) > 1:
        return (*(mean_and_error(values) if not any(map(math.isnan, values)) else (math.nan,) * 2), len(values))
    return values[0], sigma / (runs[0][own] - chance) * math.sqrt(1 / (len(runs[0]) - 1) + values[0] ** 2), 1


def train_setting(evaluation: dict, key: str) -> dict:
    """The training settings of run `key` as the evaluate record's configuration holds them ({} if absent)."""
    return evaluation["config"].get("models", {}).get(key, {}).get("train", {})


def epochs_per_size(evaluation: dict) -> dict[str, float]:
    """Epochs' worth of steps each model spent at each of its patch sizes (a FlexiViT draws one per step)."""
    configs = evaluation["config"].get("models", {})
    out = {role: train_setting(evaluation, role).get("epochs", math.nan) for role in FIXED}
    for role in ("flexi", "flexi_long"):
        config = configs.get(role)
        out[role] = config["train"]["epochs"] / len(config["model_config"]["patch_sizes"]) if config else math.nan
    return out


def last_epoch_rise(records: dict, role: str) -> float:
    """The rise of `role`'s test accuracy over its last epoch, mean over runs (FlexiViT's: at its smallest size)."""
    rises = [h[-1]["test_acc"] - h[-2]["test_acc"] for r in records.get("train", {}).values()
             if r["config"].get("role") == role and len(h := r["result"].get("history") or []) > 1]
    return statistics.mean(rises) if rises else math.nan


def resize_gate(models: dict) -> tuple[bool, str]:
    """(met, observed): whether the records hold the fixed ViTs' accuracies with the paper's resize."""
    plain = all(PLAIN in entry for entry in models.values() if entry.get("own_patch"))
    return plain, ("kernel and position embeddings resized bilinearly" if plain else "the records run the fixed ViTs "
                   "through PI-resize of the kernel only (position embeddings resized bilinearly), a gentler resize")


def training_length(records: dict) -> dict | None:
    """Test accuracy at the smallest patch size after every epoch, from the training histories (a FlexiViT is
    evaluated at its default size, the smallest; the smaller-patch ViT at its own, the same size): {"patch", "n_sizes",
    "curves": {role: [per run: accuracies per epoch]} for "vit_small", "flexi" and, where trained, "flexi_long",
    "gaps": [per epoch e of the ViT: {"epoch", "vit", "equal_epochs", "equal_compute"}]}. "equal_epochs" is the FlexiViT
    after e epochs minus the ViT after e (mean over runs), "equal_compute" the FlexiViT trained len(sizes) x longer after
    len(sizes) x e epochs minus the ViT after e (the same steps at that size; nan where not trained); both pairs stand
    at the same point of their learning-rate schedules. None where the records lack the histories or the ViT's size is
    not the smallest."""
    models, sizes = records["evaluate"]["result"]["models"], records["evaluate"]["result"]["patch_sizes"]
    if "vit_small" not in models or models["vit_small"]["own_patch"] != min(sizes):
        return None
    curves = {}
    for record in records.get("train", {}).values():
        history = record["result"].get("history") or []
        if all("test_acc" in entry for entry in history):
            curves.setdefault(record["config"]["role"], []).append([entry["test_acc"] for entry in history])
    if not {"vit_small", "flexi"} <= set(curves):
        return None
    mean_at = lambda role, epoch: statistics.mean(run[epoch - 1] for run in curves[role])  # noqa: E731
    n, gaps = len(sizes), []
    for epoch in range(1, min(map(len, curves["vit_small"])) + 1):
        vit = mean_at("vit_small", epoch)
        long_runs = [run for run in curves.get("flexi_long", []) if len(run) >= n * epoch]
        gaps.append({"epoch": epoch, "vit": vit,
                     "equal_epochs": (mean_at("flexi", epoch) - vit if min(map(len, curves["flexi"])) >= epoch
                                      else math.nan),
                     "equal_compute": (statistics.mean(run[n * epoch - 1] for run in long_runs) - vit if long_runs
                                       else math.nan)})
    return {"patch": min(sizes), "n_sizes": n, "curves": curves, "gaps": gaps}
