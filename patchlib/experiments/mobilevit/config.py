"""The MobileViT chapter's data: the papers' published values, the sizes of each profile, the
dry-run overrides and the names the tables use (no functions)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ...measure import ThroughputProtocol
from ...models.mobilevit import CIFAR_SCALE
from ...train import TrainConfig
from .. import vit as vit_chapter

# Published values (../shared/paper_values.md §5; status per entry: "confirmed" there, "secondary" where a
# value or its convention comes from the official repository's issues rather than the paper's text).
V1, V2 = "MobileViT paper (ICLR 2022)", "MobileViTv2 paper (TMLR 2023)"
PAPER = {
    "params_m": {"unit": "M parameters", "status": "confirmed",
                 "source": f"{V1}, Table 4 (XXS/XS/S); {V2}, Table 6 (width multipliers)",
                 "value": {"mobilevit_xxs": 1.3, "mobilevit_xs": 2.3, "mobilevit_s": 5.6, "mobilevitv2_050": 1.4,
                           "mobilevitv2_075": 2.9, "mobilevitv2_100": 4.9, "mobilevitv2_125": 7.5,
                           "mobilevitv2_150": 10.6, "mobilevitv2_175": 14.3, "mobilevitv2_200": 18.5}},
    # The official code's count where the paper rounds differently (2.0: 18.4 M in the zoo, 18.5 M in Table 6).
    "params_m_zoo": {"unit": "M parameters", "status": "confirmed",
                     "source": "apple/ml-cvnets model zoo (README-model-zoo.md, MobileViTv2 rows)",
                     "value": {"mobilevitv2_050": 1.4, "mobilevitv2_075": 2.9, "mobilevitv2_100": 4.9,
                               "mobilevitv2_125": 7.5, "mobilevitv2_150": 10.6, "mobilevitv2_175": 14.3,
                               "mobilevitv2_200": 18.4}},
    "gflops": {"unit": "GFLOPs (multiply-adds), at the resolution of gflops_px", "status": "confirmed",
               "source": f"{V1}, Table 3 (XS); {V2}, Table 2 (XXS) and Table 6 (width multipliers; Table 2 gives "
                         "7.5 G for 2.0)",
               "value": {"mobilevit_xxs": 0.4, "mobilevit_xs": 0.7, "mobilevitv2_050": 0.5, "mobilevitv2_075": 1.0,
                         "mobilevitv2_100": 1.8, "mobilevitv2_125": 2.8, "mobilevitv2_150": 4.0,
                         "mobilevitv2_175": 5.5, "mobilevitv2_200": 7.2}},
    # The image size at which each published count was made: the v1 paper counts FLOPs at 224 px and times at
    # 256 px (its Table 10 caption, as the first author answers in apple/ml-cvnets issue #47); v2 Table 6 is at
    # 256 px, and v2 Table 2's 0.4 G for XXS is the 256 px count (at 224 px it would print 0.3).
    "gflops_px": {"unit": "px (square input) of the published multiply-add count", "status": "not sourced",
                  "source": f"{V1}, Table 10 caption, quoted by the first author in apple/ml-cvnets issue #47 (XS); "
                            f"{V2}, Table 6 heading, 256² (v2 widths); XXS: v2 Table 2, 256 px implied by its value",
                  "value": {"mobilevit_xxs": 256, "mobilevit_xs": 224, "mobilevitv2_050": 256,
                            "mobilevitv2_075": 256, "mobilevitv2_100": 256, "mobilevitv2_125": 256,
                            "mobilevitv2_150": 256, "mobilevitv2_175": 256, "mobilevitv2_200": 256}},
    "top1": {"unit": "% ImageNet-1k top-1 at 256 px", "status": "confirmed",
             "source": f"{V1}, Fig. 6 / 8 tables (XS, S); {V2}, Table 2 (XXS) and Table 6 (v2)",
             "value": {"mobilevit_xxs": 69.0, "mobilevit_xs": 74.8, "mobilevit_s": 78.4, "mobilevitv2_050": 70.2,
                       "mobilevitv2_075": 75.6, "mobilevitv2_100": 78.1, "mobilevitv2_125": 79.6,
                       "mobilevitv2_150": 80.4, "mobilevitv2_175": 80.8, "mobilevitv2_200": 81.2}},
    "attention_unit": {"unit": "iPhone12 latency (ms) / ImageNet top-1 (%)", "status": "confirmed",
                       "source": f"{V2}, Table 1 (MobileViT with each attention unit, similar params and FLOPs)",
                       "value": {"self-attention": (9.9, 78.4), "Linformer": (10.2, 78.2), "separable": (3.4, 78.1)}},
    # The two networks of Table 1's comparison: its rows are MobileViT-S (78.4 %, and 9.85 ms in v1's patch
    # table) and MobileViTv2-1.0 (78.1 %, 3.4 ms in v2 Table 2).
    "table1_pair": {"value": {"self-attention": "mobilevit_s", "separable": "mobilevitv2_100"}, "unit": "",
                    "status": "confirmed", "source": f"{V2}, Table 1 rows against {V1} and {V2}, Table 2"},
    "complexity": {"value": {"MHA": 2, "separable": 1}, "unit": "exponent of k in the cost", "status": "confirmed",
                   "source": f"{V2}, abstract and §3: multi-head attention O(k^2), separable self-attention O(k)"},
    "fig1_protocol": {"value": {"d": 512, "heads": 8, "threads": 1, "cpu_ghz": 2.4}, "unit": "", "status": "confirmed",
                      "source": f"{V2}, Fig. 1: single CPU core (2.4 GHz Intel Core i9), d = 512, h = 8; the "
                                "figure's latencies are not in text form (not sourced)"},
    "recipe": {"value": {"epochs": 300, "batch_size": 1024}, "unit": "", "status": "confirmed",
               "source": f"{V1}, §4.1; {V2}, appendix Table 8 (ImageNet-1k, AdamW, EMA; v1 multi-scale sampler)"},
    # The official training configs, read for issue 26 (v2's also in paper_values.md §5, from its Table 8).
    "official_recipe": {"value": {"peak_lr": 0.002, "min_lr": 0.0002, "warmup_iterations": 20_000,
                                  "v1_weight_decay": 0.01, "v2_weight_decay": 0.05, "label_smoothing": 0.1,
                                  "v2_grad_clip": 10.0, "v2_random_erase": 0.25, "v2_mixup_alpha": 0.2,
                                  "v2_cutmix_alpha": 1.0},
                        "unit": "AdamW, cosine schedule", "status": "not sourced",
                        "source": "apple/ml-cvnets config/classification/imagenet/mobilevit.yaml (MobileViT-S) and "
                                  "mobilevit_v2.yaml (MobileViTv2-2.0; smaller widths rescale lr and weight decay, "
                                  "README-mobilevit-v2.md), read for issue 26 (the v2 values are in the paper's "
                                  "Table 8)"},
}


@dataclass(frozen=True, kw_only=True)
class Size:
    token_counts: tuple[int, ...]     # k of the attention-unit curve
    attention_dim: int = 512          # d, h and threads of the v2 paper's Fig. 1 protocol
    attention_heads: int = 8
    attention_threads: int = 1
    attention_limit_s: float = 3.0    # a unit is not timed at larger k once one pass takes longer
    slope_range: tuple[int, int] = (1024, 16384)  # k range of the fitted log-log slopes
    attention_protocol: ThroughputProtocol = ThroughputProtocol(batch_size=1, warmup=1, repeats=3, rounds=2)
    table_models: tuple[str, ...]     # registered ImageNet variants of the model table
    table_image_size: int = 256
    table_protocol: ThroughputProtocol = ThroughputProtocol(batch_size=8, warmup=1, repeats=3, rounds=2)
    models: dict                      # {"v1": (registered name, overrides), "v2": (...)}: the CIFAR models
    train: TrainConfig                # the ViT chapter's recipe and budget (the reference's)
    n_train: int | None
    n_test: int | None
    channels_last: bool = True        # faster depthwise convolutions on CPU (measured 1.1-1.3x in training)
    throughput: ThroughputProtocol = ThroughputProtocol()


TABLE_MODELS = ("mobilevit_xxs", "mobilevit_xs", "mobilevit_s", "mobilevitv2_050", "mobilevitv2_075",
                "mobilevitv2_100", "mobilevitv2_125", "mobilevitv2_150", "mobilevitv2_175", "mobilevitv2_200")
_vit = vit_chapter.SIZES

SIZES = {
    # Seconds on any CPU: the whole pipeline on the embedded synthetic data, tiny models.
    "smoke": Size(token_counts=(64, 256, 1024), slope_range=(64, 1024), attention_dim=64, attention_heads=4,
                  attention_protocol=ThroughputProtocol(batch_size=1, warmup=1, repeats=2, rounds=1),
                  table_models=("mobilevit_xxs", "mobilevitv2_050"), table_image_size=64,
                  table_protocol=ThroughputProtocol(batch_size=2, warmup=1, repeats=2, rounds=1),
                  models={"v1": ("mobilevit_xxs_cifar", {"channels": (8, 16, 24, 32, 40),
                                                         "transformer_dims": (0, 0, 32, 32, 32)}),
                          "v2": ("mobilevitv2_050_cifar", {"channels": (8, 16, 32, 48, 64),
                                                           "transformer_dims": (0, 0, 16, 24, 32)})},
                  train=_vit["smoke"].train, n_train=_vit["smoke"].n_train, n_test=_vit["smoke"].n_test,
                  throughput=ThroughputProtocol(batch_size=32, warmup=1, repeats=2, rounds=1)),
    # ~45 min on 2 CPU cores: the Fig. 1 curve up to k = 16384 (MHA until a pass takes 3 s), the
    # ten ImageNet variants at 256 px, and MobileViT-XXS / MobileViTv2-0.5 at CIFAR scale
    # (0.95 M / 1.1 M parameters; measured ~400 / ~330 train img/s) trained like the ViT chapter's
    # model: 8 epochs of the 50,000 training images, in fp32 (issue 28 measured no faster precision for
    # MobileViT; the ViT chapter trains in bf16 with fp32 attention).
    "cpu": Size(token_counts=tuple(2 ** e for e in range(6, 15)), table_models=TABLE_MODELS,
                models={"v1": ("mobilevit_xxs_cifar", {}), "v2": ("mobilevitv2_050_cifar", {})},
                train=replace(_vit["cpu"].train, precision="auto"), n_train=_vit["cpu"].n_train, n_test=_vit["cpu"].n_test),
    # Table 1's comparison at CIFAR scale: MobileViT-S against MobileViTv2-1.0, with the ViT
    # chapter's gpu recipe (200 epochs, RandAugment) for all three models.
    "gpu": Size(token_counts=tuple(2 ** e for e in range(6, 15)), attention_limit_s=10.0, table_models=TABLE_MODELS,
                table_protocol=ThroughputProtocol(batch_size=64),
                models={"v1": ("mobilevit_s", dict(CIFAR_SCALE)), "v2": ("mobilevitv2_100", dict(CIFAR_SCALE))},
                train=_vit["gpu"].train, n_train=_vit["gpu"].n_train, n_test=_vit["gpu"].n_test,
                channels_last=False),
}


DRY_RUN = {"token_counts": (64, 256), "slope_range": (64, 256)}  # dry-run overrides (common.dry_run_size)

# The names of the compared units (keys of the attention record's curves) and of the CIFAR models.
MHA, SEPARABLE = "multi-head attention", "separable self-attention"
CIFAR_LABELS = {"v1": "MobileViT (v1)", "v2": "MobileViTv2", "vit": "ViT (the ViT chapter's model)"}
