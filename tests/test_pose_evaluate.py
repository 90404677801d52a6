"""COCO OKS evaluation on real COCO annotations: the coco-mini-val2017 fixture (79 val2017 images,
68 annotated people), found as `$PATCHLIB_DATA/coco-mini-val2017.tar.gz`; skipped without it."""
import os
import tarfile
from pathlib import Path

import pytest
import torch

from patchlib.pose.evaluate import evaluate_keypoints, ground_truth_as_results, write_results

FIXTURE = "coco-mini-val2017.tar.gz"


@pytest.fixture(scope="module")
def annotations(tmp_path_factory) -> Path:
    root = os.environ.get("PATCHLIB_DATA")
    archive = Path(root) / FIXTURE if root else None
    if archive is None or not archive.is_file():
        pytest.skip(f"the real-COCO fixture {FIXTURE} is not in $PATCHLIB_DATA ({root!r})")
    folder = tmp_path_factory.mktemp("coco")
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("person_keypoints_val2017.json"))
        tar.extract(member, folder, filter="data")
    return folder / member.name


def test_ground_truth_fed_back_scores_ap_one(annotations, tmp_path):
    results = ground_truth_as_results(annotations)
    assert len(results) == 68  # the fixture's people with keypoints
    scores = evaluate_keypoints(annotations, write_results(results, tmp_path / "results.json"))
    assert scores["AP"] == pytest.approx(1.0) and scores["AR"] == pytest.approx(1.0)


def test_jittered_predictions_lower_ap_monotonically(annotations):
    """Gaussian noise on every predicted keypoint, its std a growing fraction of the person's scale."""
    import json

    people = {a["id"]: a for a in json.loads(annotations.read_text())["annotations"]}
    truth = ground_truth_as_results(annotations)
    scales = [max(a["area"], 1.0) ** 0.5 for a in people.values() if a.get("num_keypoints", 0) > 0
              and not a.get("iscrowd")]
    aps = []
    for fraction in (0.0, 0.02, 0.05, 0.1, 0.2):
        generator = torch.Generator().manual_seed(0)
        jittered = []
        for result, scale in zip(truth, scales):
            points = torch.tensor(result["keypoints"], dtype=torch.float64).reshape(17, 3)
            points[:, :2] += torch.randn(17, 2, generator=generator, dtype=torch.float64) * fraction * scale
            jittered.append(result | {"keypoints": points.flatten().tolist()})
        aps.append(evaluate_keypoints(annotations, jittered)["AP"])
    assert aps[0] == pytest.approx(1.0)
    assert all(later < earlier for earlier, later in zip(aps, aps[1:])), aps


def test_no_predictions_is_an_error_not_a_zero(annotations):
    with pytest.raises(ValueError, match="no predictions"):
        evaluate_keypoints(annotations, [])
