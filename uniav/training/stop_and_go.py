"""Dynamic stop-and-go (paper 3.4): pause a task whose validation mAP has plateaued, resume it when
its mAP falls back (the other tasks moved the shared weights on).

The rule follows the official controller (a multi-task "stop on plateau"): a task improves when its
metric beats its best by a relative `min_delta`; after more than `patience` evaluations without
improvement it is paused; a paused task resumes once its metric drops below ``best * (1 -
continue_threshold)``; after a pause or a resume, the next evaluation is a cool-down that does not
count. Unlike the official one, at least one task always trains: if every task would be paused,
all resume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass


@dataclass
class TaskPlateau:
    best: float | None = None
    bad_evals: int = 0
    paused: bool = False
    cooldown: int = 0


class StopAndGo:
    def __init__(
        self,
        tasks: Sequence[str],
        patience: int = 1,
        min_delta: float = 0.001,
        continue_threshold: float = 0.005,
        cooldown: int = 1,
        enabled: bool = True,
    ) -> None:
        self.tasks = list(tasks)
        self.patience = patience
        self.min_delta = min_delta
        self.continue_threshold = continue_threshold
        self.cooldown = cooldown
        self.enabled = enabled
        self.state = {t: TaskPlateau() for t in self.tasks}

    @property
    def active(self) -> list[str]:
        return [t for t in self.tasks if not self.state[t].paused]

    def update(self, metrics: Mapping[str, float]) -> list[str]:
        """Feed one evaluation (task -> validation average mAP); returns the tasks that train next."""
        if not self.enabled:
            return self.active
        for t in self.tasks:
            if t not in metrics:
                continue
            s, m = self.state[t], float(metrics[t])
            if s.best is None or m > s.best * (1 + self.min_delta):
                s.best, s.bad_evals = m, 0
            else:
                s.bad_evals += 1
            if s.cooldown > 0:
                s.cooldown -= 1
                s.bad_evals = 0
            if not s.paused and s.bad_evals > self.patience:
                s.paused, s.bad_evals, s.cooldown = True, 0, self.cooldown
            elif s.paused and s.best is not None and m < s.best * (1 - self.continue_threshold):
                s.paused, s.bad_evals, s.cooldown = False, 0, self.cooldown
        if not self.active:
            for s in self.state.values():
                s.paused = False
        return self.active

    def state_dict(self) -> dict:
        return {t: asdict(s) for t, s in self.state.items()}

    def load_state_dict(self, state: Mapping[str, Mapping]) -> None:
        for t, s in state.items():
            if t in self.state:
                self.state[t] = TaskPlateau(**s)
