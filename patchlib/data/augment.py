"""Batched augmentation and batching of in-memory uint8 images, on CPU or GPU alike.

`random_crop_flip` is the standard CIFAR recipe (pad 4, random 32x32 crop, horizontal flip;
He et al., 2016, "Deep Residual Learning for Image Recognition", Sec. 4.2) done for the whole
batch with one gather instead of a per-image loop. RandAugment (Cubuk et al., 2020) comes in two
forms with the same ops:

- `rand_augment`: torchvision's `RandAugment`, image by image on the CPU, drawing from torch's
  global RNG (the cpu profile's records use it; slow: ~0.2 ms per 32-px image on one core);
- `rand_augment_batched`: the draws of a whole batch at once (`draw_rand_augment`), the batch grouped
  by drawn op and sign, each op applied to its group in one call on the images' device (a GPU's:
  no per-image loop, no host synchronisation). Every op equals torchvision's op on each image at
  the same magnitude, exactly on a CPU (tests/test_augment_batched.py): the geometric ops as a
  gather through the source-pixel map torchvision's own nearest-neighbour warp gives (exact on any
  device), the colour ops with torchvision's kernels on the group (on a GPU, float arithmetic in
  another order, e.g. the contrast op's mean, may move a pixel by one grey level; not yet checked
  on one). The draws differ from torchvision's (a whole batch at once, from the given generator),
  their distribution does not.

`AUGMENTATIONS` names every recipe a training config can ask for, `apply_augmentation` runs one.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision.transforms.v2 as transforms
import torchvision.transforms.v2.functional as TF

from .cache import ImageData
from .recipes import AUGMENTATIONS

# Per-channel mean and std of the CIFAR-10 training pixels in [0, 1] (std over all pixels; the
# often-quoted (0.2023, 0.1994, 0.2010) is the mean of per-image stds instead).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def _random(generator: torch.Generator | None, device: torch.device, draw) -> torch.Tensor:
    """Draw with `generator` (on its own device, for reproducibility) and move to `device`."""
    generator_device = generator.device if generator is not None else device
    return to_device(draw(generator_device), device)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` on `device`; a CPU tensor goes to a GPU through pinned memory without blocking, so
    that the host never waits for the GPU's queue (a plain copy would synchronise with it)."""
    if tensor.device.type == "cpu" and torch.device(device).type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


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


# ---- RandAugment, batched ----

# torchvision 0.28's RandAugment space (torchvision/transforms/v2/_auto_augment.py,
# `RandAugment._AUGMENTATION_SPACE`), in its order: op -> (its magnitudes over `bins` bins for an
# image of height h and width w, or None; whether a draw negates the magnitude with p = 0.5).
RANDAUGMENT_SPACE: dict[str, tuple[Callable[[int, int, int], torch.Tensor] | None, bool]] = {
    "Identity": (None, False),
    "ShearX": (lambda bins, h, w: torch.linspace(0.0, 0.3, bins), True),
    "ShearY": (lambda bins, h, w: torch.linspace(0.0, 0.3, bins), True),
    "TranslateX": (lambda bins, h, w: torch.linspace(0.0, 150.0 / 331.0 * w, bins), True),
    "TranslateY": (lambda bins, h, w: torch.linspace(0.0, 150.0 / 331.0 * h, bins), True),
    "Rotate": (lambda bins, h, w: torch.linspace(0.0, 30.0, bins), True),
    "Brightness": (lambda bins, h, w: torch.linspace(0.0, 0.9, bins), True),
    "Color": (lambda bins, h, w: torch.linspace(0.0, 0.9, bins), True),
    "Contrast": (lambda bins, h, w: torch.linspace(0.0, 0.9, bins), True),
    "Sharpness": (lambda bins, h, w: torch.linspace(0.0, 0.9, bins), True),
    "Posterize": (lambda bins, h, w: (8 - (torch.arange(bins) / ((bins - 1) / 4))).round().int(), False),
    "Solarize": (lambda bins, h, w: torch.linspace(1.0, 0.0, bins), False),
    "AutoContrast": (None, False),
    "Equalize": (None, False),
}
RANDAUGMENT_OPS = tuple(RANDAUGMENT_SPACE)
RANDAUGMENT_BINS = 31  # torchvision's num_magnitude_bins
GEOMETRIC_OPS = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")


