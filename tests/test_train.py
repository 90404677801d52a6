from pathlib import Path

import pytest
import torch

import patchlib
from patchlib.data import load_dataset
from patchlib.data.augment import channel_stats
from patchlib.train import TrainConfig, evaluate, lr_factor, train


@pytest.fixture(scope="module")
def tiny_data():
    return load_dataset("shapes10", n_train=256, n_test=64, seed=0)


def tiny_model():
    torch.manual_seed(0)
    return patchlib.create_model("vit_micro", dim=32, depth=1, heads=2, patch_size=8)


CONFIG = TrainConfig(epochs=3, batch_size=64, lr=3e-3, warmup_epochs=0.5)


def test_interrupted_then_resumed_run_equals_uninterrupted_run(tiny_data, tmp_path):
    full = train(tiny_model(), tiny_data, CONFIG, seed=1, progress=False)

    checkpoint = tmp_path / "run.pt"
    interrupted = train(tiny_model(), tiny_data, CONFIG, seed=1, progress=False, checkpoint=checkpoint,
                        stop_after_epochs=1)
    assert not interrupted["completed"] and len(interrupted["history"]) == 1
    # A new process would build a fresh model: the checkpoint alone must carry the state.
    resumed_model = tiny_model()
    resumed = train(resumed_model, tiny_data, CONFIG, seed=1, progress=False, checkpoint=checkpoint)
    assert resumed["completed"]
    strip = lambda history: [{k: v for k, v in h.items() if k != "train_images_per_s"} for h in history]
    assert strip(resumed["history"]) == strip(full["history"])
    assert resumed["final"] == full["final"]


def test_training_is_deterministic_and_learns(tiny_data):
    a = train(tiny_model(), tiny_data, CONFIG, seed=3, progress=False)
    b = train(tiny_model(), tiny_data, CONFIG, seed=3, progress=False)
    assert a["history"][-1]["test_loss"] == b["history"][-1]["test_loss"]
    assert a["history"][-1]["train_loss"] < a["history"][0]["train_loss"]


def test_checkpoint_of_another_config_is_refused(tiny_data, tmp_path):
    checkpoint = tmp_path / "run.pt"
    train(tiny_model(), tiny_data, CONFIG, seed=0, progress=False, checkpoint=checkpoint, stop_after_epochs=1)
    with pytest.raises(ValueError, match="different training config"):
        train(tiny_model(), tiny_data, TrainConfig(epochs=4, batch_size=64), seed=0, progress=False,
              checkpoint=checkpoint)


def test_lr_schedules():
    cosine = [lr_factor(s, 100, 10, "cosine") for s in range(100)]
    assert cosine[0] == pytest.approx(0.1) and cosine[9] == pytest.approx(1.0)
    assert cosine[10] == pytest.approx(1.0) and cosine[-1] < 0.01
    assert all(x >= y for x, y in zip(cosine[10:], cosine[11:]))
    # the convmixer-cifar10 knots: 0 -> 1 at 2/5, -> 1/20 at 4/5, -> 0 at the end
    onecycle = [lr_factor(s, 100, 40, "onecycle") for s in range(101)]
    assert onecycle[0] == pytest.approx(1 / 40) and onecycle[39] == pytest.approx(1.0)
    assert onecycle[40] == pytest.approx(1.0) and onecycle[80] == pytest.approx(0.05)
    assert onecycle[60] == pytest.approx(1 - 0.95 / 2) and onecycle[90] == pytest.approx(0.025)
    assert onecycle[100] == 0.0 and all(x >= y for x, y in zip(onecycle[40:], onecycle[41:]))


def test_bad_train_configs_fail_clearly():
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(epochs=1, schedule="linear")
    with pytest.raises(ValueError, match="augment"):
        TrainConfig(epochs=1, augment="mixup")


def test_channel_stats_and_evaluate(tiny_data):
    mean, std = channel_stats(tiny_data.train.images, chunk=100)
    x = tiny_data.train.images.double() / 255
    torch.testing.assert_close(torch.tensor(mean, dtype=torch.float64), x.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(torch.tensor(std, dtype=torch.float64), x.std(dim=(0, 2, 3), unbiased=False))
    metrics = evaluate(tiny_model(), tiny_data.test, mean=mean, std=std, device=torch.device("cpu"))
    assert 0 <= metrics["acc"] <= 100 and metrics["loss"] > 0


def test_a_run_prints_its_estimated_time_once_after_its_first_steps(tiny_data, capsys):
    """Issue 10 §2: the estimate comes from timed steps (the first, with its set-up, not counted)."""
    train(tiny_model(), tiny_data, CONFIG, seed=1, progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if "estimate of the training time" in line]
    assert len(lines) == 1, lines
    assert "3 epoch(s) of 4 steps" in lines[0] and "timed over steps 2-11" in lines[0]
    train(tiny_model(), tiny_data, CONFIG, seed=1, progress=False)
    assert "estimate" not in capsys.readouterr().out


@pytest.mark.parametrize("bad", [float("nan"), -1.0, 0.0, float("inf"), True, "1"])
def test_a_gradient_clip_is_none_or_a_finite_positive_norm(bad):
    from patchlib.pose.train import PoseTrainConfig

    with pytest.raises(ValueError, match="TrainConfig.grad_clip"):
        TrainConfig(epochs=1, grad_clip=bad)
    with pytest.raises(ValueError, match="PoseTrainConfig.grad_clip"):
        PoseTrainConfig(epochs=1, grad_clip=bad)
    assert TrainConfig(epochs=1, grad_clip=None).grad_clip is None and TrainConfig(epochs=1, grad_clip=0.5)


def test_checkpoints_are_written_through_a_temporary_file_of_their_own(tmp_path, monkeypatch):
    """Two runs writing one checkpoint never share a temporary name; a failed write leaves nothing."""
    from patchlib import train as train_module

    path = tmp_path / "run.pt"
    seen = []
    real_save = torch.save
    monkeypatch.setattr(train_module.torch, "save", lambda state, f: seen.append(f) or real_save(state, f))
    train_module.save_checkpoint(path, {"a": 1})
    train_module.save_checkpoint(path, {"a": 2})
    assert torch.load(path)["a"] == 2 and len(set(seen)) == 2 and all(Path(f).parent == tmp_path for f in seen)

    def full_disk(state, f):
        Path(f).write_bytes(b"partial")
        raise RuntimeError("No space left on device")

    monkeypatch.setattr(train_module.torch, "save", full_disk)
    with pytest.raises(RuntimeError, match="No space"):
        train_module.save_checkpoint(path, {"a": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"] and torch.load(path)["a"] == 2


def test_the_time_estimate_times_ten_steps_and_says_it_is_rough(capsys):
    from patchlib.train import TimeEstimate

    estimate = TimeEstimate(epochs=2, steps_per_epoch=20)
    for _ in range(10):
        estimate.step_done()
    assert capsys.readouterr().out == ""          # not yet: the first step is set-up, then ten are timed
    estimate.step_done()
    out = capsys.readouterr().out
    assert "rough estimate" in out and "timed over steps 2-11" in out
