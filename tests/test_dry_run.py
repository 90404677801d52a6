"""The gpu profile's dry run, for every chapter: its full-size models and data pipeline, one epoch of
a few optimisation steps on a handful of images, on whatever device exists (here a CPU), so that
the gpu profile cannot rot unnoticed. Data in the real formats: a tiny CIFAR-10 in torchvision's
pickle layout and a tiny COCO keypoints set (generated people) in COCO's layout. After `run()`, the
chapter's notebook is executed with papermill as `make reproduce PROFILE=gpu DRY_RUN=1` executes it, on
the records `run()` wrote: its tables, figures and prose must take a dry run's numbers (issue 27: the
MobileViT notebook crashed formatting a slope the dry run's token range could not fit)."""
from __future__ import annotations

import importlib
import json
import os
import pickle
from pathlib import Path

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


REPO = Path(__file__).resolve().parents[1]


def execute_notebook(name: str, output: Path, **parameters) -> None:
    """Execute notebooks/<name>.ipynb with papermill, as `make notebooks` does (cwd notebooks/, the
    parameters cell overridden); a failing cell raises papermill's error naming it."""
    import papermill

    papermill.execute_notebook(str(REPO / "notebooks" / f"{name}.ipynb"), str(output), parameters=parameters,
                               cwd=str(REPO / "notebooks"), progress_bar=False)


def files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("name", CHAPTERS)
def test_the_gpu_profile_dry_runs_on_this_machine(name, data_root, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the refusal must not apply to a dry run
    results = tmp_path / "results"
    chapter = importlib.import_module(f"patchlib.experiments.{name}")
    records = chapter.run("gpu", dry_run=True, data_root=data_root, results_dir=results, progress=False)
    stored = [json.loads(path.read_text()) for path in results.rglob("*.json") if path.name != "claims-gpu.json"]
    assert stored and all(record["config"]["dry_run"] is True for record in stored)
    assert all(record["config"]["profile"] == "gpu" for record in stored)
    assert (results / name / "claims-gpu.json").exists() and records["claims"]
    some_record = stored[0]
    assert provenance(some_record).startswith(f"**{common.DRY_RUN_NOTE}")

    # The notebook, on these records: it must load them (computing and rewriting nothing) and show them.
    written = files(results)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    executed = tmp_path / f"{name}.ipynb"
    execute_notebook(name, executed, profile="gpu", dry_run=True, device="cpu", seed=0, data_root=str(data_root),
                     results_dir=str(results))
    now = files(results)
    changed = sorted(str(path.relative_to(results)) for path in {*written, *now} if written.get(path) != now.get(path))
    assert changed == [], f"the notebook computed or rewrote {changed} instead of loading what run() wrote"
    outputs = [output for cell in json.loads(executed.read_text())["cells"] for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output["output_type"] == "error"]
    shown = json.dumps(outputs)
    assert common.DRY_RUN_NOTE in shown  # the page says it shows a dry run


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
