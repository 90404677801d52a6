"""The gpu profile's dry run, for every chapter: its full-size models and data pipeline, one epoch of
a few optimisation steps on a handful of images, on whatever device exists (here a CPU), so that
the gpu profile cannot rot unnoticed. Data in the real formats: a tiny CIFAR-10 in torchvision's
pickle layout and a tiny COCO keypoints set (generated people) in COCO's layout."""
from __future__ import annotations

import importlib
import json
import pickle

import pytest
import torch

from patchlib.data import CIFAR10_CLASSES
from patchlib.experiments import common
from patchlib.figures import provenance
from patchlib.pose.synthetic import generate_people

from patchlib.chapters import NAMES as CHAPTERS  # the one registry


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    generator = torch.Generator().manual_seed(0)
    for name, count in [(f"data_batch_{i}", 8) for i in range(1, 6)] + [("test_batch", 20)]:
        images = torch.randint(0, 256, (count, 3 * 32 * 32), generator=generator, dtype=torch.uint8)
        record = {"data": images.numpy(), "labels": [i % 10 for i in range(count)]}
        (folder / name).write_bytes(pickle.dumps(record))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CIFAR10_CLASSES)}))
    for split in ("train2017", "val2017"):
        generate_people(root / "coco", split, num_images=3, seed=1, image_size=(256, 192))
    return root


@pytest.mark.parametrize("name", CHAPTERS)
def test_the_gpu_profile_dry_runs_on_this_machine(name, data_root, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the refusal must not apply to a dry run
    chapter = importlib.import_module(f"patchlib.experiments.{name}")
    records = chapter.run("gpu", dry_run=True, data_root=data_root, results_dir=tmp_path, progress=False)
    stored = [json.loads(path.read_text()) for path in tmp_path.rglob("*.json") if path.name != "claims-gpu.json"]
    assert stored and all(record["config"]["dry_run"] is True for record in stored)
    assert all(record["config"]["profile"] == "gpu" for record in stored)
    assert (tmp_path / name / "claims-gpu.json").exists() and records["claims"]
    some_record = stored[0]
    assert provenance(some_record).startswith(f"**{common.DRY_RUN_NOTE}")


def test_a_dry_run_trains_the_full_size_models_briefly():
    from patchlib.experiments import vit, vitpose

    real, dry = vit.context("gpu"), vit.context("gpu", dry_run=True)
    assert vit.build_classifier(dry.size).config == vit.build_classifier(real.size).config  # the same model
    assert dry.size.train.epochs == 1 and dry.size.n_train == common.DRY_RUN_IMAGES
    assert real.size.train.epochs == 200 and real.size.n_train is None
    assert vitpose.context("gpu", dry_run=True).size.backbones == vitpose.SIZES["gpu"].backbones
    assert dry.results_dir != real.results_dir  # dry records never land beside real ones
    with pytest.raises(ValueError, match="dry_run"):
        vit.context("gpu", dry_run="yes")
    with pytest.raises(ValueError, match="no field"):
        common.dry_run_size(vit.SIZES["gpu"], {"epochs_typo": 1})
