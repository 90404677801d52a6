"""FlexiViT: PI-resize against its defining invariant and timm, the model against a plain ViT."""
import itertools
import math
import random
import re

import pytest

from patchlib.train import TrainConfig
import torch
import torch.nn.functional as F
from einops import rearrange

import patchlib
from patchlib.layers import resample_patch_embed, resize_pos_embed
from patchlib.losses import distillation_loss, random_patch_loss
from patchlib.models.flexivit import AtPatchSize, FlexiViT, FlexiViTConfig, init_from_vit
from patchlib.models.vit import ViTConfig, VisionTransformer

PAPER_SIZES = (5, 6, 8, 10, 12, 15, 16, 20, 24, 30, 40, 48)


def tokens(patches: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """<x, w> for patches [B, C, h, w] and a kernel [D, C, h, w]: [B, D]."""
    return torch.einsum("bchw,dchw->bd", patches, kernel)


def bilinear(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", antialias=False, align_corners=False)


# ---- PI-resize (FlexiViT §3.4), in the spirit of big_vision's flexi/vit_test.py ----

def test_pi_resize_preserves_tokens_for_every_upsampling_pair():
    generator = torch.Generator().manual_seed(0)
    for old, new in itertools.combinations_with_replacement(PAPER_SIZES, 2):  # old <= new
        patches = torch.randn(4, 3, old, old, dtype=torch.float64, generator=generator)
        kernel = torch.randn(2, 3, old, old, dtype=torch.float64, generator=generator)
        resampled = resample_patch_embed(kernel, new)
        assert resampled.shape == (2, 3, new, new) and resampled.dtype == torch.float64
        torch.testing.assert_close(tokens(bilinear(patches, new), resampled), tokens(patches, kernel),
                                   rtol=1e-8, atol=1e-8, msg=f"{old} -> {new}")


@pytest.mark.parametrize("old, new", [((8, 10), (10, 12)), ((8, 6), (16, 15)), ((8, 6), (9, 15)), ((8, 6), (15, 9))])
def test_pi_resize_rectangular(old, new):
    generator = torch.Generator().manual_seed(1)
    patches = torch.randn(5, 3, *old, dtype=torch.float64, generator=generator)
    kernel = torch.randn(4, 3, *old, dtype=torch.float64, generator=generator)
    resampled = resample_patch_embed(kernel, new)
    assert resampled.shape == (4, 3, *new)
    torch.testing.assert_close(tokens(bilinear(patches, new), resampled), tokens(patches, kernel), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("channels", [1, 3, 10])
def test_pi_resize_any_number_of_input_channels(channels):
    generator = torch.Generator().manual_seed(2)
    patches = torch.randn(5, channels, 8, 10, dtype=torch.float64, generator=generator)
    kernel = torch.randn(4, channels, 8, 10, dtype=torch.float64, generator=generator)
    resampled = resample_patch_embed(kernel, (10, 12))
    torch.testing.assert_close(tokens(bilinear(patches, (10, 12)), resampled), tokens(patches, kernel),
                               rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("new", [4, 5, 6, 7])
def test_pi_resize_downsampling_is_the_least_squares_solution(new):
    generator = torch.Generator().manual_seed(3)
    kernel = torch.randn(6, 3, 8, 8, dtype=torch.float64, generator=generator)
    resampled = resample_patch_embed(kernel, new)
    assert resampled.shape == (6, 3, new, new) and resampled.dtype == kernel.dtype
    # B [new^2, 64] resizes a flattened 8x8 patch; the least-squares kernel is argmin ||B^T w' - w||
    basis = torch.eye(64, dtype=torch.float64).reshape(64, 1, 8, 8)
    resize = bilinear(basis, new).reshape(64, new * new).T                     # [new^2, 64]
    solution = torch.linalg.lstsq(resize.T, kernel.reshape(18, 64).T).solution  # [new^2, 18]
    torch.testing.assert_close(resampled.reshape(18, new * new), solution.T, rtol=1e-8, atol=1e-10)
    # and it is not simply the plain resize
    assert not torch.allclose(resampled, resample_patch_embed(kernel, new, method="resize"))


def test_other_methods_do_not_preserve_tokens_when_upsampling():
    generator = torch.Generator().manual_seed(4)
    patches = torch.randn(64, 3, 8, 8, dtype=torch.float64, generator=generator)
    kernel = torch.randn(4, 3, 8, 8, dtype=torch.float64, generator=generator)
    reference = tokens(patches, kernel)
    for method in ("resize", "area", "norm"):
        resampled = resample_patch_embed(kernel, 16, method=method)
        error = (tokens(bilinear(patches, 16), resampled) - reference).abs().max()
        assert error > 0.1 * reference.abs().max(), method


def test_method_definitions():
    generator = torch.Generator().manual_seed(5)
    kernel = torch.randn(4, 3, 8, 8, dtype=torch.float64, generator=generator)
    plain = bilinear(kernel, (12, 12))
    torch.testing.assert_close(resample_patch_embed(kernel, 12, method="resize"), plain)
    torch.testing.assert_close(resample_patch_embed(kernel, 12, method="area"), plain * 64 / 144)
    normed = resample_patch_embed(kernel, 12, method="norm")
    torch.testing.assert_close(normed.flatten(1).norm(dim=1), kernel.flatten(1).norm(dim=1))
    torch.testing.assert_close(normed / normed.flatten(1).norm(dim=1)[:, None, None, None],
                               plain / plain.flatten(1).norm(dim=1)[:, None, None, None])
    assert resample_patch_embed(kernel, 8) is kernel  # same size: unchanged, for every method


@pytest.mark.parametrize("new, antialias", [(6, False), (6, True), (9, False), (16, True), ((10, 20), False)])
def test_parity_with_timm(new, antialias):
    from timm.layers import resample_patch_embed as timm_resample  # timm computes in float32

    kernel = torch.randn(16, 3, 12, 12, generator=torch.Generator().manual_seed(6))
    size = new if isinstance(new, tuple) else (new, new)
    ours = resample_patch_embed(kernel, new, interpolation="bilinear", antialias=antialias)
    theirs = timm_resample(kernel, list(size), interpolation="bilinear", antialias=antialias)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4 * kernel.abs().max().item())
    bicubic = resample_patch_embed(kernel, new, interpolation="bicubic", antialias=antialias)
    torch.testing.assert_close(bicubic, timm_resample(kernel, list(size), interpolation="bicubic", antialias=antialias),
                               rtol=1e-4, atol=1e-4 * kernel.abs().max().item())


def test_pi_resize_is_differentiable_and_keeps_device_and_dtype():
    kernel = torch.randn(4, 3, 8, 8, requires_grad=True)
    resampled = resample_patch_embed(kernel, 12)
    assert resampled.dtype == torch.float32
    resampled.square().sum().backward()
    assert kernel.grad is not None and kernel.grad.abs().sum() > 0


def test_bad_arguments_raise():
    kernel = torch.randn(4, 3, 8, 8)
    with pytest.raises(ValueError, match="kernel"):
        resample_patch_embed(torch.randn(3, 8, 8), 4)
    with pytest.raises(ValueError, match="positive"):
        resample_patch_embed(kernel, 0)
    with pytest.raises(ValueError, match="positive"):
        resample_patch_embed(kernel, (4, -1))
    with pytest.raises(ValueError, match="positive"):
        resample_patch_embed(kernel, (4, 4, 4))
    with pytest.raises(ValueError, match="unknown method"):
        resample_patch_embed(kernel, 4, method="lanczos")
    with pytest.raises(ValueError, match="unknown interpolation"):
        resample_patch_embed(kernel, 4, interpolation="nearest")


# ---- the model ----

def micro(**overrides) -> FlexiViT:
    torch.manual_seed(0)
    model = patchlib.create_model("flexivit_micro", **overrides)
    torch.nn.init.normal_(model.head.weight, std=0.5)  # the head starts at zero: make outputs informative
    return model


def test_flexivit_at_base_patch_and_grid_is_a_plain_vit():
    model = micro().eval()
    vit = VisionTransformer(model.config.vit_config()).eval()
    vit.load_state_dict(model.state_dict())
    images = torch.randn(3, 3, 48, 48)
    with torch.no_grad():
        expected = vit(images)
        assert expected.abs().max() > 0.1
        torch.testing.assert_close(model(images, patch_size=12), expected, rtol=0, atol=0)
        # a one-size FlexiViT is a plain ViT at its own size
        single = micro(patch_sizes=(6,), base_patch_size=6, base_grid=8).eval()
        plain = VisionTransformer(ViTConfig(image_size=48, patch_size=6, num_classes=10, dim=64, depth=2, heads=2))
        plain.load_state_dict(single.state_dict())
        torch.testing.assert_close(single(images), plain.eval()(images), rtol=0, atol=0)


def test_pos_embed_resize_to_the_same_grid_is_the_identity():
    model = micro()
    _, pos = model.resized_parameters(12, (4, 4))
    assert pos is model.pos_embed
    pos = torch.randn(1, 1 + 16, 8)
    same = F.interpolate(rearrange(pos[:, 1:], "1 (h w) d -> 1 d h w", h=4), size=(4, 4), mode="bilinear",
                         antialias=True, align_corners=False)
    torch.testing.assert_close(rearrange(same, "1 d h w -> 1 (h w) d"), pos[:, 1:])  # even when recomputed
    torch.testing.assert_close(resize_pos_embed(pos, (4, 4)), pos)


def test_every_patch_size_and_sequence_length():
    model = micro().eval()
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        outputs = {p: model(images, patch_size=p) for p in model.config.patch_sizes}
        for p in model.config.patch_sizes:
            assert model.embed(images, p).shape == (2, 1 + (48 // p) ** 2, 64)
        assert not torch.allclose(outputs[6], outputs[24])
        torch.testing.assert_close(model(images), outputs[6])  # default: the smallest size
        assert model(torch.randn(1, 3, 36, 24), patch_size=6).shape == (1, 10)  # other image sizes, rectangular
    with pytest.raises(ValueError, match="not divisible"):
        model(images, patch_size=7)
    with pytest.raises(ValueError, match="divide the image size"):
        FlexiViTConfig(image_size=48, patch_sizes=(5,))


def test_eval_cache_is_reused_and_invalidated_by_an_optimizer_step():
    model = micro()
    images = torch.randn(2, 3, 48, 48)
    model.eval()
    with torch.no_grad():
        first = model(images, patch_size=8)
        kernel, _ = model.resized_parameters(8, (6, 6))
        assert model.resized_parameters(8, (6, 6))[0] is kernel  # cached
        torch.testing.assert_close(model(images, patch_size=8), first, rtol=0, atol=0)
    # with autograd on, nothing comes from the cache (gradients must reach the base kernel)
    assert model.resized_parameters(8, (6, 6))[0] is not kernel
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(images, patch_size=8).square().sum().backward()
    optimizer.step()
    with torch.no_grad():
        fresh = model(images, patch_size=8)
        assert model.resized_parameters(8, (6, 6))[0] is not kernel
        assert not torch.allclose(fresh, first)
        expected = AtPatchSize(FlexiViT(model.config), 8)
        expected.model.load_state_dict(model.state_dict())
        torch.testing.assert_close(fresh, expected.eval()(images), rtol=0, atol=0)
        cached = model.resized_parameters(8, (6, 6))[0]
    model.train()
    assert not model._resized
    model.eval()
    with torch.no_grad():
        assert model.resized_parameters(8, (6, 6))[0] is not cached


def per_patch_resize(images: torch.Tensor, patch: int, new: int) -> torch.Tensor:
    """Resize every patch on its own (what PI-resize inverts exactly)."""
    gh = images.shape[-2] // patch
    patches = rearrange(images, "b c (gh ph) (gw pw) -> (b gh gw) c ph pw", ph=patch, pw=patch)
    resized = bilinear(patches, new)
    return rearrange(resized, "(b gh gw) c ph pw -> b c (gh ph) (gw pw)", b=images.shape[0], gh=gh)


def test_init_from_vit_reproduces_the_teacher():
    torch.manual_seed(0)
    teacher = VisionTransformer(ViTConfig(image_size=24, patch_size=4, num_classes=10, dim=32, depth=2, heads=2))
    torch.nn.init.normal_(teacher.head.weight, std=0.5)
    teacher = teacher.double().eval()
    images = torch.randn(3, 3, 24, 24, dtype=torch.float64)
    with torch.no_grad():
        expected = teacher(images)
        # Same base as the teacher: a plain copy, exact at the teacher's patch size and grid.
        same = init_from_vit(FlexiViT(FlexiViTConfig(image_size=24, patch_sizes=(4, 6), base_patch_size=4, base_grid=6,
                                                     num_classes=10, dim=32, depth=2, heads=2)).double(), teacher)
        torch.testing.assert_close(same.eval()(images, patch_size=4), expected, rtol=0, atol=0)
        # A larger base kernel (4 -> 8, upsampling) on the teacher's 6x6 grid: PI-resize keeps every token
        # exactly when each patch is bilinearly resized, so the student at patch 8 on 48-px images
        # (each 4-px patch resized to 8 px) reproduces the teacher. Resizing the whole image instead
        # mixes neighbouring patches at their borders, and downsampling back to 4 px is least squares
        # (8 -> 4 does not invert 4 -> 8), so neither of those is exact.
        big = init_from_vit(FlexiViT(FlexiViTConfig(image_size=48, patch_sizes=(8,), base_patch_size=8, base_grid=6,
                                                    num_classes=10, dim=32, depth=2, heads=2)).double(), teacher)
        torch.testing.assert_close(big.eval()(per_patch_resize(images, 4, 8), patch_size=8), expected,
                                   rtol=1e-10, atol=1e-10)
        assert not torch.allclose(big(bilinear(images, 48), patch_size=8), expected, rtol=1e-6, atol=1e-6)


def test_loss_factories_give_finite_losses_and_gradients_reach_the_base_kernel():
    model = micro().train()
    images, labels = torch.randn(8, 3, 48, 48), torch.randint(0, 10, (8,))
    generator = torch.Generator().manual_seed(0)
    for loss_fn in (random_patch_loss((6, 24), label_smoothing=0.1),
                    distillation_loss(micro(patch_sizes=(12,)), (6, 8, 16), temperature=2.0)):
        model.zero_grad()
        loss, logits = loss_fn(model, images, labels, generator)
        assert logits.shape == (8, 10) and torch.isfinite(loss)
        loss.backward()
        assert model.patch_embed.proj.weight.grad.abs().sum() > 0
        assert model.pos_embed.grad.abs().sum() > 0


def test_random_patch_sizes_come_from_the_generator_alone():
    """The sizes follow the generator they are given: the same seed, the same sizes, whatever
    Python's or torch's global random state does in between (the training loop's streams and
    their independence from the global RNG: tests/test_engine.py)."""
    seen = []

    class Recorder(torch.nn.Module):
        def forward(self, images, patch_size):
            seen.append(patch_size)
            return torch.zeros(len(images), 10, requires_grad=True)

    loss_fn = random_patch_loss((6, 8, 12, 16, 24))
    images, labels = torch.zeros(2, 3, 48, 48), torch.zeros(2, dtype=torch.long)
    generator = torch.Generator().manual_seed(5)
    for _ in range(40):
        loss_fn(Recorder(), images, labels, generator)
    first, seen[:] = list(seen), []
    generator = torch.Generator().manual_seed(5)
    for step in range(40):
        torch.manual_seed(step)
        random.seed(step)
        torch.rand(3)
        loss_fn(Recorder(), images, labels, generator)
    assert seen == first and set(first) == {6, 8, 12, 16, 24}


def test_distillation_loss_is_zero_when_student_equals_teacher():
    teacher = micro(patch_sizes=(12,))
    student = micro(patch_sizes=(12,))
    student.load_state_dict(teacher.state_dict())
    loss, _ = distillation_loss(teacher, (12,))(student.eval(), torch.randn(4, 3, 48, 48), torch.zeros(4, dtype=torch.long),
                                                torch.Generator())
    assert abs(loss.item()) < 1e-6


# ---- the chapter: data helper, configurations and claim rules on synthetic records ----

def test_from_vit_keeps_a_fixed_vit_exact_at_its_own_size():
    torch.manual_seed(0)
    vit = VisionTransformer(ViTConfig(image_size=48, patch_size=6, num_classes=10, dim=32, depth=2, heads=2)).eval()
    torch.nn.init.normal_(vit.head.weight, std=0.5)
    flexi = FlexiViT.from_vit(vit, (6, 12)).eval()
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(flexi(images, patch_size=6), vit(images), rtol=0, atol=0)
        assert flexi(images, patch_size=12).shape == (2, 10)


def test_upsample_images_resizes_and_refingerprints():
    from patchlib.data import ImageData
    from patchlib.data.resize import upsample_images

    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    data = ImageData.from_tensors(images, torch.tensor([0, 1, 2]), ["a", "b", "c"], name="toy", source="random")
    big = upsample_images(data, 48)
    assert big.images.shape == (3, 3, 48, 48) and big.images.dtype == torch.uint8
    assert big.fingerprint != data.fingerprint and "48x48" in big.source
    expected = bilinear(images.float(), (48, 48)).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(big.images, expected)
    assert upsample_images(data, 32) is data


def test_chapter_configs_are_distinct_and_plain_vits_carry_no_evit_fields():
    from patchlib.experiments import flexivit as chapter
    from patchlib.profiles import TRAINING_PROFILES

    for profile in TRAINING_PROFILES:
        ctx = chapter.context(profile)
        configs = [chapter.train_config(ctx, role) for role in chapter.roles(ctx.size)]
        assert len({c["name"] for c in configs}) == len(configs)
        assert all(c["chapter"] == "flexivit" and c["profile"] == profile for c in configs)
        assert all("evit" not in c["model_config"] and "keep_rate" not in c["model_config"] for c in configs)
    with pytest.raises(ValueError, match="unknown piece"):
        chapter.run("smoke", force=("training",))


SIZES = [6, 8, 12, 16, 24]
N_TEST = 10_000


def _entry(role, acc, *, seed=0, own=None, plain=None):
    entry = {"acc": list(acc), "loss": [1.0] * 5, "own_patch": own, "role": role, "seed": seed}
    if plain is not None:
        entry["acc_plain"] = list(plain)
    return entry


def _train(epochs, lr=1e-3, weight_decay=0.05):
    """A training config as records keep it (`TrainConfig.record`)."""
    return TrainConfig(epochs=epochs, batch_size=128, lr=lr, weight_decay=weight_decay, warmup_epochs=1,
                       schedule="cosine", augment="crop_flip", precision="bf16_fp32_attention").record()


def synthetic_records(small, large, flexi, *, pi=(60, 60, 59.95, 60), others=(60, 52, 40, 30), distill=None,
                      plain=True, flexi_seeds=(), large_seeds=(), distill_seeds=(), flexi_epochs=20, last_rise=0.3,
                      distill_lr=None, flexi_long=None, histories=None, frontier=None):
    """Records shaped like the chapter's, by default inside every claim's gate: the standard ViTs also
    evaluated with the paper's plain resize ("acc_plain", here equal to "acc"), FlexiViT at equal compute
    per patch size (20 epochs over 5 sizes against 4), every model near the end of its training (its last
    epoch adds `last_rise` points), the student distilled with the official recipe scaled to batch 128.
    `flexi_long`: accuracies of a FlexiViT trained 5 x 4 epochs (equal compute per size); `histories`: {role: [per
    run, test accuracy per epoch, or a history entry]} replacing the two-epoch histories."""
    from patchlib.experiments.flexivit import distill_recipe

    plain_of = lambda acc: acc if plain else None  # noqa: E731
    models = {"vit_small": _entry("vit_small", small, own=6, plain=plain_of(small)),
              "vit_large": _entry("vit_large", large, own=12, plain=plain_of(large)), "flexi": _entry("flexi", flexi)}
    models.update({f"flexi-s{i}": _entry("flexi", acc, seed=i) for i, acc in enumerate(flexi_seeds, 1)})
    models.update({f"vit_large-s{i}": _entry("vit_large", acc, seed=i, own=12, plain=plain_of(acc))
                   for i, acc in enumerate(large_seeds, 1)})
    model_config = {"patch_sizes": SIZES, "base_patch_size": 12, "base_grid": 4, "depth": 2, "dim": 32, "heads": 2}
    configs = {"vit_small": {"train": _train(4)}, "vit_large": {"train": _train(4)},
               "flexi": {"train": _train(flexi_epochs), "model_config": model_config}}
    if flexi_long is not None:
        models["flexi_long"] = _entry("flexi_long", flexi_long)
        configs["flexi_long"] = {"train": _train(20), "model_config": model_config, "eval_every": 5}
    if distill is not None:
        recipe = distill_recipe(128) if distill_lr is None else {"lr": distill_lr, "weight_decay": 0.05}
        models["distill"] = _entry("distill", distill)
        models.update({f"distill-s{i}": _entry("distill", acc, seed=i) for i, acc in enumerate(distill_seeds, 1)})
        configs["distill"] = {"train": _train(2, **recipe)}
    config = {"chapter": "flexivit", "name": "evaluate-cpu", "profile": "cpu", "dataset": "cifar10", "image_size": 48,
              "models": configs}
    provenance = {"data": {"n_test": N_TEST}}
    histories = histories or {role: [[50.0, 50.0 + last_rise]] for role in configs}
    records = {
        "evaluate": {"config": config, "config_hash": "0" * 16, "provenance": provenance, "result": {
            "patch_sizes": SIZES, "seq_len": [64, 36, 16, 9, 4], "models": models, "chance": 10.0}},
        "figure4": {"config": {**config, "name": "figure4-cpu", "methods": ["pi", "resize", "area", "norm"]},
                    "config_hash": "1" * 16, "provenance": provenance, "result": {
                        "factors": [1, 2, 3, 4], "patch_sizes": [6, 12, 18, 24], "image_sizes": [48, 96, 144, 192],
                        "grid": [8, 8], "accuracy": {"pi": list(pi), **{m: list(others) for m in ("resize", "area", "norm")}}}},
        "train": {f"{role}-s{i}" if i else role: {
            "config": {"role": role}, "result": {"history": [a if isinstance(a, dict) else {"test_acc": a} for a in run],
                                                 "parameters": 1000, "train_time_s": 60.0 * len(run)}}
            for role, runs in histories.items() for i, run in enumerate(runs)}}
    if frontier is not None:
        records["frontier"] = _frontier_record(frontier)
    return records


PAPER_LIKE = dict(small=[60, 30, 15, 12, 11], large=[20, 35, 50, 30, 15], flexi=[60, 56, 51, 45, 38],
                  distill=[60.3, 58, 53, 47, 40])
UNLIKE = dict(small=[60, 58, 57, 55, 50], large=[50, 52, 55, 52, 50], flexi=[50, 40, 48, 45, 44],
              pi=[60, 59, 58, 55], others=[60, 59.5, 59.5, 59.5])


def _verdicts(records) -> dict[str, str]:
    from patchlib.experiments.flexivit import readers

    return {c.id: c.verdict for c in readers.claims(records)}


def _claim(records, claim_id):
    from patchlib.experiments.flexivit import readers

    return {c.id: c for c in readers.claims(records)}[claim_id]


def test_claim_rules_on_synthetic_records():
    """Inside every gate: a paper-like run reproduces every claim, an unlike one none (no distillation: not tested)."""
    assert _verdicts(synthetic_records(**PAPER_LIKE)) == {
        "vit_collapse": "reproduced", "flexi_matches_fixed": "reproduced", "flexi_smooth": "reproduced",
        "flexi_above_elsewhere": "reproduced", "pi_resize_lossless": "reproduced",
        "distilled_matches_teacher": "reproduced", "distillation_helps": "reproduced"}
    assert _verdicts(synthetic_records(**UNLIKE)) == {
        "vit_collapse": "not_reproduced", "flexi_matches_fixed": "not_reproduced", "flexi_smooth": "not_reproduced",
        "flexi_above_elsewhere": "not_reproduced", "pi_resize_lossless": "not_reproduced",
        "distilled_matches_teacher": "not_tested", "distillation_helps": "not_tested"}


def test_every_claim_states_its_kind_gate_rule_and_paper_status():
    from patchlib.claims import KINDS, claim_record
    from patchlib.experiments.flexivit import readers

    for records in (synthetic_records(**PAPER_LIKE, frontier=FRONTIER_POINTS), synthetic_records(**UNLIKE)):
        for claim in readers.claims(records):
            assert claim.kind in KINDS and claim.rule and claim.gate, claim.id
            assert claim.paper_status in ("confirmed", "secondary", "not sourced"), claim.id
            assert set(claim_record(claim)) >= {"gate", "rule", "paper_status"}
            if claim.verdict not in ("not_tested",) and claim.our_value is not None:
                assert claim.spread is not None and claim.n, claim.id  # every comparison carries its noise


def test_the_fixed_vits_collapse_is_judged_only_with_the_papers_resize():
    """Issue 22/23: the paper's Fig. 3 resizes the standard ViTs plainly; records that run them only through
    PI-resize (the gentlest resize) cannot judge the collapse, nor FlexiViT beating them there. The old rule
    judged the PI-resized ViTs as if they were the paper's: not reproduced."""
    pi_only = synthetic_records(**{**PAPER_LIKE, "small": [60, 50, 45, 40, 35], "large": [40, 45, 50, 45, 40]},
                                plain=False)
    claim = _claim(pi_only, "vit_collapse")
    assert claim.verdict == "not_testable_here" and "NOT met" in claim.gate and "PI-resize" in claim.unit
    assert "kernel loses 8.00 at 2x, 20.00 at 3x" in claim.evidence  # the Fig. 4 record, labelled
    assert _claim(pi_only, "flexi_above_elsewhere").verdict == "not_testable_here"
    # with the paper's resize stored beside it, the plain accuracies are the ones judged
    records = synthetic_records(**PAPER_LIKE, plain=False)
    for name, plain in (("vit_small", [60, 30, 15, 12, 11]), ("vit_large", [20, 35, 50, 30, 15])):
        records["evaluate"]["result"]["models"][name]["acc_plain"] = plain
        records["evaluate"]["result"]["models"][name]["acc"] = [60, 59, 58, 57, 56]  # PI-resize: no collapse
    assert _claim(records, "vit_collapse").verdict == "reproduced"
    assert _claim(records, "vit_collapse").gate.endswith("(met)")


def test_flexivit_against_fixed_vits_needs_equal_compute_or_settled_training():
    """Issue 22/23: a FlexiViT that saw each patch size on a fifth of 4 epochs' steps against ViTs that saw theirs
    on all of them, none near the end of its training, is not testable (the old rule: not reproduced)."""
    short = synthetic_records(**{**PAPER_LIKE, "flexi": [50, 48, 45, 40, 35]}, flexi_epochs=4, last_rise=3.0)
    claim = _claim(short, "flexi_matches_fixed")
    assert claim.verdict == "not_testable_here"
    assert "FlexiViT 0.8 epochs' worth of steps per patch size (4 epochs over 5 sizes)" in claim.gate
    assert "rise of test accuracy ViT/6 +3.00" in claim.gate and "NOT met" in claim.gate
    # the same gap after settled training (equal epochs, unequal compute per size, as in the paper) is judged
    settled = synthetic_records(**{**PAPER_LIKE, "flexi": [50, 48, 45, 40, 35]}, flexi_epochs=4, last_rise=0.5)
    assert _claim(settled, "flexi_matches_fixed").verdict == "not_reproduced"


def test_the_distilled_student_is_judged_two_sided_and_at_the_official_learning_rate():
    """"Matches its teacher" is two-sided: a student 5 points above it does not match, so only its graceful fall
    holds (the old one-sided rule called the claim reproduced). A student distilled at the from-scratch
    learning rate is outside the regime."""
    above = _claim(synthetic_records(**{**PAPER_LIKE, "distill": [65, 58, 53, 47, 40]}), "distilled_matches_teacher")
    assert above.verdict == "partially" and "match not reproduced, graceful fall reproduced" in above.evidence
    hot = synthetic_records(**PAPER_LIKE, distill_lr=1e-3)
    claim = _claim(hot, "distilled_matches_teacher")
    assert claim.verdict == "not_testable_here" and "lr 0.001" in claim.gate
    assert _claim(hot, "distillation_helps").verdict == "reproduced"  # its gate is the accuracy, not the recipe


def test_flexivits_smooth_fall_is_weighed_against_the_seed_noise():
    """A rise of 1.3 points from 6 to 8 with seed noise of about a point is within the noise (the old rule, a bare
    1-point threshold, called the claim not reproduced)."""
    flexi, seeds = [50, 51.3, 45, 40, 35], ([49, 51.3, 45, 40, 35], [51, 51.3, 45, 40, 35])
    records = synthetic_records(**{**PAPER_LIKE, "flexi": flexi}, flexi_seeds=seeds)
    claim = _claim(records, "flexi_smooth")
    assert claim.verdict == "within_noise" and claim.n == 3 and "6→8: +1.30 ± 0.58" in claim.evidence


def test_figure4_losses_carry_the_test_sets_noise():
    """PI-resize losing 0.24 points on 10,000 images and area-scaled resize losing 1.04 (the cpu record): the
    first keeps accuracy within 2 points beyond the noise, the second is within the noise of it."""
    records = synthetic_records(**PAPER_LIKE, pi=[59.23, 59.06, 58.99, 59.09])
    records["figure4"]["result"]["accuracy"]["area"] = [59.23, 58.19, 58.91, 58.5]
    claim = _claim(records, "pi_resize_lossless")
    assert claim.verdict == "partially" and claim.n == 1 and 0.6 < claim.spread < 0.8
    assert "area: loses 1.04 ± 0.70 (within noise)" in claim.evidence and "pi: loses 0.24" in claim.evidence


def test_teacher_position_embeddings_are_resampled_like_big_vision():
    """Issue 13 §6: big_vision's loader resamples with scipy.ndimage.zoom(order=1), linear and
    corner-aligned: hand-computed small cases (the class token is kept as it is)."""
    from patchlib.models.flexivit import resample_posemb

    def posemb(grid):  # [1, 1 + h*w, 1] with a class token of -1
        return torch.cat([torch.tensor([[-1.0]]), torch.tensor(grid, dtype=torch.float32).reshape(-1, 1)])[None]

    three = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert resample_posemb(posemb(three), (2, 2), (3, 3)).flatten().tolist() == [-1, 0, 2, 6, 8]
    two = [[0, 1], [2, 3]]
    assert resample_posemb(posemb(two), (3, 3), (2, 2)).flatten().tolist() == [-1, 0, .5, 1, 1, 1.5, 2, 2, 2.5, 3]
    four = [[4 * i + j for j in range(4)] for i in range(4)]  # linear in (i, j): sampled at 0, 1.5, 3
    expected = [-1] + [4 * 1.5 * i + 1.5 * j for i in range(3) for j in range(3)]
    assert resample_posemb(posemb(four), (3, 3), (4, 4)).flatten().tolist() == pytest.approx(expected)


FRONTIER_POINTS = [(6, 1.0, 100, 70.0), (8, 1.0, 150, 67.0), (12, 1.0, 200, 64.0), (24, 1.0, 400, 55.0),
                   (6, 0.5, 180, 60.0)]


def _frontier_record(points, image_size=None):
    config = {"chapter": "flexivit", "name": "frontier-cpu"} | ({"image_size": image_size} if image_size else {})
    return {"config": config, "config_hash": "0" * 16, "result": {"n_test": N_TEST, "points": [
        {"patch_size": p, "keep_rate": k, "images_per_s": v, "acc": a, "gmacs": 1.0 / v} for p, k, v, a in points]}}


def test_the_two_knob_frontier_counts_only_gains_at_equal_speed():
    """Issue 13 §4: the combined frontier is judged at the throughputs each knob reaches alone."""
    from patchlib.experiments.flexivit.readers import frontier_gains, pareto

    # Patch size alone (keep 1): 6, 8, 12, 24 at 100, 150, 200, 400 img/s. Keep rate alone (patch 6): 0.5 at
    # 180 img/s, 60%. Both: patch 8 at keep 0.7, 190 img/s, 64.5%: 0.5 points over the best single-knob point
    # at least as fast (patch 12, 64%); 7 points over the keep rate alone at 150 img/s.
    record = _frontier_record(FRONTIER_POINTS + [(8, 0.7, 190, 64.5)])
    assert [p["images_per_s"] for p in pareto(record["result"]["points"])] == [400, 200, 190, 150, 100]
    gains = frontier_gains(record)
    assert gains["patch"]["max_gain"] == pytest.approx(0.5) and gains["either"]["max_gain"] == pytest.approx(0.5)
    assert gains["keep"]["max_gain"] == pytest.approx(7.0) and gains["keep"]["at_images_per_s"] == 150


@pytest.mark.parametrize("acc, verdict", [(66.0, "reproduced"), (64.5, "within_noise"), (63.0, "within_noise"),
                                          (60.0, "not_reproduced")])
def test_the_two_knob_claim_is_beyond_the_papers_and_signed(acc, verdict):
    """Issue 22: "beyond the papers" is its own kind (the old claim counted as a failed reproduction), and its
    margin over the single knobs is signed and weighed against the test set's noise: a two-knob point 1 point
    below them is within the noise (the old rule, whose gain could not be negative, said not reproduced)."""
    records = synthetic_records(**PAPER_LIKE, frontier=FRONTIER_POINTS + [(8, 0.7, 190, acc)])
    claim = _claim(records, "two_knobs_dominate")
    assert claim.kind == "beyond" and claim.verdict == verdict
    assert claim.our_value == pytest.approx(acc - 64.0) and claim.n == 1 and 0.6 < claim.spread < 0.75


def test_a_keep_rate_that_keeps_every_token_is_not_a_second_knob():
    """At 48 px, patch 16 leaves 9 tokens and keep rate 0.9 keeps all of them: the same model as keep rate 1."""
    from patchlib.experiments.flexivit.readers import two_knob_margin

    points = FRONTIER_POINTS + [(8, 0.7, 190, 63.0), (16, 0.9, 390, 56.0)]
    assert two_knob_margin(_frontier_record(points))["point"]["patch_size"] == 16  # counted without the image size
    best = two_knob_margin(_frontier_record(points, image_size=48))
    assert best["point"]["patch_size"] == 8 and best["margin"] == pytest.approx(-1.0)


def test_flexivit_claims_use_every_seed():
    """Issue 13 §2: FlexiViT's gaps to the fixed ViTs come with their spread over seeds."""
    from patchlib.experiments.flexivit import readers

    records = synthetic_records(small=[70, 40, 20, 12, 10], large=[30, 40, 60, 30, 12], flexi=[69, 66, 60, 52, 40],
                                flexi_seeds=([68.5, 66, 59.5, 52, 40], [69.5, 66, 60.5, 52, 40]),
                                large_seeds=([30, 40, 60.5, 30, 12], [30, 40, 59.5, 30, 12]),
                                distill=[69.8, 67, 61, 53, 41])
    claims = {c.id: c for c in readers.claims(records)}
    match = claims["flexi_matches_fixed"]
    assert match.verdict == "reproduced" and match.n == 3 and "paired per seed" in match.evidence
    assert claims["distilled_matches_teacher"].verdict == "reproduced"
    assert claims["distillation_helps"].verdict in ("reproduced", "within_noise")
    assert readers.seed_sd(records["evaluate"]["result"]["models"]) == pytest.approx((1.5 / 20) ** 0.5)


# ---- the page's prose: from the records, every number traceable ----

NUMBER = re.compile(r"(?<![A-Za-z\d.])(?<![A-Za-z]-)[-+]?\d+(?:,\d{3})*(?:\.\d+)?")


def untraced_numbers(records) -> list[str]:
    """The numbers printed in the prose that no fact rounds to, as printed (sign aside)."""
    from patchlib.experiments.flexivit import readers

    facts = list(readers.facts(records).values())
    missing = []
    for text in readers.prose(records):
        for match in NUMBER.findall(text):
            value = float(match.replace(",", ""))
            digits = len(match.split(".")[1]) if "." in match else 0
            if not any(abs(round(abs(f), digits) - abs(value)) < 1e-9 for f in facts):
                missing.append(match)
    return missing


def _committed_records() -> dict:
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "results" / "flexivit"
    load = lambda piece: json.loads(next(folder.glob(f"{piece}-cpu-*.json")).read_text())  # noqa: E731
    train = [json.loads(p.read_text()) for p in sorted(folder.glob("train-*-cpu-*.json"))]
    return {"evaluate": load("evaluate"), "figure4": load("figure4"), "frontier": load("frontier"),
            "measure": load("measure"),
            "train": {r["config"]["name"].removeprefix("train-").removesuffix("-cpu"): r for r in train}}


def test_the_committed_records_are_judged_inside_their_gates():
    """Issue 23 on the committed cpu records (recomputed with the paper's resize, an equal-compute FlexiViT and the
    official distillation recipe): their gates are met, so these claims are judged; the two-knob question is beyond
    the papers."""
    from patchlib.experiments.flexivit import readers

    claims = {c.id: c for c in readers.claims(_committed_records())}
    assert {i: c.verdict for i, c in claims.items()} == {
        "vit_collapse": "reproduced", "flexi_matches_fixed": "reproduced",
        "flexi_smooth": "reproduced", "flexi_above_elsewhere": "partially",
        "pi_resize_lossless": "partially", "distilled_matches_teacher": "partially",
        "distillation_helps": "reproduced", "two_knobs_dominate": "within_noise"}
    assert claims["two_knobs_dominate"].kind == "beyond"
    assert "Through PI-resize instead (the book's addition, not judged)" in claims["vit_collapse"].evidence
    assert "3 epochs' worth of steps per patch size (15 epochs over 5 sizes)" in claims["flexi_matches_fixed"].gate
    assert "(met)" in claims["flexi_matches_fixed"].gate and "(met)" in claims["vit_collapse"].gate


def test_the_chapters_prose_follows_the_verdicts_and_prints_only_traced_numbers():
    from patchlib.experiments.flexivit import readers

    committed = _committed_records()
    parts = readers.prose_parts(committed)
    assert untraced_numbers(committed) == []
    # the kernel-and-grid sentence: 32x32 is the model file's default, each config named with the kernel it sets
    assert "(`models/proj/flexi/vit.py`) defaults to a 32×32 kernel on a 7×7 grid" in parts["parameters"]
    assert ("configs set the kernel: 8×8 in `i21k_sup.py` (which also sets the 7×7 grid) and 8×8 in `i21k_distill.py`, "
            "16×16 in `i1k_deit3_distill.py`") in parts["parameters"]
    assert not any("32×32" in text and "configs" in text.split("32×32")[0][-60:] for text in readers.prose(committed))
    assert "as the paper's do" in parts["resize"] and "0.43 (ViT/6) and 0.42 (ViT/12)" in parts["resize"]
    assert "not_" not in " ".join(readers.prose(committed))  # verdicts in words, never identifiers
    paper_like = synthetic_records(**PAPER_LIKE, frontier=FRONTIER_POINTS + [(8, 0.7, 190, 66.0)])
    text = readers.prose_parts(paper_like)["summary"]
    assert text.startswith("The collapse of standard ViTs away from their training patch size is reproduced")
    assert untraced_numbers(paper_like) == []
    unlike = synthetic_records(**UNLIKE)
    assert "Distillation" not in readers.prose_parts(unlike)["summary"]
    assert readers.prose_parts(unlike)["distillation"] == "**Distillation.** Not run in this profile."
    from patchlib.experiments.flexivit.tables import paper_table, setup_table

    table = paper_table()
    assert list(table.index) == list(readers.PAPER) and set(table["status"]) <= {"confirmed", "secondary", "not sourced"}
    setup = setup_table(committed)
    assert ("kernel 32×32 (model file default), 8×8 (i21k_sup.py), 8×8 (i21k_distill.py), 16×16 (i1k_deit3_distill.py)"
            in setup.loc["underlying kernel / position grid", "paper"])


# ---- issue 23: the paper's Fig. 3 resize, equal compute, training length, the official distillation recipe ----

def test_plain_resize_is_the_papers_fig3_baseline_and_differs_from_pi_resize_in_the_kernel_alone():
    """The fixed ViT at another patch size as the paper's Fig. 3 runs it: its kernel resized bilinearly like an image,
    its position embeddings resized as FlexiViT resizes them (so only the kernel's resize differs from PI-resize)."""
    from patchlib.experiments.flexivit import plain_resized_vit

    torch.manual_seed(0)
    vit = VisionTransformer(ViTConfig(image_size=48, patch_size=6, num_classes=10, dim=32, depth=2, heads=2)).eval()
    torch.nn.init.normal_(vit.head.weight, std=0.5)
    images = torch.randn(2, 3, 48, 48)
    flexible = FlexiViT.from_vit(vit, (6, 12)).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain_resized_vit(vit, 6)(images), vit(images), rtol=0, atol=0)
        plain = plain_resized_vit(vit, 12)
        kernel, pos_embed = flexible.resized_parameters(12, (4, 4))
        torch.testing.assert_close(plain.patch_embed.proj.weight, bilinear(vit.patch_embed.proj.weight, (12, 12)))
        torch.testing.assert_close(plain.pos_embed, pos_embed)
        assert not torch.allclose(plain.patch_embed.proj.weight, kernel)  # PI-resize is another kernel
        pi = VisionTransformer(plain.config).eval()
        pi.load_state_dict(plain.state_dict() | {"patch_embed.proj.weight": kernel})
        torch.testing.assert_close(pi(images), flexible(images, patch_size=12))  # the kernel is the only difference
        assert not torch.allclose(plain(images), flexible(images, patch_size=12))


def test_the_cpu_profile_trains_in_bf16_with_fp32_attention_and_adds_equal_compute_and_seeded_students():
    from patchlib.experiments import flexivit as chapter

    size = chapter.SIZES["cpu"]
    assert size.train.precision == "bf16_fp32_attention"
    assert chapter.role_training(size, "flexi_long").epochs == size.train.epochs * len(size.patch_sizes)
    runs = chapter.trained_runs(chapter.context("cpu"))
    assert {seed for role, seed in runs if role == "distill"} == {0}  # the 75-min budget carries one student
    assert {seed for role, seed in runs if role == "vit_large"} == {0, 1}  # and two ViT/12
    assert {seed for role, seed in runs if role == "flexi"} == {0, 1}
    assert [chapter.evaluation_cadence(size, role) for role in chapter.roles(size)] == [1, 1, 1, 5, 2]
    assert [role for role, _ in runs].count("flexi_long") == 1
    config = chapter.train_config(chapter.context("smoke"), "flexi")
    assert "global torch RNG" not in config["objective"] and "the epoch's shared generator" in config["objective"]


def test_the_official_distillation_recipe_is_scaled_linearly_to_the_batch():
    """i1k_deit3_distill.py: lr 1e-4, wd 1e-5 at batch 1024; big_vision's wd is a decay per step not multiplied by
    the lr (torch's AdamW: weight_decay = wd / lr = 0.1). At batch 128 both scale by 1/8: lr 1.25e-5, and the decay per
    step 1.25e-6, which is torch's 0.1 again."""
    from patchlib.experiments import flexivit as chapter

    assert chapter.distill_recipe(1024) == {"lr": 1e-4, "weight_decay": 0.1}
    recipe = chapter.distill_recipe(128)
    assert recipe == {"lr": 1.25e-5, "weight_decay": 0.1}
    assert recipe["lr"] * recipe["weight_decay"] == pytest.approx(1e-5 * 128 / 1024)
    distill = chapter.role_training(chapter.SIZES["cpu"], "distill")
    assert (distill.lr, distill.weight_decay, distill.epochs) == (1.25e-5, 0.1, chapter.SIZES["cpu"].distill_epochs)
    config = chapter.train_config(chapter.context("cpu"), "distill")
    assert config["train"]["lr"] == 1.25e-5 and "vit_small" in config["teacher"]["name"]


def test_the_distilled_students_are_judged_over_their_seeds_at_the_scaled_recipe():
    records = synthetic_records(**{**PAPER_LIKE, "distill": [60.2, 58, 53, 47, 40]},
                                distill_seeds=([60.4, 58, 53, 47, 40], [60.0, 58, 53, 47, 40]))
    teacher, helps = _claim(records, "distilled_matches_teacher"), _claim(records, "distillation_helps")
    assert teacher.n == 3 and teacher.spread == pytest.approx(0.12, abs=0.005) and teacher.gate.endswith("(met)")
    assert teacher.verdict == "reproduced" and "3 student run(s), over their seeds" in teacher.evidence
    assert "lr 1.25e-05, weight_decay 0.1" in teacher.gate
    assert helps.n == 3


def test_flexivit_is_judged_against_the_fixed_vits_at_equal_compute_per_patch_size():
    """A FlexiViT of 4 epochs (0.8 per size, unsettled) next to one of 20 (4 per size, as each fixed ViT at its own):
    the claim is judged on the second, the first reported beside it."""
    unsettled = dict(**{**PAPER_LIKE, "flexi": [50, 48, 45, 40, 35]}, flexi_epochs=4, last_rise=3.0)
    claim = _claim(synthetic_records(**unsettled, flexi_long=[59.5, 56, 50.5, 45, 38]), "flexi_matches_fixed")
    assert claim.verdict == "reproduced" and claim.gate.endswith("(met)")
    assert "FlexiViT 4 epochs' worth of steps per patch size (20 epochs over 5 sizes)" in claim.gate
    assert "equal compute per patch size" in claim.unit and "At equal epochs instead" in claim.evidence
    assert "ViT/6 -10.00" in claim.evidence  # the equal-epoch gap, not judged
    behind = _claim(synthetic_records(**unsettled, flexi_long=[50, 48, 44, 40, 35]), "flexi_matches_fixed")
    assert behind.verdict == "not_reproduced"
    records = synthetic_records(**unsettled, flexi_long=[59.5, 56, 50.5, 45, 38])
    records["evaluate"]["config"]["models"]["flexi_long"]["train"]["epochs"] = 10  # not equal compute, not settled
    assert _claim(records, "flexi_matches_fixed").verdict == "not_testable_here"


def test_the_gap_over_training_length_is_read_from_the_histories():
    from patchlib.experiments.flexivit.readers import training_length

    # evaluated every 5 epochs, as the chapter evaluates it: after 5, 10, 15, 20 epochs 30, 40, 50, 60
    long_run = [{"epoch": e} | ({"test_acc": 20.0 + 2 * e} if e % 5 == 0 else {}) for e in range(1, 21)]
    histories = {"vit_small": [[33.0, 47.0, 55.0, 59.0]], "vit_large": [[30.0, 40.0, 47.0, 50.0]],
                 "flexi": [[31.0, 38.0, 44.0, 48.0], [27.0, 40.0, 45.0, 48.0]], "flexi_long": [long_run]}
    records = synthetic_records(**PAPER_LIKE, flexi_long=[60, 56, 51, 45, 38], histories=histories, flexi_epochs=4)
    course = training_length(records)
    assert course["patch"] == 6 and course["n_sizes"] == 5 and len(course["curves"]["flexi"]) == 2
    assert course["curves"]["flexi_long"] == [([5, 10, 15, 20], [30.0, 40.0, 50.0, 60.0])]
    assert [g["equal_epochs"] for g in course["gaps"]] == pytest.approx([-4.0, -8.0, -10.5, -11.0])
    assert [g["equal_compute"] for g in course["gaps"]] == pytest.approx([-3.0, -7.0, -5.0, 1.0])
    from patchlib.experiments.flexivit import readers

    note = readers.prose_parts(records)["training_length"]
    assert "-4.00, -8.00, -10.50, -11.00 points" in note and "-3.00, -7.00, -5.00, +1.00" in note
    assert "ViT/6 -3.00; -4.00" not in note
    del histories["flexi_long"]
    records = synthetic_records(**PAPER_LIKE, histories=histories, flexi_epochs=4)
    assert all(math.isnan(g["equal_compute"]) for g in training_length(records)["gaps"])
    records["evaluate"]["result"]["models"]["vit_small"]["own_patch"] = 8  # not the smallest size: no common curve
    assert training_length(records) is None


def test_the_prose_of_a_run_with_both_resizes_equal_compute_and_seeded_students_prints_only_traced_numbers():
    from prose_checks import assert_prose_states_only_facts

    from patchlib.experiments.flexivit import readers
    from patchlib.experiments.flexivit.tables import setup_table

    histories = {"vit_small": [[33.0, 47.0, 55.0, 59.0]], "vit_large": [[30.0, 40.0, 47.0, 50.0]],
                 "flexi": [[31.0, 38.0, 44.0, 48.0]], "distill": [[{"epoch": 1}, {"epoch": 2, "test_acc": 59.0}]],
                 "flexi_long": [[{"epoch": e} | ({"test_acc": 20.0 + 2 * e} if e % 5 == 0 else {}) for e in range(1, 21)]]}
    records = synthetic_records(**PAPER_LIKE, flexi_long=[60, 56, 51, 45, 38], histories=histories, flexi_epochs=4,
                                distill_seeds=([60.1, 58, 53, 47, 40],), frontier=FRONTIER_POINTS,
                                flexi_seeds=([59, 56, 51, 45, 38], [61, 56, 51, 45, 38]),
                                large_seeds=([20, 35, 50.5, 30, 15], [20, 35, 49.5, 30, 15]))
    for name, pi in (("vit_small", [60, 59, 58, 57, 56]), ("vit_large", [55, 56, 50, 49, 48])):
        records["evaluate"]["result"]["models"][name]["acc"] = pi  # PI-resize keeps more than the plain resize
    parts = readers.prose_parts(records)
    assert_prose_states_only_facts(readers.prose(records), readers.facts(records))
    assert untraced_numbers(records) == []
    assert "judged on these" in parts["resize"] and "through PI-resize" in parts["resize"]
    assert "A second FlexiViT therefore trains for 20 epochs, 4 epochs' worth at each patch size" in parts["compute"]
    assert "20.0 minutes, against 4.0 for ViT/6 and 4.0 for ViT/12" in parts["compute"]
    assert "learning rate 0.0000125 and weight decay 0.1. Ours distils for 2 epochs at these settings" in \
        parts["distillation"] and "2 student seeds" in parts["distillation"]
    assert "the FlexiViT trained at equal compute per patch size is" in parts["summary"]
    assert "dashed" in parts["figure3_method"]
    assert "FlexiViT (20 epochs) +10.00 over its last 5 epochs" in _claim(records, "flexi_matches_fixed").gate
    assert parts["seeds_note"].startswith("Error bars: mean ± sd over 3 seeds of ViT/12 and FlexiViT; 2 seeds of the "
                                          "distilled FlexiViT (")
    setup = setup_table(records)
    assert "a FlexiViT of 20 epochs, 4 per size" in setup.loc["compute per patch size", "ours"]
    assert "lr 1.25e-05, torch AdamW weight decay 0.1" in setup.loc["distillation", "ours"]
