"""Sliding windows for long inputs and the merge of their detections."""

from __future__ import annotations

import numpy as np
import pytest

from uniav.pipeline.windows import fuse_cut_segments, merge_windows, plan_windows


def test_single_window_when_it_fits():
    (w,) = plan_windows(40, 64)
    assert (w.start, w.end, w.core_start, w.core_end, w.first, w.last) == (0, 40, 0.0, 40.0, True, True)


@pytest.mark.parametrize("length", [65, 100, 128, 250, 1000])
def test_windows_cover_the_sequence_and_cores_tile_it(length):
    ws = plan_windows(length, 64)
    assert ws[0].start == 0 and ws[-1].end == length
    assert all(w.length == 64 for w in ws)
    assert all(b.start - a.start <= 32 for a, b in zip(ws, ws[1:], strict=False))
    assert ws[0].core_start == 0 and ws[-1].core_end == length
    for a, b in zip(ws, ws[1:], strict=False):
        assert a.core_end == b.core_start  # cores tile without gaps or overlaps
        assert a.start < a.core_end <= a.end and b.start <= b.core_start < b.end


def test_event_crossing_a_window_boundary_comes_out_once():
    ws = plan_windows(128, 64)  # windows [0,64) [32,96) [64,128)
    assert [(w.start, w.end) for w in ws] == [(0, 64), (32, 96), (64, 128)]
    event = (50.0, 80.0)  # crosses the end of window 0 and the start of window 2
    lab = np.array([3])
    per_window = [
        (ws[0], np.array([[50.0, 63.5]]), np.array([0.7]), lab),  # cut by window 0's right edge
        (ws[1], np.array([[50.2, 79.8]]), np.array([0.9]), lab),  # seen whole by window 1
        (ws[2], np.array([[64.0, 80.1]]), np.array([0.6]), lab),  # cut by window 2's left edge
    ]
    segs, scores, labels = merge_windows(per_window, tol=2.0)
    assert segs.shape == (1, 2) and labels.tolist() == [3]
    assert segs[0] == pytest.approx(event, abs=0.5) and scores[0] == pytest.approx(0.9)


def test_long_event_pieces_are_fused_into_one():
    ws = plan_windows(160, 64)  # [0,64) [32,96) [64,128) [96,160)
    lab = np.array([1])
    pieces = [(ws[0], [20.0, 63.0]), (ws[1], [32.5, 95.0]), (ws[2], [64.0, 127.0]), (ws[3], [96.0, 150.0])]
    per_window = [(w, np.array([seg]), np.array([0.5 + 0.1 * i]), lab) for i, (w, seg) in enumerate(pieces)]
    segs, scores, labels = merge_windows(per_window, tol=2.0)
    assert segs.tolist() == [[20.0, 150.0]] and scores.tolist() == pytest.approx([0.8])


def test_different_labels_and_uncut_neighbours_stay_apart():
    segs = np.array([[0.0, 10.0], [9.0, 20.0], [9.0, 20.0], [30.0, 40.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([0, 1, 0, 0])
    cut_r = np.array([True, False, False, False])
    cut_l = np.zeros(4, bool)
    out_s, out_sc, out_l = fuse_cut_segments(segs, scores, labels, cut_l, cut_r, tol=1.0)
    # [0,10] (cut right) fuses with the overlapping label-0 piece [9,20]; label 1 and [30,40] stay apart
    assert sorted(map(tuple, out_s.tolist())) == [(0.0, 20.0), (9.0, 20.0), (30.0, 40.0)]
    assert sorted(out_l.tolist()) == [0, 0, 1]


def test_duplicate_in_window_overlap_is_kept_once():
    ws = plan_windows(128, 64)
    lab = np.array([0])
    # an event inside the overlap of windows 0 and 1 is seen whole by both: only its core owner keeps it
    per_window = [
        (ws[0], np.array([[36.0, 44.0]]), np.array([0.8]), lab),
        (ws[1], np.array([[36.2, 44.1]]), np.array([0.79]), lab),
    ]
    segs, scores, _ = merge_windows(per_window, tol=2.0)
    assert segs.shape == (1, 2) and scores.tolist() == pytest.approx([0.8])
