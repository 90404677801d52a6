"""The FlexiViT chapter's prose, built from the same records and claims as its claims table:
every sentence that states a number, a comparison or a verdict. Each number goes through `_Numbers`,
which formats it and keeps it under a name, so `facts(records)` lists every number the prose prints
(`readers.prose_parts`, `readers.prose` and `readers.facts` are its entry points). The tables are in `tables`."""
from __future__ import annotations

import math
import re
import statistics

import numpy as np

from ...prose import Numbers, verdict_words
from .config import FIXED, PAPER, distill_recipe
from .readers import (CONVERGED_RISE, FLAT_TOLERANCE, PLAIN, claims, epochs_per_size, frontier_gains, two_knob_margin,
                      figure4_losses, last_epoch_rise, resize_gate, retained_fraction, runs_of, train_setting,
                      training_length)

METHOD_WORDS = {"pi": "PI-resize", "resize": "plain resize", "area": "area-scaled resize", "norm": "norm-scaled resize"}


class _Numbers(Numbers):
    """`patchlib.prose.Numbers`, with learning rates printed in full ("plain") and square grids ("8×8")."""

    def __call__(self, name: str, value, spec: str = "") -> str:
        if spec != "plain":
            return super().__call__(name, value, spec)
        self.values[name] = float(value)
        return np.format_float_positional(value, trim="-")

    def grid(self, name: str, side) -> str:
        return f"{self(name, side)}×{self(name, side)}"


def _verdicts(records: dict) -> dict:
    return {c.id: c for c in records.get("claims") or claims(records)}


def _word(verdicts: dict, claim_id: str) -> str:
    return verdict_words(verdicts[claim_id].verdict)


def _dataset(evaluation: dict) -> str:
    name = evaluation["config"]["dataset"]
    return "CIFAR-10" if name == "cifar10" else name


# ---- how this run differs from the paper ----

def _data(records: dict, num: _Numbers) -> str:
    evaluation = records["evaluate"]
    image, sizes = evaluation["config"]["image_size"], evaluation["result"]["patch_sizes"]
    paper, side = PAPER["patch_sizes"]["value"], PAPER["input_resolution"]["value"]
    source = (evaluation.get("provenance", {}).get("data") or {}).get("source", "")
    quality = re.search(r"quality (\d+)", source)
    return (f"**Data and resolution.** The paper's models see {num('paper_image', side)}×{num('paper_image', side)}-pixel "
            f"images with patch sizes {num('paper_patch_min', min(paper))} to {num('paper_patch_max', max(paper))} (token "
            f"grids {num.grid('paper_grid_max', side // min(paper))} to {num.grid('paper_grid_min', side // max(paper))}). "
            f"Here the images are {_dataset(evaluation)}'s, bilinearly upsampled to {num.grid('image', image)} pixels so "
            f"that {num('n_sizes', len(sizes))} patch sizes divide them ({num('patch_min', min(sizes))} to "
            f"{num('patch_max', max(sizes))}, grids {num.grid('grid_max', image // min(sizes))} to "
            f"{num.grid('grid_min', image // max(sizes))})"
            + (f"; on this project's machines the data are a JPEG copy at quality {num('jpeg_quality', int(quality[1]))}, "
               "slightly lossy" if quality else "")
            + ("." if evaluation["config"]["dataset"] == "cifar10" else
               f". This run uses the embedded synthetic {_dataset(evaluation)} data: its numbers mean nothing."))


def _parameters(records: dict, num: _Numbers) -> str:
    base = records["evaluate"]["config"]["models"]["flexi"]["model_config"]
    bv = PAPER["underlying_parameters"]["value"]
    return ("**Underlying parameters.** FlexiViT stores one patch-embedding kernel and one position-embedding grid and "
            "resizes both to every patch size. big_vision's FlexiViT model file (`models/proj/flexi/vit.py`) defaults "
            f"to a {num.grid('bv_default_kernel', bv['kernel, model file default'])} kernel on a "
            f"{num.grid('bv_grid', bv['position grid'])} grid. Its FlexiViT configs set the kernel: "
            f"{num.grid('bv_i21k_kernel', bv['kernel, i21k_sup.py'])} in `i21k_sup.py` (which also sets the "
            f"{num.grid('bv_grid', bv['position grid'])} grid) and "
            f"{num.grid('bv_i21k_distill_kernel', bv['kernel, i21k_distill.py'])} in `i21k_distill.py`, "
            f"{num.grid('bv_i1k_kernel', bv['kernel, i1k_deit3_distill.py'])} in `i1k_deit3_distill.py`; the two "
            "distillation configs keep the model file's grid. We store a "
            f"{num.grid('base_kernel', base['base_patch_size'])} kernel on a {num.grid('base_grid', base['base_grid'])} "
            "grid.")


