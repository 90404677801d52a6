import pytest
import torch

import patchlib
from patchlib.measure import parameter_count


def test_registry_lists_and_creates_models():
    names = patchlib.list_models()
    assert {"vit_micro", "vit_tiny_cifar", "vit_base_patch16_224"} <= set(names)
    assert patchlib.list_models("vit_tiny") == ["vit_tiny_cifar"]
    model = patchlib.create_model("vit_micro", depth=1, num_classes=3)
    assert len(model.blocks) == 1 and model.head.out_features == 3


def test_unknown_model_and_bad_override_fail_clearly():
    with pytest.raises(ValueError, match="unknown model 'vit_nope'"):
        patchlib.create_model("vit_nope")
    with pytest.raises(TypeError):
        patchlib.create_model("vit_micro", widht=3)


@pytest.mark.parametrize("name", ["vit_micro", "vit_tiny_cifar"])
def test_cifar_models_forward(name):
    model = patchlib.create_model(name).eval()
    logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    features, attentions = model.forward_features(torch.randn(2, 3, 32, 32), return_attention=True)
    assert features.shape[1] == 1 + model.patch_embed.num_patches
    assert len(attentions) == model.config.depth


@pytest.mark.parametrize("name, millions", [("vit_base_patch16_224", 86), ("vit_large_patch16_224", 307),
                                            ("vit_huge_patch14_224", 632)])
def test_paper_variants_have_table1_parameter_counts(name, millions):
    """ViT paper, Table 1: Base 86M, Large 307M, Huge 632M parameters."""
    with torch.device("meta"):
        model = patchlib.create_model(name)
    assert parameter_count(model) / 1e6 == pytest.approx(millions, rel=0.01)


def test_vit_matches_timm_with_copied_weights():
    """Our ViT and timm's VisionTransformer are the same function of the same weights."""
    timm = pytest.importorskip("timm")
    from timm.models.vision_transformer import VisionTransformer as TimmViT

    torch.manual_seed(0)
    ours = patchlib.create_model("vit_micro", depth=3, heads=4).eval()
    torch.nn.init.normal_(ours.head.weight, std=0.1)  # the zero-initialised head would hide differences
    reference = TimmViT(img_size=32, patch_size=4, num_classes=10, embed_dim=64, depth=3, num_heads=4,
                        mlp_ratio=4.0, qkv_bias=True, global_pool="token").eval()
    reference.load_state_dict(ours.state_dict(), strict=True)
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(images), reference(images), rtol=1e-5, atol=1e-5)
