"""FlexiViT chapter, what reads the records: the claims (Fig. 3 and §3.2, Fig. 4 and §3.4, §3.5, and the
two-knob frontier beyond the papers), each with its kind, gate and rule. Computes nothing. The page's
prose and tables are in `prose` (entry points `prose_parts`, `prose` and `facts` here)."""
from __future__ import annotations

import math
import statistics

from ...claims import (Claim, accuracy_difference_error, binomial_se, claim_spread, combined_verdict, equal_verdict,
                       gate_text, gated, greater_verdict, mean_and_error, pooled_sd, single_run_note)
from ...prose import entry_points
from ..common import record_source
from .knobs import best_at, frontier_gains, knob_points, pareto, two_knob_margin  # noqa: F401
from .config import FIXED, PAPER

# ---- claim tolerances: each verdict is computed from the records by the rule stated beside it ----

MATCH_TOLERANCE = 2.0     # points: FlexiViT "matches" a fixed ViT (one-sided); the student its teacher (two-sided)
SMOOTH_SLACK = 1.0        # points: the largest rise of accuracy from one patch size to the next larger that is "smooth"
COLLAPSE_RETAINED = 0.5   # a fixed ViT "collapses" when it keeps less than this share of its above-chance accuracy
FLAT_TOLERANCE = 2.0      # points: a kernel resize "keeps accuracy" in Fig. 4 ("nearly flat") when it loses less at every
#                           factor, "does not" when more (two s.e. of a difference on 10,000 test images: ~1.4 points)
CONVERGED_RISE = 1.0      # points: test accuracy rising less than this over the last epoch: near the end of training
ABOVE_CHANCE = 2.0        # x chance: the least accuracy of a model that has learned enough to be compared
PLAIN = "acc_plain"       # an evaluate entry's accuracies with the paper's Fig. 3 resize (plain bilinear kernel and
#                           position embeddings); records made before the experiments issue hold only "acc" (PI-resize)
LEARNED = f"each fixed ViT at least {ABOVE_CHANCE:g}x chance at its own size (a model at chance has nothing to lose)"
RESIZE = ("the fixed ViTs run at the other patch sizes as the paper's Fig. 3 runs them, kernel and position embeddings "
          f"resized bilinearly ({PAPER['fig3_resize']['status']}: {PAPER['fig3_resize']['source']})")


def all_verdict(verdicts: list[str]) -> str:
    """A claim that holds only if every part holds: the weakest part's verdict (a rule `claims` lacks)."""
    return min(verdicts, key=("not_reproduced", "within_noise", "reproduced").index) if verdicts else "not_tested"


# ---- the records: runs, noise, training compute, resize ----

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
    """Epochs' worth of steps each model spent at each of its patch sizes (FlexiViT draws one per step)."""
    flexi = evaluation["config"].get("models", {}).get("flexi")
    out = {role: train_setting(evaluation, role).get("epochs", math.nan) for role in FIXED}
    return out | {"flexi": flexi["train"]["epochs"] / len(flexi["model_config"]["patch_sizes"]) if flexi else math.nan}


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


def figure4_losses(fig4: dict) -> dict[str, tuple[float, float, str]]:
    """Per kernel resize, in the piece's order: (points lost at the worst factor, s.e., its rule's verdict)."""
    acc4, out = fig4["result"]["accuracy"], {}
    for m in [m for m in fig4["config"].get("methods", list(acc4)) if m in acc4]:  # stored dicts are sorted
        loss = max(acc4[m][0] - a for a in acc4[m][1:])
        error = accuracy_difference_error(acc4[m][0], acc4[m][0] - loss, test_images(fig4))
        out[m] = (loss, error, greater_verdict((FLAT_TOLERANCE - loss) if m == "pi" else loss - FLAT_TOLERANCE, error))
    return out


