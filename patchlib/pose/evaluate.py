"""COCO keypoint evaluation: object keypoint similarity (OKS) AP and AR with pycocotools'
`COCOeval`, as the ViTPose paper reports them (Tables 2 and 9: AP, AP50, AR, AR50 on COCO val).

Predictions are plain COCO results, one per detected person: {"image_id", "category_id": 1,
"keypoints": [x1, y1, v1, ..., x17, y17, v17], "score"}; `write_results` saves them in the
results-file format that COCO's evaluation server and `COCO.loadRes` read.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

# COCOeval.stats for iouType="keypoints", in order.
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


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
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(results), iouType="keypoints")
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
