"""The EViT chapter's page: its tables and its prose, built from the same records and claims. Every
sentence that states a number, a comparison or a verdict is here; each number goes through `_Numbers`,
which formats it and keeps it under a name, so `facts(records)` lists every number the prose prints
(`readers.prose`, `readers.prose_parts` and `readers.facts` are the entry points)."""
from __future__ import annotations

from ...data.recipes import AUGMENTATIONS
from ...prose import Numbers, verdict_words
import re

import pandas as pd

from .config import PAPER
from .readers import claims, paper_tokens, per_seed, visual_finetune, zoo



class _Numbers(Numbers):
    """`Numbers`, with this chapter's formats."""

    def listed(self, name: str, values, spec: str = "") -> str:
        """"a, b and c", each number kept as name_i."""
        items = [self(f"{name}_{i}", v, spec) for i, v in enumerate(values)]
        return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


# ---- the page's tables ----

def paper_table() -> pd.DataFrame:
    """The official Model Zoo (`PAPER["model_zoo"]`) and DeiT-S's row (`PAPER["deit_s_baseline"]`), each with
    its status: accuracy, GMACs and throughput of the ten EViT-DeiT-S models and of DeiT-S."""
    deit = PAPER["deit_s_baseline"]
    rows = [{"model": "EViT-DeiT-S", "fusion": "yes" if row["fusion"] else "no", "keep rate": row["keep_rate"],
             "top-1 (%)": row["acc1"], "top-5 (%)": row["acc5"], "GMACs": row["gmacs"],
             "throughput (img/s)": row["throughput"], "parameters (M)": row["params_m"],
             "status": PAPER["model_zoo"]["status"]} for row in PAPER["model_zoo"]["value"]]
    rows.append({"model": "DeiT-S", "fusion": "—", "keep rate": 1.0, "top-1 (%)": deit["value"]["acc1"],
                 "top-5 (%)": None, "GMACs": deit["value"]["gmacs"], "throughput (img/s)": deit["value"]["throughput"],
                 "parameters (M)": None, "status": deit["status"]})
    return pd.DataFrame(rows)


def paper_sources() -> str:
    """The list under the paper's table: where every `PAPER` value comes from, with its status."""
    return "\n".join(f"- **{name}** ({entry['status']}): {entry['source']}" for name, entry in PAPER.items())


