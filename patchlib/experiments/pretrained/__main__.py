"""`python -m patchlib.experiments.pretrained check [--data-root DIR] [--weights DIR] [--chapters ...] [--strict]`:
per chapter, the released weights and data the `pretrained` profile would read and which are missing,
with where to download each and where to put it. Exit 0 (1 with --strict when something is missing)."""
from __future__ import annotations

import argparse
import sys

from ...chapters import NAMES


def main(argv: list[str] | None = None) -> int:
    from ...models.checkpoints import weights_dir
    from .check import report

    parser = argparse.ArgumentParser(prog="python -m patchlib.experiments.pretrained")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="list the missing weights and data, and where to get them")
    check.add_argument("--data-root", default=None, help="the data root (default: $PATCHLIB_DATA, else data/)")
    check.add_argument("--weights", default=None, help="the weights folder (default: $PATCHLIB_WEIGHTS, else "
                                                       "<data root>/weights)")
    check.add_argument("--chapters", nargs="+", default=list(NAMES), choices=NAMES)
    check.add_argument("--strict", action="store_true", help="exit 1 when anything is missing")
    args = parser.parse_args(argv)
    from pathlib import Path

    folder = Path(args.weights).expanduser() if args.weights else weights_dir(args.data_root)
    text, count = report(args.chapters, args.data_root, folder)
    print(text)
    return 1 if args.strict and count else 0


if __name__ == "__main__":
    sys.exit(main())
