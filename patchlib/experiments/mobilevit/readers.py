"""Everything that reads the MobileViT chapter's records: the fitted slopes of the attention
curve (v2 Fig. 1), the variant and CIFAR-10 tables, the claims with their rules (kind, gate, rule,
noise), and the entry points of the chapter's prose (built in `prose.py`). Reads records only;
computes nothing that needs a model."""
from __future__ import annotations

import math
import statistics

import pandas as pd

from ...claims import (Claim, accuracy_difference_error, claim_spread, count_verdict, difference_error, equal_verdict,
                       gate_text, gated, greater_verdict, ratio_verdict, single_run_note, verdict_from_checks)
from ..common import record_source
from .config import CIFAR_LABELS, MHA, PAPER, SEPARABLE, SIZES
from ...prose import entry_points, verdict_words

# ---- the attention-unit curve (v2 Fig. 1): fitted log-log slopes ----


def slope_fit(points: list[tuple[int, float]], low: int, high: int) -> tuple[float | None, float, int]:
    """Least-squares slope of log(latency) against log(k) over the points with low <= k <= high, its
    standard error from the fit's residuals (nan with fewer than three points), and the number of points.
    The slope is None with fewer than two points. (A general rule: the noise of a fitted exponent.)"""
    chosen = [(math.log(k), math.log(t)) for k, t in points if low <= k <= high]
    if len(chosen) < 2:
        return None, float("nan"), len(chosen)
    mean_x = sum(x for x, _ in chosen) / len(chosen)
    mean_y = sum(y for _, y in chosen) / len(chosen)
    spread_x = sum((x - mean_x) ** 2 for x, _ in chosen)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in chosen) / spread_x
    if len(chosen) < 3:
        return slope, float("nan"), len(chosen)
    residual = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in chosen)
    return slope, math.sqrt(residual / (len(chosen) - 2) / spread_x), len(chosen)


def fitted_slope(points: list[tuple[int, float]], low: int, high: int) -> float | None:
    """Least-squares slope of log(latency) against log(k) over the points with low <= k <= high."""
    return slope_fit(points, low, high)[0]


