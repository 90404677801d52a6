"""ViTPose chapter: a plain ViT as a top-down pose estimator, and the decoder ablation of paper
Table 2 (Xu et al., NeurIPS 2022; SimpleBaseline, Xiao et al., ECCV 2018, for the CNN rows).

Four kinds of cached records (pieces), each recomputable alone:
- "data": the pose data's statistics and how hard it is: COCO OKS AP of a trivial baseline that
  predicts the training set's mean pose in every person box;
- "train": {ViT, ResNet} backbone x {classic, simple} decoder, trained with the same recipe and
  budget, for several seeds: val AP/AR per epoch (the curves) and at the end, with the flip test;
- "cost": parameters, counted multiply-adds and measured inference throughput of each
  backbone + decoder at 256x192 (the paper's models) and at the profile's crop size (ours);
- "qualitative": predicted skeletons of the first seed's models on held-out images, and on the
  real coco-mini-val2017 images when that fixture is in the data root (out of domain for
  models trained on synthetic people).

Data: `smoke` and `cpu` train and evaluate on procedural people in COCO's format
(`patchlib.pose.synthetic`), with the same loader and COCOeval as COCO itself; `gpu` reads COCO
train2017/val2017 from the data root.
"""
from __future__ import annotations

import math
import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..claims import Claim, claim_spread, mean_and_error, plus_minus, significant
from ..measure import ThroughputProtocol, flops, measure_throughput, parameter_count
from ..models import config_record, create_model
from ..models.vit import ViTConfig
from ..pose.data import PoseAugment, TopDownDataset, find_coco
from ..pose.evaluate import evaluate_keypoints
from ..pose.synthetic import describe, people_dataset
from ..pose.train import PoseTrainConfig, evaluate_pose, predict, train_pose
from ..results import file_digest
from .common import CORE_CODE, EMBEDDED_DATA_SEED, ChapterRun, check_checkpoint, record_source

CHAPTER = "vitpose"
PIECES = ("data", "train", "cost", "qualitative")
CODE = CORE_CODE + ("patchlib/models/vit.py", "patchlib/models/vitpose.py", "patchlib/models/registry.py",
                    "patchlib/pose/data.py", "patchlib/pose/heatmaps.py", "patchlib/pose/keypoints.py",
                    "patchlib/pose/evaluate.py", "patchlib/pose/synthetic.py", "patchlib/pose/train.py")
BACKBONES = ("vit", "resnet")
DECODERS = ("classic", "simple")
COCO_MINI = "coco-mini-val2017.tar.gz"

# Published values (../shared/paper_values.md §4; all CONFIRMED there).
PAPER_TEXT = "ViTPose paper (NeurIPS 2022, arXiv 2204.12484)"
PAPER = {
    "table2": {"status": "confirmed", "source": f"{PAPER_TEXT}, Table 2 (decoder ablation, COCO val, 256x192)",
               "columns": ("AP", "AP50", "AR", "AR50"),
               "value": {("ResNet-50", "classic"): (71.8, 89.8, 77.3, 93.7), ("ResNet-50", "simple"): (53.1, 86.9, 62.0, 92.1),
                         ("ResNet-152", "classic"): (73.5, 90.5, 79.0, 94.3), ("ResNet-152", "simple"): (55.3, 87.9, 63.8, 92.9),
                         ("ViTPose-B", "classic"): (75.8, 90.7, 81.1, 94.6), ("ViTPose-B", "simple"): (75.5, 90.6, 80.9, 94.6),
                         ("ViTPose-L", "classic"): (78.3, 91.4, 83.5, 95.3), ("ViTPose-L", "simple"): (78.2, 91.4, 83.4, 95.3),
                         ("ViTPose-H", "classic"): (79.1, 91.7, 84.1, 95.4), ("ViTPose-H", "simple"): (78.9, 91.6, 84.0, 95.4)}},
    "gap_text": {"status": "confirmed", "source": f"{PAPER_TEXT}, §4.2 text on Table 2",
                 "value": {"resnet": "about 18 AP", "vit": "less than 0.3 AP"}},
    "table9": {"status": "confirmed", "source": f"{PAPER_TEXT}, Table 9 (params; speed in fps on one A100, batch 64; 256x192)",
               "value": {"ViTPose-B": {"params_m": 86, "fps": 944}, "ResNet-152": {"params_m": 60, "fps": 829}}},
    "table6_gflops": {"status": "confirmed", "source": f"{PAPER_TEXT}, Table 6 (ViTPose-B, all parameters tuned)", "value": 17.1},
    # Official ViTPose-B training logs (classic vs simple decoder), val AP every 10 epochs.
    "curves": {"status": "confirmed", "source": "official ViTAE-Transformer/ViTPose logs/vitpose-b.log.json and vitpose-b-simple.log.json",
               "epochs": tuple(range(10, 211, 10)),
               "classic": (.676, .706, .718, .725, .729, .736, .739, .741, .743, .747, .750, .750, .750, .753, .753,
                           .751, .754, .758, .758, .758, .758),
               "simple": (.638, .679, .696, .708, .716, .721, .728, .732, .733, .736, .740, .741, .741, .743, .744,
                          .743, .746, .753, .754, .755, .755)},
}


