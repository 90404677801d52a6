"""Everything that reads the ConvMixer chapter's records: the kernel x patch grid table (the
paper's CIFAR-10 ablation) and its gains judged against the seed noise, the claims with their
kinds, gates and rules, the published values and the setups. The chapter's prose is built from the
same numbers in `prose.py` (`prose`, `prose_parts`, `facts` below). Reads records only; computes
nothing that needs a model."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...claims import (Claim, accuracy_difference_error, binomial_se, claim_spread, combined_verdict, equal_verdict,
                       gate_text, gated, greater_verdict, mean_and_error, pooled_sd, single_run_note)
from ..common import record_source
from .config import EXACT_RECIPE_MODEL, PAPER, RECIPE_EPOCHS, recipe, recipe_start
from ...prose import entry_points

# Gate of both grid claims: every compared cell at least twice chance on CIFAR-10's ten classes,
# so that a difference between cells is one between models that learned something.
MIN_ACCURACY = 20.0
# The recipe claim reads the README's "around 92.5%" one-sided: at most this many points below.
RECIPE_SLACK = 1.0

# ---- the grid: accuracy per cell, over seeds ----


def cell_accuracies(records: dict) -> dict[tuple[int, int], list[float]]:
    """(kernel, patch) -> test accuracy (%) per seed, the main run first."""
    out: dict[tuple[int, int], list[float]] = {}
    for record in records["grid"] + records.get("grid_seeds", []):
        model = record["config"]["model_config"]
        out.setdefault((model["kernel_size"], model["patch_size"]), []).append(record["result"]["final"]["test_acc"])
    return out


def grid_table(records: dict) -> pd.DataFrame:
    """One row per grid cell: k, p, accuracy (the mean over seeds where a cell has several, with
    their standard deviation and number), parameters, GMACs, measured img/s."""
    accuracies = cell_accuracies(records)
    rows = []
    for record, speed in zip(records["grid"], records["throughput"]["result"]["throughput"]):
        model, result = record["config"]["model_config"], record["result"]
        accs = accuracies[(model["kernel_size"], model["patch_size"])]
        rows.append({"kernel": model["kernel_size"], "patch": model["patch_size"],
                     "accuracy (%)": float(np.mean(accs)),
                     "sd": float(np.std(accs, ddof=1)) if len(accs) > 1 else np.nan,
                     "seeds": len(accs), "parameters (M)": result["parameters"] / 1e6,
                     "GMACs": result["cost"]["gmacs"], "img/s": speed["images_per_s"],
                     "train min": result["train_time_s"] / 60})
    return pd.DataFrame(rows)


def seed_sd(records: dict) -> float:
    """The pooled seed-to-seed standard deviation of a cell's accuracy (pp) over the seeded cells
    (nan without any): the noise of one single-seed accuracy."""
    return pooled_sd(cell_accuracies(records).values())


def n_test(record: dict) -> int:
    """The number of test images a record was evaluated on."""
    return record["provenance"]["data"]["n_test"]


@dataclass(frozen=True)
class Gain:
    """acc(one cell) - acc(another) with its standard error. `seeded`: both cells have several
    seeds; then, where `paired`, the gain is the mean of the per-seed differences and `error` its
    s.e. over the `n` pairs. Otherwise it is the difference of the cells' means, with the s.e. of
    that difference from the pooled seed-to-seed sd (`claims.accuracy_difference_error`; from the
    test set alone where no cell has seeds), and `n` the fewer seeds of the two cells. `verdict`:
    `claims.greater_verdict` of a positive gain, margin 0."""
    gain: float
    error: float
    n: int
    verdict: str
    seeded: bool

    def __str__(self) -> str:
        return (f"{self.gain:+.2f} ± {self.error:.2f} (s.e., {self.n} seed{'s' * (self.n > 1)}), "
                f"{self.verdict.replace('_', ' ')}")


def _difference(records: dict, better: tuple[int, int], worse: tuple[int, int], *, paired: bool) -> Gain:
    accuracies = cell_accuracies(records)
    a, b = accuracies[better], accuracies[worse]
    seeded = len(a) > 1 and len(b) > 1
    if paired and seeded:
        gain, error = mean_and_error([x - y for x, y in zip(a, b)])
        n = min(len(a), len(b))
    else:
        sd = seed_sd(records)
        gain = float(np.mean(a) - np.mean(b))
        images = n_test(records["grid"][0]) if math.isnan(sd) else 0  # the test set's noise only without seeds
        error = accuracy_difference_error(float(np.mean(a)), float(np.mean(b)), images, sd, len(a), len(b))
        n = min(len(a), len(b))
    return Gain(gain, error, n, greater_verdict(gain, error), seeded)


def mean_gain(gains) -> tuple[float, float]:
    """The mean of independent gains and its standard error."""
    gains = list(gains)
    return float(np.mean([g.gain for g in gains])), math.sqrt(sum(g.error ** 2 for g in gains)) / len(gains)


def grid_gains(records: dict) -> dict:
    """The grid's comparisons. "kernel": per patch size p, acc(largest k) - acc(smallest k) of the
    kernel sizes run at p, paired per seed where both cells have seeds. "patch": the patch ladder, one
    rung per step from a patch size to the next smaller one ((4, 2), then (2, 1)), each
    {k: acc(k, smaller p) - acc(k, larger p)} over the kernel sizes run at both, from the cells' means
    against the pooled seed noise."""
    accuracies = cell_accuracies(records)
    patches = sorted({p for _, p in accuracies})
    kernels = {p: sorted(k for k, q in accuracies if q == p) for p in patches}  # a profile may run fewer at some p
    ladder = list(zip(patches[::-1], patches[::-1][1:]))
    return {"kernel": {p: _difference(records, (kernels[p][-1], p), (kernels[p][0], p), paired=True) for p in patches},
            "patch": {(large, small): {k: _difference(records, (k, small), (k, large), paired=False)
                                       for k in kernels[small] if k in kernels[large]}
                      for large, small in ladder}}


# ---- claims: each verdict is computed from the records by the rule stated in it ----

KERNEL_RULE = ("one-sided, at the paper's patch size: the mean over paired seeds of acc(largest k) - acc(smallest k) "
               "beyond two standard errors above 0 is reproduced, beyond two below not reproduced, else within noise "
               "(claims.greater_verdict, margin 0); the other patch sizes are shown, not judged")
PATCH_RULE = ("one-sided, per rung of the patch ladder (each patch size against the next larger one): the mean over "
              "kernel sizes of acc(smaller p) - acc(larger p) beyond two standard errors above 0 is reproduced, beyond "
              "two below not reproduced, else within noise (claims.greater_verdict, margin 0); a cell difference's "
              "s.e. is the pooled seed-to-seed sd x sqrt(1/n_a + 1/n_b) (claims.accuracy_difference_error); the rungs "
              "combine by claims.combined_verdict, so the claim is reproduced only if every rung is")


def _grid_source(records: dict) -> str:
    """The grid's record files, for evidence strings."""
    config = records["recipe"]["config"]
    return f"results/{config['chapter']}/grid-*-{config['profile']}-*.json"


