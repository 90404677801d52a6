"""The flip test as `patchlib.pose.train.predict` uses it (issue 27 §2: a fault there went unseen).

ViTPose's flip test (mmpose `flip_test=True`) averages a crop's heatmaps with those of the mirrored
crop, mirrored back with left and right swapped (`flip_heatmaps`). For a model that is itself
mirror-equivariant (its heatmaps of a mirrored crop are its heatmaps mirrored, left and right
swapped) the mirrored pass adds nothing: predictions with and without the flip test must agree. A
flip test that forgets to mirror back, swaps no sides or mirrors the wrong axis breaks that.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from patchlib.pose.data import TopDownDataset
from patchlib.pose.keypoints import flip_permutation
from patchlib.pose.synthetic import generate_people
from patchlib.pose.train import predict

IMAGE, HEATMAP = (64, 48), (16, 12)


class MirrorEquivariant(nn.Module):
    """Heatmap k = exp(pooled image) x g_k: g_k a Gaussian bump, left of centre for the left keypoint
    of each pair, at the mirrored place for the right one, on the centre line for the nose, so that
    model(mirrored crop) = model(crop) mirrored, left and right swapped."""

    def __init__(self):
        super().__init__()
        height, width = HEATMAP
        permutation = flip_permutation()
        rows, cols = torch.arange(height).float()[:, None], torch.arange(width).float()[None, :]

        def bump(row, col):
            return torch.exp(-((rows - row) ** 2 + (cols - col) ** 2) / 2.0)

        bumps = []
        for k, mirror in enumerate(permutation):
            row = 1 + (min(k, mirror) * 13) % (height - 2)
            col = (width - 1) / 2 if mirror == k else 2.0 if k < mirror else width - 3.0
            bumps.append(bump(row, col))
        self.register_buffer("bumps", torch.stack(bumps))

    def forward(self, images):
        base = torch.exp(F.adaptive_avg_pool2d(images.mean(1, keepdim=True), HEATMAP) / 4)
        return base * self.bumps


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("people")
    annotations = generate_people(root, "val", num_images=2, seed=5, image_size=(96, 96))
    return TopDownDataset(annotations, root / "val", image_size=IMAGE)


def test_the_flip_test_keeps_a_mirror_equivariant_models_predictions(dataset):
    model = MirrorEquivariant()
    images = torch.randn(2, 3, *IMAGE)
    mirrored = model(images.flip(-1)).flip(-1)[:, flip_permutation()]
    torch.testing.assert_close(mirrored, model(images))  # the model is what its docstring says
    plain = predict(model, dataset, device=torch.device("cpu"), flip_test=False, batch_size=4)
    flipped = predict(model, dataset, device=torch.device("cpu"), flip_test=True, batch_size=4)
    assert len(plain[0]) >= 2 and torch.equal(plain[0], flipped[0])
    torch.testing.assert_close(flipped[1], plain[1], atol=1e-3, rtol=0)  # keypoints, crop pixels
    torch.testing.assert_close(flipped[2], plain[2], atol=1e-5, rtol=1e-4)  # scores


def test_the_flip_test_changes_what_a_lopsided_model_predicts(dataset):
    """The check above can fail: a model with both bumps of a pair left of centre is not
    mirror-equivariant, and the flip test halves its right keypoints' peaks (or moves them)."""
    model = MirrorEquivariant()
    model.bumps = model.bumps[[min(k, m) for k, m in enumerate(flip_permutation())]]
    plain = predict(model, dataset, device=torch.device("cpu"), flip_test=False, batch_size=4)
    flipped = predict(model, dataset, device=torch.device("cpu"), flip_test=True, batch_size=4)
    right = [k for k, m in enumerate(flip_permutation()) if k > m]
    moved = (flipped[1][:, right] - plain[1][:, right]).norm(dim=-1) > 5
    lowered = flipped[2][:, right] < 0.8 * plain[2][:, right]
    assert (moved | lowered).all()
