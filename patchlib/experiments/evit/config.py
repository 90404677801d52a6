"""The EViT chapter's data: the published values it compares with (the official Model Zoo and the
abstract), its sizes per profile and its dry-run overrides. No computation here."""
from __future__ import annotations

from dataclasses import dataclass

from ...measure import ThroughputProtocol
from ...train import TrainConfig

CHAPTER = "evit"

# Published values (../shared/paper_values.md §2). The official repository's Model Zoo: EViT-DeiT-S
# on ImageNet-1k (224 px, 196 tokens, reorganisation in layers 4, 7, 10, 300 epochs, batch 16x128).
ZOO_SOURCE = "youweiliang/evit README.md, Model Zoo (official repository)"
PAPER = {
    "model_zoo": {"source": ZOO_SOURCE, "status": "confirmed",
                  "unit": "% top-1 / % top-5 / GMACs / img/s / M parameters", "value": [
        {"fusion": True, "keep_rate": 0.9, "acc1": 79.8, "acc5": 95.0, "gmacs": 4.0, "throughput": 3197, "params_m": 22.1},
        {"fusion": True, "keep_rate": 0.8, "acc1": 79.8, "acc5": 94.9, "gmacs": 3.5, "throughput": 3619, "params_m": 22.1},
        {"fusion": True, "keep_rate": 0.7, "acc1": 79.5, "acc5": 94.8, "gmacs": 3.0, "throughput": 4385, "params_m": 22.1},
        {"fusion": True, "keep_rate": 0.6, "acc1": 78.9, "acc5": 94.5, "gmacs": 2.6, "throughput": 4722, "params_m": 22.1},
        {"fusion": True, "keep_rate": 0.5, "acc1": 78.5, "acc5": 94.2, "gmacs": 2.3, "throughput": 5408, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.9, "acc1": 79.9, "acc5": 94.9, "gmacs": 4.0, "throughput": 3201, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.8, "acc1": 79.7, "acc5": 94.8, "gmacs": 3.5, "throughput": 3772, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.7, "acc1": 79.4, "acc5": 94.7, "gmacs": 3.0, "throughput": 4249, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.6, "acc1": 79.1, "acc5": 94.5, "gmacs": 2.6, "throughput": 4967, "params_m": 22.1},
        {"fusion": False, "keep_rate": 0.5, "acc1": 78.4, "acc5": 94.1, "gmacs": 2.3, "throughput": 5325, "params_m": 22.1},
    ]},
    # The abstract names no keep rate; paper_values.md matches the headline to keep rate 0.7 with fusion.
    "headline": {"value": {"speedup": 1.5, "delta_acc": -0.3}, "unit": "x throughput / pp top-1", "status": "confirmed",
                 "source": "EViT paper, Abstract: \"the inference speed of DeiT-S is increased by 50% while its "
                           "recognition accuracy is decreased by only 0.3%\""},
    "same_cost_gain": {"value": 1, "unit": "pp top-1", "status": "confirmed",
                       "source": "EViT paper, Abstract (higher-resolution inputs at DeiT-S's cost)"},
    "trained_with_reorganization": {"value": "qualitative", "unit": "", "status": "confirmed",
                                    "source": "EViT paper, Abstract: the reorganisation \"is integrated into ViT "
                                              "during training\" (public copy of the abstract, tomesphere.com)"},
    "deit_s_baseline": {"value": {"throughput": 2923, "acc1": 79.8, "gmacs": 4.6}, "unit": "img/s / % / GMACs",
                        "status": "secondary", "source": "the EViT paper's DeiT-S row as quoted by a third-party "
                                                         "review (secondary)"},
    "throughput_setting": {"value": {"device": "one NVIDIA A100 GPU", "batch_size": 128}, "unit": "",
                           "status": "secondary",
                           "source": "the EViT paper's throughput setting as quoted by a third-party review (secondary)"},
    # Read in the official repository for issue 22 (not yet in paper_values.md): run_code.sh trains
    # deit_small_patch16_shrink_base at --input-size 224 for --epochs 300, keep rate 1 until
    # --shrink_start_epoch 10, then lowered over --shrink_epochs 100; main.py's --drop_loc default
    # '(3, 6, 9)' (0-based) puts the reorganisation in layers 4, 7, 10 of DeiT-S's 12.
    "recipe": {"value": {"image_size": 224, "patch_size": 16, "depth": 12, "width": 384, "heads": 6,
                         "reorganize_layers": [4, 7, 10], "epochs": 300, "shrink_start_epoch": 10,
                         "shrink_epochs": 100},
               "unit": "px / layers / epochs", "status": "not sourced",
               "source": "youweiliang/evit run_code.sh and main.py's --drop_loc default (official repository, read "
                         "for this chapter but not yet among the project's sourced values; DeiT-S's depth, width and "
                         "heads as timm's deit_small_patch16_224 defines them)"},
    # The official fine-tuning command and the DeiT training defaults it keeps (main.py's argparse
    # defaults, which finetune.sh does not override), read for issue 26.
    "finetune_recipe": {"value": {"epochs": 30, "lr": 2e-5, "min_lr": 2e-6, "weight_decay": 1e-6, "warmup_epochs": 0,
                                  "batch_per_process": 128, "processes": 8, "drop_path": 0.1, "mixup_alpha": 0.8,
                                  "cutmix_alpha": 1.0, "random_erase": 0.25, "label_smoothing": 0.1,
                                  "randaugment": "rand-m9-mstd0.5-inc1 (timm)", "color_jitter": 0.4,
                                  "repeated_augmentation": True, "model_ema": True},
                        "unit": "AdamW, cosine schedule", "status": "not sourced",
                        "source": "youweiliang/evit finetune.sh (lr, min-lr, weight decay, batch, epochs, 8 processes) "
                                  "and main.py's defaults (drop path, mixup, CutMix, random erasing, label smoothing, "
                                  "RandAugment, colour jitter, repeated augmentation, EMA), read for issue 26"},
}


