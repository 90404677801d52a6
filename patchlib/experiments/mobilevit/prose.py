"""The MobileViT chapter's prose, built from the same records and claims as its tables: every
sentence that states a number, a comparison or a verdict. Each number goes through `_Numbers`,
which formats it and keeps it under a name, so `facts(records)` lists every number the prose
prints (`readers.prose`, `readers.prose_parts`, `readers.facts` and `readers.summary` are the
entry points)."""
from __future__ import annotations

from ...prose import Numbers, verdict_words
import re

import pandas as pd

from .config import PAPER, SEPARABLE, MHA
from .readers import (ACCURACY_TOLERANCE, cifar_table, claims, count_rows, fits,
                      paper_name, slope_range, trained_pair, variants_table)

DIFFERS = ("hardware", "units", "data", "cifar_scale", "recipe")  # "How this run differs", as bullets
FINDINGS = ("slopes", "cifar", "imagenet_speed", "counts")         # "What we see", as paragraphs


def paper_setup() -> dict:
    """The papers' side of the "how this run differs" table, from `config.PAPER`."""
    pair, params = PAPER["table1_pair"]["value"], PAPER["params_m"]["value"]
    recipe, fig1 = PAPER["recipe"]["value"], PAPER["fig1_protocol"]["value"]
    return {"models": f"{paper_name(pair['self-attention'])} ({params[pair['self-attention']]} M) against "
                      f"{paper_name(pair['separable'])} ({params[pair['separable']]} M), v2 Table 1",
            "training": f"ImageNet-1k, {recipe['epochs']} epochs, batch {recipe['batch_size']}, AdamW, multi-scale "
                        "sampler, EMA (v1 §4.1; v2 appendix)",
            "attention units": f"d = {fig1['d']}, h = {fig1['heads']}, one core of a {fig1['cpu_ghz']} GHz Intel "
                               "Core i9 (v2 Fig. 1)"}


def setup_table(records: dict) -> pd.DataFrame:
    """The papers' setup against this run's: models, training, attention-unit protocol."""
    trained, attention, cifar = records["train"], records["attention"], cifar_table(records)
    config = trained["v1"]["config"]
    train, timed = config["train"], attention["config"]
    data = "all 50,000" if config["n_train"] is None else f"{config['n_train']:,}"
    ours = {
        "models": f"{trained['v1']['config']['model']} ({cifar.iloc[0]['params (M)']:.2f} M), "
                  f"{trained['v2']['config']['model']} ({cifar.iloc[1]['params (M)']:.2f} M), and the ViT chapter's "
                  f"{records['vit']['fig7']['config']['model']} ({cifar.iloc[2]['params (M)']:.2f} M)",
        "training": f"{train['epochs']} epochs on {data} CIFAR-10 images, batch {train['batch_size']}, AdamW, "
                    f"peak lr {train['lr']}, weight decay {train['weight_decay']}, {train['augment']}",
        "attention units": f"d = {timed['dim']}, {timed['heads']} heads, {timed['threads']} thread(s), "
                           f"k from {timed['token_counts'][0]} to {timed['token_counts'][-1]}"}
    return pd.DataFrame({"papers": paper_setup(), "ours": ours})


def missing_slope(record: dict) -> str:
    """What the prose says in place of a slope that could not be fitted."""
    if record["config"].get("dry_run"):
        return "not measurable in a dry run"
    return "not measurable (fewer than two timed token counts in the fitted range)"


_Numbers = Numbers


def _hardware(records: dict, num: _Numbers) -> str:
    fig1 = PAPER["fig1_protocol"]["value"]
    threads = records["attention"]["config"]["threads"]
    network_threads = records["models"]["result"]["protocol"]["threads"]
    return (f"**Hardware.** The papers time their models on an iPhone12 (latency) and a V100 GPU (throughput), and the "
            f"attention units of the v2 paper's Fig. {num('v2_figure', 1)} on one core of a "
            f"{num('fig1_ghz', fig1['cpu_ghz'])} GHz Intel Core i9. We time everything on this machine's CPU: the "
            f"attention units on {num('attention_threads', threads)} thread(s), as that figure does, the networks on "
            f"{num('network_threads', network_threads)} threads. Ratios between models carry over between machines only "
            "roughly: mobile GPUs and CPUs reward different operations.")