def _common(evaluation: dict) -> dict:
    result, models = evaluation["result"], evaluation["result"]["models"]
    sizes, chance, sd = result["patch_sizes"], result["chance"], seed_sd(models)
    own = {role: sizes.index(models[role]["own_patch"]) for role in FIXED}
    at_own = {role: min(run[own[role]] for run in runs_of(models, role)) for role in FIXED}
    plain, seen = resize_gate(models)
    return dict(sizes=sizes, models=models, chance=chance, sd=sd, own=own, flexi_runs=runs_of(models, "flexi"),
                label={role: f"ViT/{models[role]['own_patch']}" for role in FIXED}, src=record_source(evaluation),
                plain=plain, key=PLAIN if plain else "acc", seen=seen, n_images=test_images(evaluation),
                learned=all(acc >= ABOVE_CHANCE * chance for acc in at_own.values()),
                learned_text=", ".join(f"ViT/{models[r]['own_patch']} {a:.1f}%" for r, a in at_own.items())
                + f" at its own size (chance {chance:.0f}%)",
                noise=f"; pooled seed sd of one accuracy {sd:.2f} pp" if not math.isnan(sd) else f"; {single_run_note(1)}",
                base=dict(profile=evaluation["config"]["profile"], kind="paper", paper_value="qualitative"))


# ---- claims: Fig. 3 (§3.2), Fig. 4 (§3.4), distillation (§3.5), two knobs (beyond the papers) ----

def claims(records: dict) -> list[Claim]:
    evaluation, chance = records["evaluate"], records["evaluate"]["result"]["chance"]
    return [collapse_claim(records), match_claim(records), smooth_claim(evaluation), above_claim(evaluation),
            pi_resize_claim(records["figure4"], chance), *distillation_claims(records)] + ([frontier_claim(
                records["frontier"], evaluation["config"]["profile"], chance)] if "frontier" in records else [])


def collapse_claim(records: dict) -> Claim:
    """Fig. 3: the fixed ViTs collapse away from their own patch size (judged with the paper's resize)."""
    c = _common(evaluation := records["evaluate"])
    key, label, met = c["key"], c["label"], c["plain"] and c["learned"]
    kept = {r: retained(runs_of(c["models"], r, key), c["own"][r], c["chance"],
                        accuracy_noise(c["models"][r][key][c["own"][r]], evaluation, c["sd"])) for r in FIXED}
    rules = {r: greater_verdict(COLLAPSE_RETAINED - kept[r][0], kept[r][1]) if c["learned"] else "not_testable_here"
             for r in FIXED}
    binding = max(FIXED, key=lambda r: kept[r][0])  # every fixed ViT must collapse: the one keeping most decides
    f4 = records["figure4"]["result"]  # the Fig. 4 record: another setting, quoted for scale only
    lost = lambda m: ", ".join(f"{f4['accuracy'][m][0] - a:.2f} at {k}x" for k, a in  # noqa: E731
                               zip(f4["factors"][1:], f4["accuracy"][m][1:])) if m in f4["accuracy"] else "?"
    return Claim(id="vit_collapse", claim="Standard ViTs collapse when evaluated at patch sizes other than their training "
                 "size", unit="above-chance accuracy retained at other sizes" + ("" if c["plain"] else " (PI-resize)"),
                 our_value=", ".join(f"{label[r]}: {kept[r][0]:.2f}" for r in FIXED), **c["base"],
                 spread=claim_spread(kept[binding][1]), n=kept[binding][2],
                 verdict=gated(combined_verdict(list(rules.values())), met),
                 evidence=f"{c['src']}; " + "; ".join(f"{label[r]}: {kept[r][0]:.2f} ± {kept[r][1]:.2f} (s.e., {kept[r][2]}"
                                                      f" run(s); {rules[r].replace('_', ' ')} by the rule)" for r in FIXED)
                 + ("" if c["plain"] else ". These are PI-resize's shares (the book's addition): they cannot judge the "
                    "paper's plain resize. For scale only, the Fig. 4 record (image and patch upsampled together, another "
                    f"setting): plain resizing of the same ViT's kernel loses {lost('resize')} points, PI-resize {lost('pi')}"),
                 paper_source="Fig. 3 (ViT-B/16, ViT-B/30)", paper_status=PAPER["fig3_points"]["status"],
                 gate=gate_text(f"{RESIZE}; {LEARNED}", met, f"{c['seen']}; {c['learned_text']}"),
                 rule=f"one-sided, per fixed ViT: the mean over the other patch sizes of (acc - chance) / (acc at its own "
                      f"size - chance) below {COLLAPSE_RETAINED:g} beyond two standard errors (over seeds, else the pooled "
                      "seed sd carried through); partially when one of the two collapses")


