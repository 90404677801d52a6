"""The ViTPose chapter's setting against the paper's, read from its records: the bullets of "How this
run differs" (`bullets`: data, pretraining, models, the ResNet's stride, recipe, heatmaps, boxes,
class token) and the backbones' pretraining (its table, curves and paragraphs). It never computes;
every number goes through the prose's `Numbers` (`num`), so that `readers.facts` lists it."""
from __future__ import annotations

import math

import pandas as pd

from .config import BACKBONE_LABELS, BACKBONES, PAPER
from .readers import RESNET_STRIDE, backbone_stride, feature_map, paper_map

INIT_ENV = {"vit": "PATCHLIB_VITPOSE_VIT_INIT", "resnet": "PATCHLIB_VITPOSE_RESNET_INIT"}  # as models.init_weights
START_WORDS = {"pretrain": "its in-book pretraining", "init": "weights named by INIT_ENV", "random": "random weights"}
DATASET_NAMES = {"cifar10": "CIFAR-10", "shapes10": "shapes10 (the book's generated shapes)"}


# ---- how this run differs ----

def data_bullet(records: dict, num) -> str:
    data, dataset = records["data"]["result"], records["data"]["config"]["dataset"]
    people = (f"{num('train_people', data['train']['people'], ',')} train / {num('val_people', data['val']['people'], ',')} "
              f"val people in {num('train_images', data['train']['images'], ',')} / "
              f"{num('val_images', data['val']['images'], ',')} images")
    if dataset == "coco":
        return f"**Data.** COCO train2017 / val2017, as in the paper: {people}."
    return ("**Data.** The paper trains on COCO train2017 and reports COCO val2017. This run trains and evaluates on "
            f"*generated* people (`patchlib.pose.synthetic`), {people}: figures with COCO's keypoints and skeleton, "
            "varied scale, rotation, clothing, backgrounds, clutter, occluders and overlapping people, with COCO "
            "visibility flags and boxes, read by the same loader and scored by the same COCOeval. Their AP measures "
            "the same thing as COCO's but is not comparable to it in value. Only the gpu profile reads COCO.")


def scale_bullet(records: dict, num) -> str:
    config = {b: first_config(records, b) for b in BACKBONES}
    vit = config["vit"]["model_config"]["backbone"]
    official = PAPER["official_config"]["value"]
    starts = ", ".join(f"{BACKBONE_LABELS[b]} from {START_WORDS[start(records, b)]}" for b in BACKBONES)
    return (f"**Small models.** The paper's backbones are ViTs (B, L, H) and ResNets pretrained on ImageNet. Ours: a "
            f"{num('vit_depth', vit['depth'])}-layer, {num('vit_dim', vit['dim'])}-wide ViT (`{config['vit']['model']}`) "
            f"and `{config['resnet']['model']}` ({starts}) on {num.size('crop', config['vit']['model_config']['image_size'])} "
            f"crops: the ViT's feature map is {num.size('vit_map', feature_map(records, 'vit'))} (the paper's "
            f"{num.size('paper_vit_map', paper_map('vit'))}), the ResNet's "
            f"{num.size('resnet_map', feature_map(records, 'resnet'))} (the paper's "
            f"{num.size('paper_resnet_map', paper_map('resnet'))}); the classic decoder is "
            f"{num('deconv', config['vit']['model_config']['deconv_channels'])} channels wide (the official config: "
            f"{num('paper_deconv', official['deconv_filters'])}).")


def first_config(records: dict, backbone: str) -> dict:
    """The config of the first training run of `backbone`."""
    return next(r for (b, _, _), r in sorted(records["train"].items()) if b == backbone)["config"]


def _vit_config(records: dict) -> dict:
    return first_config(records, "vit")


