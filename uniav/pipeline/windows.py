"""Long inputs (DESIGN 8): sliding windows for AVEL/SED, and merging their detections.

A sequence longer than the task's ``max_seq_len`` is cut into windows of that length with 50%
overlap. Each window owns a *core* (the middle half; the first and last windows extend theirs to
the sequence ends), and the cores tile the sequence: a window's detection is kept when its centre
falls in the window's core, so an event seen whole by two windows comes out once. An event longer
than what one window sees is predicted in pieces, each cut at a window edge; pieces of the same
label that overlap and are cut at a shared edge are fused into one segment (chains included).
All functions are pure and vectorised over detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """Steps [start, end) of the sequence, and the core [core_start, core_end) it owns (grid units)."""

    start: int
    end: int
    core_start: float
    core_end: float
    first: bool
    last: bool

    @property
    def length(self) -> int:
        return self.end - self.start


def plan_windows(length: int, window: int) -> list[Window]:
    """Windows of `window` steps, hop window/2, covering [0, length); one window if it fits."""
    if length <= 0 or window <= 0:
        raise ValueError(f"need positive length and window, got {length} and {window}")
    if length <= window:
        return [Window(0, length, 0.0, float(length), True, True)]
    hop = max(1, window // 2)
    starts = list(range(0, length - window, hop)) + [length - window]
    starts = sorted(set(starts))
    out = []
    for i, s in enumerate(starts):
        first, last = i == 0, i == len(starts) - 1
        # core boundaries: half-way between consecutive window centres
        lo = 0.0 if first else (starts[i - 1] + s + window) / 2.0
        hi = float(length) if last else (s + starts[i + 1] + window) / 2.0
        out.append(Window(s, s + window, lo, hi, first, last))
    return out


def in_core(segments: np.ndarray, window: Window) -> np.ndarray:
    """(N,) mask of segments (global grid units) whose centre lies in the window's core."""
    centre = segments[:, 0] * 0.5 + segments[:, 1] * 0.5
    return (centre >= window.core_start) & (centre < window.core_end)


def edge_cuts(segments: np.ndarray, window: Window, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """(cut at the window's left edge, cut at its right edge) for segments predicted by `window`;
    the sequence ends are not cuts."""
    left = (segments[:, 0] <= window.start + tol) & (not window.first)
    right = (segments[:, 1] >= window.end - 1 - tol) & (not window.last)
    return left, right


def fuse_cut_segments(
    segments: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    cut_left: np.ndarray,
    cut_right: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fuse pieces of one event cut by window edges.

    Two detections of the same label are linked when they overlap (or touch within `tol`) and one of
    them is cut on the side facing the other; linked groups (connected components) become one segment
    spanning them all, scored by their best member. Returns (segments, scores, labels) of the fused set.
    """
    n = segments.shape[0]
    if n < 2 or not (cut_left.any() or cut_right.any()):
        return segments, scores, labels
    s, e = segments[:, 0], segments[:, 1]
    same = labels[:, None] == labels[None, :]
    touch = (np.minimum(e[:, None], e[None, :]) - np.maximum(s[:, None], s[None, :])) >= -tol
    # i lies before j and i is cut on its right, or j is cut on its left
    before = s[:, None] <= s[None, :]
    facing = before & (cut_right[:, None] | cut_left[None, :])
    link = same & touch & (facing | facing.T)
    np.fill_diagonal(link, True)
    comp = np.arange(n)
    while True:  # label propagation: every node takes the smallest component id among its links
        nxt = np.where(link, comp[None, :], n).min(axis=1)
        if np.array_equal(nxt, comp):
            break
        comp = nxt
    roots, inverse = np.unique(comp, return_inverse=True)
    k = roots.shape[0]
    starts = np.full(k, np.inf)
    ends = np.full(k, -np.inf)
    best = np.full(k, -np.inf)
    np.minimum.at(starts, inverse, s)
    np.maximum.at(ends, inverse, e)
    np.maximum.at(best, inverse, scores)
    return np.stack([starts, ends], 1).astype(segments.dtype), best.astype(scores.dtype), labels[roots]


def merge_windows(
    per_window: list[tuple[Window, np.ndarray, np.ndarray, np.ndarray]], tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detections of all windows (each: window, segments in global grid units, scores, labels) as one
    set: keep each window's core, then fuse pieces cut by window edges."""
    segs, scores, labels, left, right = [], [], [], [], []
    for w, s, sc, lab in per_window:
        keep = in_core(s, w)
        cut_l, cut_r = edge_cuts(s, w, tol)
        segs.append(s[keep])
        scores.append(sc[keep])
        labels.append(lab[keep])
        left.append(cut_l[keep])
        right.append(cut_r[keep])
    if not segs:
        return np.zeros((0, 2)), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return fuse_cut_segments(
        np.concatenate(segs),
        np.concatenate(scores),
        np.concatenate(labels),
        np.concatenate(left),
        np.concatenate(right),
        tol,
    )
