"""Label assignment against a point-by-point reference, and the pyramid points."""

from __future__ import annotations

import pytest
import torch

from uniav.ops.targets import assign_targets, make_points

STRIDES = (1, 2, 4, 8, 16, 32)
RANGES = ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000))


def reference_assign(points, segs, labels, num_classes, class_aware):
    """Point-by-point reference of the official rule (loops are fine in a test)."""
    p = points.shape[0]
    cls = torch.zeros(p, num_classes)
    reg = torch.zeros(p, num_classes, 2) if class_aware else torch.zeros(p, 2)
    for i in range(p):
        t, lo, hi, s = points[i].tolist()
        cands = []
        for n, (a, b) in enumerate(segs.tolist()):
            left, right = t - a, b - t
            if min(left, right) > 0 and lo <= max(left, right) <= hi:
                cands.append((b - a, n, left, right))
        if class_aware:
            for _, n, left, right in cands:
                cls[i, labels[n]] = 1
                reg[i, labels[n]] = torch.tensor([left, right]) / s
        else:
            if cands:
                shortest = min(c[0] for c in cands)
                for length, n, _, _ in cands:
                    if length <= shortest + 1e-3:
                        cls[i, labels[n]] = 1
                first = min((c for c in cands if c[0] == shortest), key=lambda c: c[1])
                reg[i] = torch.tensor([first[2], first[3]]) / s
            else:  # no candidate: the official code keeps gt 0's distances (ignored by the loss)
                reg[i] = torch.tensor([t - segs[0, 0].item(), segs[0, 1].item() - t]) / s
    return cls, reg


def test_points_layout():
    pts = make_points(64, STRIDES, RANGES)
    assert [p.shape[0] for p in pts] == [64, 32, 16, 8, 4, 2]
    assert pts[2][:3, 0].tolist() == [0, 4, 8]
    assert pts[5][0, 1:].tolist() == [64, 10000, 32]


@pytest.mark.parametrize("class_aware", [False, True])
def test_assignment_matches_reference(class_aware):
    g = torch.Generator().manual_seed(3)
    points = torch.cat(make_points(128, STRIDES, RANGES))
    segs_list, labels_list = [], []
    for n in (5, 1, 9):
        start = torch.rand(n, generator=g) * 100
        seg = torch.stack([start, start + torch.rand(n, generator=g) * 60 + 0.3], 1)
        segs_list.append(seg)
        labels_list.append(torch.randint(0, 4, (n,), generator=g))
    # duplicates: same label, same boundaries (clamped to one) and near-equal lengths (ties within 1e-3)
    segs_list[0][1] = segs_list[0][0]
    labels_list[0][1] = labels_list[0][0]
    segs_list[0][2] = segs_list[0][0] + torch.tensor([0.0, 0.0005])
    cls, reg = assign_targets(points, segs_list, labels_list, 4, class_aware)
    for b in range(3):
        ref_cls, ref_reg = reference_assign(points, segs_list[b], labels_list[b], 4, class_aware)
        assert torch.equal(cls[b], ref_cls)
        torch.testing.assert_close(reg[b], ref_reg)


def test_assignment_without_segments():
    points = torch.cat(make_points(32, STRIDES, RANGES))
    cls, reg = assign_targets(points, [torch.zeros((0, 2))], [torch.zeros(0, dtype=torch.long)], 3, True)
    assert cls.shape == (1, points.shape[0], 3) and cls.sum() == 0
    assert reg.shape == (1, points.shape[0], 3, 2)
