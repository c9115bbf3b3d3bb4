"""Weight-free visual features: colour, texture and motion statistics on a grid of cells.

Two steps, both vectorised over frames:

1. `FrameFeaturizer` turns chunks of small frames (n, H, W, 3) uint8 at 16 fps into per-frame rows of
   `FRAME_DIM` = 155 columns (for the default 4 x 4 cells, C = 16):

   ======  =====  ===============================================================
   offset  width  what
   ======  =====  ===============================================================
   0       3C     colour mean per cell (R, G, B in [0, 1]; cell-major)
   3C      C      luminance std per cell (contrast / texture)
   4C      2C     mean |horizontal|, |vertical| luminance gradient per cell, x 4 (texture, edges)
   6C      C      mean |frame difference| per cell (RGB channels averaged), x 8 (motion energy)
   7C      2C     per-cell optical flow (regularised Lucas-Kanade, pixels/frame at 64 px) minus the
                  global flow (object motion relative to the camera), u then v per cell, / 2
   9C      11     global: flow u, v (camera motion / jitter, / 2); log motion energy; centroid x, y and
                  spread x, y of the motion energy (frame coordinates in [-1, 1]); mean luminance;
                  mean saturation; divergence and curl of the relative cell flow field (growth,
                  rotation)
   ======  =====  ===============================================================

   The frame difference and flow of a chunk's first frame use the last frame of the previous chunk,
   so results do not depend on the chunking; the first frame of a video has zero motion.
2. `window_features(frame_feats, grid, num)` pools the 16 frames of each snippet into `VISUAL_DIM` = 384:
   mean (155) and std (155) of every column; for each of the 11 global signals the magnitudes of the
   1st-4th temporal-frequency bins of the linearly detrended signal over the 16 frames (44, bin-major)
   and the least-squares slope (change over the window, 11); the 1st-bin magnitude of each cell's
   motion energy (16); and the window maxima of motion energy, |global u| and |global v| (3).

All outputs float32. Frames are small (the encoder decodes at 64 x 64), so a chunk costs little memory
and nothing but the per-frame rows (155 floats a frame) is kept for the whole video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uniav.media.grid import SnippetGrid

N_GLOBAL = 11
_FLOW_REG = 3e-5  # Lucas-Kanade regulariser per pixel (gradients of [0, 1] luminance)
_FLOW_CLIP = 8.0
_BATCH_WINDOWS = 1024
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def frame_dim(cells: int = 4) -> int:
    return 9 * cells * cells + N_GLOBAL


def visual_dim(cells: int = 4) -> int:
    c = cells * cells
    return 2 * frame_dim(cells) + 5 * N_GLOBAL + c + 3


FRAME_DIM = frame_dim(4)
VISUAL_DIM = visual_dim(4)


def _grads(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradients of (n, H, W) luminance, zero on the border."""
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, :, 1:-1] = 0.5 * (y[:, :, 2:] - y[:, :, :-2])
    gy[:, 1:-1, :] = 0.5 * (y[:, 2:, :] - y[:, :-2, :])
    return gx, gy


