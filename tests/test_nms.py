"""Soft-NMS / hard NMS: the vectorised operator against a direct scalar port of the official algorithm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from uniav.config import DecodeConfig, NmsMethod
from uniav.ops.nms import Decay, batched_nms, grouped_nms, seg_voting, segment_iou


def reference_soft_nms(segs, scores, sigma, min_score, max_num):
    """Scalar port of the official C++ soft-NMS (Gaussian): swap-with-max, decay, drop below min_score."""
    x1, x2, sc = segs[:, 0].tolist(), segs[:, 1].tolist(), scores.tolist()
    inds = list(range(len(sc)))
    areas = [b - a + 1e-6 for a, b in zip(x1, x2, strict=True)]
    n, out = len(sc), []
    i = 0
    while i < n:
        m = max(range(i, n), key=lambda j: (sc[j], -j))
        for arr in (x1, x2, sc, areas, inds):
            arr[i], arr[m] = arr[m], arr[i]
        out.append((x1[i], x2[i], sc[i], inds[i]))
        pos = i + 1
        while pos < n:
            inter = max(0.0, min(x2[i], x2[pos]) - max(x1[i], x1[pos]))
            ovr = inter / (areas[i] + areas[pos] - inter)
            sc[pos] *= math.exp(-(ovr * ovr) / sigma)
            if sc[pos] < min_score:
                for arr in (x1, x2, sc, areas, inds):
                    arr[pos] = arr[n - 1]
                n -= 1
                pos -= 1
            pos += 1
        i += 1
    return out[:max_num]


def random_candidates(n, num_classes, seed):
    g = torch.Generator().manual_seed(seed)
    start = torch.rand(n, generator=g) * 100
    seg = torch.stack([start, start + 0.5 + torch.rand(n, generator=g) * 20], 1)
    return seg, torch.rand(n, generator=g) * 0.9 + 0.01, torch.randint(0, num_classes, (n,), generator=g)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_soft_nms_matches_reference_per_class(seed):
    segs, scores, labels = random_candidates(400, 5, seed)
    picked, got_sc = grouped_nms(
        segs, scores, labels, decay=Decay.GAUSSIAN, sigma=0.5, min_score=0.001, max_per_group=30
    )
    got_s, got_l = segs[picked], labels[picked]
    for c in range(5):
        idx = torch.nonzero(labels == c).flatten()
        ref = reference_soft_nms(segs[idx], scores[idx], 0.5, 0.001, 30)
        mine = got_l == c
        assert int(mine.sum()) == len(ref)
        ref_seg = torch.tensor([[a, b] for a, b, _, _ in ref])
        ref_sc = torch.tensor([s for _, _, s, _ in ref])
        torch.testing.assert_close(got_s[mine], ref_seg)
        torch.testing.assert_close(got_sc[mine], ref_sc, atol=1e-6, rtol=1e-5)


def test_soft_nms_drops_segments_below_min_score():
    # three identical segments: each pick decays the others by exp(-1/sigma)
    segs = torch.tensor([[0.0, 10.0]] * 3)
    scores = torch.tensor([0.9, 0.8, 0.7])
    picked, sc = grouped_nms(
        segs,
        scores,
        torch.zeros(3, dtype=torch.long),
        decay=Decay.GAUSSIAN,
        sigma=0.1,
        min_score=0.001,
        max_per_group=10,
    )
    s = segs[picked]
    # exp(-10) * 0.8 = 3.6e-5 < 0.001: both followers are dropped after the first pick
    assert sc.tolist() == pytest.approx([0.9])
    assert s.shape == (1, 2)


def test_hard_nms_suppresses_overlaps_above_threshold():
    segs = torch.tensor([[0.0, 10.0], [1.0, 10.0], [20.0, 30.0], [0.0, 5.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    labels = torch.zeros(4, dtype=torch.long)
    cfg = DecodeConfig(nms_method=NmsMethod.HARD, iou_threshold=0.7)
    s, sc, _, _ = batched_nms(segs, scores, labels, cfg, sigma=0.5)
    # [1,10] has IoU 0.9 with [0,10]: suppressed; [0,5] has IoU 0.5: kept
    assert sc.tolist() == pytest.approx([0.9, 0.7, 0.6])


def test_batched_nms_keeps_classes_apart_and_caps_total():
    segs = torch.tensor([[0.0, 10.0], [0.0, 10.0]])
    scores = torch.tensor([0.9, 0.8])
    s, sc, lab, _ = batched_nms(segs, scores, torch.tensor([0, 1]), DecodeConfig(), sigma=0.5)
    assert lab.tolist() == [0, 1] and sc.tolist() == pytest.approx([0.9, 0.8])  # different classes: no decay
    segs, scores, labels = random_candidates(3000, 20, 7)
    s, sc, lab, _ = batched_nms(segs, scores, labels, DecodeConfig(max_seg_num=100), sigma=0.5)
    assert sc.shape[0] == 100
    assert torch.all(sc[:-1] >= sc[1:])


def test_class_agnostic_nms_with_voting():
    segs = torch.tensor([[0.0, 10.0], [0.0, 11.0], [50.0, 60.0]])
    scores = torch.tensor([0.9, 0.6, 0.5])
    cfg = DecodeConfig(multiclass_nms=False, voting_thresh=0.75)
    s, sc, lab, _ = batched_nms(segs, scores, torch.tensor([0, 1, 2]), cfg, sigma=0.5)
    # the first kept segment is refined towards its neighbour: (0.9*10 + 0.6*11) / 1.5 = 10.4
    assert s[0].tolist() == pytest.approx([0.0, 10.4], abs=1e-5)
    refined = seg_voting(segs[:1], segs, scores, 0.75)
    assert refined[0, 1].item() == pytest.approx(10.4, abs=1e-5)


def test_segment_iou_and_empty_input():
    a = torch.tensor([[0.0, 10.0]])
    b = torch.tensor([[5.0, 15.0], [20.0, 30.0]])
    iou = segment_iou(a[:, None], b[None])
    assert iou[0].tolist() == pytest.approx([5 / 15, 0.0], abs=1e-6)
    s, sc, lab, _ = batched_nms(
        torch.zeros((0, 2)), torch.zeros(0), torch.zeros(0, dtype=torch.long), DecodeConfig(), 0.5
    )
    assert s.shape == (0, 2) and sc.shape == (0,) and lab.shape == (0,)


def test_batched_over_videos_equals_one_video_at_a_time():
    cfg = DecodeConfig(max_seg_num=20)
    parts = [random_candidates(300, 4, seed) for seed in (3, 4, 5)]
    segs = torch.cat([p[0] for p in parts])
    scores = torch.cat([p[1] for p in parts])
    labels = torch.cat([p[2] for p in parts])
    videos = torch.cat([torch.full((300,), i) for i in range(3)])
    s, sc, lab, vid = batched_nms(segs, scores, labels, cfg, 0.5, videos=videos)
    assert vid.tolist() == sorted(vid.tolist())
    for i, (ps, psc, pl) in enumerate(parts):
        one_s, one_sc, one_l, _ = batched_nms(ps, psc, pl, cfg, 0.5)
        mine = vid == i
        assert int(mine.sum()) == 20
        torch.testing.assert_close(sc[mine], one_sc)
        torch.testing.assert_close(s[mine], one_s)
        assert torch.equal(lab[mine], one_l)


def operator_nms(segs: np.ndarray, scores: np.ndarray, method: int, iou_threshold, sigma, min_score, max_num):
    """The official C++ operator transcribed scalar by scalar in float32 (method 0 hard, 1 linear, 2 Gaussian):
    max scan keeping the first maximum, swap to the front, decay, swap-with-last on a drop. Returns
    [(input index, score)] in pick order."""
    f = np.float32
    x1, x2, sc = [f(v) for v in segs[:, 0]], [f(v) for v in segs[:, 1]], [f(v) for v in scores]
    area = [b - a + f(1e-6) for a, b in zip(x1, x2, strict=True)]
    inds = list(range(len(sc)))
    n, out, i = len(sc), [], 0
    while i < n:
        m = i
        for p in range(i + 1, n):
            if sc[m] < sc[p]:
                m = p
        for arr in (x1, x2, sc, area, inds):
            arr[i], arr[m] = arr[m], arr[i]
        out.append((inds[i], float(sc[i])))
        pos = i + 1
        while pos < n:
            inter = max(f(0), min(x2[i], x2[pos]) - max(x1[i], x1[pos]))
            ovr = inter / (area[i] + area[pos] - inter)
            if method == 2:
                w = np.exp(-(ovr * ovr) / f(sigma))
            elif method == 1:
                w = f(1) - ovr if ovr >= f(iou_threshold) else f(1)
            else:
                w = f(0) if ovr >= f(iou_threshold) else f(1)
            sc[pos] = f(sc[pos] * w)
            if sc[pos] < f(min_score):
                n -= 1
                for arr in (x1, x2, sc, area, inds):
                    arr[pos] = arr[n]
                pos -= 1
            pos += 1
        i += 1
    return out[:max_num]


def per_group_reference(segs, scores, groups, method, iou_threshold, sigma, min_score, max_num):
    """The operator run group by group (increasing group id), as (indices, scores)."""
    idx, sc = [], []
    for gid in np.unique(groups):
        sel = np.flatnonzero(groups == gid)
        for i, s in operator_nms(segs[sel], scores[sel], method, iou_threshold, sigma, min_score, max_num):
            idx.append(int(sel[i]))
            sc.append(s)
    return np.array(idx, dtype=np.int64), np.array(sc, dtype=np.float32)


def run_grouped(segs, scores, groups, decay, **kw):
    idx, sc = grouped_nms(torch.from_numpy(segs), torch.from_numpy(scores), torch.from_numpy(groups), decay=decay, **kw)
    return idx.numpy(), sc.numpy()


@pytest.mark.parametrize("seed", range(4))
def test_hard_nms_with_tied_scores_follows_the_operator_exactly(seed):
    # integer segments and scores in fifths: many exact ties, and a 0/1 decay leaves no rounding to differ on
    rng = np.random.default_rng(seed)
    n = 150
    start = rng.integers(0, 40, n).astype(np.float32)
    segs = np.stack([start, start + rng.integers(1, 9, n).astype(np.float32)], 1)
    scores = (rng.integers(1, 6, n) / 5).astype(np.float32)
    groups = rng.integers(0, 4, n)
    kw = dict(iou_threshold=0.3, sigma=0.5, min_score=0.05, max_per_group=25)
    idx, sc = run_grouped(segs, scores, groups, Decay.HARD, **kw)
    ref_idx, ref_sc = per_group_reference(segs, scores, groups, 0, 0.3, 0.5, 0.05, 25)
    assert len(np.unique(scores)) < 6  # the ties are real
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(sc, ref_sc)


@pytest.mark.parametrize("seed", range(3))
def test_gaussian_ties_go_the_operators_way(seed):
    # candidates on four intervals (three disjoint, one a copy of another): equal scores stay exactly equal
    # under both implementations, so each tie is decided by the operator's array order alone
    rng = np.random.default_rng(seed)
    intervals = np.array([[0, 10], [20, 30], [40, 45], [0, 10]], dtype=np.float32)
    n = 60
    segs = intervals[rng.integers(0, 4, n)]
    scores = rng.choice(np.array([0.9, 0.6, 0.3], dtype=np.float32), n)
    groups = rng.integers(0, 2, n)
    idx, sc = run_grouped(segs, scores, groups, Decay.GAUSSIAN, sigma=0.5, min_score=0.001, max_per_group=40)
    ref_idx, ref_sc = per_group_reference(segs, scores, groups, 2, 0.7, 0.5, 0.001, 40)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(sc, ref_sc, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("decay", [Decay.GAUSSIAN, Decay.LINEAR])
def test_continuous_scores_match_the_operator(decay):
    rng = np.random.default_rng(7)
    n = 500
    start = (rng.random(n) * 100).astype(np.float32)
    segs = np.stack([start, start + (0.5 + rng.random(n) * 20).astype(np.float32)], 1)
    scores = (rng.random(n) * 0.9 + 0.01).astype(np.float32)
    groups = rng.integers(0, 6, n)
    kw = dict(iou_threshold=0.5, sigma=0.4, min_score=0.001, max_per_group=60)
    idx, sc = run_grouped(segs, scores, groups, decay, **kw)
    ref_idx, ref_sc = per_group_reference(segs, scores, groups, decay.value, 0.5, 0.4, 0.001, 60)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(sc, ref_sc, rtol=1e-5, atol=1e-7)


def test_groups_of_very_different_sizes_each_match_the_operator():
    # sizes 1, 3 and 400 land in separate buckets of the table; results come back in group order
    rng = np.random.default_rng(3)
    sizes = {5: 1, 2: 3, 9: 400}
    groups = np.concatenate([np.full(k, g) for g, k in sizes.items()])
    n = groups.shape[0]
    start = (rng.random(n) * 50).astype(np.float32)
    segs = np.stack([start, start + (1 + rng.random(n) * 10).astype(np.float32)], 1)
    scores = rng.random(n).astype(np.float32)
    idx, sc = run_grouped(segs, scores, groups, Decay.GAUSSIAN, sigma=0.5, min_score=0.001, max_per_group=100)
    ref_idx, ref_sc = per_group_reference(segs, scores, groups, 2, 0.7, 0.5, 0.001, 100)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(sc, ref_sc, rtol=1e-5, atol=1e-7)
    assert [int(g) for g in groups[idx][[0, 3, 4]]] == [2, 5, 9]  # groups 2 (3 picks), 5 (1), then 9


def test_one_candidate_below_min_score_is_still_picked_and_zero_scores_count():
    segs = np.array([[0, 1], [5, 6], [0, 1]], dtype=np.float32)
    # a lone candidate below min_score: the operator picks it (only the decay step drops)
    idx, sc = run_grouped(segs[:1], np.array([0.0005], np.float32), np.zeros(1, np.int64), Decay.GAUSSIAN)
    assert idx.tolist() == [0] and sc.tolist() == pytest.approx([0.0005])
    # min_score 0: zero scores are kept and picked last, as the operator does
    scores = np.array([0.0, 0.5, 0.0], np.float32)
    idx, sc = run_grouped(segs, scores, np.zeros(3, np.int64), Decay.GAUSSIAN, min_score=0.0)
    ref_idx, ref_sc = per_group_reference(segs, scores, np.zeros(3, np.int64), 2, 0.7, 0.5, 0.0, 100)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(sc, ref_sc)


def test_empty_one_class_and_bad_inputs():
    empty = grouped_nms(torch.zeros((0, 2)), torch.zeros(0), torch.zeros(0, dtype=torch.long), decay=Decay.GAUSSIAN)
    assert empty[0].shape == (0,) and empty[1].shape == (0,)
    segs, scores, _ = random_candidates(200, 1, 11)
    idx, sc = grouped_nms(segs, scores, torch.zeros(200, dtype=torch.long), decay=Decay.GAUSSIAN, max_per_group=50)
    assert idx.shape == (50,) and torch.all(sc[:-1] >= sc[1:])  # one group: picks come in decreasing score
    with pytest.raises(ValueError, match="non-negative"):
        grouped_nms(segs, -scores, torch.zeros(200, dtype=torch.long), decay=Decay.GAUSSIAN)
    with pytest.raises(ValueError, match="expected segments"):
        grouped_nms(segs, scores[:10], torch.zeros(200, dtype=torch.long), decay=Decay.GAUSSIAN)
    with pytest.raises(ValueError, match="sigma"):
        grouped_nms(segs, scores, torch.zeros(200, dtype=torch.long), decay=Decay.GAUSSIAN, sigma=0.0)


def test_many_videos_with_ties_equal_one_video_at_a_time():
    cfg = DecodeConfig(max_seg_num=15)
    rng = np.random.default_rng(5)
    parts = []
    for _ in range(30):
        start = rng.integers(0, 30, 80).astype(np.float32)
        seg = np.stack([start, start + rng.integers(1, 6, 80).astype(np.float32)], 1)
        parts.append(
            (
                torch.from_numpy(seg),
                torch.from_numpy((rng.integers(1, 9, 80) / 8).astype(np.float32)),
                torch.from_numpy(rng.integers(0, 5, 80)),
            )
        )
    segs = torch.cat([p[0] for p in parts])
    scores = torch.cat([p[1] for p in parts])
    labels = torch.cat([p[2] for p in parts])
    videos = torch.arange(30).repeat_interleave(80)
    s, sc, lab, vid = batched_nms(segs, scores, labels, cfg, 0.5, videos=videos)
    for i, (ps, psc, pl) in enumerate(parts):
        one = batched_nms(ps, psc, pl, cfg, 0.5)
        mine = vid == i
        torch.testing.assert_close(s[mine], one[0])
        torch.testing.assert_close(sc[mine], one[1])
        assert torch.equal(lab[mine], one[2])