def _noise_text(records: dict) -> str:
    """The noise the grid claims use, as their evidence states it."""
    sd = seed_sd(records)
    if math.isnan(sd):
        return "; " + single_run_note(1)
    return (f"; pooled seed-to-seed sd of one cell {sd:.2f} pp, so a difference of two single-seed cells has an "
            f"s.e. of {math.sqrt(2) * sd:.2f} pp")


def _lowest(records: dict, cells) -> float:
    accuracies = cell_accuracies(records)
    return min(float(np.mean(accuracies[cell])) for cell in cells)


def paper_patch() -> int:
    """The patch size of the paper's CIFAR-10 kernel ablation, from its one quoted cell (secondary)."""
    return PAPER["p1_k9"]["patch_size"]


def kernel_claim(records: dict) -> Claim:
    """Larger kernels help (the paper's kernel sweep, direction only), judged at the paper's patch
    size (`paper_patch`) where its smallest- and largest-kernel cells have seeds; the other patch
    sizes are shown beside it."""
    accuracies = cell_accuracies(records)
    patch = paper_patch()
    kernels = sorted({k for k, q in accuracies if q == patch}) or sorted({k for k, _ in accuracies})
    small, large = kernels[0], kernels[-1]
    gains = grid_gains(records)["kernel"]
    judged = gains.get(patch)
    seeded = judged is not None and judged.seeded
    lowest = _lowest(records, [(k, patch) for k in (small, large)]) if judged is not None else float("nan")
    met = seeded and lowest >= MIN_ACCURACY
    shown = judged or next(iter(gains.values()))
    observed = (f"p={patch}: " + (f"{judged.n} seeds" if seeded else "one seed" if judged else "not run")
                + (f", lowest compared cell {lowest:.2f}%" if judged is not None else ""))
    direction, quoted = PAPER["kernel_direction"], PAPER["p1_k9"]
    return Claim(id="larger_kernels_help", claim="Larger depthwise kernels give higher accuracy",
                 paper_value=f"k={large} above k={small} (direction only; the paper's numbers not sourced)",
                 our_value=round(shown.gain, 2), spread=claim_spread(shown.error), n=shown.n,
                 unit=f"acc(k={large}) - acc(k={small}) at p={patch if judged else next(iter(gains))}, points",
                 verdict=gated(shown.verdict, met), profile=records["recipe"]["config"]["profile"],
                 evidence=f"{_grid_source(records)}. k={large} - k={small} per patch size: "
                 + "; ".join(f"p={p}: {g}" + ("" if p == patch else " (shown, not judged)") for p, g in gains.items())
                 + _noise_text(records),
                 paper_source=f"{direction['source']}; {PAPER['cifar_ablation_numbers']['source']}",
                 kind="paper", rule=KERNEL_RULE, paper_status=direction["status"],
                 gate=gate_text(f"the paper's CIFAR-10 kernel ablation is judged at its patch size, p={patch} (from its "
                                f"one quoted cell, p={quoted['patch_size']}, k={quoted['kernel_size']}, "
                                f"{quoted['status']}; its width, depth and epochs are not sourced), where the "
                                f"k={small} and k={large} cells have several seeds, each at least "
                                f"{MIN_ACCURACY:.0f}% (twice chance)", met, observed))


