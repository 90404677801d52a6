"""Paper-vs-ours claims: each chapter's verdicts, computed from its results.

A chapter states each claim of its paper with the paper's value, then derives our value and
a verdict from its results by a rule written in the chapter (never typed by hand), and
writes them all to `results/<chapter>/claims.json`. The book renders that file as the
chapter's opening table.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from . import distributed
from .results import default_results_dir, write_json_atomic

# within_noise: the claimed difference is measured over seeds and its mean lies within two standard
# errors of the value the claim needs, zero or a tolerance (`noise_verdict`, `seeded_verdict`):
# neither confirmed nor refuted at this budget.
# not_testable_here: the run was made, but outside the regime in which the claim can be judged
# (the claim's `gate`, e.g. both arms far above chance): it says nothing about the paper.
# not_tested: not run in this profile.
VERDICTS = ("reproduced", "partially", "within_noise", "not_reproduced", "not_testable_here", "not_tested")

# What a claim is about. Only `paper` claims are findings of a paper: the headline counts them alone.
KINDS = {
    "paper": "a finding stated in the paper",
    "implementation": "our code against the paper's or the official code's numbers (parameters, FLOPs, "
                      "complexity slopes, parity)",
    "sanity": "a check of this book's own set-up (data, pipeline)",
    "beyond": "a question beyond the papers",
}


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
    kind: str = "paper"          # one of KINDS
    gate: str = ""               # the regime in which the claim can be judged, and whether this run is in it
    rule: str = ""               # how the verdict follows from the numbers (margin, noise, sidedness)
    paper_status: str = ""       # the paper value's status: confirmed, secondary, not sourced

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {tuple(KINDS)}, got {self.kind!r}")


def verdict_from_checks(checks: list[bool]) -> str:
    """All checks pass: reproduced; some: partially; none: not_reproduced; no checks: not_tested."""
    if not checks:
        return "not_tested"
    passed = sum(bool(c) for c in checks)
    return "reproduced" if passed == len(checks) else ("partially" if passed else "not_reproduced")


def mean_and_error(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error over seeds (sd / sqrt(n); nan with one value)."""
    mean = statistics.mean(values)
    return mean, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan"))


def pooled_sd(groups) -> float:
    """The pooled standard deviation of several groups of repeated measurements (e.g. one
    configuration's accuracy over seeds, for several configurations): sqrt(sum (n_i - 1) var_i /
    sum (n_i - 1)) over the groups with more than one value; nan without any."""
    groups = [list(group) for group in groups]
    dof = sum(len(group) - 1 for group in groups if len(group) > 1)
    if not dof:
        return float("nan")
    return math.sqrt(sum(statistics.variance(group) * (len(group) - 1) for group in groups if len(group) > 1) / dof)


def significant(values: list[float]) -> bool:
    """The mean is positive and more than twice its standard error (never with one value)."""
    mean, error = mean_and_error(values)
    return len(values) > 1 and mean > 0 and mean > 2 * error


def noise_verdict(difference: float, error: float) -> str:
    """Verdict of a claimed positive difference with standard error `error`: reproduced beyond two
    standard errors, not_reproduced below minus two, within_noise in between; without an error
    (nan: one seed) the sign decides."""
    if math.isnan(error):
        return "reproduced" if difference > 0 else "not_reproduced"
    if difference > 2 * error:
        return "reproduced"
    return "not_reproduced" if difference < -2 * error else "within_noise"


def seeded_verdict(differences: list[float]) -> str:
    """`noise_verdict` of a difference measured per seed: its mean against the standard error of
    the mean. One seed cannot be judged against noise: its sign decides, and the claim's n = 1 says so."""
    return noise_verdict(*mean_and_error(differences))


def claim_spread(error: float) -> float | None:
    """A `Claim.spread`: the standard error rounded to 2 digits, None where there is none (nan: one seed)."""
    return None if math.isnan(error) else round(error, 2)


def binomial_se(acc: float, n: int) -> float:
    """One binomial standard error (pp) of a top-1 accuracy (%) measured on n images."""
    p = acc / 100
    return 100 * math.sqrt(max(p * (1 - p), 1e-12) / n)


def difference_error(errors: list[float]) -> float:
    """The standard error of a sum or difference of independent estimates: sqrt(sum of squares)."""
    return math.sqrt(sum(error * error for error in errors))


def accuracy_difference_error(acc_a: float, acc_b: float, n_images: int, seed_sd: float | None = None,
                              n_a: int = 1, n_b: int = 1) -> float:
    """The standard error (pp) of acc_a - acc_b, each the mean of n_a / n_b runs: from the pooled
    seed-to-seed sd where one is known, else from the test set alone (two binomial s.e.), which
    understates the noise of a single training run and is named as such by `single_run_note`."""
    if seed_sd is not None and not math.isnan(seed_sd):
        return seed_sd * math.sqrt(1 / n_a + 1 / n_b)
    return difference_error([binomial_se(acc_a, n_images), binomial_se(acc_b, n_images)])


def single_run_note(n: int | None) -> str:
    """The words every single-run comparison carries."""
    return "one run per arm: its noise is the test set's alone (seed noise not measured)" if (n or 1) == 1 else ""