@dataclass(frozen=True, kw_only=True)
class Size:
    dataset: str                          # "synthetic-people" (generated) or "coco" (from the data root)
    train_images: int | None = None       # images generated per split (synthetic only)
    val_images: int | None = None
    image_size: tuple[int, int]           # (H, W) of a person crop
    backbones: dict                       # {"vit": (registered name, overrides), "resnet": (...)}
    seeds: int                            # seeds per backbone x decoder: seed, seed + 1, ...
    train: PoseTrainConfig
    augment: PoseAugment = field(default_factory=PoseAugment)
    cost_models: dict                     # {label: (registered name, overrides)} timed at their own crop size
    cost_protocol: ThroughputProtocol
    qualitative_images: int = 4           # held-out images shown with predicted skeletons
    max_people: int | None = None         # people per split (None: all; a dry run takes a few)


# A lighter augmentation for short from-scratch runs. Measured on the cpu profile's ViT + classic
# decoder (8 epochs, one seed): val AP 0.024 with ViTPose's augmentation and lr 1e-3, 0.084 with
# this and lr 2e-3.
CPU_AUGMENT = PoseAugment(scale=0.25, rotation=20.0, half_body_prob=0.0)

# The crop of the cpu profile: 128x96 keeps the paper's geometry at half the side (patch 16, an 8x6
# token grid, heatmaps at 1/4 resolution, two deconvolutions for the ViT and three for the ResNet).
CPU_CROP = (128, 96)
_vit_cpu = ViTConfig(image_size=CPU_CROP, patch_size=16, num_classes=0, dim=192, depth=6, heads=3)
_paper_models = {"ViTPose-B": ("vitpose_b", {}), "ResNet-50": ("simplebaseline_res50", {}),
                 "ResNet-152": ("simplebaseline_res152", {})}

SIZES = {
    # Seconds on any CPU: every piece end to end on a few generated images, tiny models.
    "smoke": Size(dataset="synthetic-people", train_images=24, val_images=6, image_size=CPU_CROP,
                  backbones={"vit": ("vitpose_tiny", {"backbone": ViTConfig(image_size=CPU_CROP, patch_size=16,
                                                                           num_classes=0, dim=32, depth=2, heads=2),
                                                      "image_size": CPU_CROP, "deconv_channels": 16}),
                             "resnet": ("simplebaseline_res18", {"image_size": CPU_CROP, "deconv_channels": 16})},
                  seeds=2, train=PoseTrainConfig(epochs=2, batch_size=16, lr=1e-3, warmup_steps=2, precision="fp32"),
                  cost_models={}, cost_protocol=ThroughputProtocol(batch_size=2, warmup=1, repeats=1, rounds=1),
                  qualitative_images=2),
    # ~50 min on 2 CPU cores: a 6-layer, 192-wide ViT (3.5 M parameters with the classic decoder;
    # ~180 train img/s) against ResNet-18 (~100 img/s), both from scratch on 128x96 crops of 3,386
    # procedural people (1,500 images), 8 epochs, 3 seeds each.
    "cpu": Size(dataset="synthetic-people", train_images=1500, val_images=150, image_size=CPU_CROP,
                backbones={"vit": ("vitpose_tiny", {"backbone": _vit_cpu, "image_size": CPU_CROP, "deconv_channels": 128}),
                           "resnet": ("simplebaseline_res18", {"image_size": CPU_CROP, "deconv_channels": 128})},
                seeds=3, train=PoseTrainConfig(epochs=8, batch_size=32, lr=2e-3, weight_decay=0.05, warmup_steps=100,
                                               precision="bf16"),
                augment=CPU_AUGMENT,
                cost_models=_paper_models, cost_protocol=ThroughputProtocol(batch_size=4, warmup=1, repeats=2, rounds=1)),
    # The paper's setting (Table 1, §4.1): COCO train2017 -> val2017 at 256x192, ViTPose-B against
    # SimpleBaseline ResNet-50, 210 epochs, AdamW 5e-4, weight decay 0.1, layer-wise decay 0.75,
    # step decay at 170 and 200 (ground-truth boxes at evaluation: see the deviations). Backbones
    # start from random weights unless INIT_ENV names pretrained ones (the paper: MAE / ImageNet).
    "gpu": Size(dataset="coco", image_size=(256, 192),
                backbones={"vit": ("vitpose_b", {}), "resnet": ("simplebaseline_res50", {})}, seeds=1,
                train=PoseTrainConfig(epochs=210, batch_size=512, lr=5e-4, weight_decay=0.1, layer_decay=0.75,
                                      num_workers=8),
                cost_models=_paper_models, cost_protocol=ThroughputProtocol(batch_size=64)),
}


DRY_RUN = {"max_people": 8, "qualitative_images": 1}  # dry-run overrides (common.dry_run_size)


def context(profile: str = "smoke", **options) -> ChapterRun:
    return ChapterRun.resolve(chapter=CHAPTER, sizes=SIZES, pieces=PIECES, code=CODE, profile=profile,
                              dry_run_overrides=DRY_RUN, **options)


# ---- data ----

@dataclass(frozen=True)
class PoseData:
    train: TopDownDataset
    val: TopDownDataset
    val_annotations: Path
    identity: dict                        # the record's provenance of the data (no absolute paths)