def slope_range(record: dict) -> tuple[int, int]:
    """The k range of the fitted slopes: the profile's `slope_range` where the record timed at least
    two token counts in it, else the upper half (at least two) of the token counts it timed: a dry
    run times only k = 64 and 256, below the gpu profile's range (issue 27)."""
    low, high = SIZES[record["config"]["profile"]].slope_range
    timed = sorted({point["k"] for curve in record["result"]["curves"].values() for point in curve})
    if len(timed) < 2 or sum(low <= k <= high for k in timed) >= 2:
        return low, high
    upper = timed[-max(2, (len(timed) + 1) // 2):]
    return upper[0], upper[-1]


def fits(record: dict) -> dict:
    """`slope_fit` of each unit over `slope_range(record)`: (slope, standard error, points), and the
    largest k the unit was timed at inside the range (None without points)."""
    low, high = slope_range(record)
    out = {}
    for name, curve in record["result"]["curves"].items():
        points = [(p["k"], p["latency_s"]) for p in curve]
        inside = [k for k, _ in points if low <= k <= high]
        out[name] = (*slope_fit(points, low, high), max(inside) if inside else None)
    return out


def slopes(record: dict) -> dict:
    """Fitted log-log slope of each unit's latency over `slope_range(record)` (None: fewer than two points)."""
    return {name: fit[0] for name, fit in fits(record).items()}


def latency_table(record: dict) -> pd.DataFrame:
    """The attention curve as a table: latency (ms) of each unit at every k, and their ratio."""
    rows = []
    for name, curve in record["result"]["curves"].items():
        for point in curve:
            rows.append({"unit": name, "k": point["k"], "latency (ms)": point["latency_s"] * 1e3})
    latency = pd.DataFrame(rows).pivot(index="k", columns="unit", values="latency (ms)")
    latency["MHA / separable"] = latency["multi-head attention"] / latency["separable self-attention"]
    return latency


# ---- tables ----

def variants_table(records: dict):
    """One row per registered ImageNet variant: ours (parameters, counted GMACs, measured img/s) next to
    the papers' parameters (and the official zoo's where it prints another number), GFLOPs with the
    image size they were counted at, and ImageNet top-1."""
    rows, measured = [], records["models"]["result"]["models"]
    for name in records["models"]["config"]["models"]:
        row = measured[name]
        rows.append({"model": name, "params (M)": row["parameters"] / 1e6,
                     "paper params (M)": PAPER["params_m"]["value"].get(name),
                     "zoo params (M)": PAPER["params_m_zoo"]["value"].get(name), "GMACs": row["cost"]["gmacs"],
                     "paper GFLOPs": PAPER["gflops"]["value"].get(name),
                     "paper FLOPs at (px)": PAPER["gflops_px"]["value"].get(name),
                     "img/s": row["throughput"]["images_per_s"], "paper top-1 (%)": PAPER["top1"]["value"].get(name)})
    return pd.DataFrame(rows)


def cifar_table(records: dict):
    """The same-budget CIFAR-10 comparison: one row per model."""
    speed = records["throughput"]["result"]["throughput"]
    trained = dict(records["train"]) | {"vit": records["vit"]["fig7"]}
    rows = []
    for version, record in trained.items():
        result = record["result"]
        cost = result.get("cost") or records["vit"]["cost"]["result"]["cost"]
        rows.append({"model": CIFAR_LABELS[version], "name": record["config"]["model"],
                     "params (M)": result["parameters"] / 1e6, "GMACs": cost["gmacs"],
                     "test accuracy (%)": result["final"]["test_acc"], "img/s": speed[version]["images_per_s"],
                     "train min": result["train_time_s"] / 60, "epochs": record["config"]["train"]["epochs"]})
    return pd.DataFrame(rows).set_index("model")


def paper_table() -> pd.DataFrame:
    """The papers' published values (`config.PAPER`), one row each, with unit, source and status."""
    def shown(value) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{key}: {' / '.join(map(str, v)) if isinstance(v, tuple) else v}"
                             for key, v in value.items())
        return str(value)

    return pd.DataFrame([{"value": name, "published": shown(entry["value"]), "unit": entry["unit"],
                          "source": entry["source"], "status": entry["status"]} for name, entry in PAPER.items()])


def paper_name(name: str) -> str:
    """A registered name as the papers write it: mobilevit_xs -> MobileViT-XS, mobilevitv2_050 -> MobileViTv2-0.5."""
    base = name.removesuffix("_cifar")
    if base.startswith("mobilevitv2_"):
        width = f"{int(base.split('_')[1]) / 100:.2f}".rstrip("0")
        return f"MobileViTv2-{width}" + ("0" if width.endswith(".") else "")
    return "MobileViT-" + base.split("_")[1].upper()


def setup_table(records: dict) -> pd.DataFrame:
    """The papers' setup against this run's: models, training, attention-unit protocol (see `prose`)."""
    from .prose import setup_table as _setup_table

    return _setup_table(records)


# ---- claims: each verdict is computed from the records by the rule stated beside it ----


# The margins of the rules (issue 22: each rule states its margin, its noise and its sidedness).
LINEAR_SLOPE_MAX = 1.15     # O(k): the latency slope stays below 1 + 0.15 (memory traffic, fixed overheads)
QUADRATIC_SLOPE_MIN = 1.5   # O(k²): the cost slope of 4 k d² + 2 k² d at k = 2d, where scores equal projections
QUADRATIC_GATE = 8          # ... judged where the fitted range reaches k >= 8 d (the cost slope is 1.8 there)
MIN_SLOPE_POINTS = 3        # a slope with a standard error needs three timed token counts
SPEED_TOLERANCE = 0.2       # a speed-up within 20% of the paper's
ACCURACY_TOLERANCE = 1.0    # "about equal" (v2 Table 1 calls -0.3 points "similar performance"): within ±1 point
MIN_ACCURACY = 50.0         # both CIFAR-10 arms far above chance (10%): trained networks, not failed runs


def flop_growth_text(attention: dict) -> str:
    """How much each unit's counted FLOPs grow when k grows 4x, at the largest k measured."""
    counted = {name: {p["k"]: p["flops"] for p in points} for name, points in attention["result"]["flops"].items()}
    growth = {name: (points[max(points)] / points[max(points) // 4]) if max(points) // 4 in points else None
              for name, points in counted.items()}
    return "; counted FLOPs grow " + ", ".join(
        f"{g:.1f}x ({name})" for name, g in growth.items() if g) + " when k grows 4x (at the largest k measured)"


def attention_claims(attention: dict) -> list[Claim]:
    """v2 §3: separable self-attention is O(k), multi-head attention O(k²) (fitted latency slopes with
    their standard errors, one-sided against a stated margin)."""
    profile, dim = attention["config"]["profile"], attention["config"]["dim"]
    low, high = slope_range(attention)
    fitted = fits(attention)
    common = dict(profile=profile, kind="implementation", paper_source=PAPER["complexity"]["source"],
                  paper_status=PAPER["complexity"]["status"])
    evidence = record_source(attention) + flop_growth_text(attention)
    out = []
    for key, name, unit, margin in (("separable", SEPARABLE, "separable_attention_linear", LINEAR_SLOPE_MAX),
                                    ("MHA", MHA, "mha_quadratic", QUADRATIC_SLOPE_MIN)):
        slope, error, n, top = fitted[name]
        condition = f"at least {MIN_SLOPE_POINTS} timed token counts in the fitted range (a slope with an error)"
        observed = f"{n} in k in [{low}, {high}]"
        met = slope is not None and n >= MIN_SLOPE_POINTS
        if key == "MHA":
            condition += f", reaching k >= {QUADRATIC_GATE} d = {QUADRATIC_GATE * dim} (scores outweigh projections)"
            observed += f", up to k = {top}"
            met = met and top >= QUADRATIC_GATE * dim
        difference = (margin - slope if key == "separable" else slope - margin) if met else 0.0
        out.append(Claim(
            id=unit, claim=f"{'Separable self-attention' if key == 'separable' else 'Multi-head self-attention'} "
            f"costs O(k{'' if key == 'separable' else '^2'}) in the number of tokens k",
            paper_value=PAPER["complexity"]["value"][key], our_value=None if slope is None else round(slope, 3),
            unit=f"fitted log-log latency slope, k in [{low}, {high}]" + ("" if key == "separable" else
                                                                          " (as far as measured)"),
            verdict=gated(greater_verdict(difference, error) if met else "", met), spread=claim_spread(error),
            n=n, gate=gate_text(condition, met, observed),
            rule=f"one-sided: slope {'below' if key == 'separable' else 'above'} {margin} by more than two standard "
                 "errors (greater_verdict); error: the least-squares slope's, from the fit's residuals",
            evidence=evidence if key == "separable" else record_source(attention) + "; at moderate k the O(k d^2) "
            "projections still weigh, so the slope approaches 2 only as k grows past d", **common))
    return out


def _relative_error(row: dict) -> float:
    """The relative standard error of a measured throughput over its timing rounds (nan with one round)."""
    rounds = row["throughput"].get("rounds") or []
    return statistics.stdev(rounds) / math.sqrt(len(rounds)) / statistics.mean(rounds) if len(rounds) > 1 else math.nan


def speed_claim(records: dict, table: pd.DataFrame) -> Claim:
    """v2 Table 1: MobileViT with separable attention runs about 3x faster than with MHA (iPhone12)."""
    profile = records["attention"]["config"]["profile"]
    measured = records["models"]["result"]["models"]
    pair = PAPER["table1_pair"]["value"]
    v1, v2 = pair["self-attention"], pair["separable"]
    table1 = PAPER["attention_unit"]["value"]
    paper_speedup = round(table1["self-attention"][0] / table1["separable"][0], 2)
    common = dict(id="separable_model_faster", claim="MobileViT with separable self-attention (v2-1.0) is about 3x "
                  "faster than with multi-head attention (v1-S) at similar size", paper_value=paper_speedup,
                  unit="throughput ratio v2-1.0 / v1-S", profile=profile, kind="paper",
                  paper_source=PAPER["attention_unit"]["source"], paper_status=PAPER["attention_unit"]["status"],
                  rule=f"ratio_verdict: within {SPEED_TOLERANCE:.0%} of the paper's speed-up beyond two relative "
                       "standard errors (the spread of the timing rounds)")
    condition = "the paper's speed-up is a ratio of iPhone12 latencies: judged on a phone's latency only"
    if not (v1 in measured and v2 in measured):
        return Claim(**common, our_value=None, verdict="not_tested", evidence=f"{paper_name(v1)} and "
                     f"{paper_name(v2)} are not in this profile's variant table")
    ratio = measured[v2]["throughput"]["images_per_s"] / measured[v1]["throughput"]["images_per_s"]
    relative = difference_error([_relative_error(measured[v1]), _relative_error(measured[v2])])
    rounds = min(len(measured[name]["throughput"].get("rounds") or [1]) for name in (v1, v2))
    device = records["models"]["config"]["device_type"]
    met = False  # no profile of this book times on a phone
    return Claim(**common, our_value=round(ratio, 2), spread=claim_spread(ratio * relative), n=rounds,
                 verdict=gated(ratio_verdict(ratio, paper_speedup, relative, SPEED_TOLERANCE), met),
                 gate=gate_text(condition, met, f"throughput on this machine's {device} at "
                                                f"{records['models']['config']['image_size']} px"),
                 evidence=f"{record_source(records['models'])}; {paper_name(v2)} {ratio:.2f}x {paper_name(v1)}'s "
                 f"throughput here, {rounds} timing rounds each; the paper: iPhone12 latency, "
                 f"{table1['self-attention'][0]} vs {table1['separable'][0]} ms; a desktop processor runs the batch-wise "
                 "matrix products that v2 replaces with element-wise operations well, so its ratio does not test a "
                 "phone's")


def trained_pair(records: dict) -> tuple[str, str]:
    """The registered names (without the _cifar suffix) of the trained v1 and v2 models."""
    return tuple(records["train"][v]["config"]["model"].removesuffix("_cifar") for v in ("v1", "v2"))


def n_test(record: dict) -> int:
    """The number of test images behind a trained record's accuracy."""
    return record["config"].get("n_test") or record["provenance"]["data"]["n_test"]


def accuracy_claim(records: dict, cifar: pd.DataFrame) -> Claim:
    """v2 Table 1: at similar size, v2 is about as accurate as v1 (here: CIFAR-10, same budget): two-sided,
    at Table 1's pair only (MobileViT-S against MobileViTv2-1.0)."""
    profile = records["attention"]["config"]["profile"]
    table1, pair = PAPER["attention_unit"]["value"], PAPER["table1_pair"]["value"]
    wanted, ran = (pair["self-attention"], pair["separable"]), trained_pair(records)
    v1_acc = cifar.loc[CIFAR_LABELS["v1"], "test accuracy (%)"]
    v2_acc = cifar.loc[CIFAR_LABELS["v2"], "test accuracy (%)"]
    error = accuracy_difference_error(v2_acc, v1_acc, n_test(records["train"]["v2"]))
    met = ran == wanted and min(v1_acc, v2_acc) >= MIN_ACCURACY
    verdict = equal_verdict(v2_acc - v1_acc, error, ACCURACY_TOLERANCE)
    top1 = PAPER["top1"]["value"]
    paper_gap = (f"; the papers' ImageNet top-1 for the pair run here: {paper_name(ran[0])} {top1[ran[0]]}, "
                 f"{paper_name(ran[1])} {top1[ran[1]]} ({top1[ran[1]] - top1[ran[0]]:+.1f} points)"
                 if ran != wanted and all(name in top1 for name in ran) else "")
    train_sources = ", ".join(record_source(record) for record in records["train"].values())
    return Claim(id="v2_accuracy_like_v1", claim="At similar size, v2 is about as accurate as v1 (78.1 vs 78.4 top-1)",
                 paper_value=round(table1["separable"][1] - table1["self-attention"][1], 2),
                 our_value=round(v2_acc - v1_acc, 2), unit="pp top-1, v2 minus v1", verdict=gated(verdict, met),
                 spread=claim_spread(error), n=1, profile=profile, kind="paper",
                 gate=gate_text(f"Table 1's pair, {paper_name(wanted[0])} against {paper_name(wanted[1])}, both above "
                                f"{MIN_ACCURACY:g}% (chance: 10%)", met,
                                f"{paper_name(ran[0])} against {paper_name(ran[1])}, {v1_acc:.2f}% and {v2_acc:.2f}%"),
                 rule=f"two-sided (equal_verdict): |v2 - v1| within {ACCURACY_TOLERANCE:g} point beyond two standard "
                      "errors; error: accuracy_difference_error", paper_source=PAPER["attention_unit"]["source"],
                 paper_status=PAPER["attention_unit"]["status"],
                 evidence=f"{train_sources}; CIFAR-10, same recipe and budget ({cifar.loc[CIFAR_LABELS['v1'], 'epochs']} "
                 f"epochs): v1 {v1_acc:.2f}%, v2 {v2_acc:.2f}%, {v2_acc - v1_acc:+.2f} ± {error:.2f} points; "
                 f"{single_run_note(1)}" + ("" if met else f"; at this pair the rule would say: {verdict_words(verdict)}") + paper_gap)


def count_rows(records: dict, table: pd.DataFrame) -> dict:
    """Each variant's parameter and multiply-add checks, like for like: parameters against the official
    zoo's printed count where it differs from the paper's, multiply-adds only where the paper counted at
    the image size of our record. {"params": {name: (ours, reference, source, verdict)}, "flops": ...,
    "not_compared": {name: (ours, paper, paper px)}}."""
    rows, size = table.set_index("model"), records["models"]["config"]["image_size"]
    params, flops, skipped = {}, {}, {}
    for name, row in rows.iterrows():
        paper, zoo = PAPER["params_m"]["value"].get(name), PAPER["params_m_zoo"]["value"].get(name)
        reference, source = (zoo, "official zoo") if zoo is not None and zoo != paper else (paper, "paper")
        params[name] = (row["params (M)"], reference, source, count_verdict(row["params (M)"], str(reference)))
        if name in PAPER["gflops"]["value"]:
            paper_flops, px = PAPER["gflops"]["value"][name], PAPER["gflops_px"]["value"][name]
            if px == size:
                flops[name] = (row["GMACs"], paper_flops, "paper", count_verdict(row["GMACs"], str(paper_flops)))
            else:
                skipped[name] = (row["GMACs"], paper_flops, px)
    return {"params": params, "flops": flops, "not_compared": skipped}


def _failing(checks: dict) -> str:
    failed = [f"{name} ({ours:.3f} against {reference})" for name, (ours, reference, _, verdict) in checks.items()
              if verdict != "reproduced"]
    return "differ: " + ", ".join(failed) if failed else "all match"


def table_claims(records: dict, table: pd.DataFrame) -> list[Claim]:
    """v1 Table 4 / v2 Table 6: parameters and multiply-adds of every variant, like for like, each at
    its printed precision (`count_verdict`); ImageNet top-1 (not tested)."""
    profile, size = records["attention"]["config"]["profile"], records["models"]["config"]["image_size"]
    rows, checks = table.set_index("model"), count_rows(records, table)
    zoo_used = {name: check for name, check in checks["params"].items() if check[2] == "official zoo"}
    source_models = record_source(records["models"])
    flops_names = [name for name in rows.index if name in PAPER["gflops"]["value"]]
    px = PAPER["gflops_px"]["value"]
    common = dict(profile=profile, kind="implementation")
    return [
        Claim(id="parameter_counts", claim="Parameter counts of v1 XXS/XS/S and v2 0.5-2.0",
              paper_value=", ".join(f"{PAPER['params_m']['value'][n]}" + (f" (zoo {zoo_used[n][1]})" if n in zoo_used
                                                                          else "") for n in rows.index),
              our_value=", ".join(f"{rows.loc[n, 'params (M)']:.3f}" for n in rows.index), unit="M parameters",
              verdict=verdict_from_checks([c[3] == "reproduced" for c in checks["params"].values()]),
              rule="each count rounds to the printed value (count_verdict, half its last digit), against the official "
                   "zoo's where the paper prints another", paper_status=PAPER["params_m"]["status"],
              evidence=f"{source_models}; {_failing(checks['params'])}" + "".join(
                  f"; {name}: {ours:.3f} M, the official zoo prints {reference}, the paper "
                  f"{PAPER['params_m']['value'][name]} (judged against the zoo)"
                  for name, (ours, reference, _, _) in zoo_used.items()),
              paper_source=PAPER["params_m"]["source"] + "; " + PAPER["params_m_zoo"]["source"], **common),
        Claim(id="flop_counts", claim="Multiply-adds of the ImageNet variants, at the papers' image size",
              paper_value=", ".join(f"{PAPER['gflops']['value'][n]}" + ("" if px[n] == size else f" ({px[n]} px)")
                                    for n in flops_names),
              our_value=", ".join(f"{rows.loc[n, 'GMACs']:.2f}" for n in flops_names),
              unit=f"G multiply-adds at {size} px",
              verdict=gated(verdict_from_checks([c[3] == "reproduced" for c in checks["flops"].values()]),
                            bool(checks["flops"])),
              gate=gate_text(f"a published count made at our record's image size ({size} px)", bool(checks["flops"]),
                             f"{len(checks['flops'])} of {len(flops_names)} variants"),
              rule="each count rounds to the printed value (count_verdict, half its last digit), only where the paper "
                   "counted at our image size", paper_status=PAPER["gflops_px"]["status"],  # the weaker of the two
              evidence=f"{source_models}; counted by torch.utils.flop_counter (convolutions, linear layers, matrix "
              "products; element-wise operations are not counted) as multiply-adds, the papers' unit; "
              + (_failing(checks["flops"]) if checks["flops"] else "none compared") + "".join(
                  f"; {name} not compared: the paper counts at {paper_px} px ({paper} G), our record at {size} px "
                  f"({ours:.2f} G); timm's own count of this network is not in this book's records"
                  for name, (ours, paper, paper_px) in checks["not_compared"].items()),
              paper_source=PAPER["gflops"]["source"] + "; " + PAPER["gflops_px"]["source"], **common),
        Claim(id="imagenet_top1", claim="ImageNet-1k top-1 of the variants", paper_value=", ".join(
              str(v) for v in PAPER["top1"]["value"].values()), our_value=None, unit="%", verdict="not_tested",
              profile=profile, kind="paper", paper_status=PAPER["top1"]["status"],
              gate=f"ImageNet-1k training ({PAPER['recipe']['value']['epochs']} epochs); no profile of this book "
                   "trains on ImageNet",
              evidence="no ImageNet training in any profile here; the CIFAR-10 comparison above "
              "asks the v1-vs-v2 question instead", paper_source=PAPER["top1"]["source"]),
    ]


def claims(records: dict) -> list[Claim]:
    """The chapter's claims, in the order of its claims table."""
    table, cifar = variants_table(records), cifar_table(records)
    return (attention_claims(records["attention"]) + [speed_claim(records, table), accuracy_claim(records, cifar)]
            + table_claims(records, table))


# ---- the chapter's prose (built in prose.py from the same records and claims) ----

prose_parts, prose, facts = entry_points(__package__)  # the page's prose: see prose.py
def summary(records: dict) -> str:
    """The chapter's closing paragraphs (Markdown): what the records show against the papers."""
    from .prose import FINDINGS

    found = prose_parts(records)
    return "\n\n".join(found[part] for part in FINDINGS if part in found)
