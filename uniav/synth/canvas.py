"""Vectorised drawing on batches of frames.

A `Chunk` holds N consecutive frames (N x H x W x 3 float32 in [0, 1]), their times and the
camera shift of each frame. Shapes are signed distance fields evaluated over a pixel box for all
N frames at once (arrays N x h x w); `paint` alpha-composites one shape with per-frame colour
and opacity, anti-aliased over one pixel. Also here: periodic background textures, smooth
camera jitter and HSV colours. Nothing loops over frames or pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TEXTURE_SIZE = 256  # periodic background textures are TEXTURE_SIZE x TEXTURE_SIZE


@dataclass(frozen=True)
class Box:
    """A pixel rectangle [x0, x1) x [y0, y1) in frame coordinates."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    @property
    def cx(self) -> float:
        return 0.5 * (self.x0 + self.x1)

    @property
    def cy(self) -> float:
        return 0.5 * (self.y0 + self.y1)

    def grow(self, margin: int, width: int, height: int) -> Box:
        """This box enlarged by `margin` pixels on every side, clipped to a width x height frame."""
        return Box(
            max(0, self.x0 - margin),
            max(0, self.y0 - margin),
            min(width, self.x1 + margin),
            min(height, self.y1 + margin),
        )


@dataclass
class Chunk:
    """N frames being drawn: pixels (N, H, W, 3) float32, times (N,) s, camera shift (N, 2) px (dx, dy)."""

    frames: np.ndarray
    times: np.ndarray
    shift: np.ndarray

    @property
    def height(self) -> int:
        return self.frames.shape[1]

    @property
    def width(self) -> int:
        return self.frames.shape[2]


@dataclass(frozen=True)
class Grid:
    """Pixel-centre coordinates of a box, shaped to broadcast against (N, 1, 1) per-frame values."""

    box: Box
    x: np.ndarray  # (1, 1, w)
    y: np.ndarray  # (1, h, 1)

    @classmethod
    def of(cls, box: Box) -> Grid:
        x = (np.arange(box.x0, box.x1, dtype=np.float32) + 0.5)[None, None, :]
        y = (np.arange(box.y0, box.y1, dtype=np.float32) + 0.5)[None, :, None]
        return cls(box, x, y)


def _col(v: np.ndarray | float) -> np.ndarray:
    """Per-frame values (N,) (or a scalar) shaped (N, 1, 1) for broadcasting over a pixel box."""
    return np.asarray(v, dtype=np.float32).reshape(-1, 1, 1)


def sdf_disc(g: Grid, cx: np.ndarray, cy: np.ndarray, r: np.ndarray | float) -> np.ndarray:
    """Signed distance (N, h, w) to discs of centre (cx, cy) and radius r (per frame)."""
    return np.hypot(g.x - _col(cx), g.y - _col(cy)) - _col(r)


def sdf_ellipse(g: Grid, cx: np.ndarray, cy: np.ndarray, rx: float, ry: np.ndarray | float) -> np.ndarray:
    """Approximate signed distance (N, h, w) to axis-aligned ellipses (exact for circles)."""
    ry = _col(ry)
    rx = _col(rx)
    k = np.hypot((g.x - _col(cx)) / rx, (g.y - _col(cy)) / ry)
    return (k - 1.0) * np.minimum(rx, ry)


def sdf_ring(g: Grid, cx: np.ndarray, cy: np.ndarray, r: np.ndarray | float, half_width: float) -> np.ndarray:
    """Signed distance (N, h, w) to rings (annuli) of mid radius r and the given half width."""
    return np.abs(sdf_disc(g, cx, cy, r)) - half_width


