"""The ViTPose chapter's training loop, recipe and verdict rules (the data pipeline, heatmaps and
evaluation have their own test files)."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from patchlib.experiments import vitpose as chapter
from patchlib.pose.data import TopDownDataset
from patchlib.pose.synthetic import generate_people
from patchlib.pose.train import PoseTrainConfig, heatmap_loss, lr_factor, parameter_groups, train_pose


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """A few generated images in COCO's layout: (annotations json, image folder) per split."""
    root = tmp_path_factory.mktemp("people")
    files = {}
    for split, count in (("train", 6), ("val", 2)):
        annotations = generate_people(root, split, num_images=count, seed=3)
        files[split] = (annotations, root / split)
    return files


def _tiny_model():
    name, overrides = chapter.SIZES["smoke"].backbones["vit"]
    return chapter.create_model(name, **overrides)


def _datasets(people, image_size=(128, 96)):
    train = TopDownDataset(*people["train"], image_size=image_size, augment=chapter.SIZES["smoke"].augment, seed=1,
                           cache_images=True)
    val = TopDownDataset(*people["val"], image_size=image_size, cache_images=True)
    return train, val


def test_an_interrupted_run_resumes_to_identical_weights(people, tmp_path):
    train, val = _datasets(people)
    config = PoseTrainConfig(epochs=2, batch_size=4, lr=1e-3, warmup_steps=1, precision="fp32", flip_test=False)
    torch.manual_seed(0)
    straight = _tiny_model()
    whole = train_pose(straight, train, val, people["val"][0], config, seed=5, progress=False)
    torch.manual_seed(0)
    resumed = _tiny_model()
    checkpoint = tmp_path / "run.pt"
    first = train_pose(resumed, train, val, people["val"][0], config, seed=5, progress=False, checkpoint=checkpoint,
                       stop_after_epochs=1)
    assert not first["completed"]
    torch.manual_seed(123)  # a different process state: the checkpoint must carry everything
    again = _tiny_model()
    second = train_pose(again, train, val, people["val"][0], config, seed=5, progress=False, checkpoint=checkpoint)
    assert second["completed"] and whole["completed"]
    for (name, a), b in zip(straight.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert second["history"][-1]["train_loss"] == whole["history"][-1]["train_loss"]
    assert second["final"]["AP"] == whole["final"]["AP"]


def test_the_gpu_recipe_builds_and_takes_a_step(people):
    """The gpu profile's models (ViTPose-B, SimpleBaseline ResNet-50, 256x192) with its optimiser
    (layer-wise decay 0.75, weight decay 0.1): construction and one optimisation step on CPU."""
    size = chapter.SIZES["gpu"]
    train, val = _datasets(people, image_size=size.image_size)
    single_batch = torch.utils.data.Subset(train, [0, 1])
    single_batch.image_size, single_batch.set_epoch = train.image_size, train.set_epoch
    config = replace(size.train, epochs=1, batch_size=2, num_workers=0, precision="fp32", warmup_steps=1)
    for backbone in chapter.BACKBONES:
        name, overrides = size.backbones[backbone]
        model = chapter.create_model(name, **overrides, decoder="simple")
        before = {k: v.clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
        result = train_pose(model, single_batch, val, people["val"][0], config, seed=0, progress=False)
        assert result["completed"] and math.isfinite(result["history"][0]["train_loss"])
        changed = [k for k, v in model.state_dict().items() if k in before and not torch.equal(v, before[k])]
        assert changed, backbone


def test_layer_wise_decay_scales_each_vit_block():
    model = chapter.create_model("vitpose_b")
    groups = parameter_groups(model, PoseTrainConfig(epochs=1, layer_decay=0.75))
    scale_of = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    vit = model.backbone.vit
    assert scale_of[id(vit.patch_embed.proj.weight)] == pytest.approx(0.75 ** 13)
    assert scale_of[id(vit.blocks[0].mlp.fc1.weight)] == pytest.approx(0.75 ** 12)
    assert scale_of[id(vit.blocks[11].mlp.fc1.weight)] == pytest.approx(0.75)
    assert scale_of[id(model.decoder.head.weight)] == 1.0
    assert decay_of[id(vit.pos_embed)] == 0 and decay_of[id(vit.blocks[0].mlp.fc1.bias)] == 0
    assert decay_of[id(vit.blocks[0].mlp.fc1.weight)] == 0.1
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_the_step_schedule_divides_by_ten_at_the_papers_epochs():
    config = PoseTrainConfig(epochs=210, warmup_steps=500)
    total = 210 * 100
    assert lr_factor(0, total, config) == pytest.approx(0.001)
    assert lr_factor(500, total, config) == 1.0
    assert lr_factor(169 * 100, total, config) == 1.0
    assert lr_factor(170 * 100, total, config) == pytest.approx(0.1)
    assert lr_factor(200 * 100, total, config) == pytest.approx(0.01)


def test_unlabelled_keypoints_do_not_count_in_the_loss():
    predicted, target = torch.rand(2, 17, 8, 6), torch.rand(2, 17, 8, 6)
    weight = torch.ones(2, 17)
    weight[:, 3] = 0
    changed = predicted.clone()
    changed[:, 3] += 5
    assert heatmap_loss(changed, target, weight) == heatmap_loss(predicted, target, weight)
    assert heatmap_loss(predicted, target, torch.ones(2, 17)) > heatmap_loss(predicted, target, weight)


@pytest.mark.parametrize("field, value", [("epochs", 0), ("epochs", 1.5), ("lr", float("nan")), ("lr", -1),
                                          ("layer_decay", 1.5), ("schedule", "linear"), ("milestones", (1.2,))])
def test_bad_training_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field if field != "milestones" else "milestones"):
        PoseTrainConfig(**{"epochs": 2, field: value})


def _fake_records(aps: dict) -> dict:
    """Train records with the given final AP per (backbone, decoder, seed) (AP50 = AP + 0.1)."""
    return {"train": {key: {"config": {"model": key[0]}, "result": {"final": {"AP": ap, "AP50": ap + 0.1}}}
                      for key, ap in aps.items()}}


def test_the_gap_rule_needs_the_difference_to_clear_the_seed_noise():
    clear = _fake_records({("resnet", "classic", s): 0.40 + 0.01 * s for s in range(3)}
                          | {("resnet", "simple", s): 0.20 + 0.01 * s for s in range(3)}
                          | {("vit", "classic", s): 0.30 for s in range(3)} | {("vit", "simple", s): 0.29 for s in range(3)})
    gaps = chapter.paired_gaps(clear)
    assert gaps["resnet"] == pytest.approx([20, 20, 20]) and gaps["vit"] == pytest.approx([1, 1, 1])
    assert chapter.significant(gaps["difference"])
    noisy = _fake_records({("resnet", "classic", s): [0.40, 0.20, 0.30][s] for s in range(3)}
                          | {("resnet", "simple", s): [0.20, 0.30, 0.30][s] for s in range(3)}
                          | {("vit", "classic", s): 0.30 for s in range(3)} | {("vit", "simple", s): 0.30 for s in range(3)})
    assert not chapter.significant(chapter.paired_gaps(noisy)["difference"])
    assert not chapter.significant([5.0])  # one seed can never clear the noise


def test_pretrained_backbones_load_when_asked_and_only_then(tmp_path, monkeypatch):
    """The paper's initialisation, behind an explicit option: a state dict of the book's ViT (head
    dropped, position embeddings resized to the pose grid) or of a torchvision ResNet."""
    import torchvision

    ctx = chapter.context("smoke")
    monkeypatch.delenv(chapter.INIT_ENV["vit"], raising=False)
    monkeypatch.delenv(chapter.INIT_ENV["resnet"], raising=False)
    plain = chapter.train_config(ctx, "vit", "classic", 0)
    assert "init" not in plain  # no option: random init, and the configs of the committed results keep their hash
    vit_config = replace(chapter.build_model(ctx, "vit", "classic").config.backbone, image_size=(64, 64), num_classes=10)
    source = chapter.create_model("vit_micro").__class__(vit_config)  # a differently sized grid, with a head
    torch.save(source.state_dict(), tmp_path / "vit.pt")
    monkeypatch.setenv(chapter.INIT_ENV["vit"], str(tmp_path / "vit.pt"))
    model = chapter.build_model(ctx, "vit", "classic", pretrained=True)
    assert torch.equal(model.backbone.vit.blocks[0].mlp.fc1.weight, source.blocks[0].mlp.fc1.weight)
    assert model.backbone.vit.pos_embed.shape[1] == 1 + 8 * 6
    assert "sha256" in chapter.train_config(ctx, "vit", "classic", 0)["init"]
    resnet = torchvision.models.resnet18(weights=None)
    torch.save(resnet.state_dict(), tmp_path / "resnet.pt")
    monkeypatch.setenv(chapter.INIT_ENV["resnet"], str(tmp_path / "resnet.pt"))
    model = chapter.build_model(ctx, "resnet", "simple", pretrained=True)
    assert torch.equal(model.backbone.stem[0].weight, resnet.conv1.weight)
    assert torch.equal(model.backbone.stages[3][1].conv2.weight, resnet.layer4[1].conv2.weight)
    monkeypatch.setenv(chapter.INIT_ENV["vit"], str(tmp_path / "missing.pt"))
    with pytest.raises(FileNotFoundError, match="PATCHLIB_VITPOSE_VIT_INIT"):
        chapter.build_model(ctx, "vit", "classic", pretrained=True)
    monkeypatch.setenv(chapter.INIT_ENV["vit"], "imagenet")
    with pytest.raises(ValueError, match="only the ResNet"):
        chapter.build_model(ctx, "vit", "classic", pretrained=True)
