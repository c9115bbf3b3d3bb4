"""Where and how big pictures are drawn, and in which frames.

A picture is scaled so its longest side is a share of the frame height (never enlarged more than
`MAX_UPSCALE` times: tiny stamps would blur), and moves in a straight line that keeps it wholly
inside the frame. A picture tied to a time span is drawn in the frames whose centre lies inside
the span.
"""

from __future__ import annotations

import numpy as np

from uniav.sounds.catalog import Picture
from uniav.sounds.plan import Sprite
from uniav.synth.config import MediaSpec

MAX_UPSCALE = 2.5
CANDIDATES = 6  # positions tried when placing a picture next to others
CENTRE_CROP = 0.875  # ImageNet evaluation keeps the central 87.5 % (EfficientNet-Lite's default crop)


def drawn_size(picture: Picture, share: float, media: MediaSpec) -> tuple[int, int]:
    """(width, height) in px with the longest side `share` of the frame height (within the frame)."""
    longest = max(picture.width, picture.height)
    scale = min(share * media.height / longest, MAX_UPSCALE)
    scale = min(scale, media.width / picture.width, media.height / picture.height)
    return max(int(round(picture.width * scale)), 1), max(int(round(picture.height * scale)), 1)


def frame_ranges(spans: tuple[tuple[float, float], ...], fps: int, num_frames: int) -> tuple[tuple[int, int], ...]:
    """[first, last) frame ranges whose frame centres ((k + 0.5) / fps) lie inside the spans (s);
    a span shorter than a frame still gets the frame nearest its middle."""
    out = []
    for s, e in spans:
        a = int(np.ceil(s * fps - 0.5))
        b = int(np.ceil(e * fps - 0.5))
        if b <= a:
            a = int(np.floor(0.5 * (s + e) * fps))
            b = a + 1
        a, b = max(a, 0), min(b, num_frames)
        if b > a:
            out.append((a, b))
    return tuple(out)


def path_box(sprite: Sprite) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the area the sprite covers along its path."""
    (ax, ay), (bx, by) = sprite.start, sprite.end
    return min(ax, bx), min(ay, by), max(ax, bx) + sprite.width, max(ay, by) + sprite.height


def _overlap(box: tuple[float, float, float, float], others: list[tuple[float, float, float, float]]) -> float:
    if not others:
        return 0.0
    o = np.asarray(others, np.float64)
    w = np.clip(np.minimum(box[2], o[:, 2]) - np.maximum(box[0], o[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], o[:, 3]) - np.maximum(box[1], o[:, 1]), 0, None)
    return float((w * h).sum())


def place_sprite(
    rng: np.random.Generator,
    file: str,
    size: tuple[int, int],
    frames: tuple[tuple[int, int], ...],
    t0: float,
    t1: float,
    max_speed: float,
    media: MediaSpec,
    avoid: list[tuple[float, float, float, float]] | None = None,
    centred: bool = False,
) -> Sprite:
    """A sprite of `size` drawn in `frames`, moving at up to `max_speed` px/s from `t0` to `t1`,
    wholly inside the frame (`centred`: inside the central `CENTRE_CROP` of it, when it fits, so a
    centre-cropping image encoder sees all of it); of `CANDIDATES` random paths, the one overlapping
    `avoid` boxes least."""
    w, h = size
    lo = np.zeros(2)
    hi = np.array([media.width - w, media.height - h], np.float64)
    if centred:
        margin = 0.5 * (1.0 - CENTRE_CROP) * np.array([media.width, media.height])
        inner_lo, inner_hi = np.ceil(margin), np.floor(hi - margin)
        fits = inner_hi >= inner_lo
        lo, hi = np.where(fits, inner_lo, lo), np.where(fits, inner_hi, hi)
    mirror = bool(rng.uniform() < 0.5)
    best, best_cost = None, np.inf
    for _ in range(CANDIDATES if avoid else 1):
        start = rng.uniform(lo, hi)
        angle = rng.uniform(0, 2 * np.pi)
        step = rng.uniform(0, max_speed) * max(t1 - t0, 0.0) * np.array([np.cos(angle), np.sin(angle)])
        end = np.clip(start + step, lo, hi)
        sprite = Sprite(
            file,
            w,
            h,
            mirror,
            frames,
            (round(float(start[0]), 2), round(float(start[1]), 2)),
            (round(float(end[0]), 2), round(float(end[1]), 2)),
            t0,
            t1,
        )
        cost = _overlap(path_box(sprite), avoid or [])
        if cost < best_cost:
            best, best_cost = sprite, cost
    assert best is not None
    return best


def positions(sprite: Sprite, frame_index: np.ndarray, fps: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer top-left corners (x, y) of the sprite at the given frames."""
    t = (np.asarray(frame_index, np.float64) + 0.5) / fps
    span = max(sprite.t1 - sprite.t0, 1e-9)
    u = np.clip((t - sprite.t0) / span, 0.0, 1.0)
    x = sprite.start[0] + u * (sprite.end[0] - sprite.start[0])
    y = sprite.start[1] + u * (sprite.end[1] - sprite.start[1])
    return np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)