def _schedule(records: dict, num: _Numbers) -> str:
    train, epochs = train_setting(records["evaluate"], "flexi"), PAPER["epochs"]["value"]
    return (f"**Schedule.** The paper's ImageNet FlexiViTs train for {num('paper_epochs_min', epochs['shortest'])} to "
            f"{num('paper_epochs_max', epochs['paper_fig2'])} epochs and big_vision's README recommends its "
            f"{num('readme_epochs', epochs['readme_recommended'])}-epoch checkpoints; the models of the paper's patch-size "
            f"comparison train for {num('paper_fig3_epochs', PAPER['fig3_budget']['value']['FlexiViT-B'])} epochs each. "
            f"Ours train for {num('epochs', train['epochs'])} epochs each from scratch, batch "
            f"{num('batch', train['batch_size'])}, AdamW at peak learning rate {num('lr', train['lr'], 'plain')}, "
            f"{train['schedule']} schedule, augmentation {train['augment'].replace('_', ' and ')}"
            + (f", precision `{train['precision']}` (patchlib/runtime.py)." if "precision" in train else "."))


def _compute(records: dict, verdicts: dict, num: _Numbers) -> str:
    evaluation = records["evaluate"]
    per_size = epochs_per_size(evaluation)
    rises = [last_epoch_rise(records, role) for role in (*FIXED, "flexi")]
    epochs = train_setting(evaluation, "flexi")["epochs"]
    text = (f"**Training compute per patch size.** FlexiViT draws one of its "
            f"{num('n_sizes', len(evaluation['result']['patch_sizes']))} patch sizes per step, so in its "
            f"{num('epochs', epochs)} epochs it sees each size for {num('epochs_per_size', per_size['flexi'], '.2g')} "
            f"epochs' worth of steps, where each standard ViT sees its own size for all "
            f"{num('vit_epochs', per_size['vit_small'], 'g')}. The paper compares at equal epochs too "
            f"({num('paper_fig3_epochs', PAPER['fig3_budget']['value']['FlexiViT-B'])} each, FlexiViT over "
            f"{num('paper_n_sizes', len(PAPER['patch_sizes']['value']))} patch sizes), but after long training.")
    if not any(np.isnan(rises)):
        settled = max(rises) < CONVERGED_RISE
        text += (f" Over its last epoch each of these models' test accuracy changed by between "
                 f"{num('rise_min', min(rises), '+.2f')} and {num('rise_max', max(rises), '+.2f')} points (settled "
                 f"training would change it by less than {num('converged_rise', CONVERGED_RISE, 'g')} point)")
        text += ("." if settled else ", so at equal epochs the gap at the standard ViTs' own sizes measures how fast "
                 "each model learns more than the paper's finding.")
    if "flexi_long" in records["evaluate"]["result"]["models"]:
        minutes = {role: records["train"][role]["result"]["train_time_s"] / 60 for role in (*FIXED, "flexi_long")
                   if role in records.get("train", {})}
        text += (f" A second FlexiViT therefore trains for {num('long_epochs', train_setting(evaluation, 'flexi_long')['epochs'])}"
                 f" epochs, {num('long_epochs_per_size', per_size['flexi_long'], 'g')} epochs' worth at each patch size: "
                 "as many steps at each size as each standard ViT takes at its own (equal training compute per patch "
                 "size)" + (f"; on this run's CPU it trained for {num('long_minutes', minutes['flexi_long'], '.1f')} "
                            "minutes, against " + " and ".join(
                                f"{num(f'{r}_minutes', minutes[r], '.1f')} for ViT/"
                                f"{num(f'{r}_patch', evaluation['result']['models'][r]['own_patch'])}" for r in FIXED)
                            if len(minutes) == 3 else "")
                 + f". The claim that FlexiViT matches them is judged on it: {_word(verdicts, 'flexi_matches_fixed')}.")
    elif not any(np.isnan(rises)) and max(rises) >= CONVERGED_RISE:
        text += f" That claim is {_word(verdicts, 'flexi_matches_fixed')}."
    return text


