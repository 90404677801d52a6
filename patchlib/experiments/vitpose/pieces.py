"""The ViTPose chapter's compute pieces, in the order the chapter computes them (see the package
docstring): the data and its difficulty, the backbones' pretraining, the backbone x decoder
training runs of paper Table 2, the models' cost (Table 9) and the qualitative predictions. Each
piece has its config builder beside its compute function."""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from ...data.cache import cache_dir
from ...data.root import DataNotFoundError, resolve_data_root
from ...measure import flops, measure_throughput, parameter_count
from ...models import config_record, create_model
from ...models.init_weights import INIT_ENV, _init_record, backbone_init, load_backbone_weights
from ...pose.data import TopDownDataset, find_coco
from ...pose.evaluate import evaluate_keypoints
from ...pose.pretrain import PretrainConfig, load_pretrained_backbone, pretrain, pretraining_model
from ...pose.synthetic import describe, people_dataset
from ...pose.train import evaluate_pose, predict, train_pose
from ...results import config_hash, file_digest
from ..common import DRY_RUN_IMAGES, EMBEDDED_DATA_SEED, ChapterRun, check_checkpoint
from .config import BACKBONES, COCO_MINI, DECODERS, Size

# ---- data (how hard the pose data is: a baseline that ignores the image) ----

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
    if size.preload_gib and not cache:
        budget = int(size.preload_gib * 2**30)
        held = train.preload_images(budget)
        val.preload_images(budget - held)
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


# ---- pretraining (the paper's starting points in the book's spirit: MAE for the ViT, supervised for the ResNet) ----

def pretrain_plan(ctx: ChapterRun, backbone: str) -> PretrainConfig | None:
    """The profile's in-book pretraining of `backbone` (one epoch of a few images in a dry run);
    None where the profile has none, or where INIT_ENV names weights: those replace it (the
    training runs' configs then name the file, `_init_record`, instead of a pretrain record)."""
    plan = (ctx.size.pretrain or {}).get(backbone)
    if plan is None or backbone_init(backbone) is not None:
        return None
    if ctx.dry_run:
        plan = replace(plan, epochs=1, batch_size=4, n_train=DRY_RUN_IMAGES, n_test=DRY_RUN_IMAGES)
    return plan


def pretrain_config(ctx: ChapterRun, backbone: str) -> dict:
    """The pretrain record's config: the profile's images (`ChapterRun.profile_dataset`: CIFAR-10's in
    the cpu profile, shapes10 in smoke), the crop, the backbone's own config and the recipe."""
    plan = pretrain_plan(ctx, backbone)
    if plan is None:
        raise ValueError(f"the {ctx.profile} profile has no in-book pretraining of the {backbone} backbone"
                         + (f" ({INIT_ENV[backbone]} names its weights)" if backbone_init(backbone) else ""))
    return ctx.config(f"pretrain-{backbone}-{ctx.profile}", dataset=ctx.profile_dataset(), n_train=plan.n_train,
                      n_test=plan.n_test, image_size=list(ctx.size.image_size),
                      backbone=config_record(_backbone_config(ctx, backbone)), train=plan.record())


def _backbone_config(ctx: ChapterRun, backbone: str):
    return build_pose_model(ctx, backbone, "classic").config.backbone


def _pretrain_one(ctx: ChapterRun, backbone: str, *, force: bool = False) -> dict:
    config, plan = pretrain_config(ctx, backbone), pretrain_plan(ctx, backbone)

    def compute(data) -> dict:
        torch.manual_seed(ctx.seed)
        model = pretraining_model(plan, _backbone_config(ctx, backbone), data.train.num_classes)
        run = pretrain(model, data, plan, image_size=ctx.size.image_size, seed=ctx.seed, device=ctx.device,
                       checkpoint=ctx.checkpoint(config), progress=ctx.progress)
        counts = ({"tokens": model.config.tokens, "visible_tokens": model.config.visible_tokens}
                  if plan.objective == "mae" else {"num_classes": data.train.num_classes})
        return {"objective": plan.objective, "history": run["history"], "final": run["final"],
                "train_time_s": run["train_time_s"], "images_seen": run["images_seen"],
                "source_image_size": list(data.train.images.shape[-2:]), **counts,
                "parameters": parameter_count(model), "checkpoint": ctx.checkpoint(config).name}

    return ctx.record("pretrain", config, compute, force=force)


def pretrain_records(ctx: ChapterRun) -> dict[str, dict]:
    """{backbone: pretrain record} of the backbones the profile pretrains in the book."""
    return {b: _pretrain_one(ctx, b) for b in BACKBONES if pretrain_plan(ctx, b) is not None}


