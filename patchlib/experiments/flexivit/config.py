"""FlexiViT chapter, data only: the published values, the sizes per profile and the role names."""
from __future__ import annotations

from dataclasses import dataclass

from ...measure import ThroughputProtocol
from ...train import TrainConfig

# Published values (../shared/paper_values.md §1; the big_vision files named in each source, read at the
# commits of the code index). The paper's Figures 3 and 4 are plots; only four Fig. 3 points are sourced,
# second-hand, so the claims compare shapes and cite the figures.
BIG_VISION_README = "big_vision configs/proj/flexivit/README.md (official repository)"
PAPER = {
    "fig3_points": {"value": {"FlexiViT-B @8x8": 50.2, "ViT-B/16 @8x8": 30.5, "ViT-B/30 @8x8": 2.9,
                              "FlexiViT-B @30x30": 46.6},
                    "unit": "% precision (probably ImageNet-21k prec@1)", "status": "secondary",
                    "source": "FlexiViT Fig. 3 points as quoted by DeepLearning.AI's The Batch (secondary)"},
    "input_resolution": {"value": 240, "unit": "px", "status": "confirmed",
                         "source": f"{BIG_VISION_README}: \"the input is 240px, not 224px\""},
    "epochs": {"value": {"paper_fig2": 1000, "readme_recommended": 1200, "shortest": 90}, "unit": "epochs",
               "status": "confirmed", "source": f"FlexiViT paper, Fig. 2 caption (1000, 600, 300, 90 epochs); "
                                                f"{BIG_VISION_README} (1200-epoch checkpoints recommended)"},
    "fig3_budget": {"value": {"FlexiViT-B": 300, "ViT-B/16": 300, "ViT-B/30": 300}, "unit": "epochs on ImageNet-21k",
                    "status": "confirmed", "source": f"{BIG_VISION_README}: the 300-epoch FlexiViT-B \"used in the paper "
                                                     "for fair comparison to baselines\", and ViT-B/16, ViT-B/30 the "
                                                     "\"apples-to-apples non-flexi baseline\""},
    "patch_sizes": {"value": [48, 40, 30, 24, 20, 16, 15, 12, 10, 8], "unit": "px at 240 px (drawn uniformly per step)",
                    "status": "confirmed", "source": "big_vision configs/proj/flexivit/i21k_sup.py and "
                                                     "i1k_deit3_distill.py, flexi.seqhw (official repository)"},
    # The underlying kernel and position grid: 32x32 is the model file's default only; the configs set the kernel.
    "underlying_parameters": {"value": {"kernel, model file default": 32, "kernel, i21k_sup.py": 8,
                                        "kernel, i1k_deit3_distill.py": 16, "position grid": 7},
                              "unit": "px (kernel side), tokens (grid side)", "status": "confirmed",
                              "source": "big_vision models/proj/flexi/vit.py (defaults patch_size=(32, 32), "
                                        "posemb_size=(7, 7)); configs/proj/flexivit/i21k_sup.py (patch_size=(8, 8), "
                                        "posemb_size=(7, 7)); i1k_deit3_distill.py (student patch_size=(16, 16), the "
                                        "model's default grid) (official repository)"},
    "distill_recipe": {"value": {"lr": 1e-4, "weight_decay": 1e-5, "batch_size": 1024}, "unit": "Adam, cosine schedule",
                       "status": "confirmed", "source": "big_vision configs/proj/flexivit/i1k_deit3_distill.py (c.lr, "
                                                        "c.wd, c.input.batch_size; official repository)"},
    # The official ImageNet-21k recipe beside ours (issue 26): read in the file itself (lines 38-39, 46, 52, 96, 99).
    "i21k_recipe": {"value": {"epochs": 90, "batch_size": 4096, "lr": 1e-3, "weight_decay": 1e-4,
                              "warmup_steps": 10_000, "grad_clip": 1.0, "loss": "sigmoid cross-entropy (head bias initialised to -10)",
                              "augmentation": "inception crop, flip, RandAugment(2, 10)", "mixup": 0.2},
                    "unit": "Adam (scale_by_adam) with big_vision's decoupled weight decay `wd`, cosine schedule",
                    "status": "not sourced",
                    "source": "big_vision configs/proj/flexivit/i21k_sup.py (c.total_epochs, c.input.batch_size, c.lr, "
                              "c.wd, c.schedule, c.grad_clip_norm, c.loss, c.init_head_bias, c.input.pp, c.mixup; "
                              "official repository, read for issue 26)"},
    "fig3_resize": {"value": "standard ViTs run at other patch sizes with the patch-embedding weights and the position "
                             "embeddings resized bilinearly", "unit": "method", "status": "secondary",
                    "source": "issue 23's reading of the paper's Fig. 3 caption and §3.2 (the paper text was not read "
                              "for this book)"},
    "fig4": {"value": "on ViT-B/8, image and patch resized together: PI-resize the only method nearly flat when "
                      "upsampling, and the most stable when downsampling", "unit": "qualitative", "status": "secondary",
             "source": "docsaid.org FlexiViT review (third-party description of Fig. 4; its numbers are not sourced)"},
}

