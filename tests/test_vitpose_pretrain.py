"""The ViTPose chapter's in-book pretraining (issue 23 §2): the masked autoencoder's invariants (He et al.,
CVPR 2022, §3), the crops, the ResNet's stride-16 geometry, the pretrained weights arriving in the fine-tuned
models, and the training records naming the pretraining they started from."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

import patchlib
from patchlib.data import load_dataset
from patchlib.experiments import vitpose as chapter
from patchlib.experiments.vitpose import pieces
from patchlib.models.init_weights import INIT_ENV
from patchlib.models.mae import (MAEConfig, MaskedAutoencoder, masked_patch_loss, patchify, random_masking,
                                 sincos_position_embedding)
from patchlib.models.vitpose import PoseViTConfig, ResNetConfig
from patchlib.pose.pretrain import PretrainConfig, centre_crops, pretrain, pretraining_model, random_resized_crops
from patchlib.results import config_hash

CROP = (128, 96)


def _mae(**overrides) -> MaskedAutoencoder:
    encoder = PoseViTConfig(image_size=CROP, dim=32, depth=1, heads=2)
    return MaskedAutoencoder(MAEConfig(encoder=encoder, decoder_dim=16, decoder_depth=1, decoder_heads=2, **overrides))


# ---- MAE (§3) ----

def test_the_encoder_sees_exactly_a_quarter_of_the_tokens_of_every_image():
    torch.manual_seed(0)
    model = _mae()
    assert (model.config.tokens, model.config.visible_tokens) == (48, 12) == (48, round(0.25 * 48))
    seen = []
    model.encoder.blocks[0].register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    out = model(torch.randn(3, 3, *CROP), torch.Generator().manual_seed(1))
    assert seen == [torch.Size([3, 12, 32])]                  # only the visible tokens go through the encoder
    assert out["mask"].shape == (3, 48) and out["mask"].sum(dim=1).tolist() == [36.0] * 3
    assert out["predicted"].shape == (3, 48, 16 * 16 * 3)
    with pytest.raises(ValueError, match="mask_ratio"):
        _mae(mask_ratio=1.0)
    with pytest.raises(ValueError, match="decoder_dim 18 is not divisible by decoder_heads"):
        MAEConfig(encoder=PoseViTConfig(image_size=CROP, dim=32, depth=1, heads=2), decoder_dim=18, decoder_heads=4)


def test_masks_differ_per_image_and_per_draw_and_repeat_from_the_seed():
    generator = torch.Generator().manual_seed(5)
    first, first_mask = random_masking(4, 48, 12, generator=generator)
    second, _ = random_masking(4, 48, 12, generator=generator)
    again, again_mask = random_masking(4, 48, 12, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, again) and torch.equal(first_mask, again_mask)   # the seed decides
    assert len({tuple(sorted(row)) for row in first.tolist()}) == 4           # per image
    assert not torch.equal(first.sort(dim=1).values, second.sort(dim=1).values)  # per draw (step)
    assert all(set(row) == set(range(48)) - set(torch.nonzero(m).flatten().tolist())
               for row, m in zip(first.tolist(), first_mask))               # visible = not masked


def test_the_loss_is_over_the_masked_patches_only_with_normalised_pixels():
    torch.manual_seed(0)
    images = torch.randn(2, 3, *CROP)
    target = patchify(images, 16)
    assert target.shape == (2, 48, 768) and torch.equal(target[0, 7], images[0, :, 16:32, 16 * 1:16 * 2].permute(
        1, 2, 0).reshape(-1))                                                  # patch (1, 1) of the 8x6 grid
    normalised = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6) ** 0.5
    mask = torch.zeros(2, 48)
    mask[:, ::2] = 1
    predicted = normalised.clone().requires_grad_(True)
    wrong_where_visible = predicted + (1 - mask)[..., None] * 5.0
    loss = masked_patch_loss(wrong_where_visible, images, mask, 16)
    assert loss.item() == pytest.approx(0.0, abs=1e-10)                      # visible errors cost nothing
    loss_off = masked_patch_loss(predicted + mask[..., None], images, mask, 16)
    assert loss_off.item() == pytest.approx(1.0)                              # masked errors: the mean over them
    loss_off.backward()
    assert predicted.grad[:, 1::2].abs().sum() == 0 and predicted.grad[:, ::2].abs().sum() > 0
    raw = masked_patch_loss(target, images, mask, 16, norm_pix_loss=False)
    assert raw.item() == pytest.approx(0.0, abs=1e-10)
    torch.manual_seed(0)
    model = _mae()
    out = model(images, torch.Generator().manual_seed(2))
    assert out["loss"].item() == pytest.approx(masked_patch_loss(out["predicted"], images, out["mask"], 16).item())


def test_sine_cosine_position_embeddings_and_fixed_pretraining_embeddings():
    table = sincos_position_embedding(32, (8, 6))
    assert table.shape == (48, 32)
    assert torch.equal(table[0], torch.tensor([0.0] * 8 + [1.0] * 8 + [0.0] * 8 + [1.0] * 8))
    assert table[1, 0] == pytest.approx(math.sin(1.0)) and table[6, 16] == pytest.approx(math.sin(1.0))  # column, row
    model = _mae()
    assert not model.encoder.pos_embed.requires_grad and not model.decoder_pos_embed.requires_grad
    assert torch.equal(model.encoder.pos_embed[0, 0], torch.zeros(32))           # the class slot: zero
    assert torch.equal(model.encoder.pos_embed[0, 1:], sincos_position_embedding(32, (8, 6)))


def test_crops_have_the_pose_crops_size_and_repeat_from_the_seed():
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    crops = random_resized_crops(images, CROP, (0.2, 1.0), torch.Generator().manual_seed(0))
    again = random_resized_crops(images, CROP, (0.2, 1.0), torch.Generator().manual_seed(0))
    assert crops.shape == (4, 3, *CROP) and torch.equal(crops, again) and 0 <= crops.min() and crops.max() <= 1
    centre = centre_crops(images, CROP)                                          # the central 32x24, upsampled x4
    expected = torch.nn.functional.interpolate(images[:, :, :, 4:28].float() / 255, size=CROP, mode="bilinear",
                                               align_corners=False)
    # the same bilinear upsampling, but for the outer half-pixel of columns, which reads the image's columns beside
    # the region where `interpolate` of the cut-out region repeats its edge
    assert torch.allclose(centre[..., 2:-2], expected[..., 2:-2], atol=1e-5)


def test_pretraining_configs_name_their_bad_fields():
    with pytest.raises(ValueError, match="objective"):
        PretrainConfig(objective="simclr", epochs=1)
    with pytest.raises(ValueError, match="crop_scale"):
        PretrainConfig(objective="mae", epochs=1, crop_scale=(0.5, 0.2))
    with pytest.raises(ValueError, match="n_train"):
        PretrainConfig(objective="mae", epochs=1, n_train=0)
    with pytest.raises(ValueError, match="objective 'mae' pretrains a ViT"):
        pretraining_model(PretrainConfig(objective="mae", epochs=1), ResNetConfig(18), 10)
    assert "mask_ratio" not in PretrainConfig(objective="classify", epochs=1).record()
    assert "label_smoothing" not in PretrainConfig(objective="mae", epochs=1).record()


def test_an_interrupted_mae_pretraining_resumes_to_identical_weights(tmp_path):
    """Masks and crops come from the epoch's streams: a resumed run draws what an uninterrupted one drew."""
    data = load_dataset("shapes10", n_train=40, n_test=10, seed=0)
    plan = PretrainConfig(objective="mae", epochs=2, batch_size=8, precision="fp32", decoder_dim=16, decoder_depth=1,
                          decoder_heads=2, warmup_epochs=0.5)
    encoder = PoseViTConfig(image_size=CROP, dim=32, depth=1, heads=2)
    runs = []
    for stop in (None, 1):
        torch.manual_seed(0)
        model = pretraining_model(plan, encoder, 10)
        checkpoint = tmp_path / f"run-{stop}.pt"
        result = pretrain(model, data, plan, image_size=CROP, seed=3, device="cpu", checkpoint=checkpoint,
                          progress=False, stop_after_epochs=stop)
        if stop is not None:
            assert not result["completed"]
            torch.manual_seed(0)
            model = pretraining_model(plan, encoder, 10)
            result = pretrain(model, data, plan, image_size=CROP, seed=3, device="cpu", checkpoint=checkpoint,
                              progress=False)
        runs.append((result, model))
    (straight, a), (resumed, b) = runs
    assert [e["train_loss"] for e in straight["history"]] == [e["train_loss"] for e in resumed["history"]]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert straight["images_seen"] == 2 * 5 * 8 and set(straight["final"]) == {"test_loss"}


