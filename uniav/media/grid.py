"""The snippet grid: where each feature step of a task sits in time.

Frames are taken at `fps` (16); snippet t covers frames [t*stride, t*stride + num_frames) and
its audio window is `audio_window_s` seconds centred on the same instant,
``centre(t) = (t * stride + num_frames / 2) / fps`` seconds. A clip of `duration` seconds has
one snippet per centre that falls inside it (at least one): windows that run past either end
are padded (edge frames repeated, silence for audio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SnippetGrid:
    stride: int
    num_frames: int = 16
    fps: float = 16.0
    audio_window_s: float = 1.0

    def __post_init__(self) -> None:
        if self.stride < 1 or self.num_frames < 1 or self.fps <= 0:
            raise ValueError(f"invalid snippet grid {self}")

    @property
    def step_seconds(self) -> float:
        return self.stride / self.fps

    def num_snippets(self, duration: float) -> int:
        """Snippets whose centre lies inside [0, duration) (at least one)."""
        n = math.ceil((duration * self.fps - 0.5 * self.num_frames) / self.stride - 1e-9)
        return max(1, n)

    def centres(self, num: int) -> np.ndarray:
        """Centres in seconds of snippets 0..num-1."""
        return (np.arange(num) * self.stride + 0.5 * self.num_frames) / self.fps

    def frame_indices(self, num: int, num_decoded_frames: int) -> np.ndarray:
        """(num, num_frames) indices into the decoded frames at `fps`, clipped to the clip (edge repeat)."""
        idx = np.arange(num)[:, None] * self.stride + np.arange(self.num_frames)[None, :]
        return np.clip(idx, 0, max(num_decoded_frames - 1, 0))

    def audio_bounds(self, num: int, sample_rate: int) -> np.ndarray:
        """(num, 2) sample ranges [start, end) of each audio window (may run outside the signal)."""
        half = int(round(0.5 * self.audio_window_s * sample_rate))
        c = np.round(self.centres(num) * sample_rate).astype(np.int64)
        return np.stack([c - half, c + half], axis=1)


def audio_windows(waveform: np.ndarray, grid: SnippetGrid, num: int, sample_rate: int) -> np.ndarray:
    """(num, window) audio windows centred on the grid, zero-padded outside the signal."""
    bounds = grid.audio_bounds(num, sample_rate)
    width = int(bounds[0, 1] - bounds[0, 0])
    pad_left = int(max(0, -bounds[:, 0].min()))
    pad_right = int(max(0, bounds[:, 1].max() - len(waveform)))
    padded = np.pad(np.asarray(waveform, dtype=np.float32), (pad_left, pad_right))
    starts = bounds[:, 0] + pad_left
    idx = starts[:, None] + np.arange(width)[None, :]
    return padded[idx]