def annotation_files(ctx: ChapterRun) -> dict[str, tuple[Path, Path]]:
    """{"train", "val"}: (annotations json, image folder) of the profile's data, generated (with
    a progress bar) the first time for the synthetic profiles."""
    size = ctx.size
    if size.dataset == "coco":
        return {"train": find_coco(ctx.data_root, "train2017"), "val": find_coco(ctx.data_root, "val2017")}
    files = {}
    for split, count in (("train", size.train_images), ("val", size.val_images)):
        root = people_dataset(split, num_images=count, seed=EMBEDDED_DATA_SEED, progress=ctx.progress)
        files[split] = (root / "annotations" / f"person_keypoints_{split}.json", root / split)
    return files


def data_files(profile: str = "smoke", *, data_root=None) -> dict[str, tuple[Path, Path]]:
    """{"train", "val"}: (annotations json, image folder) of `profile`'s data (for figures)."""
    return annotation_files(context(profile, data_root=data_root, progress=False))


def coco_mini_files(data_root=None) -> tuple[Path, Path] | None:
    """(annotations json, image folder) of the real coco-mini-val2017 fixture, if the data root holds it."""
    fixture = _coco_mini(context("smoke", data_root=data_root, progress=False))
    return None if fixture is None else find_coco(fixture.parent, "val2017")


def load_pose_data(ctx: ChapterRun, *, seed: int | None = None) -> PoseData:
    """The profile's pose data: training crops with the paper's augmentation (drawn from `seed`),
    validation crops without."""
    size = ctx.size
    files = annotation_files(ctx)
    cache = size.dataset != "coco"  # generated sets are small enough to keep decoded in memory
    train = TopDownDataset(*files["train"], image_size=size.image_size, augment=size.augment,
                           seed=ctx.seed if seed is None else seed, cache_images=cache)
    val = TopDownDataset(*files["val"], image_size=size.image_size, cache_images=cache)
    if size.max_people is not None:
        train.persons, val.persons = train.persons[:size.max_people], val.persons[:size.max_people]
    source = ("patchlib.pose.synthetic (procedural people, COCO keypoint format, generated from seed "
              f"{EMBEDDED_DATA_SEED})" if size.dataset != "coco" else "COCO 2017 person keypoints from <data root>")
    identity = {"name": size.dataset, "source": source,
                "fingerprint": f"{file_digest(files['train'][0])}-{file_digest(files['val'][0])}",
                "n_train": len(train), "n_test": len(val)}
    return PoseData(train, val, files["val"][0], identity)


def mean_pose_baseline(data: PoseData) -> dict:
    """OKS AP/AR of predicting, in every validation box, the mean crop-coordinate pose of the
    training people (each keypoint averaged where labelled): what a model that ignores the image gets."""
    total, count = torch.zeros(17, 2), torch.zeros(17, 1)
    for index, person in enumerate(data.train.persons):
        matrix = data.train.crop_transform(index)  # the un-augmented crop
        labelled = person.keypoints[:, 2:] > 0
        xy = person.keypoints[:, :2].double() @ matrix[:, :2].T + matrix[:, 2]
        total += (xy.float() * labelled)
        count += labelled
    mean_pose = total / count.clamp_min(1)
    n = len(data.val)
    results = data.val.to_results(list(range(n)), mean_pose.expand(n, 17, 2), torch.ones(n, 17))
    return evaluate_keypoints(data.val_annotations, results)


def _subset(size: Size) -> dict:
    """The people limit as a config entry, only when there is one (so configs without it keep their hash)."""
    return {} if size.max_people is None else {"max_people": size.max_people}


def data_config(ctx: ChapterRun) -> dict:
    size = ctx.size
    return ctx.config(f"data-{ctx.profile}", dataset=size.dataset, train_images=size.train_images,
                      val_images=size.val_images, image_size=list(size.image_size),
                      **_subset(size)) | {"seed": EMBEDDED_DATA_SEED}


def data_difficulty(ctx: ChapterRun) -> dict:
    data = load_pose_data(ctx)
    return {"train": describe(data.train.annotations), "val": describe(data.val_annotations),
            "mean_pose_baseline": mean_pose_baseline(data), "data": data.identity}


# ---- training ----

# Pretrained backbones, an explicit option (the paper starts from MAE-pretrained ViTs and
# ImageNet-pretrained ResNets; no profile downloads or assumes weights): an environment variable
# per backbone names a file holding a state dict of the book's backbone module (the ViT chapter's
# `VisionTransformer`, or torchvision's ResNet with its own key names), or for the ResNet
# "imagenet", torchvision's IMAGENET1K_V1 weights (downloaded by torchvision where it can).
INIT_ENV = {"vit": "PATCHLIB_VITPOSE_VIT_INIT", "resnet": "PATCHLIB_VITPOSE_RESNET_INIT"}


