"""COCO's 17 person keypoints (Lin et al., 2014; the `person_keypoints` annotations): names in
annotation order, the skeleton, the left/right pairs a horizontal flip swaps, and the per-keypoint
OKS constants (sigmas) that COCO's keypoint evaluation uses."""
from __future__ import annotations

NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
         "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
         "right_knee", "left_ankle", "right_ankle")

# Limbs as pairs of 0-based keypoint indices (COCO's `skeleton` lists them 1-based).
SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
            (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))

# Every left keypoint with its right counterpart: a horizontal flip exchanges them.
FLIP_PAIRS = tuple((i, i + 1) for i in range(1, 17, 2))

# Per-keypoint falloff of the object keypoint similarity (pycocotools' COCOeval.kpt_oks_sigmas).
SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087,
          0.087, 0.089, 0.089)


def flip_permutation(num_keypoints: int = len(NAMES), pairs=FLIP_PAIRS) -> list[int]:
    """Index map of a horizontal flip: keypoint i of the flipped image is keypoint order[i] of the original."""
    order = list(range(num_keypoints))
    for left, right in pairs:
        order[left], order[right] = right, left
    return order
