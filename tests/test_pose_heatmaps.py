"""UDP heatmaps: encode/decode round trip, flip symmetry, target weights, and ViTPose's own
targets and decoding against ports of the official code."""
import numpy as np
import pytest
import torch

from patchlib.pose.heatmaps import decode, encode, flip_heatmaps, gaussian_blur, udp_scale
from patchlib.pose.keypoints import FLIP_PAIRS, NAMES, flip_permutation

IMAGE, HEATMAP = (256, 192), (64, 48)


def test_a_heatmap_made_from_a_point_decodes_back_to_it():
    """Within 0.1 px at heatmap (1/4) resolution, for points anywhere on a sub-pixel grid."""
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(50, 17, 2, generator=generator) * torch.tensor([180.0, 240.0]) + torch.tensor([6.0, 8.0])
    heatmaps, weights = encode(points, torch.ones(50, 17), image_size=IMAGE, heatmap_size=HEATMAP,
                               method="udp_inside")
    decoded, scores = decode(heatmaps, image_size=IMAGE, method="newton")
    scale_y, scale_x = udp_scale(IMAGE, HEATMAP)
    error = ((decoded - points) * torch.tensor([scale_x, scale_y])).abs()
    assert error.max() < 0.1 and weights.all()
    assert scores.min() > 0.88  # the peak sits within half a heatmap pixel of the grid


def test_udp_maps_corner_to_corner():
    assert udp_scale(IMAGE, HEATMAP) == (63 / 255, 47 / 191)
    corners = torch.tensor([[[0.0, 0.0], [191.0, 255.0]]])
    decoded, _ = decode(encode(corners, torch.ones(1, 2), image_size=IMAGE, heatmap_size=HEATMAP)[0],
                        image_size=IMAGE, method="newton")
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
    """"udp_inside"; "udp_window" trains the outside one (below)."""
    points = torch.tensor([[[50.0, 50.0], [50.0, 50.0], [-20.0, 50.0]]])
    heatmaps, weights = encode(points, torch.tensor([[2, 0, 2]]), image_size=IMAGE, heatmap_size=HEATMAP,
                               method="udp_inside")
    assert weights.tolist() == [[1.0, 0.0, 0.0]]
    assert heatmaps[0, 1].abs().max() == 0 and heatmaps[0, 2].abs().max() == 0


# ---- ViTPose's targets and decoding, against numpy ports of the official mmpose 0.x code ----

