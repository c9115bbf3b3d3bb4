"""Side-by-side timing for the benchmarks that compare with the official algorithms: the candidates
run in alternating order, round after round, so that a load spike from the other users of the machine
hits all of them alike; each reports its median and interquartile range, and the ratio of medians.

``clock="cpu"`` times with the thread's CPU clock (for single-threaded code: immune to being
descheduled on a shared machine); ``"wall"`` with the wall clock (for multi-threaded code).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}


@dataclass(frozen=True)
class Spread:
    """Median and quartiles of repeated timings, in seconds."""

    median: float
    q1: float
    q3: float

    @classmethod
    def of(cls, runs: list[float]) -> Spread:
        if len(runs) < 2:
            return cls(runs[0], runs[0], runs[0])
        q = statistics.quantiles(runs, n=4, method="inclusive")
        return cls(statistics.median(runs), q[0], q[2])

    def __str__(self) -> str:
        return f"{self.median * 1e3:9.2f} ms [IQR {self.q1 * 1e3:.2f}-{self.q3 * 1e3:.2f}]"


def interleaved(
    candidates: dict[str, Callable[[], object]], rounds: int, clock: str = "wall", warmup: int = 1
) -> dict[str, Spread]:
    """Time every candidate once per round, forwards on even rounds and backwards on odd ones."""
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; choose from {sorted(CLOCKS)}")
    tick = CLOCKS[clock]
    for _ in range(warmup):
        for fn in candidates.values():
            fn()
    runs: dict[str, list[float]] = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            t0 = tick()
            candidates[name]()
            runs[name].append(tick() - t0)
    return {name: Spread.of(v) for name, v in runs.items()}


def report_pair(title: str, ours: Spread, official: Spread, official_name: str) -> None:
    """Two lines: ours, then the official algorithm with the ratio ours / official of the medians."""
    print(f"{title:<60} {ours}")
    print(f"  same input, {official_name:<46} {official}  ours/official = {ours.median / official.median:.2f}")
