"""What the ViTPose chapter reads from its records: the tables and the claims (one function per claim,
each with its kind, the gate of the regime in which it can be judged, and the rule its verdict
follows). It never computes: it reads stored records and `config`. The sentences that state numbers
are built in `prose.py` from the same records (`prose`, `prose_parts`, `facts`, `summary` below)."""
from __future__ import annotations

import math
import statistics

import pandas as pd

from ...claims import (Claim, claim_spread, count_verdict, equal_verdict, gate_text, gated, greater_verdict,
                       mean_and_error, noise_verdict)
from .config import BACKBONE_LABELS, BACKBONES, DECODERS, PAPER, SIZES
from ...prose import entry_points

RESNET_STRIDE = 32   # torchvision's ResNet (SimpleBaseline's, the paper's): its last stage is at 1/32 of the crop
SHOWN_SCORE = 0.05   # the figures leave out predicted keypoints whose heatmap peak is below this
PAPER_ROWS = {"resnet": "ResNet-50", "vit": "ViTPose-B"}   # the rows of Table 2 our two backbones stand for
GFLOPS_SLACK = 0.05  # counters differ on the attention's matrix products; which the paper's counts is not sourced


def _source(record: dict) -> str:  # a record's file, as `common.record_source` writes it
    return f"results/{record['config']['chapter']}/{record['config']['name']}-{record['config_hash']}.json"


# ---- the paper ----

def paper_table():
    """Paper Table 2 as a DataFrame, with the values' status."""
    return pd.DataFrame([{"backbone": backbone, "decoder": decoder} | dict(zip(PAPER["table2"]["columns"], values))
                         | {"status": PAPER["table2"]["status"]}
                         for (backbone, decoder), values in PAPER["table2"]["value"].items()])


def _paper_gap(backbone: str, column: int = 0) -> float:
    """Table 2: classic minus simple for one backbone (column 0: AP, 1: AP50)."""
    table2 = PAPER["table2"]["value"]
    return round(table2[(backbone, "classic")][column] - table2[(backbone, "simple")][column], 1)


def paper_relative_loss(backbone: str, column: int = 0) -> float:
    """Table 2: the share (%) of the classic decoder's AP (column 1: AP50) that the simple decoder loses."""
    return 100 * _paper_gap(backbone, column) / PAPER["table2"]["value"][(backbone, "classic")][column]


def paper_curve_loss(index: int) -> float:
    """The official ViTPose-B logs: the simple decoder's relative AP loss (%) at the `index`-th evaluation."""
    return 100 * (1 - PAPER["curves"]["simple"][index] / PAPER["curves"]["classic"][index])


