"""The ViTPose chapter's prose, built from the same records and claims as its tables: every sentence
that states a number, a comparison or a verdict, the figures' captions included. Each number goes
through `_Numbers`, which formats it and keeps it under a name, so `facts(records)` lists every
number the prose prints (`readers.prose`, `readers.prose_parts`, `readers.facts` and
`readers.summary` are the entry points). The bullets of "How this run differs" and the pretraining's
sentences are in `setting.py`. Also the page's text tables (setup, data, claims)."""
from __future__ import annotations

import math
import statistics

import pandas as pd

from ...prose import Numbers, verdict_words
from ...claims import Claim, claims_table
from .config import BACKBONE_LABELS, BACKBONES, PAPER
from .readers import (PAPER_ROWS, SHOWN_SCORE, ablation_table, backbone_stride, claims, classic_ap, feature_map,
                      paired_gaps, paper_curve_loss, paper_map, paper_relative_loss, thresholds, vit_history)
from .setting import (START_WORDS, boxes_bullet, class_token_bullet, data_bullet, first_config, heatmaps_bullet,
                      pretrain_caption, pretraining_bullet, pretraining_text, recipe_bullet, scale_bullet, start,
                      stride_bullet)

# "How this run differs", as bullets (setting.py)
DIFFERS = ("data", "pretraining", "scale", "stride", "recipe", "heatmaps", "boxes", "class_token")
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
    ours, paper, stride = feature_map(records, "resnet"), paper_map("resnet"), backbone_stride(
        first_config(records, "resnet")["model_config"])
    simple = statistics.mean(100 * r["result"]["final"]["AP"] for (b, d, _), r in records["train"].items()
                             if (b, d) == ("resnet", "simple"))
    official = PAPER["official_config"]["value"]
    heatmap_stride = official["input"][0] // official["heatmap"][0]
    if ours[0] >= paper[0] and ours[1] >= paper[1]:
        return ""
    return (f"A plausible reason the ResNet's simple decoder scores {num('resnet_simple_ap', simple, '.2f')} AP here, "
            f"where the paper's keeps {num('paper_cnn_simple', PAPER['table2']['value'][(PAPER_ROWS['resnet'], 'simple')][0])}: "
            f"its last stage is a stride-{num('resnet_stride', stride)} map, "
            f"{num.size('resnet_map', ours)} on our crops, so one bilinear upsampling by "
            f"{num('resnet_upsampling', stride // heatmap_stride)} spreads each of its few cells over a large "
            "share of the person, while the classic decoder learns its upsampling; the paper's ResNet sees "
            f"{num.size('paper_resnet_map', paper)} cells. At this geometry the simple decoder's loss says little about "
            "the loss of precision the paper reports.")


def _carry_over(records: dict) -> str:
    if records["data"]["config"]["dataset"] == "coco":
        return ""
    pretrained = all(start(records, b) == "pretrain" for b in BACKBONES)
    how = ("pretrained briefly on small natural images and then trained" if pretrained else
           "trained from scratch (or from the weights INIT_ENV named)")
    return ("What does not carry over: the paper's ViTs are pretrained at length on ImageNet and large, ours are small, "
            f"{how} for a few epochs on generated figures, so absolute APs are not comparable to COCO's.")


def _build(records: dict) -> tuple[dict[str, str], dict[str, float]]:
    num = _Numbers()
    found = records.get("claims") or claims(records)
    verdicts = {c.id: c for c in found}
    parts = {"paper": _paper(num), "counts": _counts(found, num), "data": data_bullet(records, num),
             "pretraining": pretraining_bullet(records, num), "scale": scale_bullet(records, num),
             "stride": stride_bullet(records, num), "recipe": recipe_bullet(records, num), "boxes": boxes_bullet(num),
             "heatmaps": heatmaps_bullet(records, num), "class_token": class_token_bullet(records),
             "pretrain_text": pretraining_text(records, num), "pretrain_caption": pretrain_caption(records, num),
             "baseline": _baseline(records, num), "gaps": _gaps(records, num),
             "curves": _curves(records, verdicts, num), **_captions(records, num), "coco_mini": _coco_mini(records, num),
             "cost": _cost(records, verdicts, num), "findings": _findings(records, num),
             "verdicts": _verdicts(records, verdicts, num), "mechanism": _mechanism(records, num),
             "carry_over": _carry_over(records)}
    return {name: text for name, text in parts.items() if text}, num.values


def parts(records: dict) -> dict[str, str]:
    """The page's prose by place: the paper in brief and the claims counted, the bullets of "how this run
    differs" (`DIFFERS`), the pretraining's paragraph and caption (where the run pretrained), the data,
    ablation and curve paragraphs, the figure captions, the out-of-domain
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
                                for _, row in ablation.iterrows())
                      + "; " + ", ".join(f"{BACKBONE_LABELS[b]} from {START_WORDS[start(records, b)]}" for b in BACKBONES),
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
