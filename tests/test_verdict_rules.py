"""The verdict rules of `patchlib.claims`, pinned on synthetic numbers, boundaries included."""
import math

import pytest

from patchlib.claims import (Claim, accuracy_difference_error, binomial_se, count_verdict, equal_verdict, gate_text,
                             gated, greater_verdict, printed_precision, ratio_verdict)


@pytest.mark.parametrize("difference, error, margin, verdict", [
    (1.0, 0.4, 0.0, "reproduced"),        # 1.0 > 2 x 0.4
    (0.8, 0.4, 0.0, "within_noise"),      # exactly 2 s.e.: not beyond
    (0.0, 0.4, 0.0, "within_noise"),
    (-0.81, 0.4, 0.0, "not_reproduced"),
    (1.5, 0.2, 1.0, "reproduced"),        # above a margin by more than 2 s.e.
    (1.3, 0.2, 1.0, "within_noise"),
    (0.5, 0.2, 1.0, "not_reproduced"),
])
def test_greater_verdict(difference, error, margin, verdict):
    assert greater_verdict(difference, error, margin) == verdict


def test_greater_verdict_refuses_to_judge_without_noise():
    with pytest.raises(ValueError, match="standard error"):
        greater_verdict(3.0, float("nan"))


@pytest.mark.parametrize("difference, error, tolerance, verdict", [
    (0.2, 0.3, 1.0, "reproduced"),        # |0.2| + 0.6 <= 1
    (-0.4, 0.3, 1.0, "reproduced"),       # two-sided: the sign does not matter
    (0.5, 0.3, 1.0, "within_noise"),      # 1.1 > 1 but 0.5 - 0.6 < 1
    (-1.7, 0.3, 1.0, "not_reproduced"),   # 1.7 - 0.6 > 1
    (1.6, 0.3, 1.0, "within_noise"),      # exactly on the boundary: not beyond
])
def test_equal_verdict_is_two_sided(difference, error, tolerance, verdict):
    assert equal_verdict(difference, error, tolerance) == verdict


def test_ratio_verdict_against_the_papers_speed_up():
    assert ratio_verdict(1.48, 1.5, 0.01, 0.05) == "reproduced"
    assert ratio_verdict(1.45, 1.5, 0.01, 0.05) == "within_noise"   # the 2-s.e. interval crosses the edge
    assert ratio_verdict(1.28, 1.5, 0.02, 0.05) == "not_reproduced"   # EViT's 1.28x against 1.5x
    assert ratio_verdict(1.40, 1.5, 0.02, 0.05) == "within_noise"


def test_counts_are_judged_at_the_papers_printed_precision():
    assert printed_precision("18.5") == pytest.approx(0.05) and printed_precision("86") == 0.5
    assert count_verdict(18.449, "18.4") == "reproduced"
    assert count_verdict(18.449, "18.5") == "not_reproduced"      # 18.449 does not round to 18.5
    assert count_verdict(1.05, "0.7") == "not_reproduced"
    assert count_verdict(1.05, "1.0", slack=0.05) == "reproduced"  # a stated convention difference


def test_a_single_run_difference_takes_the_test_sets_noise_and_seeds_take_theirs():
    single = accuracy_difference_error(60.0, 58.0, 10_000)
    assert single == pytest.approx(math.hypot(binomial_se(60.0, 10_000), binomial_se(58.0, 10_000)))
    assert accuracy_difference_error(60.0, 58.0, 10_000, seed_sd=0.7, n_a=3, n_b=3) == \
        pytest.approx(0.7 * math.sqrt(2 / 3))


def test_gates_and_kinds():
    assert gated("reproduced", met=True) == "reproduced"
    assert gated("reproduced", met=False) == "not_testable_here"
    assert "NOT met" in gate_text("classic-decoder AP >= 20", False, "AP 8.7")
    with pytest.raises(ValueError, match="kind"):
        Claim(id="x", claim="x", paper_value=None, our_value=None, unit="", verdict="reproduced", profile="cpu",
              evidence="", kind="finding")
    Claim(id="x", claim="x", paper_value=None, our_value=None, unit="", verdict="not_testable_here",
          profile="cpu", evidence="", kind="sanity")
