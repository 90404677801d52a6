"""The FlexiViT chapter's prose and tables, built from the same records and claims as its claims table:
every sentence that states a number, a comparison or a verdict. Each number goes through `_Numbers`,
which formats it and keeps it under a name, so `facts(records)` lists every number the prose prints
(`readers.prose_parts`, `readers.prose` and `readers.facts` are its entry points), and the page's tables."""
from __future__ import annotations

import math
import re
import statistics

import numpy as np
import pandas as pd

from ...data.recipes import AUGMENTATIONS
from ...prose import Numbers, verdict_words
from .config import FIXED, PAPER

from .readers import (CONVERGED_RISE, FLAT_TOLERANCE, PLAIN, claims, epochs_per_size, frontier_gains, two_knob_margin,
                      figure4_losses, last_epoch_rise, resize_gate, retained_fraction, runs_of, train_setting)

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
            "resizes both to every patch size. big_vision's FlexiViT model file defaults to a "
            f"{num.grid('bv_default_kernel', bv['kernel, model file default'])} kernel on a "
            f"{num.grid('bv_grid', bv['position grid'])} grid; its two FlexiViT training configs set the kernel to "
            f"{num.grid('bv_i21k_kernel', bv['kernel, i21k_sup.py'])} and "
            f"{num.grid('bv_i1k_kernel', bv['kernel, i1k_deit3_distill.py'])}, on that grid (the table of published "
            f"values names the files). We store a {num.grid('base_kernel', base['base_patch_size'])} kernel on a "
            f"{num.grid('base_grid', base['base_grid'])} grid.")


def _schedule(records: dict, num: _Numbers) -> str:
    train, epochs = train_setting(records["evaluate"], "flexi"), PAPER["epochs"]["value"]
    return (f"**Schedule.** The paper's ImageNet FlexiViTs train for {num('paper_epochs_min', epochs['shortest'])} to "
            f"{num('paper_epochs_max', epochs['paper_fig2'])} epochs and big_vision's README recommends its "
            f"{num('readme_epochs', epochs['readme_recommended'])}-epoch checkpoints; the models of the paper's patch-size "
            f"comparison train for {num('paper_fig3_epochs', PAPER['fig3_budget']['value']['FlexiViT-B'])} epochs each. "
            f"Ours train for {num('epochs', train['epochs'])} epochs each from scratch, batch "
            f"{num('batch', train['batch_size'])}, AdamW at peak learning rate {num('lr', train['lr'], 'plain')}, "
            f"{train['schedule']} schedule, augmentation {train['augment'].replace('_', ' and ')}.")


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
        text += (f" Over its last epoch each model's test accuracy changed by between "
                 f"{num('rise_min', min(rises), '+.2f')} and {num('rise_max', max(rises), '+.2f')} points (the claim's "
                 f"gate asks every rise to stay below {num('converged_rise', CONVERGED_RISE, 'g')} point)")
        text += ("." if settled else ", so the gap at the standard ViTs' own sizes measures how fast each model learns "
                 "more than the paper's finding")
        text += (f": that claim is {_word(verdicts, 'flexi_matches_fixed')}." if not settled else "")
    return text


def _resize(records: dict, verdicts: dict, num: _Numbers) -> str:
    models = records["evaluate"]["result"]["models"]
    plain, _ = resize_gate(models)
    if plain:
        return ("**Resizing the standard ViTs.** They run at the other patch sizes with kernel and position embeddings "
                f"resized bilinearly, as the paper's do ({PAPER['fig3_resize']['status']}: read in an issue thread).")
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
    return (f"**Distillation.** The official recipe distils into a student initialised from its teacher at learning rate "
            f"{num('official_lr', official['lr'], 'plain')} and weight decay {num('official_wd', official['weight_decay'], 'plain')} "
            f"(batch {num('official_batch', official['batch_size'])}). Ours distils for {num('distill_epochs', ours['epochs'])} "
            f"epoch{'s' * (ours['epochs'] != 1)} at learning rate {num('distill_lr', ours['lr'], 'plain')} and weight decay "
            f"{num('distill_wd', ours['weight_decay'], 'plain')} (batch {num('distill_batch', ours['batch_size'])})"
            + (", the settings of training from scratch, which can move the student away from its teacher"
               if ours["lr"] >= train_setting(records["evaluate"], "flexi").get("lr", math.inf) else "")
            + f": the claim that it matches its teacher is {_word(verdicts, 'distilled_matches_teacher')}.")


