"""EViT (Liang et al., 2022) as an option of the ViT: the paper's invariants and the official code's rules."""
import math
from dataclasses import asdict

import pytest
import torch

import patchlib
from patchlib.data import load_dataset
from patchlib.layers import Block
from patchlib.measure import flops
from patchlib.models import EViTConfig, config_record
from patchlib.models.evit import evit_layers, keep_count, keep_rate_schedule, reorganize_tokens, reorganizing_block
from patchlib.train import TrainConfig, train


def evit(keep_rate=0.7, fuse=True, layers=(0, 2), **overrides):
    torch.manual_seed(0)
    options = dict(depth=3, heads=4, evit=EViTConfig(keep_rate=keep_rate, layers=layers, fuse_inattentive=fuse))
    model = patchlib.create_model("vit_micro", **(options | overrides)).eval()
    torch.nn.init.normal_(model.head.weight, std=0.1)  # the zero-initialised head would hide differences
    return model


def random_attention(batch, heads, n, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, heads, n, n, generator=generator).softmax(dim=-1)


def test_keep_rate_one_is_exactly_the_plain_vit():
    plain = evit(keep_rate=1.0, layers=())
    model = evit(keep_rate=1.0)
    model.load_state_dict(plain.state_dict(), strict=True)  # state_dict names are the ViT's
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(images), plain(images))
        model.set_keep_rate(0.5)
        assert not torch.allclose(model(images), plain(images))
        model.set_keep_rate(1.0)
        assert torch.equal(model(images), plain(images))


def test_evit_layers_scale_the_papers_layers_4_7_10():
    assert evit_layers(12) == (3, 6, 9)      # the official --drop_loc (3, 6, 9)
    assert evit_layers(6) == (1, 3, 4)       # 1-based layers 2, 4, 5
    assert evit_layers(4) == (1, 2, 3)
    assert evit_layers(2) == (0, 1)          # duplicates removed


def official_counts(num_image_tokens, keep_rate, layers, fuse):
    """Token counts by the rule in the official evit.py: left = ceil(keep_rate * (N - 1)), N - 1
    counting a fused token from an earlier layer, plus one fused token if fusing."""
    counts, n = [], num_image_tokens
    for _ in range(layers):
        left = math.ceil(keep_rate * n)
        if left < n:
            n = left + (1 if fuse else 0)
        counts.append(n)
    return counts


def test_token_counts_for_deit_s_at_keep_rate_0_7():
    assert official_counts(196, 0.7, 3, True) == [139, 99, 71]
    assert official_counts(196, 0.7, 3, False) == [138, 97, 68]
    for fuse, expected in ((True, [139, 99, 71]), (False, [138, 97, 68])):
        torch.manual_seed(0)
        model = patchlib.create_model("vit_micro", image_size=224, patch_size=16, dim=16, heads=2, depth=12,
                                      evit=EViTConfig(keep_rate=0.7, layers=evit_layers(12), fuse_inattentive=fuse)).eval()
        with torch.no_grad():
            out = model.forward_intermediates(torch.randn(2, 3, 224, 224))
            features, kept = out.tokens, out.kept
        assert [k.shape[1] for k in kept] == expected
        assert features.shape[1] == 1 + expected[-1]


@pytest.mark.parametrize("num_patches, patch_size", [(64, 4), (16, 8), (4, 16)])
@pytest.mark.parametrize("keep_rate", [0.5, 0.6, 0.7, 0.9, 0.99])
@pytest.mark.parametrize("fuse", [True, False])
def test_token_counts_follow_the_official_rule(num_patches, patch_size, keep_rate, fuse):
    model = evit(keep_rate=keep_rate, fuse=fuse, layers=(0, 1, 2), patch_size=patch_size, depth=4)
    with torch.no_grad():
        kept = model.forward_intermediates(torch.randn(2, 3, 32, 32)).kept
    assert [k.shape[1] for k in kept] == official_counts(num_patches, keep_rate, 3, fuse)


def test_keep_count():
    assert keep_count(196, 0.7) == 138 and keep_count(64, 0.5) == 32 and keep_count(3, 0.99) == 3
    with pytest.raises(ValueError):
        keep_count(10, 0.0)


