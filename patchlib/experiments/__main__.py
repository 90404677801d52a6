"""Compute one or more chapters' records from the command line, in one process or several:

    python -m patchlib.experiments vit evit --profile gpu
    python -m patchlib.experiments vit evit --profile pretrained     (the released checkpoints, evaluated)
    torchrun --nproc_per_node=8 -m patchlib.experiments $(python3 patchlib/chapters.py) --profile gpu

The chapters are those of `patchlib/chapters.py`, the one registry (`python3 patchlib/chapters.py` lists them).

Under torchrun, every training run is data-parallel over the processes (`patchlib.distributed`)
and rank 0 writes the records and claims; `make reproduce PROFILE=gpu` then builds the book from them.
"""
from __future__ import annotations

import argparse
import functools
import importlib

from .. import distributed
from ..chapters import NAMES, get_chapter
from ..profiles import PROFILES, TRAINING_PROFILES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m patchlib.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="+", choices=NAMES, metavar="CHAPTER",
                        help=f"chapters to compute, of: {', '.join(NAMES)} (patchlib/chapters.py)")
    parser.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    parser.add_argument("--data-root", default=None, help="where the datasets are (default: $PATCHLIB_DATA)")
    parser.add_argument("--results-dir", default=None, help="where records go (default: $PATCHLIB_RESULTS or results/)")
    parser.add_argument("--force", choices=("stale", "all"), default=None,
                        help="recompute records of other code or data (stale), or every record (all)")
    parser.add_argument("--dry-run", action="store_true", help="full-size models, a few steps each (see the README)")
    args = parser.parse_args(argv)

    distributed.init_from_environment(None if args.device == "auto" else args.device)
    device = distributed.device_for_this_rank(args.device)
    for chapter in args.chapters:
        if args.profile in TRAINING_PROFILES:
            run = importlib.import_module(get_chapter(chapter).module).run
        else:  # pretrained: the chapter's released weights, evaluated (patchlib.experiments.pretrained)
            from . import pretrained

            run = functools.partial(pretrained.run, chapter)
        run(args.profile, seed=args.seed, device=device, data_root=args.data_root,
            results_dir=args.results_dir, force={"stale": "stale", "all": True, None: False}[args.force],
            dry_run=args.dry_run)


if __name__ == "__main__":
    main()
