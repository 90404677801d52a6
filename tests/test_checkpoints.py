"""Official checkpoints into patchlib (`patchlib.models.checkpoints`), offline: for every format,
random weights saved in the official key layout and container load into our model and give the
reference model's outputs (timm's models; ports of the official EViT and ViTPose code), in float64;
damaged, foreign or mismatched files fail with a message naming them."""
import argparse
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from official_vitpose import ViT, load_mae, official_vitpose, randomize  # tests/official_vitpose.py
from safetensors.torch import save_file

import patchlib
from patchlib.models import checkpoints
from patchlib.models.checkpoints import Checkpoint, CheckpointError, load_checkpoint, load_pretrained, read_checkpoint
from patchlib.models.evit import EViTConfig
from patchlib.models.vitpose import PoseViT, PoseViTConfig

timm = pytest.importorskip("timm")
from timm.models.vision_transformer import VisionTransformer as TimmViT  # noqa: E402

TOLERANCE = 1e-12  # float64 everywhere: the same function of the same weights, to rounding


def images(*size, seed=0):
    return torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def max_difference(ours, reference, inputs) -> float:
    ours.eval(), reference.eval()
    with torch.no_grad():
        return (ours(inputs) - reference(inputs)).abs().max().item()


def timm_vit(**options):
    options = {"img_size": 32, "patch_size": 4, "num_classes": 10, "embed_dim": 32, "depth": 2, "num_heads": 2,
               "qkv_bias": True, "global_pool": "token"} | options
    return randomize(TimmViT(**options)).double()


# ---- timm's formats ----

@pytest.mark.parametrize("container", ["safetensors", "deit_pth"])
def test_timm_vit_and_deit(tmp_path, container):
    """timm / HF releases are bare safetensors; DeiT's .pth is {"model": ...}."""
    reference = timm_vit()
    if container == "safetensors":
        path = tmp_path / "vit.safetensors"
        save_file(reference.state_dict(), path)
    else:
        path = tmp_path / "deit.pth"
        torch.save({"model": reference.state_dict()}, path)
    ours = patchlib.create_model("vit_micro", dim=32, heads=2).double()
    assert load_checkpoint(ours, path, format="timm_vit") == []
    assert max_difference(ours, reference, images(32, 32)) < TOLERANCE


def test_a_headless_release_loads_into_a_zero_class_model(tmp_path):
    """ViT-L/32's ImageNet-21k release has no head: a num_classes=0 model takes it."""
    reference = timm_vit(num_classes=0)
    path = tmp_path / "vit.safetensors"
    save_file(reference.state_dict(), path)
    ours = patchlib.create_model("vit_micro", dim=32, heads=2, num_classes=0).double()
    load_checkpoint(ours, path, format="timm_vit")
    with torch.no_grad():
        expected = reference.forward_features(images(32, 32))
        assert (ours.forward_features(images(32, 32)) - expected).abs().max() < TOLERANCE


def test_timm_flexivit(tmp_path):
    """timm's FlexiViT has no position embedding for the class token (no_embed_class); at its
    stored patch size and grid ours gives the same logits."""
    reference = timm_vit(img_size=24, no_embed_class=True)
    assert reference.pos_embed.shape[1] == 36
    path = tmp_path / "flexivit.safetensors"
    save_file(reference.state_dict(), path)
    ours = patchlib.create_model("flexivit_micro", image_size=24, patch_sizes=(4, 6), base_patch_size=4, base_grid=6,
                                 dim=32, heads=2).double()
    load_checkpoint(ours, path, format="timm_flexivit")
    assert max_difference(ours, reference, images(24, 24)) < TOLERANCE
    wrong_base = patchlib.create_model("flexivit_micro", image_size=24, patch_sizes=(4, 6), base_patch_size=6,
                                       base_grid=4, dim=32, heads=2)
    with pytest.raises(CheckpointError, match=r"(patch_embed.proj.weight|pos_embed) has shape .* base_patch_size"):
        load_checkpoint(wrong_base, path, format="timm_flexivit")


