"""FlexiViT chapter, what reads the records: the claims (Fig. 3 and §3.2, Fig. 4 and §3.4, §3.5, and the
two-knob frontier beyond the papers), each with its kind, gate and rule. Computes nothing. The runs, their
noise, training compute and training length are read in `runs` (re-exported here); the page's prose is in
`prose` (entry points `prose_parts`, `prose` and `facts` here), its tables in `tables`."""
from __future__ import annotations

import math
import statistics

from ...claims import (Claim, accuracy_difference_error, claim_spread, combined_verdict, equal_verdict, gate_text, gated,
                       greater_verdict, mean_and_error, single_run_note)
from ...prose import entry_points
from ..common import record_source
from .knobs import best_at, frontier_gains, knob_points, pareto, two_knob_margin  # noqa: F401
from .config import FIXED, PAPER, distill_recipe
from .runs import (PLAIN, accuracy_noise, epochs_per_size, last_epoch_rise, resize_gate, retained,  # noqa: F401
                   retained_fraction, runs_of, seed_sd, test_images, train_setting, training_length)

# ---- claim tolerances: each verdict is computed from the records by the rule stated beside it ----

MATCH_TOLERANCE = 2.0     # points: FlexiViT "matches" a fixed ViT (one-sided); the student its teacher (two-sided)
SMOOTH_SLACK = 1.0        # points: the largest rise of accuracy from one patch size to the next larger that is "smooth"
COLLAPSE_RETAINED = 0.5   # a fixed ViT "collapses" when it keeps less than this share of its above-chance accuracy
FLAT_TOLERANCE = 2.0      # points: a kernel resize "keeps accuracy" in Fig. 4 ("nearly flat") when it loses less at every
#                           factor, "does not" when more (two s.e. of a difference on 10,000 test images: ~1.4 points)
CONVERGED_RISE = 1.0      # points: test accuracy rising less than this over the last epoch: near the end of training
ABOVE_CHANCE = 2.0        # x chance: the least accuracy of a model that has learned enough to be compared
LEARNED = f"each fixed ViT at least {ABOVE_CHANCE:g}x chance at its own size (a model at chance has nothing to lose)"
RESIZE = ("the fixed ViTs run at the other patch sizes as the paper's Fig. 3 runs them, kernel and position embeddings "
          f"resized bilinearly ({PAPER['fig3_resize']['status']}: {PAPER['fig3_resize']['source']})")


def all_verdict(verdicts: list[str]) -> str:
    """A claim that holds only if every part holds: the weakest part's verdict (a rule `claims` lacks)."""
    return min(verdicts, key=("not_reproduced", "within_noise", "reproduced").index) if verdicts else "not_tested"


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
    pi_kept = {r: retained(runs_of(c["models"], r), c["own"][r], c["chance"],
                           accuracy_noise(c["models"][r]["acc"][c["own"][r]], evaluation, c["sd"])) for r in FIXED}
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
                 + (". Through PI-resize instead (the book's addition, not judged) they keep " + ", ".join(
                     f"{label[r]} {pi_kept[r][0]:.2f} ± {pi_kept[r][1]:.2f}" for r in FIXED) if c["plain"] else
                    ". These are PI-resize's shares (the book's addition): they cannot judge the "
                    "paper's plain resize. For scale only, the Fig. 4 record (image and patch upsampled together, another "
                    f"setting): plain resizing of the same ViT's kernel loses {lost('resize')} points, PI-resize {lost('pi')}"),
                 paper_source="Fig. 3 (ViT-B/16, ViT-B/30)", paper_status=PAPER["fig3_points"]["status"],
                 gate=gate_text(f"{RESIZE}; {LEARNED}", met, f"{c['seen']}; {c['learned_text']}"),
                 rule=f"one-sided, per fixed ViT: the mean over the other patch sizes of (acc - chance) / (acc at its own "
                      f"size - chance) below {COLLAPSE_RETAINED:g} beyond two standard errors (over seeds, else the pooled "
                      "seed sd carried through); partially when one of the two collapses")


