"""Keypoint heatmaps with unbiased data processing (UDP; Huang et al., CVPR 2020), as ViTPose uses.

UDP measures image size in pixel spacings, not pixels: an image of width W spans W - 1 unit
lengths, so the image-to-heatmap map is x_h = x * (w - 1) / (W - 1) (not x / stride), and a
horizontal flip is x -> (W - 1) - x in both spaces with no half-pixel shift (§3 of the UDP paper).

- `encode`: a Gaussian of std `sigma` (heatmap pixels) centred on each keypoint's exact,
  sub-pixel heatmap position; weight 0 for keypoints that are not labelled or fall outside.
- `decode`: the argmax of each heatmap, refined to sub-pixel precision by one Newton step on
  the log-heatmap (the Taylor expansion of DARK, Zhang et al., CVPR 2020), which is exact for a
  Gaussian peak; then back to image coordinates.
- `flip_heatmaps`: the heatmaps of the mirrored image, mirrored back with left/right swapped,
  for the flip test (average of both predictions).
"""
from __future__ import annotations

import torch

from .keypoints import FLIP_PAIRS, flip_permutation


def udp_scale(image_size: tuple[int, int], heatmap_size: tuple[int, int]) -> tuple[float, float]:
    """(y, x) factors from image to heatmap coordinates: (h - 1) / (H - 1), (w - 1) / (W - 1)."""
    return ((heatmap_size[0] - 1) / (image_size[0] - 1), (heatmap_size[1] - 1) / (image_size[1] - 1))


def encode(keypoints: torch.Tensor, visible: torch.Tensor, *, image_size: tuple[int, int],
           heatmap_size: tuple[int, int], sigma: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian targets [..., K, h, w] and weights [..., K] for keypoints [..., K, 2] given as
    (x, y) image coordinates of a crop of `image_size` (H, W); `visible` [..., K] > 0 marks
    labelled keypoints (COCO's v = 1 or 2)."""
    scale_y, scale_x = udp_scale(image_size, heatmap_size)
    x = keypoints[..., 0].float() * scale_x
    y = keypoints[..., 1].float() * scale_y
    h, w = heatmap_size
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    weights = ((visible > 0) & inside).float()
    ys = torch.arange(h, dtype=torch.float32, device=keypoints.device)
    xs = torch.arange(w, dtype=torch.float32, device=keypoints.device)
    gauss_y = torch.exp(-((ys - y[..., None]) ** 2) / (2 * sigma ** 2))        # [..., K, h]
    gauss_x = torch.exp(-((xs - x[..., None]) ** 2) / (2 * sigma ** 2))        # [..., K, w]
    heatmaps = gauss_y[..., :, None] * gauss_x[..., None, :]
    return heatmaps * weights[..., None, None], weights


def decode(heatmaps: torch.Tensor, *, image_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints [..., K, 2] as (x, y) image coordinates and scores [..., K] (the peak value)
    from heatmaps [..., K, h, w]."""
    h, w = heatmaps.shape[-2:]
    flat = heatmaps.reshape(*heatmaps.shape[:-2], h * w).float()
    scores, index = flat.max(dim=-1)
    y, x = (index // w).float(), (index % w).float()
    offset = _newton_offset(heatmaps.float(), index // w, index % w)
    scale_y, scale_x = udp_scale(image_size, (h, w))
    points = torch.stack([(x + offset[..., 0]) / scale_x, (y + offset[..., 1]) / scale_y], dim=-1)
    return points, scores


def _newton_offset(heatmaps: torch.Tensor, row: torch.Tensor, col: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """(dx, dy) = -H^-1 g of log(heatmap) at the argmax, from central differences; zero where the
    peak is on the border or the Hessian is not negative definite (no refinement then)."""
    h, w = heatmaps.shape[-2:]
    log = torch.log(heatmaps.clamp_min(eps))
    r, c = row.clamp(1, h - 2), col.clamp(1, w - 2)

    def at(dr: int, dc: int) -> torch.Tensor:
        return log.reshape(*log.shape[:-2], h * w).gather(-1, ((r + dr) * w + (c + dc)).unsqueeze(-1)).squeeze(-1)

    centre = at(0, 0)
    dx, dy = (at(0, 1) - at(0, -1)) / 2, (at(1, 0) - at(-1, 0)) / 2
    dxx = at(0, 1) - 2 * centre + at(0, -1)
    dyy = at(1, 0) - 2 * centre + at(-1, 0)
    dxy = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / 4
    det = dxx * dyy - dxy ** 2
    usable = (row == r) & (col == c) & (dxx < 0) & (det > 0)
    safe = torch.where(usable, det, torch.ones_like(det))
    offset_x = -(dyy * dx - dxy * dy) / safe
    offset_y = -(dxx * dy - dxy * dx) / safe
    offset = torch.stack([offset_x, offset_y], dim=-1).clamp(-1, 1)
    return torch.where(usable[..., None], offset, torch.zeros_like(offset))


def flip_heatmaps(heatmaps: torch.Tensor, pairs=FLIP_PAIRS) -> torch.Tensor:
    """Heatmaps [..., K, h, w] predicted on a horizontally flipped crop, mapped back to the
    original crop: mirrored (x -> w - 1 - x, exact under UDP) and left/right keypoints swapped."""
    order = flip_permutation(heatmaps.shape[-3], pairs)
    return heatmaps.flip(-1)[..., order, :, :]