def backbone_init(backbone: str) -> str | None:
    """The pretrained weights asked for `backbone` (None: random initialisation, the default)."""
    value = os.environ.get(INIT_ENV[backbone], "").strip()
    if value and value != "imagenet" and not Path(value).expanduser().is_file():
        raise FileNotFoundError(f"{INIT_ENV[backbone]}={value}: no such file; give a state-dict file"
                                + (" or 'imagenet'" if backbone == "resnet" else "") + ", or unset it for random init")
    if value == "imagenet" and backbone != "resnet":
        raise ValueError(f"{INIT_ENV[backbone]}=imagenet: only the ResNet has torchvision ImageNet weights; give a "
                         "state-dict file of the book's VisionTransformer (e.g. converted MAE weights)")
    return value or None


def _init_record(backbone: str) -> dict:
    """The config entry of a pretrained initialisation (nothing when there is none: configs keep their hash)."""
    source = backbone_init(backbone)
    if source is None:
        return {}
    return {"init": source if source == "imagenet" else f"{Path(source).name} (sha256 {file_digest(Path(source).expanduser())})"}


def load_backbone_weights(model, backbone: str, source: str) -> None:
    """Load pretrained weights into `model.backbone` (see INIT_ENV). Classification heads are
    dropped; a ViT's position embeddings are resized to the pose grid (ViT §3.2). Any other
    missing or unexpected key is an error naming it."""
    if backbone == "resnet":
        import torchvision

        if source == "imagenet":
            state = getattr(torchvision.models, f"resnet{model.config.backbone.depth}")(weights="IMAGENET1K_V1").state_dict()
        else:
            state = torch.load(Path(source).expanduser(), map_location="cpu", weights_only=True)
        renamed = {}
        for key, value in state.items():
            head, _, rest = key.partition(".")
            if head == "fc":
                continue
            if head in ("conv1", "bn1"):
                renamed[f"stem.{0 if head == 'conv1' else 1}.{rest}"] = value
            elif head.startswith("layer"):
                renamed[f"stages.{int(head[5:]) - 1}.{rest}"] = value
            else:
                renamed[key] = value
        target, state = model.backbone, renamed
    else:
        state = {k: v for k, v in torch.load(Path(source).expanduser(), map_location="cpu", weights_only=True).items()
                 if not k.startswith("head.")}
        target = model.backbone.vit
        if "pos_embed" in state and state["pos_embed"].shape != target.pos_embed.shape:
            from ..layers import resize_pos_embed

            state["pos_embed"] = resize_pos_embed(state["pos_embed"], target.grid_size)
    missing, unexpected = target.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("head.")]
    if missing or unexpected:
        raise ValueError(f"pretrained {backbone} weights from {source} do not fit the backbone: missing "
                         f"{missing[:5]}, unexpected {unexpected[:5]}")


def build_model(ctx: ChapterRun, backbone: str, decoder: str, *, pretrained: bool = False):
    """The profile's model; with `pretrained`, its backbone loaded as INIT_ENV asks (if it does)."""
    name, overrides = ctx.size.backbones[backbone]
    model = create_model(name, **overrides, decoder=decoder)
    source = backbone_init(backbone) if pretrained else None
    if source is not None:
        load_backbone_weights(model, backbone, source)
    return model


def train_config(ctx: ChapterRun, backbone: str, decoder: str, seed: int) -> dict:
    size = ctx.size
    name = size.backbones[backbone][0]
    return ctx.config(f"train-{backbone}-{decoder}-s{seed}-{ctx.profile}", dataset=size.dataset,
                      train_images=size.train_images, val_images=size.val_images, model=name,
                      model_config=config_record(build_model(ctx, backbone, decoder).config), train=asdict(size.train),
                      augment=asdict(size.augment), **_subset(size), **_init_record(backbone)) | {"seed": seed}


def _train_one(ctx: ChapterRun, backbone: str, decoder: str, seed: int) -> dict:
    config = train_config(ctx, backbone, decoder, seed)

    def compute() -> dict:
        data = load_pose_data(ctx, seed=seed)
        torch.manual_seed(seed)
        model = build_model(ctx, backbone, decoder, pretrained=True)
        trained = train_pose(model, data.train, data.val, data.val_annotations, ctx.size.train, seed=seed,
                             device=ctx.device, checkpoint=ctx.checkpoint(config), progress=ctx.progress)
        shape = (3, *ctx.size.image_size)
        return {"history": trained["history"], "final": trained["final"], "train_time_s": trained["train_time_s"],
                "parameters": parameter_count(model), "cost": flops(model, shape), "data": data.identity}

    return ctx.record("train", config, compute, uses_data=False)


# ---- cost ----

def cost_models(ctx: ChapterRun) -> dict:
    """{label: (model, image shape)}: the paper's backbones with both decoders at 256x192, and ours."""
    models = {}
    for label, (name, overrides) in ctx.size.cost_models.items():
        for decoder in DECODERS:
            models[f"{label} {decoder}"] = (create_model(name, **overrides, decoder=decoder), (3, 256, 192))
    for backbone in BACKBONES:
        for decoder in DECODERS:
            models[f"ours: {backbone} {decoder}"] = (build_model(ctx, backbone, decoder), (3, *ctx.size.image_size))
    return models


def cost_config(ctx: ChapterRun) -> dict:
    return ctx.config(f"cost-{ctx.profile}", device_type=ctx.device.type, protocol=ctx.size.cost_protocol.record(),
                      models={label: config_record(model.config) for label, (model, _) in cost_models(ctx).items()})