def _training_length(records: dict, num: _Numbers) -> str:
    """The gap at the smallest patch size over training (the figure's note), or "" without the histories."""
    course = training_length(records)
    if course is None:
        return ""
    gaps, patch = course["gaps"], course["patch"]
    epochs = ", ".join(num(f"length_epoch_{g['epoch']}", g["epoch"]) for g in gaps)
    text = (f"At patch {num('length_patch', patch)}, after {epochs} epochs of ViT/{num('length_patch', patch)}'s "
            "training, FlexiViT at equal epochs is " + ", ".join(
                num(f"length_gap_epochs_{g['epoch']}", g["equal_epochs"], "+.2f") for g in gaps) + " points from it")
    if not any(math.isnan(g["equal_compute"]) for g in gaps):
        text += (f", and the FlexiViT trained {num('length_n_sizes', course['n_sizes'])}x longer, after "
                 f"{num('length_n_sizes', course['n_sizes'])}x as many epochs (the same steps at that size), "
                 + ", ".join(num(f"length_gap_compute_{g['epoch']}", g["equal_compute"], "+.2f") for g in gaps))
    return (text + " (means over runs; both members of each pair stand at the same point of their learning-rate "
            "schedules, so the points before the last are mid-schedule, not the end of shorter runs).")


def _resize(records: dict, verdicts: dict, num: _Numbers) -> str:
    models, sizes = records["evaluate"]["result"]["models"], records["evaluate"]["result"]["patch_sizes"]
    plain, _ = resize_gate(models)
    if plain:
        chance = records["evaluate"]["result"]["chance"]
        kept = {(r, key): statistics.mean(retained_fraction(run, sizes.index(models[r]["own_patch"]), chance)
                                          for run in runs_of(models, r, key)) for r in FIXED for key in (PLAIN, "acc")}
        label = {r: f"ViT/{num(f'{r}_patch', models[r]['own_patch'])}" for r in FIXED}
        share = {key: "nothing (at chance at its own size)" if math.isnan(value) else num(f"{key[0]}_kept_{key[1]}",
                                                                                          value, ".2f")
                 for key, value in kept.items()}
        return ("**Resizing the standard ViTs.** They run at the other patch sizes with kernel and position embeddings "
                f"resized bilinearly, as the paper's do ({PAPER['fig3_resize']['status']}: read in an issue thread, not in "
                "the paper); the claims that they collapse, and that FlexiViT beats them there, are judged on these. "
                "The rebuilt figure below also shows them with the kernel PI-resized instead, as FlexiViT resizes its own (the book's "
                "addition): away from their own size they keep on average " + " and ".join(
                    f"{share[(r, PLAIN)]} ({label[r]})" for r in FIXED)
                + " of their above-chance accuracy resized plainly, " + " and ".join(
                    share[(r, "acc")] for r in FIXED) + " through PI-resize.")
    acc = records["figure4"]["result"]["accuracy"]
    return ("**Resizing the standard ViTs.** The paper runs its standard ViTs at other patch sizes with their kernel and "
            f"position embeddings resized bilinearly ({PAPER['fig3_resize']['status']}: read in an issue thread, not in "
            "the paper). Our records run them through PI-resize of the kernel, the gentlest resize: on the same "
            f"ViT/{num('small_patch', models['vit_small']['own_patch'])}, the Figure 4 section below shows plain resizing "
            f"losing up to {num('fig4_resize_loss', max(acc['resize'][0] - a for a in acc['resize']), '.2f')} points "
            f"where PI-resize loses at most {num('fig4_pi_loss', max(acc['pi'][0] - a for a in acc['pi']), '.2f')}. "
            "So the standard ViTs' curves away from their own sizes are the book's addition, and the claims that need "
            "the paper's resize (that standard ViTs collapse, and that FlexiViT beats them there) are "
            f"{_word(verdicts, 'vit_collapse')}.")


