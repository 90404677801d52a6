"""The ViTPose chapter's prose, built from the same records and claims as its tables: every sentence
that states a number, a comparison or a verdict, the figures' captions included. Each number goes
through `_Numbers`, which formats it and keeps it under a name, so `facts(records)` lists every
number the prose prints (`readers.prose`, `readers.prose_parts`, `readers.facts` and
`readers.summary` are the entry points). Also the page's text tables (setup, data, claims)."""
from __future__ import annotations

import math
import statistics

import pandas as pd

from ...prose import Numbers, verdict_words
from ...claims import Claim, claims_table
from .config import BACKBONE_LABELS, BACKBONES, PAPER
from .readers import (PAPER_ROWS, RESNET_STRIDE, SHOWN_SCORE, ablation_table, claims, classic_ap,
                      feature_map, paired_gaps, paper_curve_loss, paper_map, paper_relative_loss,
                      thresholds, vit_history)

DIFFERS = ("data", "scale", "recipe", "heatmaps", "boxes", "class_token")   # "How this run differs", as bullets
FINDINGS = ("findings", "verdicts", "mechanism", "carry_over")  # "What we see", as paragraphs
DECODER_CLAIMS = {"decoder_gap_cnn_vs_vit": "the CNN loses a larger share of its AP than the ViT",
                  "cnn_needs_classic_decoder": "the CNN needs the classic decoder",
                  "vit_simple_decoder_enough": "the ViT does not",
                  "cnn_loss_is_precision": "the CNN's loss is one of precision",
                  "simple_catches_up": "the ViT's simple decoder catches up during training"}
COUNT_CLAIMS = {"vitpose_b_params": "parameters", "vitpose_b_gflops": "multiply-adds"}
KIND_WORDS = {"paper": ("finding of the paper", "findings of the paper"),
              "implementation": ("implementation check", "implementation checks"),
              "sanity": ("check of this book's set-up", "checks of this book's set-up"),
              "beyond": ("question beyond the paper", "questions beyond the paper")}


class _Numbers(Numbers):
    """`Numbers`, with this chapter's formats."""

    def size(self, name: str, sides) -> str:
        """A (rows, columns) size as "rows×columns"."""
        return f"{self(f'{name}_rows', sides[0])}×{self(f'{name}_columns', sides[1])}"


# ---- the paper, and the claims at a glance ----

def _paper(num: _Numbers) -> str:
    official = PAPER["official_config"]["value"]
    cnn, vit = PAPER_ROWS["resnet"], PAPER_ROWS["vit"]
    table2 = PAPER["table2"]["value"]
    gap_numbers = {key: float(text.split()[-2]) for key, text in PAPER["gap_text"]["value"].items()}
    for key, value in gap_numbers.items():
        num(f"paper_gap_text_{key}", value)
    return (f"In the paper a person crop of {num.size('paper_input', official['input'])} pixels becomes a "
            f"{num.size('paper_vit_map', paper_map('vit'))} map of patch features (patch "
            f"{num('paper_patch', official['patch'])}), decoded into heatmaps of "
            f"{num.size('paper_heatmap', official['heatmap'])} (the official config). Paper Table "
            f"{num('table2', 2)}: the simple decoder costs a ResNet backbone {PAPER['gap_text']['value']['resnet']} "
            f"({num('paper_cnn_loss', paper_relative_loss(cnn), '.1f')} % of {cnn}'s "
            f"{num('paper_cnn_classic', table2[(cnn, 'classic')][0])} AP) and a ViT {PAPER['gap_text']['value']['vit']} "
            f"({num('paper_vit_loss', paper_relative_loss(vit), '.1f')} % of {vit}'s "
            f"{num('paper_vit_classic', table2[(vit, 'classic')][0])}).")


