"""MobileViT v1/v2: parity with timm, the papers' parameter counts, the separable-attention
invariants (linear cost, permutation equivariance), and clear errors for bad input."""
import pytest
import torch

import patchlib
from patchlib.measure import flops, parameter_count
from patchlib.models.mobilevit import (MobileViTBlock, MobileViTConfig, MobileViTv2Block, SeparableSelfAttention,
                                       mobilevitv2, mobilevitv2_config)

V1 = ("mobilevit_xxs", "mobilevit_xs", "mobilevit_s")
V2 = tuple(f"mobilevitv2_{w:03d}" for w in (50, 75, 100, 125, 150, 175, 200))


def _randomised(state: dict) -> dict:
    """Weights far from any initialisation (BatchNorm statistics included), so a wrong layer cannot hide."""
    generator = torch.Generator().manual_seed(0)
    out = {}
    for key, value in state.items():
        if key.endswith("running_var"):
            out[key] = torch.rand(value.shape, generator=generator) + 0.5
        elif value.dtype.is_floating_point:
            out[key] = torch.randn(value.shape, generator=generator) * 0.1 + (1.0 if key.endswith(("norm.weight",)) else 0.0)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("name", ["mobilevit_xxs", "mobilevit_xs", "mobilevit_s", "mobilevitv2_050",
                                  "mobilevitv2_100", "mobilevitv2_200"])
def test_matches_timm_with_copied_weights_in_eval_and_train_mode(name):
    """Same layers in the same order as timm's ByobNet MobileViT: the state dicts map one to one
    by position, and the outputs agree to 1e-5 in eval mode (running BatchNorm statistics) and in
    train mode (batch statistics)."""
    timm = pytest.importorskip("timm")
    ours, reference = patchlib.create_model(name), timm.create_model(name)
    ours_state, reference_state = ours.state_dict(), reference.state_dict()
    assert len(ours_state) == len(reference_state)
    for (key, value), (ref_key, ref_value) in zip(ours_state.items(), reference_state.items()):
        assert value.shape == ref_value.shape, (key, ref_key)
    weights = _randomised(reference_state)
    reference.load_state_dict(weights)
    ours.load_state_dict(dict(zip(ours_state, weights.values())))
    images = torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    for mode in ("eval", "train"):
        ours.train(mode == "train"), reference.train(mode == "train")
        with torch.no_grad():
            torch.testing.assert_close(ours(images), reference(images), rtol=1e-5, atol=1e-5)


# Published parameter counts (v1 Table 4; v2 Table 6), in millions, rounded to 0.1 M by the papers.
PAPER_PARAMS = {"mobilevit_xxs": 1.3, "mobilevit_xs": 2.3, "mobilevit_s": 5.6, "mobilevitv2_050": 1.4,
                "mobilevitv2_075": 2.9, "mobilevitv2_100": 4.9, "mobilevitv2_125": 7.5, "mobilevitv2_150": 10.6,
                "mobilevitv2_175": 14.3, "mobilevitv2_200": 18.4}  # 2.0: the official zoo's 18.4 (paper: 18.5)


@pytest.mark.parametrize("name", V1 + V2)
def test_parameter_counts_equal_the_papers(name):
    """Every registered ImageNet variant has the published parameter count (to the papers'
    0.1 M). MobileViTv2-2.0 has 18,449,329 parameters, exactly timm's count of the official
    weights: 18.4 M as the official model zoo lists it; the v2 paper's Table 6 prints 18.5 M."""
    count = parameter_count(patchlib.create_model(name))
    assert round(count / 1e6, 1) == PAPER_PARAMS[name]
    timm = pytest.importorskip("timm")
    assert count == parameter_count(timm.create_model(name))


def test_registry_has_every_variant_under_timms_names():
    assert set(V1 + V2) | {"mobilevit_xxs_cifar", "mobilevitv2_050_cifar"} <= set(patchlib.list_models("mobilevit"))


def test_separable_attention_cost_is_linear_in_tokens():
    """v2 §3.2: separable self-attention is O(k); multi-head attention is O(k^2). Counted FLOPs of
    one unit at k and 4k tokens (d = 64): 4x for the separable unit, close to 16x for MHA once k >> d."""
    from patchlib.layers import Attention

    dim, k = 64, 1024
    separable, mha = SeparableSelfAttention(dim), Attention(dim, heads=4)
    grow_separable = flops(separable, (dim, 1, 4 * k))["flops"] / flops(separable, (dim, 1, k))["flops"]
    grow_mha = flops(mha, (4 * k, dim))["flops"] / flops(mha, (k, dim))["flops"]
    assert grow_separable == pytest.approx(4.0, rel=1e-6)
    assert grow_mha > 12


