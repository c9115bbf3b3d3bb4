"""Render a `VideoPlan` to pixels and samples: a pure function of the plan and the media format."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from uniav.synth.canvas import (
    Chunk,
    gather_background,
    hsv_to_rgb,
    periodic_texture,
    smooth_path,
    stripes_texture,
    tiles_texture,
)
from uniav.synth.config import MediaSpec
from uniav.synth.plan import Backdrop, Scene, VideoPlan
from uniav.synth.sounds import render_ambience, render_sound
from uniav.synth.visuals import draw_visual

PEAK_LIMIT = 0.95  # the mix is scaled down when its peak would pass this


def scene_texture(scene: Scene) -> np.ndarray:
    """The backdrop texture (S, S, 3) float32: two hues blended by a pattern (clouds, stripes or
    tiles), shaded by a noise field."""
    rng = np.random.default_rng(scene.texture_seed)
    if scene.style is Backdrop.STRIPES:
        mix = stripes_texture(rng, warp=scene.scale, scale=2.0 * scene.scale)
    elif scene.style is Backdrop.TILES:
        mix = tiles_texture(rng, scene.scale)
    else:
        mix = periodic_texture(rng, scene.roughness, scene.scale, scene.stretch)
    shade = periodic_texture(rng, scene.roughness + 0.5, scene.scale * 0.5, 1.0 / scene.stretch)
    ca = hsv_to_rgb(scene.hue_a, scene.saturation, scene.brightness)
    cb = hsv_to_rgb(scene.hue_b, scene.saturation, scene.brightness * 1.2)
    base = ca + mix[..., None] * (cb - ca)
    return np.clip(base * (1.0 - 0.5 * scene.contrast + scene.contrast * shade[..., None]), 0.0, 1.0).astype(np.float32)


def camera_shift(scene: Scene, times: np.ndarray) -> np.ndarray:
    """(N, 2) camera shake (dx, dy) in (sub-)pixels at `times`: a smooth random sway."""
    rng = np.random.default_rng(scene.jitter_seed)
    dx = smooth_path(rng, times, scene.jitter_px, (0.5, 3.0))
    dy = smooth_path(rng, times, scene.jitter_px, (0.5, 3.0))
    return np.stack([dx, dy], axis=1)


def iter_frames(plan: VideoPlan, media: MediaSpec) -> Iterator[np.ndarray]:
    """The video's frames as uint8 RGB chunks (n, H, W, 3), `media.chunk_frames` at a time."""
    texture = scene_texture(plan.scene)
    all_times = np.arange(plan.num_frames) / plan.fps
    shifts = camera_shift(plan.scene, all_times)
    visuals = [e.visual for e in plan.events if e.visual is not None]
    drift = np.asarray(plan.scene.drift)
    for first in range(0, plan.num_frames, media.chunk_frames):
        times = all_times[first : first + media.chunk_frames]
        shift = shifts[first : first + media.chunk_frames]
        off = drift[None, :] * times[:, None] - shift  # the backdrop drifts and sways with the camera
        frames = gather_background(texture, off[:, 0], off[:, 1], media.height, media.width)
        chunk = Chunk(frames, times, shift)
        for vis in visuals:
            if vis.show_from <= times[-1] and vis.show_to > times[0]:
                draw_visual(chunk, vis)
        yield (np.clip(chunk.frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def render_audio(plan: VideoPlan, media: MediaSpec) -> np.ndarray:
    """The whole sound track (num_frames * samples_per_frame,) float32 in [-1, 1]."""
    sr = media.sample_rate
    n = plan.num_frames * media.samples_per_frame
    x = render_ambience(plan.ambience, n, sr)
    for ev in plan.events:
        if ev.sound is None:
            continue
        first, wave = render_sound(ev.sound, sr)
        stop = min(first + len(wave), n)
        if stop > first:
            x[first:stop] += wave[: stop - first]
    peak = float(np.abs(x).max()) if n else 0.0
    if peak > PEAK_LIMIT:
        x *= PEAK_LIMIT / peak
    return x.astype(np.float32)
