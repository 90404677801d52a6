import json
import math

import pytest

from patchlib.claims import Claim, claims_table, verdict_from_checks, write_claims


def claim(**overrides):
    return Claim(**({"id": "a", "claim": "c", "paper_value": 1.0, "our_value": 0.9, "unit": "%",
                     "verdict": "partially", "profile": "cpu", "evidence": "e"} | overrides))


def test_verdict_rule():
    assert verdict_from_checks([True, True]) == "reproduced"
    assert verdict_from_checks([True, False]) == "partially"
    assert verdict_from_checks([False]) == "not_reproduced"
    assert verdict_from_checks([]) == "not_tested"


def test_unknown_verdict_is_rejected():
    with pytest.raises(ValueError, match="verdict"):
        claim(verdict="maybe")


def test_write_claims_per_profile(tmp_path):
    path = write_claims("demo", [claim(), claim(id="b")], results_dir=tmp_path, profile="cpu")
    assert path == tmp_path / "demo" / "claims.json"
    stored = json.loads(path.read_text())
    assert [c["id"] for c in stored] == ["a", "b"]
    assert set(stored[0]) >= {"id", "claim", "paper_value", "our_value", "unit", "verdict", "profile", "evidence"}
    smoke = write_claims("demo", [claim()], results_dir=tmp_path, profile="smoke")
    assert smoke.name == "claims-smoke.json" and json.loads(path.read_text())[1]["id"] == "b"
    with pytest.raises(ValueError, match="unique"):
        write_claims("demo", [claim(), claim()], results_dir=tmp_path)
    table = claims_table([claim(), claim(id="q", paper_value="qualitative")])
    assert list(table.columns)[:4] == ["claim", "paper", "ours", "delta"]
    assert table["delta"].tolist() == ["-0.1", "—"]


def test_noise_aware_verdicts_weigh_the_mean_against_its_standard_error():
    """Issue 13 §2: a difference over seeds is reproduced beyond 2 s.e., within noise inside them."""
    from patchlib.claims import combined_verdict, mean_and_error, noise_verdict, plus_minus, seeded_verdict

    assert seeded_verdict([1.0, 1.2, 0.9]) == "reproduced"
    assert seeded_verdict([0.3, -0.5, 0.9]) == "within_noise"   # mean 0.23, s.e. 0.41
    assert seeded_verdict([-1.0, -1.2, -0.9]) == "not_reproduced"
    assert seeded_verdict([0.3]) == "reproduced" and seeded_verdict([-0.3]) == "not_reproduced"  # one seed: the sign
    mean, error = mean_and_error([1.0, 2.0, 3.0])
    assert (mean, round(error, 4)) == (2.0, round(1 / 3 ** 0.5, 4))
    assert noise_verdict(1.0, 0.6) == "within_noise" and noise_verdict(1.0, 0.4) == "reproduced"
    assert combined_verdict(["reproduced", "reproduced"]) == "reproduced"
    assert combined_verdict(["reproduced", "within_noise"]) == "partially"
    assert combined_verdict(["within_noise", "not_reproduced"]) == "within_noise"
    assert plus_minus([1.0, 2.0, 3.0]) == "+2.00 ± 0.58 (s.e., 3 seeds)" and plus_minus([1.5]) == "+1.50"
    assert claim(verdict="within_noise").verdict == "within_noise"


def test_pooled_sd_weighs_each_group_by_its_degrees_of_freedom():
    from patchlib.claims import pooled_sd

    # variances 1 (n = 3) and 2 (n = 2); a single value adds nothing: sqrt((2 * 1 + 1 * 2) / 3)
    assert pooled_sd([[1.0, 2.0, 3.0], [5.0], [2.0, 4.0]]) == pytest.approx((4 / 3) ** 0.5)
    assert math.isnan(pooled_sd([[1.0], [2.0]]))