def _metric(records: dict, num: _Numbers) -> str:
    evaluation = records["evaluate"]
    n_test = (evaluation.get("provenance", {}).get("data") or {}).get("n_test")
    return ("**Metric and speed.** Classification accuracy on the "
            + (f"{num('n_test', n_test, ',')} test images of " if n_test else "test set of ")
            + f"{_dataset(evaluation)}; throughput is measured on the hardware named in the captions, not on the paper's "
              "accelerators, so compare shapes, not values.")


# ---- captions and figure notes ----

def _seeds(records: dict, num: _Numbers) -> str:
    models = records["evaluate"]["result"]["models"]
    roles = dict.fromkeys(m.get("role", k) for k, m in models.items())
    seeded = {role: len(runs_of(models, role)) for role in roles if len(runs_of(models, role)) > 1}
    if not seeded:
        return "One seed per model."
    n = min(seeded.values())
    return (f"Error bars: mean ± sd over {num('seeds', n)} seeds of {' and '.join(seeded)} (initialisation, data order, "
            "augmentation and patch sizes drawn); the other models are single runs.")


def _figure3_method(records: dict) -> str:
    plain, _ = resize_gate(records["evaluate"]["result"]["models"])
    if plain:
        return ("A standard ViT runs at another patch size with its kernel and position embeddings resized bilinearly, "
                "as in the paper.")
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
    gaps = {r: statistics.mean(f[own[r]] for f in runs_of(models, "flexi")) - statistics.mean(
        v[own[r]] for v in runs_of(models, r)) for r in FIXED}
    texts.append("At their own sizes FlexiViT is " + " and ".join(
        f"{num(f'{r}_gap', gaps[r], '+.1f')} points from {label[r]}" for r in FIXED)
        + f": {verdict_words(match.verdict)}"
        + (" at this training length (see the compute per patch size above)." if match.verdict == "not_testable_here"
           else "."))
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
             "figure4_setup": _figure4_setup(records, num), "figure4_note": _figure4_note(records, num)}
    if "frontier" in records:
        parts["frontier"] = _frontier(records, verdicts, num)
    parts["summary"] = _summary(records, verdicts, num)
    return parts, num.values


def parts(records: dict) -> dict[str, str]:
    """The page's prose by place: "data", "parameters", "schedule", "compute", "resize", "distillation",
    "metric" (how this run differs), "seeds_note" (Fig. 3's caption), "figure3_method", "figure4_setup",
    "figure4_note", "frontier" (the two-knob verdict) and "summary" (what we see)."""
    return _build(records)[0]


def facts(records: dict) -> dict[str, float]:
    """Every number `parts` prints, by name."""
    return _build(records)[1]


# ---- the page's tables: the published values, the paper's setup beside ours ----

def paper_table() -> pd.DataFrame:
    """The published values of `config.PAPER`, one row each, with unit, status and source."""
    return pd.DataFrame([{"value": ", ".join(f"{k}: {v}" for k, v in entry["value"].items())
                          if isinstance(entry["value"], dict) else str(entry["value"]),
                          **{key: entry[key] for key in ("unit", "status", "source")}} for entry in PAPER.values()],
                        index=pd.Index(list(PAPER), name="value of"))


