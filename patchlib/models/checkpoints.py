"""Official checkpoints into patchlib's models: read a released file, convert its keys to ours, load.

Each released format is a converter from the official state dict to the state dict of our model
(the same tensors under our names, checked key by key and shape by shape):

- "timm_vit": timm's `VisionTransformer` (ViT, DeiT; timm converts big_vision's `.npz` itself):
  timm's names are ours. A model built with `num_classes=0` takes a headless checkpoint.
- "evit": the EViT repository's checkpoints (youweiliang/evit, `main.py` saves {"model": ...}):
  DeiT's layout, so the "timm_vit" names; the keep rate and layers are our model's config.
- "timm_flexivit": timm's FlexiViT (`flexivit_*`), whose position embeddings have no class-token
  slot (`no_embed_class`): the class token gets no position embedding, so ours gets a zero one.
  The stored kernel and grid must be our model's base ones (no resampling on load: FlexiViT's
  README warns that chained resizes are lossy); big_vision's originals are 32x32 on 7x7.
- "timm_convmixer", "timm_mobilevit" (v1 and v2): timm's names renamed to ours (`RENAMES`).
- "vitpose": ViTPose / mmpose checkpoints ({"state_dict": {"backbone.*", "keypoint_head.*"}})
  into a `TopDownPose` with a ViT backbone.
- "mae": MAE's encoder ({"model": ...}, timm ViT names) into ViTPose's backbone (`PoseViT`), as
  ViTPose initialises it (`mmcv_custom/checkpoint.py:load_checkpoint`, called with strict=False):
  the class token and MAE's final norm are not loaded (the official `last_norm` has another
  name, so it starts at identity), the position embeddings of the square pre-training grid are
  resized bicubically to the pose grid (class slot kept), and a smaller kernel (ViT-H/14 into
  patch 16) is zero-padded around.

`read_checkpoint(path)` reads .pth/.pt/.bin (torch.load with weights_only, allowing the few
harmless objects released checkpoints pickle: argparse's Namespace, numpy scalars) and
.safetensors, and unwraps the container as mmcv does ("state_dict", then "model", then "module",
else the dict itself; a "module." prefix stripped). A missing, truncated or foreign file is an
error naming the file. `load_checkpoint(model, source, format=...)` converts and loads.

`CHECKPOINTS` names released weights (our model, the format, where they come from);
`load_pretrained(name)` builds the model and loads them from `<weights dir>/<file>` if present,
else downloads through timm or the official URL where the network allows, else stops with what to
download and where to put it.
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..data.imagenet import IMAGENET_MEAN, IMAGENET_STD, INCEPTION_MEAN, INCEPTION_STD, EvalTransform
from .registry import create_model

FORMATS = ("timm_vit", "evit", "timm_flexivit", "timm_convmixer", "timm_mobilevit", "vitpose", "mae")

# Official name -> ours, applied in order (regular expressions on the whole key).
RENAMES = {
    "timm_convmixer": ((r"^stem\.0\.", "patch_embed."), (r"^stem\.2\.", "patch_norm."),
                       (r"^blocks\.(\d+)\.0\.fn\.0\.", r"layers.\1.depthwise."),
                       (r"^blocks\.(\d+)\.0\.fn\.2\.", r"layers.\1.depthwise_norm."),
                       (r"^blocks\.(\d+)\.1\.", r"layers.\1.pointwise."),
                       (r"^blocks\.(\d+)\.3\.", r"layers.\1.pointwise_norm.")),
    "timm_mobilevit": ((r"\.conv1_1x1\.", ".expand."), (r"\.conv2_kxk\.", ".depthwise."),
                       (r"\.conv3_1x1\.", ".project."), (r"\.conv_kxk\.", ".local_conv."),
                       (r"\.conv_1x1\.", ".local_proj."), (r"\.conv_proj\.", ".proj."),
                       (r"\.conv_fusion\.", ".fusion."), (r"\.attn\.qkv_proj\.", ".attn.qkv."),
                       (r"\.attn\.out_proj\.", ".attn.proj."), (r"(^|\.)bn\.", r"\1norm."),
                       (r"^head\.fc\.", "head.")),
    "vitpose": ((r"^backbone\.last_norm\.", "backbone.norm."), (r"^backbone\.", "backbone.vit."),
                (r"^keypoint_head\.deconv_layers\.", "decoder.deconvs."),
                (r"^keypoint_head\.final_layer\.", "decoder.head.")),
}

# Keys ViTPose's MAE initialisation leaves unloaded (strict=False): the class token, MAE's final norm
# (ViTPose's is `last_norm`), and the parts of MAE that are not the encoder.
MAE_IGNORED = re.compile(r"^(cls_token|mask_token|norm\.(weight|bias)|fc_norm\..*|head\..*|decoder.*)$")

# Objects that released checkpoints pickle beside their tensors and that are safe to rebuild:
# EViT/DeiT save their argparse Namespace, mmcv's meta may hold numpy scalars.
_SAFE_GLOBALS = {"argparse.Namespace": argparse.Namespace}


def _numpy_safe_globals(names: list[str]) -> dict:
    """numpy's scalar reconstructor and dtypes, where the checkpoint pickles numpy scalars (the
    dtype classes of `numpy.dtypes` are met only while loading, so all of them come with `numpy.dtype`)."""
    import numpy

    found = {}
    for name in names:
        if name in ("numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"):
            found[name] = numpy._core.multiarray.scalar if hasattr(numpy, "_core") else numpy.core.multiarray.scalar
        elif name == "numpy.dtype":
            found[name] = numpy.dtype
            found |= {f"numpy.dtypes.{n}": getattr(numpy.dtypes, n) for n in dir(numpy.dtypes) if n.endswith("DType")}
    return found


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit the model (the message names the file)."""


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in checkpoint file `path` (see the module docstring), tensors on the CPU."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} not found")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(f"checkpoint file {path} is truncated or not a safetensors file ({error}); "
                                  "download it again") from None
    if path.suffix == ".npz":
        raise CheckpointError(f"{path} is a big_vision .npz: timm reads those (timm.create_model(..., pretrained=True, "
                              "pretrained_cfg_overlay={'file': path, 'custom_load': True})); convert its state_dict() "
                              "with format 'timm_vit' or 'timm_flexivit', or use load_pretrained")
    checkpoint = _torch_load(path)
    return unwrap(checkpoint, path)