def setup_table(records: dict, throughput: str) -> pd.DataFrame:
    """How this run differs from the paper: model, reorganisation layers, training, schedule and timing
    (`throughput`: the timing protocol's caption, `patchlib.measure.describe_protocol` of the cost record)."""
    config = records["offshelf"]["config"]
    ft = visual_finetune(records)["config"]
    model, recipe, setting = config["model_config"], PAPER["recipe"]["value"], PAPER["throughput_setting"]["value"]
    official = PAPER["finetune_recipe"]["value"]
    train, schedule = ft["train"], ft["schedule"]
    paper = {
        "model": f"DeiT-S: {recipe['depth']} layers, width {recipe['width']}, {recipe['heads']} heads, "
                 f"{(recipe['image_size'] // recipe['patch_size']) ** 2} tokens",
        "reorganisation layers": f"{', '.join(map(str, recipe['reorganize_layers']))} of {recipe['depth']}",
        "training with EViT": f"{recipe['epochs']} epochs on ImageNet (official run_code.sh), batch 16×128 "
                              "(official README)",
        "keep-rate schedule": f"1 for {recipe['shrink_start_epoch']} epochs, then a cosine to the target over "
                              f"{recipe['shrink_epochs']} epochs",
        "throughput": f"{setting['device']}, batch {setting['batch_size']} (secondary)",
        "fine-tuning recipe": f"AdamW lr {official['lr']:g} to {official['min_lr']:g} (cosine), weight decay "
                              f"{official['weight_decay']:g}, batch "
                              f"{official['processes']}×{official['batch_per_process']}; DeiT's regularisation: "
                              f"drop path {official['drop_path']:g}, mixup {official['mixup_alpha']:g}, "
                              f"CutMix {official['cutmix_alpha']:g}, random erasing {official['random_erase']:g}, "
                              f"label smoothing {official['label_smoothing']:g}, RandAugment {official['randaugment']}, "
                              f"colour jitter {official['color_jitter']:g}, repeated augmentation, EMA of the weights "
                              "(official finetune.sh and main.py)",
        "higher resolution": "DeiT-S at a higher input resolution with the keep rate that keeps its cost "
                             "(Abstract; resolution and keep rate not sourced here)",
    }
    ours = {
        "model": f"{config['model']} from the ViT chapter: {model['depth']} layers, width {model['dim']}, "
                 f"{model['heads']} heads, {(model['image_size'] // model['patch_size']) ** 2} tokens",
        "reorganisation layers": f"{', '.join(str(i + 1) for i in config['reorganize_layers'])} of {model['depth']}",
        "training with EViT": f"fine-tuning from the trained ViT: {train['epochs']} epoch(s) of "
                              f"{ft['n_finetune'] or 'all the'} training images, batch {train['batch_size']}, "
                              f"AdamW lr {train['lr']}, warm-up {train['warmup_epochs']} epochs, "
                              f"{train['schedule']} schedule",
        "keep-rate schedule": (f"1 for the first {schedule['start']:.0%} of the steps, then " if schedule["start"]
                               else "from 1 at the first step, ")
                              + f"a cosine down to the target over {schedule['ramp']:.0%} of the steps, then the "
                                "target",
        "throughput": throughput,
        "fine-tuning recipe": f"AdamW lr {train['lr']:g} ({train['schedule']} schedule), weight decay "
                              f"{train['weight_decay']:g}, batch {train['batch_size']}; label smoothing {train['label_smoothing']:g}, "
                              f"{AUGMENTATIONS.get(train['augment'], train['augment'])}; no drop path, mixup, CutMix, "
                              "random erasing, colour jitter, repeated augmentation or EMA",
        "higher resolution": (f"{high['image_size']}×{high['image_size']} px (CIFAR-10 bilinearly upsampled, position "
                              f"embeddings interpolated), keep rate {high['keep_rate']:g} fused: the largest whose "
                              f"counted GMACs ({high['gmacs']:.4f}) stay within the {model['image_size']}-px model's "
                              f"({high['base_gmacs']:.4f}); fine-tuned as above"
                              if (high := (records.get("resolution") or [{}])[0].get("result")) else "not run"),
    }
    return pd.DataFrame({"paper": paper, "ours": ours})


def structure(records: dict) -> str:
    """The run's structural facts (model, reorganisation layers, token counts at keep 0.7, claim ids),
    which the notebook's nbval-checked cell prints: they change only when the experiment does."""
    config, cost = records["offshelf"]["config"], records["cost"]
    counts = {(p["keep_rate"], p["fuse"]): p["tokens_per_layer"] for p in cost["result"]["points"]}
    return "\n".join([
        f"profile {config['profile']}: {config['model']}, depth {config['model_config']['depth']}, "
        f"{(config['model_config']['image_size'] // config['model_config']['patch_size']) ** 2} image tokens",
        f"reorganisation layers (1-based): {[i + 1 for i in config['reorganize_layers']]}",
        f"image tokens after each at keep 0.7: {counts[(0.7, True)]} fused, {counts[(0.7, False)]} unfused",
        *([f"higher resolution: {high['image_size']} px, "
           f"{(high['image_size'] // config['model_config']['patch_size']) ** 2} image tokens, keep rate "
           f"{high['keep_rate']:g} fused, image tokens after each reorganisation layer {high['tokens_per_layer']}"]
          if (high := (records.get("resolution") or [{}])[0].get("result")) else []),
        "claims: " + ", ".join(f"{c.id}" for c in records["claims"]),
    ])


