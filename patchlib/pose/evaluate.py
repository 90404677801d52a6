"""COCO keypoint evaluation: object keypoint similarity (OKS) AP and AR with pycocotools'
`COCOeval`, as the ViTPose paper reports them (Tables 2 and 9: AP, AP50, AR, AR50 on COCO val).

Predictions are plain COCO results, one per detected person: {"image_id", "category_id": 1,
"keypoints": [x1, y1, v1, ..., x17, y17, v17], "score"}; `write_results` saves them in the
results-file format that COCO's evaluation server and `COCO.loadRes` read.

Before COCOeval, ViTPose's evaluation (mmpose's `TopDownCocoDataset.evaluate`, `oks_thr=0.9`)
removes near-duplicate people of an image by OKS non-maximum suppression: `oks_nms`. It matters
with detector boxes (two boxes on one person give two poses, the second a false positive).
"""
from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .keypoints import SIGMAS

# COCOeval.stats for iouType="keypoints", in order.
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
OKS_NMS_THRESHOLD = 0.9  # ViTPose's configs: oks_thr=0.9


def oks_similarity(reference: np.ndarray, others: np.ndarray, reference_area: float, other_areas: np.ndarray,
                   sigmas: Sequence[float] = SIGMAS) -> np.ndarray:
    """mmpose's `oks_iou` (core/post_processing/nms.py): the OKS of poses `others` [M, 3K] against
    `reference` [3K] (x, y, score per keypoint; scores unused), with the mean of the two areas as
    the scale: mean_k exp(-d_k^2 / (2 (2 sigma_k)^2 ((a_r + a_o) / 2 + eps)))."""
    variances = (np.asarray(sigmas) * 2) ** 2
    dx = others[:, 0::3] - reference[0::3]                                    # [M, K]
    dy = others[:, 1::3] - reference[1::3]
    scale = (reference_area + np.asarray(other_areas)[:, None]) / 2 + np.spacing(1)
    e = (dx ** 2 + dy ** 2) / variances / scale / 2
    return np.exp(-e).mean(axis=1)


def oks_nms(results: list[dict], areas: Sequence[float], *, threshold: float = OKS_NMS_THRESHOLD,
            sigmas: Sequence[float] = SIGMAS) -> list[dict]:
    """The results that survive mmpose's `oks_nms` in each image: repeatedly keep the
    highest-scoring person and drop every other whose OKS with it exceeds `threshold`. `areas`
    [N]: each person's area for the OKS scale (mmpose: the padded box's, w * h). Images in order of
    first appearance, people in the order kept (mmpose's)."""
    if len(areas) != len(results):
        raise ValueError(f"oks_nms needs one area per result: {len(areas)} areas for {len(results)} results")
    if not 0 < threshold <= 1:
        raise ValueError(f"OKS threshold must be in (0, 1], got {threshold!r}")
    images: dict[int, list[int]] = {}
    for index, result in enumerate(results):
        images.setdefault(result["image_id"], []).append(index)
    kept = []
    for members in images.values():
        scores = np.array([results[i]["score"] for i in members])
        poses = np.array([results[i]["keypoints"] for i in members], dtype=np.float64)   # [M, 3K]
        person_areas = np.array([areas[i] for i in members], dtype=np.float64)
        order = scores.argsort()[::-1]                                                    # mmpose's order
        while len(order) > 0:
            best = order[0]
            kept.append(results[members[best]])
            overlap = oks_similarity(poses[best], poses[order[1:]], person_areas[best], person_areas[order[1:]],
                                     sigmas)
            order = order[np.where(overlap <= threshold)[0] + 1]
    return kept


def write_results(results: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results))
    return path


def evaluate_keypoints(annotations: str | Path, results: list[dict] | str | Path) -> dict[str, float]:
    """OKS AP/AR of `results` (a list of COCO results or a results file) against the ground truth
    in the `person_keypoints_*.json` file `annotations`. COCOeval's printed summary is kept quiet."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not isinstance(results, list):
        results = json.loads(Path(results).read_text())
    if not results:
        raise ValueError("no predictions to evaluate: COCO's AP is undefined for an empty results list")
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO(str(annotations))
        detections = ground_truth.loadRes([dict(result) for result in results])  # loadRes adds keys to each
        evaluation = COCOeval(ground_truth, detections, iouType="keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {name: float(value) for name, value in zip(STAT_NAMES, evaluation.stats)}


def ground_truth_as_results(annotations: str | Path) -> list[dict]:
    """Every annotated person (with at least one labelled keypoint) as a prediction of score 1:
    the results a perfect model would give (AP 1.0)."""
    data = json.loads(Path(annotations).read_text())
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "keypoints": list(a["keypoints"]),
             "score": 1.0} for a in data["annotations"] if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd")]