# ---- the ResNet at stride 16 ----

@pytest.mark.parametrize("depth", [18, 50])
def test_a_last_stride_of_one_gives_the_papers_8x6_map_at_128x96_and_two_deconvolutions(depth):
    torch.manual_seed(0)
    for last_stride, grid, deconvs in ((1, (8, 6), 2), (2, (4, 3), 3)):
        model = patchlib.create_model(f"simplebaseline_res{depth}", backbone=ResNetConfig(depth, last_stride=last_stride),
                                      image_size=CROP, deconv_channels=8).eval()
        with torch.no_grad():
            features = model.backbone(torch.randn(1, 3, *CROP))
            heatmaps = model(torch.randn(1, 3, *CROP))
        assert tuple(features.shape[-2:]) == grid and model.config.stride == 16 * last_stride
        assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in model.decoder.modules()) == deconvs
        assert tuple(heatmaps.shape[-2:]) == (32, 24)
    with pytest.raises(ValueError, match="last_stride"):
        ResNetConfig(18, last_stride=4)


# ---- the chapter: pretrain records, weights, configs ----

@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The smoke profile's pretrain records (computed once, in a folder of their own)."""
    import os

    saved = {key: os.environ.pop(key, None) for key in INIT_ENV.values()}
    ctx = chapter.context("smoke", results_dir=tmp_path_factory.mktemp("results"), progress=False)
    records = pieces.pretrain_records(ctx)
    yield ctx, records
    os.environ.update({key: value for key, value in saved.items() if value is not None})


