"""FlexiViT beyond the paper: the FlexiViT at every patch size x EViT keep rate, read as two
compute knobs (the frontier record). Pareto frontiers of each knob alone and of both together, and
the gains at equal measured throughput; readers, figures and claims share these."""
from __future__ import annotations

import math


def pareto(points: list[dict], speed=lambda point: point["images_per_s"]) -> list[dict]:
    """The points no other beats on both `speed` (higher is better: images/s, or minus GMACs) and accuracy."""
    front = [p for p in points if not any(speed(q) >= speed(p) and q["acc"] >= p["acc"]
                                          and (speed(q), q["acc"]) != (speed(p), p["acc"]) for q in points)]
    return sorted(front, key=lambda p: -speed(p))


def best_at(points: list[dict], speed: float) -> float:
    """The best accuracy among `points` at least as fast as `speed` (nan if none is)."""
    return max((p["acc"] for p in points if p["images_per_s"] >= speed), default=math.nan)


def knob_points(record: dict) -> dict[str, list[dict]]:
    """The points by knob: "patch" (keep rate 1), "keep" (the smallest patch size), "either", "both" (all)."""
    points = record["result"]["points"]
    smallest = min(p["patch_size"] for p in points)
    knobs = {"patch": [p for p in points if p["keep_rate"] == 1.0],
             "keep": [p for p in points if p["patch_size"] == smallest], "both": points}
    return knobs | {"either": knobs["patch"] + [p for p in knobs["keep"] if p not in knobs["patch"]]}


def frontier_gains(record: dict) -> dict[str, dict]:
    """The most accuracy both knobs add over "patch", "keep" or "either" at a throughput in that knob's range."""
    knobs, out = knob_points(record), {}
    for knob in ("patch", "keep", "either"):
        low, high = (f(p["images_per_s"] for p in knobs[knob]) for f in (min, max))
        gains = [(p["images_per_s"], best_at(knobs["both"], p["images_per_s"]) - best_at(knobs[knob], p["images_per_s"]))
                 for p in knobs["both"] if low <= p["images_per_s"] <= high]
        best = max(gains, key=lambda g: g[1]) if gains else (math.nan, math.nan)
        out[knob] = {"max_gain": best[1], "at_images_per_s": best[0], "points": len(gains)}
    return out


def two_knob_margin(record: dict) -> dict | None:
    """The two-knob point (a patch size above the smallest, a keep rate that drops tokens: EViT keeps ⌈rate·n⌉ of
    n) with the largest signed margin over the best single-knob point at least as fast: {"point", "margin", "single"}."""
    knobs, image = knob_points(record), record["config"].get("image_size")
    single = knobs["either"]
    low, high = (f(p["images_per_s"] for p in single) for f in (min, max))
    n = lambda p: (image // p["patch_size"]) ** 2  # noqa: E731  (without an image size, every keep rate < 1 drops)
    rows = [{"point": p, "margin": p["acc"] - best_at(single, p["images_per_s"]),
             "single": max((q for q in single if q["images_per_s"] >= p["images_per_s"]), key=lambda q: q["acc"])}
            for p in knobs["both"] if p not in single and low <= p["images_per_s"] <= high
            and (image is None or math.ceil(p["keep_rate"] * n(p)) < n(p))]
    return max(rows, key=lambda row: row["margin"]) if rows else None
