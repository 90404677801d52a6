"""Does the input pipeline keep up with training? Each chapter's augmentation and the pose loader,
alone, against the training step of the chapter's gpu-profile model, on this machine.

Per chapter (the gpu profile's model, training recipe and image size; FlexiViT's images upsampled
to its 48 px first, as the chapter does): the images/s of its augmentation recipe on a batch of the
profile's size (`measure.augmentation_images_per_s`), before (torchvision's RandAugment image by
image, what the recipe names today) and after (`rand_augment_batched`, its "_batched" recipe), and
the images/s of one training step (forward, backward, clipping, AdamW; `measure.time_training_step`,
which also counts the step's FLOPs) at a small batch (`--step-batch`: a CPU's images/s hardly
depends on it). ViTPose: crops/s of the top-down COCO loader (decode + warp in DataLoader workers)
on JPEG copies of generated 640x480 scenes, with every image decoded per crop (before) and with the
images preloaded into memory (after, `TopDownDataset.preload_images`), against ViTPose-B's step.

The measurements of one round run in turn, chapter after chapter, the order reversed every round,
so drift in the machine's speed hits them alike (STYLE.md §11); each result is the median of its
rounds. Printed: pipeline/step ratios here, and against the step rate an H100 would reach at the
cost report's modelled utilisation (the counted FLOPs; `measure.modelled_gpu_seconds`): issue 26
asks the pipeline for 1.5x that.

    PYTHONPATH=. python benchmarks/input_pipeline.py [--rounds 3] [--step-batch 16] [--workers 2]
"""
from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path
from types import SimpleNamespace

import torch
from _common import parse, parser
from PIL import Image

from patchlib.data.cache import ImageData
from patchlib.data.resize import upsample_images
from patchlib.experiments import vitpose
from patchlib.measure import augmentation_images_per_s, loader_images_per_s, modelled_gpu_seconds, time_training_step
from patchlib.models import create_model
from patchlib.pose.data import TopDownDataset
from patchlib.pose.synthetic import generate_people


def chapter_models() -> dict:
    """{chapter: (model, image side, gpu TrainConfig)} for the classification chapters' gpu profiles."""
    from patchlib.experiments import convmixer, evit, flexivit, mobilevit, vit

    flexi = flexivit.SIZES["gpu"]
    mobile = mobilevit.SIZES["gpu"]
    mixer = convmixer.SIZES["gpu"]
    return {"vit": (vit.architecture("gpu"), 32, vit.SIZES["gpu"].train),
            "flexivit": (flexivit.build_role_model(flexi, "flexi"), flexi.image_size, flexi.train),
            "evit": (evit.evit_model("gpu", 0.7, True), 32, evit.SIZES["gpu"].finetune),
            "convmixer": (create_model(mixer.recipe_model, **mixer.recipe_overrides), 32, mixer.recipe_train),
            "mobilevit": (create_model(mobile.models["v2"][0], **mobile.models["v2"][1]), 32, mobile.train)}


def classification_task(grad_clip):
    """The smallest task `time_training_step` times: the model's mean output as the loss (its
    backward costs what any scalar loss's does)."""
    def training_step(model, batch, streams):
        return model(batch).float().mean(), {}
    return SimpleNamespace(training_step=training_step, config=SimpleNamespace(grad_clip=grad_clip))


def jpeg_people(folder: Path, images: int) -> tuple[Path, Path]:
    """Generated 640x480 people, their PNGs re-saved as JPEG (quality 90), as COCO's files are."""
    annotations = generate_people(folder, "train2017", num_images=images, seed=0, image_size=(480, 640))
    image_dir = folder / "train2017"
    record = json.loads(annotations.read_text())
    for image in record["images"]:
        png = image_dir / image["file_name"]
        image["file_name"] = png.with_suffix(".jpg").name
        Image.open(png).convert("RGB").save(image_dir / image["file_name"], quality=90)
    annotations.write_text(json.dumps(record))
    return annotations, image_dir