def match_claim(records: dict) -> Claim:
    """Fig. 3: FlexiViT matches each fixed ViT at its own size (judged at equal compute or settled training)."""
    c = _common(evaluation := records["evaluate"])
    label, models, runs = c["label"], c["models"], c["flexi_runs"]
    gaps, errors, paired = {}, {}, {}
    for r in FIXED:  # paired per seed where both have seeds; else each arm's own noise
        fixed, i = runs_of(models, r), c["own"][r]
        paired[r] = len(fixed) > 1 and len(runs) > 1
        gaps[r], errors[r] = mean_and_error([f[i] - v[i] for f, v in zip(runs, fixed)] if paired[r]
                                            else [f[i] - fixed[0][i] for f in runs])
        if not paired[r]:
            errors[r] = math.hypot(errors[r] if len(runs) > 1 else accuracy_noise(runs[0][i], evaluation, c["sd"]),
                                   accuracy_noise(fixed[0][i], evaluation, c["sd"]))
    rules = {r: greater_verdict(gaps[r], errors[r], -MATCH_TOLERANCE) for r in FIXED}
    worst = min(FIXED, key=lambda r: gaps[r])
    per_size, rise = epochs_per_size(evaluation), {r: last_epoch_rise(records, r) for r in (*FIXED, "flexi")}
    met = c["learned"] and (all(math.isclose(per_size["flexi"], per_size[r]) for r in FIXED)
                            or all(value < CONVERGED_RISE for value in rise.values()))
    observed = (f"FlexiViT {per_size['flexi']:.2g} epochs' worth of steps per patch size ("
                f"{train_setting(evaluation, 'flexi').get('epochs', '?')} epochs over {len(c['sizes'])} sizes), against "
                + " and ".join(f"{per_size[r]:g} for {label[r]}" for r in FIXED) + " at their own; last-epoch rise of "
                "test accuracy " + ", ".join(f"{label.get(r, 'FlexiViT')} {rise[r]:+.2f}" for r in rise))
    return Claim(id="flexi_matches_fixed", claim="FlexiViT matches standard ViTs at their own patch sizes", **c["base"],
                 our_value=", ".join(f"{gaps[r]:+.1f} at {models[r]['own_patch']}" for r in FIXED),
                 unit="points (FlexiViT − ViT)", spread=claim_spread(errors[worst]), n=len(runs),
                 verdict=gated(combined_verdict(list(rules.values())), met),
                 evidence=f"{c['src']}; " + "; ".join(
                     f"{label[r]}: {gaps[r]:+.2f} ± {errors[r]:.2f} (s.e., {len(runs)} FlexiViT run(s), "
                     + ("paired per seed" if paired[r] else "one ViT run: its noise added")
                     + f"; {rules[r].replace('_', ' ')} by the rule)" for r in FIXED)
                 + f"; the spread shown is the {label[worst]} gap's" + c["noise"],
                 paper_source="Fig. 3", paper_status="not sourced",
                 gate=gate_text(f"equal training compute per patch size, or training long enough that its length no "
                                f"longer decides the gap (every model's test accuracy rose by less than {CONVERGED_RISE:g} "
                                f"point over its last epoch; the paper trains each for "
                                f"{PAPER['fig3_budget']['value']['FlexiViT-B']} epochs, FlexiViT over "
                                f"{len(PAPER['patch_sizes']['value'])} patch sizes); {LEARNED}", met,
                                f"{observed}; {c['learned_text']}"),
                 rule=f"one-sided, per fixed ViT at its own size: FlexiViT − ViT above −{MATCH_TOLERANCE:g} points beyond "
                      "two standard errors (the paper's FlexiViT matches or beats them); partially when one passes")


