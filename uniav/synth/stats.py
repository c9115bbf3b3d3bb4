"""Statistics of a generated sub-dataset: durations, events and their spread over pyramid levels.

The model's grid step is 0.25 s for AVEL and SED (stride 4 at 16 fps) and duration / 256 s for
TAL (features resized to 256 steps). A segment of L steps has points whose larger distance to
its boundaries runs uniformly over [L/2, L]; its *level* is the pyramid level whose regression
range holds most of that interval, i.e. where most of its positive points land.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from uniav.synth.plan import VideoPlan
from uniav.synth.vocab import Kind

REGRESSION_RANGES = np.array([(0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000)], np.float64)
TAL_STEPS = 256
STEP_SECONDS = {Kind.AVEL: 0.25, Kind.SED: 0.25}


def grid_step(kind: Kind, duration: np.ndarray | float) -> np.ndarray:
    """Seconds per model grid step for videos of `duration` seconds."""
    d = np.asarray(duration, np.float64)
    return d / TAL_STEPS if kind is Kind.TAL else np.full_like(d, STEP_SECONDS[kind])


def pyramid_levels(length_steps: np.ndarray) -> np.ndarray:
    """Level (0-5) of segments of the given lengths in grid steps (see the module docstring)."""
    L = np.asarray(length_steps, np.float64)[:, None]
    lo = np.maximum(L / 2, REGRESSION_RANGES[None, :, 0])
    hi = np.minimum(L, REGRESSION_RANGES[None, :, 1])
    return np.argmax(np.maximum(hi - lo, 0.0) + 1e-9 * (REGRESSION_RANGES[None, :, 1] >= L / 2), axis=1)


@dataclass(frozen=True)
class KindStats:
    """Summary of one sub-dataset's plans (annotated events only)."""

    kind: Kind
    videos: int
    subsets: dict[str, int]
    video_seconds: tuple[float, float, float]  # min, mean, max
    events: int
    events_per_video: float
    event_seconds: tuple[float, float, float, float]  # min, median, mean, max
    share_under_1s: float
    levels: tuple[int, ...]  # events per pyramid level 0..5
    per_class: dict[str, int]
    distractors: int

    def lines(self) -> list[str]:
        v, e = self.video_seconds, self.event_seconds
        return [
            f"{self.kind.task}: {self.videos} videos {self.subsets}, {v[0]:.1f}-{v[2]:.1f} s (mean {v[1]:.1f})",
            f"  {self.events} events ({self.events_per_video:.2f}/video), {e[0]:.2f}-{e[3]:.2f} s "
            f"(median {e[1]:.2f}, mean {e[2]:.2f}), {100 * self.share_under_1s:.0f}% under 1 s, "
            f"{self.distractors} unannotated distractors",
            "  per pyramid level 0..5: " + " ".join(str(n) for n in self.levels),
            "  per class: " + ", ".join(f"{k} {n}" for k, n in self.per_class.items()),
        ]


def kind_stats(kind: Kind, plans: list[VideoPlan] | tuple[VideoPlan, ...], labels: tuple[str, ...]) -> KindStats:
    """Statistics of `plans` of one sub-dataset whose class list is `labels`."""
    durations = np.array([p.duration for p in plans])
    seg = [(e.end - e.start, p.duration, e.label) for p in plans for e in p.annotated_events]
    lengths = np.array([s[0] for s in seg])
    steps = lengths / grid_step(kind, np.array([s[1] for s in seg])) if seg else np.zeros(0)
    levels = np.bincount(pyramid_levels(steps), minlength=6) if seg else np.zeros(6, int)
    counts = Counter(s[2] for s in seg)
    distractors = sum(1 for p in plans for e in p.events if not e.annotated and e.label != "scenery")
    return KindStats(
        kind=kind,
        videos=len(plans),
        subsets=dict(sorted(Counter(p.subset for p in plans).items())),
        video_seconds=(float(durations.min()), float(durations.mean()), float(durations.max())),
        events=len(seg),
        events_per_video=len(seg) / max(len(plans), 1),
        event_seconds=(
            (float(lengths.min()), float(np.median(lengths)), float(lengths.mean()), float(lengths.max()))
            if seg
            else (0.0, 0.0, 0.0, 0.0)
        ),
        share_under_1s=float((lengths < 1.0).mean()) if seg else 0.0,
        levels=tuple(int(n) for n in levels),
        per_class={lab: counts.get(lab, 0) for lab in labels},
        distractors=distractors,
    )