def recipe_bullet(records: dict, num) -> str:
    config = _vit_config(records)
    train, augment, paper = config["train"], config["augment"], PAPER["table1"]["value"]
    # Records from before the backbone had drop path have no field: they ran without it.
    drop_path = config["model_config"]["backbone"].get("drop_path", 0.0)
    official = PAPER["official_config"]["value"]
    layer = "none" if train["layer_decay"] is None else num("layer_decay", train["layer_decay"])
    steps = " and ".join(f"{num(f'milestone_{i}', 100 * m, '.0f')} %" for i, m in enumerate(train["milestones"]))
    return (f"**Recipe.** AdamW with the paper's weight-decay rules, a linear warm-up of "
            f"{num('warmup', train['warmup_steps'])} steps and step decay (÷{num('lr_divisor', paper['lr_divisor'])} "
            f"at {steps} of training; the paper: epochs {num('paper_milestone_0', paper['milestones'][0])} and "
            f"{num('paper_milestone_1', paper['milestones'][1])} of {num('paper_epochs', paper['epochs'])}). This run: "
            f"{num('epochs', train['epochs'])} epochs, batch {num('batch', train['batch_size'])}, peak lr "
            f"{num('lr', train['lr'], 'g')}, weight decay {num('weight_decay', train['weight_decay'], 'g')}, layer-wise "
            f"decay {layer}, {train['precision']}; the paper: batch {num('paper_batch', paper['batch'])}, lr "
            f"{num('paper_lr', paper['lr'], 'g')}, weight decay {num('paper_weight_decay', paper['weight_decay'], 'g')}, "
            f"layer-wise decay {num('paper_layer_decay', paper['layer_decay'], 'g')}, drop path "
            f"{num('paper_drop_path', paper['drop_path'], 'g')} (this run's ViT: {num('drop_path', drop_path, 'g')}). "
            "The official "
            f"pipeline flips with probability {num('paper_flip', official['flip'], 'g')}, scales by a factor up to "
            f"{num('paper_scale', official['scale_factor'], 'g')}, rotates by up to "
            f"{num('paper_rotation', official['rotation_factor'])}° and crops half bodies with probability "
            f"{num('paper_half_body', official['half_body_prob'], 'g')}; this run: flip "
            f"{num('flip', augment['flip'], 'g')}, scale {num('scale', augment['scale'], 'g')}, rotation "
            f"{num('rotation', augment['rotation'], 'g')}° (probability {num('rotation_prob', augment['rotation_prob'], 'g')}), "
            f"half bodies {num('half_body', augment['half_body_prob'], 'g')}.")


def boxes_bullet(num) -> str:
    return ("**Boxes at evaluation.** The paper evaluates on person boxes from a detector "
            f"({num('detector_ap', PAPER['official_config']['value']['detector_ap'])} AP, named in the official config); "
            "we use the ground-truth boxes, which removes detection errors from every row alike.")


CLASS_TOKEN = ("**Class token.** The book's ViT keeps its class token in the sequence; only the patch tokens are "
               "reshaped into the feature map (ViTPose has no class token).")

# The methods of the records computed before PoseTrainConfig named its target and decoding methods.
EARLIER_HEATMAPS = {"target": "udp_inside", "decoding": "newton"}


def class_token_bullet(records: dict) -> str:
    """Only for records of the earlier backbone (a ViT classifier's encoder, before `patch_padding`): since
    then the ViT is the official one (padded patch embedding, no class token, parity-tested)."""
    return "" if "patch_padding" in _vit_config(records)["model_config"]["backbone"] else CLASS_TOKEN


def heatmaps_bullet(records: dict, num) -> str:
    """The heatmap targets and decoding, where they are not ViTPose's."""
    train = _vit_config(records)["train"]
    target, decoding = (train.get(key, EARLIER_HEATMAPS[key]) for key in ("target", "decoding"))
    if (target, decoding) == ("udp_window", "dark_udp"):
        return ""
    official = PAPER["official_config"]["value"]
    window = 6 * official["sigma"] + 1
    ours = []
    if target != "udp_window":
        ours.append("trains on untruncated Gaussians, with weight 0 for keypoints outside the crop")
    if decoding != "dark_udp":
        ours.append("decodes by the Newton step alone, without the blur")
    return (f"**Heatmaps.** ViTPose cuts each target Gaussian (sigma {num('paper_sigma', official['sigma'])}) to a "
            f"{num('paper_window', window)}×{num('paper_window', window)} window, so keypoints just outside the crop "
            f"still train a partial Gaussian, and decodes by DARK-UDP (a Gaussian blur of size "
            f"{num('paper_blur_kernel', official['blur_kernel'])}, then a Newton step on the log-heatmap); this run: "
            f"{'; '.join(ours)} (`{target}`, `{decoding}` in `patchlib.pose.heatmaps`).")


# ---- where the backbones start: the in-book pretraining (patchlib.pose.pretrain) ----

