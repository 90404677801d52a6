"""Batched augmentation and batching of in-memory uint8 images, on CPU or GPU alike.

`random_crop_flip` is the standard CIFAR recipe (pad 4, random 32x32 crop, horizontal flip;
He et al., 2016, "Deep Residual Learning for Image Recognition", Sec. 4.2) done for the whole
batch with one gather instead of a per-image loop. `rand_augment` wraps torchvision's
RandAugment (Cubuk et al., 2020), which works image by image and is therefore much slower.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torchvision.transforms.v2 as transforms

from .cache import ImageData

# Per-channel mean and std of the CIFAR-10 training pixels in [0, 1] (std over all pixels; the
# often-quoted (0.2023, 0.1994, 0.2010) is the mean of per-image stds instead).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def _random(generator: torch.Generator | None, device: torch.device, draw) -> torch.Tensor:
    """Draw with `generator` (on its own device, for reproducibility) and move to `device`."""
    generator_device = generator.device if generator is not None else device
    return draw(generator_device).to(device)


def random_crop_flip(images: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per image: a random HxW crop of the zero-padded image and a horizontal flip with p = 0.5.

    images: [B, C, H, W] of any dtype (uint8 or float), on any device; returns the same shape,
    dtype and device. Deterministic for a seeded `generator`.
    """
    batch, _, height, width = images.shape
    device = images.device
    shifts = _random(generator, device,
                     lambda d: torch.randint(0, 2 * padding + 1, (2, batch), generator=generator, device=d))
    shift_y, shift_x = shifts                                                          # [B] each, in 0..2p
    flip = _random(generator, device, lambda d: torch.rand(batch, generator=generator, device=d) < 0.5)
    padded = torch.nn.functional.pad(images, (padding, padding, padding, padding))   # [B, C, H+2p, W+2p]
    rows = shift_y[:, None] + torch.arange(height, device=device)                     # [B, H]
    columns = torch.arange(width, device=device).expand(batch, width)                 # [B, W]
    columns = shift_x[:, None] + torch.where(flip[:, None], columns.flip(1), columns)
    batch_index = torch.arange(batch, device=device)[:, None, None]
    # advanced indices around the channel slice put their broadcast shape first: [B, H, W, C]
    crops = padded[batch_index, :, rows[:, :, None], columns[:, None, :]]
    return crops.permute(0, 3, 1, 2).contiguous()                                     # [B, C, H, W]


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Float images (x - mean) / std per channel; uint8 input is first scaled to [0, 1],
    float input is assumed to be in [0, 1] already. mean/std are in [0, 1] units."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device)[:, None, None]
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device)[:, None, None]
    return (x - mean) / std


def rand_augment(images: torch.Tensor, num_ops: int = 2, magnitude: int = 9,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """torchvision's RandAugment applied to each uint8 image [B, C, H, W] separately.

    Slow (a Python loop over images: roughly milliseconds per image), unlike `random_crop_flip`.
    RandAugment draws from torch's global RNG; with a `generator`, the global RNG is seeded from it
    inside a forked RNG state, so the result is deterministic and the caller's state untouched.
    """
    augment = transforms.RandAugment(num_ops=num_ops, magnitude=magnitude)
    if generator is None:
        return torch.stack([augment(image) for image in images])
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    devices = [images.device] if images.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return torch.stack([augment(image) for image in images])


def iterate_batches(data: ImageData, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None,
                    drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images uint8 [b, C, H, W], labels int64 [b]) batches indexed from the in-memory tensors.

    shuffle=True draws a permutation with `generator` (deterministic when it is seeded).
    drop_last=True skips a final partial batch.
    """
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        index = order[start:start + batch_size].to(data.images.device)
        yield data.images[index], data.labels[index]


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images [N, C, H, W], in [0, 1] units."""
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    for start in range(0, len(images), chunk):
        x = images[start:start + chunk].to(torch.float64) / 255
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).sqrt()
    return mean.tolist(), std.tolist()
