"""MobileViT speed targets: separable attention's cost slope, and our networks against timm's.

1. Attention units (v2 Fig. 1 protocol: d = 512, 8 heads, one thread, batch 1): latency of
   multi-head and separable self-attention at k = 1024 ... 16384 tokens, both units timed in one
   run; prints the fitted log-log slopes. Target: separable slope <= 1.15 (MHA's beside it).
2. Networks: our MobileViT v1/v2 against timm's implementation of the same variant holding the
   same weights (outputs checked equal first), timed alternately in one process, fp32, at
   256 px. Target: ours / timm >= 0.95 for every variant.

    PYTHONPATH=. python benchmarks/mobilevit_speed.py [--batch-size 64] [--rounds 3] [--repeats 3]
"""
from __future__ import annotations

import torch
from _common import parse, parser, time_models

from patchlib.experiments.mobilevit import fitted_slope, time_attention_units
from patchlib.measure import ThroughputProtocol
from patchlib.models import create_model

VARIANTS = ("mobilevit_xxs", "mobilevit_xs", "mobilevit_s", "mobilevitv2_050", "mobilevitv2_100", "mobilevitv2_200")


def attention_slopes(token_counts: list[int], rounds: int) -> None:
    protocol = ThroughputProtocol(batch_size=1, warmup=1, repeats=3, rounds=rounds)
    timed = time_attention_units(512, 8, token_counts, threads=1, limit_s=float("inf"), protocol=protocol,
                                 device="cpu", progress=True)
    low, high = token_counts[0], token_counts[-1]
    for name, curve in timed["curves"].items():
        slope = fitted_slope([(point["k"], point["latency_s"]) for point in curve], low, high)
        print(f"slope of {name} over k in [{low}, {high}]: {slope:.3f}")


def network_ratios(args) -> None:
    import timm

    for name in args.variants:
        torch.manual_seed(0)
        reference = timm.create_model(name).eval()
        ours = create_model(name).eval()
        ours.load_state_dict(dict(zip(ours.state_dict(), reference.state_dict().values())))
        images = torch.randn(2, 3, 256, 256)
        with torch.no_grad():
            torch.testing.assert_close(ours(images), reference(images), rtol=1e-5, atol=1e-5)
        speed = time_models({"patchlib": ours, "timm": reference}, (3, 256, 256), args)
        ratio = speed["patchlib"]["images_per_s"] / speed["timm"]["images_per_s"]
        print(f"{name}: patchlib {speed['patchlib']['images_per_s']:.1f} img/s, timm "
              f"{speed['timm']['images_per_s']:.1f} img/s, ratio {ratio:.3f} (target >= 0.95)", flush=True)


def main() -> None:
    arguments = parser(__doc__.split("\n\n")[0])
    arguments.set_defaults(batch_size=64, rounds=3, repeats=3)
    arguments.add_argument("--tokens", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384])
    arguments.add_argument("--variants", nargs="+", default=list(VARIANTS))
    arguments.add_argument("--skip-attention", action="store_true")
    arguments.add_argument("--skip-networks", action="store_true")
    args = parse(arguments)
    if not args.skip_attention:
        attention_slopes(args.tokens, args.rounds)
    if not args.skip_networks:
        network_ratios(args)


if __name__ == "__main__":
    main()