@dataclass(frozen=True, kw_only=True)
class Size:
    """One profile's sizes (`SIZES`): the fine-tuning recipe and points, the keep-rate schedule, the timing."""

    finetune: TrainConfig                        # fine-tuning from the baseline, per (keep rate, fusion)
    n_finetune: int | None                       # fine-tuning images (None: the baseline's whole training set)
    finetune_points: tuple[tuple[float, bool], ...]  # (keep rate, fusion); the keep-1 control is added
    schedule_start: float                        # keep-rate schedule (§4.1): fraction of steps at keep rate 1, ...
    schedule_ramp: float                         # ... then cosine down to the target over this fraction
    offshelf_keep_rates: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    visual_images: int = 6                       # test images of the token visualisation
    visual_keep_rate: float = 0.7                # fine-tuned (fused) model shown in the visualisation
    throughput: ThroughputProtocol = ThroughputProtocol()
    seeds: int = 1                               # fine-tuning seeds of `seeded_points`: seed, seed + 1, ...
    seeded_points: tuple[tuple[float, bool | None], ...] = ((0.5, True), (0.5, False), (0.7, True), (1.0, None))
    higher_resolution: int | None = None         # px: fine-tuned (fused) at the base model's GMACs, every seed
    resolution_keep_rates: tuple[float, ...] = tuple(k / 100 for k in range(30, 100, 5))  # the largest within cost


SIZES = {
    # Seconds: the ViT chapter's smoke model, fine-tuned on 384 images per point (whose normalisation
    # statistics, those of the subset, differ slightly from the baseline's: smoke only), batch-32 timing.
    "smoke": Size(finetune=TrainConfig(epochs=1, batch_size=64, lr=2e-4, warmup_epochs=0.1), n_finetune=384,
                  finetune_points=((0.5, True), (0.7, True), (0.5, False)),
                  schedule_start=0.0, schedule_ramp=0.5, seeds=2, higher_resolution=40,
                  throughput=ThroughputProtocol(batch_size=32, warmup=1, repeats=2, rounds=1)),
    # ~65 min on 2 CPU cores: the ViT chapter's cpu model (6 layers, width 128, 8 heads, 64 tokens),
    # one epoch of CIFAR-10 per point (8 points, then the 4 seeded points with 2 more seeds), the
    # keep rate ramping down over its first half; the higher-resolution test at 40 px (100 tokens,
    # the keep rate whose GMACs match the 32-px model's) with 3 seeds; evaluations ~15 s each; cost
    # ~1-2 min. bf16 with fp32 attention (issue 28: 1.44x the fp32 training speed).
    "cpu": Size(finetune=TrainConfig(epochs=1, batch_size=128, lr=2e-4, warmup_epochs=0.1,
                                     precision="bf16_fp32_attention"), n_finetune=None,
                finetune_points=((0.5, True), (0.6, True), (0.7, True), (0.8, True), (0.9, True),
                                 (0.5, False), (0.7, False)),
                schedule_start=0.0, schedule_ramp=0.5, seeds=3, higher_resolution=40),
    # The official fine-tuning recipe (youweiliang/evit finetune.sh: --lr 2e-5 --weight-decay 1e-6
    # --warmup-epochs 0 --shrink_start_epoch 0 --shrink_epochs 0 --epochs 30) on the ViT chapter's
    # 12-layer gpu model: the target keep rate from the first step, cosine lr decay (to 0 here; the
    # official schedule stops at --min-lr 2e-6), batch 512 (finetune.sh: 8 processes x 128). The seeded
    # points with 3 seeds, as the cpu profile. Not yet run.
    "gpu": Size(finetune=TrainConfig(epochs=30, batch_size=512, lr=2e-5, weight_decay=1e-6, warmup_epochs=0,
                                     augment="randaugment_batched"),
                n_finetune=None,
                finetune_points=tuple((k, fuse) for fuse in (True, False) for k in (0.5, 0.6, 0.7, 0.8, 0.9)),
                schedule_start=0.0, schedule_ramp=0.0, seeds=3, higher_resolution=40),
}

# Dry-run overrides (see common.dry_run_size): two fine-tuning points, with and without fusion, one seed.
DRY_RUN = {"visual_images": 2, "finetune_points": ((0.7, True), (0.7, False)), "seeds": 1}
