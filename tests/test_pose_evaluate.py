"""COCO OKS evaluation on real COCO annotations: the coco-mini-val2017 fixture (79 val2017 images,
68 annotated people), found as `$PATCHLIB_DATA/coco-mini-val2017.tar.gz` (those tests skipped
without it); OKS-NMS against a port of mmpose's, and before COCOeval on synthetic detections."""
import json
import os
import tarfile
from pathlib import Path

import numpy as np
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


# ---- OKS-NMS before COCOeval (mmpose's oks_nms, oks_thr 0.9), on synthetic detections ----

def official_oks_iou(g, d, a_g, a_d, sigmas):
    """mmpose/core/post_processing/nms.py `oks_iou` (vis_thr None, as TopDownCocoDataset calls it)."""
    vars = (sigmas * 2) ** 2
    xg, yg = g[0::3], g[1::3]
    ious = np.zeros(len(d), dtype=np.float32)
    for n_d in range(0, len(d)):
        dx, dy = d[n_d, 0::3] - xg, d[n_d, 1::3] - yg
        e = (dx ** 2 + dy ** 2) / vars / ((a_g + a_d[n_d]) / 2 + np.spacing(1)) / 2
        ious[n_d] = np.sum(np.exp(-e)) / len(e) if len(e) != 0 else 0.0
    return ious


def official_oks_nms(kpts_db, thr, sigmas):
    """mmpose's `oks_nms`, line for line: indexes kept."""
    scores = np.array([k['score'] for k in kpts_db])
    kpts = np.array([k['keypoints'].flatten() for k in kpts_db])
    areas = np.array([k['area'] for k in kpts_db])
    order = scores.argsort()[::-1]
    keep = []
    while len(order) > 0:
        i = order[0]
        keep.append(i)
        oks_ovr = official_oks_iou(kpts[i], kpts[order[1:]], areas[i], areas[order[1:]], sigmas)
        inds = np.where(oks_ovr <= thr)[0]
        order = order[inds + 1]
    return keep


def _people(generator, n):
    """n poses [n, 17, 3] (x, y, score) spread over a 640x480 image, and their box areas."""
    centres = torch.rand(n, 1, 2, generator=generator, dtype=torch.float64) * torch.tensor([500.0, 360.0]) + 70
    poses = centres + torch.randn(n, 17, 2, generator=generator, dtype=torch.float64) * 30
    scores = torch.rand(n, 17, 1, generator=generator, dtype=torch.float64)
    areas = (torch.rand(n, generator=generator, dtype=torch.float64) * 150 + 50) ** 2
    return torch.cat([poses, scores], -1), areas


def _with_duplicates(generator, poses, areas, copies, jitter):
    """Each pose plus `copies` jittered duplicates (a second detector box on the same person)."""
    noisy = poses.repeat(copies + 1, 1, 1)
    noisy[len(poses):, :, :2] += torch.randn(noisy[len(poses):, :, :2].shape, generator=generator,
                                             dtype=torch.float64) * jitter
    return noisy, areas.repeat(copies + 1)


def test_oks_nms_keeps_what_mmposes_keeps():
    from patchlib.pose.evaluate import oks_nms
    from patchlib.pose.keypoints import SIGMAS

    generator = torch.Generator().manual_seed(0)
    kept_counts = []
    for image_id, jitter in enumerate((0.5, 2.0, 5.0, 20.0)):
        poses, areas = _people(generator, 6)
        poses, areas = _with_duplicates(generator, poses, areas, 2, jitter)
        person_scores = torch.rand(len(poses), generator=generator, dtype=torch.float64)
        results = [{"image_id": image_id, "category_id": 1, "keypoints": pose.flatten().tolist(), "score": score}
                   for pose, score in zip(poses, person_scores.tolist())]
        ours = oks_nms(results, areas.tolist())
        kpts_db = [{"keypoints": pose.numpy(), "score": score, "area": area}
                   for pose, score, area in zip(poses, person_scores.tolist(), areas.tolist())]
        keep = official_oks_nms(kpts_db, 0.9, np.array(SIGMAS))
        assert [r["keypoints"] for r in ours] == [results[i]["keypoints"] for i in keep]
        kept_counts.append(len(keep))
    assert kept_counts[0] == 6 and kept_counts[-1] == 18  # duplicates removed when close, kept when far


def _annotations(tmp_path, poses, image_ids):
    """A COCO person_keypoints file with `poses` [N, 17, 3] (all labelled) in images `image_ids`."""
    from patchlib.pose.keypoints import NAMES, SKELETON

    people = []
    for i, (pose, image_id) in enumerate(zip(poses, image_ids)):
        xy = pose[:, :2]
        x0, y0 = xy.min(0).values.tolist()
        x1, y1 = xy.max(0).values.tolist()
        keypoints = torch.cat([xy, torch.full((17, 1), 2.0, dtype=xy.dtype)], 1).flatten().tolist()
        people.append({"id": i + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0, "num_keypoints": 17,
                       "keypoints": keypoints, "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0)})
    data = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in sorted(set(image_ids))],
            "annotations": people,
            "categories": [{"id": 1, "name": "person", "keypoints": list(NAMES),
                            "skeleton": [[a + 1, b + 1] for a, b in SKELETON]}]}
    path = tmp_path / "person_keypoints_synthetic.json"
    path.write_text(json.dumps(data))
    return path


def test_oks_nms_before_cocoeval_removes_the_duplicates_false_positives(tmp_path):
    """Synthetic detections: every person found twice (the second pose slightly off, lower score).
    Without NMS the duplicates are false positives and AP drops; with it AP is that of the
    duplicate-free predictions."""
    from patchlib.pose.evaluate import oks_nms

    generator = torch.Generator().manual_seed(1)
    truth, areas = _people(generator, 8)
    image_ids = [0] * 4 + [1] * 4
    annotations = _annotations(tmp_path, truth, image_ids)
    predicted = truth.clone()
    predicted[..., :2] += torch.randn(predicted[..., :2].shape, generator=generator, dtype=torch.float64) * 2
    duplicates = predicted.clone()
    duplicates[..., :2] += torch.randn(duplicates[..., :2].shape, generator=generator, dtype=torch.float64) * 0.5
    scores = torch.linspace(0.95, 0.6, 8, dtype=torch.float64)

    def as_results(poses, person_scores):
        return [{"image_id": image, "category_id": 1, "keypoints": pose.flatten().tolist(), "score": score}
                for pose, image, score in zip(poses, image_ids, person_scores.tolist())]

    single = as_results(predicted, scores)
    doubled = single + as_results(duplicates, scores - 0.02)  # ranked among the true ones
    kept = oks_nms(doubled, areas.tolist() * 2)
    assert kept == [r for r in single if r["image_id"] == 0] + [r for r in single if r["image_id"] == 1]
    ap_single = evaluate_keypoints(annotations, single)["AP"]
    assert evaluate_keypoints(annotations, kept)["AP"] == ap_single
    assert evaluate_keypoints(annotations, doubled)["AP"] < ap_single


def test_oks_nms_checks_its_inputs():
    from patchlib.pose.evaluate import oks_nms

    result = {"image_id": 0, "category_id": 1, "keypoints": [0.0] * 51, "score": 1.0}
    with pytest.raises(ValueError, match="one area per result"):
        oks_nms([result], [])
    with pytest.raises(ValueError, match="threshold"):
        oks_nms([result], [1.0], threshold=0.0)
