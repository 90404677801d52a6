"""The FlexiViT chapter's tables: the published values (`config.PAPER`) and the paper's setup beside this run's, read
from the records. Computes nothing."""
from __future__ import annotations

import pandas as pd

from ...data.recipes import AUGMENTATIONS
from .config import FIXED, PAPER
from .prose import _dataset
from .runs import epochs_per_size, resize_gate, runs_of


def paper_table() -> pd.DataFrame:
    """The published values of `config.PAPER`, one row each, with unit, status and source."""
    return pd.DataFrame([{"value": ", ".join(f"{k}: {v}" for k, v in entry["value"].items())
                          if isinstance(entry["value"], dict) else str(entry["value"]),
                          **{key: entry[key] for key in ("unit", "status", "source")}} for entry in PAPER.values()],
                        index=pd.Index(list(PAPER), name="value of"))


def setup_table(records: dict) -> pd.DataFrame:
    """The paper's setup beside this run's, read from `config.PAPER` and the records."""
    evaluation = records["evaluate"]
    configs, models = evaluation["config"]["models"], evaluation["result"]["models"]
    flexi, train = configs["flexi"]["model_config"], configs["flexi"]["train"]
    distill, bv = configs.get("distill", {}).get("train"), PAPER["underlying_parameters"]["value"]
    recipe, budget = PAPER["distill_recipe"]["value"], PAPER["fig3_budget"]["value"]
    official = PAPER["i21k_recipe"]["value"]
    sizes, per_size = evaluation["result"]["patch_sizes"], epochs_per_size(evaluation)
    seeded = {r: len(runs_of(models, r)) for r in dict.fromkeys(m["role"] for m in models.values())}
    parameters = {r["config"]["role"]: r["result"]["parameters"] for key, r in records.get("train", {}).items()
                  if key == r["config"]["role"]}
    plain, _ = resize_gate(models)
    paper = {
        "data": f"ImageNet-scale data at {PAPER['input_resolution']['value']} px",
        "models": "ViT-B/16 and ViT-B/30 vs FlexiViT-B over patch sizes "
                  f"{min(PAPER['patch_sizes']['value'])}-{max(PAPER['patch_sizes']['value'])}",
        "parameters": "ViT-B size",
        "underlying kernel / position grid": "big_vision: kernel " + ", ".join(
            f"{bv[f'kernel, {where}']}×{bv[f'kernel, {where}']} ({where})"
            for where in ("model file default", "i21k_sup.py", "i21k_distill.py", "i1k_deit3_distill.py"))
            + f"; grid {bv['position grid']}×{bv['position grid']} (model file default; set in i21k_sup.py)",
        "training": f"{budget['FlexiViT-B']} epochs each for the patch-size comparison (ImageNet-21k); 90-1000 epochs "
                    "for the ImageNet-1k FlexiViTs",
        "compute per patch size": f"FlexiViT {budget['FlexiViT-B'] / len(PAPER['patch_sizes']['value']):g} epochs' worth "
                                  f"per size ({len(PAPER['patch_sizes']['value'])} sizes); each ViT {budget['ViT-B/16']}",
        "standard ViTs at other patch sizes": f"kernel and position embeddings resized bilinearly "
                                              f"({PAPER['fig3_resize']['status']})",
        "distillation": f"student initialised from its ViT teacher, lr {recipe['lr']:g}, weight decay "
                        f"{recipe['weight_decay']:g} per step (not multiplied by the lr), batch {recipe['batch_size']}, "
                        f"{recipe['warmup_steps']} warm-up steps, {recipe['epochs']} epochs (i1k_deit3_distill.py)",
        "seeds": "not stated",
        "training recipe": f"i21k_sup.py: {official['epochs']} epochs, batch {official['batch_size']}, lr "
                           f"{official['lr']:g}, weight decay {official['weight_decay']:g} (big_vision's decoupled "
                           f"`wd`), {official['warmup_steps']:,} warm-up steps, gradient clipping "
                           f"{official['grad_clip']:g}, {official['loss']}, {official['augmentation']}, mixup "
                           f"{official['mixup']:g}",
    }
    ours = {
        "data": f"{_dataset(evaluation)} upsampled to {evaluation['config']['image_size']} px",
        "models": " and ".join(f"ViT/{models[r]['own_patch']}" for r in FIXED) + " vs FlexiViT over patch sizes "
                  f"{', '.join(map(str, sizes))}: {flexi['depth']} layers, width {flexi['dim']}, {flexi['heads']} heads",
        "parameters": ", ".join(f"{role} {count / 1e6:.2f} M" for role, count in parameters.items()),
        "underlying kernel / position grid": f"{flexi['base_patch_size']}×{flexi['base_patch_size']} / "
                                             f"{flexi['base_grid']}×{flexi['base_grid']}",
        "training": f"{train['epochs']} epochs from scratch each, batch {train['batch_size']}, AdamW lr {train['lr']}, "
                    f"{train['schedule']} schedule, augmentation {train['augment']}, precision {train['precision']}",
        "compute per patch size": f"FlexiViT {per_size['flexi']:.2g} epochs' worth per size ({len(sizes)} sizes); each "
                                  f"ViT {per_size['vit_small']:g}" + (
                                      f"; and a FlexiViT of {configs['flexi_long']['train']['epochs']} epochs, "
                                      f"{per_size['flexi_long']:g} per size (equal compute per size)"
                                      if "flexi_long" in configs else ""),
        "standard ViTs at other patch sizes": ("kernel and position embeddings resized bilinearly; also, the book's "
                                               "addition, kernel PI-resized" if plain else
                                               "kernel PI-resized, position embeddings resized bilinearly"),
        "distillation": (f"{distill['epochs']} epochs from the ViT/{models['vit_small']['own_patch']} teacher, which also "
                         f"initialises the student; lr {distill['lr']}, torch AdamW weight decay {distill['weight_decay']}"
                         f" (× lr per step), batch {distill['batch_size']}, warm-up {distill['warmup_epochs']:g} epoch(s)"
                         if distill else "not run in this profile"),
        "seeds": ", ".join(f"{role} {n}" for role, n in seeded.items()),
        "training recipe": f"{train['epochs']} epochs, batch {train['batch_size']}, AdamW lr {train['lr']:g}, weight "
                           f"decay {train['weight_decay']:g} (AdamW's), warm-up {train['warmup_epochs']:g} epochs, "
                           f"gradient clipping {train['grad_clip']}, softmax cross-entropy with label smoothing "
                           f"{train['label_smoothing']:g}, {AUGMENTATIONS.get(train['augment'], train['augment'])}; "
                           "no inception crop, no mixup",
    }
    return pd.DataFrame({"paper": paper, "ours": ours})