def _units() -> str:
    return ("**Attention units.** Multi-head attention is the unit our MobileViT v1 uses (`patchlib.layers.Attention`, "
            "PyTorch's fused `scaled_dot_product_attention`); the separable unit is MobileViTv2's. The optional third "
            "unit of the v2 paper's latency figure, Linformer, is not built here.")


def _data(records: dict, num: _Numbers) -> str:
    config = records["train"]["v1"]["config"]
    text = ("**No ImageNet.** No profile trains on ImageNet; the ImageNet top-1 of every variant is shown from the "
            "papers, not reproduced. The v1-against-v2 accuracy question is asked on CIFAR-10 instead")
    if config.get("dataset") != "cifar10":
        return text + (f"; this run ({config['profile']} profile) uses the embedded synthetic "
                       f"{config.get('dataset', 'smoke')} data, whose numbers are not comparable to anything.")
    source = (records["train"]["v1"].get("provenance") or {}).get("data", {}).get("source", "")
    quality = re.search(r"JPEG re-encoding, quality (\d+)", source)
    return text + (f" (on this project's machines a JPEG re-encoding of CIFAR-10 at quality "
                   f"{num('jpeg_quality', int(quality.group(1)))}, slightly lossy)" if quality else "") + \
        "; the smoke profile uses the embedded synthetic shapes10 data, whose numbers are not comparable to anything."


def _block_maps(model: dict) -> list[int]:
    """The side of the feature map each MobileViT block sees (stem stride, then each stage's stride)."""
    side, maps = model["image_size"] // model["stem_stride"], []
    for stride, depth in zip(model["strides"], model["transformer_depths"]):
        side //= stride
        if depth:
            maps.append(side)
    return maps


def _cifar_scale(records: dict, num: _Numbers) -> str:
    model = records["train"]["v1"]["config"]["model_config"]
    maps = _block_maps(model)
    shown = _listed([f"{num(f'block_map_{i}', side)}×{num(f'block_map_{i}', side)}" for i, side in enumerate(maps)])
    cifar = cifar_table(records)
    pair, params = PAPER["table1_pair"]["value"], PAPER["params_m"]["value"]
    return (f"**CIFAR-scale models.** For {num('cifar_px', model['image_size'])} px images the stem has stride "
            f"{num('stem_stride', model['stem_stride'])} and the last stage "
            f"{'does not downsample' if model['strides'][-1] == 1 else 'downsamples'}, so the "
            f"{num('n_blocks', len(maps))} MobileViT blocks see {shown} maps "
            f"(`patchlib.models.mobilevit.CIFAR_SCALE`). This run trains `{records['train']['v1']['config']['model']}` "
            f"({num('v1_params', cifar.iloc[0]['params (M)'], '.2f')} M parameters) against "
            f"`{records['train']['v2']['config']['model']}` ({num('v2_params', cifar.iloc[1]['params (M)'], '.2f')} M); "
            "the v2 paper's Table "
            f"{num('v2_table1', 1)} compares {paper_name(pair['self-attention'])} "
            f"({num('s_params', params[pair['self-attention']])} M) with {paper_name(pair['separable'])} "
            f"({num('v2_100_params', params[pair['separable']])} M), the pair of the gpu profile.")


def _clipping(train: dict, num: _Numbers) -> str:
    """", gradient clipping at <norm>" (or "none") as the record's training config says; "" where it does not say."""
    if "grad_clip" not in train:
        return ""
    return ", no gradient clipping" if train["grad_clip"] is None else \
        f", gradient clipping at {num('grad_clip', train['grad_clip'], 'g')}"


