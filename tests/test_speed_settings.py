"""The speed settings of training (issue 28) and the loop's reads of the device (issue 26 §2).

- A precision reaches the model: under `runtime.autocast`, "bf16_fp32_attention" runs the attention
  in float32 while the linear layers run in bf16; "bf16" runs it in bf16; "bf16_math_attention"
  selects the math kernel; a wrong name is a clear error wherever a config takes one.
- A record's training config keeps its earlier form (and cache key) while the speed options added
  later are at the values earlier records were computed with.
- `fit` reads the device a fixed number of times per epoch, not once per step.
- The opt-in `torch.compile` gives the eager loss curve.
Nothing here times anything: the speed ratios live in benchmarks/training_speed.py.
"""
from __future__ import annotations

import os
import sys
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from patchlib import layers
from patchlib.pose.train import PoseTrainConfig
from patchlib.results import config_hash
from patchlib.runtime import PRECISIONS, autocast
from patchlib.train import LATER_FIELDS, Task, TrainConfig, fit, make_adamw


def attention_dtypes(precision: str, monkeypatch, *, return_cls_attention: bool = False) -> dict:
    """The dtypes an Attention layer's kernel and output projection see under `precision`."""
    seen = {}
    real_sdpa = F.scaled_dot_product_attention

    def recording_sdpa(q, k, v, *args, **kwargs):
        seen["attention"] = q.dtype
        return real_sdpa(q, k, v, *args, **kwargs)

    monkeypatch.setattr(layers.F, "scaled_dot_product_attention", recording_sdpa)
    attention = layers.Attention(32, heads=4)
    attention.proj.register_forward_hook(lambda module, inputs, output: seen.update(proj=output.dtype))
    with autocast(torch.device("cpu"), precision):
        out = attention(torch.randn(2, 5, 32), return_cls_attention=return_cls_attention)
    out = out[0] if isinstance(out, tuple) else out
    return seen | {"output": out.dtype}


def test_fp32_attention_under_bf16_autocast(monkeypatch):
    seen = attention_dtypes("bf16_fp32_attention", monkeypatch)
    assert seen["attention"] == torch.float32 and seen["proj"] == torch.bfloat16
    seen = attention_dtypes("bf16_fp32_attention", monkeypatch, return_cls_attention=True)  # EViT's path
    assert seen["attention"] == torch.float32


def test_plain_bf16_runs_the_attention_in_bf16_and_fp32_in_fp32(monkeypatch):
    assert attention_dtypes("bf16", monkeypatch)["attention"] == torch.bfloat16
    assert attention_dtypes("fp32", monkeypatch) == {"attention": torch.float32, "proj": torch.float32,
                                                     "output": torch.float32}
    assert attention_dtypes("auto", monkeypatch)["attention"] == torch.float32  # auto on CPU: fp32


def test_the_math_kernel_setting_selects_the_math_backend(monkeypatch):
    chosen = []
    real = layers.sdpa_kernel

    def recording(backends):
        chosen.append(backends)
        return real(backends)

    monkeypatch.setattr(layers, "sdpa_kernel", recording)
    attention_dtypes("bf16_math_attention", monkeypatch)
    assert chosen == [layers.SDPBackend.MATH]
    chosen.clear()
    attention_dtypes("bf16", monkeypatch)
    assert chosen == []


def test_the_attention_mode_ends_with_its_block(monkeypatch):
    with autocast(torch.device("cpu"), "bf16_fp32_attention"):
        pass
    assert attention_dtypes("bf16", monkeypatch)["attention"] == torch.bfloat16


@pytest.mark.parametrize("make", [lambda **kw: TrainConfig(epochs=1, **kw), lambda **kw: PoseTrainConfig(epochs=1, **kw)])
def test_a_wrong_setting_is_a_clear_error(make):
    with pytest.raises(ValueError, match="unknown precision 'bf32'.*bf16_fp32_attention"):
        make(precision="bf32")
    with pytest.raises(ValueError, match="adamw_impl.*'fast'.*fused"):
        make(adamw_impl="fast")
    with pytest.raises(ValueError, match="compile must be True or False"):
        make(compile="yes")
    for precision in PRECISIONS:
        make(precision=precision)


