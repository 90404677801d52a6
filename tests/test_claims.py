import json
import math
import os

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
    assert list(table.columns)[:5] == ["claim", "kind", "paper", "ours", "delta"]
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


def test_write_claims_leaves_a_file_holding_the_same_claims_untouched(tmp_path, monkeypatch):
    """Issue 27 §3.8: a chapter whose records are all stored re-derives the claims already on disk;
    writing them again would fail on a read-only results folder. Only a change is written."""
    import patchlib.claims

    nan = claim(id="n", our_value=float("nan"), spread=0.5, n=3)
    path = write_claims("demo", [claim(), nan], results_dir=tmp_path)
    before = path.stat()
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4))  # another formatting, same claims
    formatted = path.read_text()

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system", str(tmp_path))

    monkeypatch.setattr(patchlib.claims, "write_json_atomic", read_only)
    assert write_claims("demo", [claim(), nan], results_dir=tmp_path) == path  # nothing to write: no error
    assert path.read_text() == formatted and path.stat().st_ino == before.st_ino
    with pytest.raises(PermissionError):  # a change must still be written (and fails here)
        write_claims("demo", [claim(verdict="reproduced"), nan], results_dir=tmp_path)
    monkeypatch.undo()
    path.write_text("[{")  # a damaged file is rewritten
    write_claims("demo", [claim()], results_dir=tmp_path)
    assert [c["id"] for c in json.loads(path.read_text())] == ["a"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_write_claims_into_a_read_only_folder(tmp_path):
    folder = tmp_path / "demo"
    path = write_claims("demo", [claim()], results_dir=tmp_path)
    folder.chmod(0o555)
    path.chmod(0o444)
    try:
        assert write_claims("demo", [claim()], results_dir=tmp_path) == path
        with pytest.raises(PermissionError):
            write_claims("demo", [claim(id="b")], results_dir=tmp_path)
    finally:
        folder.chmod(0o755)