def test_kept_tokens_are_each_images_top_k_by_cls_attention():
    batch, heads, n, dim = 3, 2, 11, 5
    x = torch.randn(batch, n, dim)
    attention = random_attention(batch, heads, n)
    out, kept = reorganize_tokens(x, attention, 0.5, fuse_inattentive=True)
    score = attention[:, :, 0, 1:].mean(dim=1)
    k = math.ceil(0.5 * (n - 1))
    assert out.shape == (batch, 1 + k + 1, dim)
    for b in range(batch):
        expected = sorted(range(n - 1), key=lambda j: -score[b, j].item())[:k]  # descending attentiveness
        assert kept[b].tolist() == expected
        torch.testing.assert_close(out[b, 1:1 + k], x[b, 1:][expected])
        torch.testing.assert_close(out[b, 0], x[b, 0])
    assert len({tuple(sorted(row)) for row in kept.tolist()}) == batch  # different images keep different tokens


def test_fused_token_is_the_attention_weighted_sum_of_the_dropped_tokens():
    batch, heads, n, dim = 2, 3, 9, 4
    x = torch.randn(batch, n, dim, dtype=torch.float64)
    attention = random_attention(batch, heads, n).double()
    out, kept = reorganize_tokens(x, attention, 0.6, fuse_inattentive=True)
    score = attention[:, :, 0, 1:].mean(dim=1)
    for b in range(batch):
        dropped = [j for j in range(n - 1) if j not in kept[b].tolist()]
        expected = sum(score[b, j] * x[b, 1 + j] for j in dropped)  # not renormalised (official code)
        torch.testing.assert_close(out[b, -1], expected)
        assert score[b, dropped].sum() < 1


def test_model_keeps_what_the_layers_cls_attention_ranks_highest():
    model = evit(keep_rate=0.5, layers=(1,))
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model.forward_intermediates(images, attention=True)
        attentions, kept = out.attention, out.kept
    score = attentions[1][:, :, 0, 1:].mean(dim=1)
    top = score.topk(32, dim=1).indices
    assert torch.equal(kept[0][:, :32], top)
    assert (kept[0][:, 32] == -1).all()  # the fused token is marked
    assert attentions[2].shape[-1] == 1 + 33


def test_positions_follow_tokens_through_several_layers():
    """The positions returned for the last layer point at the patches whose tokens survived."""
    model = evit(keep_rate=0.5, layers=(0, 1), fuse=False)
    with torch.no_grad():
        kept = model.forward_intermediates(torch.randn(2, 3, 32, 32)).kept
    assert kept[0].shape[1] == 32 and kept[1].shape[1] == 16
    for b in range(2):
        assert set(kept[1][b].tolist()) <= set(kept[0][b].tolist())


@pytest.mark.parametrize("fuse", [True, False])
def test_gradients_reach_inattentive_tokens_only_through_fusion(fuse):
    x = torch.randn(2, 9, 4, requires_grad=True)
    attention = random_attention(2, 2, 9)
    out, kept = reorganize_tokens(x, attention, 0.5, fuse_inattentive=fuse)
    out.sum().backward()
    for b in range(2):
        dropped = [1 + j for j in range(8) if j not in kept[b].tolist()]
        assert (x.grad[b, dropped].abs().sum(dim=-1) > 0).all() == fuse
        assert (x.grad[b, dropped] == 0).all() != fuse


def test_block_without_drops_matches_the_plain_block():
    torch.manual_seed(0)
    block = Block(16, heads=2)
    x = torch.randn(2, 5, 16)
    out, attention, kept = reorganizing_block(block, x, keep_rate=0.99)
    assert kept is None
    torch.testing.assert_close(out, block(x), rtol=1e-5, atol=1e-5)


def test_evit_flops_count_attention_cls_row_and_fewer_tokens():
    """MACs by hand: block 0's attention plus its class-token attention row (q_cls K^T), the
    fusion sum, then the MLP and the next block on fewer tokens."""
    model = evit(keep_rate=0.5, layers=(0,), depth=2, heads=2)
    n, d, p, n1 = 65, 64, 4, 1 + 32 + 1
    attention = lambda t: t * d * 3 * d + 2 * t * t * d + t * d * d
    mlp = lambda t: 2 * t * d * 4 * d
    expected = (n - 1) * 3 * p * p * d + attention(n) + n * d + (n - 1) * d + mlp(n1) + attention(n1) + mlp(n1) + d * 10
    assert flops(model, (3, 32, 32))["macs"] == expected
    model.set_keep_rate(1.0)
    assert flops(model, (3, 32, 32))["macs"] == (n - 1) * 3 * p * p * d + 2 * (attention(n) + mlp(n)) + d * 10