def _counts(found: list[Claim], num: _Numbers) -> str:
    """The claims counted by kind and verdict, and what "not testable here" means for the decoder claims."""
    groups = []
    for kind, (one, many) in KIND_WORDS.items():
        of_kind = [c for c in found if c.kind == kind]
        if of_kind:
            verdicts = {}
            for c in of_kind:
                verdicts[c.verdict] = verdicts.get(c.verdict, 0) + 1
            groups.append(f"{num(f'claims_{kind}', len(of_kind))} {one if len(of_kind) == 1 else many} ("
                          + ", ".join(f"{num(f'claims_{kind}_{v}', n)} {verdict_words(v)}" for v, n in verdicts.items())
                          + ")")
    t = thresholds()
    return (f"This run's claims: {'; '.join(groups)}. The headline counts findings of the paper only. A decoder "
            f"claim is judged only where this run is in the paper's regime (its gate): a classic-decoder AP of at "
            f"least {num('min_classic_ap', t['min_classic_ap'], '.1f')} (the paper's {PAPER_ROWS['resnet']} loss: "
            f"below it a loss of that size cannot occur) and a last feature map at least the paper's "
            f"({num.size('paper_vit_map', paper_map('vit'))} for the ViT, "
            f"{num.size('paper_resnet_map', paper_map('resnet'))} for a ResNet); outside it the claim is not testable "
            "here, which counts neither for nor against the paper.")


# ---- how this run differs ----

def _data(records: dict, num: _Numbers) -> str:
    data, dataset = records["data"]["result"], records["data"]["config"]["dataset"]
    people = (f"{num('train_people', data['train']['people'], ',')} train / {num('val_people', data['val']['people'], ',')} "
              f"val people in {num('train_images', data['train']['images'], ',')} / "
              f"{num('val_images', data['val']['images'], ',')} images")
    if dataset == "coco":
        return f"**Data.** COCO train2017 / val2017, as in the paper: {people}."
    return ("**Data.** The paper trains on COCO train2017 and reports COCO val2017. This run trains and evaluates on "
            f"*generated* people (`patchlib.pose.synthetic`), {people}: figures with COCO's keypoints and skeleton, "
            "varied scale, rotation, clothing, backgrounds, clutter, occluders and overlapping people, with COCO "
            "visibility flags and boxes, read by the same loader and scored by the same COCOeval. Their AP measures "
            "the same thing as COCO's but is not comparable to it in value. Only the gpu profile reads COCO.")


def _scale(records: dict, num: _Numbers) -> str:
    config = {b: next(r for (bb, _, _), r in sorted(records["train"].items()) if bb == b)["config"] for b in BACKBONES}
    vit = config["vit"]["model_config"]["backbone"]
    init = ", ".join(f"{BACKBONE_LABELS[b]} from {'pretrained' if config[b].get('init') else 'random'} weights"
                     for b in BACKBONES)
    official = PAPER["official_config"]["value"]
    return ("**Small models, from scratch.** The paper's backbones are MAE-pretrained ViTs (B, L, H) and "
            "ImageNet-pretrained ResNets; `PATCHLIB_VITPOSE_VIT_INIT` / `PATCHLIB_VITPOSE_RESNET_INIT` load "
            f"pretrained weights, and the records say which. Ours: a {num('vit_depth', vit['depth'])}-layer, "
            f"{num('vit_dim', vit['dim'])}-wide ViT (`{config['vit']['model']}`) and `{config['resnet']['model']}` "
            f"({init}) on {num.size('crop', config['vit']['model_config']['image_size'])} crops: the ViT's feature "
            f"map is {num.size('vit_map', feature_map(records, 'vit'))} (the paper's "
            f"{num.size('paper_vit_map', paper_map('vit'))}), the ResNet's "
            f"{num.size('resnet_map', feature_map(records, 'resnet'))} (the paper's "
            f"{num.size('paper_resnet_map', paper_map('resnet'))}); the classic decoder is {num('deconv', config['vit']['model_config']['deconv_channels'])} channels wide "
            f"(the official config: {num('paper_deconv', official['deconv_filters'])}).")


