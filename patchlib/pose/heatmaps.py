"""Keypoint heatmaps with unbiased data processing (UDP; Huang et al., CVPR 2020), as ViTPose uses.

UDP measures image size in pixel spacings, not pixels: an image of width W spans W - 1 unit
lengths, so the image-to-heatmap map is x_h = x * (w - 1) / (W - 1) (not x / stride), and a
horizontal flip is x -> (W - 1) - x in both spaces with no half-pixel shift (§3 of the UDP paper).

- `encode`: a Gaussian of std `sigma` (heatmap pixels) centred on each keypoint's exact,
  sub-pixel heatmap position, by one of two methods (`TARGETS`):
  "udp_window", ViTPose's (`_udp_generate_target` in mmpose's `top_down_transform.py`): the
  Gaussian is cut to the (6 sigma + 1)-pixel square window around the keypoint's rounded position
  (13x13 for sigma 2), and a labelled keypoint keeps weight 1 unless its whole window lies off the
  heatmap, so keypoints just outside the crop train a partial Gaussian at the border;
  "udp_inside": the Gaussian untruncated, weight 0 for keypoints outside the heatmap.
- `decode`: the argmax of each heatmap (its value is the score), refined to sub-pixel precision
  by one Newton step on the log-heatmap (the Taylor expansion of DARK, Zhang et al., CVPR 2020),
  by one of two methods (`DECODINGS`): "dark_udp", ViTPose's (`post_dark_udp` in mmpose's
  `top_down_eval.py`, the path `keypoints_from_heatmaps` takes with `use_udp=True`): the heatmap
  is first blurred with cv2's Gaussian kernel of size `blur_kernel` (11; sigma 2), clipped to
  [0.001, 50] and its log taken; "newton": no blur, and no step where the peak is on the border
  or the Hessian is not negative definite (steps clamped to one pixel). Then back to crop coordinates.
- `flip_heatmaps`: the heatmaps of the mirrored image, mirrored back with left/right swapped,
  for the flip test (average of both predictions).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .keypoints import FLIP_PAIRS, flip_permutation

TARGETS = ("udp_window", "udp_inside")      # ViTPose's targets; the untruncated Gaussian, inside only
DECODINGS = ("dark_udp", "newton")          # ViTPose's decoding; the Newton step without blur
# cv2's fixed kernels for sizes up to 7 with sigma 0 (`getGaussianKernel`, small_gaussian_tab).
_CV2_SMALL_KERNELS = {1: (1.0,), 3: (0.25, 0.5, 0.25), 5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
                      7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125)}


def udp_scale(image_size: tuple[int, int], heatmap_size: tuple[int, int]) -> tuple[float, float]:
    """(y, x) factors from image to heatmap coordinates: (h - 1) / (H - 1), (w - 1) / (W - 1)."""
    return ((heatmap_size[0] - 1) / (image_size[0] - 1), (heatmap_size[1] - 1) / (image_size[1] - 1))


def encode(keypoints: torch.Tensor, visible: torch.Tensor, *, image_size: tuple[int, int],
           heatmap_size: tuple[int, int], sigma: float = 2.0,
           method: str = "udp_window") -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian targets [..., K, h, w] (float32) and weights [..., K] for keypoints [..., K, 2]
    given as (x, y) image coordinates of a crop of `image_size` (H, W); `visible` [..., K] > 0
    marks labelled keypoints (COCO's v = 1 or 2). `method`: see `TARGETS`."""
    if method == "udp_window":
        return _encode_window(keypoints, visible, image_size=image_size, heatmap_size=heatmap_size, sigma=sigma)
    if method != "udp_inside":
        raise ValueError(f"unknown target method {method!r}; use one of {', '.join(TARGETS)}")
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


def _encode_window(keypoints, visible, *, image_size, heatmap_size, sigma):
    """ViTPose's `_udp_generate_target` (GaussianHeatmap), vectorised. Per keypoint, in heatmap
    pixels: mu = int(x / stride + 0.5) (truncated toward zero, as Python's int), the window
    [int(mu - 3 sigma), int(mu + 3 sigma + 1)) in x and y; weight 0 if the window lies wholly off
    the heatmap, else the visibility; inside the window, exp(-d^2 / (2 sigma^2)) with d the distance
    to the exact position x / stride. Computed in float64 as numpy does, returned as float32."""
    h, w = heatmap_size
    radius = 3 * sigma
    window = math.ceil(2 * radius + 1)                                   # np.arange(0, 2 * radius + 1) points
    weights = (visible > 0).to(torch.float64)                            # [..., K]
    axes = []
    for axis, size, image in ((0, w, image_size[1]), (1, h, image_size[0])):
        stride = (image - 1.0) / (size - 1.0)                            # feat_stride (UDP)
        exact = keypoints[..., axis].to(torch.float64) / stride           # [..., K]
        rounded = torch.trunc(exact + 0.5)
        start, stop = torch.trunc(rounded - radius), torch.trunc(rounded + radius + 1)
        weights = weights * ~((start >= size) | (stop < 0))
        centre = (2 * radius + 1) // 2 + (exact - rounded)                # the peak in window coordinates
        pixels = torch.arange(size, dtype=torch.float64, device=keypoints.device)
        offset = pixels - start[..., None]                                # [..., K, size]: window coordinate
        inside = (pixels >= start[..., None]) & (pixels < stop[..., None]) & (offset >= 0) & (offset < window)
        axes.append(torch.exp(-(offset - centre[..., None]) ** 2 / (2 * sigma ** 2)) * inside)
    gauss_x, gauss_y = axes
    heatmaps = gauss_y[..., :, None] * gauss_x[..., None, :] * weights[..., None, None]   # [..., K, h, w]
    return heatmaps.float(), weights.float()