def measure_costs(ctx: ChapterRun) -> dict:
    torch.manual_seed(ctx.seed)
    models = cost_models(ctx)
    rows = {label: {"parameters": parameter_count(model), "cost": flops(model, shape), "image_size": list(shape[1:])}
            for label, (model, shape) in models.items()}
    measured = measure_throughput({label: model for label, (model, _) in models.items()},
                                  {label: shape for label, (_, shape) in models.items()}, ctx.size.cost_protocol,
                                  device=ctx.device)
    for label in rows:
        rows[label]["throughput"] = measured["models"][label]
    return {"models": rows, "protocol": measured["protocol"]}


# ---- qualitative ----

def qualitative_config(ctx: ChapterRun) -> dict:
    """The same whether or not the coco-mini fixture is here (a stored record must load on any
    machine); the record says whether it was found when it was computed."""
    return ctx.config(f"qualitative-{ctx.profile}", images=ctx.size.qualitative_images,
                      models={f"{b}-{d}": train_config(ctx, b, d, ctx.seed)["name"] for b in BACKBONES for d in DECODERS},
                      coco_mini=f"{COCO_MINI} from the data root, when there")


def _coco_mini(ctx: ChapterRun) -> Path | None:
    """The real coco-mini-val2017 fixture in the data root, if it is there."""
    from ..data.cifar import resolve_data_root

    path = resolve_data_root(ctx.data_root) / COCO_MINI
    return path if path.is_file() else None


def trained_model(ctx: ChapterRun, backbone: str, decoder: str, seed: int):
    """The trained model of a `train` record, from its checkpoint (in eval mode)."""
    config = train_config(ctx, backbone, decoder, seed)
    path = ctx.checkpoint(config)
    state = check_checkpoint(path)
    if state is None or state["epoch"] < ctx.size.train.epochs:
        raise FileNotFoundError(f"no finished training checkpoint at {path} for {config['name']}: the qualitative "
                                "figure needs the trained weights; recompute the training runs with force={'train', "
                                "'qualitative'} (or delete the stored train record)")
    model = build_model(ctx, backbone, decoder)
    model.load_state_dict(state["model"])
    return model.to(ctx.device).eval()


def qualitative(ctx: ChapterRun) -> dict:
    """Predicted keypoints (image coordinates, COCO results) of each first-seed model on the people
    of the first held-out images, and of the ViT + classic model on the coco-mini fixture."""
    data = load_pose_data(ctx)
    shown_images = sorted({p.image_id for p in data.val.persons})[:ctx.size.qualitative_images]
    shown = [i for i, p in enumerate(data.val.persons) if p.image_id in shown_images]
    subset = torch.utils.data.Subset(data.val, shown)
    subset.image_size = data.val.image_size
    predictions = {}
    for backbone in BACKBONES:
        for decoder in DECODERS:
            model = trained_model(ctx, backbone, decoder, ctx.seed)
            indices, points, scores = predict(model, subset, device=ctx.device)
            predictions[f"{backbone}-{decoder}"] = data.val.to_results([shown[i] for i in indices.tolist()], points,
                                                                       scores)
    result = {"images": shown_images, "predictions": predictions, "coco_mini": None, "data": data.identity}
    fixture = _coco_mini(ctx)
    if fixture is not None:
        annotations, image_dir = find_coco(fixture.parent, "val2017")
        coco = TopDownDataset(annotations, image_dir, image_size=ctx.size.image_size)
        scores = evaluate_pose(trained_model(ctx, "vit", "classic", ctx.seed), coco, annotations, device=ctx.device)
        result["coco_mini"] = {"predictions": scores.pop("results"), "scores": scores, "people": len(coco),
                               "fixture": file_digest(fixture)}
    return result


def run(profile: str = "smoke", *, seed: int = 0, device="auto", data_root=None, results_dir=None,
        force: bool | set[str] = False, progress: bool = True, dry_run: bool = False) -> dict:
    """Measure the data's difficulty, train (or load) the backbone x decoder grid for every seed,
    measure the models' cost, and predict on held-out images.

    Returns {"data", "train": {(backbone, decoder, seed): record}, "cost", "qualitative", "claims"}.
    """
    ctx = context(profile, seed=seed, device=device, data_root=data_root, results_dir=results_dir, force=force,
                  progress=progress, dry_run=dry_run)
    records = {"data": ctx.record("data", data_config(ctx), lambda: data_difficulty(ctx), uses_data=False),
               "train": {(b, d, s): _train_one(ctx, b, d, s) for s in ctx.seeds for b in BACKBONES for d in DECODERS},
               "cost": ctx.record("cost", cost_config(ctx), lambda: measure_costs(ctx), uses_data=False),
               "qualitative": ctx.record("qualitative", qualitative_config(ctx), lambda: qualitative(ctx),
                                         uses_data=False)}
    records["claims"] = ctx.write_claims(claims(records))
    return records


# ---- tables and claims: each verdict is computed from the records by the rule stated beside it ----

BACKBONE_LABELS = {"vit": "ViT", "resnet": "ResNet"}