def randaugment_magnitude(op: str, magnitude: int, height: int, width: int, *, negative: bool = False,
                          bins: int = RANDAUGMENT_BINS) -> float:
    """The value torchvision's RandAugment passes to `op` at magnitude bin `magnitude` (negated for
    a signed op when `negative`); 0.0 for the ops without a magnitude."""
    if op not in RANDAUGMENT_SPACE:
        raise ValueError(f"unknown RandAugment op {op!r}; use one of {', '.join(RANDAUGMENT_OPS)}")
    magnitudes, signed = RANDAUGMENT_SPACE[op]
    if magnitudes is None:
        return 0.0
    value = float(magnitudes(bins, height, width)[magnitude])
    return -value if signed and negative else value


def randaugment_op(images: torch.Tensor, op: str, value: float) -> torch.Tensor:
    """torchvision RandAugment's `op` at `value` (`randaugment_magnitude`) on every image of a uint8
    batch [B, C, H, W], on its device; the ops as torchvision's `_apply_image_or_video_transform`
    (nearest-neighbour warps, zero fill) calls them."""
    if op == "Identity":
        return images
    if op in GEOMETRIC_OPS:
        return _warp(images, op, value)
    if op == "Brightness":
        return TF.adjust_brightness(images, brightness_factor=1.0 + value)
    if op == "Color":
        return TF.adjust_saturation(images, saturation_factor=1.0 + value)
    if op == "Contrast":
        return TF.adjust_contrast(images, contrast_factor=1.0 + value)
    if op == "Sharpness":
        return _adjust_sharpness(images, 1.0 + value)
    if op == "Posterize":
        return TF.posterize(images, bits=int(value))
    if op == "Solarize":
        return TF.solarize(images, threshold=255.0 * value)
    if op == "AutoContrast":
        return _autocontrast(images)
    if op == "Equalize":
        return TF.equalize(images)
    raise ValueError(f"unknown RandAugment op {op!r}; use one of {', '.join(RANDAUGMENT_OPS)}")


_SOURCE_MAPS: dict[tuple, torch.Tensor] = {}  # (op, value, H, W, device) -> int64 [H * W]


def _source_map(op: str, value: float, height: int, width: int, device: torch.device) -> torch.Tensor:
    """For each output pixel of torchvision's nearest-neighbour warp `op` at `value`, 1 + the index of
    the input pixel it copies, or 0 where it fills with zero: torchvision's own warp applied once (on
    the CPU) to an image whose pixels hold their 1-based index, cached per device."""
    key = (op, value, height, width, str(device))
    if key not in _SOURCE_MAPS:
        index = torch.arange(1, height * width + 1, dtype=torch.float32).reshape(1, 1, height, width)
        nearest = transforms.InterpolationMode.NEAREST
        if op == "Rotate":
            warped = TF.rotate(index, angle=value, interpolation=nearest, fill=None)
        else:
            shear = {"ShearX": [math.degrees(math.atan(value)), 0.0],
                     "ShearY": [0.0, math.degrees(math.atan(value))]}.get(op, [0.0, 0.0])
            translate = {"TranslateX": [int(value), 0], "TranslateY": [0, int(value)]}.get(op, [0, 0])
            center = [0, 0] if op in ("ShearX", "ShearY") else None
            warped = TF.affine(index, angle=0.0, translate=translate, scale=1.0, shear=shear,
                               interpolation=nearest, fill=None, center=center)
        _SOURCE_MAPS[key] = to_device(warped.flatten().long(), device)
    return _SOURCE_MAPS[key]


def _warp(images: torch.Tensor, op: str, value: float) -> torch.Tensor:
    """A geometric op as one gather through its `_source_map`."""
    batch, channels, height, width = images.shape
    source = _source_map(op, value, height, width, images.device)                  # [H*W], 0: fill
    flat = F.pad(images.reshape(batch, channels, height * width), (1, 0))           # [B, C, 1 + H*W], zero first
    return flat[:, :, source].reshape(batch, channels, height, width)