def greater_verdict(difference: float, error: float, margin: float = 0.0) -> str:
    """A claim that a difference exceeds `margin` (a one-sided claim): reproduced when it does by more
    than two standard errors, not_reproduced when it falls short by more than two, else within_noise.
    An error is required: for a single run per arm take it from the test set
    (`accuracy_difference_error`), and say so (`single_run_note`)."""
    if math.isnan(error):
        raise ValueError("greater_verdict needs a standard error; for one run use accuracy_difference_error")
    if difference - margin > 2 * error:
        return "reproduced"
    return "not_reproduced" if difference - margin < -2 * error else "within_noise"


def equal_verdict(difference: float, error: float, tolerance: float) -> str:
    """A two-sided claim that two numbers are about equal, within +-`tolerance`: reproduced when the
    whole two-s.e. interval of the difference lies inside the tolerance, not_reproduced when it lies
    wholly outside, else within_noise."""
    if math.isnan(error):
        raise ValueError("equal_verdict needs a standard error")
    if abs(difference) + 2 * error <= tolerance:
        return "reproduced"
    return "not_reproduced" if abs(difference) - 2 * error > tolerance else "within_noise"


def ratio_verdict(ours: float, paper: float, relative_error: float, tolerance: float) -> str:
    """A claim about a ratio (a speed-up): ours within `tolerance` (relative) of the paper's value is
    reproduced, outside it by more than two relative standard errors not_reproduced, else within_noise."""
    gap = abs(ours / paper - 1)
    if gap + 2 * relative_error <= tolerance:
        return "reproduced"
    return "not_reproduced" if gap - 2 * relative_error > tolerance else "within_noise"


def printed_precision(text: str) -> float:
    """Half a unit of the last printed digit of a number as written ("18.5" -> 0.05, "86" -> 0.5)."""
    digits = text.strip().split(".")[1] if "." in text else ""
    return 0.5 * 10 ** -len(digits)


def count_verdict(ours: float, paper: str, slack: float = 0.0) -> str:
    """An implementation count (parameters, FLOPs) against a value printed as `paper`: reproduced when
    ours rounds to it (within half its last digit, plus a relative `slack` for a stated convention
    difference), else not_reproduced."""
    value = float(paper)
    return "reproduced" if abs(ours - value) <= printed_precision(paper) + slack * abs(value) else "not_reproduced"


def gated(verdict: str, met: bool) -> str:
    """The verdict where the run is in the claim's regime (`met`), else not_testable_here."""
    return verdict if met else "not_testable_here"


def gate_text(condition: str, met: bool, observed: str) -> str:
    """A claim's gate as the book prints it: the condition, what this run had, met or not."""
    return f"{condition}; this run: {observed} ({'met' if met else 'NOT met: the claim is not testable here'})"


def combined_verdict(verdicts: list[str]) -> str:
    """One verdict for a claim judged by several rules: their common verdict if they agree;
    partially if some are reproduced; else within_noise if any is; else not_reproduced."""
    if len(set(verdicts)) == 1:
        return verdicts[0]
    if "reproduced" in verdicts:
        return "partially"
    return "within_noise" if "within_noise" in verdicts else "not_reproduced"


def plus_minus(values: list[float], digits: int = 2) -> str:
    """'mean ± s.e. (s.e., n seeds)', or the value alone for one seed."""
    mean, error = mean_and_error(values)
    return f"{mean:+.{digits}f}" + ("" if math.isnan(error) else f" ± {error:.{digits}f} (s.e., {len(values)} seeds)")


def claim_record(claim: Claim) -> dict:
    """A claim as stored in claims.json: every field."""
    return asdict(claim)


def write_claims(chapter: str, claims: list[Claim], *, results_dir: Path | None = None,
                 profile: str | None = None) -> Path:
    """Write `claims.json` for a chapter (per profile, so a smoke run never overwrites cpu claims).
    A file that already holds these claims is left untouched (not even rewritten), so a chapter whose
    records are all stored runs with a read-only results folder."""
    results_dir = Path(results_dir) if results_dir is not None else default_results_dir()
    name = "claims.json" if profile in (None, "cpu") else f"claims-{profile}.json"
    path = results_dir / chapter / name
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claim ids must be unique: {ids}")
    payload = [claim_record(c) for c in claims]
    with distributed.main_writes() as writer:  # under torchrun, rank 0 writes
        if writer and not _holds(path, payload):
            write_json_atomic(path, payload)
    return path


def _holds(path: Path, payload: list[dict]) -> bool:
    """Whether the JSON file `path` exists and holds `payload`, compared as canonical JSON text (so
    formatting does not matter and NaN equals NaN); a missing or unreadable file holds nothing."""
    import json

    try:
        stored = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError):
        return False
    return json.dumps(stored, sort_keys=True) == json.dumps(payload, sort_keys=True)


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

    return pd.DataFrame([{"claim": c.claim, "kind": c.kind, "paper": _fmt(c.paper_value), "ours": format_ours(c),
                          "delta": _fmt(_delta(c)) if c.verdict not in ("not_tested", "not_testable_here") else "—",
                          "unit": c.unit, "verdict": c.verdict.replace("_", " "), "profile": c.profile,
                          "evidence": c.evidence + (f" Gate: {c.gate}." if c.gate else "")
                          + (f" Rule: {c.rule}." if c.rule else "")} for c in claims])


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