def _recipe(records: dict, num: _Numbers) -> str:
    train, paper = records["train"]["v1"]["config"]["train"], PAPER["recipe"]["value"]
    official = PAPER["official_recipe"]["value"]
    return (f"**Recipe.** All three CIFAR models use the ViT chapter's recipe and budget for the profile "
            f"({num('epochs', train['epochs'])} epochs, batch {num('batch', train['batch_size'])}, AdamW, linear "
            f"warm-up and cosine decay, label smoothing {num('label_smoothing', train['label_smoothing'])}, "
            f"{train['augment'].replace('_', ' and ')}), so that only the architecture differs. The papers train for "
            f"{num('paper_epochs', paper['epochs'])} epochs with batch {num('paper_batch', paper['batch_size'])}, a "
            "multi-scale sampler, EMA of the weights and (v2) stronger augmentation; none of these is used here. "
            f"This run's AdamW: peak learning rate {num('lr', train['lr'], 'g')}, weight decay "
            f"{num('weight_decay', train['weight_decay'], 'g')}{_clipping(train, num)}; the official "
            f"configs (ml-cvnets): peak {num('official_lr', official['peak_lr'], 'g')} with a cosine to "
            f"{num('official_min_lr', official['min_lr'], 'g')} after "
            f"{num('official_warmup', official['warmup_iterations'], ',')} warm-up iterations, weight decay "
            f"{num('official_v1_wd', official['v1_weight_decay'], 'g')} (v1) and "
            f"{num('official_v2_wd', official['v2_weight_decay'], 'g')} (v2 at its widest; narrower models scale "
            "learning rate and weight decay down), label smoothing "
            f"{num('official_smoothing', official['label_smoothing'], 'g')}, "
            f"and for v2 gradient clipping at {num('official_clip', official['v2_grad_clip'], 'g')}, RandAugment, "
            f"random erasing ({num('official_erase', official['v2_random_erase'], 'g')}), mixup (alpha "
            f"{num('official_mixup', official['v2_mixup_alpha'], 'g')}) and CutMix (alpha "
            f"{num('official_cutmix', official['v2_cutmix_alpha'], 'g')})." + _precision(records, train))


def _precision(records: dict, train: dict) -> str:
    """Where the ViT chapter's model trained at another numerical precision than the MobileViTs (each
    chapter takes the fastest that keeps its accuracy, issue 28), the sentence that says so."""
    vit = ((records.get("vit") or {}).get("fig7") or {}).get("config", {}).get("train", {}).get("precision")
    if vit is None or vit == train.get("precision"):
        return ""
    words = {"auto": "fp32", "fp32": "fp32", "bf16": "bf16", "bf16_fp32_attention": "bf16 with attention in fp32"}
    return (f" The ViT trained in {words.get(vit, vit)}, the MobileViTs in "
            f"{words.get(train.get('precision'), train.get('precision'))}: the fastest precision measured for each "
            "that keeps its accuracy (`benchmarks/training_speed.py`, `benchmarks/precision_agreement.py`).")


def _slopes(records: dict, verdicts: dict, num: _Numbers) -> str:
    attention = records["attention"]
    fitted, missing = fits(attention), missing_slope(attention)
    low, high = slope_range(attention)
    complexity = PAPER["complexity"]["value"]

    def slope(name: str, key: str) -> str:
        value, error, n, _ = fitted[name]
        if value is None:
            return f"a slope {missing}"
        return (f"slope {num(f'{key}_slope', value, '.2f')}"
                + ("" if error != error else f" ± {num(f'{key}_slope_se', error, '.2f')}")
                + f" over {num(f'{key}_points', n)} token counts")

    return (f"Over k from {num('k_low', low)} to {num('k_high', high)}, the latency of separable self-attention grows "
            f"with {slope(SEPARABLE, 'separable')} on log-log axes, that of multi-head attention with "
            f"{slope(MHA, 'mha')}; the papers' exponents are {num('paper_separable', complexity['separable'])} and "
            f"{num('paper_mha', complexity['MHA'])}, and each ± is the least-squares fit's standard error. The O(k) "
            f"claim is {verdict_words(verdicts['separable_attention_linear'].verdict)}, the O(k²) claim "
            f"{verdict_words(verdicts['mha_quadratic'].verdict)}. At small k both units are dominated by their O(k d²) "
            "projections, which is why the curves start close together and multi-head attention bends upwards only "
            "once k is well past d.")


