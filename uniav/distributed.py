"""Where this process sits among torchrun's processes, and the torch.distributed plumbing used by
training (DistributedDataParallel: gloo on CPU, nccl on CUDA) and by feature extraction."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DistInfo:
    """This process's rank among `world_size` processes (and its rank on its machine)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"invalid rank {self.rank} for world size {self.world_size}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DistInfo:
        """From ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (as set by torchrun); defaults 0, 1, 0."""
        env = os.environ if env is None else env
        try:
            rank = int(env.get("RANK", "0"))
            world = int(env.get("WORLD_SIZE", "1"))
            local = int(env.get("LOCAL_RANK", str(rank)))
        except ValueError as exc:
            raise ValueError(f"RANK / WORLD_SIZE / LOCAL_RANK must be integers ({exc})") from None
        return cls(rank, world, local)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str) -> DistInfo:
    """Join the process group torchrun describes in the environment (nothing for one process)."""
    import torch.distributed as dist

    info = DistInfo.from_env()
    if not info.enabled:
        return info
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    if device.startswith("cuda"):
        torch.cuda.set_device(info.local_rank)
    return info


def broadcast_object(obj, info: DistInfo):
    """`obj` from rank 0 on every rank."""
    if not info.enabled:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def shutdown(info: DistInfo) -> None:
    import torch.distributed as dist

    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
