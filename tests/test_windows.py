"""Sliding windows for long inputs and the merge of their detections."""

from __future__ import annotations

import numpy as np
import pytest

from uniav.ops.windows import WindowTable, fuse_cut_segments, merge_windows, plan_windows


def merge(per_window, tol=2.0, plans=None):
    """merge_windows on per-window lists of (window index, segments in window units, scores, labels)."""
    table = WindowTable.from_plans(plans)
    win = np.concatenate([np.full(len(s), w) for w, s, _, _ in per_window])
    segs = np.concatenate([np.asarray(s, float) - table.start[w] for w, s, _, _ in per_window])
    scores = np.concatenate([sc for _, _, sc, _ in per_window])
    labels = np.concatenate([lab for _, _, _, lab in per_window])
    return merge_windows(segs, scores, labels, win, table, tol)


def test_single_window_when_it_fits_owns_the_whole_line():
    (w,) = plan_windows(40, 64)
    assert (w.start, w.end, w.first, w.last) == (0, 40, True, True)
    assert w.core_start == -np.inf and w.core_end == np.inf


@pytest.mark.parametrize("length", [65, 100, 128, 250, 1000])
def test_windows_cover_the_sequence_and_cores_tile_it(length):
    ws = plan_windows(length, 64)
    assert ws[0].start == 0 and ws[-1].end == length
    assert all(w.length == 64 for w in ws)
    assert all(b.start - a.start <= 32 for a, b in zip(ws, ws[1:], strict=False))
    assert ws[0].core_start == -np.inf and ws[-1].core_end == np.inf
    for a, b in zip(ws, ws[1:], strict=False):
        assert a.core_end == b.core_start  # cores tile without gaps or overlaps
        assert a.start < a.core_end <= a.end and b.start <= b.core_start < b.end


def test_event_crossing_a_window_boundary_comes_out_once():
    ws = plan_windows(128, 64)  # windows [0,64) [32,96) [64,128)
    assert [(w.start, w.end) for w in ws] == [(0, 64), (32, 96), (64, 128)]
    event = (50.0, 80.0)  # crosses the end of window 0 and the start of window 2
    lab = np.array([3])
    per_window = [
        (0, [[50.0, 63.5]], np.array([0.7]), lab),  # cut by window 0's right edge
        (1, [[50.2, 79.8]], np.array([0.9]), lab),  # seen whole by window 1
        (2, [[64.0, 80.1]], np.array([0.6]), lab),  # cut by window 2's left edge
    ]
    segs, scores, labels, seq = merge(per_window, plans=[ws])
    assert segs.shape == (1, 2) and labels.tolist() == [3] and seq.tolist() == [0]
    assert segs[0] == pytest.approx(event, abs=0.5) and scores[0] == pytest.approx(0.9)


def test_long_event_pieces_are_fused_into_one():
    ws = plan_windows(160, 64)  # [0,64) [32,96) [64,128) [96,160)
    lab = np.array([1])
    pieces = [[20.0, 63.0], [32.5, 95.0], [64.0, 127.0], [96.0, 150.0]]
    per_window = [(i, [seg], np.array([0.5 + 0.1 * i]), lab) for i, seg in enumerate(pieces)]
    segs, scores, labels, _ = merge(per_window, plans=[ws])
    assert segs.tolist() == [[20.0, 150.0]] and scores.tolist() == pytest.approx([0.8])


def test_faint_duplicates_do_not_stretch_a_confident_piece():
    ws = plan_windows(128, 64)
    lab = np.array([0])
    # a confident piece cut by window 0's right edge, and in window 1 a faint piece of the same label reaching far
    per_window = [(0, [[30.0, 63.5]], np.array([0.9]), lab), (1, [[60.0, 90.0]], np.array([0.05]), lab)]
    segs, scores, _, _ = merge(per_window, plans=[ws])
    assert sorted(map(tuple, segs.tolist())) == [(30.0, 63.5), (60.0, 90.0)]


def test_different_labels_and_uncut_neighbours_stay_apart():
    segs = np.array([[0.0, 10.0], [9.0, 20.0], [9.0, 20.0], [30.0, 40.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    groups = np.array([0, 1, 0, 0])
    cut_r = np.array([True, False, False, False])
    cut_l = np.zeros(4, bool)
    out_s, out_sc, first = fuse_cut_segments(segs, scores, groups, cut_l, cut_r, tol=1.0)
    # [0,10] (cut right) fuses with the overlapping group-0 piece [9,20]; group 1 and [30,40] stay apart
    assert sorted(map(tuple, out_s.tolist())) == [(0.0, 20.0), (9.0, 20.0), (30.0, 40.0)]
    assert sorted(groups[first].tolist()) == [0, 0, 1]
    assert out_sc[out_s[:, 0] == 0.0].tolist() == [0.9]


def test_chains_of_pieces_fuse_transitively():
    # a - b - c linked through cut pieces, d apart: one component spanning a..c
    segs = np.array([[0.0, 10.0], [9.5, 20.0], [19.5, 30.0], [50.0, 60.0]])
    scores = np.array([0.8, 0.7, 0.75, 0.9])
    groups = np.zeros(4, int)
    cut_r = np.array([True, True, False, False])
    out_s, out_sc, _ = fuse_cut_segments(segs, scores, groups, np.zeros(4, bool), cut_r, tol=1.0)
    assert sorted(map(tuple, out_s.tolist())) == [(0.0, 30.0), (50.0, 60.0)]
    assert sorted(out_sc.tolist()) == pytest.approx([0.8, 0.9])


def test_duplicate_in_window_overlap_is_kept_once():
    ws = plan_windows(128, 64)
    lab = np.array([0])
    # an event inside the overlap of windows 0 and 1 is seen whole by both: only its core owner keeps it
    per_window = [(0, [[36.0, 44.0]], np.array([0.8]), lab), (1, [[36.2, 44.1]], np.array([0.79]), lab)]
    segs, scores, _, _ = merge(per_window, plans=[ws])
    assert segs.shape == (1, 2) and scores.tolist() == pytest.approx([0.8])


def test_sequences_are_merged_apart():
    # the same detections in two sequences of one table: nothing crosses from one to the other
    ws = plan_windows(128, 64)
    lab = np.array([2])
    piece = [[20.0, 63.5]]  # cut by window 0's right edge, centred in its core
    per_window = [(0, piece, np.array([0.7]), lab), (3, piece, np.array([0.7]), lab)]  # window 3: sequence 1's first
    segs, _, labels, seq = merge(per_window, plans=[ws, ws])
    assert seq.tolist() == [0, 1] and labels.tolist() == [2, 2]
    assert segs.tolist() == [[20.0, 63.5], [20.0, 63.5]]


def test_whole_table_keeps_everything():
    table = WindowTable.whole([10, 20])
    segs = np.array([[-5.0, -1.0], [2.0, 4.0], [30.0, 40.0]])
    out, _, _, seq = merge_windows(segs, np.array([0.1, 0.5, 0.3]), np.zeros(3, int), np.array([0, 1, 1]), table)
    assert out.tolist() == segs.tolist() and seq.tolist() == [0, 1, 1]
