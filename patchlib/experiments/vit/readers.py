"""What the ViT chapter's records say: the paper's values as a table, the claims with their rules
(§4.5 and Fig. 7; Table 2 for CIFAR-10) and their kinds, gates and noise, the setup table, and the
entry points of the chapter's prose (built in `prose.py` from the same records and claims).

Readers only read records (`run()`'s "fig7" and "cost"); nothing here trains or builds a model.
"""
from __future__ import annotations

import math
import statistics

import pandas as pd
import torch

from ...claims import (Claim, claim_spread, difference_error, gate_text, gated, greater_verdict, mean_and_error,
                       pooled_sd, verdict_from_checks)
from ...interpret import patch_distances
from ..common import record_source
from .config import PAPER
from ...prose import entry_points

# Named rule parameters (the paper states these findings qualitatively: the margins are ours).
LOW_FREQUENCY_COMPONENTS = 8   # pca_basis: the top principal components whose spectra are compared
DISTANCE_CORRELATION = -0.3    # pos_embed_distance: the correlation must lie below this
ROW_COLUMN_MARGIN = 0.05       # pos_embed_rows_columns: same row/column minus the rest must exceed this
GLOBAL_HEAD, LOCAL_HEAD = 0.75, 0.6  # global_heads_early: fractions of the uniform-attention distance
NULL_DRAWS = 500               # permutations of the grid positions behind the position-embedding noise
ONE_SEED = "one seed: the seed-to-seed noise is not measured"


def paper_table() -> pd.DataFrame:
    """The published values this chapter uses (`config.PAPER`), one row each, with source and status."""
    def shown(value):
        if value is None:
            return "—"
        return "; ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else value

    return pd.DataFrame([{"value": shown(entry["value"]), "unit": entry["unit"], "source": entry["source"],
                          "status": entry["status"]} for entry in PAPER.values()], index=list(PAPER))


def figure7_references() -> dict:
    """What the paper gives for the panels of Fig. 7 (the `PAPER` entries, with source and status). Only
    the models, the axis range, the image width and the number of images and components are sourced;
    the per-head distances are plotted only ("not sourced"), so the chapter's figure draws no paper values."""
    return {name: PAPER[name] for name in ("fig7_models", "fig7_components", "fig7_images", "image_width",
                                           "fig7_distance_axis", "fig7_head_distances")}


# ---- the measures the claims' rules read ----

