import pytest
import torch

import patchlib
from patchlib.measure import flops, parameter_count, throughput


def test_flops_counts_a_linear_layer_exactly():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5))
    assert flops(model, (3, 2, 2)) == {"flops": 2 * 12 * 5, "macs": 12 * 5, "gmacs": 60 / 1e9}


def test_vit_macs_match_a_hand_count():
    """MACs of the matrix multiplies of a ViT, counted by hand (norms, softmax and biases excluded)."""
    model = patchlib.create_model("vit_micro")  # 64 wide, 2 layers, 4x4 patches on 32x32
    n, d, depth, p = 65, 64, 2, 4
    per_block = n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * 4 * d
    expected = (n - 1) * 3 * p * p * d + depth * per_block + d * 10
    assert flops(model, (3, 32, 32))["macs"] == expected


def test_throughput_records_its_protocol():
    record = throughput(patchlib.create_model("vit_micro"), (3, 32, 32), batch_size=4, warmup=1, repeats=3)
    assert record["images_per_s"] > 0
    for key in ("batch_size", "precision", "device", "threads", "warmup", "repeats"):
        assert key in record
    assert parameter_count(torch.nn.Linear(3, 2)) == 8


def test_alternating_throughput_times_every_model_every_round():
    from patchlib.measure import alternating_throughput
    models = {"a": torch.nn.Linear(4, 2), "b": torch.nn.Linear(4, 3)}
    rates = alternating_throughput(models, (4,), rounds=3, batch_size=2, warmup=0, repeats=1)
    assert set(rates) == {"a", "b"} and all(len(v) == 3 and min(v) > 0 for v in rates.values())