_SHARPNESS_KERNELS: dict[str, torch.Tensor] = {}


def _adjust_sharpness(images: torch.Tensor, factor: float) -> torch.Tensor:
    """torchvision's `adjust_sharpness_image` for uint8 [B, 3, H, W] (PIL's smoothing kernel, border
    kept), with its kernel cached per device instead of built from a Python list at every call
    (a blocking host-to-GPU copy)."""
    channels, height, width = images.shape[-3:]
    if height <= 2 or width <= 2:
        return images
    key = str(images.device)
    if key not in _SHARPNESS_KERNELS:
        a, b = 1.0 / 13.0, 5.0 / 13.0
        kernel = torch.tensor([[a, a, a], [a, b, a], [a, a, a]], dtype=torch.float32)
        _SHARPNESS_KERNELS[key] = to_device(kernel, images.device)
    kernel = _SHARPNESS_KERNELS[key].expand(channels, 1, 3, 3)
    output = images.to(dtype=torch.float32, copy=True)
    blurred = F.conv2d(output, kernel, groups=channels).round_()
    view = output[..., 1:-1, 1:-1]
    view.add_(blurred.sub_(view), alpha=1.0 - factor)
    return output.clamp_(0, 255).to(images.dtype)


def _autocontrast(images: torch.Tensor) -> torch.Tensor:
    """torchvision's `autocontrast_image` for uint8 (each channel stretched to 0..255; a flat
    channel kept), with `torch.where` for its boolean-mask assignments (which would synchronise a GPU)."""
    x = images.to(torch.float32)
    minimum = x.amin(dim=(-2, -1), keepdim=True)
    maximum = x.amax(dim=(-2, -1), keepdim=True)
    flat = maximum == minimum
    inverse_scale = torch.where(flat, 1.0, (maximum - minimum) * (1.0 / 255))
    minimum = torch.where(flat, 0.0, minimum)
    return x.sub_(minimum).div_(inverse_scale).clamp_(0, 255).to(images.dtype)


@dataclass(frozen=True)
class RandAugmentDraws:
    """The random choices of RandAugment for a batch: per op slot and image, the op (an index into
    RANDAUGMENT_OPS) and whether its magnitude is negated (used by signed ops only)."""

    ops: torch.Tensor        # int64 [num_ops, B]
    negative: torch.Tensor   # bool [num_ops, B]


def draw_rand_augment(batch: int, num_ops: int = 2, generator: torch.Generator | None = None) -> RandAugmentDraws:
    """RandAugment's choices for `batch` images, with torchvision's distribution (each slot's op
    uniform over RANDAUGMENT_OPS, Identity included; a signed op negated with p = 0.5), drawn at once
    on the CPU from `generator` (torch's global RNG without it): the grouping reads them there."""
    if generator is not None and generator.device.type != "cpu":
        raise ValueError(f"draw_rand_augment needs a CPU generator (the grouping happens on the host), "
                         f"got one on {generator.device}")
    ops = torch.randint(len(RANDAUGMENT_OPS), (num_ops, batch), generator=generator)
    negative = torch.rand(num_ops, batch, generator=generator) <= 0.5
    return RandAugmentDraws(ops, negative)


_SIGNED = torch.tensor([signed for _, signed in RANDAUGMENT_SPACE.values()])