def own_size_gap(c: dict, evaluation: dict, flexi_role: str, fixed_role: str) -> tuple[float, float, int, bool]:
    """(FlexiViT − ViT at the ViT's own size, its s.e., FlexiViT runs, paired): paired per seed where both have seeds,
    else each arm's own noise (the s.e. over its seeds, or `accuracy_noise` for a single run) added."""
    flexi, fixed, i = runs_of(c["models"], flexi_role), runs_of(c["models"], fixed_role), c["own"][fixed_role]
    if len(fixed) > 1 and len(flexi) > 1:
        return (*mean_and_error([f[i] - v[i] for f, v in zip(flexi, fixed)]), min(len(flexi), len(fixed)), True)
    errors = [mean_and_error([run[i] for run in arm])[1] if len(arm) > 1 else
              accuracy_noise(arm[0][i], evaluation, c["sd"]) for arm in (flexi, fixed)]
    return (statistics.mean(run[i] for run in flexi) - statistics.mean(run[i] for run in fixed), math.hypot(*errors),
            len(flexi), False)


def match_claim(records: dict) -> Claim:
    """Fig. 3: FlexiViT matches each fixed ViT at its own size. Judged on the FlexiViT trained at equal compute per patch
    size ("flexi_long") where the records hold one, else on the equal-epoch FlexiViT if every model's training has
    settled; the equal-epoch gaps and their course over training are reported beside it."""
    c = _common(evaluation := records["evaluate"])
    label, models = c["label"], c["models"]
    arm = "flexi_long" if runs_of(models, "flexi_long") else "flexi"
    gaps = {r: own_size_gap(c, evaluation, arm, r) for r in FIXED}
    rules = {r: greater_verdict(gaps[r][0], gaps[r][1], -MATCH_TOLERANCE) for r in FIXED}
    worst = min(FIXED, key=lambda r: gaps[r][0])
    per_size, rise = epochs_per_size(evaluation), {r: last_epoch_rise(records, r) for r in (*FIXED, arm)}
    equal_compute = all(math.isclose(per_size[arm], per_size[r]) for r in FIXED)
    met = c["learned"] and (equal_compute or all(value < CONVERGED_RISE for value in rise.values()))
    name = {arm: f"FlexiViT ({train_setting(evaluation, arm).get('epochs', '?')} epochs)"} | label
    every = evaluation["config"].get("models", {}).get(arm, {}).get("eval_every", 1)
    over = {arm: f" over its last {every} epochs" if every > 1 else ""}
    observed = (f"FlexiViT {per_size[arm]:.2g} epochs' worth of steps per patch size ("
                f"{train_setting(evaluation, arm).get('epochs', '?')} epochs over {len(c['sizes'])} sizes), against "
                + " and ".join(f"{per_size[r]:g} for {label[r]}" for r in FIXED) + " at their own; last-epoch rise of "
                "test accuracy " + ", ".join(f"{name[r]} {rise[r]:+.2f}{over.get(r, '')}" for r in rise))
    evidence = f"{c['src']}; {name[arm]}: " + "; ".join(
        f"{label[r]}: {gaps[r][0]:+.2f} ± {gaps[r][1]:.2f} (s.e., {gaps[r][2]} FlexiViT run(s), "
        + ("paired per seed" if gaps[r][3] else "each arm's noise added") + f"; {rules[r].replace('_', ' ')} by the rule)"
        for r in FIXED) + f"; the spread shown is the {label[worst]} gap's" + c["noise"]
    if arm == "flexi_long":
        equal_epochs = {r: own_size_gap(c, evaluation, "flexi", r) for r in FIXED}
        evidence += (f". At equal epochs instead (FlexiViT {train_setting(evaluation, 'flexi').get('epochs', '?')} "
                     f"epochs, {per_size['flexi']:.2g} epochs' worth per size; not judged, as its training has not "
                     "settled): " + ", ".join(f"{label[r]} {equal_epochs[r][0]:+.2f} ± {equal_epochs[r][1]:.2f}"
                                              for r in FIXED))
    course = training_length(records)
    if course:
        evidence += (f". The gap at patch {course['patch']} over training, from the histories: " + "; ".join(
            f"after {label['vit_small']}'s epoch {g['epoch']}, {g['equal_epochs']:+.2f} at equal epochs and "
            f"{g['equal_compute']:+.2f} at equal compute per size" for g in course["gaps"]))
    return Claim(id="flexi_matches_fixed", claim="FlexiViT matches standard ViTs at their own patch sizes", **c["base"],
                 our_value=", ".join(f"{gaps[r][0]:+.1f} at {models[r]['own_patch']}" for r in FIXED),
                 unit="points (FlexiViT − ViT)" + (", FlexiViT at equal compute per patch size"
                                                    if arm == "flexi_long" else ""),
                 spread=claim_spread(gaps[worst][1]), n=gaps[worst][2],
                 verdict=gated(combined_verdict(list(rules.values())), met), evidence=evidence,
                 paper_source="Fig. 3", paper_status="not sourced",
                 gate=gate_text(f"equal training compute per patch size, or training long enough that its length no "
                                f"longer decides the gap (every model's test accuracy rose by less than {CONVERGED_RISE:g} "
                                f"point over its last epoch; the paper trains each for "
                                f"{PAPER['fig3_budget']['value']['FlexiViT-B']} epochs, FlexiViT over "
                                f"{len(PAPER['patch_sizes']['value'])} patch sizes); {LEARNED}", met,
                                f"{observed}; {c['learned_text']}"),
                 rule=f"one-sided, per fixed ViT at its own size: FlexiViT − ViT above −{MATCH_TOLERANCE:g} points beyond "
                      "two standard errors (the paper's FlexiViT matches or beats them), the FlexiViT trained at equal "
                      "compute per patch size where there is one; partially when one passes")


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
    students, teacher, at = runs_of(models, "distill"), models["vit_small"]["acc"], c["own"]["vit_small"]
    distilled = [statistics.mean(values) for values in zip(*students)]  # mean over the students' seeds
    # the teacher is one fixed model: the gap's noise is the students' seed noise (one student: two runs' noise)
    gap, gap_error = mean_and_error([run[at] - teacher[at] for run in students]) if len(students) > 1 else (
        distilled[at] - teacher[at], accuracy_difference_error(distilled[at], teacher[at], n_images, sd))
    step_errors = [mean_and_error([run[i] - run[i + 1] for run in students])[1] if len(students) > 1 else
                   accuracy_difference_error(distilled[i], distilled[i + 1], n_images, sd) for i in range(len(sizes) - 1)]
    steps = [greater_verdict(distilled[i] - distilled[i + 1], step_errors[i], -SMOOTH_SLACK) for i in range(len(sizes) - 1)]
    equal, graceful = equal_verdict(gap, gap_error, MATCH_TOLERANCE), all_verdict(steps)
    official, ours = PAPER["distill_recipe"]["value"], train_setting(evaluation, "distill")
    recipe = distill_recipe(ours["batch_size"]) if "batch_size" in ours else {}
    at_recipe = bool(recipe) and all(math.isclose(ours.get(k, math.nan), v, rel_tol=1e-6) for k, v in recipe.items())
    in_regime = at_recipe and 2 * gap_error < MATCH_TOLERANCE
    means = {role: [statistics.mean(run) for run in arm] for role, arm in (("distill", students), ("flexi", runs))}
    gain = statistics.mean(means["distill"]) - statistics.mean(means["flexi"])
    gain_error = math.hypot(*(mean_and_error(values)[1] if len(values) > 1 else
                              accuracy_noise(statistics.mean(values), evaluation, sd) for values in means.values()))
    lowest = min(min(distilled), *(min(run) for run in runs))
    seeds = f"{len(students)} student run(s)"
    return [
        Claim(**common["distilled_matches_teacher"], our_value=round(gap, 2), spread=claim_spread(gap_error),
              n=len(students), unit=f"points at patch {sizes[at]} (distilled − teacher)",
              verdict=gated(combined_verdict([equal, graceful]), in_regime),
              evidence=f"{c['src']}; {distilled[at]:.2f}% vs {teacher[at]:.2f}% at patch {sizes[at]}: {gap:+.2f} ± "
              f"{gap_error:.2f} (s.e., {seeds}" + (", over their seeds" if len(students) > 1 else
                                                   ", two single runs' noise") + f"; match {equal.replace('_', ' ')}, "
              f"graceful fall {graceful.replace('_', ' ')} by the rules); accuracies over patch sizes "
              f"{', '.join(f'{a:.1f}' for a in distilled)}" + c["noise"],
              paper_source="§3.5 and Fig. 3 (distilled FlexiViT vs its ViT-B/8 teacher)",
              gate=gate_text(f"the student keeps what its teacher knows: initialised from it and distilled at the "
                             f"official recipe's learning rate {official['lr']:g} and weight decay "
                             f"{official['weight_decay']:g} (batch {official['batch_size']}; "
                             f"{PAPER['distill_recipe']['source']}) scaled linearly to our batch (config.distill_recipe: "
                             + ", ".join(f"{k} {v:g}" for k, v in recipe.items()) + " as torch AdamW settings); two s.e. "
                             f"of the difference below the ±{MATCH_TOLERANCE:g}-point tolerance", in_regime,
                             f"lr {ours.get('lr', '?')}, weight decay {ours.get('weight_decay', '?')}, batch "
                             f"{ours.get('batch_size', '?')}; two s.e. {2 * gap_error:.2f} points"),
              rule=f"two-sided at the teacher's patch size: |distilled − teacher| within {MATCH_TOLERANCE:g} points beyond "
                   f"two standard errors (claims.equal_verdict), and no rise of more than {SMOOTH_SLACK:g} point to the "
                   "next larger patch size beyond two standard errors (the students' seeds where there are several); "
                   "partially when one of the two passes"),
        Claim(**common["distillation_helps"], our_value=round(gain, 2), spread=claim_spread(gain_error),
              n=len(students), unit="points, mean over patch sizes (distilled − plain FlexiViT)",
              verdict=gated(greater_verdict(gain, gain_error), lowest >= ABOVE_CHANCE * c["chance"]),
              evidence=f"{c['src']}; {gain:+.2f} ± {gain_error:.2f} (s.e.: {seeds} and {len(runs)} plain FlexiViT "
              f"run(s), each arm's noise over its seeds, or the pooled seed sd for a single run). Compute: the student "
              f"inherits its teacher's {train_setting(evaluation, 'vit_small').get('epochs', '?')} epochs and adds "
              f"{ours.get('epochs', '?')} of distillation; the plain FlexiViT trains "
              f"{train_setting(evaluation, 'flexi').get('epochs', '?')}. Distilled at lr {ours.get('lr', '?')}, weight "
              f"decay {ours.get('weight_decay', '?')} (official {official['lr']:g} and {official['weight_decay']:g} at "
              f"batch {official['batch_size']})", paper_source="§3.5",
              gate=gate_text(f"both FlexiViTs at least {ABOVE_CHANCE:g}x chance at every patch size",
                             lowest >= ABOVE_CHANCE * c["chance"], f"lowest {lowest:.1f}% (chance {c['chance']:.0f}%)"),
              rule="one-sided: the mean accuracy over patch sizes of the distilled FlexiViT minus the plain one's (each "
                   "averaged over its seeds) above zero beyond two standard errors"),
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
