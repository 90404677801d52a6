"""ViTPose's models: the ViT and ResNet backbones, the classic and simple decoders (Eq. 2, 3),
the paper's sizes, and clear errors; the ViT model against a port of the official code
(tests/official_vitpose.py) with shared weights, and its official parameter counts."""
import pytest
import torch
import torch.nn.functional as F
from official_vitpose import official_vitpose, randomize  # tests/official_vitpose.py

import patchlib
from patchlib.layers import Block
from patchlib.measure import parameter_count
from patchlib.models.checkpoints import load_checkpoint
from patchlib.models.vitpose import (ClassicDecoder, PoseConfig, PoseViT, PoseViTConfig, ResNetConfig,
                                     SimpleDecoder)


@pytest.mark.parametrize("name", ["vitpose_tiny", "simplebaseline_res18"])
@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_heatmaps_come_out_at_a_quarter_of_the_crop(name, decoder):
    torch.manual_seed(0)
    model = patchlib.create_model(name, decoder=decoder).eval()
    with torch.no_grad():
        heatmaps = model(torch.randn(2, 3, 256, 192))
    assert heatmaps.shape == (2, 17, 64, 48) and torch.isfinite(heatmaps).all()


def test_the_vit_backbone_has_the_official_geometry():
    """The book's Transformer blocks behind the official embedding: a conv padded by 2, no class
    token (16 x 12 = 192 tokens, not 193), MAE's class slot kept in the position embeddings."""
    model = patchlib.create_model("vitpose_tiny").eval()
    vit = model.backbone.vit
    assert isinstance(vit, PoseViT) and all(isinstance(block, Block) for block in vit.blocks)
    assert vit.patch_embed.proj.padding == (2, 2) and vit.grid_size == (16, 12)
    assert vit.pos_embed.shape == (1, 1 + 16 * 12, 192) and not hasattr(vit, "cls_token")
    with torch.no_grad():
        assert model.backbone(torch.randn(1, 3, 256, 192)).shape == (1, 192, 16, 12)


def _shared(decoder: str, drop_path: float = 0.0):
    """The official model (the port) and ours, tiny, float64, with the same random weights loaded
    through the ViTPose checkpoint converter."""
    sizes = {"embed_dim": 48, "depth": 3, "num_heads": 4}
    official = randomize(official_vitpose(img_size=(128, 96), **sizes, drop_path_rate=drop_path, decoder=decoder,
                                          deconv_filters=32)).double()
    ours = patchlib.create_model("vitpose_tiny", image_size=(128, 96), decoder=decoder, deconv_channels=32,
                                 backbone=PoseViTConfig(image_size=(128, 96), dim=48, depth=3, heads=4,
                                                        drop_path=drop_path)).double()
    load_checkpoint(ours, {"state_dict": official.state_dict()}, format="vitpose")
    return official, ours


@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_vitpose_equals_the_official_model_with_shared_weights(decoder):
    """float64, 128x96 crops, every weight and BatchNorm statistic random: the heatmaps of ours and
    of the official model (backbone `vit.py`, head `TopdownHeatmapSimpleHead`) agree to 1e-12."""
    official, ours = _shared(decoder)
    images = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        official.eval(), ours.eval()
        features = (ours.backbone(images) - official.backbone(images)).abs().max()
        heatmaps = (ours(images) - official(images)).abs().max()
    assert features < 1e-12 and heatmaps < 1e-12, (features, heatmaps)


