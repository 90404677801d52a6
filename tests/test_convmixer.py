"""ConvMixer: parity with timm, the paper's residual structure, variants and input checks."""
import pytest
import timm
import torch

from patchlib import create_model, list_models
from patchlib.models.convmixer import ConvMixer, ConvMixerConfig


def _copy_into_timm(ours: ConvMixer, reference: torch.nn.Module) -> None:
    """Both define their tensors in the same order (stem, then per layer: depthwise conv, its
    BatchNorm, pointwise conv, its BatchNorm, then the head); copy them position by position."""
    ours_state, reference_state = ours.state_dict(), reference.state_dict()
    assert len(ours_state) == len(reference_state)
    mapped = {}
    for (name, tensor), (ref_name, ref_tensor) in zip(ours_state.items(), reference_state.items()):
        assert tensor.shape == ref_tensor.shape, (name, ref_name)
        mapped[ref_name] = tensor
    reference.load_state_dict(mapped)


@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_matches_timm_with_copied_weights(activation):
    torch.manual_seed(0)
    ours = create_model("convmixer_256_8", dim=24, depth=3, kernel_size=5, patch_size=2, activation=activation)
    for module in ours.modules():  # non-trivial BatchNorm statistics and affine parameters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(), module.running_var.uniform_(0.5, 2)
            module.weight.data.normal_(1, 0.2), module.bias.data.normal_(0, 0.2)
    act = torch.nn.GELU if activation == "gelu" else torch.nn.ReLU
    reference = timm.models.convmixer.ConvMixer(dim=24, depth=3, kernel_size=5, patch_size=2, num_classes=10,
                                                act_layer=act)
    _copy_into_timm(ours, reference)
    images = torch.randn(4, 3, 32, 32)
    ours.eval(), reference.eval()
    torch.testing.assert_close(ours(images), reference(images), rtol=0, atol=1e-6)
    ours.train(), reference.train()  # batch statistics too
    torch.testing.assert_close(ours(images), reference(images), rtol=0, atol=1e-5)


# Parameter counts of the released ImageNet weights (51.6M, 21.1M, 24.4M in the paper's Table 1;
# exact counts from the locuslab/convmixer README and the mmpretrain model metafile).
@pytest.mark.parametrize("name, timm_name, published", [("convmixer_1536_20", "convmixer_1536_20", 51_625_960),
                                                        ("convmixer_768_32", "convmixer_768_32", 21_110_248),
                                                        ("convmixer_1024_20", "convmixer_1024_20_ks9_p14", 24_383_464)])
def test_imagenet_variants_match_timm(name, timm_name, published):
    ours = create_model(name)
    reference = timm.create_model(timm_name, pretrained=False)
    assert sum(p.numel() for p in ours.parameters()) == published
    assert sum(p.numel() for p in reference.parameters()) == published
    assert [tuple(t.shape) for t in ours.state_dict().values()] == \
           [tuple(t.shape) for t in reference.state_dict().values()]
    expected_act = torch.nn.ReLU if name == "convmixer_768_32" else torch.nn.GELU
    assert isinstance(ours.patch_act, expected_act)


def test_residual_only_around_the_depthwise_convolution():
    """With every pointwise output zeroed, a layer must output zero (no residual there); with the
    depthwise branch zeroed instead, the pointwise part must see its input unchanged."""
    layer = create_model("convmixer_micro").layers[0].eval()
    x = torch.randn(2, layer.depthwise.in_channels, 8, 8)
    with torch.no_grad():
        layer.pointwise_norm.weight.zero_(), layer.pointwise_norm.bias.zero_()
        assert torch.count_nonzero(layer(x)) == 0
    layer = create_model("convmixer_micro").layers[0].eval()
    with torch.no_grad():
        layer.depthwise_norm.weight.zero_(), layer.depthwise_norm.bias.zero_()
        expected = layer.pointwise_norm(layer.pointwise_act(layer.pointwise(x)))
        torch.testing.assert_close(layer(x), expected)


@pytest.mark.parametrize("name", list_models("convmixer"))
def test_output_shapes_of_every_variant(name):
    model = create_model(name).eval()
    p = model.config.patch_size
    with torch.no_grad():
        features = model.forward_features(torch.randn(2, 3, 2 * p, 3 * p))
        logits = model(torch.randn(2, 3, 2 * p, 2 * p))
    assert features.shape == (2, model.config.dim, 2, 3)
    assert logits.shape == (2, model.config.num_classes)


def test_patch_size_must_divide_the_image():
    model = create_model("convmixer_micro", patch_size=4)
    with pytest.raises(ValueError, match="not divisible by the patch size 4"):
        model(torch.randn(1, 3, 30, 32))


def test_bad_configs_fail_clearly():
    with pytest.raises(ValueError, match="activation"):
        ConvMixerConfig(activation="swish")
    with pytest.raises(ValueError, match="positive"):
        ConvMixerConfig(kernel_size=0)
