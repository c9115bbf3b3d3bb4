"""Render a `ClipPlan` to pixels and samples: a pure function of the plan and the two data folders.

Sound: the bed (looped back and forth) plus each take, faded in over 5 ms and out over 10 ms,
the whole mix scaled down if its peak would pass `PEAK_LIMIT` (which keeps every SNR). Pictures:
the backdrop (a still colour or a UniAV-Synth scene), then each item's sprite alpha-composited
in its frames, in plan order. Frames come in chunks of `MediaSpec.chunk_frames`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from uniav.sounds.layout import path_box, positions
from uniav.sounds.media import PictureBank, SoundBank
from uniav.sounds.mixing import bed_signal, faded
from uniav.sounds.plan import ClipPlan, Sprite
from uniav.synth.canvas import gather_background
from uniav.synth.config import MediaSpec
from uniav.synth.render import camera_shift, scene_texture

PEAK_LIMIT = 0.95


def mix_audio(plan: ClipPlan, bank: SoundBank) -> np.ndarray:
    """The sound track before the peak limiter (num_samples,) float64: bed plus every take."""
    sr = plan.sample_rate
    n = plan.num_samples
    x = bed_signal(bank, plan.bed, n) if plan.bed else np.zeros(n, np.float64)
    for item in plan.items:
        for take in item.takes:
            stop = min(take.at + take.length, n)
            if stop <= take.at:
                continue
            x[take.at : stop] += (
                faded(bank.samples(take.file)[take.offset : take.offset + stop - take.at], sr) * take.gain
            )
    return x


def limiter_gain(x: np.ndarray) -> float:
    """The factor that brings the peak of `x` down to `PEAK_LIMIT` (1 when it is below)."""
    peak = float(np.abs(x).max()) if len(x) else 0.0
    return PEAK_LIMIT / peak if peak > PEAK_LIMIT else 1.0


def render_audio(plan: ClipPlan, realsounds: Path, bank: SoundBank | None = None) -> np.ndarray:
    """The sound track (num_samples,) float32 in [-1, 1]."""
    x = mix_audio(plan, bank or SoundBank(realsounds, plan.sample_rate))
    return (x * limiter_gain(x)).astype(np.float32)


def composite(chunk: np.ndarray, first: int, sprite: Sprite, rgb: np.ndarray, alpha: np.ndarray, fps: int) -> None:
    """Alpha-composite a sprite (premultiplied `rgb` (h, w, 3), `alpha` (h, w, 1)) onto the frames of
    `chunk` (N, H, W, 3, float32; frame `first` is chunk[0]) where it is drawn.

    Frames are grouped by the sprite's (integer) position and each group is blended with one
    sliced operation: a still picture costs one operation per chunk, a moving one one per step.
    """
    n = len(chunk)
    idx = np.arange(first, first + n)
    ranges = np.asarray(sprite.frames, np.int64).reshape(-1, 2)
    shown = ((idx[:, None] >= ranges[None, :, 0]) & (idx[:, None] < ranges[None, :, 1])).any(axis=1)
    if not shown.any():
        return
    local = np.flatnonzero(shown)
    xs, ys = positions(sprite, idx[local], fps)
    h, w = alpha.shape[:2]
    keep = 1.0 - alpha
    spots, group = np.unique(np.stack([xs, ys], axis=1), axis=0, return_inverse=True)
    for k, (x, y) in enumerate(spots.tolist()):
        frames = local[group.reshape(-1) == k]
        region = chunk[frames, y : y + h, x : x + w]
        chunk[frames, y : y + h, x : x + w] = region * keep + rgb


def iter_frames(
    plan: ClipPlan, media: MediaSpec, realpictures: Path, bank: PictureBank | None = None
) -> Iterator[np.ndarray]:
    """The clip's frames as uint8 RGB chunks (n, H, W, 3)."""
    if (media.fps, media.sample_rate) != (plan.fps, plan.sample_rate):
        raise ValueError(f"{plan.video_id}: planned at {plan.fps} fps / {plan.sample_rate} Hz, media is {media}")
    bank = bank or PictureBank(realpictures)
    for item in plan.items:
        x0, y0, x1, y1 = path_box(item.sprite) if item.sprite else (0, 0, 0, 0)
        if x0 < 0 or y0 < 0 or x1 > media.width or y1 > media.height:
            raise ValueError(
                f"{plan.video_id}: picture {item.sprite.file} leaves the {media.width}x{media.height} frame"
            )
    sprites = [
        (i.sprite, *bank.sprite(i.sprite.file, i.sprite.width, i.sprite.height, i.sprite.mirror))
        for i in plan.items
        if i.sprite is not None
    ]
    scene = plan.backdrop.scene
    times = np.arange(plan.num_frames) / plan.fps
    if scene is not None:
        texture = scene_texture(scene)
        offsets = np.asarray(scene.drift)[None, :] * times[:, None] - camera_shift(scene, times)
    for first in range(0, plan.num_frames, media.chunk_frames):
        count = min(media.chunk_frames, plan.num_frames - first)
        if scene is not None:
            off = offsets[first : first + count]
            chunk = gather_background(texture, off[:, 0], off[:, 1], media.height, media.width)
        else:
            chunk = np.empty((count, media.height, media.width, 3), np.float32)
            chunk[:] = np.asarray(plan.backdrop.colour, np.float32)
        for sprite, rgb, alpha in sprites:
            composite(chunk, first, sprite, rgb, alpha, plan.fps)
        yield (np.clip(chunk, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