def smooth_claim(evaluation: dict) -> Claim:
    """Fig. 3, §3.2: FlexiViT's accuracy falls smoothly with patch size (judged on its seeds)."""
    c = _common(evaluation)
    sizes, runs = c["sizes"], c["flexi_runs"]
    flexi = [statistics.mean(values) for values in zip(*runs)]
    drops = [[run[i] - run[i + 1] for run in runs] for i in range(len(sizes) - 1)]  # sizes ascending
    errors = [mean_and_error(d)[1] if len(d) > 1 else accuracy_difference_error(flexi[i], flexi[i + 1], c["n_images"],
                                                                                 c["sd"]) for i, d in enumerate(drops)]
    rules = [greater_verdict(statistics.mean(d), e, -SMOOTH_SLACK) for d, e in zip(drops, errors)]
    worst, met = min(range(len(drops)), key=lambda i: statistics.mean(drops[i])), min(flexi) >= ABOVE_CHANCE * c["chance"]
    return Claim(id="flexi_smooth", claim="FlexiViT's accuracy falls smoothly as the patch size grows", **c["base"],
                 our_value=f"{min(flexi):.1f}–{max(flexi):.1f}", unit="% top-1 over patch sizes",
                 spread=claim_spread(errors[worst]), n=len(runs),
                 verdict=gated(all_verdict(rules) if list(sizes) == sorted(sizes) else "not_reproduced", met),
                 evidence=f"{c['src']}; FlexiViT over {len(runs)} run(s); change to the next larger patch size: "
                 + ", ".join(f"{sizes[i]}→{sizes[i + 1]}: {-statistics.mean(d):+.2f} ± {e:.2f} ({v.replace('_', ' ')})"
                             for i, (d, e, v) in enumerate(zip(drops, errors, rules))) + c["noise"],
                 paper_source="Fig. 3, §3.2", paper_status=PAPER["fig3_points"]["status"],
                 gate=gate_text(f"FlexiViT at least {ABOVE_CHANCE:g}x chance at every patch size", met,
                                f"lowest {min(flexi):.1f}% (chance {c['chance']:.0f}%)"),
                 rule=f"one-sided, per step to the next larger patch size: a rise of no more than {SMOOTH_SLACK:g} point "
                      "beyond two standard errors (seed s.e. of the paired step, else the test set's); every step must "
                      "pass; the spread shown is the weakest step's")