def test_config_validation_and_plain_config_record():
    with pytest.raises(ValueError, match="keep_rate"):
        EViTConfig(keep_rate=0.0)
    with pytest.raises(ValueError, match="keep_rate"):
        EViTConfig(keep_rate="0.7")
    with pytest.raises(ValueError, match="EViT layers"):
        patchlib.create_model("vit_micro", evit=EViTConfig(layers=(2,)))
    with pytest.raises(ValueError, match="keep_rate"):
        patchlib.create_model("vit_micro", evit=EViTConfig(layers=(0,))).set_keep_rate(1.5)
    with pytest.raises(ValueError, match="no EViT reorganisation layers"):  # would silently do nothing
        patchlib.create_model("vit_micro").set_keep_rate(0.5)
    plain = patchlib.create_model("vit_micro").config
    assert "evit" not in config_record(plain)  # results keyed on a plain ViT keep their hash
    assert config_record(plain) == {k: v for k, v in asdict(plain).items() if k != "evit"}
    evit_config = patchlib.create_model("vit_micro", evit={"keep_rate": 0.7, "layers": [0, 1]}).config
    assert evit_config.evit == EViTConfig(keep_rate=0.7, layers=(0, 1))
    assert config_record(evit_config)["evit"] == {"keep_rate": 0.7, "layers": [0, 1], "fuse_inattentive": True}


@pytest.mark.parametrize("kwargs, match", [
    (dict(layers=(1.7,)), r"EViTConfig\.layers .*1\.7"), (dict(layers=(1.0,)), r"EViTConfig\.layers"),
    (dict(layers=("1",)), r"EViTConfig\.layers"), (dict(layers=(True,)), r"EViTConfig\.layers"),
    (dict(layers=(-1,)), r"EViTConfig\.layers"), (dict(layers=(3, 1)), r"EViTConfig\.layers"),
    (dict(layers=(1, 1)), r"EViTConfig\.layers"), (dict(layers=3), r"EViTConfig\.layers"),
    (dict(keep_rate=1.5), "keep_rate"), (dict(keep_rate=-0.5), "keep_rate"),
    (dict(keep_rate=float("nan")), "keep_rate"), (dict(keep_rate=True), "keep_rate"), (dict(fuse_inattentive="no"), r"EViTConfig\.fuse_inattentive"),
])
def test_evit_config_rejects_what_is_not_a_layer_or_a_rate(kwargs, match):
    """layers=(1.7,) used to become layer 1 silently."""
    with pytest.raises(ValueError, match=match):
        EViTConfig(**kwargs)


def test_evit_config_keeps_accepting_lists_and_numpy_ints():
    import numpy as np

    assert EViTConfig(keep_rate=1, layers=[np.int64(0), 2]).layers == (0, 2)
    assert EViTConfig(keep_rate=0.5, layers=()).keep_rate == 0.5


def test_keep_rate_schedule():
    total, target = 100, 0.7
    values = [keep_rate_schedule(s, total, target, start=0.1, ramp=0.5) for s in range(total)]
    assert values[:11] == [1.0] * 11                     # keep everything for the first 10% (and the ramp's start)
    assert values[35] == pytest.approx((1 + target) / 2)  # half-way down the cosine
    assert values[60:] == [target] * 40
    assert all(a >= b for a, b in zip(values, values[1:]))
    # the paper's defaults: 1 for 10 of 300 epochs, then a cosine over 100 epochs
    assert keep_rate_schedule(9, 300, 0.5) == 1.0 and keep_rate_schedule(110, 300, 0.5) == 0.5
    assert keep_rate_schedule(60, 300, 0.5) == pytest.approx(0.75)


def test_step_hook_sees_every_step_once_even_across_a_resume(tmp_path):
    data = load_dataset("shapes10", n_train=128, n_test=32, seed=0)
    config = TrainConfig(epochs=3, batch_size=32, warmup_epochs=0.5)
    model = lambda: patchlib.create_model("vit_micro", dim=16, depth=1, heads=2, patch_size=8)
    calls = []
    train(model(), data, config, seed=0, progress=False, step_hook=lambda s, t: calls.append((s, t)))
    assert calls == [(s, 12) for s in range(12)]
    resumed = []
    hook = lambda s, t: resumed.append((s, t))
    train(model(), data, config, seed=0, progress=False, checkpoint=tmp_path / "c.pt", stop_after_epochs=1,
          step_hook=hook)
    train(model(), data, config, seed=0, progress=False, checkpoint=tmp_path / "c.pt", step_hook=hook)
    assert resumed == calls


def test_keep_rate_schedule_drives_the_model_during_training():
    data = load_dataset("shapes10", n_train=128, n_test=32, seed=0)
    model = patchlib.create_model("vit_micro", dim=16, depth=2, heads=2, patch_size=8,
                                  evit=EViTConfig(keep_rate=0.5, layers=(0,)))
    seen = []

    def hook(step, total):
        model.set_keep_rate(keep_rate_schedule(step, total, 0.5, start=0.0, ramp=0.5))
        seen.append(model.keep_rate)

    train(model, data, TrainConfig(epochs=2, batch_size=32), seed=0, progress=False, step_hook=hook)
    assert seen[0] == 1.0 and seen[-1] == 0.5 and len(seen) == 8