def test_timm_convmixer(tmp_path):
    reference = randomize(timm.models.convmixer.ConvMixer(dim=24, depth=3, kernel_size=5, patch_size=2,
                                                          num_classes=10)).double()
    path = tmp_path / "convmixer.safetensors"
    save_file(reference.state_dict(), path)
    ours = patchlib.create_model("convmixer_256_8", dim=24, depth=3, kernel_size=5, patch_size=2,
                                 num_classes=10).double()
    load_checkpoint(ours, path, format="timm_convmixer")
    assert max_difference(ours, reference, images(32, 32)) < TOLERANCE


@pytest.mark.parametrize("name", ["mobilevit_xxs", "mobilevitv2_050"])
def test_timm_mobilevit(tmp_path, name):
    reference = randomize(timm.create_model(name, num_classes=10)).double()
    path = tmp_path / f"{name}.safetensors"
    save_file(reference.state_dict(), path)
    ours = patchlib.create_model(name, num_classes=10).double()
    load_checkpoint(ours, path, format="timm_mobilevit")
    assert max_difference(ours, reference, images(64, 64)) < 1e-10  # BatchNorm'd convolutions: larger values


# ---- EViT: the official repository's checkpoint, against a port of its forward ----

def complement_idx(idx, dim):
    """youweiliang/evit helpers.py `complement_idx`."""
    a = torch.arange(dim, device=idx.device)
    ndim = idx.ndim
    dims = idx.shape
    n_idx = dims[-1]
    dims = dims[:-1] + (-1, )
    for _ in range(1, ndim):
        a = a.unsqueeze(0)
    a = a.expand(*dims)
    masked = torch.scatter(a, -1, idx, 0)
    compl, _ = torch.sort(masked, dim=-1, descending=False)
    compl = compl.permute(-1, *tuple(range(ndim - 1)))
    return compl[n_idx:].permute(*(tuple(range(1, ndim)) + (0,)))