def paper_map(backbone: str) -> tuple[int, int]:
    """The paper's last feature map (rows, columns) for a backbone at its 256x192 input."""
    official = PAPER["official_config"]["value"]
    stride = official["patch"] if backbone == "vit" else RESNET_STRIDE
    return tuple(side // stride for side in official["input"])


def thresholds() -> dict[str, float]:
    """The gate and the margins of the decoder claims, all from Table 2 and the official logs:
    - min_classic_ap: the paper's ResNet-50 loss in AP (a backbone below it cannot lose that much);
    - midpoint: halfway between the paper's two relative losses (ResNet-50, ViTPose-B): a loss above it
      is nearer the CNN's, below it nearer the ViT's;
    - gap_margin, precision_margin, catch_up_margin: half the paper's effect for each claim."""
    cnn, vit = paper_relative_loss(PAPER_ROWS["resnet"]), paper_relative_loss(PAPER_ROWS["vit"])
    return {"min_classic_ap": _paper_gap(PAPER_ROWS["resnet"]), "midpoint": (cnn + vit) / 2,
            "gap_margin": (cnn - vit) / 2, "precision_margin": (cnn - paper_relative_loss(PAPER_ROWS["resnet"], 1)) / 2,
            "catch_up_margin": (paper_curve_loss(0) - paper_curve_loss(-1)) / 2}


# ---- the decoder ablation (Table 2) ----

def _runs(records: dict, backbone: str, decoder: str) -> list[dict]:  # by seed
    return [record for (b, d, _), record in sorted(records["train"].items()) if (b, d) == (backbone, decoder)]


def ablation_table(records: dict):
    """Our decoder ablation: one row per backbone x decoder, mean and standard deviation over seeds."""
    rows = []
    for backbone, decoder in [(b, d) for b in BACKBONES for d in DECODERS]:
        runs = _runs(records, backbone, decoder)
        row = {"backbone": BACKBONE_LABELS[backbone], "decoder": decoder, "model": runs[0]["config"]["model"],
               "seeds": len(runs)}
        for metric in ("AP", "AP50", "AR", "AR50"):
            values = [100 * record["result"]["final"][metric] for record in runs]
            row |= {metric: statistics.mean(values), f"{metric} sd": statistics.stdev(values) if len(values) > 1 else math.nan}
        rows.append(row | {"params (M)": runs[0]["result"]["parameters"] / 1e6,
                           "train min (mean)": statistics.mean(r["result"]["train_time_s"] for r in runs) / 60})
    return pd.DataFrame(rows)


def _relative(classic: float, simple: float) -> float:
    """The share (%) of `classic` lost in `simple`; nan where the classic model scored nothing."""
    return 100 * (classic - simple) / classic if classic > 0 else float("nan")


def paired_gaps(records: dict, metric: str = "AP", *, relative: bool = False) -> dict[str, list[float]]:
    """Per seed, classic minus simple for each backbone (points x100; `relative`: the share of the classic
    decoder's value lost, %), and the ResNet's gap minus the ViT's ("difference")."""
    seeds_run = sorted({s for (_, _, s) in records["train"]})
    value = {key: record["result"]["final"][metric] for key, record in records["train"].items()}
    gap = _relative if relative else (lambda classic, simple: 100 * (classic - simple))
    gaps = {b: [gap(value[(b, "classic", s)], value[(b, "simple", s)]) for s in seeds_run] for b in BACKBONES}
    gaps["difference"] = [r - v for r, v in zip(gaps["resnet"], gaps["vit"])]
    return gaps


def classic_ap(records: dict, backbone: str) -> float:
    """Mean AP (x100) over seeds of a backbone with the classic decoder."""
    return statistics.mean(100 * r["result"]["final"]["AP"] for r in _runs(records, backbone, "classic"))


def backbone_stride(model_config: dict) -> int:
    """A run's backbone stride, from its model config: the ViT's patch size, or the ResNet's (32 with
    torchvision's last stage, 16 with `last_stride` 1; records from before that field: 32)."""
    backbone = model_config["backbone"]
    return backbone["patch_size"] if "patch_size" in backbone else RESNET_STRIDE * backbone.get("last_stride", 2) // 2


def feature_map(records: dict, backbone: str) -> tuple[int, int]:
    """The last feature map (rows, columns) of our backbone, from its run's model config: crop / stride."""
    config = _runs(records, backbone, "classic")[0]["config"]["model_config"]
    return tuple(side // backbone_stride(config) for side in config["image_size"])


def vit_history(records: dict) -> dict[int, dict[str, list[float]]]:
    """{epoch: {decoder: [AP x100 per seed]}} of the ViT's evaluations during training."""
    per_epoch = {}
    for e, d in [(e, d) for (b, d, _), r in sorted(records["train"].items()) if b == "vit" for e in r["result"]["history"]]:
        if "AP" in e:
            per_epoch.setdefault(e["epoch"], {}).setdefault(d, []).append(100 * e["AP"])
    return per_epoch


# ---- cost (Tables 6 and 9) ----

def cost_table(records: dict):
    measured = records["cost"]["result"]["models"]
    # The order of the paper's models in the profile, then ours (a stored record's keys are sorted).
    order = [f"{label} {decoder}" for label in SIZES[records["cost"]["config"]["profile"]].cost_models
             for decoder in DECODERS] + [f"ours: {b} {d}" for b in BACKBONES for d in DECODERS]
    rows = []
    for label in sorted(measured, key=lambda label: order.index(label) if label in order else len(order)):
        row = measured[label]
        paper = PAPER["table9"]["value"].get(label.rsplit(" ", 1)[0], {}) if not label.startswith("ours") else {}
        rows.append({"model": label, "input": "x".join(map(str, row["image_size"])),
                     "params (M)": row["parameters"] / 1e6, "GMACs": row["cost"]["gmacs"],
                     "img/s (here)": row["throughput"]["images_per_s"], "paper params (M)": paper.get("params_m"),
                     "paper fps (A100)": paper.get("fps"),
                     "paper status": PAPER["table9"]["status"] if paper else "not sourced"})
    return pd.DataFrame(rows).set_index("model")


# ---- claims: each verdict follows from the records by the rule and within the gate the claim states ----

SIDED = "beyond two standard errors over seeds: reproduced; short of it by more than two: not reproduced; else within noise"


def _mean_error(values: list[float]) -> tuple[float, float]:
    """`mean_and_error`, nan for both where a value is undefined (a relative loss of a model that scored 0)."""
    return (math.nan, math.nan) if any(math.isnan(v) for v in values) else mean_and_error(values)


def _verdict(values: list[float], bound: float, two_sided: bool = False) -> str:
    """One-sided: the mean over seeds exceeds `bound`; two-sided: it lies within +-`bound`; each beyond two
    standard errors (`greater_verdict`, `equal_verdict`). One seed has no noise estimate: the value decides."""
    mean, error = _mean_error(values)
    if math.isnan(error):
        return ("reproduced" if abs(mean) <= bound else "not_reproduced") if two_sided else noise_verdict(mean - bound, error)
    return equal_verdict(mean, error, bound) if two_sided else greater_verdict(mean, error, bound)


def _seeds(values: list[float]) -> str:
    """The per-seed values and their mean, with the one-seed caveat where it applies."""
    mean, error = _mean_error(values)
    if len(values) == 1:
        return f"one seed: {values[0]:.1f} (the value decides; seed noise not measured)"
    spread = "undefined where a classic model scored 0" if math.isnan(mean) else \
        f"mean {mean:+.1f} ± {error:.1f} (s.e., {len(values)} seeds)"
    return f"per seed {', '.join('—' if math.isnan(v) else f'{v:.1f}' for v in values)}: {spread}"


def decoder_gate(records: dict, backbones) -> tuple[str, str, bool]:
    """The regime of the decoder claims, per backbone: a classic-decoder AP of at least the paper's ResNet-50
    loss, and a last feature map at least the paper's. Returns (condition, what this run had, met)."""
    limit, met, seen = thresholds()["min_classic_ap"], True, []
    for b in backbones:
        ours, paper, ap = feature_map(records, b), paper_map(b), classic_ap(records, b)
        met &= ap >= limit and ours[0] >= paper[0] and ours[1] >= paper[1]
        seen.append(f"{BACKBONE_LABELS[b]} classic AP {ap:.2f}, map {ours[0]}x{ours[1]} (paper {paper[0]}x{paper[1]})")
    condition = (f"classic-decoder AP >= {limit:.1f} for {' and '.join(BACKBONE_LABELS[b] for b in backbones)} (the "
                 "paper's ResNet-50 loss, Table 2: below it a loss of the paper's size cannot occur, so the relative "
                 "loss measures how little the model learned) and a last feature map at least the paper's at "
                 f"{'x'.join(map(str, PAPER['official_config']['value']['input']))} "
                 "(coarser cells per person leave the bilinear decoder less to work with than in the paper)")
    return condition, "; ".join(seen), met


def _judged(records: dict, claim_id: str, claim: str, values: list[float], verdict: str, gate: tuple, *,
            source: str = "table2", our_value=None, evidence: str = "", **fields) -> Claim:
    """A paper claim judged on per-seed `values` within its `gate` (condition, what this run had, met)."""
    mean, error = _mean_error(values)
    return Claim(id=claim_id, claim=claim, verdict=gated(verdict, gate[2]), profile=records["data"]["config"]["profile"],
                 our_value=(None if math.isnan(mean) else round(mean, 2)) if our_value is None else our_value,
                 spread=claim_spread(error), n=len(values), kind="paper", gate=gate_text(gate[0], gate[2], gate[1]),
                 evidence=f"results/vitpose/train-*-{records['data']['config']['profile']}-*.json "
                          f"({len(records['train'])} runs); {evidence}{_seeds(values)}",
                 paper_source=PAPER[source]["source"], paper_status=PAPER[source]["status"], **fields)


def _decoder_claims(records: dict) -> list[Claim]:
    t, losses, losses50 = thresholds(), paired_gaps(records, relative=True), paired_gaps(records, "AP50", relative=True)
    cnn, vit, cnn50 = (paper_relative_loss(PAPER_ROWS["resnet"]), paper_relative_loss(PAPER_ROWS["vit"]),
                       paper_relative_loss(PAPER_ROWS["resnet"], 1))
    unit = "% of the classic decoder's AP lost with the simple decoder"
    precision = [a - b for a, b in zip(losses["resnet"], losses50["resnet"])]
    mean = lambda values: "—" if math.isnan(_mean_error(values)[0]) else f"{_mean_error(values)[0]:.1f}"
    return [
        _judged(records, "decoder_gap_cnn_vs_vit", "The simple decoder costs a CNN backbone a much larger share of its "
                "AP than a ViT backbone", losses["difference"], _verdict(losses["difference"], t["gap_margin"]),
                decoder_gate(records, BACKBONES), paper_value=round(cnn - vit, 1),
                unit="points: ResNet's % of classic AP lost - ViT's",
                rule=f"one-sided on the relative losses: the ResNet's share lost minus the ViT's exceeds "
                     f"{t['gap_margin']:.1f} points (half the paper's {cnn - vit:.1f}: ResNet-50 {cnn:.1f} %, ViTPose-B "
                     f"{vit:.1f} %) {SIDED}"),
        _judged(records, "cnn_needs_classic_decoder", "With a ResNet backbone the simple decoder loses much AP "
                f"({PAPER['gap_text']['value']['resnet']}, {cnn:.1f} % of ResNet-50's)", losses["resnet"],
                _verdict(losses["resnet"], t["midpoint"]), decoder_gate(records, ["resnet"]), source="gap_text",
                paper_value=round(cnn, 1), unit=f"{unit} (ResNet)",
                rule=f"one-sided: the ResNet's relative loss exceeds {t['midpoint']:.1f} % (halfway between the paper's "
                     f"ResNet-50 {cnn:.1f} % and ViTPose-B {vit:.1f} %) {SIDED}"),
        _judged(records, "vit_simple_decoder_enough", "With a ViT backbone the simple decoder is about as good as the "
                f"classic one ({PAPER['gap_text']['value']['vit']}, {vit:.1f} % of ViTPose-B's)", losses["vit"],
                _verdict(losses["vit"], t["midpoint"], two_sided=True), decoder_gate(records, ["vit"]),
                source="gap_text", paper_value=round(vit, 1), unit=f"{unit} (ViT)",
                rule=f"two-sided: the ViT's relative loss lies within +-{t['midpoint']:.1f} % (halfway between the "
                     "paper's two losses), its two-standard-error interval included: reproduced; wholly outside: not "
                     "reproduced; else within noise"),
        _judged(records, "cnn_loss_is_precision", "The CNN's loss with the simple decoder is mostly localisation "
                "precision: AP50 drops far less than AP (Table 2)", precision,
                _verdict(precision, t["precision_margin"]), decoder_gate(records, ["resnet"]),
                paper_value=f"AP {cnn:.1f} %, AP50 {cnn50:.1f} % lost", unit="% of the classic decoder's AP and AP50 "
                "lost (ResNet)", our_value=f"AP {mean(losses['resnet'])} %, AP50 {mean(losses50['resnet'])} % lost",
                evidence="relative AP loss minus relative AP50 loss, ",
                rule=f"one-sided: the ResNet's relative AP loss minus its relative AP50 loss exceeds "
                     f"{t['precision_margin']:.1f} points (half the paper's {cnn - cnn50:.1f}) {SIDED}"),
    ]


def _simple_catches_up(records: dict) -> Claim:
    """Judged from the first evaluation before the last at which the ViT's classic AP (mean over seeds) reaches
    the decoder claims' minimum AP: before it, both arms sit near 0 AP and no gap can shrink."""
    history, curves, limit = vit_history(records), PAPER["curves"], thresholds()["min_classic_ap"]
    epochs = sorted(e for e, v in history.items() if {"classic", "simple"} <= set(v))
    start, last = next((e for e in epochs[:-1] if statistics.mean(history[e]["classic"]) >= limit), None), epochs[-1]
    first = epochs[0] if start is None else start
    shrink = [_relative(c0, s0) - _relative(c1, s1) for c0, s0, c1, s1 in
              zip(history[first]["classic"], history[first]["simple"], history[last]["classic"], history[last]["simple"])]
    condition, seen, met = decoder_gate(records, ["vit"])
    at = lambda e: " vs ".join(f"{d} {statistics.mean(history[e][d]):.2f}" for d in DECODERS) + f" AP at epoch {e}"
    margin = thresholds()["catch_up_margin"]
    return _judged(records, "simple_catches_up", "During training the ViT's simple decoder trails the classic one "
                   "early, then nearly catches up", shrink, _verdict(shrink, margin),
                   (f"{condition}; and an evaluation before the last at which the AP already holds",
                    f"{seen}; first such evaluation: {'none' if start is None else f'epoch {start}'}",
                    met and start is not None),
                   source="curves", our_value=f"{at(first)} -> {at(last)}",
                   paper_value=" -> ".join(" vs ".join(f"{d} {100 * curves[d][i]:.1f}" for d in DECODERS)
                                           + f" AP at epoch {curves['epochs'][i]}" for i in (0, -1)),
                   unit="AP (ViT, mean over seeds); the rule reads the relative gap, % of the classic AP",
                   evidence=f"shrink of the relative gap from epoch {first} to {last}, ",
                   rule=f"one-sided: the relative gap (% of the classic AP) shrinks from the gate's first evaluation to "
                        f"the last by more than {margin:.1f} points (half the official logs' {paper_curve_loss(0):.1f} "
                        f"-> {paper_curve_loss(-1):.1f} %) {SIDED}")


def _data_not_trivial(records: dict) -> Claim:
    baseline = 100 * records["data"]["result"]["mean_pose_baseline"]["AP"]
    weakest = min(r["result"]["final"]["AP"] for r in records["train"].values())
    return Claim(id="data_not_trivial", claim="(this book) The embedded pose data is not solved by ignoring the image",
                 paper_value=None, our_value=round(baseline, 2), unit="AP of the mean-pose baseline (x100)",
                 verdict="reproduced" if baseline < 0.5 * 100 * weakest else "not_reproduced",
                 profile=records["data"]["config"]["profile"], evidence=_source(records["data"]), paper_source="",
                 kind="sanity", gate="none: a property of this book's data, judged in every run",
                 rule="the mean-pose baseline's AP is below half of every trained model's AP", paper_status="not sourced")


def _count_claim(records: dict, claim_id: str, claim: str, key: str, source: str, slack: float, unit: str,
                 convention: str = "") -> Claim:
    """A ViTPose-B count against the paper's, like for like: the backbone alone (Tables 6 and 9 count it).
    `key`: "parameters" (millions) or "gmacs", of `result.models[label]` and of its "backbone" entry."""
    rows = {label: row for label, row in records["cost"]["result"]["models"].items() if label.startswith("ViTPose-B")}
    count = lambda row: row["parameters"] / 1e6 if key == "parameters" else row["cost"]["gmacs"]
    backbone = [count(row["backbone"]) for row in rows.values() if "backbone" in row]
    paper = PAPER[source]["value"]["ViTPose-B"]["params_m"] if source == "table9" else PAPER[source]["value"]
    return Claim(id=claim_id, claim=claim, paper_value=paper, our_value=round(backbone[0], 2) if backbone else None,
                 unit=unit, verdict=count_verdict(backbone[0], str(paper), slack) if backbone else "not_testable_here",
                 profile=records["data"]["config"]["profile"], kind="implementation",
                 evidence=f"{_source(records['cost'])}; with the decoder: "
                          + ", ".join(f"{count(row):.2f} ({label.split()[-1]} decoder)" for label, row in rows.items())
                          + ("" if backbone else "; the backbone alone is not recorded: the cost record must store each "
                             "model's backbone parameters and multiply-adds (result.models[label].backbone)"),
                 gate=gate_text("a backbone-only count, as the paper's table counts", bool(backbone),
                                "recorded" if backbone else "only backbone + decoder totals recorded"),
                 rule=f"the backbone's count rounds to the printed {paper} (half its last digit{convention})",
                 paper_source=PAPER[source]["source"], paper_status=PAPER[source]["status"])


def _cost_claims(records: dict) -> list[Claim]:
    """The ViTPose-B parameter and FLOP claims, when the profile timed ViTPose-B (not smoke)."""
    if not any(label.startswith("ViTPose-B") for label in records["cost"]["result"]["models"]):
        return []
    return [_count_claim(records, "vitpose_b_params", f"ViTPose-B has {PAPER['table9']['value']['ViTPose-B']['params_m']}"
                         " M parameters", "parameters", "table9", 0.0, "M parameters (backbone)"),
            _count_claim(records, "vitpose_b_gflops", f"ViTPose-B costs {PAPER['table6_gflops']['value']} GFLOPs at "
                         "256x192", "gmacs", "table6_gflops", GFLOPS_SLACK, "G multiply-adds (backbone)",
                         f", plus {GFLOPS_SLACK:.0%}: torch's counter counts the attention's matrix products, which "
                         "some counters skip")]


def _coco_ap(records: dict) -> Claim:
    paper_ap, profile = PAPER["table2"]["value"][("ViTPose-B", "classic")][0], records["data"]["config"]["profile"]
    on_coco, ours = records["data"]["config"]["dataset"] == "coco", classic_ap(records, "vit")
    return Claim(id="coco_ap", claim=f"ViTPose-B reaches {paper_ap} AP on COCO val (256x192)", paper_value=paper_ap,
                 our_value=round(ours, 2) if on_coco else None, unit="AP", profile=profile, kind="paper",
                 verdict=("not_tested" if not on_coco else "reproduced" if abs(ours - paper_ap) <= 1
                          else "partially" if abs(ours - paper_ap) <= 3 else "not_reproduced"),
                 evidence=f"results/vitpose/train-*-{profile}-*.json; ground-truth boxes (the paper: detected boxes)"
                 if on_coco else "no COCO training in the smoke and cpu profiles (COCO cannot be downloaded where they "
                 "ran); the gpu profile trains it", paper_source=PAPER["table2"]["source"],
                 gate=f"training and evaluation on COCO (the gpu profile); this run: {records['data']['config']['dataset']}"
                      f" ({'met' if on_coco else 'NOT met: not run in this profile, not tested'})",
                 rule="within 1 AP of the paper's: reproduced; within 3: partially; one seed, its noise not measured",
                 paper_status=PAPER["table2"]["status"])


def claims(records: dict) -> list[Claim]:
    """Paper Table 2's decoder claims, the training curves, the data's difficulty, ViTPose-B's cost
    (Tables 6 and 9, when timed) and COCO AP (gpu profile only), in that order."""
    return (_decoder_claims(records) + [_simple_catches_up(records), _data_not_trivial(records)]
            + _cost_claims(records) + [_coco_ap(records)])


# ---- the chapter's prose (built in prose.py from the same records and claims) ----

prose_parts, prose, facts = entry_points(__package__)  # the page's prose: see prose.py
def summary(records: dict) -> str:
    """The chapter's closing paragraphs (Markdown): what the records show against the paper."""
    from .prose import FINDINGS

    found = prose_parts(records)
    return "\n\n".join(found[part] for part in FINDINGS if part in found)
