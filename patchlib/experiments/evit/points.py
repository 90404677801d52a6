"""The EViT chapter's records by fine-tuning point: the lookups every reader of the chapter shares
(claims, tables, prose, the notebook). Reads records and the chapter's `config` only."""
from __future__ import annotations

import math
import statistics

from .config import PAPER


def by_point(points: list[dict]) -> dict:
    """Points (dicts with "keep_rate" and "fuse") keyed by (keep rate, fusion)."""
    return {(p["keep_rate"], p["fuse"]): p for p in points}


def zoo() -> dict:
    """The Model Zoo's rows keyed by (keep rate, fusion)."""
    return {(row["keep_rate"], row["fusion"]): row for row in PAPER["model_zoo"]["value"]}


def per_seed(records: dict) -> dict[tuple[float, bool | None], list[dict]]:
    """Each fine-tuned point's results over its seeds (the main run first): the seeded points have
    one per seed, the others one."""
    out: dict[tuple, list[dict]] = {}
    for record in records["finetune"] + records.get("finetune_seeds", []):
        result = record["result"]
        out.setdefault((result["keep_rate"], result["fuse"]), []).append(result)
    return out


def finetuned_by_point(records: dict) -> dict[tuple[float, bool | None], dict]:
    """The main seed's fine-tuning records, keyed by (keep rate, fusion); the control is (1.0, None)."""
    return {(r["result"]["keep_rate"], r["result"]["fuse"]): r for r in records["finetune"]}


def visual_finetune(records: dict) -> dict:
    """The fine-tuning record of the model shown in the token figure (fused, at the visualised keep rate)."""
    return finetuned_by_point(records)[(records["tokens"]["config"]["keep_rate"], True)]


def timing_error(point: dict) -> float:
    """The relative standard error of a measured throughput over its timing rounds (nan with one round)."""
    rounds = point.get("images_per_s_rounds") or []
    if len(rounds) < 2:
        return float("nan")
    return statistics.stdev(rounds) / math.sqrt(len(rounds)) / statistics.mean(rounds)


