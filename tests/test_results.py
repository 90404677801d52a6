import json
import os

import pytest

from patchlib.results import (ResultFileError, check_results, config_hash, file_digest, load_result, result_path,
                              run_or_load, stale_code, write_json_atomic)

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


def test_force_recomputes(tmp_path):
    compute, calls = counting(1)
    run_or_load(CONFIG, compute, results_dir=tmp_path)
    run_or_load(CONFIG, compute, results_dir=tmp_path, force=True)
    run_or_load(CONFIG, compute, results_dir=tmp_path)
    assert len(calls) == 2


def test_a_record_knows_its_code_and_is_reported_stale_when_it_changes(tmp_path, monkeypatch):
    from patchlib.fingerprint import SourceIndex

    results = tmp_path / "results"
    record = run_or_load(CONFIG, counting(1)[0], definitions=lambda: {"train": "a1", "CONSTANT": "c1"},
                         results_dir=results)
    assert record["provenance"]["definitions"] == {"train": "a1", "CONSTANT": "c1"}
    assert "dirty_files" in record["provenance"]
    index = SourceIndex({"patchlib.x": ("def train():\n    return 1\n", False)})
    monkeypatch.setattr(index, "has", lambda name, value: value in ("a1", "c1"))
    assert stale_code(record, index) == [] and check_results(results, index) == []
    monkeypatch.setattr(index, "has", lambda name, value: value == "a1")
    assert stale_code(record, index) == ["CONSTANT"]
    assert check_results(results, index) == [(result_path(CONFIG, results), ["CONSTANT"])]
    # the record is still loaded (never silently recomputed), and the book says it is stale
    from patchlib.figures import provenance
    monkeypatch.setattr("patchlib.figures.stale_code", lambda r: stale_code(r, index))
    assert "Computed with older code** (changed since: CONSTANT)" in provenance(record)
    # a record from before fingerprints is stale too, and says why
    assert stale_code({"provenance": {}}) == ["(code not recorded)"]


def test_a_record_of_file_fingerprints_names_its_changed_files(tmp_path):
    root = tmp_path / "code"
    (root / "patchlib").mkdir(parents=True)
    (root / "patchlib/train.py").write_text("x = 1\n")
    record = {"provenance": {"code": {"patchlib/train.py": file_digest(root / "patchlib/train.py"),
                                      "patchlib/layers.py": "0" * 16}}}
    assert stale_code(record, root=root) == ["patchlib/layers.py (gone)"]
    (root / "patchlib/train.py").write_text("x = 2\n")
    assert stale_code(record, root=root) == ["patchlib/train.py", "patchlib/layers.py (gone)"]


def test_check_results_command_exits_1_on_stale_records(tmp_path, monkeypatch, capsys):
    from patchlib.results import main

    results = tmp_path / "results"
    run_or_load(CONFIG, counting(1)[0], definitions={"train": "x"}, results_dir=results)
    monkeypatch.setattr("patchlib.results.stale_definitions", lambda fingerprint, index=None: [])
    assert main([str(results)]) == 0
    monkeypatch.setattr("patchlib.results.stale_definitions", lambda fingerprint, index=None: ["train"])
    assert main([str(results)]) == 1
    out = capsys.readouterr().out
    assert "stale: " in out and "changed since: train" in out


@pytest.mark.parametrize("content, problem", [
    ('{"schema": 1, "config_ha', "is not valid JSON"),                        # truncated
    ('[1, 2, 3]', "is not a result record"),                                    # JSON, wrong shape
    ('{"schema": 2, "config_hash": "x", "config": {}, "provenance": {}}', "missing or malformed: result"),
])
def test_unusable_result_files_name_the_file_and_are_never_overwritten(tmp_path, content, problem):
    path = result_path(CONFIG, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    compute, calls = counting(2)
    with pytest.raises(ResultFileError, match=problem) as error:
        run_or_load(CONFIG, compute, results_dir=tmp_path)
    assert str(path) in str(error.value) and "delete it to recompute" in str(error.value)
    assert path.read_text() == content and calls == []        # nothing computed, nothing replaced
    assert run_or_load(CONFIG, compute, results_dir=tmp_path, force=True)["result"] == {"value": 2}


def test_a_record_of_another_configuration_is_refused(tmp_path):
    compute, _ = counting(2)
    path = result_path(CONFIG, tmp_path)
    record = run_or_load(CONFIG, compute, results_dir=tmp_path)
    record["config_hash"] = "0" * 16
    path.write_text(json.dumps(record))
    with pytest.raises(ResultFileError, match="another configuration"):
        load_result(path, CONFIG)


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
