"""Reading the source media: recordings (decoded once per bank) and pictures (scaled RGBA sprites).

Banks are plain objects that memoise what they decoded; a planner keeps one for the whole plan,
a renderer makes one per clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from uniav.sounds.envelope import levels_db
from uniav.synth.recordings import decode_audio


class SoundBank:
    """Decoded realsounds files (mono float32 at `sample_rate`) and their envelopes, by relative path."""

    def __init__(self, root: Path, sample_rate: int) -> None:
        self.root = Path(root)
        self.sample_rate = sample_rate
        self._samples: dict[str, np.ndarray] = {}
        self._levels: dict[str, np.ndarray] = {}

    def samples(self, file: str) -> np.ndarray:
        if file not in self._samples:
            x = decode_audio(self.root / file, self.sample_rate)
            x.setflags(write=False)
            self._samples[file] = x
        return self._samples[file]

    def levels(self, file: str) -> np.ndarray:
        """The file's envelope (`uniav.sounds.envelope.levels_db`)."""
        if file not in self._levels:
            self._levels[file] = levels_db(self.samples(file), self.sample_rate)
        return self._levels[file]


class PictureBank:
    """realpictures files as premultiplied RGB (h, w, 3) and alpha (h, w, 1) float32 at a drawn size."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, int, int, bool], tuple[np.ndarray, np.ndarray]] = {}

    def sprite(self, file: str, width: int, height: int, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
        key = (file, width, height, mirror)
        if key not in self._cache:
            self._cache[key] = load_sprite(self.root / file, width, height, mirror)
        return self._cache[key]


def load_sprite(path: Path, width: int, height: int, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    """Read an image as RGBA, scale it to width x height (Lanczos on premultiplied colour, so
    transparent edges do not darken), mirror it if asked; (premultiplied RGB, alpha) in [0, 1]."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGBA").convert("RGBa")
            im = im.resize((width, height), Image.Resampling.LANCZOS)
            if mirror:
                im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            arr = np.asarray(im, np.float32) / 255.0
    except OSError as exc:
        raise ValueError(f"picture {path}: cannot be read ({exc})") from exc
    return np.ascontiguousarray(arr[..., :3]), np.ascontiguousarray(arr[..., 3:])
