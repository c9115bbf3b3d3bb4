"""Soft-NMS / hard NMS: the vectorised operator against a direct scalar port of the official algorithm."""

from __future__ import annotations

import math

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