# ---- the page's prose ----

def _intro(num: _Numbers) -> str:
    headline, rows, deit = PAPER["headline"]["value"], zoo(), PAPER["deit_s_baseline"]["value"]
    row = rows[(0.7, True)]
    faster = round(100 * (headline["speedup"] - 1))
    return (f"The paper's abstract reports that DeiT-S runs {num('paper_faster_pct', faster)}% faster for a "
            f"{num('paper_loss', -headline['delta_acc'])}% loss of ImageNet accuracy; the official Model Zoo matches "
            f"this to keep rate {num('headline_keep', 0.7)} with fusion ({num('zoo_acc_07', row['acc1'])}% "
            f"against DeiT-S's {num('deit_acc', deit['acc1'])}%, {num('zoo_ips_07', row['throughput'])} against "
            f"{num('deit_ips', deit['throughput'])} images/s, the DeiT-S row from a third-party account). It also "
            "reports that fusing the inattentive tokens is better than dropping them, and that the reorganisation is "
            "learned together with the model rather than applied afterwards.")


def _paper_models(num: _Numbers) -> str:
    recipe, rows = PAPER["recipe"]["value"], PAPER["model_zoo"]["value"]
    size = recipe["image_size"]
    return (f"The official repository publishes {num('zoo_models', len(rows))} EViT-DeiT-S models, trained for "
            f"{num('paper_epochs', recipe['epochs'])} epochs on ImageNet at {num('paper_px', size)}×{size} pixels with "
            f"the reorganisation in layers {num.listed('paper_layer', recipe['reorganize_layers'])} of "
            f"{num('paper_depth', recipe['depth'])}. Below, their accuracy, GMACs and throughput as its README lists "
            "them, and DeiT-S's row as a third-party review quotes the paper; the status column says how each value "
            "is sourced, and the list under the table names every source. The abstract gives the headline speed-up "
            "without naming a keep rate.")