def start(records: dict, backbone: str) -> str:
    """Where `backbone`'s training runs start, from their config: "pretrain" (a pretrain record of
    this run), "init" (weights INIT_ENV named) or "random"."""
    config = first_config(records, backbone)
    return "pretrain" if "pretrain" in config else "init" if "init" in config else "random"


def pretrain_runs(records: dict) -> dict[str, dict]:
    """{backbone: pretrain record} of the backbones pretrained in the book, in BACKBONES order."""
    found = records.get("pretrain") or {}
    return {b: found[b] for b in BACKBONES if b in found}


def pretrain_curves(records: dict) -> dict[str, dict[str, list[float]]]:
    """{backbone: {"epoch", "train_loss", "test_loss" and, for the classifier, "train_acc", "test_acc"}}."""
    curves = {}
    for backbone, record in pretrain_runs(records).items():
        history = record["result"]["history"]
        curves[backbone] = {key: [entry[key] for entry in history] for key in
                            ("epoch", "train_loss", "test_loss", "train_acc", "test_acc") if key in history[0]}
    return curves


def pretrain_table(records: dict):
    """One row per pretrained backbone: objective, images, recipe, time, and the last evaluation."""
    rows = []
    for backbone, record in pretrain_runs(records).items():
        train, result = record["config"]["train"], record["result"]
        rows.append({"backbone": BACKBONE_LABELS[backbone], "objective": result["objective"],
                     "images": f"{record['config']['dataset']}: {record['provenance']['data']['n_train']:,} train / "
                               f"{record['provenance']['data']['n_test']:,} test",
                     "epochs": train["epochs"], "batch": train["batch_size"], "lr": train["lr"],
                     "crops seen": result["images_seen"], "train min": result["train_time_s"] / 60,
                     "test loss": result["final"]["test_loss"], "test acc (%)": result["final"].get("test_acc")})
    return pd.DataFrame(rows).set_index("backbone") if rows else pd.DataFrame()


def _minutes(record: dict, name: str, num) -> str:
    return num(f"{name}_minutes", record["result"]["train_time_s"] / 60, ".1f")


def pretraining_bullet(records: dict, num) -> str:
    """The paper's starting points against ours (the in-book pretraining, INIT_ENV's weights or none)."""
    runs, ours = pretrain_runs(records), []
    for backbone in BACKBONES:
        kind = start(records, backbone)
        if kind == "random":
            ours.append(f"our {BACKBONE_LABELS[backbone]} starts from random weights")
        elif kind == "init":
            ours.append(f"our {BACKBONE_LABELS[backbone]} starts from the weights `{INIT_ENV[backbone]}` named (the "
                        "training records' configs name the file), in place of the book's pretraining")
        elif backbone not in runs:
            ours.append(f"our {BACKBONE_LABELS[backbone]} starts from the book's pretraining (its record is not "
                        "among these)")
        else:
            record = runs[backbone]
            train, result = record["config"]["train"], record["result"]
            dataset = DATASET_NAMES.get(record["config"]["dataset"], record["config"]["dataset"])
            images = (f"{num(f'pretrain_{backbone}_images', record['provenance']['data']['n_train'], ',')} "
                      f"{dataset} training images for {num(f'pretrain_{backbone}_epochs', train['epochs'])} "
                      f"epoch{'s' if train['epochs'] != 1 else ''} ({_minutes(record, f'pretrain_{backbone}', num)} min)")
            if result["objective"] == "mae":
                ours.append(f"our ViT was pretrained in the book as a masked autoencoder (He et al.) on {images}: "
                            f"{num('mask_percent', 100 * train['mask_ratio'], 'g')} % of its "
                            f"{num('mae_tokens', result['tokens'])} patch tokens removed at random per image, the "
                            f"encoder seeing the other {num('mae_visible', result['visible_tokens'])}, and a "
                            f"{num('mae_decoder_depth', train['decoder_depth'])}-block, "
                            f"{num('mae_decoder_dim', train['decoder_dim'])}-wide decoder predicting the removed "
                            "patches' pixels, normalised per patch")
            else:
                ours.append(f"our ResNet was pretrained in the book to classify {images} into their "
                            f"{num('pretrain_classes', result['num_classes'])} classes")
    text = ("**Pretraining.** The paper fine-tunes ViTs pretrained as masked autoencoders on ImageNet and ResNets "
            f"pretrained to classify ImageNet. Here {'; '.join(ours)}.")
    if runs:
        record = next(iter(runs.values()))
        low, high = record["config"]["train"]["crop_scale"]
        source, crop = record["result"]["source_image_size"], record["config"]["image_size"]
        text += (f" Each pretraining image is upsampled from {num.size('pretrain_source', source)} pixels to a "
                 f"{num.size('crop', crop)} crop, the pose crop's size: MAE's random resized crop (a region of "
                 f"{num('crop_scale_low', low, 'g')} to {num('crop_scale_high', high, 'g')} of its area, flipped half "
                 "the time), resampled bilinearly; the images stand in for ImageNet, at a small fraction of its "
                 "size and resolution. Every training run's backbone starts from these weights (the ViT's final "
                 "norm excepted, as ViTPose loads MAE's).")
    return text