def setup_table(records: dict) -> pd.DataFrame:
    """The paper's setup beside this run's, read from `config.PAPER` and the records."""
    evaluation = records["evaluate"]
    configs, models = evaluation["config"]["models"], evaluation["result"]["models"]
    flexi, train = configs["flexi"]["model_config"], configs["flexi"]["train"]
    distill, bv = configs.get("distill", {}).get("train"), PAPER["underlying_parameters"]["value"]
    recipe, budget = PAPER["distill_recipe"]["value"], PAPER["fig3_budget"]["value"]
    official = PAPER["i21k_recipe"]["value"]
    sizes, per_size = evaluation["result"]["patch_sizes"], epochs_per_size(evaluation)
    seeded = {r: len(runs_of(models, r)) for r in dict.fromkeys(m["role"] for m in models.values())}
    parameters = {r["config"]["role"]: r["result"]["parameters"] for key, r in records.get("train", {}).items()
                  if key == r["config"]["role"]}
    plain, _ = resize_gate(models)
    paper = {
        "data": f"ImageNet-scale data at {PAPER['input_resolution']['value']} px",
        "models": "ViT-B/16 and ViT-B/30 vs FlexiViT-B over patch sizes "
                  f"{min(PAPER['patch_sizes']['value'])}-{max(PAPER['patch_sizes']['value'])}",
        "parameters": "ViT-B size",
        "underlying kernel / position grid": f"big_vision: model file default {bv['kernel, model file default']}×"
                                             f"{bv['kernel, model file default']}; configs {bv['kernel, i21k_sup.py']}×"
                                             f"{bv['kernel, i21k_sup.py']} (i21k_sup.py) and "
                                             f"{bv['kernel, i1k_deit3_distill.py']}×{bv['kernel, i1k_deit3_distill.py']} "
                                             f"(i1k_deit3_distill.py); grid {bv['position grid']}×{bv['position grid']}",
        "training": f"{budget['FlexiViT-B']} epochs each for the patch-size comparison (ImageNet-21k); 90-1000 epochs "
                    "for the ImageNet-1k FlexiViTs",
        "compute per patch size": f"FlexiViT {budget['FlexiViT-B'] / len(PAPER['patch_sizes']['value']):g} epochs' worth "
                                  f"per size ({len(PAPER['patch_sizes']['value'])} sizes); each ViT {budget['ViT-B/16']}",
        "standard ViTs at other patch sizes": f"kernel and position embeddings resized bilinearly "
                                              f"({PAPER['fig3_resize']['status']})",
        "distillation": f"student initialised from its ViT teacher, lr {recipe['lr']:g}, weight decay "
                        f"{recipe['weight_decay']:g}, batch {recipe['batch_size']}",
        "seeds": "not stated",
        "training recipe": f"i21k_sup.py: {official['epochs']} epochs, batch {official['batch_size']}, lr "
                           f"{official['lr']:g}, weight decay {official['weight_decay']:g} (big_vision's decoupled "
                           f"`wd`), {official['warmup_steps']:,} warm-up steps, gradient clipping "
                           f"{official['grad_clip']:g}, {official['loss']}, {official['augmentation']}, mixup "
                           f"{official['mixup']:g}",
    }
    ours = {
        "data": f"{_dataset(evaluation)} upsampled to {evaluation['config']['image_size']} px",
        "models": " and ".join(f"ViT/{models[r]['own_patch']}" for r in FIXED) + " vs FlexiViT over patch sizes "
                  f"{', '.join(map(str, sizes))}: {flexi['depth']} layers, width {flexi['dim']}, {flexi['heads']} heads",
        "parameters": ", ".join(f"{role} {count / 1e6:.2f} M" for role, count in parameters.items()),
        "underlying kernel / position grid": f"{flexi['base_patch_size']}×{flexi['base_patch_size']} / "
                                             f"{flexi['base_grid']}×{flexi['base_grid']}",
        "training": f"{train['epochs']} epochs from scratch each, batch {train['batch_size']}, AdamW lr {train['lr']}, "
                    f"{train['schedule']} schedule, augmentation {train['augment']}",
        "compute per patch size": f"FlexiViT {per_size['flexi']:.2g} epochs' worth per size ({len(sizes)} sizes); each "
                                  f"ViT {per_size['vit_small']:g}",
        "standard ViTs at other patch sizes": ("kernel and position embeddings resized bilinearly" if plain else
                                               "kernel PI-resized, position embeddings resized bilinearly"),
        "distillation": (f"{distill['epochs']} epochs from the ViT/{models['vit_small']['own_patch']} teacher, which also "
                         f"initialises the student; lr {distill['lr']}, weight decay {distill['weight_decay']}, batch "
                         f"{distill['batch_size']}" if distill else "not run in this profile"),
        "seeds": ", ".join(f"{role} {n}" for role, n in seeded.items()),
        "training recipe": f"{train['epochs']} epochs, batch {train['batch_size']}, AdamW lr {train['lr']:g}, weight "
                           f"decay {train['weight_decay']:g} (AdamW's), warm-up {train['warmup_epochs']:g} epochs, "
                           f"gradient clipping {train['grad_clip']}, softmax cross-entropy with label smoothing "
                           f"{train['label_smoothing']:g}, {AUGMENTATIONS.get(train['augment'], train['augment'])}; "
                           "no inception crop, no mixup",
    }
    return pd.DataFrame({"paper": paper, "ours": ours})