def test_chapter_configs_build_on_the_vit_chapters_runs():
    from patchlib.experiments import evit as chapter
    from patchlib.experiments import vit as vit_chapter
    from patchlib.experiments.evit import pieces
    from patchlib.experiments.evit.config import SIZES
    from patchlib.profiles import TRAINING_PROFILES
    from patchlib.results import config_hash

    for profile in TRAINING_PROFILES:
        ctx = chapter.context(profile)
        config = pieces.offshelf_config(ctx)
        assert config["baseline"]["config_hash"] == config_hash(vit_chapter.fig7_config(vit_chapter.context(profile)))
        depth = config["model_config"]["depth"]
        assert config["reorganize_layers"] == list(evit_layers(depth))
        size = SIZES[profile]
        assert (size.visual_keep_rate, True) in size.finetune_points
        assert pieces.finetune_config(ctx, 1.0, None)["eval_keep_rates"] == list(size.offshelf_keep_rates)
    with pytest.raises(ValueError, match="control"):
        pieces.finetune_config(chapter.context("smoke"), 1.0, True)


def test_cls_row_path_equals_the_full_attention_path():
    """The fast path (fused kernel + class-token row only) keeps the same tokens and gives the same
    output as the explicit full attention map."""
    torch.manual_seed(0)
    block = Block(32, heads=4).eval()
    x = torch.randn(3, 17, 32)
    fast, cls_row, kept_fast = reorganizing_block(block, x, keep_rate=0.5)
    full, attention, kept_full = reorganizing_block(block, x, keep_rate=0.5, full_attention=True)
    assert cls_row.shape == (3, 4, 1, 17) and attention.shape == (3, 4, 17, 17)
    torch.testing.assert_close(cls_row, attention[:, :, :1])
    assert torch.equal(kept_fast, kept_full)
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-5)




# ---- the chapter's claims, tables and prose, on made-up records and on the committed ones ----

MODEL = {"depth": 6, "dim": 128, "heads": 8, "image_size": 32, "patch_size": 4, "in_channels": 3, "mlp_ratio": 4.0,
         "num_classes": 10, "qkv_bias": True}
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PAPER_LIKE = {(0.9, True): 80.2, (0.8, True): 80.0, (0.7, True): [79.5, 79.6, 79.4], (0.6, True): 78.9,
              (0.5, True): [78.5, 78.6, 78.4], (0.5, False): [77.5, 77.6, 77.4], (0.7, False): 79.0,
              (1.0, None): [80.0, 80.1, 79.9]}