def pretrained_model(ctx: ChapterRun, backbone: str):
    """The pretrained model of `backbone`'s pretrain record, from its checkpoint (pretrained again,
    from scratch, when the record is stored but its checkpoint is gone or unfinished)."""
    plan, config = pretrain_plan(ctx, backbone), pretrain_config(ctx, backbone)
    state = check_checkpoint(ctx.checkpoint(config))
    if state is None or state["epoch"] < plan.epochs:
        _pretrain_one(ctx, backbone, force=True)
        state = check_checkpoint(ctx.checkpoint(config))
    num_classes = state["model"]["head.weight"].shape[0] if plan.objective == "classify" else 1
    model = pretraining_model(plan, _backbone_config(ctx, backbone), num_classes)
    model.load_state_dict(state["model"])
    return model


# ---- training (paper Table 2: each backbone with each decoder, several seeds) ----

def build_pose_model(ctx: ChapterRun, backbone: str, decoder: str, *, pretrained: bool = False):
    """The profile's model; with `pretrained`, its backbone loaded from the in-book pretraining
    (`pretrained_model`), or from the weights INIT_ENV names (`patchlib.models.init_weights`),
    which replace it; from neither where the profile has no pretraining and INIT_ENV is unset."""
    name, overrides = ctx.size.backbones[backbone]
    model = create_model(name, **overrides, decoder=decoder)
    if not pretrained:
        return model
    source = backbone_init(backbone)
    if source is not None:
        load_backbone_weights(model, backbone, source)
    elif pretrain_plan(ctx, backbone) is not None:
        load_pretrained_backbone(model, pretrained_model(ctx, backbone))
    return model


def start_record(ctx: ChapterRun, backbone: str) -> dict:
    """Where a training run's backbone starts, as its config entry: "pretrain", the pretrain record's
    file stem (name and config hash: a changed pretraining makes the runs stale), or "init", the
    weights INIT_ENV names; nothing for random weights (configs without either keep their hash)."""
    if pretrain_plan(ctx, backbone) is None:
        return _init_record(backbone)
    return {"pretrain": _stem(ctx, pretrain_config(ctx, backbone))}


def train_config(ctx: ChapterRun, backbone: str, decoder: str, seed: int) -> dict:
    size = ctx.size
    name = size.backbones[backbone][0]
    return ctx.config(f"train-{backbone}-{decoder}-s{seed}-{ctx.profile}", dataset=size.dataset,
                      train_images=size.train_images, val_images=size.val_images, model=name,
                      model_config=config_record(build_pose_model(ctx, backbone, decoder).config),
                      train=size.train.record(),
                      augment=asdict(size.augment), **_subset(size), **start_record(ctx, backbone)) | {"seed": seed}


def _train_one(ctx: ChapterRun, backbone: str, decoder: str, seed: int) -> dict:
    config = train_config(ctx, backbone, decoder, seed)

    def compute() -> dict:
        data = load_pose_data(ctx, seed=seed)
        torch.manual_seed(seed)
        model = build_pose_model(ctx, backbone, decoder, pretrained=True)
        trained = train_pose(model, data.train, data.val, data.val_annotations, ctx.size.train, seed=seed,
                             device=ctx.device, checkpoint=ctx.checkpoint(config), progress=ctx.progress)
        shape = (3, *ctx.size.image_size)
        return {"history": trained["history"], "final": trained["final"], "train_time_s": trained["train_time_s"],
                "parameters": parameter_count(model), "cost": flops(model, shape), "data": data.identity}

    return ctx.record("train", config, compute, uses_data=False)


# ---- cost (paper Table 9: parameters, multiply-adds, throughput) ----

def build_cost_models(ctx: ChapterRun) -> dict:
    """{label: (model, image shape)}: the paper's backbones with both decoders at 256x192, and ours."""
    models = {}
    for label, (name, overrides) in ctx.size.cost_models.items():
        for decoder in DECODERS:
            models[f"{label} {decoder}"] = (create_model(name, **overrides, decoder=decoder), (3, 256, 192))
    for backbone in BACKBONES:
        for decoder in DECODERS:
            models[f"ours: {backbone} {decoder}"] = (build_pose_model(ctx, backbone, decoder),
                                                     (3, *ctx.size.image_size))
    return models


def cost_config(ctx: ChapterRun) -> dict:
    return ctx.config(f"cost-{ctx.profile}", device_type=ctx.device.type, protocol=ctx.size.cost_protocol.record(),
                      models={label: config_record(model.config)
                              for label, (model, _) in build_cost_models(ctx).items()})


def measure_costs(ctx: ChapterRun) -> dict:
    torch.manual_seed(ctx.seed)
    models = build_cost_models(ctx)
    # The backbone alone as well: the paper's Tables 6 and 9 count it without the decoder.
    rows = {label: {"parameters": parameter_count(model), "cost": flops(model, shape), "image_size": list(shape[1:]),
                    "backbone": {"parameters": parameter_count(model.backbone), "cost": flops(model.backbone, shape)}}
            for label, (model, shape) in models.items()}
    measured = measure_throughput({label: model for label, (model, _) in models.items()},
                                  {label: shape for label, (_, shape) in models.items()}, ctx.size.cost_protocol,
                                  device=ctx.device)
    for label in rows:
        rows[label]["throughput"] = measured["models"][label]
    return {"models": rows, "protocol": measured["protocol"]}


