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


@pytest.mark.parametrize("field, value, match", [
    ("patch_size", 0, r"ViTConfig\.patch_size .*got 0"), ("patch_size", -4, r"ViTConfig\.patch_size"),
    ("patch_size", 4.0, r"ViTConfig\.patch_size"), ("patch_size", (4, 0), r"ViTConfig\.patch_size"),
    ("patch_size", True, r"ViTConfig\.patch_size"), ("image_size", 0, r"ViTConfig\.image_size"),
    ("image_size", "32", r"ViTConfig\.image_size"), ("image_size", (32, 32, 3), r"ViTConfig\.image_size"),
    ("image_size", 30, r"ViTConfig\.image_size 30 is not divisible by patch_size 4"),
    ("dim", 0, r"ViTConfig\.dim"), ("dim", 64.0, r"ViTConfig\.dim"),
    ("dim", 66, r"ViTConfig\.dim 66 is not divisible by heads=4"), ("heads", 0, r"ViTConfig\.heads"),
    ("heads", -2, r"ViTConfig\.heads"), ("depth", 0, r"ViTConfig\.depth"), ("depth", 2.5, r"ViTConfig\.depth"),
    ("in_channels", 0, r"ViTConfig\.in_channels"), ("num_classes", -1, r"ViTConfig\.num_classes"),
    ("mlp_ratio", 0, r"ViTConfig\.mlp_ratio"), ("mlp_ratio", float("nan"), r"ViTConfig\.mlp_ratio"),
    ("mlp_ratio", "4", r"ViTConfig\.mlp_ratio"),
])
def test_vit_config_sizes_are_validated_naming_the_field(field, value, match):
    """patch_size=0 used to raise ZeroDivisionError in PatchEmbed; every size now fails in the config."""
    overrides = {"heads": 4} if field == "dim" else {}
    with pytest.raises(ValueError, match=match):
        patchlib.create_model("vit_micro", **overrides, **{field: value})


def test_vit_config_accepts_what_the_book_builds():
    assert patchlib.create_model("vit_micro", image_size=(48, 32), patch_size=16, num_classes=0).grid_size == (3, 2)
    assert patchlib.create_model("vit_micro", image_size=[32, 32], mlp_ratio=2).config.image_size == [32, 32]
    assert patchlib.create_model("vit_micro", patch_size=(4, 8)).grid_size == (8, 4)


@pytest.mark.parametrize("field, value", [
    ("image_size", 0), ("patch_sizes", (0,)), ("patch_sizes", (6, 4.5)), ("patch_sizes", ()), ("patch_sizes", (7,)),
    ("base_patch_size", 0), ("base_patch_size", 12.0), ("base_grid", 0), ("dim", 0), ("heads", 0), ("depth", 0),
    ("mlp_ratio", -1.0), ("num_classes", -1), ("in_channels", 0),
])
def test_flexivit_config_sizes_are_validated_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"FlexiViTConfig\.{field}"):
        patchlib.create_model("flexivit_micro", **{field: value})


@pytest.mark.parametrize("name", ["vit_micro", "vit_tiny_cifar"])
def test_cifar_models_forward(name):
    model = patchlib.create_model(name).eval()
    logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    out = model.forward_intermediates(torch.randn(2, 3, 32, 32), attention=True)
    assert out.tokens.shape[1] == 1 + model.patch_embed.num_patches
    assert len(out.attention) == model.config.depth and out.kept == []
    assert out.patch_map().shape == (2, model.config.dim, *model.grid_size)


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


# Models too large to run here are built on the meta device (shapes only, no memory).
LARGE = 50e6


def _input_shape(model):
    config = model.config
    image_size = getattr(config, "image_size", 32 if getattr(config, "num_classes", None) == 10 else 224)
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    return (2, getattr(config, "in_channels", 3), height, width)


def _output_shape(model):
    """[B, classes] for a classifier; [B, K, H/4, W/4] heatmaps for a pose model."""
    config = model.config
    if hasattr(config, "num_keypoints"):
        return (2, config.num_keypoints, *config.heatmap_size)
    return (2, config.num_classes)


@pytest.mark.parametrize("name", patchlib.list_models())
def test_every_registered_model_builds_and_runs(name):
    """The registry-wide sweep: every variant builds, and a forward pass gives [B, num_classes]."""
    with torch.device("meta"):
        model = patchlib.create_model(name)
    big = parameter_count(model) > LARGE
    if not big:
        model = patchlib.create_model(name)
    model.eval()
    images = torch.randn(*_input_shape(model), device="meta" if big else "cpu")
    if not big:
        torch.manual_seed(0)
    with torch.no_grad():
        logits = model(images)
    assert logits.shape == _output_shape(model)
    if not big:
        assert torch.isfinite(logits).all()


def test_flexivit_takes_a_keep_rate_one_model_two_knobs():
    """A FlexiViT with EViT layers: the patch size sets the token grid, the keep rate then the
    counts per EViT layer, by the official rule (ceil(rho * n), plus a fused token)."""
    import math

    from patchlib.models import EViTConfig

    model = patchlib.create_model("flexivit_micro", depth=4, evit=EViTConfig(keep_rate=0.5, layers=(1, 3))).eval()
    images = torch.randn(2, 3, 48, 48)
    for patch in (6, 12):
        n = (48 // patch) ** 2
        expected, left = [], n
        for _ in range(2):
            keep = math.ceil(0.5 * left)
            left = keep + 1 if keep < left else left
            expected.append(left)
        with torch.no_grad():
            out = model.forward_intermediates(images, patch_size=patch)
        assert [k.shape[1] for k in out.kept] == expected
        assert out.tokens.shape[1] == 1 + expected[-1]
        assert model(images, patch_size=patch).shape == (2, 10)
    model.set_keep_rate(1.0)
    with torch.no_grad():
        assert model.forward_intermediates(images, patch_size=6).tokens.shape[1] == 1 + 64


def test_package_layers_have_no_upward_imports():
    """Models on one floor, experiments above them, figures on top; no import cycles."""
    import ast
    from pathlib import Path

    root = Path(patchlib.__file__).parent
    floor = {"layers": 0, "runtime": 0, "profiles": 0, "results": 0, "data": 0, "models": 1, "pose": 1, "train": 1,
             "measure": 1, "interpret": 1, "claims": 1, "experiments": 2, "figures": 3}
    for path in root.rglob("*.py"):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        top = module.split(".")[0]
        if top == "__init__":
            continue
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                package = module.split(".")[:-1]                      # "__init__" counts as a module here
                base = package[: len(package) - (node.level - 1)]
                targets.add(".".join([*base, *(node.module.split(".") if node.module else [])]))
        for target in targets:
            target_top = target.split(".")[0]
            if target_top in floor and top in floor:
                assert floor[target_top] <= floor[top], f"{module} imports {target} from a higher floor"
