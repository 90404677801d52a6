"""UDP heatmaps: encode/decode round trip, flip symmetry, target weights."""
import pytest
import torch

from patchlib.pose.heatmaps import decode, encode, flip_heatmaps, udp_scale
from patchlib.pose.keypoints import FLIP_PAIRS, NAMES, flip_permutation

IMAGE, HEATMAP = (256, 192), (64, 48)


def test_a_heatmap_made_from_a_point_decodes_back_to_it():
    """Within 0.1 px at heatmap (1/4) resolution, for points anywhere on a sub-pixel grid."""
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(50, 17, 2, generator=generator) * torch.tensor([180.0, 240.0]) + torch.tensor([6.0, 8.0])
    heatmaps, weights = encode(points, torch.ones(50, 17), image_size=IMAGE, heatmap_size=HEATMAP)
    decoded, scores = decode(heatmaps, image_size=IMAGE)
    scale_y, scale_x = udp_scale(IMAGE, HEATMAP)
    error = ((decoded - points) * torch.tensor([scale_x, scale_y])).abs()
    assert error.max() < 0.1 and weights.all()
    assert scores.min() > 0.88  # the peak sits within half a heatmap pixel of the grid


def test_udp_maps_corner_to_corner():
    assert udp_scale(IMAGE, HEATMAP) == (63 / 255, 47 / 191)
    corners = torch.tensor([[[0.0, 0.0], [191.0, 255.0]]])
    decoded, _ = decode(encode(corners, torch.ones(1, 2), image_size=IMAGE, heatmap_size=HEATMAP)[0],
                        image_size=IMAGE)
    torch.testing.assert_close(decoded, corners, atol=1e-3, rtol=0)


def test_flip_test_is_symmetric():
    """Targets of the mirrored pose (x -> W - 1 - x, left and right swapped) equal the original
    targets mirrored back by `flip_heatmaps`: no half-pixel shift under UDP."""
    generator = torch.Generator().manual_seed(1)
    points = torch.rand(4, 17, 2, generator=generator) * torch.tensor([191.0, 255.0])
    visible = torch.ones(4, 17)
    mirrored = points.clone()
    mirrored[..., 0] = (IMAGE[1] - 1) - points[..., 0]
    mirrored = mirrored[:, flip_permutation()]
    original, _ = encode(points, visible, image_size=IMAGE, heatmap_size=HEATMAP)
    flipped, _ = encode(mirrored, visible, image_size=IMAGE, heatmap_size=HEATMAP)
    torch.testing.assert_close(flip_heatmaps(flipped), original, atol=1e-5, rtol=0)  # float32 rounding


def test_flip_pairs_swap_left_and_right():
    for left, right in FLIP_PAIRS:
        assert NAMES[left].replace("left", "right") == NAMES[right]


def test_unlabelled_or_outside_keypoints_get_no_target():
    points = torch.tensor([[[50.0, 50.0], [50.0, 50.0], [-20.0, 50.0]]])
    heatmaps, weights = encode(points, torch.tensor([[2, 0, 2]]), image_size=IMAGE, heatmap_size=HEATMAP)
    assert weights.tolist() == [[1.0, 0.0, 0.0]]
    assert heatmaps[0, 1].abs().max() == 0 and heatmaps[0, 2].abs().max() == 0
