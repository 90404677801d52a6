import json
import os

import pytest

from patchlib.results import (REPO_ROOT, ResultFileError, check_results, code_fingerprint, config_hash, load_result,
                              result_path, run_or_load, stale_files, write_json_atomic)

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


def _code_tree(tmp_path):
    """A temporary copy of two package files, as a code root."""
    root = tmp_path / "code"
    for name in ("patchlib/layers.py", "patchlib/train.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes((REPO_ROOT / name).read_bytes())
    return root


def test_a_record_knows_its_code_and_is_reported_stale_when_it_changes(tmp_path, monkeypatch):
    root = _code_tree(tmp_path)
    monkeypatch.setattr("patchlib.results.REPO_ROOT", root)
    results = tmp_path / "results"
    record = run_or_load(CONFIG, counting(1)[0], code=["patchlib/layers.py", "patchlib/train.py"],
                         results_dir=results)
    assert set(record["provenance"]["code"]) == {"patchlib/layers.py", "patchlib/train.py"}
    assert "dirty_files" in record["provenance"]
    assert stale_files(record, root) == [] and check_results(results, root) == []
    with open(root / "patchlib/train.py", "a") as f:
        f.write("\n# an edit\n")
    assert stale_files(record, root) == ["patchlib/train.py"]
    assert check_results(results, root) == [(result_path(CONFIG, results), ["patchlib/train.py"])]
    (root / "patchlib/layers.py").unlink()
    assert stale_files(record, root) == ["patchlib/layers.py (gone)", "patchlib/train.py"]
    # the record is still loaded (never silently recomputed), and the book says it is stale
    from patchlib.figures import provenance
    monkeypatch.setattr("patchlib.figures.stale_files", lambda r: stale_files(r, root))
    assert "Computed with older code** (changed since: patchlib/layers.py (gone), patchlib/train.py)" in \
        provenance(record)
    # a record from before fingerprints is stale too, and says why
    assert stale_files({"provenance": {}}, root) == ["(code not recorded)"]


def test_check_results_command_exits_1_on_stale_records(tmp_path, monkeypatch, capsys):
    from patchlib.results import main

    root = _code_tree(tmp_path)
    monkeypatch.setattr("patchlib.results.REPO_ROOT", root)
    results = tmp_path / "results"
    run_or_load(CONFIG, counting(1)[0], code=["patchlib/train.py"], results_dir=results)
    assert main([str(results)]) == 0
    (root / "patchlib/train.py").write_text("changed")
    assert main([str(results)]) == 1
    assert "stale: " in capsys.readouterr().out


def test_fingerprinting_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py"):
        code_fingerprint(["patchlib/nope.py"], tmp_path)


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