def test_drop_path_is_the_official_stochastic_depth():
    """Training mode with drop path 0.5 (blocks at 0, 0.25, 0.5): the same random draws give the
    same features as the official blocks (per-sample masks, kept branches scaled by 1 / keep)."""
    official, ours = _shared("simple", drop_path=0.5)
    assert [block.drop_path for block in ours.backbone.vit.blocks] == [0.0, 0.25, 0.5]
    images = torch.randn(8, 3, 128, 96, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    official.train(), ours.train()
    with torch.no_grad():
        torch.manual_seed(5)
        expected = official.backbone(images)
        torch.manual_seed(5)
        dropped = ours.backbone(images)
        torch.manual_seed(6)
        other = ours.backbone(images)
    assert (dropped - expected).abs().max() < 1e-12
    assert (other - expected).abs().max() > 1e-3          # the draws matter in training...
    ours.eval()
    with torch.no_grad():
        assert torch.equal(ours.backbone(images), ours.backbone(images))  # ...and not in eval mode


def test_the_simple_decoder_is_equation_3():
    torch.manual_seed(0)
    decoder = SimpleDecoder(8, 17, stride=16)
    features = torch.randn(2, 8, 4, 3)
    expected = decoder.head(F.interpolate(F.relu(features), scale_factor=4, mode="bilinear", align_corners=False))
    torch.testing.assert_close(decoder(features), expected)


@pytest.mark.parametrize("stride, blocks", [(16, 2), (32, 3), (8, 1)])
def test_the_classic_decoder_has_one_deconvolution_block_per_factor_two(stride, blocks):
    """Eq. 2 for a ViT (stride 16: two blocks); SimpleBaseline's three for a stride-32 ResNet."""
    decoder = ClassicDecoder(8, 17, stride=stride, channels=16)
    deconvs = [m for m in decoder.deconvs if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(deconvs) == blocks and all(m.kernel_size == (4, 4) and m.stride == (2, 2) for m in deconvs)
    out = decoder(torch.randn(1, 8, 2, 3))
    assert out.shape == (1, 17, 2 * stride // 4, 3 * stride // 4)


OFFICIAL_SIZES = {"vitpose_s": (384, 12, 12, 0.1), "vitpose_b": (768, 12, 12, 0.3), "vitpose_l": (1024, 24, 16, 0.5),
                  "vitpose_h": (1280, 32, 16, 0.55)}  # ViTPose_{small,base,large,huge}_coco_256x192.py


@pytest.mark.parametrize("name", list(OFFICIAL_SIZES))
@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_parameter_counts_equal_the_official_models(name, decoder):
    """Backbone and whole model: exactly the official counts (ViTPose-B: 85,794,816 and 89,994,513
    with the classic decoder); the drop path rates are the official configs'."""
    dim, depth, heads, rate = OFFICIAL_SIZES[name]
    with torch.device("meta"):
        ours = patchlib.create_model(name, decoder=decoder)
        official = official_vitpose(embed_dim=dim, depth=depth, num_heads=heads, drop_path_rate=rate, decoder=decoder)
    assert parameter_count(ours.backbone) == parameter_count(official.backbone)
    assert parameter_count(ours) == parameter_count(official)
    assert ours.config.backbone.drop_path == rate
    if (name, decoder) == ("vitpose_b", "classic"):
        assert (parameter_count(ours.backbone), parameter_count(ours)) == (85_794_816, 89_994_513)


@pytest.mark.parametrize("name, millions", [("vitpose_b", 86), ("vitpose_l", 307), ("vitpose_h", 632)])
def test_backbone_sizes_match_the_papers_table_9(name, millions):
    """Table 9 lists 86 / 307 / 632 M for ViTPose-B/L/H; the official backbones (ours, exactly:
    above) have 85.8 / 303.3 / 630.9 M, within 1.5 % of the printed values."""
    with torch.device("meta"):
        model = patchlib.create_model(name)
    assert parameter_count(model.backbone) / 1e6 == pytest.approx(millions, rel=0.015)


def test_bad_pose_configs_fail_clearly():
    with pytest.raises(ValueError, match="unknown decoder 'fancy'"):
        patchlib.create_model("vitpose_tiny", decoder="fancy")
    with pytest.raises(ValueError, match="ResNet depth 42 does not exist"):
        ResNetConfig(depth=42)
    with pytest.raises(ValueError, match="give both the same image_size"):
        patchlib.create_model("vitpose_tiny", image_size=(128, 96))
    with pytest.raises(ValueError, match="stride of 4 times a power of two"):
        ClassicDecoder(8, 17, stride=12)
    with pytest.raises(ValueError, match="patch_padding 8 must be below half the patch size"):
        PoseViTConfig(patch_padding=8)
    with pytest.raises(ValueError, match=r"drop_path must be a rate in \[0, 1\)"):
        PoseViTConfig(drop_path=1.0)
    with pytest.raises(ValueError, match="not divisible by patch_size"):
        PoseViTConfig(image_size=(250, 192))
    model = patchlib.create_model("simplebaseline_res18").eval()
    with pytest.raises(ValueError, match=r"expected person crops of size \(256, 192\)"):
        model(torch.randn(1, 3, 224, 224))


def test_a_config_read_back_from_a_record_builds_the_same_model():
    from patchlib.models import config_record

    model = patchlib.create_model("vitpose_tiny", decoder="simple")
    record = config_record(model.config)
    assert record["backbone"]["dim"] == 192 and record["decoder"] == "simple"
    rebuilt = PoseConfig(**record)
    assert rebuilt == model.config
