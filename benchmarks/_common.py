"""What the benchmarks share: their command-line options and the throughput protocol they use."""
from __future__ import annotations

import argparse

import torch

from patchlib.measure import ThroughputProtocol, describe_protocol, measure_throughput


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


def time_models(models: dict, input_shape: tuple[int, ...], args: argparse.Namespace) -> dict:
    """`patchlib.measure.measure_throughput` with the command line's protocol; prints the protocol."""
    protocol = ThroughputProtocol(batch_size=args.batch_size, rounds=args.rounds, repeats=args.repeats)
    measured = measure_throughput(models, input_shape, protocol, device=args.device)
    print("protocol:", describe_protocol(measured))
    return measured["models"]
