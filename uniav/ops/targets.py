"""Points of the feature pyramid and the label assignment of ground-truth segments to them.

All functions are pure and vectorised over points, segments and videos.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence


def make_points(
    padded_len: int, strides: Sequence[int], regression_range: Sequence[Sequence[float]]
) -> list[torch.Tensor]:
    """Per level l a (padded_len / s_l, 4) tensor of (t, range_lo, range_hi, stride), t = 0, s, 2s, ..."""
    out = []
    for s, (lo, hi) in zip(strides, regression_range, strict=True):
        t = torch.arange(0, padded_len, s, dtype=torch.float32)
        n = t.shape[0]
        out.append(
            torch.stack(
                [t, torch.full((n,), float(lo)), torch.full((n,), float(hi)), torch.full((n,), float(s))], dim=1
            )
        )
    return out


def assign_targets(
    points: torch.Tensor,
    segments: Sequence[torch.Tensor],
    labels: Sequence[torch.Tensor],
    num_classes: int,
    class_aware: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Label assignment for a batch of videos on the concatenated points (P, 4).

    A point is a candidate for a segment (grid units) when it lies strictly inside it and its larger
    distance to the boundaries is within the point's regression range (inclusive). Class-agnostic:
    each point keeps the shortest candidate(s) (ties within 1e-3 all count for the class target,
    the first shortest gives the offsets). Class-aware: every candidate is kept and its offsets go
    to its label's slot (the last candidate of a label wins, as in the official loop).

    Returns class targets (B, P, C) in {0, 1} and offsets divided by the point's stride:
    (B, P, 2) class-agnostic, (B, P, C, 2) class-aware (zeros where a slot has no target).
    """
    b = len(segments)
    p = points.shape[0]
    n_max = max((int(s.shape[0]) for s in segments), default=0)
    dtype = points.dtype
    if n_max == 0:
        reg_shape = (b, p, num_classes, 2) if class_aware else (b, p, 2)
        return points.new_zeros((b, p, num_classes)), points.new_zeros(reg_shape)

    counts = torch.tensor([int(s.shape[0]) for s in segments], device=points.device)
    segs = pad_sequence([s.to(dtype).reshape(-1, 2) for s in segments], batch_first=True)
    labs = pad_sequence([lab.long().reshape(-1) for lab in labels], batch_first=True)
    valid = torch.arange(n_max, device=points.device)[None, :] < counts[:, None]

    t = points[None, :, 0, None]  # (1, P, 1)
    left = t - segs[:, None, :, 0]  # (B, P, N)
    right = segs[:, None, :, 1] - t
    reg = torch.stack((left, right), dim=-1)  # (B, P, N, 2)
    inside = torch.minimum(left, right) > 0
    far = torch.maximum(left, right)
    in_range = (far >= points[None, :, 1, None]) & (far <= points[None, :, 2, None])
    lens = (segs[:, :, 1] - segs[:, :, 0])[:, None, :].expand(b, p, n_max)
    candidate = inside & in_range & valid[:, None, :]
    lens = lens.masked_fill(~candidate, float("inf"))
    stride = points[None, :, 3]

    if class_aware:
        # every candidate pair (video, point, gt); per (video, point, label) slot the last gt wins:
        # a stable sort by slot keeps the gts of a slot in order, so the last of each run is taken
        bi, pi, ni = torch.nonzero(candidate, as_tuple=True)
        slot = (bi * p + pi) * num_classes + labs[bi, ni]
        slot, order = torch.sort(slot, stable=True)
        last_of_run = torch.ones_like(slot, dtype=torch.bool)
        last_of_run[:-1] = slot[1:] != slot[:-1]
        slot, order = slot[last_of_run], order[last_of_run]
        vb, vp, vn = bi[order], pi[order], ni[order]
        cls_targets = points.new_zeros((b * p * num_classes,))
        cls_targets[slot] = 1.0
        reg_targets = points.new_zeros((b * p * num_classes, 2))
        reg_targets[slot] = reg[vb, vp, vn] / points[vp, 3, None]
        return cls_targets.view(b, p, num_classes), reg_targets.view(b, p, num_classes, 2)

    min_len, min_idx = lens.min(dim=2)  # (B, P)
    keep = (lens <= min_len[..., None] + 1e-3) & (lens < float("inf"))  # never true at padding (inf)
    # the union of the kept labels: a scatter of the (few) kept pairs instead of keep @ one_hot
    cls_targets = points.new_zeros((b, p, num_classes))
    cls_targets.scatter_reduce_(2, labs[:, None, :].expand(b, p, n_max), keep.to(dtype), reduce="amax")
    reg_targets = torch.gather(reg, 2, min_idx[..., None, None].expand(b, p, 1, 2)).squeeze(2)
    return cls_targets, reg_targets / stride[..., None]