def _distill(records: dict, verdicts: dict, num: _Numbers) -> str:
    official, ours = PAPER["distill_recipe"]["value"], train_setting(records["evaluate"], "distill")
    if not ours:
        return "**Distillation.** Not run in this profile."
    recipe = distill_recipe(ours["batch_size"])
    at_recipe = all(math.isclose(ours[key], value, rel_tol=1e-6) for key, value in recipe.items())
    students = len(runs_of(records["evaluate"]["result"]["models"], "distill"))
    text = (f"**Distillation.** The official recipe (`i1k_deit3_distill.py`) distils into a student initialised from its "
            f"teacher at learning rate {num('official_lr', official['lr'], 'plain')} and weight decay "
            f"{num('official_wd', official['weight_decay'], 'plain')}, batch {num('official_batch', official['batch_size'])}"
            f". big_vision adds that decay at every step without the learning rate's factor (`big_vision/optax.py`); "
            f"torch's AdamW multiplies its weight decay by the learning rate, so the same decay is weight decay "
            f"{num('official_torch_wd', official['weight_decay'] / official['lr'], 'g')} there. Scaled linearly to our "
            f"batch of {num('distill_batch', ours['batch_size'])} (the learning rate and the decay per step both × "
            f"{num('distill_batch', ours['batch_size'])}/{num('official_batch', official['batch_size'])}), that is "
            f"learning rate {num('recipe_lr', recipe['lr'], 'plain')} and weight decay "
            f"{num('recipe_wd', recipe['weight_decay'], 'g')}. Ours distils for {num('distill_epochs', ours['epochs'])} "
            f"epoch{'s' * (ours['epochs'] != 1)} ")
    text += ("at these settings" if at_recipe else
             f"at learning rate {num('distill_lr', ours['lr'], 'plain')} and weight decay "
             f"{num('distill_wd', ours['weight_decay'], 'g')}, not these")
    return (text + f", with this chapter's warm-up ({num('distill_warmup', ours['warmup_epochs'], 'g')} epoch"
            f"{'s' * (ours['warmup_epochs'] != 1)}) and cosine decay where the recipe warms up for "
            f"{num('official_warmup', official['warmup_steps'], ',')} steps of {num('official_epochs', official['epochs'])} "
            f"epochs, and {num('students', students)} student seed{'s' * (students != 1)}: the claim that the student "
            f"matches its teacher is {_word(verdicts, 'distilled_matches_teacher')}.")


def _metric(records: dict, num: _Numbers) -> str:
    evaluation = records["evaluate"]
    n_test = (evaluation.get("provenance", {}).get("data") or {}).get("n_test")
    return ("**Metric and speed.** Classification accuracy on the "
            + (f"{num('n_test', n_test, ',')} test images of " if n_test else "test set of ")
            + f"{_dataset(evaluation)}; throughput is measured on the hardware named in the captions, not on the paper's "
              "accelerators, so compare shapes, not values.")


# ---- captions and figure notes ----

def _seeds(records: dict, num: _Numbers) -> str:
    models, groups = records["evaluate"]["result"]["models"], {}
    for role in dict.fromkeys(m.get("role", k) for k, m in models.items()):
        if (n := len(runs_of(models, role))) > 1:
            groups.setdefault(n, []).append(f"ViT/{num(f'{role}_patch', models[role]['own_patch'])}" if role in FIXED
                                            else {"flexi": "FlexiViT", "distill": "the distilled FlexiViT"}.get(role, role))
    if not groups:
        return "One seed per model."
    listed = "; ".join(f"{num(f'seeds_{n}', n)} seeds of {', '.join(names[:-1])}{' and ' if len(names) > 1 else ''}"
                       f"{names[-1]}" for n, names in sorted(groups.items(), reverse=True))
    return (f"Error bars: mean ± sd over {listed} (initialisation, data order, augmentation and patch sizes drawn); the "
            "other models are single runs.")


def _figure3_method(records: dict) -> str:
    plain, _ = resize_gate(records["evaluate"]["result"]["models"])
    if plain:
        return ("A standard ViT runs at another patch size with its kernel and position embeddings resized bilinearly, "
                "as in the paper (dashed); the faded dotted curves run it with its kernel PI-resized instead, as FlexiViT "
                "resizes its own: the book's addition, not the paper's baseline.")
    return ("A standard ViT runs at another patch size with its kernel PI-resized and its position embeddings bilinearly "
            "resized, exactly as FlexiViT does; the paper resizes its kernel plainly, which loses more (see how this run "
            "differs), so these faded curves are the book's addition, not the paper's baselines.")


def _figure4_setup(records: dict, num: _Numbers) -> str:
    result = records["figure4"]["result"]
    return (f"The standard ViT/{num('small_patch', result['patch_sizes'][0])} runs on test images upsampled by a factor "
            f"of {num('factor_min', min(result['factors']))} to {num('factor_max', max(result['factors']))} with its patch "
            "size scaled by the same factor, so the token grid "
            f"({num('fig4_grid', result['grid'][0])}×{num('fig4_grid_w', result['grid'][1])}) and the position embeddings "
            "do not change; only the kernel is resampled.")