def _vit_config(records: dict) -> dict:
    """The config of the first ViT training run."""
    return next(r for (b, _, _), r in sorted(records["train"].items()) if b == "vit")["config"]


def _recipe(records: dict, num: _Numbers) -> str:
    config = _vit_config(records)
    train, augment, paper = config["train"], config["augment"], PAPER["table1"]["value"]
    # Records from before the backbone had drop path have no field: they ran without it.
    drop_path = config["model_config"]["backbone"].get("drop_path", 0.0)
    official = PAPER["official_config"]["value"]
    layer = "none" if train["layer_decay"] is None else num("layer_decay", train["layer_decay"])
    steps = " and ".join(f"{num(f'milestone_{i}', 100 * m, '.0f')} %" for i, m in enumerate(train["milestones"]))
    return (f"**Recipe.** AdamW with the paper's weight-decay rules, a linear warm-up of "
            f"{num('warmup', train['warmup_steps'])} steps and step decay (÷{num('lr_divisor', paper['lr_divisor'])} "
            f"at {steps} of training; the paper: epochs {num('paper_milestone_0', paper['milestones'][0])} and "
            f"{num('paper_milestone_1', paper['milestones'][1])} of {num('paper_epochs', paper['epochs'])}). This run: "
            f"{num('epochs', train['epochs'])} epochs, batch {num('batch', train['batch_size'])}, peak lr "
            f"{num('lr', train['lr'], 'g')}, weight decay {num('weight_decay', train['weight_decay'], 'g')}, layer-wise "
            f"decay {layer}, {train['precision']}; the paper: batch {num('paper_batch', paper['batch'])}, lr "
            f"{num('paper_lr', paper['lr'], 'g')}, weight decay {num('paper_weight_decay', paper['weight_decay'], 'g')}, "
            f"layer-wise decay {num('paper_layer_decay', paper['layer_decay'], 'g')}, drop path "
            f"{num('paper_drop_path', paper['drop_path'], 'g')} (this run's ViT: {num('drop_path', drop_path, 'g')}). "
            "The official "
            f"pipeline flips with probability {num('paper_flip', official['flip'], 'g')}, scales by a factor up to "
            f"{num('paper_scale', official['scale_factor'], 'g')}, rotates by up to "
            f"{num('paper_rotation', official['rotation_factor'])}° and crops half bodies with probability "
            f"{num('paper_half_body', official['half_body_prob'], 'g')}; this run: flip "
            f"{num('flip', augment['flip'], 'g')}, scale {num('scale', augment['scale'], 'g')}, rotation "
            f"{num('rotation', augment['rotation'], 'g')}° (probability {num('rotation_prob', augment['rotation_prob'], 'g')}), "
            f"half bodies {num('half_body', augment['half_body_prob'], 'g')}.")


def _boxes(num: _Numbers) -> str:
    return ("**Boxes at evaluation.** The paper evaluates on person boxes from a detector "
            f"({num('detector_ap', PAPER['official_config']['value']['detector_ap'])} AP, named in the official config); "
            "we use the ground-truth boxes, which removes detection errors from every row alike.")


CLASS_TOKEN = ("**Class token.** The book's ViT keeps its class token in the sequence; only the patch tokens are "
               "reshaped into the feature map (ViTPose has no class token).")

# The methods of the records computed before PoseTrainConfig named its target and decoding methods.
EARLIER_HEATMAPS = {"target": "udp_inside", "decoding": "newton"}


def _class_token(records: dict) -> str:
    """Only for records of the earlier backbone (a ViT classifier's encoder, before `patch_padding`): since
    then the ViT is the official one (padded patch embedding, no class token, parity-tested)."""
    return "" if "patch_padding" in _vit_config(records)["model_config"]["backbone"] else CLASS_TOKEN