def patch_claim(records: dict) -> Claim:
    """Smaller patches help, at a cost (the paper's patch sweep, direction only), judged on every
    rung of the patch ladder against the pooled seed noise."""
    accuracies = cell_accuracies(records)
    table = grid_table(records)
    patches = sorted({p for _, p in accuracies})
    rungs = grid_gains(records)["patch"]
    means = {rung: mean_gain(gains.values()) for rung, gains in rungs.items()}
    verdicts = {rung: greater_verdict(*means[rung]) for rung in rungs}
    lowest = _lowest(records, accuracies)
    met = lowest >= MIN_ACCURACY
    weakest = min(rungs, key=lambda rung: means[rung][0])
    gmacs = table.groupby("patch")["GMACs"].mean()
    direction = PAPER["patch_direction"]
    return Claim(id="smaller_patches_help", claim="Smaller patches give higher accuracy, at a higher cost",
                 paper_value=" above ".join(f"p={p}" for p in patches) + " (direction only; the paper's numbers "
                 "not sourced)",
                 our_value=round(means[weakest][0], 2), spread=claim_spread(means[weakest][1]),
                 n=min(g.n for g in rungs[weakest].values()),
                 unit=f"the weaker rung of the patch ladder (here p={weakest[0]} to p={weakest[1]}): acc(smaller p) - "
                      "acc(larger p), mean over kernel sizes, points",
                 verdict=gated(combined_verdict(list(verdicts.values())), met),
                 profile=records["recipe"]["config"]["profile"],
                 evidence=f"{_grid_source(records)}. "
                 + "; ".join(f"p={large} to p={small}: mean {means[(large, small)][0]:+.2f} ± "
                             f"{means[(large, small)][1]:.2f}, {verdicts[(large, small)].replace('_', ' ')} ("
                             + ", ".join(f"k={k}: {g}" for k, g in rungs[(large, small)].items()) + ")"
                             for large, small in rungs)
                 + _noise_text(records) + f"; p={patches[0]} costs {gmacs[patches[0]] / gmacs[patches[-1]]:.1f}x the "
                 f"GMACs of p={patches[-1]} (mean over kernel sizes); the spread is the weaker rung's s.e., n the "
                 "fewest seeds of its cells",
                 paper_source=f"{direction['source']}; {PAPER['cifar_ablation_numbers']['source']}",
                 kind="paper", rule=PATCH_RULE, paper_status=direction["status"],
                 gate=gate_text(f"every compared cell at least {MIN_ACCURACY:.0f}% (twice chance)", met,
                                f"lowest cell {lowest:.2f}%"))