def above_claim(evaluation: dict) -> Claim:
    """Fig. 3: at the sizes no fixed ViT was trained for, FlexiViT beats both (judged with the paper's resize)."""
    c = _common(evaluation)
    sizes, models, runs, key = c["sizes"], c["models"], c["flexi_runs"], c["key"]
    flexi = [statistics.mean(values) for values in zip(*runs)]
    others = [i for i in range(len(sizes)) if i not in c["own"].values()]
    fixed = {i: max((statistics.mean(run[i] for run in runs_of(models, r, key)), r) for r in FIXED) for i in others}
    margins = {i: flexi[i] - fixed[i][0] for i in others}
    errors = {i: accuracy_difference_error(flexi[i], fixed[i][0], c["n_images"], c["sd"], len(runs),
                                           len(runs_of(models, fixed[i][1], key))) for i in others}
    rules = {i: greater_verdict(margins[i], errors[i]) for i in others}
    worst, met = min(others, key=lambda i: margins[i]) if others else None, c["plain"] and c["learned"]
    return Claim(id="flexi_above_elsewhere", claim="At the patch sizes no fixed ViT was trained for, FlexiViT beats both",
                 our_value=", ".join(f"{margins[i]:+.1f} at {sizes[i]}" for i in others) or None, **c["base"],
                 unit="points (FlexiViT − the better fixed ViT)" + ("" if c["plain"] else ", fixed ViTs through PI-resize"),
                 spread=None if worst is None else claim_spread(errors[worst]), n=len(runs),
                 verdict=gated(combined_verdict(list(rules.values())), met) if others else "not_tested",
                 evidence=f"{c['src']}; " + "; ".join(f"patch {sizes[i]}: {margins[i]:+.2f} ± {errors[i]:.2f} over "
                                                      f"ViT/{models[fixed[i][1]]['own_patch']} ({rules[i].replace('_', ' ')}"
                                                      " by the rule)" for i in others) + c["noise"],
                 paper_source="Fig. 3", paper_status=PAPER["fig3_points"]["status"],
                 gate=gate_text(f"{RESIZE}; {LEARNED}", met, f"{c['seen']}; {c['learned_text']}"),
                 rule="one-sided, at every patch size that is no fixed ViT's own: FlexiViT (mean over its seeds) minus the "
                      "better fixed ViT above zero beyond two standard errors (the pooled seed sd, else the test set's); "
                      "partially when some sizes pass; the spread shown is the smallest margin's")


def pi_resize_claim(fig4: dict, chance: float) -> Claim:
    """Fig. 4, §3.4: PI-resize keeps accuracy when image and patch grow together; the other kernel resizes do not."""
    losses, acc4 = figure4_losses(fig4), fig4["result"]["accuracy"]
    met = acc4["pi"][0] >= ABOVE_CHANCE * chance
    return Claim(id="pi_resize_lossless", claim="PI-resize keeps accuracy when image and patch are upsampled together; "
                 "plain resizing of the kernel (vanilla, area- or norm-scaled) does not", paper_value="qualitative",
                 our_value=f"PI: −{max(losses['pi'][0], 0):.2f}; " + ", ".join(
                     f"{m}: −{max(v[0], 0):.1f}" for m, v in losses.items() if m != "pi"),
                 unit="points lost (worst factor)", spread=claim_spread(losses["pi"][1]), n=1,
                 verdict=gated(combined_verdict([v[2] for v in losses.values()]), met), profile=fig4["config"]["profile"],
                 evidence=f"{record_source(fig4)}; factors {fig4['result']['factors']}; " + "; ".join(
                     f"{m}: loses {v[0]:.2f} ± {v[1]:.2f} ({v[2].replace('_', ' ')})" for m, v in losses.items())
                 + f"; {single_run_note(1)}; two evaluations of one model on the same images, so this unpaired s.e. "
                   "overstates the noise (per-image agreement is not stored); the spread shown is PI-resize's",
                 paper_source="Fig. 4, §3.4", kind="paper", paper_status=PAPER["fig4"]["status"],
                 gate=gate_text(f"the model has learned: at least {ABOVE_CHANCE:g}x chance at factor 1", met,
                                f"{acc4['pi'][0]:.2f}% (chance {chance:.0f}%)"),
                 rule=f"one-sided each: PI-resize loses less than {FLAT_TOLERANCE:g} points at its worst factor, each other "
                      f"method more, beyond two standard errors of a difference of two accuracies on the test set "
                      "(claims.accuracy_difference_error); partially when some of them pass")


