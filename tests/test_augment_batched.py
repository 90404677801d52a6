"""Batched RandAugment (patchlib.data.augment.rand_augment_batched) against torchvision's RandAugment
image by image: every op at the same magnitude, the op table, whole batches with given draws, the
draws' distribution, and the named recipes (the cpu profile's unchanged)."""
from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2 as transforms

from patchlib.data.augment import (AUGMENTATIONS, RANDAUGMENT_BINS, RANDAUGMENT_OPS, RANDAUGMENT_SPACE,
                                   RandAugmentDraws, apply_augmentation, augment_to_device, draw_rand_augment,
                                   rand_augment, rand_augment_batched, randaugment_magnitude, randaugment_op,
                                   random_crop_flip)

TORCHVISION = transforms.RandAugment()


def torchvision_op(image: torch.Tensor, op: str, value: float) -> torch.Tensor:
    """torchvision's own per-image dispatch of a RandAugment op (what `RandAugment.forward` calls)."""
    return TORCHVISION._apply_image_or_video_transform(image, op, value, interpolation=TORCHVISION.interpolation,
                                                        fill=TORCHVISION._fill)


def sample_images(size: int, count: int = 12, seed: int = 0) -> torch.Tensor:
    """Random uint8 images plus the edge cases of the colour ops: a flat image (autocontrast keeps
    it, equalize has no histogram to spread), a half-black one and a two-level one."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (count, 3, size, size), generator=generator, dtype=torch.uint8)
    images[0] = 77
    images[1, :, :, : size // 2] = 0
    images[2] = torch.where(images[2] > 128, 200, 40).to(torch.uint8)
    return images


@pytest.mark.parametrize("op", RANDAUGMENT_OPS)
def test_every_op_on_a_batch_equals_torchvision_per_image(op):
    """Exact on the CPU for every op, size (CIFAR's 32 px, FlexiViT's 48 px), magnitude and sign."""
    for size in (32, 48):
        images = sample_images(size)
        for magnitude in (9, 12, RANDAUGMENT_BINS - 1):
            for negative in (False, True):
                value = randaugment_magnitude(op, magnitude, size, size, negative=negative)
                expected = torch.stack([torchvision_op(image, op, value) for image in images])
                assert torch.equal(randaugment_op(images, op, value), expected), (op, size, magnitude, negative)


def test_the_op_table_is_torchvision_s():
    assert RANDAUGMENT_OPS == tuple(TORCHVISION._AUGMENTATION_SPACE)
    for op, (magnitudes, signed) in TORCHVISION._AUGMENTATION_SPACE.items():
        ours, our_signed = RANDAUGMENT_SPACE[op]
        assert our_signed == signed, op
        for height, width in ((32, 32), (48, 40)):
            theirs = magnitudes(RANDAUGMENT_BINS, height, width)
            if theirs is None:
                assert ours is None, op
            else:
                assert torch.equal(ours(RANDAUGMENT_BINS, height, width), theirs), op


def test_a_batch_with_given_draws_equals_torchvision_image_by_image():
    """Two op slots whose draws cover every (op, sign) pair: the batch, regrouped per slot, equals
    each image sent through its two drawn ops in turn by torchvision."""
    n = len(RANDAUGMENT_OPS)
    first = torch.arange(2 * n) % n
    ops = torch.stack([first, first.roll(5)])                                      # [2, 2n]
    negative = torch.stack([torch.arange(2 * n) >= n, torch.arange(2 * n) % 2 == 0])
    images = sample_images(32, count=2 * n, seed=1)
    batched = rand_augment_batched(images, num_ops=2, magnitude=9, draws=RandAugmentDraws(ops, negative))
    for i, image in enumerate(images):
        for slot in range(2):
            op = RANDAUGMENT_OPS[ops[slot, i]]
            image = torchvision_op(image, op, randaugment_magnitude(op, 9, 32, 32, negative=bool(negative[slot, i])))
        assert torch.equal(batched[i], image), i


def test_the_draws_follow_torchvision_s_distribution_and_a_seed():
    draws = draw_rand_augment(14_000, num_ops=2, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(draws.ops.flatten(), minlength=len(RANDAUGMENT_OPS))
    assert counts.min() > 1800 and counts.max() < 2200  # 2000 expected per op (Identity included)
    assert 0.48 < draws.negative.float().mean() < 0.52
    images = sample_images(32)
    again = [rand_augment_batched(images, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(again[0], again[1]) and not torch.equal(again[0], images)
    with pytest.raises(ValueError, match="magnitude"):
        rand_augment_batched(images, magnitude=31)
    with pytest.raises(ValueError, match="uint8"):
        rand_augment_batched(images.float())


def test_the_cpu_profile_s_recipes_are_unchanged():
    """The recipes the committed cpu records used draw what `patchlib.train` drew before the batched
    ones existed: torchvision per image from the global RNG, then the crop and flip from the stream."""
    images = sample_images(32)
    for name, expected in {
        "none": lambda g: images,
        "crop_flip": lambda g: random_crop_flip(images, padding=4, generator=g),
        "randaugment": lambda g: random_crop_flip(rand_augment(images), padding=4, generator=g),
        "flip_randaugment_m12": lambda g: rand_augment(random_crop_flip(images, padding=0, generator=g), num_ops=2,
                                                       magnitude=12),
    }.items():
        torch.manual_seed(5)
        reference = expected(torch.Generator().manual_seed(2))
        torch.manual_seed(5)
        assert torch.equal(apply_augmentation(images, name, torch.Generator().manual_seed(2)), reference), name


def test_the_batched_recipes_and_the_refusals():
    images = sample_images(32)
    for name in ("randaugment_batched", "flip_randaugment_m12_batched"):
        assert name in AUGMENTATIONS
        out = apply_augmentation(images, name, torch.Generator().manual_seed(0))
        assert out.shape == images.shape and out.dtype == torch.uint8
        assert torch.equal(out, apply_augmentation(images, name, torch.Generator().manual_seed(0)))
        on_cpu = augment_to_device(images, name, torch.Generator().manual_seed(0), torch.device("cpu"))
        assert torch.equal(on_cpu, out)  # what training gets on a CPU device
    with pytest.raises(ValueError, match="unknown augment"):
        apply_augmentation(images, "randaugment_gpu", torch.Generator())
    with pytest.raises(ValueError, match="randaugment_batched"):  # torchvision's per-image path is CPU only
        apply_augmentation(images.to("meta"), "randaugment", torch.Generator())