def recipe_run_kind(record: dict) -> str:
    """"exact" (the README recipe, all its epochs), "start" (its first epochs exactly: `recipe_start`)
    or "other" (a smaller model or another schedule)."""
    config, train = record["config"], record["config"]["train"]
    # RandAugment batched on the device is the same recipe (same ops and distribution, other draws).
    as_recipe = {**train, "augment": train.get("augment", "").removesuffix("_batched")}
    if config["model_config"] != EXACT_RECIPE_MODEL:
        return "other"
    if as_recipe == recipe(RECIPE_EPOCHS).record():
        return "exact"
    if (config.get("recipe_of") == RECIPE_EPOCHS and train["epochs"] <= RECIPE_EPOCHS * 2 / 5
            and as_recipe == recipe_start(train["epochs"], precision=train["precision"]).record()):
        return "start"
    return "other"


def recipe_claim(records: dict) -> Claim:
    """The README's result (~92.5% in 25 epochs), judged only for a run of the exact recipe (the
    gpu profile); a run of its first epochs cannot reach it (not testable here); other profiles'
    recipe runs are not tested."""
    recipe_run = records["recipe"]
    profile = recipe_run["config"]["profile"]
    recipe_acc = recipe_run["result"]["final"]["test_acc"]
    recipe_train = recipe_run["config"]["train"]
    kind = recipe_run_kind(recipe_run)
    published = PAPER["recipe_result"]["value"]
    command = PAPER["recipe_command"]["value"]
    condition = (f"only a run of the exact README recipe is judged ({command['model']}, k={command['kernel_size']}, "
                 f"p={command['patch_size']}, {command['epochs']} epochs, batch {command['batch_size']}, peak lr "
                 f"{command['lr_max']}: the gpu profile)")
    rule = (f"one-sided: the final test accuracy minus {published}% must exceed -{RECIPE_SLACK:.0f} point by more than "
            "two binomial standard errors of the test set (claims.greater_verdict, margin "
            f"-{RECIPE_SLACK:.0f}); below by more than two: not reproduced; else within noise")
    common = dict(id="recipe_25_epochs", claim=f"{command['model']} (k={command['kernel_size']}, "
                  f"p={command['patch_size']}) reaches ~{published}% in {command['epochs']} epochs with the "
                  "convmixer-cifar10 recipe", paper_value=published, unit="%", profile=profile,
                  paper_source=PAPER["recipe_result"]["source"], kind="paper", rule=rule,
                  paper_status=PAPER["recipe_result"]["status"])
    if kind == "start":
        return Claim(**common, our_value=None, verdict="not_testable_here",
                     evidence=f"{record_source(recipe_run)}; the exact recipe's first {recipe_train['epochs']} of "
                              f"{RECIPE_EPOCHS} epochs ({recipe_acc:.2f}% after them): the recipe_follows_log claim "
                              "compares them with the README's log",
                     gate=gate_text(condition, False, f"the first {recipe_train['epochs']} epochs of the exact recipe"))
    if kind == "other":
        return Claim(**common, our_value=None, verdict="not_tested",
                     evidence=f"the {profile} profile trains a smaller model for {recipe_train['epochs']} epochs "
                              f"({recipe_acc:.2f}% here); only the gpu profile runs the exact recipe",
                     gate=f"{condition}; this run: the {profile} profile's recipe run is not the exact recipe (not run "
                          "in this profile: not tested)")
    error = binomial_se(recipe_acc, n_test(recipe_run))
    return Claim(**common, our_value=round(recipe_acc, 2), spread=claim_spread(error), n=1,
                 verdict=greater_verdict(recipe_acc - published, error, -RECIPE_SLACK),
                 evidence=f"{record_source(recipe_run)}; {single_run_note(1)}; binomial s.e. {error:.2f} pp",
                 gate=gate_text(condition, True, "the exact recipe"))


