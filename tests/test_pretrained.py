"""Issue 25 §3: released classifiers evaluated on ImageNet-1k val as their releases evaluate them.
Offline: the preprocessing of every named release against timm's configs and the official code,
the accuracy count against hand-built models, and a release in timm's format (random weights) on the
generated ImageNet fixture giving timm's own predictions."""
import pytest
import torch
from torch import nn

from patchlib.data.imagenet import (IMAGENET_MEAN, IMAGENET_STD, EvalTransform, read_imagenet_val,
                                    write_imagenet_fixture)
from patchlib.models import checkpoints
from patchlib.models.checkpoints import Checkpoint
from patchlib.pretrained import evaluate_checkpoint, imagenet_accuracy

CLASSIFIERS = {name: entry for name, entry in checkpoints.CHECKPOINTS.items() if entry.preprocessing is not None}


@pytest.mark.parametrize("name", [n for n, e in CLASSIFIERS.items() if e.preprocessing_source == checkpoints._TIMM_CFG])
def test_preprocessing_is_timms_config_of_the_release(name):
    from timm.data import resolve_data_config
    from timm.models import get_pretrained_cfg

    config = resolve_data_config(pretrained_cfg=get_pretrained_cfg(CLASSIFIERS[name].timm).to_dict())
    assert CLASSIFIERS[name].preprocessing == EvalTransform.from_timm(config)


def test_preprocessing_of_the_releases_evaluated_by_their_own_code():
    """DeiT and EViT resize to 256 and crop 224 (their datasets.py, where timm's config says 0.9);
    big_vision's FlexiViT squashes to 272 x 272 and crops 240 (its pp_eval)."""
    deit = [e.preprocessing for n, e in CLASSIFIERS.items() if n.startswith(("deit_", "evit_"))]
    assert len(deit) == 11 and set(deit) == {EvalTransform(224, 0.875, "bicubic", IMAGENET_MEAN, IMAGENET_STD)}
    assert deit[0].resize_to == 256
    flexivit = {e.preprocessing for n, e in CLASSIFIERS.items() if n.startswith("flexivit_")}
    assert len(flexivit) == 1
    (transform,) = flexivit
    assert (transform.size, transform.resize_to, transform.resize, transform.interpolation) == (240, 272, "square",
                                                                                               "bilinear")
    assert not any(n.startswith(("vitpose_", "mae_")) for n in CLASSIFIERS)  # not ImageNet classifiers


@pytest.fixture
def val(tmp_path):
    write_imagenet_fixture(tmp_path, classes=6, per_class=2, layout="flat")
    return read_imagenet_val(tmp_path, allow_subset=True)


SMALL = EvalTransform(32, 0.875, "bicubic", IMAGENET_MEAN, IMAGENET_STD)


class Ranker(nn.Module):
    """Ranks each image's true class at `place` (0: first) among the fixture's classes, identifying
    the image by its pixels; the other classes score below it in a fixed order."""

    def __init__(self, val, transform, place: int, classes: int):
        super().__init__()
        from patchlib.data.imagenet import decode_rgb

        self.table = {self.key(transform(decode_rgb(f))): label for f, label in zip(val.files, val.labels)}
        self.place, self.classes = place, classes

    @staticmethod
    def key(image: torch.Tensor) -> float:
        return round(image.double().sum().item(), 3)

    def forward(self, images):
        logits = torch.zeros(len(images), self.classes)
        for row, image in enumerate(images):
            label = self.table[self.key(image)]
            others = [c for c in range(self.classes) if c != label]
            order = others[:self.place] + [label] + others[self.place:]
            logits[row, order] = torch.linspace(10, 0, self.classes)
        return logits


@pytest.mark.parametrize("place, top1, top5", [(0, 100.0, 100.0), (2, 0.0, 100.0), (5, 0.0, 0.0)])
def test_top1_and_top5_count_where_the_true_class_ranks(val, place, top1, top5):
    result = imagenet_accuracy(Ranker(val, SMALL, place, len(val.wnids)), val, SMALL, batch_size=5, progress=False)
    assert (result["top1"], result["top5"], result["n"]) == (top1, top5, 12)
    assert result["preprocessing"]["resize_to"] == 36 and result["data"] == val.source


def test_a_head_of_the_wrong_size_is_named(val):
    with pytest.raises(ValueError, match="scores 7 classes, the validation set has 6"):
        imagenet_accuracy(nn.Sequential(nn.Flatten(), nn.LazyLinear(7)), val, SMALL, progress=False)


def test_a_release_in_timms_format_gives_timms_predictions(val, tmp_path, monkeypatch):
    """Random weights saved as timm saves them, loaded by name, evaluated through the release's
    preprocessing: the same top-1/top-5 as timm's model on the same batches."""
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    reference = VisionTransformer(img_size=32, patch_size=8, num_classes=6, embed_dim=32, depth=2, num_heads=2,
                                  global_pool="token").eval()
    torch.save({"model": reference.state_dict()}, tmp_path / "tiny.pth")
    monkeypatch.setitem(checkpoints.CHECKPOINTS, "tiny.test", Checkpoint(
        "vit_micro", "timm_vit", "tiny.pth", overrides={"dim": 32, "heads": 2, "patch_size": 8, "num_classes": 6},
        page="https://example.invalid", preprocessing=SMALL, preprocessing_source="a test"))
    monkeypatch.setenv(checkpoints.WEIGHTS_ENV, str(tmp_path))
    ours = evaluate_checkpoint("tiny.test", val, download=False, batch_size=5, progress=False)
    theirs = imagenet_accuracy(reference, val, SMALL, batch_size=5, progress=False)
    assert (ours["top1"], ours["top5"]) == (theirs["top1"], theirs["top5"])
    assert ours["checkpoint"] == "tiny.test" and ours["preprocessing_source"] == "a test"
    with pytest.raises(ValueError, match="'mae_vit_base' is not an ImageNet-1k classifier"):
        evaluate_checkpoint("mae_vit_base", val, download=False)