def ablation_table(records: dict):
    """Our decoder ablation: one row per backbone x decoder, mean and standard deviation over seeds."""
    import pandas as pd

    rows = []
    for backbone in BACKBONES:
        for decoder in DECODERS:
            runs = [record for (b, d, _), record in records["train"].items() if (b, d) == (backbone, decoder)]
            row = {"backbone": BACKBONE_LABELS[backbone], "decoder": decoder, "model": runs[0]["config"]["model"],
                   "seeds": len(runs)}
            for metric in ("AP", "AP50", "AR", "AR50"):
                values = [100 * record["result"]["final"][metric] for record in runs]
                row[metric] = statistics.mean(values)
                row[f"{metric} sd"] = statistics.stdev(values) if len(values) > 1 else float("nan")
            row["params (M)"] = runs[0]["result"]["parameters"] / 1e6
            row["train min (mean)"] = statistics.mean(r["result"]["train_time_s"] for r in runs) / 60
            rows.append(row)
    return pd.DataFrame(rows)


def paper_table():
    """Paper Table 2 as a DataFrame."""
    import pandas as pd

    return pd.DataFrame([{"backbone": backbone, "decoder": decoder} | dict(zip(PAPER["table2"]["columns"], values))
                         for (backbone, decoder), values in PAPER["table2"]["value"].items()])


def paired_gaps(records: dict, metric: str = "AP") -> dict[str, list[float]]:
    """Per seed, classic minus simple (AP points) for each backbone, and the ResNet's gap minus the ViT's."""
    seeds_run = sorted({s for (_, _, s) in records["train"]})
    value = {key: 100 * record["result"]["final"][metric] for key, record in records["train"].items()}
    gaps = {backbone: [value[(backbone, "classic", s)] - value[(backbone, "simple", s)] for s in seeds_run]
            for backbone in BACKBONES}
    gaps["difference"] = [r - v for r, v in zip(gaps["resnet"], gaps["vit"])]
    return gaps


def cost_table(records: dict):
    import pandas as pd

    measured = records["cost"]["result"]["models"]
    # The order of the paper's models in the profile, then ours (a stored record's keys are sorted).
    order = [f"{label} {decoder}" for label in SIZES[records["cost"]["config"]["profile"]].cost_models
             for decoder in DECODERS] + [f"ours: {b} {d}" for b in BACKBONES for d in DECODERS]
    rows = []
    for label in sorted(measured, key=lambda label: order.index(label) if label in order else len(order)):
        row = measured[label]
        paper = PAPER["table9"]["value"].get(label.rsplit(" ", 1)[0], {}) if not label.startswith("ours") else {}
        rows.append({"model": label, "input": "x".join(map(str, row["image_size"])),
                     "params (M)": row["parameters"] / 1e6, "GMACs": row["cost"]["gmacs"],
                     "img/s (here)": row["throughput"]["images_per_s"], "paper params (M)": paper.get("params_m"),
                     "paper fps (A100)": paper.get("fps")})
    return pd.DataFrame(rows).set_index("model")


def _paper_gap(backbone: str, column: int = 0) -> float:
    """Table 2: classic minus simple for one backbone (column 0: AP, 1: AP50)."""
    table2 = PAPER["table2"]["value"]
    return round(table2[(backbone, "classic")][column] - table2[(backbone, "simple")][column], 1)