def _figure4_note(records: dict, num: _Numbers) -> str:
    pi = records["figure4"]["result"]["accuracy"]["pi"]
    return ("The images are upsampled as whole images, so pixels at patch borders mix neighbouring patches; PI-resize is "
            "exact only for patches resized on their own (`tests/test_flexivit.py` checks both), which is why its curve "
            f"moves here, by at most {num('fig4_pi_loss', max(pi[0] - a for a in pi), '.2f')} points.")


def _frontier(records: dict, verdicts: dict, num: _Numbers) -> str:
    record, claim = records["frontier"], verdicts["two_knobs_dominate"]
    best, gains = two_knob_margin(record), frontier_gains(record)
    text = f"**Verdict: {verdict_words(claim.verdict)}.** "
    if best is None:
        return text + "No point uses both knobs within the speed range of the single knobs."
    p, q = best["point"], best["single"]
    where = "above" if best["margin"] > 0 else "below"
    text += (("The best point that uses both knobs" if best["margin"] > 0 else
              "No point that uses both knobs beats the better single knob at its speed: the closest")
             + f", patch {num('best_patch', p['patch_size'])} at keep rate {num('best_keep', p['keep_rate'], 'g')} "
             f"({num('best_acc', p['acc'], '.2f')}%, {num('best_speed', p['images_per_s'], '.0f')} images/s), is "
             f"{num('best_margin', abs(best['margin']), '.2f')} points {where} patch {num('single_patch', q['patch_size'])} "
             f"at keep rate {num('single_keep', q['keep_rate'], 'g')} ({num('single_acc', q['acc'], '.2f')}%, "
             f"{num('single_speed', q['images_per_s'], '.0f')} images/s), against a standard error of "
             f"{num('margin_se', claim.spread, '.2f')} from the test set alone.")
    keep = gains["keep"]["max_gain"]
    if keep > 0:
        text += (f" At equal speed, both knobs gain up to {num('gain_over_keep', keep, '.2f')} points over the keep "
                 f"rate alone (at the smallest patch size) and up to "
                 f"{num('gain_over_patch', gains['patch']['max_gain'], '.2f')} over the patch size alone.")
    return text


# ---- what we see ----

