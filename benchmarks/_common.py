"""What the benchmarks share: their command-line options and the protocol line they print."""
from __future__ import annotations

import argparse

import torch


def parser(description: str) -> argparse.ArgumentParser:
    """Options every benchmark takes; a benchmark adds its own before `parse`."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--profile", default="cpu", help="whose model to time (default: cpu)")
    result.add_argument("--batch-size", type=int, default=128)
    result.add_argument("--rounds", type=int, default=5)
    result.add_argument("--repeats", type=int, default=5, help="timed passes per model and round")
    result.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    result.add_argument("--device", default="cpu")
    return result


def parse(arguments: argparse.ArgumentParser) -> argparse.Namespace:
    args = arguments.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def protocol(args: argparse.Namespace) -> str:
    return (f"protocol: batch {args.batch_size}, fp32, {args.device}, {torch.get_num_threads()} threads, "
            f"{args.rounds} alternating rounds x (2 warm-up + {args.repeats} timed passes), median of round medians")
