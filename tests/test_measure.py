import pytest
import torch

import patchlib
from patchlib.measure import ThroughputProtocol, describe_protocol, flops, measure_throughput, parameter_count


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


def test_throughput_protocol_is_recorded_and_reverses_the_order_every_round(monkeypatch):
    from patchlib import measure

    order = []
    real = measure._timed_passes
    monkeypatch.setattr(measure, "_timed_passes", lambda model, images, protocol: order.append(model.tag) or
                        real(model, images, protocol))
    models = {}
    for tag in "abc":
        models[tag] = torch.nn.Linear(4, 2)
        models[tag].tag = tag
    protocol = ThroughputProtocol(batch_size=2, warmup=0, repeats=1, rounds=3)
    measured = measure_throughput(models, (4,), protocol)
    assert order == list("abccbaabc")
    assert measured["protocol"]["version"] == measure.THROUGHPUT_PROTOCOL_VERSION
    for key in ("batch_size", "precision", "warmup", "repeats", "rounds", "device", "threads"):
        assert key in measured["protocol"]
    for name in models:
        rounds = measured["models"][name]["rounds"]
        assert len(rounds) == 3 and min(rounds) > 0
        assert measured["models"][name]["images_per_s"] == sorted(rounds)[1]  # median of rounds
    assert "protocol v" in describe_protocol(measured)
    assert parameter_count(torch.nn.Linear(3, 2)) == 8


def test_throughput_protocol_rejects_bad_settings():
    with pytest.raises(ValueError, match="rounds"):
        ThroughputProtocol(rounds=0)
    with pytest.raises(ValueError, match="batch_size"):
        ThroughputProtocol(batch_size=2.5)
