"""Energy envelopes: when a placed recording is audible, and where it is quiet enough to cut.

A recording's envelope is the level (dB re full scale) of its mean energy over 30 ms, every
10 ms (`HOP_SECONDS`). A frame is *active* when its level is within `peak_range_db` of the
recording's loudest frame and above `floor_dbfs` (both on the source file's own level), and,
once placed in a clip at some gain, no more than `bed_margin_db` below the bed's RMS level (the
part buried deeper under the bed is not audible). Runs of active frames separated by gaps
shorter than a bridge become one segment, and runs shorter than `MIN_RUN_SECONDS` (clicks too
short to localise) are dropped: these are the annotated onsets and offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOP_SECONDS = 0.01
SMOOTH_FRAMES = 3  # the level of a frame is the mean energy of 3 hops (30 ms) around it
SILENT_DB = -200.0
MIN_RUN_SECONDS = 0.05


@dataclass(frozen=True)
class EnvelopeSpec:
    """The activity rule (see the module docstring)."""

    peak_range_db: float = 30.0
    floor_dbfs: float = -65.0
    bed_margin_db: float = 10.0

    def __post_init__(self) -> None:
        if self.peak_range_db <= 0 or self.bed_margin_db < 0:
            raise ValueError("peak_range_db must be positive and bed_margin_db non-negative")


def hop_samples(sample_rate: int) -> int:
    return max(int(round(HOP_SECONDS * sample_rate)), 1)


def levels_db(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """(ceil(len(x) / hop),) frame levels in dB re full scale (the last frame zero-padded)."""
    hop = hop_samples(sample_rate)
    m = max(-(-len(x) // hop), 1)
    frames = np.zeros(m * hop, np.float64)
    frames[: len(x)] = x
    e = (frames.reshape(m, hop) ** 2).mean(1)
    if SMOOTH_FRAMES > 1 and m > 1:
        e = np.convolve(np.pad(e, SMOOTH_FRAMES // 2, mode="edge"), np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES, "valid")
    return np.maximum(10.0 * np.log10(np.maximum(e, 1e-30)), SILENT_DB)


def self_active(levels: np.ndarray, spec: EnvelopeSpec, peak_db: float | None = None) -> np.ndarray:
    """Frames within `peak_range_db` of the loudest frame (or of `peak_db`, the whole file's peak
    when `levels` is a part of it) and above `floor_dbfs` (source level)."""
    peak = float(levels.max()) if peak_db is None else peak_db
    return levels >= max(peak - spec.peak_range_db, spec.floor_dbfs)


def placed_active(
    levels: np.ndarray, gain: float, bed_rms: float, spec: EnvelopeSpec, own: np.ndarray | None = None
) -> np.ndarray:
    """Frames of a recording that are audible once scaled by `gain` over a bed of RMS `bed_rms`
    (0: no bed). `own` is `self_active(levels)` when already computed."""
    active = self_active(levels, spec) if own is None else own
    if bed_rms <= 0:
        return active
    floor = 20.0 * np.log10(bed_rms) - spec.bed_margin_db - 20.0 * np.log10(max(gain, 1e-30))
    return active & (levels >= floor)


def active_rms(x: np.ndarray, active: np.ndarray, sample_rate: int) -> float:
    """RMS of the samples of x in active frames (the event-level side of the SNR)."""
    hop = hop_samples(sample_rate)
    mask = np.repeat(active, hop)[: len(x)]
    if not mask.any():
        return 0.0
    return float(np.sqrt(np.mean(np.square(x[mask], dtype=np.float64))))


def runs(mask: np.ndarray, bridge: int = 0, shortest: int = 1) -> np.ndarray:
    """(K, 2) [first, last + 1) indices of the runs of True in `mask`, gaps shorter than `bridge`
    merged, then runs shorter than `shortest` dropped."""
    m = np.asarray(mask, bool)
    if not m.any():
        return np.zeros((0, 2), np.int64)
    edges = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = np.concatenate([[True], starts[1:] - ends[:-1] >= bridge])
    first = starts[keep]
    last = np.concatenate([ends[np.flatnonzero(keep)[1:] - 1], [ends[-1]]])
    out = np.stack([first, last], axis=1).astype(np.int64)
    return out[out[:, 1] - out[:, 0] >= shortest]


def quiet_cut(levels: np.ndarray, lo: int, hi: int) -> int:
    """The frame in [lo, hi) where the recording is quietest (the earliest if tied): where to cut it."""
    lo, hi = max(lo, 0), min(hi, len(levels))
    if hi <= lo:
        return max(min(hi, len(levels)), 0)
    return lo + int(np.argmin(levels[lo:hi]))