def rand_augment_batched(images: torch.Tensor, num_ops: int = 2, magnitude: int = 9, *,
                         generator: torch.Generator | None = None, draws: RandAugmentDraws | None = None,
                         ) -> torch.Tensor:
    """RandAugment on a uint8 batch [B, C, H, W] on its own device (see the module docstring): per op
    slot, the images are sorted by (drawn op, sign), each group goes through `randaugment_op` in one
    call, and the results are put back in order. `draws` (else `draw_rand_augment` from `generator`)
    fixes the choices. Equal in distribution to `rand_augment`, not draw for draw: torchvision draws
    image by image from the global RNG."""
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"rand_augment_batched takes uint8 images [B, C, H, W], got {images.dtype} "
                         f"{tuple(images.shape)}")
    if not isinstance(magnitude, int) or not 0 <= magnitude < RANDAUGMENT_BINS:
        raise ValueError(f"magnitude must be an int in 0..{RANDAUGMENT_BINS - 1}, got {magnitude!r}")
    batch, _, height, width = images.shape
    draws = draws if draws is not None else draw_rand_augment(batch, num_ops, generator)
    if draws.ops.shape != (num_ops, batch) or draws.negative.shape != (num_ops, batch):
        raise ValueError(f"draws must be [num_ops, B] = [{num_ops}, {batch}], got {tuple(draws.ops.shape)}")
    for ops, negative in zip(draws.ops.cpu(), draws.negative.cpu()):
        group = ops * 2 + (negative & _SIGNED[ops])                                 # [B]: (op, sign) per image
        order = torch.argsort(group, stable=True)                                   # images sorted by group
        counts = torch.bincount(group, minlength=2 * len(RANDAUGMENT_OPS)).tolist()  # host tensor: no GPU sync
        sorted_images = images.index_select(0, to_device(order, images.device))
        pieces, start = [], 0
        for key, count in enumerate(counts):
            if count:
                op = RANDAUGMENT_OPS[key // 2]
                value = randaugment_magnitude(op, magnitude, height, width, negative=bool(key % 2))
                pieces.append(randaugment_op(sorted_images[start:start + count], op, value))
                start += count
        inverse = torch.argsort(order)                                              # back to the batch's order
        images = torch.cat(pieces).index_select(0, to_device(inverse, images.device))
    return images


# ---- the named recipes ----

# The recipes' names and descriptions live in `recipes` (records and prose read them too).


def apply_augmentation(images: torch.Tensor, augment: str, generator: torch.Generator) -> torch.Tensor:
    """A uint8 batch [B, C, H, W] through the named augmentation (AUGMENTATIONS), on the images' device.

    The crop and flip draw from `generator`; RandAugment from torch's global RNG ("randaugment",
    "flip_randaugment_m12": torchvision on the CPU, as the cpu profile's records were computed) or
    from `generator` (the "_batched" recipes, on any device).
    """
    if augment not in AUGMENTATIONS:
        raise ValueError(f"unknown augment {augment!r}; use one of {', '.join(AUGMENTATIONS)}")
    if augment in ("randaugment", "flip_randaugment_m12") and images.device.type != "cpu":
        raise ValueError(f"augment {augment!r} runs torchvision's RandAugment image by image on the CPU, but the "
                         f"images are on {images.device}: augment before moving them, or use "
                         f"{augment + '_batched'!r}")
    if augment == "randaugment":
        images = rand_augment(images)
    elif augment == "randaugment_batched":
        images = rand_augment_batched(images, generator=generator)
    if augment in ("randaugment", "randaugment_batched", "crop_flip"):
        images = random_crop_flip(images, padding=4, generator=generator)
    if augment == "flip_randaugment_m12":  # a zero-padding crop is a flip only
        images = rand_augment(random_crop_flip(images, padding=0, generator=generator), num_ops=2, magnitude=12)
    elif augment == "flip_randaugment_m12_batched":
        images = rand_augment_batched(random_crop_flip(images, padding=0, generator=generator), num_ops=2,
                                      magnitude=12, generator=generator)
    return images


def augment_to_device(images: torch.Tensor, augment: str, generator: torch.Generator,
                      device: torch.device) -> torch.Tensor:
    """A uint8 batch through the named augmentation, delivered on `device`: the per-image recipes
    run on the CPU and are then copied, the others are copied first and run on `device` (a GPU's
    copies go through pinned memory without blocking, `to_device`). On a CPU device, exactly
    `apply_augmentation` of the batch."""
    if augment in ("randaugment", "flip_randaugment_m12"):
        return to_device(apply_augmentation(images.cpu(), augment, generator), device)
    return apply_augmentation(to_device(images, device), augment, generator)


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