def main() -> None:
    arguments = parser(__doc__.split("\n\n")[0])
    arguments.set_defaults(rounds=3)
    arguments.add_argument("--step-batch", type=int, default=16, help="images per timed classification step")
    arguments.add_argument("--pose-step-batch", type=int, default=2, help="crops per timed ViTPose-B step")
    arguments.add_argument("--workers", type=int, default=2, help="pose DataLoader workers (the gpu profile: 8)")
    arguments.add_argument("--pose-images", type=int, default=12, help="generated 640x480 images for the loader")
    args = parse(arguments)
    device = torch.device(args.device)
    torch.manual_seed(0)

    models = chapter_models()
    generator = torch.Generator().manual_seed(0)
    batches = {}
    for name, (model, side, train) in models.items():
        images = torch.randint(0, 256, (train.batch_size, 3, 32, 32), generator=generator, dtype=torch.uint8)
        if side != 32:  # FlexiViT augments its upsampled images
            images = upsample_images(ImageData.from_tensors(images, torch.zeros(len(images), dtype=torch.long),
                                                            ["x"], name="random", source="random"), side).images
        batches[name] = images

    folder = Path(tempfile.mkdtemp(prefix="input_pipeline_"))
    annotations, image_dir = jpeg_people(folder, args.pose_images)
    pose_sizes = vitpose.SIZES["gpu"]
    plain = TopDownDataset(annotations, image_dir, image_size=pose_sizes.image_size, augment=pose_sizes.augment)
    preloaded = TopDownDataset(annotations, image_dir, image_size=pose_sizes.image_size, augment=pose_sizes.augment)
    held = preloaded.preload_images(2**34)
    pose_model = create_model("vitpose_b", decoder="classic")

    def pose_step(model, batch, streams):
        return model(batch).float().mean(), {}
    pose_task = SimpleNamespace(training_step=pose_step, config=SimpleNamespace(grad_clip=pose_sizes.train.grad_clip))

    results: dict[str, dict[str, list]] = {}

    def measure(name: str) -> None:
        row = results.setdefault(name, {})
        if name == "vitpose":
            items = 8 * max(1, args.workers) * 4
            for label, data in (("before", plain), ("after", preloaded)):
                row.setdefault(label, []).append(loader_images_per_s(
                    data, batch_size=8, num_workers=args.workers, device=device, items=items))
            crops = torch.randn(args.pose_step_batch, 3, *pose_sizes.image_size)
            timed = time_training_step(pose_task, pose_model, crops, device=device)
        else:
            model, side, train = models[name]
            before = train.augment.removesuffix("_batched")
            row.setdefault("recipe", [before])
            row.setdefault("before", []).append(augmentation_images_per_s(batches[name], before, device=device))
            row.setdefault("after", []).append(augmentation_images_per_s(batches[name], before + "_batched",
                                                                         device=device))
            step = torch.randn(args.step_batch, 3, side, side)
            timed = time_training_step(classification_task(train.grad_clip), model, step, device=device)
        row.setdefault("step", []).append(timed["batch_size"] / timed["seconds_per_step"])
        row["flops_per_image"] = [timed["flops_per_image"]]

    order = [*models, "vitpose"]
    for round_index in range(args.rounds):
        for name in (order if round_index % 2 == 0 else reversed(order)):
            measure(name)
        print(f"round {round_index + 1}/{args.rounds} done", flush=True)

    threads = torch.get_num_threads()
    print(f"device {device}, {threads} torch threads; classification steps at batch {args.step_batch}, ViTPose-B at "
          f"{args.pose_step_batch}; augmentation on a batch of the gpu profile's size; pose loader: "
          f"{args.workers} worker(s), {pose_sizes.image_size[0]}x{pose_sizes.image_size[1]} crops of "
          f"{len(plain)} people in {args.pose_images} JPEG images (640x480), preloaded: {held / 2**20:.0f} MiB; "
          f"median of {args.rounds} rounds (order reversed every round)")
    header = (f"{'chapter':>9} {'pipeline':>22} {'before img/s':>12} {'after img/s':>12} {'step img/s':>10} "
              f"{'after/step':>10} {'GFLOP/img':>9} {'H100 img/s':>10} {'after/H100':>10}")
    print(header)
    for name in order:
        row = results[name]
        before, after, step = (statistics.median(row[key]) for key in ("before", "after", "step"))
        flops = row["flops_per_image"][0]
        h100 = 1 / modelled_gpu_seconds(flops)  # images/s at the modelled utilisation
        pipeline = "pose loader" if name == "vitpose" else row["recipe"][0]
        print(f"{name:>9} {pipeline:>22} {before:12,.0f} {after:12,.0f} {step:10,.1f} {after / step:10,.1f} "
              f"{flops / 1e9:9.3g} {h100:10,.0f} {after / h100:10.3f}")


if __name__ == "__main__":
    main()
