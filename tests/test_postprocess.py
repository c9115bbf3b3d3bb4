"""The one post-processing path: decoding, Soft-NMS, window merging and seconds, on hand-made outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from uniav.config import DecodeConfig
from uniav.ops.decode import GridTiming
from uniav.ops.postprocess import PostProcessor, seconds
from uniav.ops.targets import make_points
from uniav.ops.windows import WindowTable, plan_windows

T = 64  # window length (one pyramid level, stride 1)


def outputs(pieces: list[tuple[int, int, float, float, float]], windows: int, classes: int = 1):
    """Logits/offsets/masks of `windows` windows where each piece (window, point, prob, left, right) is the
    only candidate above the floor: a segment [point - left, point + right] of class 0 scoring prob."""
    logits = torch.full((windows, T, classes), -20.0)
    offsets = torch.zeros((windows, T, classes, 2))
    for w, t, p, left, right in pieces:
        logits[w, t, 0] = float(np.log(p / (1 - p)))
        offsets[w, t, 0] = torch.tensor([left, right])
    masks = torch.ones((windows, T), dtype=torch.bool)
    return [logits], [offsets], [masks], make_points(T, (1,), ((0.0, 10000.0),))


def timing(duration: float) -> GridTiming:
    return GridTiming(feat_stride=4, num_frames=16, fps=16.0, duration=duration)


def test_pieces_below_a_threshold_still_shape_the_fused_detection():
    # a 128-step sequence in windows [0,64) [32,96) [64,128), cores split at 48 and 80; an event from step 30 to
    # 100 is seen by window 0 as a confident piece cut at its right edge, by window 2 as a fainter one cut at its
    # left edge
    plan = plan_windows(128, T)
    post = PostProcessor(DecodeConfig(), sigma=0.4)
    logits, offsets, masks, points = outputs([(0, 40, 0.6, 10.0, 23.0), (2, 10, 0.35, 10.0, 26.0)], 3)
    dets = post(logits, offsets, masks, points, WindowTable.from_plans([plan]), [timing(40.0)])
    assert len(dets) == 1  # one event, fused across the windows
    (seg,) = dets.segments
    assert dets.scores[0] == pytest.approx(0.6, abs=1e-6)  # the best piece's score
    # its extent reaches the end of the piece scoring 0.35: a detection above 0.4 that depends on a piece below
    # it, which is why the threshold is applied only after fusion, never before
    expected = seconds(np.array([[30.0, 64.0 + 10 + 26]]), np.array([0]), [timing(40.0)])[0]
    assert seg == pytest.approx(expected)


def test_a_whole_window_is_the_official_decoding():
    post = PostProcessor(DecodeConfig(), sigma=0.4, drop_empty=False)
    logits, offsets, masks, points = outputs([(0, 5, 0.9, 2.0, 3.0), (0, 60, 0.5, 1.0, 30.0)], 1)
    dets = post(logits, offsets, masks, points, WindowTable.whole([T]), [timing(20.0)])
    assert dets.scores.tolist() == pytest.approx([0.9, 0.5])
    # grid units -> seconds: (t * 4 + 8) / 16, clipped to the duration
    want = [[(3 * 4 + 8) / 16, (8 * 4 + 8) / 16], [(59 * 4 + 8) / 16, 20.0]]
    np.testing.assert_allclose(dets.segments, want, atol=1e-6)


def test_segments_outside_the_clip_are_dropped_unless_asked_to_keep_them():
    logits, offsets, masks, points = outputs([(0, 60, 0.7, 0.0, 3.0)], 1)
    kept = PostProcessor(DecodeConfig(), sigma=0.4, drop_empty=False)(
        logits, offsets, masks, points, WindowTable.whole([T]), [timing(5.0)]
    )
    dropped = PostProcessor(DecodeConfig(), sigma=0.4)(
        logits, offsets, masks, points, WindowTable.whole([T]), [timing(5.0)]
    )
    assert kept.segments.tolist() == [[5.0, 5.0]] and len(dropped) == 0


def test_sequences_come_out_apart_and_in_order():
    logits, offsets, masks, points = outputs(
        [(0, 10, 0.4, 1.0, 1.0), (1, 20, 0.8, 1.0, 1.0), (1, 40, 0.9, 1.0, 1.0)], 2
    )
    dets = PostProcessor(DecodeConfig(), sigma=0.4)(
        logits, offsets, masks, points, WindowTable.whole([T, T]), [timing(20.0), timing(30.0)]
    )
    assert dets.sequence.tolist() == [0, 1, 1]
    assert dets.scores.tolist() == pytest.approx([0.4, 0.9, 0.8])
    segs, scores, labels = dets.of(1)
    assert scores.tolist() == pytest.approx([0.9, 0.8]) and labels.tolist() == [0, 0]


def test_timings_must_match_the_sequences():
    logits, offsets, masks, points = outputs([], 2)
    with pytest.raises(ValueError, match="1 timings for 2 sequences"):
        PostProcessor(DecodeConfig(), sigma=0.4)(logits, offsets, masks, points, WindowTable.whole([T, T]), [timing(1)])
