"""The ViT chapter's data: the paper's published values and the sizes of our runs per profile.

Dosovitskiy et al., 2021: Table 1 (ViT-Large), Table 2 (CIFAR-10), §4.5 and Fig. 7 (what the
trained model learned), Appendix Fig. 11 (attention distance).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...measure import ThroughputProtocol
from ...train import TrainConfig

# Published values used in this chapter (../shared/paper_values.md §6): each with its source and status.
PAPER = {
    "vit_l16_jft_cifar10": {"value": 99.42, "std": 0.03, "unit": "% top-1",
                            "source": "ViT paper, Table 2 (ViT-L/16 pre-trained on JFT-300M, CIFAR-10 column; "
                                      "mean ± std over 3 fine-tuning runs)", "status": "confirmed"},
    "vit_l16_params": {"value": 307, "unit": "M parameters", "source": "ViT paper, Table 1 (ViT-Large)",
                       "status": "confirmed"},
    "fig7_models": {"value": {"left, centre": "ViT-L/32", "right": "ViT-L/16 (16 heads)"}, "unit": "model",
                    "source": "ViT paper, Fig. 7 (left and centre: ViT-L/32; right: plot label ViT-L/16)",
                    "status": "confirmed"},
    "fig7_images": {"value": 128, "unit": "images", "source": "ViT paper, Appendix Fig. 11 caption (attention "
                    "distance computed for 128 example images; image width 224 px)", "status": "confirmed"},
    "fig7_components": {"value": 28, "unit": "principal components", "status": "confirmed",
                        "source": "ViT paper, Fig. 7 left (first 28 principal components of the RGB embedding filters)"},
    "vit_large": {"value": {"layers": 24, "hidden D": 1024, "MLP size": 4096, "heads": 16}, "unit": "architecture",
                  "source": "ViT paper, Table 1, ViT-Large row", "status": "confirmed"},
    "image_width": {"value": 224, "unit": "px", "status": "confirmed",
                    "source": "ViT paper, Appendix Fig. 11 caption: \"Image width is 224 pixels\""},
    "fig7_distance_axis": {"value": "0–120", "unit": "px, y-axis of Fig. 7 (right)", "status": "confirmed",
                           "source": "ViT paper, Fig. 7 (right), the plot's axis range"},
    # The figure's per-head distances are only plotted: no text copy gives them, so the chapter draws none.
    "fig7_head_distances": {"value": None, "unit": "px per head and layer", "status": "not sourced",
                            "source": "ViT paper, Fig. 7 (right): plotted only, not given in text form"},
}


@dataclass(frozen=True, kw_only=True)
class Size:
    """One profile's run: the model, its training, the data and the sizes of the Fig. 7 analyses."""

    model: str
    model_overrides: dict
    train: TrainConfig
    n_train: int | None          # None: the whole training set
    n_test: int | None
    attention_images: int        # test images averaged for Fig. 7 (right)
    components: int = 28         # principal components shown in Fig. 7 (left), as in the paper
    seeds: int = 1               # trained models (seed, seed + 1, ...): the Fig. 7 claims' seed noise
    throughput: ThroughputProtocol = ThroughputProtocol()


SIZES = {
    # Seconds on any CPU: checks the whole pipeline on the embedded synthetic data.
    "smoke": Size(model="vit_micro", model_overrides={"depth": 4, "heads": 4},
                  train=TrainConfig(epochs=5, batch_size=128, lr=3e-3, warmup_epochs=0.5),
                  n_train=2560, n_test=512, attention_images=128, seeds=2,
                  throughput=ThroughputProtocol(batch_size=32, warmup=1, repeats=2, rounds=1)),
    # ~70 min on 2 CPU cores (measured ~22 min a seed): 6 layers, width 128, 8 heads, 4x4 patches
    # (an 8x8 grid, 64 tokens), 8 epochs of the full CIFAR-10 training set, 3 seeds; bf16 matrix
    # products with attention in fp32 (issue 28: 1.52x the fp32 training speed, accuracy within its
    # seed noise; benchmarks/training_speed.py, benchmarks/precision_agreement.py).
    "cpu": Size(model="vit_tiny_cifar", model_overrides={"dim": 128, "heads": 8},
                train=TrainConfig(epochs=8, batch_size=128, lr=1e-3, precision="bf16_fp32_attention"),
                n_train=None, n_test=None,
                attention_images=1024, seeds=3),
    # A ViT-S-like model for a GPU: 12 layers, width 384, 12 heads, 4x4 patches, 200 epochs
    # with RandAugment (not yet run: see the chapter).
    "gpu": Size(model="vit_tiny_cifar", model_overrides={"dim": 384, "depth": 12, "heads": 12},
                train=TrainConfig(epochs=200, batch_size=512, lr=1e-3, warmup_epochs=10, augment="randaugment_batched"),
                n_train=None, n_test=None, attention_images=2048, seeds=3),
}

DRY_RUN = {"attention_images": 8, "seeds": 1}  # dry-run overrides (see common.dry_run_size)