def _cifar(records: dict, verdicts: dict, num: _Numbers) -> str:
    cifar, claim = cifar_table(records), verdicts["v2_accuracy_like_v1"]
    v1, v2 = cifar.iloc[0], cifar.iloc[1]
    ran, pair = trained_pair(records), PAPER["table1_pair"]["value"]
    top1 = PAPER["top1"]["value"]
    data = "CIFAR-10" if records["train"]["v1"]["config"].get("dataset") == "cifar10" else "the synthetic smoke data"
    text = (f"On {data} with the same budget, {paper_name(ran[1])} reaches "
            f"{num('v2_acc', v2['test accuracy (%)'], '.2f')}% against {paper_name(ran[0])}'s "
            f"{num('v1_acc', v1['test accuracy (%)'], '.2f')}% ({num('acc_diff', claim.our_value, '+.2f')} ± "
            f"{num('acc_diff_se', claim.spread, '.2f')} points; one run each, so the error is the test set's binomial "
            f"noise alone), and runs at {num('cifar_speed', v2['img/s'] / v1['img/s'], '.2f')}x its inference "
            "throughput on this CPU. The v2 paper's Table 1 finds separable attention about as accurate as multi-head "
            f"attention ({num('paper_diff', claim.paper_value, '+.1f')} points on ImageNet) for "
            f"{paper_name(pair['self-attention'])} against {paper_name(pair['separable'])}")
    if claim.verdict != "not_testable_here":
        return text + (f"; at that pair, with a tolerance of ±{num('tolerance', ACCURACY_TOLERANCE, 'g')} point, the "
                       f"claim is {verdict_words(claim.verdict)}.")
    if tuple(ran) != (pair["self-attention"], pair["separable"]) and all(name in top1 for name in ran):
        return text + (f". This run trains {paper_name(ran[0])} against {paper_name(ran[1])}, a pair for which the "
                       f"papers' ImageNet top-1 already differs by {num('paper_pair_diff', top1[ran[1]] - top1[ran[0]], '+.1f')} "
                       f"points ({num('paper_v1_top1', top1[ran[0]])}% against {num('paper_v2_top1', top1[ran[1]])}%), "
                       "so it cannot test \"about equal\": the claim is not testable here.")
    return text + ". This run is outside the claim's regime (both models must be well trained): not testable here."


