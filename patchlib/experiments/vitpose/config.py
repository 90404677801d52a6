"""The ViTPose chapter's data: the paper's published values, the sizes of each profile, the
dry-run overrides and the names of the backbones and decoders (no functions)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ...measure import ThroughputProtocol
from ...models.vitpose import PoseViTConfig, ResNetConfig
from ...pose.data import PoseAugment
from ...pose.pretrain import PretrainConfig
from ...pose.train import PoseTrainConfig

BACKBONES = ("vit", "resnet")
DECODERS = ("classic", "simple")    # Eq. 2 (two deconvolutions) and Eq. 3 (bilinear + 3x3 conv)
BACKBONE_LABELS = {"vit": "ViT", "resnet": "ResNet"}
COCO_MINI = "coco-mini-val2017.tar.gz"

# Published values (../shared/paper_values.md §4; all CONFIRMED there but `official_config`, read directly).
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
    "table1": {"status": "confirmed", "source": f"{PAPER_TEXT}, Table 1 and §4.1 (ViTPose-B, COCO only)",
               "value": {"batch": 512, "lr": 5e-4, "weight_decay": 0.1, "layer_decay": 0.75, "drop_path": 0.3,
                         "epochs": 210, "milestones": (170, 200), "lr_divisor": 10}},
    # The official ViTPose-B config (read at commit 33f49cf1f240; not yet in paper_values.md): the crop, the
    # patch (the feature map's stride), the heatmap, the classic decoder's width, the augmentation, the
    # detector whose boxes the paper evaluates on ("COCO_val2017_detections_AP_H_56_person.json"), the
    # targets' sigma (TopDownGenerateTarget), the decoding's blur (test_cfg modulate_kernel) and oks_thr.
    "official_config": {"status": "not sourced", "source": "official ViTAE-Transformer/ViTPose configs/body/"
                        "2d_kpt_sview_rgb_img/topdown_heatmap/coco/ViTPose_base_coco_256x192.py (commit 33f49cf1f240; "
                        "read for this chapter, not yet among the project's sourced values)",
                        "value": {"input": (256, 192), "patch": 16, "heatmap": (64, 48), "deconv_filters": 256,
                                  "flip": 0.5, "scale_factor": 0.5, "rotation_factor": 40, "half_body_prob": 0.3,
                                  "detector_ap": 56, "sigma": 2, "blur_kernel": 11, "oks_thr": 0.9}},
    # The paper's setting beside ours (paper_values.md §4d), one entry per row of the setup table.
    "setup": {"status": "confirmed", "source": f"{PAPER_TEXT}, Table 1 and §4.1",
              "value": {"data": "COCO train2017 / val2017 (person keypoints)",
                        "models": "ViTPose-B/L/H (MAE-pretrained) and SimpleBaseline ResNet-50/152 "
                                  "(ImageNet-pretrained)",
                        "training": "210 epochs, batch 512, AdamW lr 5e-4, weight decay 0.1, layer decay 0.75 (B), "
                                    "drop path 0.3, step decay at 170 and 200 (Table 1)",
                        "crop": "256x192"}},
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
    # COCO only: GiB of decoded images held in memory before the loader's workers fork (the training
    # images first, then the validation ones; `TopDownDataset.preload_images`); 0: decoded on each read.
    preload_gib: float = 0.0
    # The in-book pretraining per backbone ({"vit": mae, "resnet": classify}; `patchlib.pose.pretrain`),
    # on the profile's natural images (`ChapterRun.profile_dataset`), before the training runs, whose
    # backbones start from it; None: none (INIT_ENV's weights, if named, else random ones).
    pretrain: dict | None = None


# A lighter augmentation for short from-scratch runs. Measured on the cpu profile's ViT + classic
# decoder (8 epochs, one seed): val AP 0.024 with ViTPose's augmentation and lr 1e-3, 0.084 with
# this and lr 2e-3.
CPU_AUGMENT = PoseAugment(scale=0.25, rotation=20.0, half_body_prob=0.0)

# The crop of the cpu profile: 128x96 keeps the paper's geometry at half the side (patch 16, an 8x6
# token grid, heatmaps at 1/4 resolution, two deconvolutions). The ViT is the official backbone
# (padded patch embedding, no class token) without drop path. The ResNet's last stage runs at
# stride 1 (`ResNetConfig.last_stride`; a deviation the page states): its last map is 8x6 too, the
# paper's ResNet map at 256x192, where torchvision's stride 32 would leave 4x3 cells per person.
CPU_CROP = (128, 96)
_vit_cpu = PoseViTConfig(image_size=CPU_CROP, dim=192, depth=6, heads=3, drop_path=0.0)
_resnet_cpu = ResNetConfig(18, last_stride=1)

# The in-book pretraining of the smoke and cpu profiles (issue 23 §2), on CIFAR-10's training images
# in the cpu profile (shapes10 in smoke), each a 128x96 crop (`patchlib.pose.pretrain`): the ViT as a
# masked autoencoder (MAE: 75 % of its 48 tokens masked, a 2-block 128-wide decoder, normalised-pixel
# targets), the ResNet supervised on the 10 classes, for about the same wall-clock time. PLANNED, NOT
# YET MEASURED AT FULL SIZE: `benchmarks/vitpose_budget.py --steps 4` on an idle 2-core machine timed
# the MAE at ~450 img/s in bf16 with fp32 attention (~280 in plain bf16, ~330 in fp32) and the
# ResNet-18 classifier at stride 16 at ~100 img/s in bf16 (~45 in fp32), evaluation included: 4
# epochs of 50,000 images (~7 min) and 4 epochs of 10,000 (~6.5 min).
_pretrain_cpu = {
    "vit": PretrainConfig(objective="mae", epochs=4, n_train=None, n_test=1000, batch_size=128, lr=1.5e-3,
                          weight_decay=0.05, warmup_epochs=0.5, precision="bf16_fp32_attention", decoder_dim=128,
                          decoder_depth=2, decoder_heads=4),
    "resnet": PretrainConfig(objective="classify", epochs=4, n_train=10_000, n_test=1000, batch_size=64, lr=2e-3,
                             weight_decay=0.05, warmup_epochs=0.5, precision="bf16", label_smoothing=0.1)}

# Heatmap targets and decoding. The gpu profile uses ViTPose's (PoseTrainConfig's defaults:
# "udp_window" targets, "dark_udp" decoding); smoke and cpu keep the book's earlier choices
# (untruncated Gaussians, weight 0 outside the crop; a Newton step without blur), which the page
# lists as a deviation (prose.HEATMAPS).
CPU_HEATMAPS = {"target": "udp_inside", "decoding": "newton"}
_paper_models = {"ViTPose-B": ("vitpose_b", {}), "ResNet-50": ("simplebaseline_res50", {}),
                 "ResNet-152": ("simplebaseline_res152", {})}

SIZES = {
    # Seconds on any CPU: every piece end to end on a few generated images, tiny models.
    "smoke": Size(dataset="synthetic-people", train_images=16, val_images=6, image_size=CPU_CROP,
                  backbones={"vit": ("vitpose_tiny", {"backbone": PoseViTConfig(image_size=CPU_CROP, dim=32, depth=2,
                                                                               heads=2),
                                                      "image_size": CPU_CROP, "deconv_channels": 16}),
                             "resnet": ("simplebaseline_res18", {"backbone": _resnet_cpu, "image_size": CPU_CROP,
                                                                 "deconv_channels": 16})},
                  seeds=2, train=PoseTrainConfig(epochs=2, batch_size=16, lr=1e-3, warmup_steps=2, precision="fp32",
                                                 **CPU_HEATMAPS),
                  pretrain={"vit": PretrainConfig(objective="mae", epochs=2, n_train=32, n_test=8, batch_size=8,
                                                  warmup_epochs=0.5, precision="fp32", decoder_dim=16, decoder_depth=1,
                                                  decoder_heads=2),
                            "resnet": PretrainConfig(objective="classify", epochs=2, n_train=16, n_test=8, batch_size=8,
                                                     warmup_epochs=0.5, precision="fp32")},
                  cost_models={}, cost_protocol=ThroughputProtocol(batch_size=2, warmup=1, repeats=1, rounds=1),
                  qualitative_images=2),
    # MEASURED (records of 2026-12-06, 2 CPU cores): the two pretrainings 7.6 min (MAE) and 14.7 min (the
    # ResNet-18, beside another job's tests; planned 6.5), then a 6-layer, 192-wide ViT (3.5 M parameters
    # with the classic decoder) against ResNet-18 at stride 16, fine-tuned on 128x96 crops of 3,386
    # procedural people (1,500 images), 6 epochs, 3 seeds in bf16 with fp32 attention: a seed took 18 min
    # alone (ViT 2.5 + 2.3 min, ResNet 5.8 + 7.5 min, evaluation included). 89.5 min wall in all, of which
    # ~40 min shared the cores; ~75 min on a quiet machine (benchmarks/vitpose_budget.py planned ~60).
    "cpu": Size(dataset="synthetic-people", train_images=1500, val_images=150, image_size=CPU_CROP,
                backbones={"vit": ("vitpose_tiny", {"backbone": _vit_cpu, "image_size": CPU_CROP, "deconv_channels": 128}),
                           "resnet": ("simplebaseline_res18", {"backbone": _resnet_cpu, "image_size": CPU_CROP,
                                                               "deconv_channels": 128})},
                seeds=3, train=PoseTrainConfig(epochs=6, batch_size=32, lr=2e-3, weight_decay=0.05, warmup_steps=100,
                                               precision="bf16_fp32_attention", **CPU_HEATMAPS),
                augment=CPU_AUGMENT, pretrain=_pretrain_cpu,
                cost_models=_paper_models, cost_protocol=ThroughputProtocol(batch_size=4, warmup=1, repeats=2, rounds=1)),
    # The paper's setting (Table 1, §4.1): COCO train2017 -> val2017 at 256x192, ViTPose-B against
    # SimpleBaseline ResNet-50, 210 epochs, AdamW 5e-4, weight decay 0.1, layer-wise decay 0.75,
    # step decay at 170 and 200 (ground-truth boxes at evaluation: see the deviations). Backbones
    # start from random weights unless INIT_ENV names pretrained ones (the paper: MAE / ImageNet):
    # no in-book pretraining here (CIFAR-10 at 256x192 would stand in for ImageNet far worse than
    # MAE's and torchvision's released weights, which INIT_ENV loads); torchvision's ResNet stride 32.
    "gpu": Size(dataset="coco", image_size=(256, 192),
                backbones={"vit": ("vitpose_b", {}), "resnet": ("simplebaseline_res50", {})}, seeds=3,
                # evaluated every 10 epochs and after the last, as the official configs (evaluation interval=10)
                train=PoseTrainConfig(epochs=210, batch_size=512, lr=5e-4, weight_decay=0.1, layer_decay=0.75,
                                      num_workers=8, eval_every=10),
                # COCO train2017's ~64k images with people, decoded, are estimated at ~54 GB (at ~580x480 px on
                # average): most of them fit beside training in the gpu machine's 128 GiB.
                preload_gib=48.0,
                cost_models=_paper_models, cost_protocol=ThroughputProtocol(batch_size=64)),
}

# Dry-run overrides (common.dry_run_size); one seed: the further seeds train the same models again.
DRY_RUN = {"max_people": 8, "qualitative_images": 1, "seeds": 1}
