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


def evaluated(history: list[dict]) -> tuple[list[int], list[float]]:
    """(epochs, test accuracies) of the evaluated epochs of a training history."""
    points = [(entry.get("epoch", i + 1), entry["test_acc"]) for i, entry in enumerate(history) if "test_acc" in entry]
    return [e for e, _ in points], [a for _, a in points]


def last_epoch_rise(records: dict, role: str) -> float:
    """The rise of `role`'s test accuracy over its last evaluation interval, mean over runs (one epoch, or for the
    equal-compute FlexiViT, evaluated every len(sizes) epochs, one epoch's worth of steps at each size; a FlexiViT's
    at its smallest size)."""
    rises = [acc[-1] - acc[-2] for r in records.get("train", {}).values()
             if r["config"].get("role") == role and len(acc := evaluated(r["result"].get("history") or [])[1]) > 1]
    return statistics.mean(rises) if rises else math.nan


def resize_gate(models: dict) -> tuple[bool, str]:
    """(met, observed): whether the records hold the fixed ViTs' accuracies with the paper's resize."""
    plain = all(PLAIN in entry for entry in models.values() if entry.get("own_patch"))
    return plain, ("kernel and position embeddings resized bilinearly" if plain else "the records run the fixed ViTs "
                   "through PI-resize of the kernel only (position embeddings resized bilinearly), a gentler resize")


def training_length(records: dict) -> dict | None:
    """Test accuracy at the smallest patch size after the evaluated epochs, from the training histories (a FlexiViT is
    evaluated at its default size, the smallest; the smaller-patch ViT at its own, the same size): {"patch", "n_sizes",
    "curves": {role: [per run: (epochs, accuracies)]} for "vit_small", "flexi" and, where trained, "flexi_long",
    "gaps": [per epoch e of the ViT: {"epoch", "vit", "equal_epochs", "equal_compute"}]}. "equal_epochs" is the FlexiViT
    after e epochs minus the ViT after e (means over runs), "equal_compute" the FlexiViT trained len(sizes) x longer
    after len(sizes) x e epochs minus the ViT after e (the same steps at that size; nan where not evaluated); both pairs
    stand at the same point of their learning-rate schedules. None where the records lack the histories or the ViT's
    size is not the smallest."""
    models, sizes = records["evaluate"]["result"]["models"], records["evaluate"]["result"]["patch_sizes"]
    if "vit_small" not in models or models["vit_small"]["own_patch"] != min(sizes):
        return None
    curves = {}
    for record in records.get("train", {}).values():
        if (run := evaluated(record["result"].get("history") or []))[0]:
            curves.setdefault(record["config"]["role"], []).append(run)
    if not {"vit_small", "flexi"} <= set(curves):
        return None

    def mean_at(role: str, epoch: int) -> float:  # nan unless every run of `role` was evaluated after `epoch`
        values = [acc[epochs.index(epoch)] for epochs, acc in curves.get(role, []) if epoch in epochs]
        return statistics.mean(values) if values and len(values) == len(curves[role]) else math.nan

    n, gaps = len(sizes), []
    for epoch in curves["vit_small"][0][0]:
        vit = mean_at("vit_small", epoch)
        gaps.append({"epoch": epoch, "vit": vit, "equal_epochs": mean_at("flexi", epoch) - vit,
                     "equal_compute": mean_at("flexi_long", n * epoch) - vit})
    return {"patch": min(sizes), "n_sizes": n, "curves": curves, "gaps": gaps}
