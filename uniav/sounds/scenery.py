"""What a clip shows besides its sources: a backdrop (a still colour or a drifting synthetic scene)
and pictures unrelated to its sounds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from uniav.sounds.catalog import Picture
from uniav.sounds.layout import drawn_size, frame_ranges, place_sprite
from uniav.sounds.plan import Backdrop, ClipItem, Role
from uniav.synth.canvas import hsv_to_rgb
from uniav.synth.config import MediaSpec
from uniav.synth.schedule import random_scene

SCENE_DRIFT_PX_S = 5.0
SCENE_JITTER_PX = 0.6
SCENERY_SIZE = (0.25, 0.5)  # unrelated pictures: longest side as a share of the frame height
BACKDROP_SIZE = (0.8, 1.0)  # a large backdrop picture
SCENERY_SPAN = (2.0, 10.0)  # seconds an unrelated picture is shown in a SED clip
SCENERY_SPEED = 6.0
ANIMATE = ("animals", "people", "seasonal/easter")  # living things: they could pass for a sound source


def inanimate(picture: Picture) -> bool:
    """Whether a picture shows no animal or person (the only kind used as still AVEL clutter)."""
    return not any(picture.category == c or picture.category.startswith(c + "/") for c in ANIMATE)


def plain_backdrop(rng: np.random.Generator) -> Backdrop:
    """A still frame of one muted colour."""
    rgb = hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.0, 0.4), rng.uniform(0.1, 0.7))
    return Backdrop(colour=tuple(round(float(c), 4) for c in rgb))


def scene_backdrop(rng: np.random.Generator, still: bool = False) -> Backdrop:
    """A synthetic UniAV-Synth backdrop, drifting (or `still`: no drift, no shake)."""
    scene = random_scene(rng, SCENE_DRIFT_PX_S, SCENE_JITTER_PX)
    if still:
        scene = replace(scene, drift=(0.0, 0.0), jitter_px=0.0)
    return Backdrop(scene=scene)


def scenery_item(
    rng: np.random.Generator,
    picture: Picture,
    spans: tuple[tuple[float, float], ...],
    size: tuple[float, float],
    speed: float,
    media: MediaSpec,
    num_frames: int,
) -> ClipItem:
    """An unannotated picture shown during `spans` (s), moving at up to `speed` px/s."""
    frames = frame_ranges(spans, media.fps, num_frames)
    wh = drawn_size(picture, float(rng.uniform(*size)), media)
    t0, t1 = spans[0][0], spans[-1][1]
    sprite = place_sprite(rng, picture.file, wh, frames, t0, t1, speed, media)
    return ClipItem(Role.SCENERY, "", "scenery", None, spans, sprite=sprite)


def unrelated_pictures(
    rng: np.random.Generator,
    candidates: tuple[Picture, ...],
    count: int,
    duration: float,
    media: MediaSpec,
    num_frames: int,
    still: bool = False,
) -> tuple[ClipItem, ...]:
    """`count` pictures from `candidates` shown at random times (or, `still`, all the time and motionless)."""
    if not candidates or count <= 0:
        return ()
    picks = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
    items = []
    for i in sorted(int(k) for k in picks):
        if still:
            span = (0.0, duration)
        else:
            length = min(float(rng.uniform(*SCENERY_SPAN)), duration)
            start = float(rng.uniform(0.0, duration - length))
            span = (round(start, 3), round(start + length, 3))
        speed = 0.0 if still else SCENERY_SPEED
        items.append(scenery_item(rng, candidates[i], (span,), SCENERY_SIZE, speed, media, num_frames))
    return tuple(items)
