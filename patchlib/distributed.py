"""Data-parallel training across processes (`torchrun --nproc_per_node=N`), kept out of the way
of single-process runs.

The scheme, shared by `patchlib.train` and `patchlib.pose.train`:
- Every rank draws the same data order from the seeded epoch generator and takes its contiguous
  slice of each global batch (`shard`), so the global batch size, the number of steps and the
  learning-rate schedule are those of a single-process run.
- Gradients are averaged by DistributedDataParallel; with equal slices, the average of the ranks'
  mean losses is the single-process mean loss, so without augmentation an N-process run follows a
  1-process run up to floating-point summation order (tested with gloo on CPU).
- Randomness that must differ between ranks (augmentation, RandAugment, dropout) is drawn from
  per-rank seeds (`rank_seed`; rank 0 keeps the single-process seed); choices every replica must
  share (FlexiViT's patch size per step) come from a stream seeded alike on every rank
  (`patchlib.train.EpochStreams.shared`), so they agree without communication.
- Only rank 0 writes checkpoints, results and claims; every rank reads them (resume works).
- On CUDA, batch norm becomes SyncBatchNorm, so its statistics are the global batch's, as in a
  single-process run (SyncBatchNorm does not run on CPU: a CPU run keeps per-rank statistics).

A single process (no `torchrun`, or WORLD_SIZE=1) never initialises a process group, and every
function here is then the identity or a no-op.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import nn


def init_from_environment(device: torch.device | None = None) -> bool:
    """Join the process group `torchrun` describes (WORLD_SIZE > 1 in the environment), with NCCL
    on CUDA and gloo otherwise; on CUDA, each rank takes the GPU of its LOCAL_RANK. Returns whether
    this process is part of a multi-process run."""
    if dist.is_available() and dist.is_initialized():
        return world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    cuda = torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    return True


def device_for_this_rank(device: str) -> str:
    """Under torchrun with CUDA, "auto" or "cuda" means this rank's GPU (LOCAL_RANK); else `device`."""
    if world_size() > 1 and device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Whether this process writes files (rank 0, or a single process)."""
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def rank_seed(seed: int) -> int:
    """This rank's seed for randomness that must differ between ranks; rank 0 (and a single
    process) keeps `seed`, so a 1-process run is unchanged."""
    return seed + 1_000_003 * rank()


def sum_over_ranks(*values: float) -> list[float]:
    """The sums over all ranks of each of `values` (float64); the values themselves in a single process."""
    if world_size() == 1:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64,
                          device=torch.device("cuda") if dist.get_backend() == "nccl" else None)
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_to_all(tensor: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's `tensor` (on the CPU), in rank order; [tensor] in a single process."""
    if world_size() == 1:
        return [tensor]
    parts = [None] * world_size()
    dist.all_gather_object(parts, tensor.cpu())
    return parts


def shard(batch_size: int) -> slice:
    """This rank's slice of a global batch of `batch_size` items (which the ranks must divide)."""
    world = world_size()
    if batch_size % world:
        raise ValueError(f"the batch size {batch_size} must be divisible by the number of processes ({world}) "
                         f"so that every rank gets an equal slice; change batch_size or --nproc_per_node")
    per_rank = batch_size // world
    return slice(rank() * per_rank, (rank() + 1) * per_rank)


def split_evenly(n: int) -> slice:
    """This rank's contiguous part of n items for evaluation (the parts cover all n exactly once)."""
    world, here = world_size(), rank()
    return slice(n * here // world, n * (here + 1) // world)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """`model` in DistributedDataParallel (batch norm synchronised on CUDA) when several processes
    train; `model` itself otherwise. The wrapper shares the model's parameters."""
    if world_size() == 1:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    return nn.parallel.DistributedDataParallel(model)


@contextmanager
def main_writes():
    """A block that only rank 0 runs (file writes), after which every rank waits for it."""
    try:
        yield is_main()
    finally:
        barrier()