def decode(heatmaps: torch.Tensor, *, image_size: tuple[int, int], method: str = "dark_udp",
           blur_kernel: int = 11) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints [..., K, 2] as (x, y) crop coordinates and scores [..., K] (the peak value)
    from heatmaps [..., K, h, w]. `method`: see `DECODINGS`; `blur_kernel` is "dark_udp"'s."""
    if method == "dark_udp":
        return _decode_dark_udp(heatmaps, image_size=image_size, kernel=blur_kernel)
    if method != "newton":
        raise ValueError(f"unknown decoding method {method!r}; use one of {', '.join(DECODINGS)}")
    h, w = heatmaps.shape[-2:]
    flat = heatmaps.reshape(*heatmaps.shape[:-2], h * w).float()
    scores, index = flat.max(dim=-1)
    y, x = (index // w).float(), (index % w).float()
    offset = _newton_offset(heatmaps.float(), index // w, index % w)
    scale_y, scale_x = udp_scale(image_size, (h, w))
    points = torch.stack([(x + offset[..., 0]) / scale_x, (y + offset[..., 1]) / scale_y], dim=-1)
    return points, scores


def _decode_dark_udp(heatmaps: torch.Tensor, *, image_size: tuple[int, int], kernel: int):
    """mmpose's `_get_max_preds` then `post_dark_udp`, in float64: argmax and peak value; blur,
    clip to [0.001, 50], log, edge padding; gradient g and Hessian H by the official finite
    differences (its own mixed term); position - (H + eps I)^-1 g, eps = float32's epsilon. A
    non-positive peak is put at (-1, -1) of the heatmap, as officially, but not refined (the
    official step there reads the padding and a neighbouring map); a singular H takes no step.
    Returns float32 (float64 for float64 heatmaps)."""
    h, w = heatmaps.shape[-2:]
    values = heatmaps.detach().to(torch.float64)
    flat = values.reshape(*values.shape[:-2], h * w)                           # [..., K, h*w]
    scores, index = flat.max(dim=-1)
    x, y = (index % w).to(torch.float64), (index // w).to(torch.float64)
    log = torch.log(gaussian_blur(values, kernel).clamp(0.001, 50))
    padded = F.pad(log.reshape(-1, 1, h, w), (1, 1, 1, 1), mode="replicate").reshape(*values.shape[:-2], -1)
    centre = (index // w + 1) * (w + 2) + (index % w + 1)                      # [..., K] in the padded map

    def at(dy: int, dx: int) -> torch.Tensor:
        return padded.gather(-1, (centre + dy * (w + 2) + dx).unsqueeze(-1)).squeeze(-1)

    mid = at(0, 0)
    gx, gy = 0.5 * (at(0, 1) - at(0, -1)), 0.5 * (at(1, 0) - at(-1, 0))
    dxx = at(0, 1) - 2 * mid + at(0, -1)
    dyy = at(1, 0) - 2 * mid + at(-1, 0)
    dxy = 0.5 * (at(1, 1) - at(0, 1) - at(1, 0) + 2 * mid - at(0, -1) - at(-1, 0) + at(-1, -1))
    eps = torch.finfo(torch.float32).eps
    a, d = dxx + eps, dyy + eps
    det = a * d - dxy * dxy
    step = det != 0
    safe = torch.where(step, det, torch.ones_like(det))
    x = x - torch.where(step, (d * gx - dxy * gy) / safe, 0.0)
    y = y - torch.where(step, (a * gy - dxy * gx) / safe, 0.0)
    positive = scores > 0
    x, y = torch.where(positive, x, -1.0), torch.where(positive, y, -1.0)
    scale_y, scale_x = udp_scale(image_size, (h, w))
    points = torch.stack([x / scale_x, y / scale_y], dim=-1)
    dtype = torch.float64 if heatmaps.dtype == torch.float64 else torch.float32      # float64 in, float64 out
    return points.to(dtype), scores.to(dtype)


def gaussian_blur(heatmaps: torch.Tensor, kernel: int = 11) -> torch.Tensor:
    """cv2.GaussianBlur(map, (kernel, kernel), 0) of each map [..., h, w]: cv2's kernel for sigma 0
    (sigma = 0.3 ((kernel - 1) / 2 - 1) + 0.8, 2 for 11; fixed tables up to 7) and its default
    border, BORDER_REFLECT_101 (torch's "reflect")."""
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"blur_kernel must be an odd positive int (cv2's ksize), got {kernel!r}")
    h, w = heatmaps.shape[-2:]
    radius = kernel // 2
    if radius >= min(h, w):
        raise ValueError(f"a blur kernel of {kernel} needs heatmaps larger than {radius} pixels, got {h}x{w}")
    if kernel in _CV2_SMALL_KERNELS:
        weights = torch.tensor(_CV2_SMALL_KERNELS[kernel], dtype=heatmaps.dtype, device=heatmaps.device)
    else:
        sigma = 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8
        taps = torch.arange(kernel, dtype=torch.float64, device=heatmaps.device) - radius
        weights = torch.exp(-taps ** 2 / (2 * sigma ** 2))
        weights = (weights / weights.sum()).to(heatmaps.dtype)
    maps = F.pad(heatmaps.reshape(-1, 1, h, w), (radius, radius, radius, radius), mode="reflect")
    maps = F.conv2d(maps, weights.view(1, 1, 1, kernel))                       # rows
    maps = F.conv2d(maps, weights.view(1, 1, kernel, 1))                       # columns
    return maps.reshape(heatmaps.shape)


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