# ---- qualitative (predicted skeletons, held-out and out of domain) ----

def qualitative_config(ctx: ChapterRun) -> dict:
    """The same whether or not the coco-mini fixture is here (a stored record must load on any
    machine); the record says whether it was found when it was computed. It names the first seed's
    training records by file stem (name and config hash), so retrained models make it stale."""
    return ctx.config(f"qualitative-{ctx.profile}", images=ctx.size.qualitative_images,
                      models={f"{b}-{d}": _stem(ctx, train_config(ctx, b, d, ctx.seed))
                              for b in BACKBONES for d in DECODERS},
                      coco_mini=f"{COCO_MINI} from the data root, when there")


def _stem(ctx: ChapterRun, config: dict) -> str:
    """A record's file stem, `<name>-<config hash>`, as stored (a dry run's configs are marked)."""
    stored = ctx.marked(config)
    return f"{stored['name']}-{config_hash(stored)}"


def _coco_mini(ctx: ChapterRun) -> Path | None:
    """The real coco-mini-val2017 fixture in the data root, if it is there and can be read (a
    damaged one is left out with a warning: see `_coco_mini_status`)."""
    return _coco_mini_status(ctx)[0]


def _coco_mini_status(ctx: ChapterRun) -> tuple[Path | None, str | None]:
    """(fixture, None) if the coco-mini-val2017 fixture is in the data root and extracts; (None, None)
    if it is not there; (None, note) if it is there but cannot be read (damaged, or not COCO's
    layout). The fixture only feeds the optional out-of-domain figure, so its own errors leave the
    figure out, with a warning and a note for the page, instead of failing the chapter."""
    path = resolve_data_root(ctx.data_root) / COCO_MINI
    if not path.is_file():
        return None, None
    try:
        find_coco(path.parent, "val2017")
    except DataNotFoundError as error:  # not NoSpaceError (a full cache disk): that is for the user to fix
        return None, _coco_mini_note(ctx, path, error)
    return path, None


def _coco_mini_note(ctx: ChapterRun, path: Path, error: Exception) -> str:
    """The page's note on an unreadable fixture (no absolute paths: it goes into the record); the
    warning gives the full message."""
    note = (f"the coco-mini fixture at {path} could not be read ({type(error).__name__}: {error}); the "
            "out-of-domain figure is left out")
    warnings.warn(f"{note}. Replace {path} with a good copy to draw it.", stacklevel=3)
    root, cache = str(resolve_data_root(ctx.data_root)), str(cache_dir())
    return note.replace(root, "<data root>").replace(cache, "<cache>")


def trained_model(ctx: ChapterRun, backbone: str, decoder: str, seed: int):
    """The trained model of a `train` record, from its checkpoint (in eval mode)."""
    config = train_config(ctx, backbone, decoder, seed)
    path = ctx.checkpoint(config)
    state = check_checkpoint(path)
    if state is None or state["epoch"] < ctx.size.train.epochs:
        raise FileNotFoundError(f"no finished training checkpoint at {path} for {config['name']}: the qualitative "
                                "figure needs the trained weights; recompute the training runs with force={'train', "
                                "'qualitative'} (or delete the stored train record)")
    model = build_pose_model(ctx, backbone, decoder)
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
            indices, points, scores = predict(model, subset, device=ctx.device, decoding=ctx.size.train.decoding)
            predictions[f"{backbone}-{decoder}"] = data.val.to_results([shown[i] for i in indices.tolist()], points,
                                                                       scores)
    result = {"images": shown_images, "predictions": predictions, "coco_mini": None, "data": data.identity}
    fixture, note = _coco_mini_status(ctx)
    coco = None
    if fixture is not None:
        annotations, image_dir = find_coco(fixture.parent, "val2017")
        try:
            coco = TopDownDataset(annotations, image_dir, image_size=ctx.size.image_size)
        except ValueError as error:  # the fixture's annotations are unusable: leave the optional figure out
            note = _coco_mini_note(ctx, fixture, error)
    if note is not None:  # only then: the records of a good or absent fixture keep their content
        result["coco_mini_note"] = note
    if coco is not None:
        scores = evaluate_pose(trained_model(ctx, "vit", "classic", ctx.seed), coco, annotations, device=ctx.device,
                               decoding=ctx.size.train.decoding)
        result["coco_mini"] = {"predictions": scores.pop("results"), "scores": scores, "people": len(coco),
                               "fixture": file_digest(fixture)}
    return result
