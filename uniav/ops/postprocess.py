"""The one post-processing path: network outputs of windows -> final detections in seconds per sequence.

`PostProcessor` is used by `UniAV.detect` (one whole-sequence window per video: the official evaluation),
by the `Detector` behind ``uniav predict`` and the studio, and by ``uniav evaluate`` (sliding windows for
long AVEL/SED inputs), so that what is measured is what users get. Steps, all batched over windows:

1. decode every window's candidates (`decode_batch`: probabilities above ``pre_nms_thresh``, at most
   ``pre_nms_topk`` per level and window, segments longer than ``duration_thresh``);
2. per-class Soft-NMS within each window, its ``max_seg_num`` best (`batched_nms`);
3. merge the windows of each sequence (`merge_windows`: core ownership, fusion of pieces cut by edges);
4. grid units -> seconds with each sequence's timing, clipped to [0, duration].

There is no user threshold here: everything down to the decoding floor comes out, so a detection never
depends on how high the caller's threshold is; callers filter afterwards (a threshold only filters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from uniav.config import DecodeConfig
from uniav.ops.decode import GridTiming, decode_batch
from uniav.ops.nms import batched_nms
from uniav.ops.windows import CUT_TOLERANCE, FUSE_MIN_SCORE_RATIO, WindowTable, merge_windows


@dataclass(frozen=True, eq=False)
class SequenceDetections:
    """Final detections of several sequences as flat arrays, ordered by sequence then descending score:
    ``sequence`` (N,) int64, ``segments`` (N, 2) float64 seconds, ``scores`` (N,) float32, ``labels`` (N,)
    int64 (class indices of the vocabulary that was scored)."""

    sequence: np.ndarray
    segments: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def of(self, sequence: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(segments, scores, labels) of one sequence, best first."""
        m = self.sequence == sequence
        return self.segments[m], self.scores[m], self.labels[m]


def seconds(segments: np.ndarray, sequence: np.ndarray, timings: Sequence[GridTiming]) -> np.ndarray:
    """Grid units of each segment's sequence -> seconds, clipped to [0, duration] (vectorised
    `GridTiming.to_seconds`)."""
    table = np.array([(t.feat_stride, t.num_frames, t.fps, t.duration) for t in timings], dtype=np.float64)
    stride, frames, fps, duration = (table[sequence, i][:, None] for i in range(4))
    return np.clip((segments * stride + 0.5 * frames) / fps, 0.0, duration)


@dataclass(frozen=True)
class PostProcessor:
    """Decoding, Soft-NMS, window merging and seconds for one task (see the module docstring).

    `sigma`: the task's Soft-NMS sigma. `drop_empty`: drop segments that lie wholly outside the clip (they
    collapse to zero length when clipped; the official code keeps them, so `UniAV.detect` does too).
    """

    decode: DecodeConfig
    sigma: float
    cut_tolerance: float = CUT_TOLERANCE
    fuse_min_score_ratio: float = FUSE_MIN_SCORE_RATIO
    drop_empty: bool = True

    def __call__(
        self,
        cls_logits: Sequence[torch.Tensor],
        offsets: Sequence[torch.Tensor],
        masks: Sequence[torch.Tensor],
        points: Sequence[torch.Tensor],
        windows: WindowTable,
        timings: Sequence[GridTiming],
    ) -> SequenceDetections:
        """Per level: cls_logits (W, T_l, C), offsets (W, T_l, 2) or (W, T_l, C, 2), masks (W, T_l) for the
        W windows of `windows`, points (T_l, 4) of the padded length; `timings[i]` of sequence i."""
        if len(timings) != windows.num_sequences:
            raise ValueError(f"{len(timings)} timings for {windows.num_sequences} sequences")
        cand = decode_batch(cls_logits, offsets, masks, points, self.decode)
        segs, scores, labels, win = batched_nms(
            cand.segments, cand.scores, cand.labels, self.decode, self.sigma, videos=cand.videos
        )
        segs, scores, labels, seq = merge_windows(
            segs.double().numpy(),
            scores.numpy(),
            labels.numpy(),
            win.numpy(),
            windows,
            self.cut_tolerance,
            self.fuse_min_score_ratio,
        )
        secs = seconds(segs, seq, timings)
        if self.drop_empty:
            real = secs[:, 1] > secs[:, 0]
            secs, scores, labels, seq = secs[real], scores[real], labels[real], seq[real]
        order = np.lexsort((-scores, seq))
        return SequenceDetections(seq[order], secs[order], scores[order], labels[order])
