"""The ViT chapter's prose, built from the same records and claims as its tables: every sentence that
states a number, a comparison or a verdict. Each number goes through `_Numbers`, which formats it and
keeps it under a name, so `facts(records)` lists every number the prose prints (`readers.prose`,
`readers.prose_parts` and `readers.facts` are the entry points)."""
from __future__ import annotations

import re

import torch

from ...prose import Numbers, verdict_words
from ...claims import Claim
from .config import PAPER
from .readers import attention_gate, claims, depth_trend, low_frequency_gain, pos_embed_structure



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


def _figure_caption(record: dict, num: _Numbers) -> str:
    result = record["result"]
    gate = attention_gate(result)
    return (f"ViT Figure 7 rebuilt from our run. Right: the dashed line is the distance that uniform attention gives "
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


def _embeddings(record: dict, verdicts: dict[str, Claim], num: _Numbers) -> str:
    result = record["result"]
    distance, rows = verdicts["pos_embed_distance"], verdicts["pos_embed_rows_columns"]
    structure = pos_embed_structure(torch.tensor(result["pos_embed_similarity"]))
    basis, low = verdicts["pca_basis"], low_frequency_gain(result)
    return " ".join([
        {"reproduced": "As in the paper, nearby patches have similar position embeddings"}.get(
            distance.verdict, f"That nearby patches have similar position embeddings is "
                              f"{verdict_words(distance.verdict)} in this run"),
        f"(correlation of similarity with grid distance {num('distance_correlation', distance.our_value, '.3f')}; with "
        f"the positions shuffled at random it scatters around zero with a standard deviation of "
        f"{num('distance_null_sd', distance.spread, '.2f')}),",
        {"reproduced": "and patches in the same row or column are more similar than the rest"}.get(
            rows.verdict, f"and the row/column structure is {verdict_words(rows.verdict)}"),
        f"({num('same_row_or_column', structure['same_row_or_column'], '.3f')} against "
        f"{num('other_positions', structure['other'], '.3f')}).",
        f"The top {num('components', low['components'])} principal components of the patch-embedding filters carry "
        f"{num('low_share_trained', low['trained'], '.3f')} of their energy at low frequencies after training and "
        f"{num('low_share_initial', low['initial'], '.3f')} at initialisation: a gain of "
        f"{num('low_share_gain', low['gain'], '+.3f')} ± {num('low_share_error', low['error'], '.3f')} (s.e. over the "
        f"components, one seed), so the smoother filters of Fig. 7 (left) are {verdict_words(basis.verdict)}.",
    ])


def _attention(record: dict, verdicts: dict[str, Claim], num: _Numbers) -> str:
    result = record["result"]
    gate, trend = attention_gate(result), depth_trend(torch.tensor(result["attention_distance"]))
    early, late = verdicts["global_heads_early"], verdicts["distance_grows_with_depth"]
    shift = (f"the later half of the layers averages {num('late_half', trend['late'], '.1f')} px against "
             f"{num('early_half', trend['early'], '.1f')} px for the earlier half "
             f"({num('depth_gain', trend['difference'], '+.2f')} ± {num('depth_error', trend['error'], '.2f')} px, s.e. "
             "from the spread of the heads within a layer, one seed)")
    if not gate["met"]:
        return (f"Every head's mean attention distance ({num.span('heads', gate['head_low'], gate['head_high'])} px) "
                f"lies inside {num.span('band', gate['blind_low'], gate['blind_high'])} px, the range of query-independent "
                f"attention (the same weights for every query) on our {_grid(result, num)} (uniform attention: "
                f"{num('uniform', gate['uniform'], '.1f')} px). Inside that range the measure cannot tell local "
                "attention from attention that puts the same weights on the same patches for every query (on the "
                "image centre, say), so neither the paper's mix of global and local heads in the first layer nor the "
                f"growth of attention distance with depth can be judged here. {shift[0].upper()}{shift[1:]}: a drift "
                "inside that range, not the paper's passage from local to global attention. Judging them needs heads "
                "outside it and more than one seed.")
    first = result["attention_distance"][0]
    return (f"In the first layer the heads span {num.span('first_layer', min(first), max(first))} px, and the paper's "
            f"mix of global and local heads is {verdict_words(early.verdict)}; {shift}, so the growth of attention "
            f"distance with depth is {verdict_words(late.verdict)}.")


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
             "figure7_caption": _figure_caption(record, num),
             "training": _training(records, num) if "cost" in records else "",
             "what_we_see": " ".join([_embeddings(record, verdicts, num), _attention(record, verdicts, num),
                                      _contrast(record, num)])}
    return {name: text for name, text in parts.items() if text}, num.values


def parts(records: dict) -> dict[str, str]:
    """The page's prose by place: "data", "model", "attention_setup" (how this run differs),
    "figure7_caption", "training" (with a "cost" record) and "what_we_see"."""
    return _build(records)[0]


def facts(records: dict) -> dict[str, float]:
    """Every number `parts` prints, by name."""
    return _build(records)[1]
