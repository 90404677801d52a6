"""The named augmentation recipes a training config can ask for (`TrainConfig.augment`), with the
description a chapter prints: data only, so the book's prose can name a record's recipe without
importing the code that runs it (`patchlib.data.augment.apply_augmentation`)."""

# Every augmentation a training config can name (`patchlib.train.TrainConfig.augment`). The
# "_batched" recipes differ from their namesakes only in how RandAugment runs (`rand_augment_batched`
# on the images' device, drawing from the augmentation stream, instead of torchvision image by image
# on the CPU from the global RNG): the same ops and distribution, other draws.
AUGMENTATIONS = {
    "none": "no augmentation",
    "crop_flip": "pad-4 random crop and horizontal flip",
    "randaugment": "RandAugment (2 ops, magnitude 9), then pad-4 random crop and horizontal flip",
    # locuslab/convmixer-cifar10's recommended command: RandomResizedCrop with scale=(1.0, 1.0) and
    # ratio 1 (the identity on 32x32 images), flip, RandAugment(2, 12); no jitter, no erasing.
    "flip_randaugment_m12": "horizontal flip, then RandAugment (2 ops, magnitude 12); no crop",
    "randaugment_batched": "RandAugment (2 ops, magnitude 9) batched on the training device, then pad-4 random "
                           "crop and horizontal flip",
    "flip_randaugment_m12_batched": "horizontal flip, then RandAugment (2 ops, magnitude 12) batched on the "
                                    "training device; no crop",
}