def distillation_claims(records: dict) -> list[Claim]:
    """§3.5: the distilled FlexiViT (initialised from the ViT teacher) against its teacher and the plain FlexiViT."""
    c = _common(evaluation := records["evaluate"])
    common = {claim_id: dict(id=claim_id, claim=text, paper_status="not sourced", **c["base"]) for claim_id, text in (
        ("distilled_matches_teacher", "A FlexiViT distilled from a fixed-patch ViT (and initialised from it) matches its "
                                      "teacher at the teacher's patch size and degrades gracefully at the others"),
        ("distillation_helps", "Distilling from a ViT teacher that also initialises the student improves FlexiViT"))}
    if "distill" not in c["models"]:
        return [Claim(**common[claim_id], our_value=None, unit="points", verdict="not_tested", paper_source="§3.5",
                      rule="see the profiles that distil", evidence=f"{c['src']}; no distilled model in this profile",
                      gate=f"a distilled FlexiViT; this run: none in the {c['base']['profile']} profile (not tested)")
                for claim_id in common]
    sizes, runs, models, sd, n_images = c["sizes"], c["flexi_runs"], c["models"], c["sd"], c["n_images"]
    distilled, teacher, at = models["distill"]["acc"], models["vit_small"]["acc"], c["own"]["vit_small"]
    gap, gap_error = distilled[at] - teacher[at], accuracy_difference_error(distilled[at], teacher[at], n_images, sd)
    steps = [greater_verdict(distilled[i] - distilled[i + 1], accuracy_difference_error(
        distilled[i], distilled[i + 1], n_images, sd), -SMOOTH_SLACK) for i in range(len(sizes) - 1)]
    equal, graceful = equal_verdict(gap, gap_error, MATCH_TOLERANCE), all_verdict(steps)
    official, ours = PAPER["distill_recipe"]["value"], train_setting(evaluation, "distill")
    in_regime = ours.get("lr", math.inf) <= official["lr"] and 2 * gap_error < MATCH_TOLERANCE
    gains = [statistics.mean(distilled) - statistics.mean(run) for run in runs]
    gain, gain_error = mean_and_error(gains)
    gain_error = math.hypot(0.0 if math.isnan(gain_error) else gain_error,
                            accuracy_noise(statistics.mean(distilled), evaluation, sd))
    lowest = min(min(distilled), *(min(run) for run in runs))
    return [
        Claim(**common["distilled_matches_teacher"], our_value=round(gap, 2), spread=claim_spread(gap_error), n=1,
              unit=f"points at patch {sizes[at]} (distilled − teacher)",
              verdict=gated(combined_verdict([equal, graceful]), in_regime),
              evidence=f"{c['src']}; {distilled[at]:.2f}% vs {teacher[at]:.2f}% at patch {sizes[at]}: {gap:+.2f} ± "
              f"{gap_error:.2f} (s.e. of two single runs; match {equal.replace('_', ' ')}, graceful fall "
              f"{graceful.replace('_', ' ')} by the rules); accuracies over patch sizes "
              f"{', '.join(f'{a:.1f}' for a in distilled)}" + c["noise"],
              paper_source="§3.5 and Fig. 3 (distilled FlexiViT vs its ViT-B/8 teacher)",
              gate=gate_text(f"the student keeps what its teacher knows: initialised from it and distilled at a learning "
                             f"rate no higher than the official {official['lr']:g} (weight decay {official['weight_decay']:g}"
                             f", batch {official['batch_size']}; {PAPER['distill_recipe']['source']}; scaling to a smaller "
                             f"batch only lowers it); two s.e. of the difference below the ±{MATCH_TOLERANCE:g}-point "
                             "tolerance", in_regime, f"lr {ours.get('lr', '?')}, weight decay "
                             f"{ours.get('weight_decay', '?')}, batch {ours.get('batch_size', '?')}; two s.e. "
                             f"{2 * gap_error:.2f} points"),
              rule=f"two-sided at the teacher's patch size: |distilled − teacher| within {MATCH_TOLERANCE:g} points beyond "
                   f"two standard errors (claims.equal_verdict), and no rise of more than {SMOOTH_SLACK:g} point to the "
                   "next larger patch size beyond two standard errors; partially when one of the two passes"),
        Claim(**common["distillation_helps"], our_value=round(gain, 2), spread=claim_spread(gain_error), n=len(gains),
              unit="points, mean over patch sizes (distilled − plain FlexiViT)",
              verdict=gated(greater_verdict(gain, gain_error), lowest >= ABOVE_CHANCE * c["chance"]),
              evidence=f"{c['src']}; {gain:+.2f} ± {gain_error:.2f} (s.e.: the plain FlexiViT's {len(gains)} run(s), the "
              f"distilled run's own noise added). Compute: the student inherits its teacher's "
              f"{train_setting(evaluation, 'vit_small').get('epochs', '?')} epochs and adds {ours.get('epochs', '?')} "
              f"of distillation; the plain FlexiViT trains {train_setting(evaluation, 'flexi').get('epochs', '?')}. "
              f"Distilled at lr {ours.get('lr', '?')} (official {official['lr']:g})", paper_source="§3.5",
              gate=gate_text(f"both FlexiViTs at least {ABOVE_CHANCE:g}x chance at every patch size",
                             lowest >= ABOVE_CHANCE * c["chance"], f"lowest {lowest:.1f}% (chance {c['chance']:.0f}%)"),
              rule="one-sided: the mean accuracy over patch sizes of the distilled FlexiViT minus the plain one's above "
                   "zero beyond two standard errors"),
    ]