def _imagenet_speed(records: dict, verdicts: dict, num: _Numbers) -> str:
    faster = verdicts["separable_model_faster"]
    if faster.our_value is None:
        return ""
    pair = PAPER["table1_pair"]["value"]
    macs = variants_table(records).set_index("model")["GMACs"]
    ratio = macs[pair["separable"]] / macs[pair["self-attention"]]
    blocks = [side * side // 4 for side in _feature_sides(records)]
    return (f"At ImageNet scale ({num('imagenet_px', records['models']['config']['image_size'])} px), "
            f"{paper_name(pair['separable'])} runs at {num('speedup', faster.our_value, '.2f')}x "
            f"{paper_name(pair['self-attention'])}'s throughput on this CPU"
            + (f" (± {num('speedup_se', faster.spread, '.2f')} over the timing rounds)" if faster.spread else "")
            + f", against {num('paper_speedup', faster.paper_value)}x on the iPhone12 in the v2 paper, and has "
            f"{num('macs_ratio', ratio, '.2f')}x its counted multiply-adds. Its MobileViT blocks attend over "
            + _listed([num(f'imagenet_tokens_{i}', n) for i, n in enumerate(blocks)])
            + " patches, token counts at which the curve above shows the two units within a small factor of each "
            "other; the v2 paper's abstract attributes its mobile speed-up to replacing batch-wise matrix products "
            "with element-wise operations, which a phone runs very differently from a desktop CPU: the claim is "
            f"{verdict_words(faster.verdict)}.")


def _listed(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


def _feature_sides(records: dict) -> list[int]:
    """The map side at each MobileViT block of the ImageNet variants at the variant table's image size."""
    model = records["models"]["config"]["model_configs"][0] | {"image_size": records["models"]["config"]["image_size"]}
    return _block_maps(model)


def _counts(records: dict, verdicts: dict, num: _Numbers) -> str:
    checks = count_rows(records, variants_table(records))
    size = records["models"]["config"]["image_size"]

    def failing(rows: dict, unit: str, what: str) -> str:
        bad = [f"{paper_name(name)} ({num(f'{name}_{unit}_ours', ours, '.3f')} against "
               f"{num(f'{name}_{unit}_ref', reference)})" for name, (ours, reference, _, verdict) in rows.items()
               if verdict != "reproduced"]
        if not rows:
            return f"no {what}"
        count = num(f"n_{unit}_rows", len(rows))
        return (f"all {count} {what} round to the published count at its printed precision" if not bad else
                f"of {count} {what}, these do not round to the published count: " + ", ".join(bad))

    text = (f"Parameters: {failing(checks['params'], 'M', 'variants')}"
            + "".join(f"; {paper_name(name)} has {num(f'{name}_M', ours, '.3f')} M, which the official model zoo "
                      f"prints as {num(f'{name}_zoo', reference)} M and the paper as "
                      f"{num(f'{name}_paper', PAPER['params_m']['value'][name])} M (judged against the zoo)"
                      for name, (ours, reference, source, _) in checks["params"].items() if source == "official zoo")
            + f" (claim {verdict_words(verdicts['parameter_counts'].verdict)}). Multiply-adds, counted by "
            "torch.utils.flop_counter (convolutions, linear layers and matrix products; element-wise operations are "
            "not counted): " + failing(checks["flops"], "G", f"variants counted by their paper at {num('px', size)} px"))
    for name, (ours, paper, px) in checks["not_compared"].items():
        text += (f"; {paper_name(name)} is not compared: its paper counts at {num(f'{name}_px', px)} px "
                 f"({num(f'{name}_paper_G', paper)} G), our record at {size} px ({num(f'{name}_G', ours, '.2f')} G)")
    return text + f" (claim {verdict_words(verdicts['flop_counts'].verdict)})."


def _build(records: dict) -> tuple[dict[str, str], dict[str, float]]:
    num = _Numbers()
    verdicts = {c.id: c for c in records.get("claims") or claims(records)}
    found = {"hardware": _hardware(records, num), "units": _units(), "data": _data(records, num),
             "cifar_scale": _cifar_scale(records, num), "recipe": _recipe(records, num),
             "slopes": _slopes(records, verdicts, num), "cifar": _cifar(records, verdicts, num),
             "imagenet_speed": _imagenet_speed(records, verdicts, num), "counts": _counts(records, verdicts, num)}
    return {name: text for name, text in found.items() if text}, num.values


def parts(records: dict) -> dict[str, str]:
    """The page's prose by place: the bullets of "how this run differs" (`DIFFERS`) and the paragraphs of
    "what we see" (`FINDINGS`)."""
    return _build(records)[0]


def facts(records: dict) -> dict[str, float]:
    """Every number `parts` prints, by name."""
    return _build(records)[1]