def test_records_keep_their_form_while_the_later_options_are_at_their_old_values():
    config = TrainConfig(epochs=3, precision="bf16")
    old_form = {k: v for k, v in asdict(config).items() if k not in LATER_FIELDS}  # the fields before issue 28
    assert config.record() == old_form and config_hash(config.record()) == config_hash(old_form)
    fused = TrainConfig(epochs=3, precision="bf16", adamw_impl="fused", compile=True)
    assert fused.record() == old_form | {"adamw_impl": "fused", "compile": True}
    assert PoseTrainConfig(epochs=2).record() == {k: v for k, v in asdict(PoseTrainConfig(epochs=2)).items()
                                                  if k not in LATER_FIELDS}


@pytest.mark.parametrize("impl, flag", [("default", None), ("foreach", "foreach"), ("fused", "fused")])
def test_the_adamw_implementation_reaches_the_optimiser(impl, flag):
    optimizer = make_adamw([{"params": [nn.Parameter(torch.zeros(3))]}], TrainConfig(epochs=1, adamw_impl=impl))
    assert isinstance(optimizer, torch.optim.AdamW)
    for name in ("foreach", "fused"):
        assert bool(optimizer.defaults[name]) == (name == flag)


# ---- the loop's reads of the device ----

class SquaresTask(Task):
    """A small classification-like task whose step returns its counts as tensors (as
    ClassificationTask does), to count the loop's reads."""

    def __init__(self, steps: int, config):
        self.config, self.steps_per_epoch = config, steps
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(steps * 8, 6, generator=generator)
        self.y = (self.x.sum(dim=1) > 0).long()

    def batches(self, epoch, streams):
        order = torch.randperm(len(self.x), generator=streams.order)
        for step in range(self.steps_per_epoch):
            index = order[step * 8:(step + 1) * 8]
            yield self.x[index], self.y[index]

    def training_step(self, model, batch, streams):
        x, y = batch
        with autocast(torch.device("cpu"), self.config.precision):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        return loss, {"correct": (logits.argmax(dim=1) == y).sum(), "seen": len(y)}

    def schedule(self, step, total_steps):
        return 1.0

    def evaluate(self, model):
        return {}

    def train_metrics(self, sums):
        return {"train_acc": 100 * sums["correct"] / sums["seen"]}


def count_reads(monkeypatch, steps: int, *, progress: bool) -> int:
    """Reads of a tensor's value to the host (item, tolist, cpu, float(), int(), bool()) made by
    patchlib's code during a `fit`. (PyTorch's own host-side reads, such as AdamW's step counters,
    which live on the CPU on every device, are not the loop's.)"""
    reads = [0]
    for name in ("item", "tolist", "cpu", "__float__", "__int__", "__bool__"):
        real = getattr(torch.Tensor, name)

        def counting(self, *args, _real=real, **kwargs):
            if f"{os.sep}patchlib{os.sep}" in sys._getframe(1).f_code.co_filename:
                reads[0] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    torch.manual_seed(0)
    fit(nn.Linear(6, 2), SquaresTask(steps, TrainConfig(epochs=1, grad_clip=None)), seed=0, progress=progress)
    monkeypatch.undo()
    return reads[0]


def test_the_loop_reads_the_device_per_epoch_not_per_step(monkeypatch):
    assert count_reads(monkeypatch, 6, progress=False) == count_reads(monkeypatch, 30, progress=False)
    # with the progress bar: one more read per PROGRESS_EVERY (50) steps, not per step
    assert count_reads(monkeypatch, 60, progress=True) <= count_reads(monkeypatch, 6, progress=True) + 1


def test_the_epoch_metrics_are_the_per_step_sums():
    torch.manual_seed(0)
    task = SquaresTask(5, TrainConfig(epochs=1, grad_clip=None))
    entry = fit(nn.Linear(6, 2), task, seed=0, progress=False)["history"][0]
    assert 0 <= entry["train_acc"] <= 100 and isinstance(entry["train_loss"], float)
    assert isinstance(entry["train_acc"], float)


def test_compiled_training_follows_the_eager_loss_curve():
    """`compile=True` (opt-in, for the gpu profile): the same losses over a few steps as eager."""
    losses = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        config = TrainConfig(epochs=2, grad_clip=None, compile=compiled)
        history = fit(nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.Linear(16, 2)), SquaresTask(4, config),
                      seed=0, progress=False)["history"]
        losses[compiled] = [entry["train_loss"] for entry in history]
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
