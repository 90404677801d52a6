"""Inference speed-up of EViT over the plain ViT, against the ratio of their GMACs.

The two models (the EViT chapter's profile model with and without reorganisation, random weights:
cost depends on shapes only) are timed alternately in one process, round after round, so that
drift in the machine's speed hits both alike (STYLE.md §11). Prints each model's median
throughput, the speed-up, the GMAC ratio and speed-up / GMAC ratio (how much of the counted
saving the hardware turns into speed).

    PYTHONPATH=. python benchmarks/evit_speedup.py [--profile cpu] [--keep-rate 0.7] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics

import torch

from patchlib.experiments import evit
from patchlib.measure import flops, throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cpu", help="whose model to time (default: cpu)")
    parser.add_argument("--keep-rate", type=float, default=0.7)
    parser.add_argument("--no-fusion", action="store_true", help="drop the inattentive tokens instead of fusing them")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per model and round")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    models = {"baseline": evit.evit_model(args.profile, 1.0, None),
              "evit": evit.evit_model(args.profile, args.keep_rate, not args.no_fusion)}
    size = models["baseline"].config.image_size
    shape = (3, size, size)
    gmacs = {name: flops(model, shape)["gmacs"] for name, model in models.items()}
    rates = {name: [] for name in models}
    for round_index in range(args.rounds):
        for name, model in (models.items() if round_index % 2 == 0 else reversed(models.items())):
            rates[name].append(throughput(model, shape, batch_size=args.batch_size, device=args.device,
                                          precision="fp32", warmup=2, repeats=args.repeats)["images_per_s"])
    median = {name: statistics.median(values) for name, values in rates.items()}
    speedup = median["evit"] / median["baseline"]
    ratio = gmacs["baseline"] / gmacs["evit"]
    layers = [i + 1 for i in models["evit"].config.reorganize_layers]
    print(f"model: {args.profile} profile, reorganisation layers {layers} (1-based), keep rate {args.keep_rate}, "
          f"{'dropping' if args.no_fusion else 'fusing'} inattentive tokens, tokens per layer "
          f"{evit.tokens_per_layer(models['evit'])}")
    print(f"protocol: batch {args.batch_size}, fp32, {args.device}, {torch.get_num_threads()} threads, "
          f"{args.rounds} alternating rounds x (2 warm-up + {args.repeats} timed passes), median of round medians")
    for name in models:
        print(f"{name:>8}: {gmacs[name]:.4f} GMACs/image, {median[name]:8.1f} images/s "
              f"(rounds: {', '.join(f'{r:.0f}' for r in rates[name])})")
    print(f"speed-up {speedup:.3f}x, GMAC ratio {ratio:.3f}x, speed-up / GMAC ratio {speedup / ratio:.3f}")


if __name__ == "__main__":
    main()
