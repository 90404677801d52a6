"""ViTPose's models: the ViT and ResNet backbones, the classic and simple decoders (Eq. 2, 3),
the paper's sizes, and clear errors."""
import pytest
import torch
import torch.nn.functional as F

import patchlib
from patchlib.measure import parameter_count
from patchlib.models.vit import VisionTransformer
from patchlib.models.vitpose import ClassicDecoder, PoseConfig, ResNetConfig, SimpleDecoder


@pytest.mark.parametrize("name", ["vitpose_tiny", "simplebaseline_res18"])
@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_heatmaps_come_out_at_a_quarter_of_the_crop(name, decoder):
    torch.manual_seed(0)
    model = patchlib.create_model(name, decoder=decoder).eval()
    with torch.no_grad():
        heatmaps = model(torch.randn(2, 3, 256, 192))
    assert heatmaps.shape == (2, 17, 64, 48) and torch.isfinite(heatmaps).all()


def test_the_vit_backbone_is_the_book_vit_laid_on_its_patch_grid():
    """The same encoder as the ViT chapter (no copy); its tokens become a [B, D, 16, 12] map."""
    model = patchlib.create_model("vitpose_tiny").eval()
    vit = model.backbone.vit
    assert isinstance(vit, VisionTransformer) and vit.grid_size == (16, 12)
    images = torch.randn(1, 3, 256, 192)
    with torch.no_grad():
        features = model.backbone(images)
        tokens = vit.forward_intermediates(images).tokens[:, 1:]
    assert features.shape == (1, 192, 16, 12)
    torch.testing.assert_close(features[0, :, 3, 5], tokens[0, 3 * 12 + 5])  # row-major patch order


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


@pytest.mark.parametrize("name, millions", [("vitpose_b", 86), ("vitpose_l", 307), ("vitpose_h", 632)])
def test_backbone_sizes_match_the_papers_table_9(name, millions):
    """Table 9 lists 86 / 307 / 632 M for ViTPose-B/L/H; our backbones (the ViT encoders at
    256x192, with the class token the book's ViT keeps) are within 1.5% of that; the classic
    decoder adds about 4-6 M."""
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