def _spectra(components: torch.Tensor, keep: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Power spectra of the top `keep` filters [k, C, p, p] and the mask of frequencies of at most one
    cycle per patch [p, p]."""
    spectrum = torch.fft.fft2(components[:keep].double()).abs() ** 2            # [k, C, p, p]
    p = components.shape[-1]
    freq = torch.fft.fftfreq(p) * p                                              # cycles per patch
    return spectrum, (freq.abs()[:, None] <= 1) & (freq.abs()[None, :] <= 1)


def low_frequency_share(components: torch.Tensor, keep: int = LOW_FREQUENCY_COMPONENTS) -> float:
    """Share of the top `keep` filters' energy at spatial frequencies of at most one cycle per patch."""
    spectrum, low = _spectra(components, keep)
    return float(spectrum[..., low].sum() / spectrum.sum())


def component_low_frequency_shares(components: torch.Tensor, keep: int = LOW_FREQUENCY_COMPONENTS) -> torch.Tensor:
    """The same share per component, [keep] (principal components have unit norm: their mean is the share)."""
    spectrum, low = _spectra(components, keep)
    return spectrum[..., low].sum(dim=(1, 2)) / spectrum.sum(dim=(1, 2, 3))


def low_frequency_gain(result: dict) -> dict:
    """The low-frequency share of the top components after training and at initialisation, their
    difference and its standard error from the spread of the share over the components."""
    trained = component_low_frequency_shares(torch.tensor(result["pca_components"]))
    initial = component_low_frequency_shares(torch.tensor(result["pca_initial_components"]))
    error = difference_error([(s.std() / math.sqrt(len(s))).item() for s in (trained, initial)])
    return {"trained": trained.mean().item(), "initial": initial.mean().item(), "components": len(trained),
            "gain": (trained.mean() - initial.mean()).item(), "error": error}


def pos_embed_structure(similarity: torch.Tensor) -> dict:
    """Mean cosine similarity to other positions in the same row or column vs to all others,
    and the correlation of similarity with grid distance."""
    gh, gw = similarity.shape[:2]
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    sim = similarity.reshape(gh * gw, gh * gw)
    same_line = (rows[:, None] == rows[None, :]) | (cols[:, None] == cols[None, :])
    not_self = ~torch.eye(gh * gw, dtype=torch.bool)
    distance = patch_distances((gh, gw), 1)[not_self]
    values = sim[not_self]
    correlation = torch.corrcoef(torch.stack([distance, values]))[0, 1]
    return {"same_row_or_column": float(sim[same_line & not_self].mean()),
            "other": float(sim[~same_line].mean()), "distance_correlation": float(correlation)}


def pos_embed_null(similarity: torch.Tensor, draws: int = NULL_DRAWS) -> dict:
    """The noise of `pos_embed_structure` where positions carry no structure: its standard deviation
    over random relabellings of the grid positions (a permutation null; fixed seed, so reproducible)."""
    gh, gw = similarity.shape[:2]
    sim = similarity.reshape(gh * gw, gh * gw)
    generator = torch.Generator().manual_seed(0)
    samples = {"distance_correlation": [], "row_column_difference": []}
    for _ in range(draws):
        order = torch.randperm(gh * gw, generator=generator)
        shuffled = pos_embed_structure(sim[order][:, order].reshape(gh, gw, gh, gw))
        samples["distance_correlation"].append(shuffled["distance_correlation"])
        samples["row_column_difference"].append(shuffled["same_row_or_column"] - shuffled["other"])
    return {name: float(torch.tensor(values).std()) for name, values in samples.items()}


def attention_reference(grid, patch_size: int) -> dict:
    """What attention that ignores where the query is gives on this grid (pixels): "uniform" (every
    patch alike) and the band ["blind_low", "blind_high"] of any query-independent attention. Such a
    head puts weights a_j on the keys whatever the query, so its mean distance is sum_j a_j m_j, with m_j
    the mean distance of key j to all queries: it lies between min m_j (all on the central patch) and
    max m_j (all on a corner). Inside the band the measure cannot tell local attention from attention
    that ignores the query; only a head outside it shows attention that depends on where the query is."""
    distances = patch_distances(tuple(grid), patch_size)                        # [N, N]
    to_key = distances.mean(dim=0)                                              # m_j, [N]
    return {"uniform": float(distances.mean()), "blind_low": float(to_key.min()), "blind_high": float(to_key.max())}


def depth_trend(distance: torch.Tensor) -> dict:
    """Mean distance of the earlier and the later half of the layers ([layers, heads]), their difference
    and its standard error from the spread of the heads within a layer (pooled over layers)."""
    layers, heads = distance.shape
    half = layers // 2
    early, late = distance[:half], distance[layers - half:]
    head_sd = pooled_sd(distance.tolist()) if heads > 1 and half else float("nan")
    error = head_sd * math.sqrt(1 / early.numel() + 1 / late.numel()) if half else float("nan")
    return {"early": early.mean().item(), "late": late.mean().item(), "difference": (late.mean() - early.mean()).item(),
            "error": error, "head_sd": head_sd, "half": half}


def attention_gate(results) -> dict:
    """The attention claims' regime: some head (of any seed's model) lies outside the band of
    query-independent attention. `results`: one "fig7" result or a list of them (one per seed)."""
    results = [results] if isinstance(results, dict) else list(results)
    distances = torch.stack([torch.tensor(r["attention_distance"]) for r in results])  # [seeds, layers, heads]
    reference = attention_reference(results[0]["grid"], results[0]["patch_size"])
    low, high = distances.min().item(), distances.max().item()
    return {**reference, "head_low": low, "head_high": high,
            "met": low < reference["blind_low"] or high > reference["blind_high"]}


def seed_results(records: dict) -> list[dict]:
    """The "fig7" results of every seed (`run()`'s "seeds"; the one "fig7" record where there is none)."""
    return [record["result"] for record in records.get("seeds") or [records["fig7"]]]


def initial_depth_trends(results: list[dict]) -> list[float]:
    """The depth trend (`depth_trend`'s difference) of each seed's model at initialisation, where stored."""
    return [depth_trend(torch.tensor(r["attention_distance_initial"]))["difference"]
            for r in results if "attention_distance_initial" in r]


def _seeds_note(n: int) -> str:
    return ONE_SEED if n == 1 else f"{n} seeds (trained models), the s.e. over them"


# ---- claims: each verdict is computed from the record by the rule stated beside it ----

def claims(records: dict) -> list[Claim]:
    """The chapter's claims, from the "fig7" records of every seed: Fig. 7 left, centre, right, then Table 2."""
    record = records["fig7"]
    profile, source = record["config"]["profile"], record_source(record)
    results = seed_results(records)
    return [*embedding_claims(results, profile, source),
            *attention_claims(results, profile, source, record["config"]["attention_images"]),
            accuracy_claim(record["result"], profile, source)]


def _figure(**fields) -> dict:
    """Fields shared by the Fig. 7 claims: a finding of the paper, stated qualitatively about a figure
    whose content paper_values.md §6d confirms."""
    return {"paper_value": "qualitative", "kind": "paper", "paper_status": PAPER["fig7_models"]["status"], **fields}


def _per_seed(values: list[float], single_error: float) -> tuple[float, float]:
    """(mean, s.e.) over seeds; one seed: its value with `single_error` (the within-run noise)."""
    return (values[0], single_error) if len(values) == 1 else mean_and_error(values)


def embedding_claims(results, profile: str, source: str) -> list[Claim]:
    """Fig. 7 left (basis-like filters) and centre (distance and row/column structure of position embeddings).
    With several seeds each measure is judged by its mean over the seeds against the s.e. over them;
    with one, against the noise inside the run (the spread of the components, the permutation null)."""
    results = [results] if isinstance(results, dict) else list(results)
    n = len(results)
    structures, lows = [], []
    for result in results:
        similarity = torch.tensor(result["pos_embed_similarity"])
        structures.append(pos_embed_structure(similarity))
        lows.append(low_frequency_gain(result))
    nulls = pos_embed_null(torch.tensor(results[0]["pos_embed_similarity"]))
    gain, gain_error = _per_seed([low["gain"] for low in lows], lows[0]["error"])
    correlation, correlation_error = _per_seed([x["distance_correlation"] for x in structures],
                                               nulls["distance_correlation"])
    row_column, row_column_error = _per_seed([x["same_row_or_column"] - x["other"] for x in structures],
                                             nulls["row_column_difference"])
    k = LOW_FREQUENCY_COMPONENTS
    mean = statistics.mean
    return [
        Claim(id="pca_basis", claim="The top principal components of the patch-embedding filters look like plausible "
              "basis functions (smooth, low-frequency patterns)", our_value=round(gain, 3), spread=claim_spread(gain_error),
              unit=f"low-frequency energy share of the top {k} PCs, trained minus initial",
              verdict=greater_verdict(gain, gain_error), profile=profile, paper_source="Fig. 7 (left)", n=n,
              evidence=f"{source}; share after training {mean(low['trained'] for low in lows):.3f}, at initialisation "
              f"{mean(low['initial'] for low in lows):.3f}" + (f" (means over the seeds; gains {_listed([low['gain'] for low in lows], 3)})"
                                                               if n > 1 else "") + f"; {_seeds_note(n)}",
              rule=("one-sided: the share after training exceeds the share at initialisation by more than 2 s.e.; "
                    + ("s.e. of the mean gain over the seeds" if n > 1 else f"s.e. from the spread of the share over the top {k} components (trained and "
                       "initial combined)")),
              **_figure()),
        Claim(id="pos_embed_distance", claim="Closer patches have more similar position embeddings",
              our_value=round(correlation, 3), spread=claim_spread(correlation_error),
              unit="corr(grid distance, cosine similarity)", profile=profile, paper_source="Fig. 7 (centre), §4.5", n=n,
              verdict=greater_verdict(-correlation, correlation_error, -DISTANCE_CORRELATION),
              evidence=f"{source}; " + (f"per seed {_listed((x['distance_correlation'] for x in structures), 3)}; "
                                         if n > 1 else "") + f"permutation null s.d. {nulls['distance_correlation']:.3f} "
              f"(first seed); {_seeds_note(n)}",
              rule=f"one-sided: correlation below {DISTANCE_CORRELATION} by more than 2 s.e. "
              + ("of the mean over the seeds" if n > 1 else f"(the s.d. of its permutation null: the grid positions "
                 f"relabelled at random, {NULL_DRAWS} draws)"), **_figure()),
        Claim(id="pos_embed_rows_columns", claim="Position embeddings show row-column structure: patches in the same row "
              "or column have similar embeddings", our_value=round(row_column, 3),
              spread=claim_spread(row_column_error), unit="mean cos-sim, same row/column minus other",
              verdict=greater_verdict(row_column, row_column_error, ROW_COLUMN_MARGIN), profile=profile, n=n,
              evidence=f"{source}; same row or column {mean(x['same_row_or_column'] for x in structures):.3f}, the rest "
              f"{mean(x['other'] for x in structures):.3f}" + (" (means over the seeds)" if n > 1 else "")
              + f"; {_seeds_note(n)}", paper_source="Fig. 7 (centre), §4.5",
              rule=f"one-sided: the difference exceeds {ROW_COLUMN_MARGIN} by more than 2 s.e. "
              + ("of the mean over the seeds" if n > 1 else f"(the s.d. of its permutation null, {NULL_DRAWS} draws)"),
              **_figure()),
    ]


def _listed(values, digits: int = 2) -> str:
    return ", ".join(f"{v:+.{digits}f}" for v in values)


def attention_claims(results, profile: str, source: str, images: int) -> list[Claim]:
    """Fig. 7 right: global and local heads in the first layer; attention distance grows with depth.
    Both are judged only where some head departs from query-independent attention (`attention_gate`).
    With several seeds the depth trend is judged by its mean over the seeds against their s.e., the
    first-layer mix by its checks in every seed; the model at initialisation is the trend's reference."""
    results = [results] if isinstance(results, dict) else list(results)
    n = len(results)
    gate = attention_gate(results)
    uniform = gate["uniform"]
    trends = [depth_trend(torch.tensor(r["attention_distance"])) for r in results]
    firsts = [torch.tensor(r["attention_distance"])[0] for r in results]
    difference, error = _per_seed([t["difference"] for t in trends], trends[0]["error"])
    initial = initial_depth_trends(results)
    grid = "×".join(str(g) for g in results[0]["grid"])
    gate_line = gate_text(
        f"some head's mean distance lies outside {gate['blind_low']:.1f}–{gate['blind_high']:.1f} px, the range of "
        f"query-independent attention (the same weights for every query: uniform, {uniform:.1f} px, or all on one "
        f"patch) on this {grid} grid of {results[0]['patch_size']}-px patches; inside it the measure cannot tell local "
        "attention from query-independent attention", gate["met"],
        f"heads at {gate['head_low']:.1f}–{gate['head_high']:.1f} px" + (f" over {n} seeds" if n > 1 else ""))
    head_noise = (f"the noise of one head is not measured (the record keeps each head's mean over {images} images, "
                  f"not its spread over them); {_seeds_note(n)}")
    trend_verdict = ("not_testable_here" if math.isnan(error)  # one head or layer: nothing to judge by
                     else greater_verdict(difference, error))
    checks = [check for first in firsts for check in (first.max().item() >= GLOBAL_HEAD * uniform,
                                                        first.min().item() <= LOCAL_HEAD * uniform)]
    low, high = min(f.min().item() for f in firsts), max(f.max().item() for f in firsts)
    initial_note = ""
    if initial:
        initial_mean, initial_error = mean_and_error(initial)
        initial_note = f"; at initialisation the same measure is {initial_mean:+.2f}" + (
            f" ± {initial_error:.2f} px (s.e. over {len(initial)} seeds)" if len(initial) > 1 else " px")
    early, late = statistics.mean(t["early"] for t in trends), statistics.mean(t["late"] for t in trends)
    return [
        Claim(id="global_heads_early", claim="Some heads attend to most of the image already in the lowest layer, while "
              "others attend locally", our_value=f"{low:.1f}–{high:.1f}",
              unit="px, layer-1 head distances" + (f" over {n} seeds" if n > 1 else ""),
              verdict=gated(verdict_from_checks(checks), gate["met"]), profile=profile, n=n,
              evidence=f"{source}; {head_noise}", paper_source="Fig. 7 (right), §4.5", gate=gate_line,
              rule=f"max ≥ {GLOBAL_HEAD} and min ≤ {LOCAL_HEAD} × the uniform-attention distance ({uniform:.1f} px)"
              + (", in every seed" if n > 1 else "") + ": every check passes: reproduced; some: partially; none: not "
              "reproduced", **_figure()),
        Claim(id="distance_grows_with_depth", claim="Attention distance increases with network depth",
              our_value=round(difference, 2), spread=claim_spread(error),
              unit=f"px, mean of the last {trends[0]['half']} layers minus the first {trends[0]['half']}",
              verdict=gated(trend_verdict, gate["met"]), profile=profile, n=n,
              evidence=f"{source}; {early:.1f} → {late:.1f} px" + (f" (means over the seeds; per seed "
                                                                    f"{_listed(t['difference'] for t in trends)} px)"
                                                                    if n > 1 else "")
              + f"{initial_note}; the spread over images is not stored (means over {images} images); {_seeds_note(n)}",
              paper_source="Fig. 7 (right), §4.5", gate=gate_line,
              rule="one-sided: the later half exceeds the earlier half by more than 2 s.e.; " + (
                  "s.e. of the mean over the seeds" if n > 1 else
                  f"s.e. from the spread of the heads within a layer (pooled sd {trends[0]['head_sd']:.2f} px)"),
              **_figure()),
    ]


def accuracy_claim(result: dict, profile: str, source: str) -> Claim:
    """Table 2's CIFAR-10 accuracy: reported beside ours, not tested (ours has no pre-training)."""
    paper = PAPER["vit_l16_jft_cifar10"]
    return Claim(id="cifar10_accuracy", claim=f"ViT-L/16 pre-trained on JFT-300M reaches {paper['value']}% on CIFAR-10 "
                 "after fine-tuning",
                 paper_value=paper["value"], our_value=round(result["final"]["test_acc"], 2), unit="% top-1",
                 verdict="not_tested", profile=profile, kind="paper", paper_status=paper["status"], n=1,
                 evidence=f"{source}; our model is trained from scratch, without pre-training, so this is not a test of "
                 "the claim", paper_source=paper["source"],
                 gate="a ViT-L/16 pre-trained on JFT-300M and fine-tuned on CIFAR-10 (Table 2's setting): no profile "
                 "of this book runs it, so the claim is not tested",
                 rule="none: our from-scratch accuracy is shown for reference only")


# ---- the chapter's tables ----

def our_setup(record: dict) -> dict:
    """Our run's model, input, parameters, training and attention images, from the "fig7" record."""
    result, config = record["result"], record["config"]
    model = config["model_config"]
    train = config["train"]
    return {
        "model": f"{config['model']}: {model['depth']} layers, width {model['dim']}, {model['heads']} heads, "
                 f"{model['patch_size']}×{model['patch_size']} patches",
        "input / patch grid": f"{model['image_size']}×{model['image_size']} px / "
                              f"{result['grid'][0]}×{result['grid'][1]}",
        "parameters": f"{result['parameters'] / 1e6:.2f} M",
        "training": f"{train['epochs']} epochs from scratch, batch {train['batch_size']}, AdamW lr {train['lr']}, "
                    f"wd {train['weight_decay']}, {train['schedule']} schedule, label smoothing {train['label_smoothing']}, "
                    f"augmentation {train['augment']}",
        "attention-distance images": f"{config['attention_images']} test images",
    }


def paper_grids() -> str:
    """The paper's Fig. 7 patch grids, from the image width and the models' patch sizes."""
    width, models = PAPER["image_width"]["value"], PAPER["fig7_models"]["value"]
    sizes = {name.split(" ")[0]: int(name.split(" ")[0].split("/")[1]) for name in models.values()}
    return " and ".join(f"{width // size}×{width // size} ({name.removeprefix('ViT-')})" for name, size in sizes.items())


def paper_setup() -> dict:
    """The same rows for the paper's Fig. 7 models, from `PAPER`."""
    paper_values = PAPER
    width = paper_values["image_width"]["value"]
    return {
        "model": f"{paper_values['fig7_models']['value']['left, centre']} (left, centre) and "
                 f"{paper_values['fig7_models']['value']['right']} (right); source: {paper_values['fig7_models']['source']}",
        "input / patch grid": f"{width}×{width} px / {paper_grids()}",
        "parameters": f"{paper_values['vit_l16_params']['value']} M (ViT-Large; {paper_values['vit_l16_params']['source']})",
        "training": "pre-trained (data set and schedule of the Fig. 7 models: not sourced here)",
        "attention-distance images": f"{paper_values['fig7_images']['value']} images ({paper_values['fig7_images']['source']})",
    }


def setup_table(record: dict) -> pd.DataFrame:
    """How this run differs from the paper: the paper's Fig. 7 setup beside ours."""
    return pd.DataFrame({"paper (Fig. 7)": paper_setup(), "ours": our_setup(record)})


# ---- the chapter's prose (built in prose.py from the same records and claims) ----

prose_parts, prose, facts = entry_points(__package__)  # the page's prose: see prose.py
