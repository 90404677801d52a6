"""The experiment runner's contract: missing data fails loudly, stored results stand in for it."""
import pytest

from patchlib.data import DataNotFoundError
from patchlib.experiments import vit
from patchlib.results import result_path, write_json_atomic


def test_cpu_profile_without_data_fails_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv("PATCHLIB_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="PATCHLIB_DATA"):
        vit.run("cpu", results_dir=tmp_path / "results")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError, match=str(empty)):
        vit.run("cpu", data_root=empty, results_dir=tmp_path / "results")


def test_a_stored_result_is_used_when_the_data_is_absent(tmp_path, monkeypatch):
    monkeypatch.delenv("PATCHLIB_DATA", raising=False)
    config = vit.experiment_config("cpu", seed=0)
    from patchlib.results import SCHEMA_VERSION, config_hash
    stored = {"schema": SCHEMA_VERSION, "config_hash": config_hash(config), "config": config,
              "provenance": {"data": {"fingerprint": "x"}}, "result": {"marker": 1}}
    write_json_atomic(result_path(config, tmp_path), stored)
    assert vit.run("cpu", results_dir=tmp_path)["result"] == {"marker": 1}
    with pytest.raises(DataNotFoundError):  # force: recompute, which needs the data
        vit.run("cpu", results_dir=tmp_path, force=True)
    with pytest.raises(DataNotFoundError):  # another seed is another configuration
        vit.run("cpu", seed=1, results_dir=tmp_path)


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        vit.run("fast")


def test_profiles_declare_sizes_for_every_profile():
    from patchlib.profiles import PROFILES
    assert set(vit.SIZES) == set(PROFILES)
    for profile in PROFILES:
        config = vit.experiment_config(profile, seed=0)
        assert config["profile"] == profile and config["chapter"] == "vit"
