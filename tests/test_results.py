import json
import os

import pytest

from patchlib.results import config_hash, load_result, result_path, run_or_load, write_json_atomic

CONFIG = {"chapter": "demo", "name": "exp", "seed": 0, "lr": 1e-3}


def counting(value):
    calls = []

    def compute():
        calls.append(1)
        return {"value": value, "data": {"name": "toy", "fingerprint": "abc"}}
    return compute, calls


def test_result_is_computed_once_then_loaded(tmp_path):
    compute, calls = counting(1)
    first = run_or_load(CONFIG, compute, results_dir=tmp_path)
    second = run_or_load(CONFIG, compute, results_dir=tmp_path)
    assert calls == [1] and first == second and first["result"] == {"value": 1}
    provenance = first["provenance"]
    for key in ("git_revision", "torch", "device", "device_name", "torch_threads", "wall_time_s", "seed", "data"):
        assert key in provenance
    assert provenance["data"]["fingerprint"] == "abc"
    assert result_path(CONFIG, tmp_path).name == f"exp-{config_hash(CONFIG)}.json"


def test_a_changed_config_never_reuses_an_old_result(tmp_path):
    compute, calls = counting(1)
    run_or_load(CONFIG, compute, results_dir=tmp_path)
    for change in ({"lr": 2e-3}, {"seed": 1}, {"extra": [1, 2]}):
        assert config_hash(CONFIG | change) != config_hash(CONFIG)
        run_or_load(CONFIG | change, compute, results_dir=tmp_path)
    assert len(calls) == 4
    assert config_hash({"b": 1, "a": 2}) == config_hash({"a": 2, "b": 1})  # key order is irrelevant


def test_force_and_changed_data_recompute(tmp_path):
    compute, calls = counting(1)
    run_or_load(CONFIG, compute, results_dir=tmp_path)
    run_or_load(CONFIG, compute, results_dir=tmp_path, force=True)
    run_or_load(CONFIG, compute, results_dir=tmp_path, data_fingerprint="abc")   # same data: loaded
    run_or_load(CONFIG, compute, results_dir=tmp_path, data_fingerprint="other")  # other data: recomputed
    assert len(calls) == 3


def test_corrupt_or_foreign_result_files_are_not_read(tmp_path):
    path = result_path(CONFIG, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"schema": 1, "config_ha')  # truncated JSON
    with pytest.warns(UserWarning, match="unreadable"):
        assert load_result(path, CONFIG) is None
    compute, calls = counting(2)
    with pytest.warns(UserWarning):
        assert run_or_load(CONFIG, compute, results_dir=tmp_path)["result"] == {"value": 2}
    record = json.loads(path.read_text())
    record["config_hash"] = "0" * 16
    path.write_text(json.dumps(record))
    with pytest.warns(UserWarning, match="does not match"):
        assert load_result(path, CONFIG) is None


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"ok": True})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})  # not JSON-serialisable: fails mid-write
    assert json.loads(path.read_text()) == {"ok": True}
    assert os.listdir(tmp_path) == ["r.json"]  # no temporary file left behind


def test_interrupted_compute_leaves_no_result(tmp_path):
    def compute():
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_or_load(CONFIG, compute, results_dir=tmp_path)
    assert not result_path(CONFIG, tmp_path).exists()


def test_config_needs_chapter_and_name(tmp_path):
    with pytest.raises(ValueError, match="chapter"):
        result_path({"name": "x"}, tmp_path)