def _summary(records: dict, verdicts: dict, num: _Numbers) -> str:
    evaluation = records["evaluate"]
    models, sizes = evaluation["result"]["models"], evaluation["result"]["patch_sizes"]
    flexi = [statistics.mean(v) for v in zip(*runs_of(models, "flexi"))]
    chance = evaluation["result"]["chance"]
    match, smooth = verdicts["flexi_matches_fixed"], verdicts["flexi_smooth"]
    label = {r: f"ViT/{num(f'{r}_patch', models[r]['own_patch'])}" for r in FIXED}
    key = PLAIN if resize_gate(models)[0] else "acc"
    own = {r: sizes.index(models[r]["own_patch"]) for r in FIXED}
    share = {r: statistics.mean(retained_fraction(run, own[r], chance) for run in runs_of(models, r, key)) for r in FIXED}
    kept = ", ".join(f"{label[r]} " + ("nothing (at chance at its own size)" if math.isnan(share[r]) else
                                        num(f"{r}_retained", share[r], ".2f")) for r in FIXED)
    collapse, above = verdicts["vit_collapse"].verdict, verdicts["flexi_above_elsewhere"].verdict
    texts = [("Whether standard ViTs collapse away from their training patch size, and whether FlexiViT beats them "
              "there, is not testable here: the records run them through PI-resize, not the paper's plain resize "
              f"(through PI-resize they keep {kept} of their above-chance accuracy elsewhere)."
              if collapse == above == "not_testable_here" and key != PLAIN else
              f"The collapse of standard ViTs away from their training patch size is {verdict_words(collapse)} (they "
              f"keep {kept} of their above-chance accuracy elsewhere), and FlexiViT beating them there is "
              f"{verdict_words(above)}.")]
    def gap(flexi_role: str, r: str) -> float:
        return statistics.mean(f[own[r]] for f in runs_of(models, flexi_role)) - statistics.mean(
            v[own[r]] for v in runs_of(models, r))

    equal_epochs = " and ".join(f"{num(f'{r}_gap', gap('flexi', r), '+.1f')} points from {label[r]}" for r in FIXED)
    if runs_of(models, "flexi_long"):
        texts.append("At their own sizes the FlexiViT trained at equal compute per patch size is " + " and ".join(
            f"{num(f'{r}_gap_long', gap('flexi_long', r), '+.1f')} points from {label[r]}" for r in FIXED)
            + f": {verdict_words(match.verdict)}. At equal epochs FlexiViT is {equal_epochs}.")
    else:
        texts.append(f"At their own sizes FlexiViT is {equal_epochs}: {verdict_words(match.verdict)}"
                     + (" at this training length (see the compute per patch size above)."
                        if match.verdict == "not_testable_here" else "."))
    texts.append(f"FlexiViT's accuracy falls from {num('flexi_max', max(flexi), '.1f')}% to "
                 f"{num('flexi_min', min(flexi), '.1f')}% as the patches grow: the smooth fall is "
                 f"{verdict_words(smooth.verdict)}.")
    losses = figure4_losses(records["figure4"])
    unresolved = [METHOD_WORDS.get(m, m) for m, (_, _, rule) in losses.items() if rule == "within_noise"]
    texts.append(f"PI-resize loses at most {num('fig4_pi_loss', losses['pi'][0], '.2f')} points when image and patch "
                 f"grow together, "
                 + ", ".join(f"{METHOD_WORDS.get(m, m)} up to {num(f'fig4_{m}_loss', v[0], '.2f')}"
                             for m, v in losses.items() if m != "pi")
                 + f" (the rule: PI-resize within {num('flat', FLAT_TOLERANCE, 'g')} points, the others beyond): "
                   f"{_word(verdicts, 'pi_resize_lossless')}"
                 + (f", as {' and '.join(unresolved)} {'are' if len(unresolved) > 1 else 'is'} within the test set's "
                    f"noise of {'their thresholds' if len(unresolved) > 1 else 'its threshold'}."
                    if unresolved and verdicts["pi_resize_lossless"].verdict in ("partially", "within_noise") else "."))
    if "distill" in models:
        teacher, gain = verdicts["distilled_matches_teacher"], verdicts["distillation_helps"]
        texts.append(f"The distilled FlexiViT is {num('distill_gap', teacher.our_value, '+.2f')} points from its teacher "
                     f"at patch {num('small_patch', models['vit_small']['own_patch'])} "
                     f"({verdict_words(teacher.verdict)}) and {num('distill_gain', gain.our_value, '+.2f')} ± "
                     f"{num('distill_gain_se', gain.spread, '.2f')} points above the plain FlexiViT on average over patch "
                     f"sizes ({verdict_words(gain.verdict)}), with its teacher's training behind it.")
    image = evaluation["config"]["image_size"]
    texts.append(f"The paper's models train for hundreds of epochs on ImageNet-scale data at "
                 f"{num('paper_image', PAPER['input_resolution']['value'])} px; ours for "
                 f"{num('epochs', train_setting(evaluation, 'flexi')['epochs'])} epochs on {num('image', image)}-px "
                 f"upsampled images, where the largest patches leave a {num.grid('grid_min', image // max(sizes))} grid "
                 "of tokens: compare the shapes of the curves, not their values.")
    return " ".join(texts)


def _build(records: dict) -> tuple[dict[str, str], dict[str, float]]:
    num, verdicts = _Numbers(), _verdicts(records)
    parts = {"data": _data(records, num), "parameters": _parameters(records, num), "schedule": _schedule(records, num),
             "compute": _compute(records, verdicts, num), "resize": _resize(records, verdicts, num),
             "distillation": _distill(records, verdicts, num), "metric": _metric(records, num),
             "seeds_note": _seeds(records, num), "figure3_method": _figure3_method(records),
             "training_length": _training_length(records, num),
             "figure4_setup": _figure4_setup(records, num), "figure4_note": _figure4_note(records, num)}
    if "frontier" in records:
        parts["frontier"] = _frontier(records, verdicts, num)
    parts["summary"] = _summary(records, verdicts, num)
    return parts, num.values


def parts(records: dict) -> dict[str, str]:
    """The page's prose by place: "data", "parameters", "schedule", "compute", "resize", "distillation",
    "metric" (how this run differs), "seeds_note" (Fig. 3's caption), "figure3_method", "training_length" (the
    training-length figure's note; "" without the histories), "figure4_setup",
    "figure4_note", "frontier" (the two-knob verdict) and "summary" (what we see)."""
    return _build(records)[0]


def facts(records: dict) -> dict[str, float]:
    """Every number `parts` prints, by name."""
    return _build(records)[1]