def _torch_load(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # an object weights_only does not rebuild by itself
        return _load_with_safe_globals(path, error)
    except RuntimeError as error:  # a damaged zip archive or a non-pickle file
        raise CheckpointError(f"checkpoint file {path} is truncated or not a PyTorch checkpoint ({error}); "
                              "download it again") from None
    except (EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"checkpoint file {path} is truncated or damaged ({type(error).__name__}: {error}); "
                              "download it again") from None


def _load_with_safe_globals(path: Path, error: Exception):
    """torch.load of a checkpoint that pickles objects besides tensors, if they are all harmless ones."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (RuntimeError, ValueError, pickle.UnpicklingError):  # not a zip checkpoint: an old or foreign file
        raise CheckpointError(f"checkpoint file {path} cannot be read ({type(error).__name__}: {error})") from None
    allowed = {name: _SAFE_GLOBALS[name] for name in names if name in _SAFE_GLOBALS} | _numpy_safe_globals(names)
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise CheckpointError(f"checkpoint file {path} pickles objects that are not tensors and that patchlib "
                              f"does not rebuild ({', '.join(unknown)}): save its state dict alone "
                              "(torch.save(checkpoint['model'], ...)) and load that") from None
    with torch.serialization.safe_globals(list(allowed.values())):
        return torch.load(path, map_location="cpu", weights_only=True)


def unwrap(checkpoint, path: str | Path = "<state dict>") -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint container, as mmcv's `load_checkpoint` finds it."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"checkpoint file {path} holds a {type(checkpoint).__name__}, not a state dict")
    for key in ("state_dict", "model", "module"):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    if not checkpoint or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise CheckpointError(f"checkpoint file {path} has no state dict (expected a dict of tensors, or one under "
                              f"'state_dict' / 'model' / 'module'; found keys {list(checkpoint)[:8]})")
    if all(key.startswith("module.") for key in checkpoint):
        checkpoint = {key.removeprefix("module."): value for key, value in checkpoint.items()}
    return dict(checkpoint)


# ---- converters: official state dict -> ours ----

def _rename(state: dict, rules) -> dict:
    renamed = {}
    for key, value in state.items():
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    return renamed


def _timm_flexivit(state: dict, model: nn.Module) -> dict:
    """Insert a zero class-token slot into timm's position embeddings [1, N, D] -> [1, 1 + N, D]."""
    state = dict(state)
    if "pos_embed" in state and state["pos_embed"].shape[1] == model.pos_embed.shape[1] - 1:
        pos = state["pos_embed"]
        state["pos_embed"] = torch.cat([pos.new_zeros(1, 1, pos.shape[2]), pos], dim=1)
    return state


def _mae(state: dict, model: nn.Module) -> tuple[dict, list[str]]:
    """MAE's encoder as ViTPose's initialisation (see the module docstring); also the keys left out."""
    ignored = sorted(key for key in state if MAE_IGNORED.match(key))
    state = {key: value for key, value in state.items() if key not in ignored}
    kernel, ours = state.get("patch_embed.proj.weight"), model.patch_embed.proj.weight
    if kernel is not None and kernel.shape[-2:] != ours.shape[-2:] and kernel.shape[-1] < ours.shape[-1]:
        pad = ours.shape[-1] - kernel.shape[-1]                                # official: 'pad' (zeros around)
        state["patch_embed.proj.weight"] = F.pad(kernel, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
    pos = state.get("pos_embed")
    if pos is not None and pos.shape != model.pos_embed.shape:
        extra = model.pos_embed.shape[1] - model.grid_size[0] * model.grid_size[1]  # 1: the class slot
        side = int((pos.shape[1] - extra) ** 0.5)
        if side * side != pos.shape[1] - extra:
            raise CheckpointError(f"MAE position embeddings of {pos.shape[1]} tokens are not a square grid plus "
                                  f"{extra} class slot")
        grid = rearrange(pos[:, extra:], "1 (h w) d -> 1 d h w", h=side, w=side)
        grid = F.interpolate(grid, size=model.grid_size, mode="bicubic", align_corners=False)
        state["pos_embed"] = torch.cat([pos[:, :extra], rearrange(grid, "1 d h w -> 1 (h w) d")], dim=1)
    if "norm.weight" in model.state_dict():  # left at its initialisation, as ViTPose's `last_norm`
        state |= {key: value for key, value in model.state_dict().items() if key.startswith("norm.")}
    return state, ignored


def convert(state: dict[str, torch.Tensor], format: str, model: nn.Module, *,
            where: str = "<state dict>") -> tuple[dict[str, torch.Tensor], list[str]]:
    """(our state dict for `model`, official keys deliberately left out) from an official state dict."""
    if format not in FORMATS:
        raise ValueError(f"unknown checkpoint format {format!r}; use one of {', '.join(FORMATS)}")
    ignored: list[str] = []
    if format in RENAMES:
        state = _rename(state, RENAMES[format])
    elif format == "timm_flexivit":
        state = _timm_flexivit(state, model)
    elif format == "mae":
        state, ignored = _mae(state, model)
    ours = model.state_dict()
    for key, value in ours.items():   # a 0-class head (features only) takes a headless checkpoint
        if key not in state and value.numel() == 0:
            state[key] = value
    missing, unexpected = sorted(set(ours) - set(state)), sorted(set(state) - set(ours))
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {where} ({format}) does not fit {type(model).__name__}: missing "
                              f"{missing[:6]}{' ...' if len(missing) > 6 else ''}, unexpected "
                              f"{unexpected[:6]}{' ...' if len(unexpected) > 6 else ''}; is it the right file, "
                              "format and model size?")
    for key, value in ours.items():
        if state[key].shape != value.shape:
            hint = (" (FlexiViT: build the model with the checkpoint's base_patch_size and base_grid)"
                    if format == "timm_flexivit" and key in ("patch_embed.proj.weight", "pos_embed") else "")
            raise CheckpointError(f"checkpoint {where} ({format}): {key} has shape {tuple(state[key].shape)}, the "
                                  f"model {tuple(value.shape)}{hint}")
    return {key: state[key].to(value.dtype) for key, value in ours.items()}, ignored


def load_checkpoint(model: nn.Module, source: str | Path | dict, *, format: str) -> list[str]:
    """Load an official checkpoint (a file, or an already-read state dict or container) into
    `model` in place, converted from `format`; returns the official keys deliberately not loaded."""
    if isinstance(source, dict):
        where, state = "<state dict>", unwrap(source)
    else:
        where, state = str(source), read_checkpoint(source)
    converted, ignored = convert(state, format, model, where=where)
    model.load_state_dict(converted, strict=True)
    return ignored


# ---- released weights by name ----

WEIGHTS_ENV = "PATCHLIB_WEIGHTS"


def weights_dir(data_root: str | Path | None = None) -> Path:
    """Where released weights are looked for: $PATCHLIB_WEIGHTS, else <data root>/weights."""
    from ..data.root import resolve_data_root

    value = os.environ.get(WEIGHTS_ENV, "").strip()
    return Path(value).expanduser() if value else resolve_data_root(data_root) / "weights"


@dataclass(frozen=True)
class Checkpoint:
    """Released weights: the patchlib model they load into and where they come from."""

    model: str                            # registered patchlib model
    format: str                           # converter (FORMATS)
    file: str                             # file name in the weights folder
    overrides: dict = field(default_factory=dict)   # of the model's config
    timm: str | None = None               # timm's name: downloaded by timm (HF hub or the original URL)
    timm_kwargs: dict = field(default_factory=dict)  # timm.create_model arguments (e.g. FlexiViT's base size)
    original_npz: bool = False            # timm must read the original big_vision .npz, not its HF copy
    url: str | None = None                # official direct-download URL
    page: str | None = None               # official page to download from by hand
    source: str = ""                      # who released them
    # How the release evaluates its images (classifiers: the ImageNet-1k val preprocessing of its own code or
    # timm's validated config), and where that setting is stated.
    preprocessing: EvalTransform | None = None
    preprocessing_source: str = ""


# Evaluation preprocessing of the releases (see `Checkpoint.preprocessing`).
_TIMM_CFG = "timm's pretrained_cfg of the release (timm 1.0; tests/test_pretrained.py compares)"
_DEIT_EVAL = EvalTransform(224, 224 / 256, "bicubic", IMAGENET_MEAN, IMAGENET_STD)
_DEIT_EVAL_SOURCE = ("DeiT's and EViT's datasets.py: Resize(int(256 / 224 * 224), bicubic), CenterCrop(224), ImageNet "
                     "mean and std (timm's config for DeiT says crop 0.9; the papers' numbers used 0.875)")
_BIG_VISION_VIT_EVAL = EvalTransform(224, 0.9, "bicubic", INCEPTION_MEAN, INCEPTION_STD)
# big_vision's FlexiViT configs (configs/proj/flexivit/i1k_deit3_distill.py, pp_eval): decode|resize(res // 7 * 8)|
# central_crop(res)|value_range(-1, 1), where resize(n) squashes the image to n x n (bilinear, TensorFlow's resize).
_FLEXIVIT_EVAL = EvalTransform(240, 240 / (240 // 7 * 8), "bilinear", INCEPTION_MEAN, INCEPTION_STD, "square")
_FLEXIVIT_EVAL_SOURCE = ("big_vision configs/proj/flexivit/i1k_deit3_distill.py pp_eval: resize(272) to a square, "
                         "central_crop(240), value_range(-1, 1); PIL's antialiased bilinear resize and JPEG decoder "
                         "here where big_vision uses TensorFlow's")
_CONVMIXER_EVAL = EvalTransform(224, 0.96, "bicubic", IMAGENET_MEAN, IMAGENET_STD)


def _mobilevit(name: str) -> Checkpoint:
    crop = 0.9 if name.startswith("mobilevit_") else 0.888  # v1, v2: timm's configs of the cvnets weights
    return Checkpoint(name, "timm_mobilevit", f"{name}.cvnets_in1k.safetensors", timm=f"{name}.cvnets_in1k",
                      source="Apple ml-cvnets release, via timm",
                      preprocessing=EvalTransform(256, crop, "bicubic", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
                      preprocessing_source=_TIMM_CFG)


_FLEXIVIT_WIDTHS = {"small": {"dim": 384, "heads": 6}, "base": {}, "large": {"dim": 1024, "depth": 24, "heads": 16}}
_MAE = "https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_{}.pth"
_VITPOSE_PAGE = "https://github.com/ViTAE-Transformer/ViTPose#results-from-this-repo-on-ms-coco-val-set-single-task-training"
_EVIT_PAGE = "https://github.com/youweiliang/evit#model-zoo"


def _evit(keep_rate: float, fuse: bool) -> Checkpoint:
    from .evit import EViTConfig

    return Checkpoint("vit_base_patch16_224", "evit", f"evit-deit-s-{keep_rate}-{'fuse' if fuse else 'nofuse'}.pth",
                      overrides={"dim": 384, "heads": 6, "evit": EViTConfig(keep_rate=keep_rate, layers=(3, 6, 9),
                                                                           fuse_inattentive=fuse)},
                      page=_EVIT_PAGE, source=f"EViT model zoo (DeiT-S, keep rate {keep_rate}, "
                                              f"{'with' if fuse else 'without'} inattentive-token fusion)",
                      preprocessing=_DEIT_EVAL, preprocessing_source=_DEIT_EVAL_SOURCE)


CHECKPOINTS: dict[str, Checkpoint] = {
    # ViT (Fig. 7's ViT-L/32 has no head in its ImageNet-21k release) and DeiT-S (EViT's baseline).
    "vit_large_patch32_224.orig_in21k": Checkpoint(
        "vit_large_patch16_224", "timm_vit", "vit_large_patch32_224.orig_in21k.safetensors",
        overrides={"patch_size": 32, "num_classes": 0}, timm="vit_large_patch32_224.orig_in21k",
        source="Google's original ViT release, via timm", preprocessing=_BIG_VISION_VIT_EVAL,
        preprocessing_source=_TIMM_CFG),
    "vit_base_patch16_224.augreg_in21k_ft_in1k": Checkpoint(
        "vit_base_patch16_224", "timm_vit", "vit_base_patch16_224.augreg_in21k_ft_in1k.safetensors",
        timm="vit_base_patch16_224.augreg_in21k_ft_in1k", source="Google's AugReg release, via timm",
        preprocessing=_BIG_VISION_VIT_EVAL, preprocessing_source=_TIMM_CFG),
    "deit_small_patch16_224.fb_in1k": Checkpoint(
        "vit_base_patch16_224", "timm_vit", "deit_small_patch16_224-cd65a155.pth", overrides={"dim": 384, "heads": 6},
        timm="deit_small_patch16_224.fb_in1k", url="https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth",
        source="DeiT release (facebookresearch/deit)", preprocessing=_DEIT_EVAL, preprocessing_source=_DEIT_EVAL_SOURCE),
    # FlexiViT: big_vision's .npz, read by timm at the stored 32x32 kernel on the 7x7 grid.
    **{f"flexivit_{size}.1200ep_in1k": Checkpoint(
        "flexivit_base", "timm_flexivit", f"flexivit_{size[0]}_i1k.npz", overrides=_FLEXIVIT_WIDTHS[size],
        timm=f"flexivit_{size}.1200ep_in1k",
        timm_kwargs={"patch_size": 32, "img_size": 224}, original_npz=True,
        url=f"https://storage.googleapis.com/big_vision/flexivit/flexivit_{size[0]}_i1k.npz",
        source="big_vision FlexiViT release", preprocessing=_FLEXIVIT_EVAL, preprocessing_source=_FLEXIVIT_EVAL_SOURCE)
       for size in ("small", "base", "large")},
    **{f"flexivit_base.patch{p}_in21k": Checkpoint(
        "flexivit_base", "timm_flexivit", f"vit_b{p}_i21k_300ep.npz",
        overrides={"num_classes": 21843, "patch_sizes": (p,), "base_patch_size": p, "base_grid": 240 // p},
        timm=f"flexivit_base.patch{p}_in21k", timm_kwargs={"patch_size": p, "img_size": 240}, original_npz=True,
        url=f"https://storage.googleapis.com/big_vision/flexivit/vit_b{p}_i21k_300ep.npz",
        source=f"big_vision FlexiViT release (the ViT-B/{p} baseline)", preprocessing=_FLEXIVIT_EVAL,
        preprocessing_source=_FLEXIVIT_EVAL_SOURCE) for p in (16, 30)},
    # ConvMixer (locuslab release, timm's names) and MobileViT v1/v2 (ml-cvnets, via timm).
    **{f"{name}.in1k": Checkpoint(ours, "timm_convmixer", f"{name}.in1k.safetensors", timm=f"{name}.in1k",
                                  source="locuslab/convmixer release, via timm", preprocessing=_CONVMIXER_EVAL,
                                  preprocessing_source=_TIMM_CFG)
       for name, ours in (("convmixer_1536_20", "convmixer_1536_20"), ("convmixer_768_32", "convmixer_768_32"),
                          ("convmixer_1024_20_ks9_p14", "convmixer_1024_20"))},
    **{f"{name}.cvnets_in1k": _mobilevit(name) for name in
       ("mobilevit_xxs", "mobilevit_xs", "mobilevit_s", "mobilevitv2_050", "mobilevitv2_075", "mobilevitv2_100",
        "mobilevitv2_125", "mobilevitv2_150", "mobilevitv2_175", "mobilevitv2_200")},
    # EViT's model zoo (DeiT-S at keep rates 0.5-0.9, Google Drive links on the README).
    **{f"evit_deit_s.keep{rate}_{'fuse' if fuse else 'nofuse'}": _evit(rate, fuse)
       for rate in (0.9, 0.8, 0.7, 0.6, 0.5) for fuse in (True, False)},
    # ViTPose (OneDrive links on the README) and the MAE encoders it starts from.
    **{f"vitpose_{size}{'_simple' if simple else ''}.coco": Checkpoint(
        f"vitpose_{size}", "vitpose", f"vitpose-{size}{'-simple' if simple else ''}.pth",
        overrides={"decoder": "simple" if simple else "classic"}, page=_VITPOSE_PAGE,
        source=f"ViTPose-{size.upper()} ({'simple' if simple else 'classic'} decoder), COCO 256x192, ViTPose README")
       for size in ("s", "b", "l", "h") for simple in (False, True)},
    **{f"mae_vit_{size}": Checkpoint(f"vitpose_{size[0]}", "mae", f"mae_pretrain_vit_{size}.pth", url=_MAE.format(size),
                                      source="MAE release (facebookresearch/mae): ViTPose's initialisation")
       for size in ("base", "large", "huge")},
}


def load_pretrained(name: str, *, data_root: str | Path | None = None, download: bool = True,
                    **overrides) -> nn.Module:
    """Our model with the released weights `name` (`CHECKPOINTS`), in eval mode. The file is read
    from the weights folder (`weights_dir`) if it is there; else, with `download`, fetched through
    timm or from the official URL; else a FileNotFoundError says what to download and where. MAE
    entries give a ViTPose model whose backbone holds the MAE encoder (the decoder stays random)."""
    if name not in CHECKPOINTS:
        raise ValueError(f"unknown checkpoint {name!r}; known: {', '.join(sorted(CHECKPOINTS))}")
    return load_release(CHECKPOINTS[name], name=name, folder=weights_dir(data_root), download=download, **overrides)


def load_release(entry: Checkpoint, *, name: str, folder: Path, download: bool = True, **overrides) -> nn.Module:
    """`load_pretrained` of a `Checkpoint` entry (registered or not) from the weights folder `folder`."""
    model = create_model(entry.model, **(entry.overrides | overrides))
    target = model.backbone.vit if entry.format == "mae" else model
    path = Path(folder) / entry.file
    if path.is_file() and path.suffix != ".npz":
        load_checkpoint(target, path, format=entry.format)
    elif entry.timm and (download or path.is_file()):
        load_checkpoint(target, _through_timm(entry, path if path.is_file() else None), format=entry.format)
    elif entry.url and download:
        _download(entry.url, path)
        load_checkpoint(target, path, format=entry.format)
    else:
        where = entry.url or entry.page or f"timm ({entry.timm})"
        raise FileNotFoundError(f"weights {name!r} are not at {path}: download {entry.file} from {where} and put it "
                                f"there (or set ${WEIGHTS_ENV} to the folder that holds it)")
    return model.eval()


def _through_timm(entry: Checkpoint, npz: Path | None) -> dict:
    """timm's state dict of `entry`: downloaded by timm (the original .npz when `original_npz`), or
    read by timm from the local .npz `npz`."""
    try:
        import timm
    except ImportError:
        raise ImportError(f"{entry.timm} is distributed through timm: pip install timm, or put {entry.file} in the "
                          "weights folder") from None
    overlay = {}
    if npz is not None:
        overlay = {"file": str(npz), "custom_load": True}
    elif entry.original_npz:
        overlay = {"hf_hub_id": ""}  # timm's HF copy is resampled to patch 16; the .npz keeps the stored sizes
    try:
        reference = timm.create_model(entry.timm, pretrained=True, pretrained_cfg_overlay=overlay or None,
                                      **entry.timm_kwargs)
    except (OSError, RuntimeError, ValueError) as error:  # no network, a damaged download
        where = entry.url or f"the Hugging Face hub (timm/{entry.timm})"
        raise FileNotFoundError(f"could not get {entry.timm} through timm ({type(error).__name__}: {error}); "
                                f"download {entry.file} from {where} into the weights folder") from None
    return reference.state_dict()


def _download(url: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        torch.hub.download_url_to_file(url, str(partial), progress=True)
    except (OSError, RuntimeError, ValueError) as error:
        partial.unlink(missing_ok=True)
        raise FileNotFoundError(f"could not download {url} ({type(error).__name__}: {error}); download it by hand "
                                f"to {path}") from None
    partial.replace(path)