def log_tolerance() -> float:
    """Points by which one run of the recipe may differ from the README's run at an epoch: the largest
    fall of the README's log between neighbouring epochs (a run's accuracy mid-training moves that much
    from one epoch to the next, so two runs' can differ as much at the same epoch)."""
    log = PAPER["recipe_log"]["value"]
    return max(a - b for a, b in zip(log, log[1:]))


def log_claim(records: dict) -> Claim:
    """The README's training log, epoch by epoch: our run of the exact recipe (all of it, or its first
    epochs) follows it within `log_tolerance` at every epoch it reaches."""
    recipe_run = records["recipe"]
    profile, kind = recipe_run["config"]["profile"], recipe_run_kind(recipe_run)
    log, tolerance = PAPER["recipe_log"]["value"], log_tolerance()
    common = dict(id="recipe_follows_log", claim="The README's recipe run, epoch by epoch: our run of the same recipe "
                  "follows its training log", paper_value=", ".join(f"{a:g}" for a in log), kind="implementation",
                  unit="points, ours minus the README's log at the epoch where they differ most", profile=profile,
                  paper_source=PAPER["recipe_log"]["source"], paper_status=PAPER["recipe_log"]["status"],
                  rule=f"two-sided at every epoch reached (claims.equal_verdict): ours minus the log within "
                       f"±{tolerance:.2f} points (the log's largest fall between neighbouring epochs: one run's "
                       "accuracy mid-training moves that much from epoch to epoch) beyond two binomial standard errors "
                       "of our test accuracy; every epoch must hold: the claim takes the worst epoch's verdict")
    if kind == "other":
        return Claim(**common, our_value=None, verdict="not_tested",
                     evidence=f"the {profile} profile's recipe run is not the README recipe (another model or schedule)",
                     gate="a run of the exact README recipe, all or its first epochs; this run: not the recipe "
                          "(not tested)")
    accs = [entry["test_acc"] for entry in recipe_run["result"]["history"] if entry.get("test_acc") is not None]
    if not accs:
        return Claim(**common, our_value=None, verdict="not_testable_here", evidence=record_source(recipe_run),
                     gate=gate_text("a run of the exact README recipe, evaluated after at least one epoch", False,
                                    "no epoch evaluated"))
    images = n_test(recipe_run)
    verdicts, words, worst = [], [], 0.0
    for epoch, (ours, theirs) in enumerate(zip(accs, log), start=1):
        error = binomial_se(ours, images)
        verdicts.append(equal_verdict(ours - theirs, error, tolerance))
        words.append(f"epoch {epoch}: {ours:.2f} vs {theirs:.2f} ({ours - theirs:+.2f} ± {error:.2f})")
        worst = max(worst, ours - theirs, key=abs)
    return Claim(**common, our_value=round(worst, 2), spread=None, n=1,
                 verdict=min(verdicts, key=["not_reproduced", "within_noise", "reproduced"].index),
                 evidence=f"{record_source(recipe_run)}; " + "; ".join(words) + f"; {single_run_note(1)}; the README's "
                 "run used fp16 autocast with a gradient scaler and kept the last partial batch of each epoch",
                 gate=gate_text("a run of the exact README recipe, all or its first epochs", True,
                                f"{len(accs)} of {RECIPE_EPOCHS} epochs"))


def claims(records: dict) -> list[Claim]:
    """The chapter's four claims, in the order of the page."""
    return [kernel_claim(records), patch_claim(records), recipe_claim(records), log_claim(records)]


# ---- the chapter's prose (built in prose.py from the same records and claims) ----


prose_parts, prose, facts = entry_points(__package__)  # the page's prose: see prose.py
