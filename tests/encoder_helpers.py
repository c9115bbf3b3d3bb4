"""Test helpers for the encoders: a synthetic media backend that serves numpy clips and counts calls, and two
tiny parts that keep classifier scores (to test what `PartsEncoder` and the cache do with scores)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uniav.encoders import AudioPart, MediaFunctions, PartOutput, VisualPart
from uniav.media import AudioTrack, MediaInfo
from uniav.media.grid import SnippetGrid


@dataclass(frozen=True)
class SynthClip:
    """A clip made in numpy: `frame_fn(k)` draws frame k (H, W, 3) uint8 at 16 fps at full size;
    `audio_fn(sr)` gives the mono waveform. None = the track does not exist."""

    duration: float
    frame_fn: Callable[[int, int, int], np.ndarray] | None  # (k, width, height) -> frame
    audio_fn: Callable[[int], np.ndarray] | None
    width: int = 96
    height: int = 64


class FakeStream:
    def __init__(self, clip: SynthClip, fps: float, size: tuple[int, int] | None, chunk: int) -> None:
        self.clip = clip
        self.fps = fps
        self.size = size or (clip.width, clip.height)
        self.chunk = chunk
        self.expected_frames = int(round(clip.duration * fps))
        self.notes: list[str] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        w, h = self.size
        for a in range(0, self.expected_frames, self.chunk):
            b = min(a + self.chunk, self.expected_frames)
            yield np.stack([self.clip.frame_fn(k, w, h) for k in range(a, b)])


@dataclass
class FakeMedia:
    """Serves registered clips by path. `refuse` makes every decoder call raise (to prove cache hits)."""

    clips: dict[str, SynthClip] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    video_sizes: list[tuple[int, int] | None] = field(default_factory=list)
    refuse: bool = False

    def add(self, path: str | Path, clip: SynthClip) -> str:
        self.clips[str(path)] = clip
        return str(path)

    def _get(self, what: str, path: str | Path) -> SynthClip:
        self.calls.append((what, str(path)))
        if self.refuse:
            raise AssertionError(f"decoder called ({what}) for {path} although it should not be")
        return self.clips[str(path)]

    def probe_media(self, path: str | Path) -> MediaInfo:
        c = self._get("probe", path)
        return MediaInfo(
            str(path),
            c.duration,
            c.frame_fn is not None,
            c.audio_fn is not None,
            16.0 if c.frame_fn else None,
            c.width if c.frame_fn else None,
            c.height if c.frame_fn else None,
            16000 if c.audio_fn else None,
            1 if c.audio_fn else None,
        )

    def decode_audio(self, path: str | Path, sample_rate: int = 16000, info: object = None) -> AudioTrack:
        c = self._get("audio", path)
        n = int(round(c.duration * sample_rate))
        if c.audio_fn is None:
            return AudioTrack(np.zeros(n, np.float32), sample_rate, ("no audio track: audio is silence",))
        return AudioTrack(np.asarray(c.audio_fn(sample_rate), np.float32)[:n], sample_rate)

    def open_video(
        self,
        path: str | Path,
        fps: float = 16.0,
        size: tuple[int, int] | None = None,
        chunk: int = 64,
        info: object = None,
    ) -> FakeStream:
        c = self._get("video", path)
        self.video_sizes.append(size)
        return FakeStream(c, fps, size, chunk)

    def functions(self) -> MediaFunctions:
        return MediaFunctions(self.probe_media, self.decode_audio, self.open_video)

    def decoder_calls(self) -> int:
        return sum(1 for what, _ in self.calls if what in ("audio", "video"))


# ---- parts with scores --------------------------------------------------------------------------------


class MeanColourVisual(VisualPart):
    """Row = the mean RGB of a snippet's frames (decoded at 8 x 8); scores = the same x 10, named by colour."""

    def __init__(self, options: Mapping[str, object] | None = None) -> None:
        self.options = dict(options or {})

    dim = 3
    cache_key = "mean-colour-v1"
    score_classes = ("red", "green", "blue")

    def decode_size(self, width: int | None, height: int | None) -> tuple[int, int]:
        return 8, 8

    def encode_frames(
        self,
        chunks: Iterable[np.ndarray],
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[PartOutput, int]:
        means = [c.reshape(len(c), -1, 3).mean(axis=1) / 255.0 for c in chunks]
        rows = np.concatenate(means).astype(np.float32) if means else np.zeros((0, 3), np.float32)
        feats = {g: rows[g.frame_indices(counts[g], len(rows))].mean(axis=1) for g in grids} if len(rows) else {}
        return PartOutput(feats, {g: 10 * f for g, f in feats.items()}, ("colour means",)), len(rows)

    def no_video(self, grids: Sequence[SnippetGrid], counts: Mapping[SnippetGrid, int]) -> PartOutput:
        return PartOutput({g: np.zeros((counts[g], 3), np.float32) for g in grids})


class RmsAudio(AudioPart):
    """Row = the rms of each snippet's window at 8 kHz; scores = (rms, -rms) named loud / quiet."""

    dim = 1
    cache_key = "rms-v1"
    sample_rate = 8000
    score_classes = ("loud", "quiet")

    def encode_waveform(
        self,
        waveform: np.ndarray,
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: Callable[[float], None] | None = None,
    ) -> PartOutput:
        from uniav.media.grid import audio_windows

        feats = {
            g: np.sqrt((audio_windows(waveform, g, counts[g], self.sample_rate) ** 2).mean(axis=1, keepdims=True))
            for g in grids
        }
        return PartOutput(feats, {g: np.concatenate([f, -f], axis=1) for g, f in feats.items()})


# ---- drawing ---------------------------------------------------------------------------------------


def texture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A smooth analytic RGB texture in [0, 1] at continuous coordinates (pixels)."""
    r = 0.5 + 0.25 * np.sin(x / 4.0) + 0.2 * np.sin(y / 6.0 + x / 9.0)
    g = 0.5 + 0.3 * np.sin(y / 5.0 - x / 13.0)
    b = 0.5 + 0.25 * np.cos((x + y) / 7.0)
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0)


def to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def pan_frames(dx: float, dy: float) -> Callable[[int, int, int], np.ndarray]:
    """The texture translated by (dx, dy) pixels per frame (frame coordinates scale with the size)."""

    def draw(k: int, w: int, h: int) -> np.ndarray:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        s = 64.0 / h
        return to_uint8(texture(xs * s - dx * k, ys * s - dy * k))

    return draw


def rotate_frames(deg_per_frame: float) -> Callable[[int, int, int], np.ndarray]:
    """The texture rotated about the frame centre (positive = counter-clockwise on screen)."""

    def draw(k: int, w: int, h: int) -> np.ndarray:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        s = 64.0 / h
        x, y = (xs - w / 2) * s, (ys - h / 2) * s
        a = np.deg2rad(deg_per_frame * k)
        # on screen y points down: a counter-clockwise turn maps (x, y) -> (x cos a + y sin a, -x sin a + y cos a)
        xr, yr = x * np.cos(a) - y * np.sin(a), x * np.sin(a) + y * np.cos(a)
        return to_uint8(texture(xr, yr))

    return draw


def zoom_frames(rate: float) -> Callable[[int, int, int], np.ndarray]:
    """The texture scaled about the centre by (1 + rate) per frame (rate > 0: growing)."""

    def draw(k: int, w: int, h: int) -> np.ndarray:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        s = 64.0 / h
        z = (1.0 + rate) ** k
        return to_uint8(texture((xs - w / 2) * s / z, (ys - h / 2) * s / z))

    return draw


def solid_frames(rgb: tuple[float, float, float]) -> Callable[[int, int, int], np.ndarray]:
    def draw(k: int, w: int, h: int) -> np.ndarray:
        return to_uint8(np.broadcast_to(np.asarray(rgb, np.float64), (h, w, 3)))

    return draw


def square_frames(
    speed: float, colour: tuple[float, float, float] = (1.0, 0.2, 0.2)
) -> Callable[[int, int, int], np.ndarray]:
    """A square moving horizontally across a grey frame at `speed` pixels/frame (0 = static), wrapping."""

    def draw(k: int, w: int, h: int) -> np.ndarray:
        img = np.full((h, w, 3), 0.4)
        side = h // 4
        x0 = int(round(w / 2 - side / 2 + speed * k * w / 64.0)) % w
        cols = (np.arange(side) + x0) % w
        img[h // 2 - side // 2 : h // 2 + side // 2][:, cols] = colour
        return to_uint8(img)

    return draw


def tone(freq: float, amp: float = 0.3, seconds: float = 10.0) -> Callable[[int], np.ndarray]:
    def make(sr: int) -> np.ndarray:
        t = np.arange(int(seconds * sr)) / sr
        return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)

    return make


def noise(amp: float = 0.1, seconds: float = 10.0, seed: int = 0) -> Callable[[int], np.ndarray]:
    def make(sr: int) -> np.ndarray:
        return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)

    return make


def clicks(at: list[float], seconds: float = 10.0) -> Callable[[int], np.ndarray]:
    """Silence with short loud noise bursts (20 ms) starting at the given times."""

    def make(sr: int) -> np.ndarray:
        x = np.zeros(int(seconds * sr), np.float32)
        rng = np.random.default_rng(1)
        for t in at:
            a = int(t * sr)
            x[a : a + sr // 50] = 0.8 * rng.standard_normal(len(x[a : a + sr // 50]))
        return x

    return make
