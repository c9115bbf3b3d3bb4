"""Long inputs (DESIGN 8): sliding windows for AVEL/SED, and merging their detections.

A sequence longer than the task's ``max_seq_len`` is cut into windows of that length with 50% overlap.
Each window owns a *core* (the middle half; the first and last windows extend theirs to minus and plus
infinity), and the cores tile the line: a window's detection is kept when its centre falls in the window's
core, so an event seen whole by two windows comes out once. An event longer than what one window sees is
predicted in pieces, each cut at a window edge; pieces of the same label that overlap and are cut at a
shared edge are fused into one segment (chains included).

A sequence that fits in one window is one window whose core is the whole line: nothing is dropped and
nothing fused, which is the official whole-sequence inference exactly.

All functions are pure and vectorised over detections; `WindowTable` holds the windows of many sequences
as arrays so that one call merges the detections of a whole batch of clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CUT_TOLERANCE = 2.0  # grid steps: a segment ending this close to a window edge was cut by it
# two pieces are fused only if the weaker scores at least this share of the stronger: pieces of one event seen
# by neighbouring windows score alike, while a confident detection must not be stretched by faint duplicates
FUSE_MIN_SCORE_RATIO = 0.5


@dataclass(frozen=True)
class Window:
    """Steps [start, end) of a sequence, and the core [core_start, core_end) it owns (grid units)."""

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
        return [Window(0, length, -np.inf, np.inf, True, True)]
    hop = max(1, window // 2)
    starts = sorted(set(range(0, length - window, hop)) | {length - window})
    out = []
    for i, s in enumerate(starts):
        first, last = i == 0, i == len(starts) - 1
        # core boundaries: half-way between consecutive window centres
        lo = -np.inf if first else (starts[i - 1] + s + window) / 2.0
        hi = np.inf if last else (s + starts[i + 1] + window) / 2.0
        out.append(Window(s, s + window, lo, hi, first, last))
    return out


@dataclass(frozen=True, eq=False)
class WindowTable:
    """The windows of several sequences as arrays (one entry per window, sequences in order).

    ``sequence[w]`` is the sequence window w belongs to; ``start``/``end`` its steps in that sequence;
    ``core_start``/``core_end`` its core; ``first``/``last`` whether it is the sequence's first/last window.
    """

    sequence: np.ndarray
    start: np.ndarray
    end: np.ndarray
    core_start: np.ndarray
    core_end: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def from_plans(cls, plans: Sequence[Sequence[Window]]) -> WindowTable:
        """The table of `plans[i]` = the windows of sequence i."""
        ws = [(i, w) for i, plan in enumerate(plans) for w in plan]
        if not ws:
            raise ValueError("a window table needs at least one window")

        def col(get, dtype) -> np.ndarray:
            return np.array([get(i, w) for i, w in ws], dtype=dtype)

        return cls(
            sequence=col(lambda i, w: i, np.int64),
            start=col(lambda i, w: w.start, np.int64),
            end=col(lambda i, w: w.end, np.int64),
            core_start=col(lambda i, w: w.core_start, np.float64),
            core_end=col(lambda i, w: w.core_end, np.float64),
            first=col(lambda i, w: w.first, bool),
            last=col(lambda i, w: w.last, bool),
        )

    @classmethod
    def whole(cls, lengths: Sequence[int]) -> WindowTable:
        """One window per sequence covering it whole (the official inference)."""
        return cls.from_plans([[Window(0, int(n), -np.inf, np.inf, True, True)] for n in lengths])

    @property
    def num_windows(self) -> int:
        return int(self.sequence.shape[0])

    @property
    def num_sequences(self) -> int:
        return int(self.sequence.max()) + 1 if self.num_windows else 0

    def windows_of(self, sequence: int) -> np.ndarray:
        """Indices of the windows of one sequence."""
        return np.flatnonzero(self.sequence == sequence)


def in_core(segments: np.ndarray, window: np.ndarray, table: WindowTable) -> np.ndarray:
    """(N,) mask of segments (sequence grid units) whose centre lies in the core of their window."""
    centre = segments[:, 0] * 0.5 + segments[:, 1] * 0.5
    return (centre >= table.core_start[window]) & (centre < table.core_end[window])


def edge_cuts(
    segments: np.ndarray, window: np.ndarray, table: WindowTable, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """(cut at the window's left edge, cut at its right edge) for segments predicted by `window`; the
    sequence ends are not cuts."""
    left = (segments[:, 0] <= table.start[window] + tol) & ~table.first[window]
    right = (segments[:, 1] >= table.end[window] - 1 - tol) & ~table.last[window]
    return left, right


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph on n nodes with edges (a[k], b[k]): each node's smallest node id."""
    comp = np.arange(n)
    if a.size == 0:
        return comp
    while True:  # label propagation along the edges until nothing changes (graph diameter rounds)
        low = np.minimum(comp[a], comp[b])
        nxt = comp.copy()
        np.minimum.at(nxt, a, low)
        np.minimum.at(nxt, b, low)
        nxt = nxt[nxt]  # pointer jumping: follow to the current root
        if np.array_equal(nxt, comp):
            return comp
        comp = nxt


def fuse_cut_segments(
    segments: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray,
    cut_left: np.ndarray,
    cut_right: np.ndarray,
    tol: float,
    min_ratio: float = FUSE_MIN_SCORE_RATIO,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fuse pieces of one event cut by window edges.

    Two detections of the same group (a label of a sequence) are linked when they overlap (or touch within
    `tol`), one of them is cut on the side facing the other, and the weaker scores at least `min_ratio` of
    the stronger. Linked sets (connected components) become one segment spanning them all, scored by their
    best member. Only cut pieces start links, so the work is (cut pieces x pieces), not pieces squared.
    Returns (segments, scores, index of each output's first member): the members' other columns (labels,
    sequences) are read through that index.
    """
    n = segments.shape[0]
    cut = np.flatnonzero(cut_left | cut_right)
    if n < 2 or cut.size == 0:
        return segments, scores, np.arange(n)
    s, e = segments[:, 0], segments[:, 1]
    c = cut[:, None]  # (K, 1) cut pieces against (1, N) all pieces
    same = groups[c] == groups[None, :]
    touch = (np.minimum(e[c], e[None, :]) - np.maximum(s[c], s[None, :])) >= -tol
    # the cut piece lies before the other and is cut on its right, or after it and cut on its left
    facing = ((s[c] <= s[None, :]) & cut_right[c]) | ((s[c] >= s[None, :]) & cut_left[c])
    lo, hi = np.minimum(scores[c], scores[None, :]), np.maximum(scores[c], scores[None, :])
    alike = lo >= min_ratio * hi
    link = same & touch & facing & alike
    link[np.arange(cut.size), cut] = False
    k, j = np.nonzero(link)
    comp = _components(n, cut[k], j)
    roots, inverse = np.unique(comp, return_inverse=True)
    m = roots.shape[0]
    starts = np.full(m, np.inf)
    ends = np.full(m, -np.inf)
    best = np.full(m, -np.inf)
    np.minimum.at(starts, inverse, s)
    np.maximum.at(ends, inverse, e)
    np.maximum.at(best, inverse, scores)
    fused = np.stack([starts, ends], 1).astype(segments.dtype)
    return fused, best.astype(scores.dtype), roots


def merge_windows(
    segments: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    window: np.ndarray,
    table: WindowTable,
    tol: float = CUT_TOLERANCE,
    min_ratio: float = FUSE_MIN_SCORE_RATIO,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Detections of many windows as one set per sequence: keep each window's core, then fuse pieces cut by
    window edges. `segments` (N, 2) are in window grid units, `window` (N,) the window of each detection.
    Returns (segments in sequence grid units, scores, labels, sequence of each)."""
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2) + table.start[window][:, None]
    keep = in_core(segments, window, table)
    cut_l, cut_r = edge_cuts(segments, window, table, tol)
    segments, scores, labels, window = segments[keep], scores[keep], labels[keep], window[keep]
    seq = table.sequence[window]
    groups = seq * (int(labels.max()) + 1 if labels.size else 1) + labels
    fused, best, first = fuse_cut_segments(segments, scores, groups, cut_l[keep], cut_r[keep], tol, min_ratio)
    return fused, best, labels[first], seq[first]
