import json
import os
import re

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


def test_changed_records_are_not_code_changes(tmp_path, monkeypatch):
    """A recompute rewrites a chapter's committed records one by one: a later record must not say it
    was computed from changed code because an earlier record changed (git_state leaves results/ out,
    and captions of records written before that leave it out too)."""
    import subprocess

    from patchlib.figures import provenance
    from patchlib.results import code_changes, git_state

    assert code_changes(["results/vit/a.json", "patchlib/train.py"]) == ["patchlib/train.py"]
    repo = tmp_path / "repo"
    (repo / "results").mkdir(parents=True)
    for name in ("results/a.json", "code.py"):
        (repo / name).write_text("1")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(git[:5] + ["init", "-q", str(repo)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    (repo / "results/a.json").write_text("2")
    assert git_state(repo)["dirty_files"] == []
    (repo / "code.py").write_text("2")
    assert git_state(repo)["dirty_files"] == ["code.py"]
    record = run_or_load(CONFIG, counting(1)[0], results_dir=tmp_path / "results")
    monkeypatch.setattr("patchlib.figures.stale_code", lambda r: [])
    record["provenance"] |= {"git_revision": "0fc4eae0000", "dirty_files": ["results/convmixer/grid-k3.json"]}
    assert "uncommitted" not in provenance(record)
    record["provenance"]["dirty_files"].append("patchlib/train.py")
    assert "uncommitted changes to patchlib/train.py" in provenance(record)


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
    ('[1, 2, 3]', "is not a result record: it holds a list"),                   # JSON, wrong shape
    ('{"schema": 2, "config_hash": "x", "config": {}, "provenance": {}}', "not a result record: result missing"),
])
def test_unusable_result_files_name_the_file_and_are_never_overwritten(tmp_path, content, problem):
    path = result_path(CONFIG, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    compute, calls = counting(2)
    with pytest.raises(ResultFileError, match=problem) as error:
        run_or_load(CONFIG, compute, results_dir=tmp_path)
    assert str(path) in str(error.value) and "delete it to recompute" in str(error.value)
    assert "make notebooks CHAPTERS=demo RECOMPUTE=all" in str(error.value)
    assert path.read_text() == content and calls == []        # nothing computed, nothing replaced
    assert run_or_load(CONFIG, compute, results_dir=tmp_path, force=True)["result"] == {"value": 2}


def _history_result(value):
    return {"value": value, "history": [{"epoch": 1, "train_loss": 2.3, "test_acc": 0.1}],
            "data": {"name": "toy", "fingerprint": "abc", "n_train": 8, "n_test": 4}}


# Damage inside a record that parses as JSON and has the right top level: each must be refused
# naming the file, the place and the fix, never reach a reader as a raw TypeError or AttributeError.
INNER_DAMAGE = {
    "config is a list": (lambda r: r.update(config=list(r["config"])), "config is a list"),
    "config number as text": (lambda r: r["config"].update(lr="0.001"), "config does not match"),
    "history entries are strings": (lambda r: r["result"].update(history=["epoch 1: loss 2.3"]),
                                    "result.history[0] is a string"),
    "history is an object": (lambda r: r["result"].update(history={"epoch": 1}), "result.history is an object"),
    "history number as text": (lambda r: r["result"]["history"][0].update(test_acc="0.1"),
                               "result.history[0].test_acc is a string"),
    "result number as text": (lambda r: r["result"].update(value="0.83"), "result.value is a number written as text"),
    "provenance missing keys": (lambda r: [r["provenance"].pop(k) for k in ("wall_time_s", "device")],
                                "provenance lacks device, wall_time_s"),
    "provenance number as text": (lambda r: r["provenance"].update(torch_threads="4"),
                                  "provenance.torch_threads is a string"),
    "provenance data damaged": (lambda r: r["provenance"]["data"].update(n_test="100"),
                                "provenance.data.n_test is a string"),
    "provenance data a list": (lambda r: r["provenance"].update(data=["toy"]), "provenance.data is a list"),
    "definitions a list": (lambda r: r["provenance"].update(definitions=[]), "provenance.definitions is a list"),
}


@pytest.mark.parametrize("damage", INNER_DAMAGE)
def test_inner_damage_in_a_record_is_named_with_the_file_and_the_fix(tmp_path, damage):
    damaged, problem = INNER_DAMAGE[damage]
    config = CONFIG | {"profile": "cpu"}
    path = result_path(config, tmp_path)
    run_or_load(config, lambda: _history_result(1), results_dir=tmp_path)
    record = load_result(path, config)  # undamaged, it loads
    damaged(record)
    path.write_text(json.dumps(record))
    content = path.read_text()
    with pytest.raises(ResultFileError, match=re.escape(problem)) as error:
        run_or_load(config, lambda: _history_result(2), results_dir=tmp_path)
    message = str(error.value)
    assert message.startswith(f"result file {path} is ") and "delete it to recompute it" in message
    assert "`make notebooks CHAPTERS=demo PROFILE=cpu RECOMPUTE=all`" in message
    assert path.read_text() == content  # left as it was
    assert check_results(tmp_path)[0][0] == path and problem in check_results(tmp_path)[0][1][0]
    assert run_or_load(config, lambda: _history_result(2), results_dir=tmp_path, force=True)["result"]["value"] == 2


def test_a_computed_record_the_readers_would_refuse_is_not_written(tmp_path):
    with pytest.raises(ValueError, match=r"result.accuracy is a number written as text \('0.5'\)"):
        run_or_load(CONFIG, lambda: {"accuracy": "0.5"}, results_dir=tmp_path)
    with pytest.raises(ValueError, match=r"result.history\[0\].train_loss is a string"):
        run_or_load(CONFIG, lambda: {"history": [{"train_loss": "nan"}]}, results_dir=tmp_path)
    assert not result_path(CONFIG, tmp_path).exists()
    assert run_or_load(CONFIG, lambda: {"label": "vit_ti16", "size": "16px", "history": [{"test_acc": None}]},
                       results_dir=tmp_path)["result"]["label"] == "vit_ti16"  # words, and a missing metric, are fine


def test_every_committed_record_has_the_shape_the_readers_rely_on():
    """The shape checks are the committed records' own shape: none is refused (nor too loose to matter: see above)."""
    from pathlib import Path

    from patchlib.results import record_problems

    paths = [p for p in sorted((Path(__file__).resolve().parents[1] / "results").glob("*/*.json"))
             if not p.name.startswith("claims")]
    assert len(paths) > 50
    assert {p.name: record_problems(json.loads(p.read_text())) for p in paths} == {p.name: [] for p in paths}


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


PROTOCOL_SETTINGS = ("batch_size", "precision", "repeats", "rounds", "version", "warmup")


def _timing_protocols(value):
    """Every timing protocol (`patchlib.measure.ThroughputProtocol.record()` as measured) inside a result."""
    if isinstance(value, dict):
        if "warmup" in value and "repeats" in value:
            yield value
        for inner in value.values():
            yield from _timing_protocols(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _timing_protocols(inner)


def test_a_timed_record_is_keyed_by_its_timing_protocol_and_device():
    """Issue 27 §2 (a cost piece's cache key): every committed record that holds timings has the
    protocol's settings and the device type in its config, so a changed protocol or another device
    is another record, never a stored timing of other settings."""
    from pathlib import Path

    timed = 0
    for path in sorted((Path(__file__).resolve().parents[1] / "results").glob("*/*.json")):
        if path.name.startswith("claims"):
            continue
        record = json.loads(path.read_text())
        for protocol in _timing_protocols(record["result"]):
            timed += 1
            config = record["config"]
            keyed = [config.get(key) for key in ("throughput", "protocol") if isinstance(config.get(key), dict)]
            settings = {key: protocol[key] for key in PROTOCOL_SETTINGS}
            assert any({key: entry.get(key) for key in PROTOCOL_SETTINGS} == settings for entry in keyed), path.name
            assert config.get("device_type") == protocol["device"].split(":")[0], path.name
    assert timed >= 6
