"""Inference speed-up of EViT over the plain ViT, against the ratio of their GMACs.

The two models (the EViT chapter's profile model with and without reorganisation, random weights:
cost depends on shapes only) are timed alternately in one process, round after round, so that
drift in the machine's speed hits both alike (STYLE.md §11). Prints each model's median
throughput, the speed-up, the GMAC ratio and speed-up / GMAC ratio (how much of the counted
saving the hardware turns into speed).

    PYTHONPATH=. python benchmarks/evit_speedup.py [--profile cpu] [--keep-rate 0.7] [--rounds 5]
"""
from __future__ import annotations

import torch
from _common import parse, parser, time_models

from patchlib.experiments import evit
from patchlib.measure import flops


def main() -> None:
    arguments = parser(__doc__.split("\n\n")[0])
    arguments.add_argument("--keep-rate", type=float, default=0.7)
    arguments.add_argument("--no-fusion", action="store_true", help="drop the inattentive tokens instead of fusing them")
    args = parse(arguments)

    torch.manual_seed(0)
    models = {"baseline": evit.evit_model(args.profile, 1.0, None),
              "evit": evit.evit_model(args.profile, args.keep_rate, not args.no_fusion)}
    size = models["baseline"].config.image_size
    shape = (3, size, size)
    gmacs = {name: flops(model, shape)["gmacs"] for name, model in models.items()}
    measured = time_models(models, shape, args)
    median = {name: m["images_per_s"] for name, m in measured.items()}
    rates = {name: m["rounds"] for name, m in measured.items()}
    speedup = median["evit"] / median["baseline"]
    ratio = gmacs["baseline"] / gmacs["evit"]
    layers = [i + 1 for i in models["evit"].reorganize_layers]
    print(f"model: {args.profile} profile, reorganisation layers {layers} (1-based), keep rate {args.keep_rate}, "
          f"{'dropping' if args.no_fusion else 'fusing'} inattentive tokens, tokens per layer "
          f"{evit.tokens_per_layer(models['evit'])}")
    for name in models:
        print(f"{name:>8}: {gmacs[name]:.4f} GMACs/image, {median[name]:8.1f} images/s "
              f"(rounds: {', '.join(f'{r:.0f}' for r in rates[name])})")
    print(f"speed-up {speedup:.3f}x, GMAC ratio {ratio:.3f}x, speed-up / GMAC ratio {speedup / ratio:.3f}")


if __name__ == "__main__":
    main()