def claims(records: dict) -> list[Claim]:
    profile = records["data"]["config"]["profile"]
    table2 = PAPER["table2"]["value"]
    paper_gap = {"resnet": _paper_gap("ResNet-50"), "vit": _paper_gap("ViTPose-B")}
    gaps, gaps50 = paired_gaps(records), paired_gaps(records, "AP50")
    train_sources = f"results/vitpose/train-*-{profile}-*.json ({len(records['train'])} runs)"
    baseline = 100 * records["data"]["result"]["mean_pose_baseline"]["AP"]
    vit_mean, vit_error = mean_and_error(gaps["vit"])
    resnet_mean = statistics.mean(gaps["resnet"])
    vit_small = abs(vit_mean) <= max(1.0, 2 * vit_error) if not math.isnan(vit_error) else abs(vit_mean) <= 1.0
    # A model that has not learned has no decoder gap to speak of: the ViT rows are only judged when
    # its classic-decoder AP is clearly above the mean-pose baseline.
    vit_classic = statistics.mean(100 * r["result"]["final"]["AP"] for (b, d, _), r in records["train"].items()
                                  if (b, d) == ("vit", "classic"))
    vit_learned = vit_classic >= max(2.0, 2 * baseline)
    learned_text = (f"; ViT classic AP {vit_classic:.2f} vs baseline {baseline:.2f}: "
                    + ("learned" if vit_learned else "not clearly above the baseline, so not judged"))

    first_eval = {}
    for decoder in DECODERS:
        firsts = [next(e["AP"] for e in r["result"]["history"] if "AP" in e)
                  for (b, d, _), r in records["train"].items() if (b, d) == ("vit", decoder)]
        first_eval[decoder] = 100 * statistics.mean(firsts)
    early_gap, final_gap = first_eval["classic"] - first_eval["simple"], vit_mean
    per_epoch = {}
    for (b, d, _), r in records["train"].items():
        if b == "vit":
            for e in r["result"]["history"]:
                if "AP" in e:
                    per_epoch.setdefault(e["epoch"], {}).setdefault(d, []).append(100 * e["AP"])
    epoch_gaps = ", ".join(f"{epoch}: {statistics.mean(v['classic']) - statistics.mean(v['simple']):+.1f}"
                           for epoch, v in sorted(per_epoch.items()) if {"classic", "simple"} <= set(v))
    curves = PAPER["curves"]

    costs = cost_table(records)
    claims_list = [
        Claim(id="decoder_gap_cnn_vs_vit", claim="The simple decoder costs a CNN backbone much more AP than a ViT "
              "backbone", paper_value=round(paper_gap["resnet"] - paper_gap["vit"], 1),
              our_value=round(statistics.mean(gaps["difference"]), 2),
              unit="AP points: (ResNet classic - simple) - (ViT classic - simple)",
              spread=claim_spread(mean_and_error(gaps["difference"])[1]), n=len(gaps["difference"]),
              verdict=("not_tested" if not vit_learned else "reproduced" if significant(gaps["difference"]) else
                       "partially" if statistics.mean(gaps["difference"]) > 0 else "not_reproduced"),
              profile=profile, evidence=f"{train_sources}; per-seed paired difference {plus_minus(gaps['difference'])}; "
              "rule: reproduced if the mean exceeds twice its standard error over seeds, partially if positive but "
              "within that noise; paper: ResNet-50 and ViTPose-B" + learned_text,
              paper_source=PAPER["table2"]["source"]),
        Claim(id="cnn_needs_classic_decoder", claim="With a ResNet backbone the simple decoder loses much AP "
              f"({PAPER['gap_text']['value']['resnet']})", paper_value=paper_gap["resnet"],
              our_value=round(resnet_mean, 2), unit="AP points, classic - simple (ResNet)",
              spread=claim_spread(mean_and_error(gaps["resnet"])[1]), n=len(gaps["resnet"]),
              verdict="reproduced" if significant(gaps["resnet"]) else "not_reproduced", profile=profile,
              evidence=f"{train_sources}; ResNet gap {plus_minus(gaps['resnet'])}; rule: mean > 2 standard errors",
              paper_source=PAPER["gap_text"]["source"]),
        Claim(id="vit_simple_decoder_enough", claim="With a ViT backbone the simple decoder is about as good as the "
              f"classic one ({PAPER['gap_text']['value']['vit']})", paper_value=paper_gap["vit"],
              our_value=round(vit_mean, 2), unit="AP points, classic - simple (ViT)",
              spread=claim_spread(vit_error), n=len(gaps["vit"]),
              verdict=("not_tested" if not vit_learned else "reproduced" if vit_small else "not_reproduced"),
              profile=profile, evidence=f"{train_sources}; ViT gap {plus_minus(gaps['vit'])}; rule: |gap| <= max(1 AP point, "
              "2 standard errors)" + learned_text,
              paper_source=PAPER["gap_text"]["source"]),
        Claim(id="cnn_loss_is_precision", claim="The CNN's loss with the simple decoder is mostly localisation "
              "precision: AP50 drops far less than AP",
              paper_value=f"AP -{paper_gap['resnet']}, AP50 -{_paper_gap('ResNet-50', 1)}",
              our_value=f"AP -{resnet_mean:.2f}, AP50 -{statistics.mean(gaps50['resnet']):.2f}",
              unit="AP points, classic - simple (ResNet)",
              verdict=("not_tested" if resnet_mean <= 0 else
                       "reproduced" if statistics.mean(gaps50["resnet"]) < resnet_mean else "not_reproduced"),
              profile=profile, evidence=f"{train_sources}; rule: the AP50 drop is smaller than the AP drop (not tested "
              "when there is no AP drop)", paper_source=PAPER["table2"]["source"]),
        Claim(id="simple_catches_up", claim="During training the ViT's simple decoder trails the classic one early, "
              "then nearly catches up", paper_value=f"{100 * (curves['classic'][0] - curves['simple'][0]):.1f} at epoch "
              f"10 -> {100 * (curves['classic'][-1] - curves['simple'][-1]):.1f} at 210",
              our_value=f"{early_gap:.2f} at the first evaluation -> {final_gap:.2f} at the end",
              unit="AP points, classic - simple (ViT, mean over seeds)",
              verdict=("not_tested" if not vit_learned else
                       "reproduced" if early_gap > final_gap and early_gap > 0 else "not_reproduced"), profile=profile,
              evidence=f"{train_sources}; rule: the first evaluation's gap is positive and larger than the final gap; "
              f"ViT gap (classic - simple, mean over seeds) after each epoch: {epoch_gaps}",
              paper_source=curves["source"]),
        Claim(id="data_not_trivial", claim="(this book) The embedded pose data is not solved by ignoring the image",
              paper_value=None, our_value=round(baseline, 2), unit="AP of the mean-pose baseline (x100)",
              verdict="reproduced" if baseline < 0.5 * 100 * min(r["result"]["final"]["AP"] for r in
                                                                   records["train"].values()) else "not_reproduced",
              profile=profile, evidence=f"{record_source(records['data'])}; rule: baseline AP below half of every "
              "trained model's AP", paper_source=""),
    ]
    vitb = [label for label in costs.index if label.startswith("ViTPose-B")]
    if vitb:
        params = {label: costs.loc[label, "params (M)"] for label in vitb}
        claims_list.append(Claim(
            id="vitpose_b_params", claim="ViTPose-B has 86 M parameters",
            paper_value=PAPER["table9"]["value"]["ViTPose-B"]["params_m"],
            our_value=", ".join(f"{value:.1f} ({label.split()[-1]})" for label, value in params.items()),
            unit="M parameters", verdict=("reproduced" if all(round(v) == 86 for v in params.values()) else
                                          "partially" if any(round(v) == 86 for v in params.values()) else
                                          "not_reproduced"),
            profile=profile, evidence=f"{record_source(records['cost'])}; rule: rounds to 86 M (the paper does not say "
            "which decoder its count includes)", paper_source=PAPER["table9"]["source"]))
        gmacs = costs.loc[vitb[0], "GMACs"]
        claims_list.append(Claim(
            id="vitpose_b_gflops", claim="ViTPose-B costs 17.1 GFLOPs at 256x192", paper_value=PAPER["table6_gflops"]["value"],
            our_value=", ".join(f"{costs.loc[label, 'GMACs']:.2f} ({label.split()[-1]})" for label in vitb),
            unit="G multiply-adds", verdict=("reproduced" if all(abs(costs.loc[label, "GMACs"] / 17.1 - 1) <= 0.1
                                                                  for label in vitb) else "partially"
                                             if any(abs(costs.loc[label, "GMACs"] / 17.1 - 1) <= 0.1 for label in vitb)
                                             else "not_reproduced"),
            profile=profile, evidence=f"{record_source(records['cost'])}; rule: within 10%; torch's FLOP counter "
            f"(multiply-adds of convolutions, linear layers and matrix products); first row {gmacs:.2f}",
            paper_source=PAPER["table6_gflops"]["source"]))
    paper_ap = table2[("ViTPose-B", "classic")][0]
    on_coco = records["data"]["config"]["dataset"] == "coco"
    claims_list.append(Claim(id="coco_ap", claim=f"ViTPose-B reaches {paper_ap} AP on COCO val (256x192)",
                             paper_value=paper_ap, our_value=round(vit_classic, 2) if on_coco else None, unit="AP",
                             verdict=("not_tested" if not on_coco else "reproduced" if abs(vit_classic - paper_ap) <= 1
                                      else "partially" if abs(vit_classic - paper_ap) <= 3 else "not_reproduced"),
                             profile=profile,
                             evidence=(f"{train_sources}; rule: within 1 AP reproduced, within 3 partially; ground-truth "
                                       "boxes (the paper: detected boxes)") if on_coco else
                             "no COCO training in the smoke and cpu profiles (COCO cannot be downloaded here); the gpu "
                             "profile trains it", paper_source=PAPER["table2"]["source"]))
    return claims_list


