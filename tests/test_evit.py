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
    from patchlib.profiles import PROFILES
    from patchlib.results import config_hash

    for profile in PROFILES:
        ctx = chapter.context(profile)
        config = chapter.offshelf_config(ctx)
        assert config["baseline"]["config_hash"] == config_hash(vit_chapter.fig7_config(vit_chapter.context(profile)))
        depth = config["model_config"]["depth"]
        assert config["reorganize_layers"] == list(evit_layers(depth))
        size = chapter.SIZES[profile]
        assert (size.visual_keep_rate, True) in size.finetune_points
        assert chapter.finetune_config(ctx, 1.0, None)["eval_keep_rates"] == list(size.offshelf_keep_rates)
    with pytest.raises(ValueError, match="control"):
        chapter.finetune_config(chapter.context("smoke"), 1.0, True)


def fake_records(ft, control_off_07, off, ips):
    """Records shaped like experiments.evit.run()'s, with chosen accuracies and speeds."""
    point = lambda k, f, acc: {"keep_rate": k, "fuse": f, "acc": acc}
    finetune = [{"result": {"keep_rate": k, "fuse": f, "acc": acc, "eval": [point(k, f, acc)]}}
                for (k, f), acc in ft.items()]
    finetune.append({"result": {"keep_rate": 1.0, "fuse": None, "acc": ft.get((1.0, None), 80.0),
                                "eval": [point(1.0, None, 80.0), point(0.7, True, control_off_07)]}})
    config = {"profile": "cpu", "n_test": 10_000}
    return {"offshelf": {"config": config, "provenance": {"data": {"n_test": 10_000}},
                         "result": {"points": [point(k, f, a) for (k, f), a in off.items()]}},
            "finetune": finetune,
            "cost": {"result": {"points": [{"keep_rate": k, "fuse": f, "images_per_s": v, "gmacs": 1 / v}
                                           for (k, f), v in ips.items()]}}}


def test_claim_verdicts_follow_their_rules():
    from patchlib.experiments import evit as chapter

    ips = {(1.0, None): 100.0, (0.7, True): 140.0}
    good = fake_records({(0.7, True): 79.5, (0.5, True): 78.0, (0.5, False): 77.0}, control_off_07=70.0,
                        off={(1.0, None): 80.0, (0.7, True): 75.0, (0.5, True): 60.0, (0.5, False): 55.0}, ips=ips)
    verdicts = {c.id: c.verdict for c in chapter.claims(good)}
    assert verdicts == {"speed_at_0.7": "reproduced", "fusion_helps_at_0.5": "reproduced",
                        "train_with_reorganization": "reproduced", "higher_resolution": "not_tested"}
    bad = fake_records({(0.7, True): 70.0, (0.5, True): 76.0, (0.5, False): 77.0}, control_off_07=72.0,
                       off={(1.0, None): 80.0, (0.7, True): 71.0, (0.5, True): 50.0, (0.5, False): 55.0},
                       ips={(1.0, None): 100.0, (0.7, True): 110.0})
    verdicts = {c.id: c.verdict for c in chapter.claims(bad)}
    assert verdicts == {"speed_at_0.7": "not_reproduced", "fusion_helps_at_0.5": "not_reproduced",
                        "train_with_reorganization": "not_reproduced", "higher_resolution": "not_tested"}


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


def test_seeded_points_make_the_fusion_claim_noise_aware():
    """Issue 13 §2: the fused - unfused gain at keep 0.5 is judged over the fine-tuning seeds."""
    from patchlib.experiments import evit as chapter

    ips = {(1.0, None): 100.0, (0.7, True): 140.0}
    records = fake_records({(0.7, True): 79.5, (0.5, True): 78.0, (0.5, False): 77.7}, control_off_07=70.0,
                           off={(1.0, None): 80.0, (0.7, True): 75.0, (0.5, True): 60.0, (0.5, False): 55.0}, ips=ips)
    point = lambda k, f, acc: {"keep_rate": k, "fuse": f, "acc": acc}
    extra = {1: {(0.5, True): 77.0, (0.5, False): 77.6, (0.7, True): 79.0, (1.0, None): 80.2},
             2: {(0.5, True): 77.9, (0.5, False): 77.5, (0.7, True): 79.3, (1.0, None): 79.9}}
    records["finetune_seeds"] = [
        {"result": {"keep_rate": k, "fuse": f, "acc": acc,
                    "eval": [point(k, f, acc)] if f is not None else [point(1.0, None, acc), point(0.7, True, 70.5)]}}
        for accs in extra.values() for (k, f), acc in accs.items()]
    claims = {c.id: c for c in chapter.claims(records)}
    fusion = claims["fusion_helps_at_0.5"]
    assert fusion.n == 3 and fusion.verdict == "within_noise"   # gains +0.3, -0.6, +0.4
    assert claims["speed_at_0.7"].n == 3 and claims["train_with_reorganization"].verdict == "reproduced"
    assert chapter.SIZES["cpu"].seeds == 3 and set(chapter.SIZES["cpu"].seeded_points) <= {
        *chapter.SIZES["cpu"].finetune_points, (1.0, None)}
    ctx = chapter.context("cpu")
    assert chapter.finetune_config(ctx, 0.5, True, 1)["name"].endswith("-s1")
    assert chapter.finetune_config(ctx, 0.5, True, 0) == chapter.finetune_config(ctx, 0.5, True)