def test_the_pretrain_records_keep_their_curves(smoke):
    ctx, records = smoke
    assert set(records) == {"vit", "resnet"}
    vit, resnet = records["vit"]["result"], records["resnet"]["result"]
    assert vit["objective"] == "mae" and (vit["tokens"], vit["visible_tokens"]) == (48, 12)
    assert [e["epoch"] for e in vit["history"]] == [1, 2] and all("test_loss" in e for e in vit["history"])
    assert resnet["objective"] == "classify" and all("test_acc" in e for e in resnet["history"])
    assert vit["source_image_size"] == [32, 32] and records["vit"]["provenance"]["data"]["name"] == "shapes10"
    assert ctx.checkpoint(records["vit"]["config"]).exists()


def test_pretrained_weights_arrive_in_every_fine_tuned_backbone(smoke):
    ctx, _ = smoke
    mae, classifier = pieces.pretrained_model(ctx, "vit"), pieces.pretrained_model(ctx, "resnet")
    torch.manual_seed(0)
    vit = chapter.build_pose_model(ctx, "vit", "simple", pretrained=True)
    assert torch.equal(vit.backbone.vit.blocks[0].mlp.fc1.weight, mae.encoder.blocks[0].mlp.fc1.weight)
    assert torch.equal(vit.backbone.vit.pos_embed, mae.encoder.pos_embed)      # MAE's fixed sine-cosine table
    assert torch.equal(vit.backbone.vit.norm.weight, torch.ones_like(vit.backbone.vit.norm.weight))  # as ViTPose: not loaded
    assert not torch.equal(mae.encoder.norm.weight, torch.ones_like(mae.encoder.norm.weight))
    resnet = chapter.build_pose_model(ctx, "resnet", "classic", pretrained=True)
    assert torch.equal(resnet.backbone.stages[3][0].conv1.weight, classifier.backbone.stages[3][0].conv1.weight)
    assert resnet.backbone.stages[3][0].conv1.stride == (1, 1)
    random = chapter.build_pose_model(ctx, "resnet", "classic")
    assert not torch.equal(random.backbone.stem[0].weight, classifier.backbone.stem[0].weight)


def test_the_training_configs_name_the_pretraining_they_start_from(smoke, monkeypatch, tmp_path):
    ctx, records = smoke
    config = chapter.train_config(ctx, "vit", "classic", 1)
    assert config["pretrain"] == f"pretrain-vit-smoke-{records['vit']['config_hash']}"
    assert config["pretrain"] == f"{records['vit']['config']['name']}-{config_hash(records['vit']['config'])}"
    longer = replace(ctx, size=replace(ctx.size, pretrain=ctx.size.pretrain | {
        "vit": replace(ctx.size.pretrain["vit"], epochs=3)}))
    assert config_hash(chapter.train_config(longer, "vit", "classic", 1)) != config_hash(config)  # stale if it changes
    assert chapter.train_config(longer, "resnet", "classic", 1) == chapter.train_config(ctx, "resnet", "classic", 1)
    source = patchlib.create_model("vit_micro", image_size=64, patch_size=16, num_classes=10, dim=32, depth=2, heads=2)
    torch.save(source.state_dict(), tmp_path / "vit.pt")
    monkeypatch.setenv(INIT_ENV["vit"], str(tmp_path / "vit.pt"))     # named weights replace the in-book pretraining
    replaced = chapter.train_config(ctx, "vit", "classic", 1)
    assert "pretrain" not in replaced and "sha256" in replaced["init"] and chapter.pretrain_plan(ctx, "vit") is None
    with pytest.raises(ValueError, match="PATCHLIB_VITPOSE_VIT_INIT names its weights"):
        chapter.pretrain_config(ctx, "vit")


def test_a_lost_pretraining_checkpoint_is_pretrained_again(smoke):
    ctx, records = smoke
    path = ctx.checkpoint(records["vit"]["config"])
    before = pieces.pretrained_model(ctx, "vit").state_dict()
    path.unlink()
    after = pieces.pretrained_model(ctx, "vit").state_dict()          # retrained from scratch: bit-identical on CPU
    assert path.exists() and all(torch.equal(before[k], after[k]) for k in before)