def _data(records: dict, num: _Numbers) -> str:
    config, recipe = records["offshelf"]["config"], PAPER["recipe"]["value"]
    model, size = config["model_config"], recipe["image_size"]
    tokens = (model["image_size"] // model["patch_size"]) ** 2
    paper = (f"**Data and resolution.** The paper trains on ImageNet at {num('paper_px', size)}×{size} pixels "
             f"({num('paper_tokens', (size // recipe['patch_size']) ** 2)} tokens); ")
    if config["dataset"] != "cifar10":
        return paper + (f"this run ({config['profile']} profile) uses the ViT chapter's model trained on the embedded "
                        f"synthetic {config['dataset']} data instead: its numbers are not comparable to anything.")
    source = (records["offshelf"]["provenance"].get("data") or {}).get("source", "")
    quality = re.search(r"JPEG re-encoding, quality (\d+)", source)
    return paper + (f"here the model is the ViT chapter's, trained from scratch on CIFAR-10 at "
                    f"{num('image_size', model['image_size'])}×{model['image_size']} pixels ({num('tokens', tokens)} "
                    "tokens)" + (f", on this project's machines a JPEG re-encoding of CIFAR-10 at quality "
                                 f"{num('jpeg_quality', int(quality.group(1)))}" if quality else "")
                    + ". The smoke profile uses the embedded synthetic shapes10 data instead.")


def _layers(records: dict, num: _Numbers) -> str:
    config, recipe = records["offshelf"]["config"], PAPER["recipe"]["value"]
    depth = config["model_config"]["depth"]
    return (f"**Where the tokens are reorganised.** The paper reorganises in layers "
            f"{num.listed('paper_layer', recipe['reorganize_layers'])} of {num('paper_depth', recipe['depth'])}. Ours "
            f"has {num('depth', depth)} layers, so we place them proportionally, at layers "
            f"{num.listed('layer', [i + 1 for i in config['reorganize_layers']])} "
            "(`patchlib.models.evit.evit_layers`).")


def _training(records: dict, num: _Numbers) -> str:
    recipe, ft = PAPER["recipe"]["value"], visual_finetune(records)["config"]
    seeds = max(len(results) for results in per_seed(records).values())
    return (f"**Training.** The paper trains each EViT model for {num('paper_epochs', recipe['epochs'])} epochs, "
            f"keeping every token for the first {num('paper_shrink_start', recipe['shrink_start_epoch'])} and lowering "
            f"the keep rate along a cosine over the next {num('paper_shrink_epochs', recipe['shrink_epochs'])} (the "
            f"official `adjust_keep_rate`). We fine-tune the ViT chapter's trained model for "
            f"{num('epochs', ft['train']['epochs'])} epoch{'' if ft['train']['epochs'] == 1 else 's'}, the keep rate "
            "lowered along the same cosine over the "
            f"first {num('ramp_pct', round(100 * ft['schedule']['ramp']))}% of the steps, and fine-tune a control with "
            f"the same budget at keep rate {num('control_keep', 1)}, so that the extra training is not credited to "
            "EViT. " + (f"The higher-resolution test fine-tunes the same way at {num('high_px', res[0]['result']['image_size'])} "
                        "pixels. " if (res := records.get("resolution")) else "")
            + (f"The points the claims compare are fine-tuned with {num('seeds', seeds)} seeds, the others "
                        "once." if seeds > 1 else "Each point is fine-tuned once."))


def _speed(records: dict, num: _Numbers) -> str:
    setting, protocol = PAPER["throughput_setting"]["value"], records["cost"]["result"]["protocol"]
    return (f"**Speed.** The paper measures throughput on a GPU at batch {num('paper_batch', setting['batch_size'])} "
            f"(a third-party account); we measure on this machine's {protocol['device']} with "
            f"{num('threads', protocol['threads'])} threads at batch {num('batch', protocol['batch_size'])}, on random "
            "inputs (protocol in the table below).")


def _seeds(num: _Numbers, name: str, n: int | None) -> str:
    """"3 seeds", or "one seed" where a comparison rests on single runs."""
    return f"{num(name, n)} seeds" if (n or 1) > 1 else "one seed: test-set noise only"


def _keep_rate_caption(records: dict, num: _Numbers) -> str:
    seeds = max(len(results) for results in per_seed(records).values())
    return ("Test accuracy against keep rate. Dashed: the ViT chapter's model with the reorganisation switched "
            "on, no training. Solid: the same model fine-tuned with the reorganisation. Dotted: the control, "
            f"fine-tuned with the same budget at keep rate {num('control_keep', 1)}, then switched to the "
            "reorganisation." + (f" Diamonds with error bars: the mean ± sd of the points the claims compare, "
                                 f"fine-tuned with {num('seeds', seeds)} seeds (data order, augmentation and schedule "
                                 "seeded; all start from the same baseline)." if seeds > 1 else "")
            + f" Right: the change in accuracy from keep rate {num('control_keep', 1)}, ours (fine-tuned, against "
              "the control) beside the paper's Model Zoo (EViT-DeiT-S against DeiT-S, whose row is secondary).")


def _tradeoff_caption(verdicts: dict, num: _Numbers) -> str:
    speed = verdicts["speed_at_0.7"]
    text = ("Accuracy of the fine-tuned models against their measured throughput (keep rates annotated), with the "
            f"baseline and the control. Right: the speed-up over keep rate {num('control_keep', 1)} at each keep rate, "
            "measured here beside the paper's Model Zoo (on an A100; DeiT-S's throughput is secondary).")
    if speed.our_value is None:
        return text
    return text + (f" At keep rate {num('headline_keep', 0.7)} with fusion the measured speed-up is "
                   f"{num('speedup', speed.our_value, '.2f')}x, against the paper's "
                   f"{num('paper_speedup', speed.paper_value)}x.")


def _tokens_caption(records: dict, num: _Numbers) -> str:
    record = records["tokens"]
    result, config = record["result"], record["config"]
    shown, classes = len(result["classes"]), config["model_config"]["num_classes"]
    which = (f"each of the {num('classes', classes)} classes" if shown == classes else
             f"each of the first {num('shown', shown)} of the {num('classes', classes)} classes")
    return (f"Test images (the first test image of {which}: {', '.join(result['classes'])}) and, after each "
            f"reorganisation layer ({num.listed('layer', [i + 1 for i in config['reorganize_layers']])}), the patches still held as their "
            f"own token; greyed patches were dropped or fused. Left: the model fine-tuned at keep rate "
            f"{num('visual_keep', config['keep_rate'])} with fusion; right: the baseline with the same reorganisation "
            "switched on, no training.")


def _what_we_see(records: dict, verdicts: dict, num: _Numbers) -> str:
    text, words = [], {k: verdict_words(c.verdict) for k, c in verdicts.items()}
    speed, gmacs, accuracy = verdicts["speed_at_0.7"], verdicts["gmac_ratio"], verdicts["accuracy_at_0.7"]
    if speed.our_value is not None:
        cost = {(p["keep_rate"], p["fuse"]): p for p in records["cost"]["result"]["points"]}
        ratio = cost[(1.0, None)]["gmacs"] / cost[(0.7, True)]["gmacs"]
        promise = ("as the Model Zoo's GMACs promise at every keep rate" if gmacs.verdict == "reproduced" else
                   "against the Model Zoo's GMAC ratios")
        text.append(f"At keep rate {num('headline_keep', 0.7)} with fusion our model counts "
                    f"{num('gmac_ratio_07', ratio, '.2f')}x fewer multiply-adds than without reorganisation, {promise} "
                    f"(claim {words['gmac_ratio']}); this machine runs it {num('speedup', speed.our_value, '.2f')}x as "
                    "fast" + (f" (± {num('speedup_se', speed.spread, '.2f')} over the timing rounds)" if speed.spread
                              else "")
                    + f", against the paper's {num('paper_speedup', speed.paper_value)}x: {words['speed_at_0.7']}."
                    + (" Selecting and gathering tokens costs time the multiply-add count leaves out, and in a model "
                       "this small the operations that do not shrink with the tokens weigh more."
                       if speed.our_value < ratio else ""))
    if accuracy.our_value is not None:
        text.append(f"Against the control fine-tuned with the same budget, its accuracy changes by "
                    f"{num('accuracy_change', accuracy.our_value, '+.2f')} ± {num('accuracy_se', accuracy.spread, '.2f')} "
                    f"points ({_seeds(num, 'accuracy_n', accuracy.n)}; the paper: "
                    f"{num('paper_change', accuracy.paper_value, '+.1f')}): {words['accuracy_at_0.7']}.")
    shape, drop = verdicts["accuracy_falls_with_keep_rate"], verdicts["drop_0.7_to_0.5"]
    if shape.our_value is not None:
        text.append(f"Across the fine-tuned keep rates, accuracy falls by {num('shape_drop', shape.our_value, '.2f')} ± "
                    f"{num('shape_se', shape.spread, '.2f')} points from the highest to the lowest (the zoo: "
                    f"{num('zoo_shape_drop', shape.paper_value)})"
                    + (", with no step that rises beyond its noise" if shape.verdict in ("reproduced", "within_noise")
                       else "") + f": {words['accuracy_falls_with_keep_rate']}.")
    if drop.our_value is not None:
        text.append(f"From keep rate {num('headline_keep', 0.7)} to {num('low_keep', 0.5)} it drops "
                    f"{num('drop', drop.our_value, '.2f')} ± {num('drop_se', drop.spread, '.2f')} points, the zoo "
                    f"{num('zoo_drop', drop.paper_value)}: {words['drop_0.7_to_0.5']}.")
    fusion = verdicts["fusion_helps_at_0.5"]
    if fusion.our_value is not None:
        text.append(f"Fusing the inattentive tokens instead of dropping them at keep rate {num('low_keep', 0.5)} gains "
                    f"{num('fusion_gain', fusion.our_value, '+.2f')} ± {num('fusion_se', fusion.spread, '.2f')} points "
                    f"after fine-tuning ({_seeds(num, 'fusion_n', fusion.n)}; the zoo: "
                    f"{num('zoo_fusion', fusion.paper_value, '+.1f')}): {words['fusion_helps_at_0.5']}; the zoo's "
                    "difference is itself too small for one training run to tell apart, so this is a weak claim on "
                    "both sides.")
    training = verdicts["train_with_reorganization"]
    if training.our_value is not None:
        text.append(f"Fine-tuning with the reorganisation gains {num('train_gain', training.our_value, '+.2f')} ± "
                    f"{num('train_se', training.spread, '.2f')} points over applying it to the baseline off the shelf "
                    "(the claim also compares it with the control, fine-tuned without reorganisation, then switched to "
                    f"it): {words['train_with_reorganization']}.")
    resolution = verdicts["higher_resolution"]
    if resolution.our_value is not None:
        high = records["resolution"][0]["result"]
        base = records["offshelf"]["config"]["model_config"]["image_size"]
        text.append(f"At {num('high_px', high['image_size'])} pixels instead of {num('image_size', base)} (the images "
                    f"upsampled, so no new detail: only more and smaller patches), with keep rate "
                    f"{num('high_keep', high['keep_rate'])} so that it counts no more multiply-adds than the "
                    f"{num('image_size', base)}-pixel model ({num('high_gmacs', high['gmacs'], '.4f')} against "
                    f"{num('base_gmacs', high['base_gmacs'], '.4f')} GMACs), the fine-tuned EViT scores "
                    f"{num('high_gain', resolution.our_value, '+.2f')} ± {num('high_se', resolution.spread, '.2f')} "
                    f"points against the control ({_seeds(num, 'high_n', resolution.n)}; the paper: "
                    f"{num('paper_high_gain', resolution.paper_value, '+.0f')} at DeiT-S's cost on ImageNet): "
                    f"{words['higher_resolution']}.")
    config = records["offshelf"]["config"]["model_config"]
    text.append(f"Our images have {num('tokens', (config['image_size'] // config['patch_size']) ** 2)} patches rather "
                f"than {num('paper_tokens', paper_tokens())}, and the model is far "
                "smaller and shorter-trained than DeiT-S, so a dropped token removes a larger share of the image and "
                "the attention that ranks the tokens is less settled: compare the direction of the effects, not their "
                "size.")
    return " ".join(text)


def _build(records: dict) -> tuple[dict[str, str], dict[str, float]]:
    num = _Numbers()
    verdicts = {c.id: c for c in records.get("claims") or claims(records)}
    parts = {"intro": _intro(num), "paper_models": _paper_models(num), "data": _data(records, num),
             "layers": _layers(records, num), "training": _training(records, num), "speed": _speed(records, num),
             "keep_rate_caption": _keep_rate_caption(records, num), "tradeoff_caption": _tradeoff_caption(verdicts, num),
             "tokens_caption": _tokens_caption(records, num), "what_we_see": _what_we_see(records, verdicts, num)}
    return parts, num.values


DIFFERS = ("data", "layers", "training", "speed")  # the bullets of "How this run differs from the paper"


def parts(records: dict) -> dict[str, str]:
    """The page's prose by place: "intro", "paper_models", the bullets of `DIFFERS`, the captions of the
    three figures ("keep_rate_caption", "tradeoff_caption", "tokens_caption") and "what_we_see"."""
    return _build(records)[0]


def facts(records: dict) -> dict[str, float]:
    """Every number `parts` prints, by name."""
    return _build(records)[1]