def stride_bullet(records: dict, num) -> str:
    """The ResNet's last stage at stride 1 (`ResNetConfig.last_stride`), where the records ran it."""
    config = first_config(records, "resnet")["model_config"]
    stride = backbone_stride(config)
    if stride == RESNET_STRIDE:
        return ""
    crop = config["image_size"]
    deconvs = lambda s: int(math.log2(s // 4))  # the classic decoder: one deconvolution per factor 2 down to 1/4
    return (f"**The ResNet's stride.** torchvision's ResNet, the paper's, ends at stride "
            f"{num('resnet_paper_stride', RESNET_STRIDE)}: at our {num.size('crop', crop)} crop its last map would be "
            f"{num.size('resnet_map_at_paper_stride', [side // RESNET_STRIDE for side in crop])} cells. Ours runs the "
            f"first block of its last stage at stride {num('resnet_last_stride', config['backbone']['last_stride'])} "
            f"(stride {num('resnet_stride', stride)} in all), so its last map is "
            f"{num.size('resnet_map', feature_map(records, 'resnet'))}, the paper's ResNet map at "
            f"{num.size('paper_input', PAPER['official_config']['value']['input'])}, and its classic decoder has "
            f"{num('resnet_deconvs', deconvs(stride))} deconvolutions, as the ViT's (SimpleBaseline's: "
            f"{num('paper_resnet_deconvs', deconvs(RESNET_STRIDE))}). The later blocks are unchanged (no dilation), "
            "so each cell of the last stage sees a smaller share of the person than in the paper's ResNet.")


def pretraining_text(records: dict, num) -> str:
    """The pretraining section's paragraph: each objective's first and last evaluation."""
    said = []
    for backbone, curve in pretrain_curves(records).items():
        first, last = curve["epoch"][0], curve["epoch"][-1]
        at = lambda key, spec, i: num(f"pretrain_{backbone}_{key}_{curve['epoch'][i]}", curve[key][i], spec)
        if "test_acc" in curve:
            classes = pretrain_runs(records)[backbone]["result"]["num_classes"]
            said.append(f"the ResNet's test accuracy is {at('test_acc', '.1f', 0)} % after epoch "
                        f"{num('pretrain_first_epoch', first)} and {at('test_acc', '.1f', -1)} % after epoch "
                        f"{num(f'pretrain_{backbone}_last_epoch', last)} (chance: "
                        f"{num('pretrain_chance', 100 / classes, '.0f')} %)")
        else:
            said.append(f"the MAE's loss on the removed patches of the test images is {at('test_loss', '.3f', 0)} after "
                        f"epoch {num('pretrain_first_epoch', first)} and {at('test_loss', '.3f', -1)} after epoch "
                        f"{num(f'pretrain_{backbone}_last_epoch', last)} (predicting each patch's mean scores about "
                        f"{num('mae_mean_predictor', 1)}: its targets have unit variance)")
    return ("In this run " + "; ".join(said) + ".") if said else ""


def pretrain_caption(records: dict, num) -> str:
    """The pretraining figure's caption: what each panel plots, on which images."""
    panels = []
    for backbone, record in pretrain_runs(records).items():
        plotted = "the MAE loss on the removed patches" if record["result"]["objective"] == "mae" else "the accuracy"
        tests = num(f"pretrain_{backbone}_test_images", record["provenance"]["data"]["n_test"], ",")
        dataset = DATASET_NAMES.get(record["config"]["dataset"], record["config"]["dataset"]).split(" (")[0]
        panels.append(f"{BACKBONE_LABELS[backbone]}: {plotted} on training crops and on the centre crops of "
                      f"{tests} {dataset} test images")
    return f"The backbones' pretraining, per epoch. {'; '.join(panels)}." if panels else ""
