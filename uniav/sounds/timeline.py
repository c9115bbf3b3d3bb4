"""What is already placed in a clip, to keep new sounds and pictures apart.

Sounds are sample spans with their class; source pictures are frame ranges with the class they
show. The rules: at most `max_polyphony` sounds at once and never two of one class; at most
`max_on_screen` source pictures at once; and, when a `margin` is given, a class's picture is never
near a sound of that class unless the two are placed together as one audio-visual pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _peak_overlap(spans: list[tuple[int, int]], a: int, b: int) -> int:
    """Most of `spans` covering one instant of [a, b)."""
    if not spans:
        return 0
    s = np.array([x[0] for x in spans])
    e = np.array([x[1] for x in spans])
    probes = np.concatenate([[a], s[(s > a) & (s < b)]])
    return int(((probes[:, None] >= s[None, :]) & (probes[:, None] < e[None, :])).sum(1).max())


@dataclass
class Timeline:
    """Placed sounds (sample spans) and source pictures (frame ranges) of one clip being planned."""

    sample_rate: int
    fps: int
    max_polyphony: int
    max_on_screen: int = 1_000_000
    margin: float = 0.0
    sounds: list[tuple[int, int, str]] = field(default_factory=list)
    pictures: list[tuple[int, int, str]] = field(default_factory=list)

    def _near(self, spans: list[tuple[int, int, str]], a: float, b: float, cls: str) -> bool:
        return any(c == cls and s < b + self.margin and a - self.margin < e for s, e, c in spans)

    def sound_ok(self, a: int, b: int, cls: str) -> bool:
        """A sound of `cls` over samples [a, b): polyphony, no same-class overlap, no picture of `cls` near."""
        over = [(s, e) for s, e, c in self.sounds if s < b and a < e]
        if any(c == cls and s < b and a < e for s, e, c in self.sounds):
            return False
        if _peak_overlap(over, a, b) >= self.max_polyphony:
            return False
        seconds = [(s / self.fps, e / self.fps, c) for s, e, c in self.pictures]
        return not self._near(seconds, a / self.sample_rate, b / self.sample_rate, cls)

    def picture_ok(self, frames: tuple[tuple[int, int], ...], cls: str) -> bool:
        """A source picture of `cls` in `frames`: on-screen limit, no sound of `cls` near."""
        seconds = [(s / self.sample_rate, e / self.sample_rate, c) for s, e, c in self.sounds]
        for a, b in frames:
            over = [(s, e) for s, e, _ in self.pictures if s < b and a < e]
            if _peak_overlap(over, a, b) >= self.max_on_screen:
                return False
            if self._near(seconds, a / self.fps, b / self.fps, cls):
                return False
        return True

    def add_sound(self, a: int, b: int, cls: str) -> None:
        self.sounds.append((a, b, cls))

    def add_picture(self, frames: tuple[tuple[int, int], ...], cls: str) -> None:
        self.pictures.extend((a, b, cls) for a, b in frames)
