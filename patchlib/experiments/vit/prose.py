"""The ViT chapter's prose, built from the same records and claims as its tables: every sentence that
states a number, a comparison or a verdict. Each number goes through `_Numbers`, which formats it and
keeps it under a name, so `facts(records)` lists every number the prose prints (`readers.prose`,
`readers.prose_parts` and `readers.facts` are the entry points)."""
from __future__ import annotations

import re
import statistics

import torch

from ...prose import Numbers, verdict_words
from ...claims import Claim
from .config import PAPER
from .readers import (attention_gate, claims, depth_trend, initial_depth_trends, low_frequency_gain,
                      pos_embed_structure, seed_results)



class _Numbers(Numbers):
    """`Numbers`, with this chapter's formats."""

    def span(self, name: str, low: float, high: float, spec: str = ".1f") -> str:
        """A range "low–high"."""
        return f"{self(name + '_low', low, spec)}–{self(name + '_high', high, spec)}"


def _paper_grid(model: str, num: _Numbers) -> tuple[str, str]:
    """The patch size and the grid side of a model of `PAPER["fig7_models"]` ("ViT-L/32": "32", "7")."""
    patch = int(model.split(" ")[0].split("/")[1])
    return num(f"paper_patch_{patch}", patch), num(f"paper_grid_{patch}", PAPER["image_width"]["value"] // patch)


def _data(record: dict, num: _Numbers) -> str:
    config, model = record["config"], record["config"]["model_config"]
    width = num("paper_image_width", PAPER["image_width"]["value"])
    paper = (f"**Data and resolution.** The paper's Fig. 7 models are pre-trained ViT-Large models (their pre-training "
             f"data is not sourced here) analysed on {width}×{width}-pixel images ({PAPER['image_width']['source']}); ")
    if config["dataset"] != "cifar10":
        return paper + (f"this run ({config['profile']} profile) trains from scratch on the embedded synthetic "
                        f"{config['dataset']} data instead: its numbers are not comparable to anything.")
    source = record["provenance"]["data"]["source"] if record.get("provenance", {}).get("data") else ""
    quality = re.search(r"JPEG re-encoding, quality (\d+)", source)
    size = num("image_size", model["image_size"])
    return paper + (f"ours is trained from scratch on CIFAR-10 at {size}×{size} pixels"
                    + (f" (on this project's machines a JPEG re-encoding of CIFAR-10 at quality "
                       f"{num('jpeg_quality', int(quality.group(1)))}, slightly lossy)" if quality else "")
                    + ". The smoke profile uses the embedded synthetic shapes10 data instead.")


def _model(record: dict, num: _Numbers) -> str:
    models, large = PAPER["fig7_models"]["value"], PAPER["vit_large"]["value"]
    train = record["config"]["train"]
    (p_left, g_left), (p_right, g_right) = (_paper_grid(models[panel], num) for panel in ("left, centre", "right"))
    return (f"**Model and schedule.** Figure 7 uses ViT-L/{p_left} (a {g_left}×{g_left} patch grid) for its left and "
            f"centre panels and ViT-L/{p_right} (a {g_right}×{g_right} grid) for its right panel, with "
            f"{num('paper_heads', large['heads'])} heads; both have {num('paper_layers', large['layers'])} layers of "
            f"width {num('paper_width', large['hidden D'])} ({PAPER['vit_large']['source']}). Ours is far smaller and "
            f"trains for {num('epochs', train['epochs'])} epochs from scratch (table below).")


def _attention_setup(record: dict, num: _Numbers) -> str:
    return (f"**Attention distance.** The paper averages over {num('paper_images', PAPER['fig7_images']['value'])} "
            f"example images; we average over {num('attention_images', record['config']['attention_images'])} test "
            "images. The attention of each query over the patch tokens is renormalised to sum to one (the class token "
            "has no position), and distances are between patch centres, in pixels.")


def _grid(result: dict, num: _Numbers) -> str:
    gh, gw = result["grid"]
    return f"{num('grid_rows', gh)}×{num('grid_cols', gw)} grid of {num('patch_size', result['patch_size'])}-pixel patches"


def _figure_caption(records: dict, num: _Numbers) -> str:
    results = seed_results(records)
    result, n = results[0], len(results)
    gate = attention_gate(result)
    seed = records["fig7"]["config"]["seed"]
    drawn = (f"the dots are the heads of the model trained with seed {num('first_seed', seed)}"
             + (", the grey crosses the same model's heads at initialisation" if "attention_distance_initial" in result
                else "") + (f", the black lines each seed's mean over the heads of a layer ({num('seeds', n)} seeds)"
                            if n > 1 else ""))
    return (f"ViT Figure 7 rebuilt from our run (left and centre: the model trained with seed {num('first_seed', seed)}). "
            f"Right: {drawn}; the dashed line is the distance that uniform attention gives "
            f"on our {_grid(result, num)} ({num('uniform', gate['uniform'], '.1f')} px), the shaded band the range of "
            "any query-independent attention (the same weights for every query: "
            f"{num.span('blind', gate['blind_low'], gate['blind_high'])} px); only a head outside the band shows "
            "attention that depends on where the query is. The paper's per-head distances are only plotted (not given "
            "in text form), so none are drawn.")


def _training(records: dict, num: _Numbers) -> str:
    result, cost = records["fig7"]["result"], records["cost"]["result"]["throughput"]
    protocol = cost["protocol"]
    threads = f" with {num('threads', protocol['threads'])} threads" if protocol.get("threads") else ""
    return (f"The model reaches {num('final_acc', result['final']['test_acc'], '.2f')}% top-1 test accuracy and runs "
            f"inference at {num('throughput', cost['models']['vit']['images_per_s'], '.0f')} images/s (batch "
            f"{num('throughput_batch', protocol['batch_size'])}, {protocol['precision']} on {protocol['device']}{threads}; "
            f"the median of {num('throughput_rounds', protocol['rounds'])} round(s) of "
            f"{num('throughput_repeats', protocol['repeats'])} timed passes after "
            f"{num('throughput_warmup', protocol['warmup'])} warm-up passes).")


def _noise_words(n: int, within: str) -> str:
    """How a measure's noise was taken: over the seeds, or inside the one run (`within`)."""
    return f"s.e. over {n} seeds" if n > 1 else f"{within}, one seed"


def _embeddings(records: dict, verdicts: dict[str, Claim], num: _Numbers) -> str:
    results = seed_results(records)
    n = len(results)
    distance, rows = verdicts["pos_embed_distance"], verdicts["pos_embed_rows_columns"]
    structures = [pos_embed_structure(torch.tensor(r["pos_embed_similarity"])) for r in results]
    basis, lows = verdicts["pca_basis"], [low_frequency_gain(r) for r in results]
    mean = statistics.mean
    null = ("with the positions shuffled at random it scatters around zero with a standard deviation of "
            f"{num('distance_null_sd', distance.spread, '.2f')}" if n == 1 else
            f"{num('distance_error', distance.spread, '.3f')} s.e. over {num('seeds', n)} seeds")
    return " ".join([
        {"reproduced": "As in the paper, nearby patches have similar position embeddings"}.get(
            distance.verdict, f"That nearby patches have similar position embeddings is "
                              f"{verdict_words(distance.verdict)} in this run"),
        f"(correlation of similarity with grid distance {num('distance_correlation', distance.our_value, '.3f')}"
        + ("" if n == 1 else ", the mean over the seeds") + f"; {null}),",
        {"reproduced": "and patches in the same row or column are more similar than the rest"}.get(
            rows.verdict, f"and the row/column structure is {verdict_words(rows.verdict)}"),
        f"({num('same_row_or_column', mean(x['same_row_or_column'] for x in structures), '.3f')} against "
        f"{num('other_positions', mean(x['other'] for x in structures), '.3f')}).",
        f"The top {num('components', lows[0]['components'])} principal components of the patch-embedding filters carry "
        f"{num('low_share_trained', mean(low['trained'] for low in lows), '.3f')} of their energy at low frequencies "
        f"after training and {num('low_share_initial', mean(low['initial'] for low in lows), '.3f')} at "
        f"initialisation: a gain of {num('low_share_gain', basis.our_value, '+.3f')} ± "
        f"{num('low_share_error', basis.spread, '.3f')} ({_noise_words(n, 's.e. over the components')}), so the "
        f"smoother filters of Fig. 7 (left) are {verdict_words(basis.verdict)}.",
    ])


def _attention(records: dict, verdicts: dict[str, Claim], num: _Numbers) -> str:
    results = seed_results(records)
    n = len(results)
    gate = attention_gate(results)
    trends = [depth_trend(torch.tensor(r["attention_distance"])) for r in results]
    early, late = verdicts["global_heads_early"], verdicts["distance_grows_with_depth"]
    initial = initial_depth_trends(results)
    shift = (f"the later half of the layers averages {num('late_half', statistics.mean(t['late'] for t in trends), '.1f')} "
             f"px against {num('early_half', statistics.mean(t['early'] for t in trends), '.1f')} px for the earlier "
             f"half ({num('depth_gain', late.our_value, '+.2f')} ± {num('depth_error', late.spread, '.2f')} px, "
             f"{_noise_words(n, 's.e. from the spread of the heads within a layer')})")
    if initial:
        shift += (f"; the same model at initialisation gives {num('initial_depth_gain', statistics.mean(initial), '+.2f')}"
                  " px" + (" (mean over the seeds)" if len(initial) > 1 else ""))
    heads = f"Every head's mean attention distance{' in every seed' if n > 1 else ''}"
    if not gate["met"]:
        return (f"{heads} ({num.span('heads', gate['head_low'], gate['head_high'])} px) "
                f"lies inside {num.span('band', gate['blind_low'], gate['blind_high'])} px, the range of query-independent "
                f"attention (the same weights for every query) on our {_grid(results[0], num)} (uniform attention: "
                f"{num('uniform', gate['uniform'], '.1f')} px). Inside that range the measure cannot tell local "
                "attention from attention that puts the same weights on the same patches for every query (on the "
                "image centre, say), so neither the paper's mix of global and local heads in the first layer nor the "
                f"growth of attention distance with depth can be judged here. {shift[0].upper()}{shift[1:]}: a drift "
                "inside that range, not the paper's passage from local to global attention. Judging them needs heads "
                "outside it, which longer training or pre-training may give.")
    first = [d for r in results for d in r["attention_distance"][0]]
    return (f"In the first layer the heads span {num.span('first_layer', min(first), max(first))} px"
            + (" over the seeds" if n > 1 else "") + f", and the paper's mix of global and local heads is "
            f"{verdict_words(early.verdict)}; {shift}, so the growth of attention distance with depth is "
            f"{verdict_words(late.verdict)}.")


def _contrast(record: dict, num: _Numbers) -> str:
    result, model = record["result"], record["config"]["model_config"]
    models = PAPER["fig7_models"]["value"]
    grids = " or ".join(f"{grid}×{grid} (L/{patch})" for patch, grid in
                        (_paper_grid(models[panel], num) for panel in ("left, centre", "right")))
    gh, gw = result["grid"]
    return (f"The paper's models see {grids} patches of a {num('paper_image_width', PAPER['image_width']['value'])}-pixel "
            f"image after large-scale pre-training; ours sees {num('grid_rows', gh)}×{num('grid_cols', gw)} patches of "
            f"a {num('image_size', model['image_size'])}-pixel image after {num('epochs', record['config']['train']['epochs'])} "
            "epochs, so its position embeddings have little data to organise themselves and its attention distances are "
            "bounded by a much smaller image: compare shapes and trends, not pixel values.")


def _build(records: dict) -> tuple[dict[str, str], dict[str, float]]:
    num = _Numbers()
    record = records["fig7"]
    verdicts = {c.id: c for c in records.get("claims") or claims(records)}
    parts = {"data": _data(record, num), "model": _model(record, num), "attention_setup": _attention_setup(record, num),
             "figure7_caption": _figure_caption(records, num),
             "training": _training(records, num) if "cost" in records else "",
             "what_we_see": " ".join([_embeddings(records, verdicts, num), _attention(records, verdicts, num),
                                      _contrast(record, num)])}
    return {name: text for name, text in parts.items() if text}, num.values


def parts(records: dict) -> dict[str, str]:
    """The page's prose by place: "data", "model", "attention_setup" (how this run differs),
    "figure7_caption", "training" (with a "cost" record) and "what_we_see"."""
    return _build(records)[0]


def facts(records: dict) -> dict[str, float]:
    """Every number `parts` prints, by name."""
    return _build(records)[1]
