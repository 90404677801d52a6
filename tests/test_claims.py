import json

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
