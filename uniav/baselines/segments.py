"""Per-snippet label probabilities -> scored segments, the way a training-free detector can decode them.

For every label and every threshold of a ladder (0.01 to 0.9: pretrained classifiers give many sounds low
probabilities, so the ladder starts low), each maximal run of
consecutive snippets at or above the threshold is a candidate segment, scored by the mean probability over
the run; a snippet covers half a step either side of its centre. The candidates then go through the same
per-class Soft-NMS and ``max_seg_num`` cap as the model's (`batched_nms` with the task's sigma), and grid units
become seconds with the task's grid timing. Vectorised over thresholds, labels and snippets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from uniav.config import DecodeConfig
from uniav.ops.decode import GridTiming
from uniav.ops.nms import batched_nms

THRESHOLDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def run_candidates(
    probs: np.ndarray, thresholds: Sequence[float] = THRESHOLDS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(segments (N, 2) in grid units, scores (N,), labels (N,)) of the runs of (T, C) `probs` above each
    threshold; duplicates (the same run found at several thresholds) are kept once."""
    p = np.asarray(probs, dtype=np.float64)
    t, c = p.shape
    if t == 0 or c == 0:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0, np.int64)
    thr = np.asarray(thresholds, dtype=np.float64)[:, None, None]
    above = np.zeros((thr.shape[0], c, t + 2), dtype=np.int8)
    above[:, :, 1:-1] = (p.T[None] >= thr).astype(np.int8)
    edges = np.diff(above, axis=2)  # +1 at a run's first snippet, -1 one past its last
    ti, ci, start = np.nonzero(edges == 1)
    _, _, stop = np.nonzero(edges == -1)  # same (threshold, label) order, runs in time order
    cum = np.concatenate([np.zeros((1, c)), np.cumsum(p, axis=0)])  # (T + 1, C) prefix sums
    mean = (cum[stop, ci] - cum[start, ci]) / (stop - start)
    segs = np.stack([start - 0.5, stop - 0.5], axis=1)
    key = np.stack([ci, start, stop], axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    first = np.sort(first)
    return segs[first], mean[first], ci[first].astype(np.int64)


def decode_probabilities(
    probs: np.ndarray, timing: GridTiming, decode: DecodeConfig, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments in seconds, scores and labels (best first) of one clip's (T, C) label probabilities."""
    segs, scores, labels = run_candidates(probs)
    if segs.shape[0] == 0:
        return np.zeros((0, 2)), np.zeros(0, np.float32), np.zeros(0, np.int64)
    s, sc, lab, _ = batched_nms(
        torch.from_numpy(segs).float(), torch.from_numpy(scores).float(), torch.from_numpy(labels), decode, sigma
    )
    secs = timing.to_seconds(s.double()).numpy()
    real = secs[:, 1] > secs[:, 0]
    return secs[real], sc.numpy()[real], lab.numpy()[real]