def official_udp_target(joints, visible, image_size, heatmap_size, sigma):
    """`TopDownGenerateTarget._udp_generate_target` (GaussianHeatmap) of ViTPose's
    mmpose/datasets/pipelines/top_down_transform.py, line for line; sizes as (W, H) like mmpose."""
    image_size, heatmap_size = np.array(image_size), np.array(heatmap_size)
    num_joints = len(joints)
    target_weight = np.ones((num_joints, 1), dtype=np.float32)
    target_weight[:, 0] = visible
    target = np.zeros((num_joints, heatmap_size[1], heatmap_size[0]), dtype=np.float32)
    tmp_size = sigma * 3
    size = 2 * tmp_size + 1
    x = np.arange(0, size, 1, np.float32)
    y = x[:, None]
    for joint_id in range(num_joints):
        feat_stride = (image_size - 1.0) / (heatmap_size - 1.0)
        mu_x = int(joints[joint_id][0] / feat_stride[0] + 0.5)
        mu_y = int(joints[joint_id][1] / feat_stride[1] + 0.5)
        ul = [int(mu_x - tmp_size), int(mu_y - tmp_size)]
        br = [int(mu_x + tmp_size + 1), int(mu_y + tmp_size + 1)]
        if ul[0] >= heatmap_size[0] or ul[1] >= heatmap_size[1] or br[0] < 0 or br[1] < 0:
            target_weight[joint_id] = 0
            continue
        mu_x_ac = joints[joint_id][0] / feat_stride[0]
        mu_y_ac = joints[joint_id][1] / feat_stride[1]
        x0 = y0 = size // 2
        x0 += mu_x_ac - mu_x
        y0 += mu_y_ac - mu_y
        g = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2))
        g_x = max(0, -ul[0]), min(br[0], heatmap_size[0]) - ul[0]
        g_y = max(0, -ul[1]), min(br[1], heatmap_size[1]) - ul[1]
        img_x = max(0, ul[0]), min(br[0], heatmap_size[0])
        img_y = max(0, ul[1]), min(br[1], heatmap_size[1])
        if target_weight[joint_id] > 0.5:
            target[joint_id][img_y[0]:img_y[1], img_x[0]:img_x[1]] = g[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return target, target_weight[:, 0]


def cv2_gaussian_blur(heatmap, kernel):
    """cv2.GaussianBlur(heatmap, (kernel, kernel), 0) for kernel > 7, written out: the normalised
    Gaussian of sigma 0.3 ((kernel - 1) / 2 - 1) + 0.8 in x then y, BORDER_REFLECT_101 (numpy's 'reflect')."""
    sigma = 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8
    taps = np.exp(-(np.arange(kernel) - kernel // 2) ** 2 / (2 * sigma ** 2))
    taps /= taps.sum()
    r = kernel // 2
    padded = np.pad(heatmap, r, mode="reflect")
    rows = sum(taps[i] * padded[:, i:i + heatmap.shape[1]] for i in range(kernel))
    return sum(taps[i] * rows[i:i + heatmap.shape[0], :] for i in range(kernel))


def official_dark_udp(batch_heatmaps, kernel=11):
    """`_get_max_preds` then `post_dark_udp` of ViTPose's mmpose/core/evaluation/top_down_eval.py
    (heatmap coordinates; cv2's blur as above), line for line."""
    batch_heatmaps = batch_heatmaps.copy()
    N, K, H, W = batch_heatmaps.shape
    reshaped = batch_heatmaps.reshape((N, K, -1))
    idx = np.argmax(reshaped, 2).reshape((N, K, 1))
    maxvals = np.amax(reshaped, 2).reshape((N, K, 1))
    coords = np.tile(idx, (1, 1, 2)).astype(batch_heatmaps.dtype)
    coords[:, :, 0] = coords[:, :, 0] % W
    coords[:, :, 1] = coords[:, :, 1] // W
    coords = np.where(np.tile(maxvals, (1, 1, 2)) > 0.0, coords, -1)
    B = N
    for heatmaps in batch_heatmaps:
        for j, heatmap in enumerate(heatmaps):
            heatmaps[j] = cv2_gaussian_blur(heatmap, kernel)
    np.clip(batch_heatmaps, 0.001, 50, batch_heatmaps)
    np.log(batch_heatmaps, batch_heatmaps)
    batch_heatmaps_pad = np.pad(batch_heatmaps, ((0, 0), (0, 0), (1, 1), (1, 1)), mode='edge').flatten()
    index = coords[..., 0] + 1 + (coords[..., 1] + 1) * (W + 2)
    index += (W + 2) * (H + 2) * np.arange(0, B * K).reshape(-1, K)
    index = index.astype(int).reshape(-1, 1)
    i_ = batch_heatmaps_pad[index]
    ix1 = batch_heatmaps_pad[index + 1]
    iy1 = batch_heatmaps_pad[index + W + 2]
    ix1y1 = batch_heatmaps_pad[index + W + 3]
    ix1_y1_ = batch_heatmaps_pad[index - W - 3]
    ix1_ = batch_heatmaps_pad[index - 1]
    iy1_ = batch_heatmaps_pad[index - 2 - W]
    dx = 0.5 * (ix1 - ix1_)
    dy = 0.5 * (iy1 - iy1_)
    derivative = np.concatenate([dx, dy], axis=1).reshape(N, K, 2, 1)
    dxx = ix1 - 2 * i_ + ix1_
    dyy = iy1 - 2 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    hessian = np.concatenate([dxx, dxy, dxy, dyy], axis=1).reshape(N, K, 2, 2)
    hessian = np.linalg.inv(hessian + np.finfo(np.float32).eps * np.eye(2))
    coords -= np.einsum('ijmn,ijnk->ijmk', hessian, derivative).squeeze(-1)
    return coords, maxvals[..., 0]


@pytest.mark.parametrize("sigma", [2.0, 3.0, 1.5])
def test_udp_window_targets_equal_vitposes(sigma):
    """Points inside, near and far outside the crop (negative ones too: Python's int truncates
    toward zero), against the official code: the same weights, the same partial Gaussians."""
    generator = torch.Generator().manual_seed(0)
    span, shift = torch.tensor([300.0, 380.0], dtype=torch.float64), torch.tensor([55.0, 62.0], dtype=torch.float64)
    points = torch.rand(6, 17, 2, generator=generator, dtype=torch.float64) * span - shift
    points[0, :4] = torch.tensor([[-29.0, 10.0], [-30.7, 40.0], [191.0, 255.0], [223.9, -27.1]], dtype=torch.float64)
    visible = (torch.rand(6, 17, generator=generator) > 0.2).float()
    ours, weights = encode(points, visible, image_size=IMAGE, heatmap_size=HEATMAP, sigma=sigma)
    for person in range(6):
        target, weight = official_udp_target(points[person].numpy(), visible[person].numpy(), IMAGE[::-1],
                                             HEATMAP[::-1], sigma)
        np.testing.assert_array_equal(weights[person].numpy(), weight)
        np.testing.assert_allclose(ours[person].numpy(), target, rtol=0, atol=1e-7)
    partial = (weights > 0) & ((points < 0) | (points > torch.tensor([191.0, 255.0], dtype=torch.float64))).any(-1)
    assert partial.sum() >= 5  # the case that differs from "udp_inside": labelled, outside, yet trained


def test_udp_window_keeps_a_partial_gaussian_where_udp_inside_gives_nothing():
    point = torch.tensor([[[-6.0, 100.0]]])              # 1.5 heatmap px left of the crop
    window, window_weight = encode(point, torch.ones(1, 1), image_size=IMAGE, heatmap_size=HEATMAP)
    inside, inside_weight = encode(point, torch.ones(1, 1), image_size=IMAGE, heatmap_size=HEATMAP,
                                   method="udp_inside")
    assert window_weight.item() == 1 and inside_weight.item() == 0 and inside.abs().max() == 0
    assert 0 < window[0, 0, :, 0].max() < 1                  # the Gaussian's right flank at the border
    far = torch.tensor([[[40.0, 100.0]]])                     # 9.8 px from the centre: outside the 13x13 window
    cut, _ = encode(far, torch.ones(1, 1), image_size=IMAGE, heatmap_size=HEATMAP)
    assert cut[0, 0, 24, 0] == 0 and cut[0, 0, 24, 4] > 0     # truncated at mu - 6 (columns 4..16)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dark_udp_decoding_equals_vitposes(dtype):
    """Noisy Gaussian heatmaps (peaks anywhere, borders included), in heatmap coordinates,
    against `post_dark_udp` (float64: to rounding; float32 as the official code runs: 1e-4 px)."""
    generator = torch.Generator().manual_seed(2)
    points = torch.rand(4, 17, 2, generator=generator) * torch.tensor([191.0, 255.0])
    clean, _ = encode(points, torch.ones(4, 17), image_size=IMAGE, heatmap_size=HEATMAP)
    heatmaps = (clean + 0.05 * torch.randn(clean.shape, generator=generator)).to(dtype)
    heatmaps[0, 0] = -heatmaps[0, 0].abs()                     # a non-positive map: (-1, -1), not refined
    ours, scores = decode(heatmaps, image_size=IMAGE)
    scale_y, scale_x = udp_scale(IMAGE, HEATMAP)
    ours = ours.double() * torch.tensor([scale_x, scale_y], dtype=torch.float64)
    reference, maxvals = official_dark_udp(heatmaps.numpy())
    np.testing.assert_allclose(ours[0, 0].numpy(), [-1.0, -1.0], rtol=0, atol=1e-6)  # via crop coordinates
    keep = torch.ones(4, 17, dtype=torch.bool)
    keep[0, 0] = False
    tolerance = 1e-9 if dtype == torch.float64 else 1e-4
    np.testing.assert_allclose(ours[keep].numpy(), reference[keep.numpy()], rtol=0, atol=tolerance)
    np.testing.assert_allclose(scores.numpy(), maxvals, rtol=0, atol=1e-6)


def test_the_blur_is_cv2s():
    generator = torch.Generator().manual_seed(3)
    maps = torch.rand(2, 3, 20, 15, generator=generator, dtype=torch.float64)
    for kernel in (11, 17, 9):
        expected = np.stack([[cv2_gaussian_blur(m, kernel) for m in person] for person in maps.numpy()])
        np.testing.assert_allclose(gaussian_blur(maps, kernel).numpy(), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="blur_kernel must be an odd"):
        gaussian_blur(maps, 10)


@pytest.mark.parametrize("target, decoding", [("udp_window", "dark_udp"), ("udp_inside", "newton")])
def test_each_method_pair_round_trips(target, decoding):
    """Targets decoded by the matching method land within 0.1 heatmap px of the point, away from
    the border (within the blur's radius of it, its reflection biases DARK-UDP by up to ~0.1 px)."""
    generator = torch.Generator().manual_seed(4)
    points = torch.rand(20, 17, 2, generator=generator) * torch.tensor([128.0, 192.0]) + torch.tensor([32.0, 32.0])
    heatmaps, _ = encode(points, torch.ones(20, 17), image_size=IMAGE, heatmap_size=HEATMAP, method=target)
    decoded, _ = decode(heatmaps, image_size=IMAGE, method=decoding)
    scale_y, scale_x = udp_scale(IMAGE, HEATMAP)
    assert ((decoded - points) * torch.tensor([scale_x, scale_y])).abs().max() < 0.1


def test_unknown_methods_fail_naming_the_choices():
    with pytest.raises(ValueError, match="unknown target method 'gauss'.*udp_window"):
        encode(torch.zeros(1, 1, 2), torch.ones(1, 1), image_size=IMAGE, heatmap_size=HEATMAP, method="gauss")
    with pytest.raises(ValueError, match="unknown decoding method 'argmax'.*dark_udp"):
        decode(torch.zeros(1, 1, 64, 48), image_size=IMAGE, method="argmax")