def _heatmaps(records: dict, num: _Numbers) -> str:
    """The heatmap targets and decoding, where they are not ViTPose's."""
    train = _vit_config(records)["train"]
    target, decoding = (train.get(key, EARLIER_HEATMAPS[key]) for key in ("target", "decoding"))
    if (target, decoding) == ("udp_window", "dark_udp"):
        return ""
    official = PAPER["official_config"]["value"]
    window = 6 * official["sigma"] + 1
    ours = []
    if target != "udp_window":
        ours.append("trains on untruncated Gaussians, with weight 0 for keypoints outside the crop")
    if decoding != "dark_udp":
        ours.append("decodes by the Newton step alone, without the blur")
    return (f"**Heatmaps.** ViTPose cuts each target Gaussian (sigma {num('paper_sigma', official['sigma'])}) to a "
            f"{num('paper_window', window)}×{num('paper_window', window)} window, so keypoints just outside the crop "
            f"still train a partial Gaussian, and decodes by DARK-UDP (a Gaussian blur of size "
            f"{num('paper_blur_kernel', official['blur_kernel'])}, then a Newton step on the log-heatmap); this run: "
            f"{'; '.join(ours)} (`{target}`, `{decoding}` in `patchlib.pose.heatmaps`).")


# ---- the data, the ablation, the curves, the predictions, the cost ----

def _baseline(records: dict, num: _Numbers) -> str:
    baseline = records["data"]["result"]["mean_pose_baseline"]
    return (f"**Mean-pose baseline** (val): AP {num('baseline_ap', 100 * baseline['AP'], '.1f')}, AP50 "
            f"{num('baseline_ap50', 100 * baseline['AP50'], '.1f')}, AR {num('baseline_ar', 100 * baseline['AR'], '.1f')}.")


def _gaps(records: dict, num: _Numbers) -> str:
    gaps, losses = paired_gaps(records), paired_gaps(records, relative=True)
    points = "; ".join(f"{BACKBONE_LABELS[b]} " + ", ".join(num(f"gap_{b}_{i}", v, "+.2f") for i, v in enumerate(gaps[b]))
                       for b in BACKBONES)
    shares = "; ".join(f"{BACKBONE_LABELS[b]} " + ", ".join("—" if math.isnan(v) else num(f"loss_{b}_{i}", v, ".1f")
                                                             for i, v in enumerate(losses[b])) for b in BACKBONES)
    return (f"**Classic minus simple, per seed:** {points} AP points; as a share of the classic decoder's AP: {shares} "
            f"%. Paper Table {num('table2', 2)} (status: {PAPER['table2']['status']}):")


def _curves(records: dict, verdicts: dict, num: _Numbers) -> str:
    curves, history = PAPER["curves"], vit_history(records)
    epochs = sorted(e for e, v in history.items() if {"classic", "simple"} <= set(v))
    mean = lambda e, d: statistics.mean(history[e][d])
    ours = " and by ".join(f"{num(f'curve_gap_{e}', mean(e, 'classic') - mean(e, 'simple'), '.2f')} AP at epoch "
                           f"{num(f'curve_epoch_{e}', e)} (classic AP {num(f'curve_classic_{e}', mean(e, 'classic'), '.2f')})"
                           for e in (epochs[0], epochs[-1]))
    claim = verdicts.get("simple_catches_up")
    return (f"The official ViTPose-B logs' simple decoder trails the classic one by "
            f"{num('paper_curve_gap_first', 100 * (curves['classic'][0] - curves['simple'][0]), '.1f')} AP "
            f"({num('paper_curve_loss_first', paper_curve_loss(0), '.1f')} % of the classic AP) after "
            f"{num('paper_curve_epoch_first', curves['epochs'][0])} epochs and by "
            f"{num('paper_curve_gap_last', 100 * (curves['classic'][-1] - curves['simple'][-1]), '.1f')} "
            f"({num('paper_curve_loss_last', paper_curve_loss(-1), '.1f')} %) after "
            f"{num('paper_curve_epoch_last', curves['epochs'][-1])}. Our ViT's simple decoder trails by {ours}"
            + (f"; the claim is {verdict_words(claim.verdict)}." if claim else "."))


