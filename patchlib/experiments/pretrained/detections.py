"""ViTPose's COCO val protocol with a person detector's boxes (the paper's Table 2 and Table 9 numbers):
the top-down model is run on every detected box, not on the annotated ones.

As ViTPose's configs set it (configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/ViTPose_*_coco_256x192.py:
`use_gt_bbox=False`, `det_bbox_thr=0.0`, `bbox_file=.../COCO_val2017_detections_AP_H_56_person.json`,
`vis_thr=0.2`, `oks_thr=0.9`) and mmpose's `TopDownCocoDataset._load_coco_person_detection_results`
reads them: every person box (category 1) scoring at least the threshold becomes a crop; each
prediction's score is its mean keypoint score above 0.2 times the box's score; OKS-NMS at 0.9 per
image; then COCOeval against all annotated people.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ...pose.data import Person, TopDownDataset, crop_region
from ...pose.evaluate import OKS_NMS_THRESHOLD, evaluate_keypoints, oks_nms
from ...pose.keypoints import NAMES
from ...pose.train import predict

DETECTION_THRESHOLD = 0.0  # det_bbox_thr of ViTPose's COCO configs


def detected_people(dataset: TopDownDataset, detections: str | Path, *,
                    threshold: float = DETECTION_THRESHOLD) -> tuple[list[Person], list[float]]:
    """(a Person per detected box, the boxes' scores) from a COCO detection-results file, for the images
    of `dataset`'s annotations file; the people carry no keypoints (evaluation only)."""
    path = Path(detections)
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read person detections {path} ({type(error).__name__}: {error}): expected a COCO "
                         "results list of {image_id, category_id, bbox, score}; download it again") from None
    with open(dataset.annotations) as file:
        images = {image["id"]: image["file_name"] for image in json.load(file)["images"]}
    people, scores = [], []
    for number, entry in enumerate(entries):
        if entry.get("category_id") != 1 or entry.get("score", 0.0) < threshold or entry.get("image_id") not in images:
            continue
        x, y, w, h = (float(v) for v in entry["bbox"])
        if w <= 0 or h <= 0:
            continue
        people.append(Person(image_id=int(entry["image_id"]), file=dataset.image_dir / images[entry["image_id"]],
                             box=(x, y, w, h), keypoints=torch.zeros(len(NAMES), 3), area=w * h,
                             annotation_id=number))
        scores.append(float(entry["score"]))
    if not people:
        raise ValueError(f"{path} holds no person box (category 1) with score >= {threshold} on the images of "
                         f"{dataset.annotations}: is it the val2017 detections file?")
    return people, scores


@torch.inference_mode()
def evaluate_detected(model: torch.nn.Module, dataset: TopDownDataset, detections: str | Path, *,
                      device: torch.device, batch_size: int = 64, num_workers: int = 0) -> dict:
    """COCO OKS AP/AR (fractions) of `model` on the detected boxes of `detections` (see the module
    docstring), flip test and DARK-UDP decoding as `patchlib.pose.train.evaluate_pose`."""
    people, box_scores = detected_people(dataset, detections)
    dataset.persons = people
    indices, points, scores = predict(model, dataset, device=device, batch_size=batch_size,
                                      num_workers=num_workers)
    results = dataset.to_results(indices.tolist(), points, scores)
    for result, i in zip(results, indices.tolist()):
        result["score"] *= box_scores[i]                                   # mmpose: keypoint score x box score
    areas = [math.prod(crop_region(people[i].box, dataset.image_size, dataset.padding)[1]) for i in indices.tolist()]
    results = oks_nms(results, areas, threshold=OKS_NMS_THRESHOLD)
    return evaluate_keypoints(dataset.annotations, results) | {"boxes": len(people)}
