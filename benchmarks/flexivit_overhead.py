"""Inference overhead of FlexiViT at a fixed patch size over the plain ViT with the same weights.

At one patch size, FlexiViT's eval-mode forward is the ViT's with a cached, resized kernel and
position embeddings; the only extra work is a cache look-up, so the overhead should be within
noise (target: at most 3%). The two models (the FlexiViT chapter's profile model, random
weights, and a `VisionTransformer` holding exactly the same resized weights, so outputs are
checked equal) are timed alternately in one process, round after round, so that drift in the
machine's speed hits both alike (STYLE.md §11). Prints each model's median throughput and the ratio.

    PYTHONPATH=. python benchmarks/flexivit_overhead.py [--profile cpu] [--patch-size 8] [--rounds 5]
"""
from __future__ import annotations

from dataclasses import replace

import torch
from _common import parse, parser, time_models

from patchlib.experiments import flexivit as chapter
from patchlib.models.flexivit import AtPatchSize
from patchlib.models.vit import VisionTransformer


def main() -> None:
    arguments = parser(__doc__.split("\n\n")[0])
    arguments.add_argument("--patch-size", type=int, default=8, help="a size that needs resizing (default: 8)")
    args = parse(arguments)

    torch.manual_seed(0)
    size = chapter.SIZES[args.profile]
    flexi = chapter.build_role_model(size, "flexi").eval()
    patch, image = args.patch_size, size.image_size
    with torch.no_grad():
        kernel, pos_embed = flexi.resized_parameters(patch, (image // patch, image // patch))
        config = flexi.config
        vit = VisionTransformer(replace(config.vit_config(), image_size=image, patch_size=patch)).eval()
        vit.load_state_dict(flexi.state_dict() | {"patch_embed.proj.weight": kernel, "pos_embed": pos_embed})
        images = torch.randn(4, 3, image, image)
        torch.testing.assert_close(flexi(images, patch_size=patch), vit(images), rtol=0, atol=0)
    models = {"vit": vit, "flexivit": AtPatchSize(flexi, patch)}
    shape = (3, image, image)
    measured = time_models(models, shape, args)
    median = {name: m["images_per_s"] for name, m in measured.items()}
    rates = {name: m["rounds"] for name, m in measured.items()}
    print(f"model: {args.profile} profile FlexiViT at patch {patch} ({image // patch}x{image // patch} tokens, "
          f"base kernel {config.base_patch_size}, base grid {config.base_grid}), outputs equal to the plain ViT's")
    for name in models:
        print(f"{name:>9}: {median[name]:8.1f} images/s (rounds: {', '.join(f'{r:.0f}' for r in rates[name])})")
    overhead = median["vit"] / median["flexivit"] - 1
    print(f"FlexiViT / ViT throughput {median['flexivit'] / median['vit']:.3f}; overhead {100 * overhead:+.1f}% "
          f"(target ≤ 3%)")


if __name__ == "__main__":
    main()