def _captions(records: dict, num: _Numbers) -> dict[str, str]:
    table = ablation_table(records)
    seeds = sorted({int(s) for s in table["seeds"]})
    data = records["data"]["result"]["train"]
    epochs = next(iter(records["train"].values()))["config"]["train"]["epochs"]
    return {
        "data_caption": (f"Generated training images with their boxes and labelled keypoints (the training split: "
                         f"{num('train_images', data['images'], ',')} images, {num('train_people', data['people'], ',')} "
                         "people)."),
        "ablation_caption": (f"Left: paper Table {num('table2', 2)} (COCO val, "
                             f"{num.size('paper_input', PAPER['official_config']['value']['input'])}). Right: ours "
                             f"({' or '.join(num(f'seeds_{s}', s) for s in seeds)} seeds per model; bars: mean, error "
                             "bars: one standard deviation)."),
        "curves_caption": (f"Validation AP against epoch. Left: the official ViTPose-B logs (COCO val, "
                           f"{num('paper_epochs', PAPER['table1']['value']['epochs'])} epochs). Right: ours "
                           f"({num('epochs', epochs)} epochs; mean over seeds, band: min to max)."),
        "qualitative_caption": (f"Held-out generated people, one row per model (seed "
                                f"{num('qualitative_seed', records['qualitative']['config']['seed'])}): ground truth in "
                                "white, predictions in colour (blue: classic decoder, orange: simple; keypoints whose "
                                f"heatmap peak is below {num('shown_score', SHOWN_SCORE, 'g')} are not drawn)."),
    }


def _coco_mini(records: dict, num: _Numbers) -> str:
    coco = records["qualitative"]["result"]["coco_mini"]
    note = records["qualitative"]["result"].get("coco_mini_note")
    if coco is None and note:  # the fixture was found but could not be read: say so, not "absent"
        return f"*{note[0].upper()}{note[1:]}.*"
    if coco is None:
        return ("This run has no predictions on real people: it was computed without the coco-mini-val2017 fixture "
                "(put `coco-mini-val2017.tar.gz` in the data root and recompute the qualitative record to add them).")
    return (f"**Out of domain.** On the {num('coco_people', coco['people'])} real people of the coco-mini-val2017 "
            f"fixture our ViT + classic model, trained only on generated figures, scores AP "
            f"{num('coco_ap', 100 * coco['scores']['AP'], '.1f')} (AP50 {num('coco_ap50', 100 * coco['scores']['AP50'], '.1f')}): "
            "the generated people teach the mechanism, not what real people look like.")


def _cost(records: dict, verdicts: dict, num: _Numbers) -> str:
    sizes = sorted({tuple(row["image_size"]) for row in records["cost"]["result"]["models"].values()}, reverse=True)
    counts = [verdicts[i] for i in ("vitpose_b_params", "vitpose_b_gflops") if i in verdicts]
    text = ("Parameters, multiply-adds counted by `torch.utils.flop_counter` for one crop, and inference throughput "
            "measured on the machine the provenance line names, for the paper's models (random weights) and ours, "
            f"each at its crop ({', '.join(num.size(f'cost_size_{i}', s) for i, s in enumerate(sizes))}); the "
            "paper's parameters and A100 speed beside them, with their status. These totals include the decoder")
    if not counts:
        return text + "."
    return text + (f"; the paper's {num('paper_params', PAPER['table9']['value']['ViTPose-B']['params_m'])} M and "
                   f"{num('paper_gflops', PAPER['table6_gflops']['value'])} GFLOPs count ViTPose-B's backbone alone, "
                   "so the claims compare the backbone's counts where the record holds them: "
                   + "; ".join(f"{COUNT_CLAIMS[c.id]}: {verdict_words(c.verdict)}" for c in counts)
                   + (" (the cost record does not separate the backbone)" if any(c.verdict == "not_testable_here"
                                                                                 for c in counts) else "") + ".")


# ---- what we see ----