# The roles of the fixed-patch ViTs (Fig. 3's ViT-B/16 and ViT-B/30); the others are "flexi" and "distill".
FIXED = ("vit_small", "vit_large")


@dataclass(frozen=True, kw_only=True)
class Size:
    image_size: int                  # the 32-px images are bilinearly upsampled to this
    patch_sizes: tuple[int, ...]     # FlexiViT's training set; every model is evaluated at each
    small_patch: int                 # patch size of the fixed ViT `vit_small` (also Fig. 4's model)
    large_patch: int                 # patch size of the fixed ViT `vit_large`
    vit_model: str                   # registered ViT for the fixed models
    flexi_model: str                 # registered FlexiViT (sets base_patch_size and base_grid)
    model_overrides: dict            # width/depth/heads, applied to every model
    train: TrainConfig               # the same budget for the three models
    n_train: int | None              # None: the whole training set
    n_test: int | None
    distill_epochs: int = 0          # 0: no distilled FlexiViT
    distill_temperature: float = 1.0
    figure4_factors: tuple[int, ...] = (1, 2, 3, 4)
    throughput: ThroughputProtocol = ThroughputProtocol()
    seeds: int = 1                   # seeds of `seeded_roles`: seed, seed + 1, ...
    seeded_roles: tuple[str, ...] = ("vit_large", "flexi")
    frontier_keep_rates: tuple[float, ...] = (1.0, 0.9, 0.7, 0.5)  # EViT keep rates of the frontier


CIFAR_SIZES = (6, 8, 12, 16, 24)  # at 48 px: grids 8, 6, 4, 3, 2 (sequence lengths 64 ... 4)

SIZES = {
    # The whole pipeline on the embedded synthetic data (learns nothing in this budget; a pipeline check).
    # measured: the notebook in 36 s wall / 18 s CPU under papermill, 1 thread, fresh results (x86_64).
    "smoke": Size(image_size=48, patch_sizes=CIFAR_SIZES, small_patch=6, large_patch=12, vit_model="vit_micro",
                  flexi_model="flexivit_micro", model_overrides={},
                  train=TrainConfig(epochs=2, batch_size=128, lr=3e-3, warmup_epochs=0.5),
                  n_train=1280, n_test=256, distill_epochs=1, seeds=2, frontier_keep_rates=(1.0, 0.5),
                  throughput=ThroughputProtocol(batch_size=32, warmup=1, repeats=2, rounds=1)),
    # CIFAR-10 upsampled to 48 px, 6 layers, width 128, 8 heads; patch 6 (ViT), 12 (ViT) and
    # FlexiViT over 6..24 with a 12x12 base kernel on a 4x4 base grid, 4 epochs each; ViT/12 and
    # FlexiViT with 3 seeds; FlexiViT distilled from ViT/6 (and initialised from it) for 2 epochs.
    # Planned from the previous run's times (33 min without the seeds and the distillation:
    # vit_small 21.5 min, vit_large 3, flexi 5, evaluation and Fig. 4 3.5): ~60 min on 2 cores.
    "cpu": Size(image_size=48, patch_sizes=CIFAR_SIZES, small_patch=6, large_patch=12, vit_model="vit_tiny_cifar",
                flexi_model="flexivit_cifar", model_overrides={"dim": 128, "heads": 8},
                train=TrainConfig(epochs=4, batch_size=128, lr=1e-3, warmup_epochs=1),
                n_train=None, n_test=None, distill_epochs=2, seeds=3),
    # A FlexiViT-S-like model (12 layers, width 384, 6 heads) for 90 epochs with RandAugment, the
    # paper's shortest FlexiViT schedule, plus 90 epochs of distillation (not yet run).
    "gpu": Size(image_size=48, patch_sizes=CIFAR_SIZES, small_patch=6, large_patch=12, vit_model="vit_tiny_cifar",
                flexi_model="flexivit_cifar", model_overrides={"dim": 384, "depth": 12, "heads": 6},
                train=TrainConfig(epochs=90, batch_size=512, lr=1e-3, warmup_epochs=5, augment="randaugment_batched"),
                n_train=None, n_test=None, distill_epochs=90, seeds=3),  # ViT/12 and FlexiViT with 3 seeds
}

DRY_RUN = {"seeds": 1}  # dry-run overrides (see common.dry_run_size): the further seeds repeat the same models