def test_separable_attention_is_permutation_equivariant_over_tokens():
    """Permuting the tokens permutes the output the same way (the context vector is a sum over tokens)."""
    torch.manual_seed(0)
    unit = SeparableSelfAttention(16)
    x = torch.randn(2, 16, 4, 10)
    permutation = torch.randperm(10)
    with torch.no_grad():
        torch.testing.assert_close(unit(x[..., permutation]), unit(x)[..., permutation])


def test_separable_attention_follows_the_papers_equations():
    """y = (ReLU(x W_V) * sum_i softmax(x W_I)_i x_K(i)) W_O, written out token by token."""
    torch.manual_seed(0)
    dim, tokens = 8, 5
    unit = SeparableSelfAttention(dim)
    x = torch.randn(1, dim, 1, tokens)
    weight, bias = unit.qkv.weight[:, :, 0, 0], unit.qkv.bias
    projected = [weight @ x[0, :, 0, i] + bias for i in range(tokens)]            # each [1 + 2d]
    scores = torch.stack([p[0] for p in projected]).softmax(dim=0)                  # c_s
    context = sum(scores[i] * projected[i][1:1 + dim] for i in range(tokens))     # c_v
    out_weight, out_bias = unit.proj.weight[:, :, 0, 0], unit.proj.bias
    expected = torch.stack([out_weight @ (torch.relu(p[1 + dim:]) * context) + out_bias for p in projected], dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(unit(x)[0, :, 0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("block", [MobileViTBlock, MobileViTv2Block])
def test_blocks_unfold_any_divisible_map_and_reject_others(block):
    torch.manual_seed(0)
    layer = block(8, dim=16, depth=1, patch_size=2).eval()
    with torch.no_grad():
        assert layer(torch.randn(1, 8, 12, 6)).shape == (1, 8, 12, 6)   # non-square, 6x3 patches
        with pytest.raises(ValueError, match="7x6 feature map is not divisible by the patch size 2x2"):
            layer(torch.randn(1, 8, 7, 6))


def test_fold_puts_every_pixel_back_in_place():
    """With no Transformer layers and identity convolutions around it, unfold then fold is the identity."""
    torch.manual_seed(0)
    block = MobileViTv2Block(4, dim=4, depth=0, patch_size=(2, 3)).eval()
    x = torch.randn(1, 4, 6, 9)
    tokens_seen = []
    block.norm.register_forward_hook(lambda module, inputs, output: tokens_seen.append(inputs[0]))
    with torch.no_grad():
        local = block.local_proj(block.local_conv(x))
        block(x)
    unfolded = tokens_seen[0]                                                       # [B, d, P, N]
    assert unfolded.shape == (1, 4, 6, 9)
    # token n of pixel position p is pixel (row = nh * 2 + ph, col = nw * 3 + pw) of the map
    for p, n in ((0, 0), (5, 8), (3, 4)):
        ph, pw, nh, nw = p // 3, p % 3, n // 3, n % 3
        torch.testing.assert_close(unfolded[0, :, p, n], local[0, :, nh * 2 + ph, nw * 3 + pw])


def test_model_names_the_input_size_it_needs():
    model = patchlib.create_model("mobilevit_xxs").eval()
    with torch.no_grad(), pytest.raises(ValueError, match="multiples of 64"):
        model(torch.randn(1, 3, 224, 224))
    cifar = patchlib.create_model("mobilevitv2_050_cifar").eval()
    with torch.no_grad():
        assert cifar(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("bad", [0.3, 0, -1, "1.0", True, float("nan")])
def test_width_multiplier_must_give_integer_channels(bad):
    with pytest.raises(ValueError, match="width_multiplier"):
        mobilevitv2(bad)


def test_width_multipliers_scale_every_stage():
    config = mobilevitv2_config(0.75)
    assert config.stem_channels == 24 and config.channels == (48, 96, 192, 288, 384)
    assert config.transformer_dims == (0, 0, 96, 144, 192)


def test_bad_configs_and_names_fail_clearly():
    with pytest.raises(ValueError, match="unknown model 'mobilevit_xxxs'"):
        patchlib.create_model("mobilevit_xxxs")
    with pytest.raises(ValueError, match="version must be 1"):
        MobileViTConfig(version=3)
    with pytest.raises(ValueError, match="image_size=100 is not a multiple of 64"):
        MobileViTConfig(image_size=100)
    with pytest.raises(ValueError, match="patch_size must be a positive integer"):
        MobileViTConfig(patch_size=0)