def _solve_flow(
    sxx: np.ndarray, syy: np.ndarray, sxy: np.ndarray, sxt: np.ndarray, syt: np.ndarray, reg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Regularised Lucas-Kanade: [sxx+r sxy; sxy syy+r] [u v] = -[sxt syt], element-wise."""
    a, d = sxx + reg, syy + reg
    det = a * d - sxy * sxy
    u = -(d * sxt - sxy * syt) / det
    v = -(a * syt - sxy * sxt) / det
    return np.clip(u, -_FLOW_CLIP, _FLOW_CLIP), np.clip(v, -_FLOW_CLIP, _FLOW_CLIP)


@dataclass
class FrameFeaturizer:
    """Per-frame rows for consecutive chunks of one video (keeps only the previous frame)."""

    cells: int = 4

    def __post_init__(self) -> None:
        self._prev: np.ndarray | None = None  # (H, W, 3) the last frame seen, in [0, 1]

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) uint8 frames -> (n, frame_dim(cells)) float32 rows."""
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected frames (n, H, W, 3), got {frames.shape}")
        n, h, w, _ = frames.shape
        g = self.cells
        if h % g or w % g:
            raise ValueError(f"frame size {w}x{h} is not divisible into {g}x{g} cells")
        if n == 0:
            return np.zeros((0, frame_dim(g)), dtype=np.float32)
        rgb = frames.astype(np.float32) * np.float32(1.0 / 255.0)
        prev = rgb[:1] if self._prev is None or self._prev.shape != rgb.shape[1:] else self._prev[None]
        rgb_all = np.concatenate([prev, rgb], axis=0)  # (n + 1, H, W, 3): the previous frame first
        self._prev = rgb[-1].copy()
        y_all = rgb_all @ _LUMA
        y = y_all[1:]
        gx_all, gy_all = _grads(y_all)
        gx, gy = gx_all[1:], gy_all[1:]
        dt = y_all[1:] - y_all[:-1]
        mx = 0.5 * (gx_all[1:] + gx_all[:-1])  # gradients averaged over the two frames (for the flow)
        my = 0.5 * (gy_all[1:] + gy_all[:-1])
        # motion energy from all three channels, so that motion of equally bright colours counts
        d = rgb_all[1:] - rgb_all[:-1]
        adt = (np.abs(d[..., 0]) + np.abs(d[..., 1]) + np.abs(d[..., 2])) * np.float32(1.0 / 3.0)

        cell_px = (h // g) * (w // g)
        c = g * g
        # every per-pixel map pooled over the cells at once: (n, K, H, W) -> (n, K, c) by two matmuls
        maps = np.stack(
            [
                rgb[..., 0],
                rgb[..., 1],
                rgb[..., 2],
                y,
                y * y,
                np.abs(gx),
                np.abs(gy),
                adt,
                mx * mx,
                my * my,
                mx * my,
                mx * dt,
                my * dt,
            ],
            axis=1,
        )
        pool_h = (np.arange(h)[:, None] // (h // g) == np.arange(g)[None, :]).astype(np.float32)  # (H, g)
        pool_w = (np.arange(w)[:, None] // (w // g) == np.arange(g)[None, :]).astype(np.float32)  # (W, g)
        cs = (pool_h.T @ maps @ pool_w).reshape(n, maps.shape[1], c)  # cell sums, cell-major
        colour = (cs[:, 0:3] / cell_px).transpose(0, 2, 1).reshape(n, 3 * c)
        y_mean = cs[:, 3] / cell_px
        y_std = np.sqrt(np.maximum(cs[:, 4] / cell_px - y_mean**2, 0.0))
        grad = np.concatenate([cs[:, 5], cs[:, 6]], axis=1) * (4.0 / cell_px)
        motion = cs[:, 7] * (8.0 / cell_px)
        sums = [cs[:, k] for k in range(8, 13)]
        u_c, v_c = _solve_flow(*sums, reg=_FLOW_REG * cell_px)
        tot = [x.sum(axis=1) for x in sums]
        u_g, v_g = _solve_flow(*tot, reg=_FLOW_REG * h * w)
        u_r, v_r = u_c - u_g[:, None], v_c - v_g[:, None]

        # centroid / spread of the motion energy, in [-1, 1] frame coordinates
        xs = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1
        ys = (np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1
        col_m = adt.sum(axis=1)  # (n, W)
        row_m = adt.sum(axis=2)  # (n, H)
        mass = col_m.sum(axis=1) + 0.5
        cx = col_m @ xs / mass
        cy = row_m @ ys / mass
        sx = np.sqrt(np.maximum(col_m @ xs**2 / mass - cx**2, 0.0))
        sy = np.sqrt(np.maximum(row_m @ ys**2 / mass - cy**2, 0.0))
        log_energy = np.log1p(100.0 * cs[:, 7].sum(axis=1) / (h * w))
        r_, g_, b_ = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        sat = (np.maximum(np.maximum(r_, g_), b_) - np.minimum(np.minimum(r_, g_), b_)).reshape(n, -1).mean(axis=1)

        # divergence / curl of the relative flow on the cell centres
        pos = (np.arange(g, dtype=np.float32) + 0.5) / g * 2 - 1
        px = np.tile(pos, g)  # cell-major: row i, column j -> index i*g + j
        py = np.repeat(pos, g)
        norm = float((px**2 + py**2).sum())
        div = (u_r * px + v_r * py).sum(axis=1) / norm
        curl = (v_r * px - u_r * py).sum(axis=1) / norm

        glob = np.stack([u_g / 2, v_g / 2, log_energy, cx, cy, sx, sy, y_mean.mean(axis=1), sat, div, curl], axis=1)
        out = np.concatenate([colour, y_std, grad, motion, u_r / 2, v_r / 2, glob], axis=1)
        return out.astype(np.float32)


def _pool(win: np.ndarray, cells: int) -> np.ndarray:
    """(B, F, frame_dim) windows of frame rows -> (B, visual_dim)."""
    b, f, d = win.shape
    c = cells * cells
    glob = win[:, :, d - N_GLOBAL :]
    t = np.arange(f, dtype=np.float32) - 0.5 * (f - 1)
    denom = max(float((t**2).sum()), 1e-6)
    slope_per_frame = np.einsum("t,btk->bk", t, glob) / denom
    slope = slope_per_frame * f
    # oscillation spectrum of the detrended signals (the linear trend is the slope above)
    detrended = glob - glob.mean(axis=1, keepdims=True) - t[None, :, None] * slope_per_frame[:, None, :]
    spec = np.abs(np.fft.rfft(detrended, axis=1)) / f  # (B, F//2+1, 11)
    bins = np.zeros((b, 4, N_GLOBAL), dtype=np.float32)
    k = min(4, spec.shape[1] - 1)
    bins[:, :k] = spec[:, 1 : 1 + k]
    motion = win[:, :, 6 * c : 7 * c]
    mspec = np.abs(np.fft.rfft(motion - motion.mean(axis=1, keepdims=True), axis=1)) / f
    m1 = mspec[:, 1] if mspec.shape[1] > 1 else np.zeros((b, c), dtype=np.float32)
    maxima = np.stack(
        [glob[:, :, 2].max(axis=1), np.abs(glob[:, :, 0]).max(axis=1), np.abs(glob[:, :, 1]).max(axis=1)], axis=1
    )
    out = np.concatenate([win.mean(axis=1), win.std(axis=1), bins.reshape(b, -1), slope, m1, maxima], axis=1)
    return out.astype(np.float32)


def window_features(frame_feats: np.ndarray, grid: SnippetGrid, num: int, cells: int = 4) -> np.ndarray:
    """(num, visual_dim(cells)) pooled features of each snippet from (N, frame_dim) per-frame rows.

    Snippet t pools frames `grid.frame_indices(num, N)[t]` (edge frames repeated past the end). With no
    frames at all (N = 0) the result is zeros.
    """
    dim = visual_dim(cells)
    if frame_feats.shape[0] == 0:
        return np.zeros((num, dim), dtype=np.float32)
    if frame_feats.shape[1] != frame_dim(cells):
        raise ValueError(f"per-frame rows have {frame_feats.shape[1]} columns, expected {frame_dim(cells)}")
    idx = grid.frame_indices(num, frame_feats.shape[0])
    out = np.empty((num, dim), dtype=np.float32)
    for a in range(0, num, _BATCH_WINDOWS):
        b = min(a + _BATCH_WINDOWS, num)
        out[a:b] = _pool(frame_feats[idx[a:b]], cells)
    return out
