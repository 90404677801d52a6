"""The `pretrained` profile's data (issue 25 §3): per chapter, which released checkpoints it evaluates
on which benchmark, and the published value each evaluation is judged against. No computation here.

Every value comes from ../shared/paper_values.md (the section is named in each source), with its
status there: "confirmed" (read in the paper or the official repository), "secondary" (a third
party's number, labelled as such), "not sourced" (no value: the claim says so and is not judged).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..evit.config import PAPER as EVIT_PAPER
from ..mobilevit.config import PAPER as MOBILEVIT_PAPER
from ..vitpose.config import PAPER as VITPOSE_PAPER

PROFILE = "pretrained"
TASKS = ("imagenet", "flexivit", "fig7", "coco")  # the record kinds (ChapterRun pieces)


@dataclass(frozen=True)
class Size:
    """How the evaluations run (the profile's one size; time on one GPU not yet measured)."""

    n_images: int | None = None   # ImageNet-1k val images (None: all 50,000; a real run refuses a partial copy)
    batch_size: int = 64
    num_workers: int = 8          # decoding processes (JPEG decoding, not the GPU, bounds the speed)
    precision: str = "fp32"       # the releases' numbers are fp32 evaluations


DRY_RUN_NOTE = ("DRY RUN: random weights in each release's official format, models shrunk to a few layers and the "
                "fixture's classes, on generated images (an ImageNet-format fixture, generated people in COCO's "
                "format); the numbers mean nothing")
SIZES = {PROFILE: Size()}
DRY_RUN = {"n_images": 4, "batch_size": 4, "num_workers": 0}  # a handful of images, one batch

# The verdict rule of a top-1 against its published value: reproduced when |ours - paper| <= max(TOLERANCE,
# 2 s.e.), the s.e. binomial over the images evaluated. timm's own re-evaluations of released weights differ
# from the papers' tables by ~0.1-0.3 points (paper_values.md §1e, §3a, §5a: 68.936 vs 69.0, 74.618 vs 74.7,
# 81.382 vs 81.37), from decoders, resize kernels and rounding; 0.3 points covers that.
TOP1_TOLERANCE = 0.3  # points of top-1
AP_TOLERANCE = 0.3    # points of COCO AP (no binomial s.e.: AP is not a proportion of images)
GMACS_SLACK = 0.05    # relative: fvcore-style counters and ours differ on what a MAC of attention is
SPEEDUP_TOLERANCE = 0.15  # relative, for the EViT speed-up measured on another GPU than the paper's

# ViTPose's COCO configs read the person detector's boxes from this file (ViTPose configs/.../coco/
# ViTPose_base_coco_256x192.py: data_cfg.bbox_file = 'data/coco/person_detection_results/<this>').
DETECTIONS_FILE = "COCO_val2017_detections_AP_H_56_person.json"
DETECTIONS_FOLDER = "coco/person_detection_results"


@dataclass(frozen=True)
class Evaluation:
    """One released checkpoint (or a set of them, for a figure) on one benchmark, judged against a
    published value (None: not sourced, or not a number)."""

    id: str                    # the claim's id; also the record's name
    task: str                  # one of TASKS
    checkpoints: tuple[str, ...]
    claim: str
    paper_value: float | None
    unit: str
    paper_status: str          # "confirmed", "secondary", "not sourced"
    paper_source: str
    kind: str = "paper"        # a claims.KINDS key


def _top1(id: str, checkpoint: str, label: str, value: float | None, status: str, source: str,
          kind: str = "paper") -> Evaluation:
    return Evaluation(id, "imagenet", (checkpoint,), f"{label}: ImageNet-1k val top-1 of the released weights", value,
                      "% top-1", status, source, kind)


CONVMIXER_README = "locuslab/convmixer README.md (official repository; paper_values.md §3a)"
MMCLS = ("mmclassification configs/convmixer/README.md, its evaluation of the official weights (secondary; "
         "paper_values.md §3a)")
CONVMIXER = (
    _top1("convmixer_1536_20_top1", "convmixer_1536_20.in1k", "ConvMixer-1536/20", 81.37, "confirmed",
          CONVMIXER_README + ": \"You should get a 81.37% accuracy\""),
    _top1("convmixer_768_32_top1", "convmixer_768_32.in1k", "ConvMixer-768/32", 80.16, "secondary", MMCLS),
    _top1("convmixer_1024_20_top1", "convmixer_1024_20_ks9_p14.in1k", "ConvMixer-1024/20 (k9, p14)", 76.94,
          "secondary", MMCLS),
)

_MOBILEVIT_LABELS = {"mobilevit_xxs": "MobileViT-XXS", "mobilevit_xs": "MobileViT-XS", "mobilevit_s": "MobileViT-S",
                     **{f"mobilevitv2_{w}": f"MobileViTv2-{int(w) / 100:.2f}" for w in
                        ("050", "075", "100", "125", "150", "175", "200")}}
MOBILEVIT = tuple(
    _top1(f"{name}_top1", f"{name}.cvnets_in1k", label, MOBILEVIT_PAPER["top1"]["value"][name], "confirmed",
          MOBILEVIT_PAPER["top1"]["source"] + " (paper_values.md §5a/5b)")
    for name, label in _MOBILEVIT_LABELS.items())

_ZOO = EVIT_PAPER["model_zoo"]
EVIT_ZOO_ROWS = {f"evit_deit_s.keep{row['keep_rate']}_{'fuse' if row['fusion'] else 'nofuse'}": row
                 for row in _ZOO["value"]}
EVIT_BASELINE = EVIT_PAPER["deit_s_baseline"]
EVIT = (
    _top1("deit_s_top1", "deit_small_patch16_224.fb_in1k", "DeiT-S (EViT's baseline)",
          EVIT_BASELINE["value"]["acc1"], "secondary", EVIT_BASELINE["source"] + " (paper_values.md §2b)"),
    *(_top1(f"evit_keep{row['keep_rate']}_{'fuse' if row['fusion'] else 'nofuse'}_top1", name,
            f"EViT-DeiT-S, keep rate {row['keep_rate']}, {'with' if row['fusion'] else 'without'} fusion",
            row["acc1"], "confirmed", _ZOO["source"] + " (paper_values.md §2a)")
      for name, row in EVIT_ZOO_ROWS.items()),
)
EVIT_SPEEDUP = {"fast": "evit_deit_s.keep0.7_fuse", "base": "deit_small_patch16_224.fb_in1k",
                "value": EVIT_PAPER["headline"]["value"]["speedup"], "source": EVIT_PAPER["headline"]["source"]}

# FlexiViT: the i1k releases at every patch size of Fig. 2/3 (240 px). The paper's per-patch numbers are not
# sourced; timm's evaluation of the same 1200-epoch weights at patch 16 is (paper_values.md §1e, timm
# results-imagenet.csv: 240 px, crop 0.95), which checks our evaluation, not the paper.
FLEXIVIT_PATCH_SIZES = (8, 10, 12, 15, 16, 20, 24, 30, 40, 48)
FLEXIVIT_TIMM_P16 = {"small": 82.576, "base": 84.678, "large": 85.646}
FLEXIVIT_TIMM_SOURCE = ("timm results/results-imagenet.csv, its evaluation of the 1200-epoch release at patch 16, "
                        "240 px, crop 0.95 (not the paper; paper_values.md §1e)")
FLEXIVIT = tuple(
    Evaluation(f"flexivit_{size}_curve", "flexivit", (f"flexivit_{size}.1200ep_in1k",),
               f"FlexiViT-{size[0].upper()} (i1k, 1200 epochs): top-1 at every patch size (Fig. 2), checked at patch "
               f"16 against timm's evaluation", FLEXIVIT_TIMM_P16[size], "% top-1 at patch 16", "confirmed",
               FLEXIVIT_TIMM_SOURCE, kind="implementation")
    for size in ("small", "base", "large"))
FLEXIVIT_NOT_TESTABLE = {
    "flexivit_fig3_baselines": ("Fig. 3: FlexiViT-B vs the ViT-B/16 and ViT-B/30 baselines at every patch size",
                                "the ViT-B/16 and ViT-B/30 releases (flexivit_base.patch16_in21k, .patch30_in21k) "
                                "have an ImageNet-21k head (21,843 classes) and no ImageNet-1k one, and Fig. 3's "
                                "sourced points are ImageNet-21k precision (secondary, paper_values.md §1b); "
                                "patchlib reads no ImageNet-21k data", "not_testable_here"),
    "flexivit_fig4": ("Fig. 4: PI-resize vs the other resize methods on a ViT-B/8",
                      "no released ViT-B/8 is in patchlib's checkpoint registry (patchlib.models.checkpoints."
                      "CHECKPOINTS), and Fig. 4's points are not sourced (paper_values.md §1c)", "not_tested"),
}

# ViT Fig. 7 (left, centre) from the released ViT-L/32 (no data needed); the attention distances (right,
# ViT-L/16 in the paper) on the first 128 validation images (Appendix Fig. 11's count), of the same ViT-L/32.
VIT_CHECKPOINT = "vit_large_patch32_224.orig_in21k"
VIT_FIG7_IMAGES = 128
VIT_COMPONENTS = 28  # Fig. 7 left: the first 28 principal components
VIT_SOURCE = "ViT paper, Fig. 7 and §4.5 (paper_values.md §6d)"

# ViTPose: COCO val AP of the released ViTPose-B, classic and simple decoders (Table 2), with the detector's
# boxes as the paper evaluates, and with ground-truth boxes (no published value).
_TABLE2 = VITPOSE_PAPER["table2"]
VITPOSE = {decoder: {"checkpoint": f"vitpose_b{'_simple' if decoder == 'simple' else ''}.coco",
                     "ap": _TABLE2["value"][("ViTPose-B", decoder)][0], "source": _TABLE2["source"]
                     + " (paper_values.md §4a)"}
           for decoder in ("classic", "simple")}


def chapter_checkpoints(chapter: str) -> tuple[str, ...]:
    """Every released checkpoint the chapter's pretrained evaluations read, in order."""
    names: list[str] = []
    for evaluation in EVALUATIONS.get(chapter, ()):
        names += [name for name in evaluation.checkpoints if name not in names]
    if chapter == "vit":
        names.append(VIT_CHECKPOINT)
    if chapter == "vitpose":
        names += [VITPOSE[d]["checkpoint"] for d in VITPOSE]
    return tuple(names)


EVALUATIONS: dict[str, tuple[Evaluation, ...]] = {
    "convmixer": CONVMIXER, "mobilevit": MOBILEVIT, "evit": EVIT, "flexivit": FLEXIVIT, "vit": (), "vitpose": (),
}