def _findings(records: dict, num: _Numbers) -> str:
    losses, gaps = paired_gaps(records, relative=True), paired_gaps(records)
    baseline = 100 * records["data"]["result"]["mean_pose_baseline"]["AP"]
    share = lambda b: ("—" if math.isnan(statistics.mean(losses[b])) else
                       num(f"mean_loss_{b}", statistics.mean(losses[b]), ".1f"))
    return (f"With the classic decoder our ViT reaches {num('vit_classic_ap', classic_ap(records, 'vit'), '.1f')} AP and "
            f"our ResNet {num('resnet_classic_ap', classic_ap(records, 'resnet'), '.1f')} (mean-pose baseline: "
            f"{num('baseline_ap', baseline, '.1f')}). The simple decoder loses the ResNet {share('resnet')} % of its "
            f"classic AP ({num('mean_gap_resnet', statistics.mean(gaps['resnet']), '.2f')} points) and the ViT "
            f"{share('vit')} % ({num('mean_gap_vit', statistics.mean(gaps['vit']), '.2f')} points); the paper: "
            f"{num('paper_cnn_loss', paper_relative_loss(PAPER_ROWS['resnet']), '.1f')} % for {PAPER_ROWS['resnet']} and "
            f"{num('paper_vit_loss', paper_relative_loss(PAPER_ROWS['vit']), '.1f')} % for {PAPER_ROWS['vit']}.")


def _verdicts(records: dict, verdicts: dict, num: _Numbers) -> str:
    judged = [verdicts[i] for i in DECODER_CLAIMS if i in verdicts]
    said = "; ".join(f"{DECODER_CLAIMS[c.id]}: {verdict_words(c.verdict)}" for c in judged)
    t, short = thresholds(), []
    for b in BACKBONES:
        ours, paper, ap = feature_map(records, b), paper_map(b), classic_ap(records, b)
        if ap < t["min_classic_ap"]:
            short.append(f"the {BACKBONE_LABELS[b]}'s classic AP ({num(f'{b}_classic_ap', ap, '.2f')}) is below "
                         f"{num('min_classic_ap', t['min_classic_ap'], '.1f')}")
        if ours[0] < paper[0] or ours[1] < paper[1]:
            short.append(f"the {BACKBONE_LABELS[b]}'s last feature map is {num.size(f'{b}_map', ours)} against the "
                         f"paper's {num.size(f'paper_{b}_map', paper)}")
    text = f"Verdicts of the decoder claims: {said}."
    if short:
        text += (f" This run is outside the paper's regime: {'; '.join(short)}. Judging the claims needs runs at the "
                 f"paper's crop ({num.size('paper_input', PAPER['official_config']['value']['input'])}) with models "
                 f"that reach at least {num('min_classic_ap', t['min_classic_ap'], '.1f')} AP with the classic decoder.")
    return text


def _mechanism(records: dict, num: _Numbers) -> str:
    ours, paper = feature_map(records, "resnet"), paper_map("resnet")
    simple = statistics.mean(100 * r["result"]["final"]["AP"] for (b, d, _), r in records["train"].items()
                             if (b, d) == ("resnet", "simple"))
    official = PAPER["official_config"]["value"]
    heatmap_stride = official["input"][0] // official["heatmap"][0]
    if ours[0] >= paper[0] and ours[1] >= paper[1]:
        return ""
    return (f"A plausible reason the ResNet's simple decoder scores {num('resnet_simple_ap', simple, '.2f')} AP here, "
            f"where the paper's keeps {num('paper_cnn_simple', PAPER['table2']['value'][(PAPER_ROWS['resnet'], 'simple')][0])}: "
            f"its last stage is a stride-{num('resnet_stride', RESNET_STRIDE)} map, "
            f"{num.size('resnet_map', ours)} on our crops, so one bilinear upsampling by "
            f"{num('resnet_upsampling', RESNET_STRIDE // heatmap_stride)} spreads each of its few cells over a large "
            "share of the person, while the classic decoder learns its upsampling; the paper's ResNet sees "
            f"{num.size('paper_resnet_map', paper)} cells. At this geometry the simple decoder's loss says little about "
            "the loss of precision the paper reports.")