def summary(records: dict) -> str:
    """The chapter's closing paragraph, every number read from the records."""
    verdicts = {c.id: c for c in records["claims"]}
    table = ablation_table(records).set_index(["backbone", "decoder"])
    gaps = paired_gaps(records)
    baseline = 100 * records["data"]["result"]["mean_pose_baseline"]["AP"]
    vit, resnet = BACKBONE_LABELS["vit"], BACKBONE_LABELS["resnet"]
    crop = next(iter(records["train"].values()))["config"]["model_config"]["image_size"]
    text = [
        f"With the classic decoder our {vit} reaches {table.loc[(vit, 'classic'), 'AP']:.1f} AP and our {resnet} "
        f"{table.loc[(resnet, 'classic'), 'AP']:.1f} (mean-pose baseline: {baseline:.1f}).",
        f"The simple decoder changes the {resnet}'s AP by {-statistics.mean(gaps['resnet']):+.2f} points "
        f"({plus_minus(gaps['resnet'])} lost) and the {vit}'s by {-statistics.mean(gaps['vit']):+.2f} ({plus_minus(gaps['vit'])} lost);",
        f"the paper: {-_paper_gap('ResNet-50'):+.1f} for ResNet-50 and {-_paper_gap('ViTPose-B'):+.1f} for ViTPose-B.",
        f"Verdicts: CNN gap larger than ViT gap: {verdicts['decoder_gap_cnn_vs_vit'].verdict}; "
        f"CNN needs the classic decoder: {verdicts['cnn_needs_classic_decoder'].verdict}; "
        f"ViT does not: {verdicts['vit_simple_decoder_enough'].verdict}.",
        f"A plausible reason the mechanism carries over at this scale: the ResNet's last stage is a stride-32 map "
        f"({crop[0] // 32}x{crop[1] // 32} on our crops), so bilinear upsampling by 8 followed by one 3x3 convolution cannot place a peak more finely than "
        "its smooth interpolation allows, while the classic decoder learns three stages of upsampling; the ViT's "
        f"map is stride 16 ({crop[0] // 16}x{crop[1] // 16}) and every token has attended to the whole crop. What does "
        "not carry over: the paper's ViTs are MAE-pretrained and large, ours are small and trained from scratch for "
        "a few epochs on generated figures, so absolute APs are not comparable to COCO's.",
    ]
    return " ".join(text)
