"""Visual patterns: how each kind of object looks and moves, drawn on a chunk of frames at once.

Every pattern is a function `(chunk, grid, ev, ox, oy, alpha)`: `grid` covers the event's slot
(grown by the camera shake), `ox`, `oy` (N,) are the slot's top-left corner in each frame
(camera shift included) and `alpha` (N,) is 1 where the object is shown. Geometry is given in
slot units `u` (a 60th of the slot height) so it scales with the resolution. Motion uses the
local time `tau = clip(t, start, end) - start`, so an object holds its first pose before it
acts and its last pose after. Patterns that follow beats (impacts, flashes, strikes) are driven
by `ev.beats`, the same instants the sound uses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from uniav.synth.canvas import (
    Box,
    Chunk,
    Grid,
    hsv_to_rgb,
    paint,
    sdf_box,
    sdf_capsule,
    sdf_disc,
    sdf_ellipse,
    sdf_ring,
)
from uniav.synth.plan import VisualEvent
from uniav.synth.vocab import VisualPattern

DrawFn = Callable[[Chunk, Grid, VisualEvent, np.ndarray, np.ndarray, np.ndarray], None]

GREY = np.array([0.55, 0.55, 0.55], np.float32)
DARK = np.array([0.12, 0.12, 0.14], np.float32)
WHITE = np.array([0.95, 0.95, 0.95], np.float32)
BROWN = hsv_to_rgb(0.07, 0.6, 0.45)


def _u(ev: VisualEvent) -> float:
    return ev.slot.h / 60.0


def _tau(t: np.ndarray, ev: VisualEvent) -> np.ndarray:
    return np.clip(t, ev.start, ev.end) - ev.start


def _active(t: np.ndarray, ev: VisualEvent) -> np.ndarray:
    return (t >= ev.start) & (t < ev.end)


def _colour(ev: VisualEvent, val_scale: np.ndarray | float = 1.0) -> np.ndarray:
    return hsv_to_rgb(ev.hue, ev.sat, np.clip(ev.val * np.asarray(val_scale), 0.0, 1.0))


def _tri(x: np.ndarray) -> np.ndarray:
    """Triangle wave of period 1 in [-1, 1], 0 at x = 0."""
    return 2.0 * np.abs(2.0 * (x + 0.25 - np.floor(x + 0.75))) - 1.0


def _beat_phase(t: np.ndarray, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: index k of the last beat at or before t (-1 before the first), time since it, and
    the phase u in [0, 1) between beat k and k + 1 (NaN before the first and after the last beat)."""
    k = np.searchsorted(beats, t, side="right") - 1
    kc = np.clip(k, 0, len(beats) - 1)
    since = np.where(k >= 0, t - beats[kc], np.inf)
    inner = (k >= 0) & (k < len(beats) - 1)
    k1 = np.clip(k + 1, 0, len(beats) - 1)
    gap = np.where(inner, beats[k1] - beats[kc], 1.0)
    u = np.where(inner, (t - beats[kc]) / gap, np.nan)
    return k, since, u


def _hash01(x: np.ndarray) -> np.ndarray:
    """A deterministic pseudo-random value in [0, 1) per element (shader-style hash of a float)."""
    return np.modf(np.abs(np.sin(np.asarray(x, np.float64) * 12.9898 + 78.233) * 43758.5453))[0]


