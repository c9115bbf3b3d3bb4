"""Round-robin batch-level sampling: which videos form each task's batches in an epoch.

Every iteration takes one batch of each active task in turn. A task's batches in epoch `e` come
from permutations of its videos seeded by (seed, task, epoch, cycle), repeated if the task has
fewer batches than the epoch has iterations; each distributed rank takes every world-th video.
Orders depend only on these numbers, so a run resumed at an epoch boundary sees the same batches.
"""

from __future__ import annotations

import math

import numpy as np


def iterations_per_epoch(sizes: dict[str, int], batch_sizes: dict[str, int], world: int = 1) -> int:
    """The largest task's number of batches per rank."""
    return max(math.ceil(sizes[t] / (batch_sizes[t] * world)) for t in sizes)


def epoch_batches(
    num_videos: int,
    batch_size: int,
    iterations: int,
    seed: int,
    task_index: int,
    epoch: int,
    rank: int = 0,
    world: int = 1,
) -> np.ndarray:
    """(iterations, batch_size) video indices of one task for one rank in one epoch."""
    if num_videos == 0:
        raise ValueError("a task has no training videos")
    need = iterations * batch_size * world
    cycles = math.ceil(need / num_videos)
    order = np.concatenate(
        [np.random.default_rng([seed, task_index, epoch, c]).permutation(num_videos) for c in range(cycles)]
    )[:need]
    return order.reshape(iterations, batch_size * world)[:, rank::world]


def sample_rng(seed: int, task_index: int, epoch: int, iteration: int, rank: int = 0) -> np.random.Generator:
    """The random generator for the crops of one batch."""
    return np.random.default_rng([seed, task_index, epoch, iteration, rank, 7])