def sdf_box(
    g: Grid,
    cx: np.ndarray,
    cy: np.ndarray,
    hw: np.ndarray | float,
    hh: np.ndarray | float,
    angle: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Signed distance (N, h, w) to rectangles of half sizes (hw, hh) rotated by `angle` rad."""
    dx = g.x - _col(cx)
    dy = g.y - _col(cy)
    c = _col(np.cos(angle))
    s = _col(np.sin(angle))
    u = np.abs(c * dx + s * dy) - _col(hw)
    v = np.abs(-s * dx + c * dy) - _col(hh)
    outside = np.hypot(np.maximum(u, 0.0), np.maximum(v, 0.0))
    return outside + np.minimum(np.maximum(u, v), 0.0)


def sdf_capsule(g: Grid, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (N, h, w) to thick segments from (ax, ay) to (bx, by) of radius r."""
    ax, ay = _col(ax), _col(ay)
    ex, ey = _col(bx) - ax, _col(by) - ay
    px, py = g.x - ax, g.y - ay
    h = np.clip((px * ex + py * ey) / np.maximum(ex * ex + ey * ey, 1e-6), 0.0, 1.0)
    return np.hypot(px - h * ex, py - h * ey) - r


def paint(chunk: Chunk, g: Grid, dist: np.ndarray, colour: np.ndarray, alpha: np.ndarray | float = 1.0) -> None:
    """Composite a shape given by its signed distance `dist` (N, h, w) over `chunk` inside `g.box`.

    `colour` is (3,) or (N, 3) RGB in [0, 1]; `alpha` a scalar or (N,) opacity (0 hides the
    shape in that frame). Edges are anti-aliased over one pixel.
    """
    b = g.box
    cover = np.clip(0.5 - dist, 0.0, 1.0) * _col(alpha)
    colour = np.asarray(colour, dtype=np.float32).reshape(-1, 1, 1, 3)
    region = chunk.frames[:, b.y0 : b.y1, b.x0 : b.x1]
    region += cover[..., None] * (colour - region)


def hsv_to_rgb(h: np.ndarray | float, s: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """HSV (each broadcastable, hue in turns) to RGB (..., 3) float32 in [0, 1]."""
    h, s, v = np.broadcast_arrays(np.asarray(h, np.float32), np.asarray(s, np.float32), np.asarray(v, np.float32))
    k = (np.array([5.0, 3.0, 1.0], np.float32) + (h[..., None] % 1.0) * 6.0) % 6.0
    return (v[..., None] - v[..., None] * s[..., None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)).astype(np.float32)


def periodic_texture(rng: np.random.Generator, roughness: float, scale: float, stretch: float) -> np.ndarray:
    """A smooth periodic noise field (TEXTURE_SIZE, TEXTURE_SIZE) with values in [0, 1].

    `scale` is the feature size in pixels, `roughness` the spectral slope (higher: smoother),
    `stretch` an anisotropy factor (1: isotropic). Periodic by construction, so it tiles.
    """
    n = TEXTURE_SIZE
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.rfftfreq(n)[None, :]
    f = np.hypot(fx * stretch, fy / stretch) * scale
    amp = 1.0 / (1.0 + f**roughness)
    amp[0, 0] = 0.0
    spec = amp * (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape))
    field = np.fft.irfft2(spec, s=(n, n))
    lo, hi = np.percentile(field, [1.0, 99.0])
    return np.clip((field - lo) / max(hi - lo, 1e-9), 0.0, 1.0).astype(np.float32)


def stripes_texture(rng: np.random.Generator, warp: float, scale: float) -> np.ndarray:
    """Periodic soft stripes (TEXTURE_SIZE, TEXTURE_SIZE) in [0, 1], bent by smooth noise.

    The stripes' direction and spacing (whole periods across the tile, so they tile) are random;
    `warp` (pixels) bends them; `scale` sets the bending noise's feature size.
    """
    n = TEXTURE_SIZE
    kx, ky = (int(k) for k in rng.integers(1, 10, size=2) * rng.choice([-1, 1], size=2))
    bend = periodic_texture(rng, 2.5, scale, 1.0) - 0.5
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    phase = 2 * np.pi * (kx * x + ky * y) / n + 2 * np.pi * warp * bend / 16.0
    return (0.5 + 0.5 * np.sin(phase)).astype(np.float32)


def tiles_texture(rng: np.random.Generator, scale: float) -> np.ndarray:
    """Periodic soft checkerboard (TEXTURE_SIZE, TEXTURE_SIZE) in [0, 1] with noisy tile shades."""
    n = TEXTURE_SIZE
    k = int(rng.choice([4, 8, 16]))  # tiles across the texture
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    board = np.sin(2 * np.pi * k * x / (2 * n)) * np.sin(2 * np.pi * k * y / (2 * n))
    tiles = 0.5 + 0.5 * np.tanh(1.5 * board)
    return (0.75 * tiles + 0.25 * periodic_texture(rng, 2.0, scale, 1.0)).astype(np.float32)


def smooth_path(
    rng: np.random.Generator, times: np.ndarray, amplitude: float, freqs: tuple[float, float]
) -> np.ndarray:
    """A smooth random 1-D path (len(times),): a sum of 4 sinusoids with random frequencies in `freqs` Hz.

    Its peak magnitude is about `amplitude`.
    """
    f = rng.uniform(*freqs, size=4)
    phase = rng.uniform(0, 2 * np.pi, size=4)
    w = rng.uniform(0.5, 1.0, size=4)
    w = w / w.sum()
    return amplitude * (w[None, :] * np.sin(2 * np.pi * times[:, None] * f[None, :] + phase[None, :])).sum(1)


def gather_background(
    texture: np.ndarray, offset_x: np.ndarray, offset_y: np.ndarray, height: int, width: int
) -> np.ndarray:
    """(N, height, width, 3) crops of a periodic (S, S, 3) texture at offsets (N,) in pixels, wrapping.

    Fractional offsets are interpolated bilinearly, so a slow drift moves the texture smoothly.
    """
    s = texture.shape[0]
    ix, iy = np.floor(offset_x).astype(np.int64), np.floor(offset_y).astype(np.int64)
    fx = (np.asarray(offset_x) - ix).astype(np.float32)[:, None, None, None]
    fy = (np.asarray(offset_y) - iy).astype(np.float32)[:, None, None, None]
    rows = (iy[:, None] + np.arange(height + 1)[None, :]) % s
    cols = (ix[:, None] + np.arange(width + 1)[None, :]) % s
    patch = texture[rows[:, :, None], cols[:, None, :]]  # (N, height + 1, width + 1, 3)
    top = patch[:, :-1, :-1] + fx * (patch[:, :-1, 1:] - patch[:, :-1, :-1])
    bottom = patch[:, 1:, :-1] + fx * (patch[:, 1:, 1:] - patch[:, 1:, :-1])
    return top + fy * (bottom - top)
