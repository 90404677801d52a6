"""Paper-vs-ours claims: each chapter's verdicts, computed from its results.

A chapter states each claim of its paper with the paper's value, then derives our value and
a verdict from its results by a rule written in the chapter (never typed by hand), and
writes them all to `results/<chapter>/claims.json`. The book renders that file as the
chapter's opening table.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import distributed
from .results import default_results_dir, write_json_atomic

VERDICTS = ("reproduced", "partially", "not_reproduced", "not_tested")


@dataclass(frozen=True, kw_only=True)
class Claim:
    id: str
    claim: str
    paper_value: str | float | None
    our_value: str | float | None
    unit: str
    verdict: str
    profile: str
    evidence: str
    paper_source: str = ""  # where the paper value comes from (table, figure, text)
    spread: float | None = None  # standard error of our_value over seeds, where it is a mean over seeds
    n: int | None = None         # the number of seeds behind our_value (None: one run)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def verdict_from_checks(checks: list[bool]) -> str:
    """All checks pass: reproduced; some: partially; none: not_reproduced; no checks: not_tested."""
    if not checks:
        return "not_tested"
    passed = sum(bool(c) for c in checks)
    return "reproduced" if passed == len(checks) else ("partially" if passed else "not_reproduced")


def write_claims(chapter: str, claims: list[Claim], *, results_dir: Path | None = None,
                 profile: str | None = None) -> Path:
    """Write `claims.json` for a chapter (per profile, so a smoke run never overwrites cpu claims)."""
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    name = "claims.json" if profile in (None, "cpu") else f"claims-{profile}.json"
    path = results_dir / chapter / name
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claim ids must be unique: {ids}")
    with distributed.main_writes() as writer:  # under torchrun, rank 0 writes
        if writer:
            write_json_atomic(path, [asdict(c) for c in claims])
    return path


def load_claims(chapter: str, profile: str = "cpu", *, results_dir: Path | None = None) -> list[Claim]:
    """A chapter's claims as written by its `run()` (`claims.json` for cpu, `claims-<profile>.json` else)."""
    import json

    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    path = results_dir / chapter / ("claims.json" if profile == "cpu" else f"claims-{profile}.json")
    return [Claim(**entry) for entry in json.loads(path.read_text())]


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def claims_table(claims: list[Claim]):
    """The claims as a pandas DataFrame for display in a chapter."""
    import pandas as pd

    return pd.DataFrame([{"claim": c.claim, "paper": _fmt(c.paper_value), "ours": format_ours(c),
                          "delta": _fmt(_delta(c)), "unit": c.unit, "verdict": c.verdict, "profile": c.profile,
                          "evidence": c.evidence} for c in claims])


def format_ours(claim: Claim) -> str:
    """Our value, with its standard error and number of seeds where it is a mean over seeds."""
    text = _fmt(claim.our_value)
    if claim.spread is not None and claim.n:
        text += f" ± {_fmt(claim.spread)} (s.e., n = {claim.n})"
    return text


def _delta(claim: Claim) -> float | None:
    """Ours minus the paper's, where both are numbers."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (claim.paper_value, claim.our_value))
    return claim.our_value - claim.paper_value if numeric else None