def draw_bounce(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    r = 6.0 * u * ev.size
    floor = oy + s.h - 3.0 * u - r
    height = ev.amp * (s.h - 2.0 * r - 8.0 * u)
    _, _, ph = _beat_phase(c.times, np.asarray(ev.beats))
    lift = np.nan_to_num(4.0 * ph * (1.0 - ph))
    cx = ox + 0.5 * s.w + 0.18 * s.w * np.sin(2 * np.pi * 0.12 * _tau(c.times, ev)) * ev.amp
    cy = floor - height * lift
    paint(c, g, sdf_disc(g, cx, cy, r), _colour(ev), a)
    paint(c, g, sdf_disc(g, cx - 0.35 * r, cy - 0.35 * r, 0.3 * r), _colour(ev, 1.4) * 0.6 + 0.4, a)


def draw_spin(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    hx, hy = ox + 0.5 * s.w, oy + 0.42 * s.h
    paint(c, g, sdf_capsule(g, hx, hy, hx, oy + s.h - 2.0 * u, 1.4 * u), GREY, a)
    arm = 17.0 * u * ev.size
    theta = 2 * np.pi * ev.rate * _tau(c.times, ev) + ev.seed % 7
    blades = np.minimum(
        sdf_capsule(
            g,
            hx - arm * np.cos(theta),
            hy - arm * np.sin(theta),
            hx + arm * np.cos(theta),
            hy + arm * np.sin(theta),
            2.6 * u,
        ),
        sdf_capsule(
            g,
            hx + arm * np.sin(theta),
            hy - arm * np.cos(theta),
            hx - arm * np.sin(theta),
            hy + arm * np.cos(theta),
            2.6 * u,
        ),
    )
    paint(c, g, blades, _colour(ev), a)
    paint(c, g, sdf_disc(g, hx, hy, 2.6 * u), WHITE, a)


def draw_slide(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    half = 7.5 * u * ev.size
    amp = ev.amp * (0.5 * s.w - half - 4.0 * u)
    cx = ox + 0.5 * s.w + amp * _tri(ev.rate * _tau(c.times, ev))
    cy = oy + s.h - 4.0 * u - half
    paint(c, g, sdf_capsule(g, ox + 2 * u, oy + s.h - 3 * u, ox + s.w - 2 * u, oy + s.h - 3 * u, 1.0 * u), DARK, a)
    paint(c, g, sdf_box(g, cx, cy, half, half), _colour(ev), a)
    paint(c, g, sdf_box(g, cx, cy, 0.45 * half, 0.45 * half), _colour(ev, 0.55), a)


def draw_blink(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    r = 8.5 * u * ev.size
    cx, cy = ox + 0.5 * s.w, oy + 0.5 * s.h
    on = _active(c.times, ev) & (np.modf(ev.rate * _tau(c.times, ev))[0] < 0.5)
    level = np.where(_active(c.times, ev), np.where(on, 1.0, 0.2), 0.6)
    paint(c, g, sdf_disc(g, cx, cy, r + 6.0 * u), hsv_to_rgb(ev.hue, 0.35, 1.0), a * on * 0.7)
    paint(c, g, sdf_disc(g, cx, cy, r + 2.2 * u), DARK, a)
    paint(c, g, sdf_disc(g, cx, cy, r), _colour(ev, level[:, None]), a)


def draw_inflate(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    r0 = 4.5 * u * ev.size
    grow = 1.2 + 0.6 * ev.amp
    cycle = np.modf(ev.rate * _tau(c.times, ev))[0]  # inflates over a cycle, pops at its end
    popped = _active(c.times, ev) & (cycle > 0.88)
    r = r0 * (1.0 + grow * np.minimum(cycle / 0.88, 1.0))
    cx, cy = ox + 0.5 * s.w, oy + 0.42 * s.h
    paint(c, g, sdf_capsule(g, cx, cy + r, cx, oy + s.h - 2.0 * u, 0.8 * u), WHITE * 0.8, a)
    paint(c, g, sdf_disc(g, cx, cy, r), _colour(ev), a * ~popped)
    paint(c, g, sdf_ring(g, cx, cy, r0 * (1 + grow), 1.0 * u), _colour(ev, 1.3), a * popped)


def draw_swing(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    px, py = ox + 0.5 * s.w, oy + 3.0 * u
    length = (s.h - 14.0 * u) * (0.8 + 0.2 * ev.size)
    angle = (0.4 + 0.5 * ev.amp) * np.sin(2 * np.pi * ev.rate * _tau(c.times, ev))
    bx, by = px + length * np.sin(angle), py + length * np.cos(angle)
    paint(c, g, sdf_capsule(g, px, py, bx, by, 0.9 * u), WHITE * 0.85, a)
    paint(c, g, sdf_disc(g, bx, by, 5.0 * u * ev.size), _colour(ev), a)
    paint(c, g, sdf_disc(g, px, py, 1.8 * u), DARK, a)


def draw_orbit(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    cx, cy = ox + 0.5 * s.w, oy + 0.5 * s.h
    phi = 2 * np.pi * ev.rate * _tau(c.times, ev) + (ev.seed % 11)
    paint(c, g, sdf_disc(g, cx, cy, 6.0 * u * ev.size), hsv_to_rgb(ev.hue + 0.5, 0.25, 0.7), a)
    mx, my = cx + 22.0 * u * np.cos(phi), cy + 15.0 * u * np.sin(phi)
    paint(c, g, sdf_disc(g, mx, my, 3.8 * u * ev.size), _colour(ev), a)


def draw_wave(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    pole_x = ox + 12.0 * u
    paint(c, g, sdf_capsule(g, pole_x, oy + 4.0 * u, pole_x, oy + s.h - 2.0 * u, 1.2 * u), GREY, a)
    length, half_h = 44.0 * u * ev.size, 9.0 * u * ev.size
    tau = _tau(c.times, ev)[:, None, None]
    xo = g.x - pole_x[:, None, None]  # distance along the flag, (N, 1, w)
    dy = 7.0 * u * ev.amp * np.sin(2 * np.pi * (xo / (0.75 * length) - ev.rate * tau)) * np.clip(xo / length, 0, 1)
    yc = (oy + 7.0 * u + half_h)[:, None, None] + dy
    du = np.abs(xo - 0.5 * length) - 0.5 * length
    for hh, col in ((half_h, _colour(ev)), (0.3 * half_h, WHITE)):
        dv = np.abs(g.y - yc) - hh
        dist = np.hypot(np.maximum(du, 0), np.maximum(dv, 0)) + np.minimum(np.maximum(du, dv), 0)
        paint(c, g, dist, col, a)


def draw_roll(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    radius = 9.0 * u * ev.size
    amp = ev.amp * (0.5 * s.w - radius - 3.0 * u)
    offset = amp * _tri(ev.rate * _tau(c.times, ev))
    cx, cy = ox + 0.5 * s.w + offset, oy + s.h - 3.5 * u - radius
    theta = offset / radius
    paint(c, g, sdf_capsule(g, ox + 2 * u, oy + s.h - 2.5 * u, ox + s.w - 2 * u, oy + s.h - 2.5 * u, 1.0 * u), DARK, a)
    spokes = np.min(
        np.stack(
            [
                sdf_capsule(
                    g,
                    cx - radius * np.cos(theta + k * np.pi / 3),
                    cy - radius * np.sin(theta + k * np.pi / 3),
                    cx + radius * np.cos(theta + k * np.pi / 3),
                    cy + radius * np.sin(theta + k * np.pi / 3),
                    1.0 * u,
                )
                for k in range(3)
            ]
        ),
        axis=0,
    )
    paint(c, g, sdf_disc(g, cx, cy, radius + 1.6 * u), _colour(ev), a)
    paint(c, g, spokes, _colour(ev, 0.35), a)


def draw_bubbles(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    k = np.arange(5)
    tau = _tau(c.times, ev)[:, None]
    span = s.h - 10.0 * u
    lane = np.modf(k * 0.618 + (ev.seed % 97) / 97.0)[0]
    bx = ox[:, None] + s.w * (0.15 + 0.7 * lane) + 3.0 * u * np.sin(2 * np.pi * (0.9 * tau + k / 5.0))
    by = oy[:, None] + s.h - 5.0 * u - np.mod(ev.rate * s.h * tau + span * k / 5.0, span)
    r = (2.6 + 1.1 * (k % 3)) * u * ev.size
    d = np.abs(np.hypot(g.x[..., None] - bx[:, None, None, :], g.y[..., None] - by[:, None, None, :]) - r) - 0.8 * u
    paint(c, g, d.min(axis=-1), _colour(ev), a)


def draw_flash(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    cx, cy = ox + 0.5 * s.w, oy + 0.5 * s.h
    _, since, _ = _beat_phase(c.times, np.asarray(ev.beats))
    lit = since < ev.hold
    paint(c, g, sdf_box(g, cx, cy + 8.0 * u, 11.0 * u, 5.0 * u), GREY * 0.6, a)
    paint(c, g, sdf_disc(g, cx, cy, 13.0 * u * ev.size), hsv_to_rgb(ev.hue, 0.5, 1.0), a * lit * 0.6)
    paint(c, g, sdf_disc(g, cx, cy, 6.0 * u * ev.size), _colour(ev, np.where(lit, 1.0, 0.3)[:, None]), a)


def draw_shake(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    t = c.times
    on = _active(t, ev) * (2.4 * u * ev.amp)
    jx = on * (np.sin(2 * np.pi * 7.3 * t + ev.seed) + np.sin(2 * np.pi * 5.1 * t + 2.0 * ev.seed)) * 0.5
    jy = on * (np.sin(2 * np.pi * 6.7 * t + 3.0 * ev.seed) + np.sin(2 * np.pi * 4.3 * t + ev.seed)) * 0.5
    cx, cy = ox + 0.5 * s.w + jx, oy + 0.5 * s.h + jy
    hw, hh = 15.0 * u * ev.size, 9.0 * u * ev.size
    paint(c, g, sdf_box(g, cx, cy, hw, hh), _colour(ev), a)
    paint(c, g, sdf_box(g, cx - 0.4 * hw, cy - 0.3 * hh, 0.35 * hw, 0.35 * hh), _colour(ev, 0.45), a)
    for side in (-0.6, 0.6):
        paint(c, g, sdf_disc(g, cx + side * hw, cy + hh, 3.2 * u), DARK, a)
    paint(c, g, sdf_capsule(g, cx + hw, cy - 0.6 * hh, cx + hw + 4 * u, cy - hh - 4 * u, 1.4 * u), DARK, a)


def draw_knock(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    beats = np.asarray(ev.beats)
    k = np.clip(np.searchsorted(beats, c.times), 1, len(beats) - 1) if len(beats) > 1 else np.zeros(len(c.times), int)
    near = np.minimum(np.abs(c.times - beats[k]), np.abs(c.times - beats[np.maximum(k - 1, 0)]))
    hit = near < 0.05
    dx, dy = ox + 0.42 * s.w + 0.8 * u * hit, oy + 0.5 * s.h
    hw, hh = 9.0 * u * ev.size, 24.0 * u
    paint(c, g, sdf_box(g, dx, dy, hw, hh), _colour(ev), a)
    paint(c, g, sdf_box(g, dx, dy - 0.45 * hh, 0.6 * hw, 0.35 * hh), _colour(ev, 0.7), a)
    paint(c, g, sdf_disc(g, dx + 0.6 * hw, dy + 0.1 * hh, 1.6 * u), hsv_to_rgb(0.13, 0.8, 0.9), a)
    fist = _active(c.times, ev) | (np.abs(c.times - ev.end) < 0.1)
    kx = dx + hw + 3.5 * u + 13.0 * u * np.clip(near / 0.08, 0.0, 1.0)
    skin = hsv_to_rgb(0.07, 0.45, 0.9)
    paint(c, g, sdf_capsule(g, kx, dy - 0.2 * hh, kx + 22.0 * u, dy + 0.1 * hh, 2.6 * u), skin * 0.8, a * fist)
    paint(c, g, sdf_disc(g, kx, dy - 0.2 * hh, 4.2 * u), skin, a * fist)


def draw_siren(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    cx, cy = ox + 0.5 * s.w, oy + 0.55 * s.h
    act = _active(c.times, ev)
    swing = np.sin(2 * np.pi * _tau(c.times, ev) / ev.rate)
    left = np.where(act, np.clip(0.5 + 0.9 * swing, 0.15, 1.0), 0.25)[:, None]
    right = np.where(act, np.clip(0.5 - 0.9 * swing, 0.15, 1.0), 0.25)[:, None]
    paint(c, g, sdf_box(g, cx, cy + 6.0 * u, 20.0 * u, 6.0 * u), GREY * 0.8, a)
    spin = 4 * np.pi * _tau(c.times, ev) / ev.rate  # two turns per sweep of the sound
    bx, by = cx + 22.0 * u * np.cos(spin), cy - 3.0 * u + 11.0 * u * np.sin(spin)
    paint(c, g, sdf_capsule(g, cx, cy - 3.0 * u, bx, by, 2.0 * u), WHITE, a * act * 0.8)
    hw = 8.0 * u * ev.size
    paint(c, g, sdf_box(g, cx - hw, cy - 3.0 * u, hw, 4.0 * u), hsv_to_rgb(ev.hue, 0.85, 1.0) * left, a)
    paint(c, g, sdf_box(g, cx + hw, cy - 3.0 * u, hw, 4.0 * u), hsv_to_rgb(0.0, 0.85, 1.0) * right, a)


def draw_bell(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    beats = np.asarray(ev.beats)
    k, _, ph = _beat_phase(c.times, beats)
    amp = 0.35 + 0.3 * ev.amp
    sign = np.where(np.mod(np.maximum(k, 0), 2) == 0, 1.0, -1.0)
    last = np.where(np.mod(len(beats) - 1, 2) == 0, 1.0, -1.0)
    theta = np.where(np.isnan(ph), np.where(k < 0, amp, last * amp), sign * amp * np.cos(np.pi * np.nan_to_num(ph)))
    px, py = ox + 0.5 * s.w, oy + 4.0 * u
    length = 22.0 * u
    bx, by = px - length * np.sin(theta), py + length * np.cos(theta)
    paint(c, g, sdf_capsule(g, px, py, bx, by, 1.2 * u), DARK, a)
    paint(c, g, sdf_box(g, bx, by, 7.5 * u * ev.size, 7.0 * u, -theta), _colour(ev), a)
    rim_x, rim_y = bx - 7.0 * u * np.sin(theta), by + 7.0 * u * np.cos(theta)
    paint(c, g, sdf_box(g, rim_x, rim_y, 10.0 * u * ev.size, 2.0 * u, -theta), _colour(ev, 0.75), a)


def draw_hammer(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    _, _, ph = _beat_phase(c.times, np.asarray(ev.beats))
    theta = (0.7 + 0.4 * ev.amp) * np.sin(np.pi * np.nan_to_num(ph))
    px, py = ox + s.w - 10.0 * u, oy + 0.55 * s.h
    length = 28.0 * u * ev.size
    hx, hy = px - length * np.cos(theta), py - length * np.sin(theta)
    nail_x = px - length
    paint(c, g, sdf_capsule(g, nail_x, py + 5.0 * u, nail_x, py + 14.0 * u, 0.9 * u), GREY, a)
    paint(c, g, sdf_box(g, px - 0.5 * length, py + 17.0 * u, 0.6 * length, 3.0 * u), BROWN * 0.8, a)
    paint(c, g, sdf_capsule(g, px, py, hx, hy, 1.4 * u), BROWN, a)
    paint(c, g, sdf_box(g, hx, hy, 3.5 * u, 6.0 * u, theta), _colour(ev), a)


def draw_bird(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    _, since, _ = _beat_phase(c.times, np.asarray(ev.beats))
    hop = np.where(since < 0.12, np.sin(np.pi * np.clip(since / 0.12, 0, 1)), 0.0)
    bx, by = ox + 0.5 * s.w, oy + 0.62 * s.h - 6.0 * u * hop
    flap = np.where(since < 0.16, np.cos(2 * np.pi * np.minimum(since, 0.16) / 0.08), 0.6)
    paint(
        c,
        g,
        sdf_capsule(g, bx - 10 * u, oy + 0.62 * s.h + 5.5 * u, bx + 10 * u, oy + 0.62 * s.h + 5.5 * u, 1.0 * u),
        BROWN,
        a,
    )
    paint(c, g, sdf_ellipse(g, bx, by, 6.5 * u * ev.size, 4.5 * u * ev.size), _colour(ev), a)
    paint(c, g, sdf_disc(g, bx + 5.5 * u, by - 3.5 * u, 3.0 * u * ev.size), _colour(ev, 1.2), a)
    paint(
        c,
        g,
        sdf_capsule(g, bx + 8.0 * u, by - 3.5 * u, bx + 10.5 * u, by - 3.0 * u, 0.9 * u),
        hsv_to_rgb(0.08, 0.9, 0.95),
        a,
    )
    paint(
        c,
        g,
        sdf_capsule(g, bx - 1.0 * u, by - 1.0 * u, bx - 6.0 * u, by - 1.0 * u - 6.0 * u * flap, 1.5 * u),
        _colour(ev, 0.6),
        a,
    )


def draw_firework(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    beats = np.asarray(ev.beats)
    life = 0.45
    k_last = np.searchsorted(beats, c.times, side="right") - 1
    for back in (0, 1):
        k = k_last - back
        kc = np.clip(k, 0, len(beats) - 1)
        age = np.where(k >= 0, c.times - beats[kc], np.inf)
        alive = (age >= 0) & (age < life)
        h = _hash01(kc * 7.1 + ev.seed % 1000)
        fx = ox + s.w * (0.3 + 0.4 * h)
        fy = oy + s.h * (0.35 + 0.3 * _hash01(kc * 3.3 + ev.seed % 1000 + 0.5))
        rad = 3.0 * u + 20.0 * u * ev.size * np.sqrt(np.clip(age / life, 0, 1))
        fade = np.where(alive, 1.0 - np.clip(age / life, 0, 1) ** 2, 0.0)
        col = hsv_to_rgb(ev.hue + 0.35 * h, ev.sat, 1.0)
        paint(c, g, sdf_ring(g, fx, fy, rad, 1.4 * u), col, a * fade)
        paint(c, g, sdf_disc(g, fx, fy, 4.0 * u), WHITE, a * alive * (age < 0.12))


def draw_drip(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    beats = np.asarray(ev.beats)
    cx = ox + 0.5 * s.w
    tap_y, pool_y = oy + 5.0 * u, oy + s.h - 6.0 * u
    fall = 0.22
    nxt = np.clip(np.searchsorted(beats, c.times, side="right"), 0, len(beats) - 1)
    lead = beats[nxt] - c.times
    falling = (lead > 0) & (lead < fall)
    dy = tap_y + 4.0 * u + (pool_y - tap_y - 4.0 * u) * np.clip(1.0 - lead / fall, 0, 1) ** 2
    _, since, _ = _beat_phase(c.times, beats)
    ripple = since < 0.4
    paint(c, g, sdf_ellipse(g, cx, pool_y, 14.0 * u, 2.8 * u), _colour(ev, 0.5), a)
    rr = 3.0 * u + 16.0 * u * np.clip(since / 0.4, 0, 1)
    ring = np.abs(sdf_ellipse(g, cx, pool_y, rr, 0.35 * rr)) - 1.3 * u
    paint(c, g, ring, WHITE * 0.9, a * ripple * (1.0 - np.clip(since / 0.4, 0, 1)))
    paint(c, g, sdf_box(g, cx, tap_y, 7.0 * u, 3.0 * u), GREY, a)
    paint(c, g, sdf_ellipse(g, cx, dy, 3.0 * u * ev.size, 4.0 * u * ev.size), _colour(ev, 1.2), a * falling)


def draw_wander(c: Chunk, g: Grid, ev: VisualEvent, ox: np.ndarray, oy: np.ndarray, a: np.ndarray) -> None:
    u, s = _u(ev), ev.slot
    t = c.times
    ph = ev.seed % 1000
    cx = ox + 0.5 * s.w + 0.35 * s.w * ev.amp * np.sin(2 * np.pi * ev.rate * t + ph)
    cy = oy + 0.5 * s.h + 0.3 * s.h * ev.amp * np.sin(2 * np.pi * 0.7 * ev.rate * t + 2.0 * ph)
    r = 10.0 * u * ev.size
    reach = r + 4.0 * u  # the blob's soft edge fades out within 1.25 u; draw only around it
    box = Box(
        max(g.box.x0, int(np.floor(cx.min() - reach))),
        max(g.box.y0, int(np.floor(cy.min() - reach))),
        min(g.box.x1, int(np.ceil(cx.max() + reach))),
        min(g.box.y1, int(np.ceil(cy.max() + reach))),
    )
    if box.w <= 0 or box.h <= 0:
        return
    g = Grid.of(box)
    paint(c, g, sdf_disc(g, cx, cy, r) / (2.5 * u), _colour(ev), a * 0.8)


DRAW: dict[VisualPattern, DrawFn] = {
    VisualPattern.BOUNCE: draw_bounce,
    VisualPattern.SPIN: draw_spin,
    VisualPattern.SLIDE: draw_slide,
    VisualPattern.BLINK: draw_blink,
    VisualPattern.INFLATE: draw_inflate,
    VisualPattern.SWING: draw_swing,
    VisualPattern.ORBIT: draw_orbit,
    VisualPattern.WAVE: draw_wave,
    VisualPattern.ROLL: draw_roll,
    VisualPattern.BUBBLES: draw_bubbles,
    VisualPattern.FLASH: draw_flash,
    VisualPattern.SHAKE: draw_shake,
    VisualPattern.KNOCK: draw_knock,
    VisualPattern.SIREN: draw_siren,
    VisualPattern.BELL: draw_bell,
    VisualPattern.HAMMER: draw_hammer,
    VisualPattern.BIRD: draw_bird,
    VisualPattern.FIREWORK: draw_firework,
    VisualPattern.DRIP: draw_drip,
    VisualPattern.WANDER: draw_wander,
}


def draw_visual(chunk: Chunk, ev: VisualEvent) -> None:
    """Draw one visual event on the frames of `chunk` where it is shown (no-op if it is not)."""
    t = chunk.times
    shown = (t >= ev.show_from) & (t < ev.show_to)
    if not shown.any():
        return
    margin = int(np.ceil(np.abs(chunk.shift).max())) + 1
    grid = Grid.of(ev.slot.grow(margin, chunk.width, chunk.height))
    ox = ev.slot.x0 + chunk.shift[:, 0]
    oy = ev.slot.y0 + chunk.shift[:, 1]
    DRAW[ev.pattern](chunk, grid, ev, ox.astype(np.float64), oy.astype(np.float64), shown.astype(np.float32))