def fake_records(ft=None, *, off=None, control_off_07=70.0, ips=None, rounds=3, jitter=0.005, gmacs=None, shown=6,
                 resolution=None, resolution_gmacs=(0.080, 0.082)):
    """Records shaped like experiments.evit.run()'s: fine-tuned accuracies `ft` ((keep rate, fusion) -> one
    accuracy, or a list over seeds, the control (1.0, None) included), the baseline off the shelf `off`,
    throughputs `ips` (each the median of `rounds` timing rounds `jitter` apart; the others proportional to
    1/GMACs), GMACs `gmacs` (default: the Model Zoo's, DeiT-S's 4.6 at keep 1), a token figure of `shown`
    classes and the higher-resolution runs' accuracies `resolution` (one per seed; their counted GMACs and
    the base model's: `resolution_gmacs`)."""
    from patchlib.experiments.evit.readers import zoo

    ft = PAPER_LIKE if ft is None else ft
    off = off or {(1.0, None): 80.0, (0.7, True): 75.0, (0.5, True): 60.0, (0.5, False): 55.0}
    gmacs = {(1.0, None): 4.6} | {key: row["gmacs"] for key, row in zoo().items()} | (gmacs or {})
    ips = {key: 100.0 * 4.6 / g for key, g in gmacs.items()} | (ips or {})
    point = lambda k, f, acc: {"keep_rate": k, "fuse": f, "acc": acc}
    config = {"train": {"epochs": 1, "batch_size": 128, "lr": 2e-4, "warmup_epochs": 0.1, "schedule": "cosine"},
              "schedule": {"start": 0.0, "ramp": 0.5}, "n_finetune": None}
    finetune, seeds = [], []
    for (k, f), accs in ft.items():
        for seed, acc in enumerate(accs if isinstance(accs, list) else [accs]):
            evals = [point(k, f, acc)] if f is not None else [point(1.0, None, acc), point(0.7, True, control_off_07)]
            seeded = config | {"seed": 0} | ({"finetune_seed": seed} if seed else {})
            (finetune if seed == 0 else seeds).append({"config": seeded, "result": point(k, f, acc) | {"eval": evals}})
    base = {"profile": "cpu", "n_test": 10_000, "model": "vit_tiny_cifar", "model_config": MODEL,
            "reorganize_layers": [1, 3, 4], "dataset": "cifar10"}
    points = [point(k, f, None) | {"gmacs": gmacs[(k, f)], "images_per_s": v, "tokens_per_layer": [64, 64, 64],
                                   "images_per_s_rounds": [v * (1 + jitter * (i - rounds // 2)) for i in range(rounds)]}
              for (k, f), v in ips.items()]
    return {"offshelf": {"config": base, "provenance": {"data": {"n_test": 10_000, "source": "CIFAR-10"}},
                         "result": {"points": [point(k, f, a) for (k, f), a in off.items()]}},
            "finetune": finetune, "finetune_seeds": seeds,
            "cost": {"config": base, "result": {"points": points, "protocol": {
                "device": "cpu", "threads": 2, "batch_size": 128, "precision": "fp32", "warmup": 2, "repeats": 5,
                "rounds": rounds}}},
            "tokens": {"config": base | {"keep_rate": 0.7}, "result": {"classes": CLASSES[:shown]}},
            "resolution": [{"config": config | {"seed": 0} | ({"finetune_seed": seed} if seed else {}),
                            "result": {"image_size": 40, "keep_rate": 0.65, "fuse": True, "acc": acc,
                                       "gmacs": resolution_gmacs[0], "base_gmacs": resolution_gmacs[1]}}
                           for seed, acc in enumerate(resolution or [])]}


def judged(records) -> dict:
    from patchlib.experiments.evit import readers

    return {c.id: c for c in readers.claims(records)}


def test_every_claim_states_its_kind_rule_status_and_noise():
    from patchlib.claims import KINDS

    claims = judged(fake_records())
    assert list(claims) == ["speed_at_0.7", "accuracy_at_0.7", "gmac_ratio", "accuracy_falls_with_keep_rate",
                            "drop_0.7_to_0.5", "fusion_helps_at_0.5", "train_with_reorganization", "higher_resolution"]
    for claim in claims.values():
        assert claim.kind in KINDS and claim.paper_status in ("confirmed", "secondary", "not sourced"), claim.id
        assert claim.rule or claim.verdict == "not_tested", claim.id
        if isinstance(claim.our_value, float):  # a comparison: its noise and the runs behind it
            assert claim.spread is not None and claim.n, claim.id
    assert claims["gmac_ratio"].kind == "implementation" and claims["gmac_ratio"].paper_status == "secondary"
    assert {claims[c].kind for c in claims if c != "gmac_ratio"} == {"paper"}


@pytest.mark.parametrize("speedup, jitter, verdict", [
    (1.28, 0.01, "not_reproduced"),   # issue 22: 1.28x passed against the paper's 1.5x under the old rule (>= 1.2x)
    (1.48, 0.001, "reproduced"),      # within 5%, beyond two relative standard errors
    (1.44, 0.01, "within_noise"),     # 4% short, but the timing noise reaches past the 5% edge
])
def test_the_speed_claim_is_the_measured_speed_up_against_the_papers_with_its_timing_noise(speedup, jitter, verdict):
    claim = judged(fake_records(ips={(1.0, None): 100.0, (0.7, True): 100.0 * speedup}, jitter=jitter))["speed_at_0.7"]
    assert claim.verdict == verdict and claim.our_value == speedup and claim.paper_value == 1.5
    assert claim.n == 3 and claim.spread is not None and "5%" in claim.rule and "(met)" in claim.gate
    one_round = judged(fake_records(ips={(1.0, None): 100.0, (0.7, True): 150.0}, rounds=1))["speed_at_0.7"]
    assert one_round.verdict == "not_testable_here" and "NOT met" in one_round.gate


def test_the_gmac_ratio_is_an_implementation_check_at_every_zoo_keep_rate():
    assert judged(fake_records())["gmac_ratio"].verdict == "reproduced"
    off_by_one_row = judged(fake_records(gmacs={(0.5, True): 3.0}))["gmac_ratio"]
    assert off_by_one_row.verdict == "partially" and "outside: keep 0.5 fused" in off_by_one_row.evidence
    # the architectures differ (64 tokens, 6 layers): a ratio 4% beyond the zoo's rounding still passes
    assert judged(fake_records(gmacs={(0.5, True): 4.6 / (4.65 / 2.25 * 1.04)}))["gmac_ratio"].verdict == "reproduced"
    untimed = fake_records()
    untimed["cost"]["result"]["points"] = [p for p in untimed["cost"]["result"]["points"] if p["fuse"] is None]
    assert judged(untimed)["gmac_ratio"].verdict == "not_tested"


@pytest.mark.parametrize("accs, verdict", [
    ({0.9: 82.0, 0.8: 81.0, 0.7: 80.0, 0.6: 79.0, 0.5: 78.0}, "reproduced"),       # falls, beyond the noise
    ({0.9: 82.0, 0.8: 81.0, 0.7: 80.0, 0.6: 84.0, 0.5: 78.0}, "not_reproduced"),   # 0.6 rises beyond its noise
    ({0.9: 80.0, 0.8: 80.2, 0.7: 79.9, 0.6: 80.1, 0.5: 80.0}, "within_noise"),     # flat
    ({0.9: 40.0, 0.8: 39.0, 0.7: 38.0, 0.6: 37.0, 0.5: 36.0}, "not_testable_here"),  # below the gate
])
def test_accuracy_falls_with_keep_rate_monotone_within_noise(accs, verdict):
    ft = {(k, True): acc for k, acc in accs.items()} | {(0.5, False): 77.0, (1.0, None): 82.0}
    claim = judged(fake_records(ft))["accuracy_falls_with_keep_rate"]
    assert claim.verdict == verdict and claim.paper_value == 1.3   # the zoo: 79.8 at 0.9, 78.5 at 0.5
    assert claim.n == 1 and "one run per arm" in claim.evidence    # single seeds: the test set's noise, said so
    few = judged(fake_records({(0.7, True): 80.0, (0.5, True): 78.0, (0.5, False): 77.0, (1.0, None): 81.0}))
    assert few["accuracy_falls_with_keep_rate"].verdict == "not_tested"


def test_neighbouring_seeded_points_take_the_seed_noise():
    ft = dict(PAPER_LIKE) | {(0.6, True): [79.0, 79.1, 78.9]}
    steps = judged(fake_records(ft))["accuracy_falls_with_keep_rate"].evidence
    assert "0.6 - 0.5: +0.50 ± 0.00 (s.e., 3 seeds) pp, paired over fine-tuning seeds" in steps


@pytest.mark.parametrize("low, verdict", [([78.5, 78.7, 78.4], "reproduced"),       # 1.0 ± 0.05 against 1.0
                                          ([76.5, 76.6, 76.4], "not_reproduced"),   # 3.0
                                          ([79.0, 77.6, 78.5], "within_noise")])    # 1.0 ± 0.4
def test_the_drop_from_keep_0_7_to_0_5_against_the_zoo_is_two_sided_with_seed_noise(low, verdict):
    claim = judged(fake_records(dict(PAPER_LIKE) | {(0.5, True): low}))["drop_0.7_to_0.5"]
    assert claim.verdict == verdict and claim.paper_value == 1.0 and claim.n == 3
    assert "unfused" in claim.evidence and "one run per arm" in claim.evidence   # the single-seed 0.7 unfused


@pytest.mark.parametrize("accs, verdict", [([81.0, 81.2, 80.9], "reproduced"),        # +1.0 ± 0.1 over the control
                                           ([79.0, 79.1, 78.8], "not_reproduced"),    # -1.0
                                           ([80.9, 79.2, 80.2], "within_noise")])     # +0.1 ± 0.5
def test_the_higher_resolution_claim_pairs_each_seed_with_its_control(accs, verdict):
    """The control (keep 1, the base resolution) scores 80.0, 80.1, 79.9 over its seeds."""
    claim = judged(fake_records(resolution=accs))["higher_resolution"]
    assert claim.verdict == verdict and claim.n == 3 and claim.paper_value == 1.0
    assert "paired over fine-tuning seeds" in claim.evidence and "upsampled" in claim.evidence
    assert "(met)" in claim.gate and "0.0800 against 0.0820 GMACs" in claim.gate
    costlier = judged(fake_records(resolution=accs, resolution_gmacs=(0.09, 0.082)))["higher_resolution"]
    assert costlier.verdict == "not_testable_here"  # more multiply-adds than the base: not the paper's setting
    one = judged(fake_records(resolution=accs[:1]))["higher_resolution"]
    assert one.n == 1 and "binomial" in one.evidence and "one run per arm" in one.evidence
    assert judged(fake_records())["higher_resolution"].verdict == "not_tested"


def test_the_accuracy_cost_at_0_7_and_the_fusion_claim_keep_their_seed_noise():
    claims = judged(fake_records())
    assert claims["accuracy_at_0.7"].verdict == "reproduced" and claims["accuracy_at_0.7"].n == 3
    assert claims["fusion_helps_at_0.5"].verdict == "reproduced" and claims["fusion_helps_at_0.5"].spread == 0.0
    lossy = judged(fake_records(dict(PAPER_LIKE) | {(0.7, True): [77.0, 77.5, 77.2]}))["accuracy_at_0.7"]
    assert lossy.verdict == "not_reproduced"
    noisy = {(0.5, True): [78.0, 77.0, 77.9], (0.5, False): [77.7, 77.6, 77.5]}   # gains +0.3, -0.6, +0.4
    assert judged(fake_records(dict(PAPER_LIKE) | noisy))["fusion_helps_at_0.5"].verdict == "within_noise"
    single = {k: (v[0] if isinstance(v, list) else v) for k, v in PAPER_LIKE.items()}
    claims = judged(fake_records(single))
    for name in ("accuracy_at_0.7", "fusion_helps_at_0.5", "drop_0.7_to_0.5", "train_with_reorganization"):
        assert claims[name].n == 1 and "one run per arm" in claims[name].evidence, name


def test_training_with_reorganisation_beats_both_references():
    claims = judged(fake_records(control_off_07=70.0))
    assert claims["train_with_reorganization"].verdict == "reproduced"
    assert judged(fake_records(control_off_07=85.0))["train_with_reorganization"].verdict == "partially"


def _numbers(text: str) -> list[str]:
    """The numbers a sentence prints, leaving out those inside names (CIFAR-10, EViT-DeiT-S, 224×224, ...)."""
    import re

    names = r"CIFAR-10|shapes10|ImageNet-1k|\d+×\d+|§\d+\.\d+"
    return re.findall(r"[-+]?\d+(?:\.\d+)?", re.sub(names, " ", text))


@pytest.mark.parametrize("ft", [None, {(0.7, True): 70.0, (0.5, True): 76.0, (0.5, False): 77.0, (1.0, None): 80.0}])
def test_the_prose_prints_only_numbers_it_read_and_no_verdict_identifiers(ft):
    import re

    from patchlib.experiments.evit import readers

    records = fake_records(ft, resolution=[81.0, 81.2, 80.9])
    records["claims"] = readers.claims(records)
    text, facts = " ".join(readers.prose(records)), readers.facts(records)
    assert "At 40 pixels instead of 32" in text and "no new detail" in text
    assert not re.search(r"not_reproduced|not_testable_here|not_tested|within_noise", text)
    for number in _numbers(text):
        digits = len(number.split(".")[1]) if "." in number else 0
        assert any(abs(value - float(number)) <= 0.5 * 10 ** -digits + 1e-9 for value in facts.values()), number


@pytest.mark.parametrize("shown, words", [(6, "the first test image of each of the first 6 of the 10 classes: "
                                              "airplane, automobile, bird, cat, deer, dog)"),
                                          (10, "the first test image of each of the 10 classes: airplane")])
def test_the_token_figures_caption_says_which_images_it_shows(shown, words):
    """Issue 22: "first of each class" stood over a figure of 6 of the 10 classes."""
    from patchlib.experiments.evit import readers

    records = fake_records(shown=shown)
    assert words in readers.prose_parts(records)["tokens_caption"]


def test_the_what_we_see_paragraph_follows_the_verdicts():
    from patchlib.experiments.evit import readers

    records = fake_records(ips={(1.0, None): 100.0, (0.7, True): 128.0})
    records["claims"] = readers.claims(records)
    text = readers.prose_parts(records)["what_we_see"]
    assert "1.28x as fast" in text and "against the paper's 1.5x: not reproduced" in text
    assert "as the Model Zoo's GMACs promise at every keep rate (claim reproduced)" in text


def test_the_paper_table_shows_every_values_status():
    from patchlib.experiments.evit import prose
    from patchlib.experiments.evit.config import PAPER

    table = prose.paper_table()
    assert len(table) == len(PAPER["model_zoo"]["value"]) + 1 == 11
    assert table.loc[(table["fusion"] == "yes") & (table["keep rate"] == 0.7), "top-1 (%)"].item() == 79.5
    assert set(table["status"]) == {"confirmed", "secondary"} and table.iloc[-1]["status"] == "secondary"
    assert all(f"**{name}** ({entry['status']})" in prose.paper_sources() for name, entry in PAPER.items())


def committed_records() -> dict:
    """The committed cpu records of results/evit, as `run()` hands them to the readers (no data, no torch)."""
    import json
    from pathlib import Path

    records = {"finetune": [], "finetune_seeds": [], "resolution": []}
    for path in sorted((Path(__file__).resolve().parents[1] / "results" / "evit").glob("*-cpu-*.json")):
        record = json.loads(path.read_text())
        piece = record["config"]["name"].split("-")[0]
        if piece == "finetune":
            records["finetune_seeds" if "finetune_seed" in record["config"] else "finetune"].append(record)
        elif piece == "resolution":
            records["resolution"].append(record)
        else:
            records[piece] = record
    records["finetune"].sort(key=lambda record: record["result"]["fuse"] is None)   # the control last, as run() does
    records["resolution"].sort(key=lambda record: record["config"].get("finetune_seed", record["config"]["seed"]))
    return records


def test_the_committed_records_judge_the_issues_cases():
    """Issues 22 and 23 on the committed cpu records: 1.23x is not the paper's 1.5x; the multiply-adds fall as
    the zoo's; the keep-rate trade-off has its claims; the higher resolution at the base cost gains +0.34 ± 0.18
    points over 3 seeds (within noise); the token caption names the 6 classes shown."""
    from patchlib.experiments.evit import readers

    records = committed_records()
    claims = judged(records)
    assert claims["speed_at_0.7"].our_value == 1.23 and claims["speed_at_0.7"].verdict == "not_reproduced"
    assert claims["gmac_ratio"].verdict == "reproduced"
    assert claims["accuracy_falls_with_keep_rate"].verdict == "reproduced"
    assert claims["fusion_helps_at_0.5"].verdict == "within_noise" and claims["fusion_helps_at_0.5"].n == 3
    assert claims["higher_resolution"].verdict == "within_noise" and claims["higher_resolution"].n == 3
    assert claims["higher_resolution"].our_value == 0.34
    records["claims"] = list(claims.values())
    assert "first 6 of the 10 classes" in readers.prose_parts(records)["tokens_caption"]


def test_run_hands_every_piece_a_module_level_compute_function(monkeypatch, tmp_path):
    """Code fingerprints follow a piece's compute function: a partial of a function of `pieces`,
    never a closure or a lambda (whose fingerprint would be all of `run`)."""
    import functools

    from patchlib.experiments import evit as chapter
    from patchlib.experiments.common import ChapterRun
    from patchlib.experiments.evit import pieces

    seen = []
    monkeypatch.setattr(ChapterRun, "record", lambda self, piece, config, compute, **options:
                        seen.append((piece, compute)) or {})
    monkeypatch.setattr(ChapterRun, "write_claims", lambda self, claims: claims)
    monkeypatch.setattr(chapter, "claims", lambda records: [])
    chapter.run("smoke", results_dir=tmp_path, progress=False)
    assert {piece for piece, _ in seen} == set(chapter.PIECES)
    for piece, compute in seen:
        assert isinstance(compute, functools.partial) and getattr(pieces, compute.func.__name__) is compute.func
        assert "<locals>" not in compute.func.__qualname__


def test_the_higher_resolution_model_takes_the_largest_keep_rate_within_the_base_cost():
    """The Abstract's setting: more tokens (a higher resolution, same patch size) at the base model's
    multiply-adds. The chosen keep rate fits the budget and the next candidate does not; the base
    weights load with their position embeddings interpolated to the larger grid."""
    from patchlib.experiments import evit as chapter
    from patchlib.experiments import vit as vit_chapter

    candidates = chapter.SIZES["smoke"].resolution_keep_rates
    matched = chapter.matched_keep_rate("smoke", 40, candidates)
    assert matched["gmacs"] <= matched["base_gmacs"] and matched["keep_rate"] < 1
    above = min(k for k in candidates if k > matched["keep_rate"])
    larger = chapter.resolution_model("smoke", 40, above)
    assert flops(larger, (3, 40, 40))["gmacs"] > matched["base_gmacs"]

    base = vit_chapter.architecture("smoke")
    with torch.no_grad():
        base.pos_embed[:, 1:] = 0.25  # a constant grid stays constant when interpolated; the class token's is kept
        base.pos_embed[:, :1] = 3.0
    model = chapter.resolution_model("smoke", 40, matched["keep_rate"], base.state_dict())
    assert model.grid_size == (10, 10) and model.pos_embed.shape[1] == 1 + 100
    torch.testing.assert_close(model.pos_embed[:, 1:], torch.full_like(model.pos_embed[:, 1:], 0.25))
    assert model.pos_embed[0, 0].eq(3.0).all()
    torch.testing.assert_close(model.patch_embed.proj.weight, base.patch_embed.proj.weight)
    with pytest.raises(ValueError, match="resolution_keep_rates"):
        chapter.matched_keep_rate("smoke", 64, (0.95,))