# ---- beyond the papers: patch size and keep rate, two compute knobs (read in knobs.py) ----

def frontier_claim(record: dict, profile: str, chance: float) -> Claim:
    """Beyond the papers: do patch size x keep rate together beat the better single knob at equal throughput?"""
    best, lowest = two_knob_margin(record), min(p["acc"] for p in knob_points(record)["patch"])
    learned = lowest >= ABOVE_CHANCE * chance
    common = dict(id="two_knobs_dominate", claim="Beyond the papers: FlexiViT's patch size and EViT's keep rate (applied "
                  "without training with it) together reach accuracies that neither knob alone reaches at equal measured "
                  "throughput", paper_value="beyond the papers", profile=profile, kind="beyond", paper_status="not sourced",
                  unit="points: the best two-knob point minus the best single-knob point at least as fast",
                  paper_source="none: FlexiViT (Beyer et al., 2023) and EViT (Liang et al., 2022) each study one knob",
                  gate=gate_text(f"a FlexiViT that has learned: at least {ABOVE_CHANCE:g}x chance at every patch size "
                                 "(keep rate 1)", learned, f"lowest {lowest:.1f}% (chance {chance:.0f}%)"),
                  rule="one-sided: the largest margin of a point using both knobs (a patch size above the smallest and a "
                       "keep rate that drops tokens) over the best single-knob point at least as fast (keep rate 1 at any "
                       "patch size, or any keep rate at the smallest) above zero beyond two standard errors of a "
                       "difference of two accuracies on the test set; the largest of many margins favours a gain")
    if best is None:
        return Claim(**common, our_value=None, verdict="not_tested",
                     evidence=f"{record_source(record)}; no point uses both knobs within the single knobs' speed range")
    p, q = best["point"], best["single"]
    error = accuracy_difference_error(p["acc"], q["acc"], record["result"]["n_test"])
    return Claim(**common, our_value=round(best["margin"], 2), spread=claim_spread(error), n=1,
                 verdict=gated(greater_verdict(best["margin"], error), learned),
                 evidence=f"{record_source(record)}; best two-knob point patch {p['patch_size']} at keep rate "
                 f"{p['keep_rate']:g} ({p['acc']:.2f}%, {p['images_per_s']:.0f} img/s) against patch {q['patch_size']} at "
                 f"keep rate {q['keep_rate']:g} ({q['acc']:.2f}%, {q['images_per_s']:.0f} img/s): {best['margin']:+.2f} ± "
                 f"{error:.2f}; {single_run_note(1)}; one model on the same images, so this unpaired s.e. overstates it")


prose_parts, prose, facts = entry_points(__package__)  # the page's prose, from the same records: see prose.py