def _carry_over(records: dict) -> str:
    if records["data"]["config"]["dataset"] == "coco":
        return ""
    return ("What does not carry over: the paper's ViTs are MAE-pretrained and large, ours are small and trained from "
            "scratch for a few epochs on generated figures, so absolute APs are not comparable to COCO's.")


def _build(records: dict) -> tuple[dict[str, str], dict[str, float]]:
    num = _Numbers()
    found = records.get("claims") or claims(records)
    verdicts = {c.id: c for c in found}
    parts = {"paper": _paper(num), "counts": _counts(found, num), "data": _data(records, num),
             "scale": _scale(records, num), "recipe": _recipe(records, num), "boxes": _boxes(num),
             "heatmaps": _heatmaps(records, num), "class_token": _class_token(records),
             "baseline": _baseline(records, num), "gaps": _gaps(records, num),
             "curves": _curves(records, verdicts, num), **_captions(records, num), "coco_mini": _coco_mini(records, num),
             "cost": _cost(records, verdicts, num), "findings": _findings(records, num),
             "verdicts": _verdicts(records, verdicts, num), "mechanism": _mechanism(records, num),
             "carry_over": _carry_over(records)}
    return {name: text for name, text in parts.items() if text}, num.values


def parts(records: dict) -> dict[str, str]:
    """The page's prose by place: the paper in brief and the claims counted, the bullets of "how this run
    differs" (`DIFFERS`), the data, ablation and curve paragraphs, the figure captions, the out-of-domain
    note, the cost note and the paragraphs of "what we see" (`FINDINGS`)."""
    return _build(records)[0]


def facts(records: dict) -> dict[str, float]:
    """Every number `parts` prints, by name."""
    return _build(records)[1]


# ---- the page's text tables ----

def setup_table(records: dict):
    """The paper's setting (Table 1, §4.1) beside this run's: data, models, training, crop."""
    ablation = ablation_table(records)
    config = next(iter(records["train"].values()))["config"]
    train, data = config["train"], records["data"]["result"]
    ours = {"data": f"{records['data']['config']['dataset']}: {data['train']['people']:,} train / "
                    f"{data['val']['people']:,} val people ({data['train']['images']:,} / {data['val']['images']:,} images)",
            "models": ", ".join(f"{row['model']} + {row['decoder']} ({row['params (M)']:.2f} M)"
                                for _, row in ablation.iterrows()),
            "training": f"{train['epochs']} epochs, batch {train['batch_size']}, AdamW lr {train['lr']}, weight decay "
                        f"{train['weight_decay']}, {train['schedule']} schedule, {train['precision']}; "
                        "augmentation " + ", ".join(f"{name.replace('_', ' ')} {value:g}"
                                                    for name, value in config["augment"].items())
                        + f"; {ablation['seeds'].iloc[0]} seeds per model",
            "crop": "x".join(map(str, config["model_config"]["image_size"]))}
    return pd.DataFrame({"paper": PAPER["setup"]["value"], "paper status": PAPER["setup"]["status"], "ours": ours})


def data_table(records: dict):
    """The data record's statistics per split, formatted (counts with separators, others 3 decimals)."""
    data = records["data"]["result"]
    stats = pd.DataFrame({split: data[split] for split in ("train", "val")})
    return stats.map(lambda v: f"{v:,.0f}" if float(v).is_integer() else f"{v:.3f}")


def claims_frame(found: list[Claim]):
    """The claims table of the page: `claims.claims_table` (kind, verdict in words, gate and rule under the
    evidence) with the paper value's status beside the paper value."""
    table = claims_table(found)
    table.insert(table.columns.get_loc("paper") + 1, "paper status", [c.paper_status for c in found])
    return table