def official_evit(sd, x, *, heads, patch, keep_rates, fuse):
    """youweiliang/evit evit.py `EViT.forward` (Attention, Block, forward_features), on the weights `sd`."""
    def norm(t, name):
        return F.layer_norm(t, t.shape[-1:], sd[f"{name}.weight"], sd[f"{name}.bias"], eps=1e-6)

    x = F.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=patch).flatten(2).transpose(1, 2)
    x = torch.cat([sd["cls_token"].expand(x.shape[0], -1, -1), x], dim=1) + sd["pos_embed"]
    for i, keep_rate in enumerate(keep_rates):
        p = f"blocks.{i}."
        B, N, C = x.shape
        qkv = F.linear(norm(x, p + "norm1"), sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"])
        q, k, v = qkv.reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * (C // heads) ** -0.5).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(B, N, C)
        x = x + F.linear(out, sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
        left_tokens = math.ceil(keep_rate * (N - 1))
        if keep_rate < 1 and left_tokens < N - 1:
            cls_attn = attn[:, :, 0, 1:].mean(dim=1)
            _, idx = torch.topk(cls_attn, left_tokens, dim=1, largest=True, sorted=True)
            index = idx.unsqueeze(-1).expand(-1, -1, C)
            non_cls = x[:, 1:]
            x_others = torch.gather(non_cls, dim=1, index=index)
            if fuse:
                compl = complement_idx(idx, N - 1)
                non_topk = torch.gather(non_cls, dim=1, index=compl.unsqueeze(-1).expand(-1, -1, C))
                non_topk_attn = torch.gather(cls_attn, dim=1, index=compl)
                extra_token = torch.sum(non_topk * non_topk_attn.unsqueeze(-1), dim=1, keepdim=True)
                x = torch.cat([x[:, 0:1], x_others, extra_token], dim=1)
            else:
                x = torch.cat([x[:, 0:1], x_others], dim=1)
        hidden = F.gelu(F.linear(norm(x, p + "norm2"), sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"]))
        x = x + F.linear(hidden, sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
    return F.linear(norm(x, "norm")[:, 0], sd["head.weight"], sd["head.bias"])


@pytest.mark.parametrize("fuse", [True, False])
def test_evit_repository_checkpoint(tmp_path, fuse):
    """{"model", "epoch", "args" (an argparse Namespace)} as EViT's main.py saves it; keep rate 0.7
    at layers 1 and 2 of 3 (the official `drop_loc` rule), with and without fusion."""
    state = timm_vit(depth=3).state_dict()
    path = tmp_path / "evit.pth"
    torch.save({"model": state, "epoch": 299, "args": argparse.Namespace(base_keep_rate=0.7, fuse_token=fuse)}, path)
    ours = patchlib.create_model("vit_micro", dim=32, heads=2, depth=3,
                                 evit=EViTConfig(keep_rate=0.7, layers=(1, 2), fuse_inattentive=fuse)).double().eval()
    load_checkpoint(ours, path, format="evit")
    x = images(32, 32)
    with torch.no_grad():
        expected = official_evit(state, x, heads=2, patch=4, keep_rates=(1, 0.7, 0.7), fuse=fuse)
        assert (ours(x) - expected).abs().max() < TOLERANCE


# ---- ViTPose (mmpose) and MAE, against the port of the official code ----

@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_vitpose_mmpose_checkpoint(tmp_path, decoder):
    """{"meta" (with a numpy scalar, as mmcv writes it), "state_dict": {"backbone.*", "keypoint_head.*"}}."""
    official = randomize(official_vitpose(img_size=(64, 48), embed_dim=32, depth=2, num_heads=2, decoder=decoder,
                                          deconv_filters=16)).double()
    path = tmp_path / "vitpose.pth"
    torch.save({"meta": {"epoch": 210, "hook_msgs": {"best_score": np.float64(0.758)}},
                "state_dict": official.state_dict()}, path)
    ours = patchlib.create_model("vitpose_tiny", image_size=(64, 48), decoder=decoder, deconv_channels=16,
                                 backbone=PoseViTConfig(image_size=(64, 48), dim=32, depth=2, heads=2)).double()
    load_checkpoint(ours, path, format="vitpose")
    assert max_difference(ours, official, images(64, 48)) < TOLERANCE


@pytest.mark.parametrize("mae_patch", [8, 6])
def test_mae_encoder_initialises_the_backbone_as_vitpose_does(tmp_path, mae_patch):
    """An MAE encoder ({"model": timm ViT keys}) pre-trained on a square 8x8 grid into a 64x48 pose
    backbone (8x6 grid): position embeddings resized bicubically, the class token and MAE's norm
    left out, and a 6-px kernel (as ViT-H/14's into patch 16) zero-padded, as ViTPose's loader does."""
    mae = timm_vit(img_size=8 * mae_patch, patch_size=mae_patch, num_classes=0)
    path = tmp_path / "mae_pretrain.pth"
    torch.save({"model": mae.state_dict()}, path)
    ours = PoseViT(PoseViTConfig(image_size=(64, 48), patch_size=8, dim=32, depth=2, heads=2)).double()
    ignored = load_checkpoint(ours, path, format="mae")
    assert ignored == ["cls_token", "norm.bias", "norm.weight"]
    reference = ViT(img_size=(64, 48), patch_size=8, embed_dim=32, depth=2, num_heads=2, qkv_bias=True).double()
    load_mae(reference, {k: v for k, v in mae.state_dict().items()})
    assert max_difference(ours, reference, images(64, 48)) < TOLERANCE


# ---- files that are not right ----

def _vit_file(tmp_path):
    path = tmp_path / "good.pth"
    torch.save({"model": timm_vit().state_dict()}, path)
    return path


def test_a_truncated_or_foreign_file_fails_naming_it(tmp_path):
    good = _vit_file(tmp_path)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.pth is truncated"):
        read_checkpoint(truncated)
    tensors = tmp_path / "truncated.safetensors"
    save_file(timm_vit().state_dict(), tmp_path / "whole.safetensors")
    tensors.write_bytes((tmp_path / "whole.safetensors").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"truncated\.safetensors is truncated"):
        read_checkpoint(tensors)
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.pth"):
        read_checkpoint(text)
    with pytest.raises(FileNotFoundError, match=r"absent\.pth not found"):
        read_checkpoint(tmp_path / "absent.pth")
    optimizer_only = tmp_path / "optimizer.pth"
    torch.save({"epoch": 3, "lr": 0.1}, optimizer_only)
    with pytest.raises(CheckpointError, match=r"optimizer\.pth has no state dict"):
        read_checkpoint(optimizer_only)


class Foreign:  # a pickled object patchlib does not rebuild
    pass


def test_a_file_pickling_unknown_objects_is_refused_naming_them(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"model": timm_vit().state_dict(), "extra": Foreign()}, path)
    with pytest.raises(CheckpointError, match=r"odd\.pth pickles .*Foreign"):
        read_checkpoint(path)


def test_a_checkpoint_of_another_model_fails_naming_the_keys_or_shapes(tmp_path):
    path = _vit_file(tmp_path)
    with pytest.raises(CheckpointError, match=r"good\.pth \(timm_convmixer\) does not fit ConvMixer: missing"):
        load_checkpoint(patchlib.create_model("convmixer_micro"), path, format="timm_convmixer")
    with pytest.raises(CheckpointError, match=r"good\.pth \(timm_vit\): cls_token has shape \(1, 1, 32\), the model "
                                              r"\(1, 1, 64\)"):
        load_checkpoint(patchlib.create_model("vit_micro"), path, format="timm_vit")
    with pytest.raises(ValueError, match="unknown checkpoint format 'keras'"):
        load_checkpoint(patchlib.create_model("vit_micro"), path, format="keras")


# ---- released weights by name ----

@pytest.fixture
def tiny_release(monkeypatch, tmp_path):
    """A registered release of a tiny ViT, its weights folder and the reference model."""
    reference = timm_vit()
    entry = Checkpoint("vit_micro", "timm_vit", "tiny.pth", overrides={"dim": 32, "heads": 2},
                       timm="vit_tiny_for_test", url="https://example.invalid/tiny.pth")
    monkeypatch.setitem(checkpoints.CHECKPOINTS, "tiny.test", entry)
    monkeypatch.setenv(checkpoints.WEIGHTS_ENV, str(tmp_path))
    return reference, tmp_path / "tiny.pth"


def test_by_name_from_the_weights_folder(tiny_release):
    reference, path = tiny_release
    torch.save({"model": reference.state_dict()}, path)
    ours = load_pretrained("tiny.test", download=False).double()
    assert max_difference(ours, reference, images(32, 32)) < 1e-6  # loaded into float32


def test_by_name_through_timm(tiny_release, monkeypatch):
    reference, _ = tiny_release
    calls = []

    def create_model(name, pretrained=False, **kwargs):
        calls.append((name, pretrained))
        return reference

    monkeypatch.setattr(timm, "create_model", create_model)
    ours = load_pretrained("tiny.test").double()
    assert calls == [("vit_tiny_for_test", True)]
    assert max_difference(ours, reference, images(32, 32)) < 1e-6


def test_by_name_without_the_file_says_what_to_download_and_where(tiny_release):
    _, path = tiny_release
    with pytest.raises(FileNotFoundError, match=rf"not at {path}: download tiny.pth from https://example.invalid"):
        load_pretrained("tiny.test", download=False)
    with pytest.raises(ValueError, match="unknown checkpoint 'vit_giant'"):
        load_pretrained("vit_giant")


def test_every_named_release_names_a_registered_model_and_format():
    for name, entry in checkpoints.CHECKPOINTS.items():
        assert entry.model in patchlib.list_models(), name
        assert entry.format in checkpoints.FORMATS, name
        assert entry.timm or entry.url or entry.page, name
