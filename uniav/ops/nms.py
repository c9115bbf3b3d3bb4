"""1-D non-maximum suppression, vectorised over groups (classes, videos) and candidates.

Soft-NMS follows the official (ActionFormer) C++ operator: repeatedly pick the highest remaining
score, multiply every remaining score by a decay of its IoU with the pick (Gaussian
``exp(-iou^2 / sigma)``, linear ``1 - iou`` from the threshold on, or hard: 0 from the threshold
on), and drop a segment whose score falls below `min_score`. Lengths get +1e-6 in the IoU
denominator, and the IoU is computed in float32 with the operator's formula.

How it runs: the candidates of all groups are laid out as a (groups, width) table and each pick
step handles every group and candidate at once, so the Python loop runs over picks, never over
candidates. Scores are kept as logarithms (float64), which turns every decay into one subtraction
and cannot underflow. Only the first `max_per_group` picks of a group are wanted, so a group stops
there, or when it has nothing left above `min_score`; the scalar operator instead always runs to
the end (quadratic in the group's size).

Ties: the operator picks, among equal scores, the one that comes first in its working array,
which it reorders as it swaps picks forward and moves its last element into each dropped slot.
Groups whose input scores contain duplicates therefore run in *positional* mode, where the table
rows are reordered exactly as the operator reorders its array; the others run without that
bookkeeping (two distinct scores can still decay to the same float only by coincidence of
rounding, where the operator's own float32 rounding decides anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch

from uniav.config import DecodeConfig, NmsMethod

LENGTH_EPS = 1e-6
# A bucket of the table holds groups whose sizes are within this factor of its widest one, so that
# padding never costs more than this factor in work (groups of very different sizes run apart).
BUCKET_SPREAD = 4
# The stored value of a zero score (finite, so not "removed"; its decayed score stays exactly 0).
ZERO_SCORE = float(np.finfo(np.float64).min)
# Groups that have nothing left to pick leave the table every this many steps.
COMPACT_EVERY = 8


class Decay(Enum):
    HARD = 0
    LINEAR = 1
    GAUSSIAN = 2


def segment_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of broadcastable segment tensors (..., 2), lengths + 1e-6 in the denominator."""
    inter = (torch.minimum(a[..., 1], b[..., 1]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    la = a[..., 1] - a[..., 0] + LENGTH_EPS
    lb = b[..., 1] - b[..., 0] + LENGTH_EPS
    return inter / (la + lb - inter)


@dataclass(frozen=True)
class DecayRule:
    """How a pick lowers the other scores, in the log domain: scores are stored as ``scale * log(s)``
    (``scale`` = sigma for the Gaussian decay, so that its decay is a plain ``- iou^2``)."""

    decay: Decay
    iou_threshold: float
    sigma: float
    min_score: float

    @property
    def scale(self) -> float:
        return self.sigma if self.decay is Decay.GAUSSIAN else 1.0

    @property
    def floor(self) -> float:
        """Scores below this (in the stored domain) are dropped; -inf (never a real score) marks a
        removed entry, so with ``min_score <= 0`` the floor is the lowest finite value instead (zero
        scores, stored as that value, then stay)."""
        if self.min_score <= 0:
            return ZERO_SCORE
        return self.scale * float(np.log(np.float32(self.min_score)))

    def apply(self, t: np.ndarray, iou: np.ndarray) -> None:
        """Lower the stored scores `t` in place by the decay of `iou` (float32, overwritten)."""
        if self.decay is Decay.GAUSSIAN:
            np.square(iou, out=iou)
            t -= iou
        elif self.decay is Decay.LINEAR:
            hit = iou >= np.float32(self.iou_threshold)
            t[hit] += np.log1p(-iou[hit].astype(np.float64))
        else:
            np.putmask(t, iou >= np.float32(self.iou_threshold), -np.inf)


@dataclass(frozen=True)
class _Rows:
    """Working arrays of a bucket of groups: one row per group, candidates in columns."""

    t: np.ndarray  # (R, W) float64 stored scores, -inf where removed or padding
    x1: np.ndarray  # (R, W) float32 starts
    x2: np.ndarray  # (R, W) float32 ends
    length: np.ndarray  # (R, W) float32 end - start + 1e-6
    item: np.ndarray  # (R, W) int64 index of the candidate in the input, -1 for padding
    group: np.ndarray  # (R,) group (table row) of each row

    def take(self, keep: np.ndarray) -> _Rows:
        return _Rows(self.t[keep], self.x1[keep], self.x2[keep], self.length[keep], self.item[keep], self.group[keep])


@dataclass(frozen=True)
class _Picks:
    """Picks in the order they were made: table row (group), step, input index, stored score."""

    group: np.ndarray
    step: np.ndarray
    item: np.ndarray
    value: np.ndarray

    @staticmethod
    def concat(parts: list[_Picks]) -> _Picks:
        return _Picks(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("group", "step", "item", "value")))


def _run_free(rows: _Rows, rule: DecayRule, max_picks: int) -> _Picks:
    """The pick loop for groups without tied scores: argmax, remove, decay, until done.

    Every row picks at every step; a pick below the floor (made by a row that is already done) is
    discarded at the end, and rows with nothing left leave the table every ``COMPACT_EVERY`` steps.
    This loop is the hot path: it keeps flat views and preallocated buffers in locals.
    """
    floor = rule.floor
    group, item = rows.group, rows.item  # of the bucket's rows, before any leave the table
    origin = np.arange(rows.t.shape[0])  # the bucket row of each working row
    records: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    width = rows.t.shape[1]
    t, length = rows.t, rows.length
    # (end, -start) stacked: one minimum gives min(end, end_p) and -max(start, start_p) (negation is exact)
    ends = np.stack((rows.x2, -rows.x1))
    both = np.empty(ends.shape, np.float32)
    tmp = np.empty(t.shape, np.float32)
    row_start = origin * width  # flat index of each working row's first column
    for step in range(min(max_picks, width)):
        idx = t.argmax(axis=1)
        flat = row_start + idx
        t_flat = t.reshape(-1)
        records.append((origin, idx, t_flat.take(flat)))
        t_flat.put(flat, -np.inf)
        np.minimum(ends, ends.reshape(2, -1).take(flat, axis=1)[:, :, None], out=both)
        iou = np.add(both[0], both[1], out=both[0])  # the intersection, then the IoU
        np.maximum(iou, 0, out=iou)
        np.add(length, length.reshape(-1).take(flat)[:, None], out=tmp)
        tmp -= iou
        rule.apply(t, np.divide(iou, tmp, out=iou))
        if step % COMPACT_EVERY == COMPACT_EVERY - 1:
            alive = (t >= floor).any(axis=1)
            if not alive.all():
                if not alive.any():
                    break
                t, length, ends, origin = t[alive], length[alive], ends[:, alive], origin[alive]
                row_start = np.arange(origin.shape[0]) * width
                both, tmp = both[:, : origin.shape[0]], tmp[: origin.shape[0]]
    row = np.concatenate([o for o, _, _ in records])
    col = np.concatenate([c for _, c, _ in records])
    value = np.concatenate([v for _, _, v in records])
    step = np.repeat(np.arange(len(records)), [o.shape[0] for o, _, _ in records])
    # the first pick of a group counts whatever its score (as in the operator); later ones must clear the floor
    real = (value >= floor) | ((step == 0) & (value > -np.inf))
    row, col = row[real], col[real]
    return _Picks(group[row], step[real], item[row, col], value[real])


def _run_positional(rows: _Rows, rule: DecayRule, max_picks: int) -> _Picks:
    """The pick loop that reorders each row exactly as the operator reorders its array, so that ties
    go the same way: the pick is swapped to the front (position `step`), and each dropped entry is
    replaced by the last remaining one.

    Score, start, end, length and input index live in one float64 array (5, R, W) (float32 values and
    indices below 2**53 are exact there), so that each reordering is one gather and one scatter.
    """
    floor = rule.floor
    n_rows, width = rows.t.shape
    packed = np.stack((rows.t, rows.x1, rows.x2, rows.length, rows.item)).astype(np.float64)
    t, x1, x2, length = packed[0], packed[1], packed[2], packed[3]
    flat = packed.reshape(5, -1)
    row_start = np.arange(n_rows) * width
    cols = np.arange(width)
    count = (rows.item >= 0).sum(axis=1)  # the operator's running array length per row
    records: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    iou, tmp = np.empty(t.shape), np.empty(t.shape)
    for step in range(min(max_picks, width)):
        idx = t.argmax(axis=1)  # the first maximum in array order, as the operator's scan
        front, pick = row_start + step, row_start + idx
        picked = flat.take(pick, axis=1)  # (5, R)
        live = picked[0] > -np.inf if step == 0 else picked[0] >= floor
        if not live.any():
            break
        flat[:, pick] = flat.take(front, axis=1)  # swap the pick into position `step`
        flat[:, front] = picked
        records.append((rows.group[live], picked[4, live].astype(np.int64), picked[0, live]))
        t[:, step] = -np.inf
        np.minimum(x2, picked[2][:, None], out=iou)
        np.maximum(x1, picked[1][:, None], out=tmp)
        iou -= tmp
        np.maximum(iou, 0, out=iou)
        np.add(length, picked[3][:, None], out=tmp)
        tmp -= iou
        rule.apply(t, np.divide(iou, tmp, out=iou))
        active = (cols > step) & (cols < count[:, None])
        dropped = active & (t < floor)
        if dropped.any():
            kept = active & ~dropped
            count = step + 1 + kept.sum(axis=1)
            # holes below the new length are filled, in ascending order, by the kept entries above it
            # taken from the end (the operator's swap-with-last)
            beyond = cols >= count[:, None]
            hr, hc = np.nonzero(dropped & ~beyond)
            dr, dc = np.nonzero(kept & beyond)
            order = np.lexsort((-dc, dr))
            flat[:, hr * width + hc] = flat[:, dr[order] * width + dc[order]]
            t[beyond] = -np.inf
        if not ((count > step + 1) & live).any():
            break
    if not records:
        empty = np.zeros(0, np.int64)
        return _Picks(empty, empty, empty, np.zeros(0))
    return _Picks(
        np.concatenate([g for g, _, _ in records]),
        np.repeat(np.arange(len(records)), [g.shape[0] for g, _, _ in records]),
        np.concatenate([i for _, i, _ in records]),
        np.concatenate([v for _, _, v in records]),
    )


def _buckets(sizes: np.ndarray) -> list[np.ndarray]:
    """Groups (table rows) split by size: each bucket holds the groups within ``BUCKET_SPREAD`` of its largest."""
    out = []
    left = np.arange(sizes.shape[0])
    while left.shape[0]:
        big = sizes[left] * BUCKET_SPREAD > sizes[left].max()
        out.append(left[big])
        left = left[~big]
    return out


def grouped_nms(
    segments: torch.Tensor,
    scores: torch.Tensor,
    groups: torch.Tensor,
    *,
    decay: Decay,
    iou_threshold: float = 0.7,
    sigma: float = 0.5,
    min_score: float = 0.001,
    max_per_group: int = 100,
) -> tuple[torch.Tensor, torch.Tensor]:
    """NMS applied independently within each group (e.g. a label, or a (video, label) pair).

    Returns the indices of the picks into the inputs, at most `max_per_group` per group, and their
    (decayed) scores, group by group (in increasing group id) in pick order. Runs on the CPU in
    float32 geometry as the official operator; `scores` must be finite and non-negative.
    """
    n = segments.shape[0]
    if segments.dim() != 2 or segments.shape[1] != 2 or scores.shape != (n,) or groups.shape != (n,):
        raise ValueError(
            f"expected segments (N, 2), scores (N,) and groups (N,), got {tuple(segments.shape)}, "
            f"{tuple(scores.shape)} and {tuple(groups.shape)}"
        )
    rule = DecayRule(decay, iou_threshold, sigma, min_score)
    picked, values = grouped_nms_numpy(
        segments.detach().cpu().float().numpy(),
        scores.detach().cpu().float().numpy(),
        groups.detach().cpu().numpy(),
        rule,
        max_per_group,
    )
    device = segments.device
    return torch.from_numpy(picked).to(device), torch.from_numpy(values).to(device=device, dtype=scores.dtype)


def grouped_nms_numpy(
    segments: np.ndarray, scores: np.ndarray, groups: np.ndarray, rule: DecayRule, max_per_group: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grouped_nms` on arrays: segments (N, 2) float32, scores (N,) float32, groups (N,) int.
    Returns (int64 indices, float32 scores)."""
    n = segments.shape[0]
    if rule.decay is Decay.GAUSSIAN and not rule.sigma > 0:
        raise ValueError(f"the Gaussian decay needs sigma > 0, got {rule.sigma}")
    if n == 0 or max_per_group <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if not (np.isfinite(scores).all() and (scores >= 0).all()):
        raise ValueError("scores must be finite and non-negative")

    # the table: one row per group (in increasing group id), its candidates in input order
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    first = np.concatenate(([True], sorted_groups[1:] != sorted_groups[:-1]))
    gidx = np.cumsum(first) - 1  # group (table row) of each candidate, in `order`
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, n))
    col = np.arange(n) - starts[gidx]
    # a zero score is stored as the lowest finite value: it can still be a group's first pick (score 0)
    sc64 = scores[order].astype(np.float64)
    positive = sc64 > 0
    logs = np.full(n, ZERO_SCORE)
    np.log(sc64, where=positive, out=logs)
    np.multiply(logs, rule.scale, where=positive, out=logs)

    parts = []
    for bucket_groups in _buckets(sizes):
        if bucket_groups.shape[0] == sizes.shape[0]:
            sel, rr = slice(None), gidx
        else:
            slot = np.full(sizes.shape[0], -1)
            slot[bucket_groups] = np.arange(bucket_groups.shape[0])
            sel = np.flatnonzero(slot[gidx] >= 0)
            rr = slot[gidx[sel]]
        cc, items = col[sel], order[sel]
        shape = (bucket_groups.shape[0], int(sizes[bucket_groups].max()))
        t = np.full(shape, -np.inf)
        t[rr, cc] = logs[sel]
        x1, x2 = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        x1[rr, cc], x2[rr, cc] = segments[items, 0], segments[items, 1]
        item = np.full(shape, -1, np.int64)
        item[rr, cc] = items
        rows = _Rows(t, x1, x2, x2 - x1 + np.float32(LENGTH_EPS), item, bucket_groups)
        ranked = np.sort(t, axis=1)
        tied = ((ranked[:, 1:] == ranked[:, :-1]) & (ranked[:, 1:] > -np.inf)).any(axis=1)
        if tied.any():
            parts.append(_run_positional(rows.take(tied) if not tied.all() else rows, rule, max_per_group))
        if not tied.all():
            parts.append(_run_free(rows.take(~tied) if tied.any() else rows, rule, max_per_group))
    picks = _Picks.concat(parts)
    # group by group, in pick order: each pick's place is its group's offset plus its step
    per_group = np.bincount(picks.group, minlength=sizes.shape[0])
    place = (np.cumsum(per_group) - per_group)[picks.group] + picks.step
    out_items = np.empty_like(picks.item)
    out_values = np.empty_like(picks.value)
    out_items[place], out_values[place] = picks.item, picks.value
    with np.errstate(over="ignore"):  # ZERO_SCORE / sigma -> -inf -> a score of exactly 0
        return out_items, np.exp(out_values / rule.scale).astype(np.float32)


def rank_within(keys: np.ndarray) -> np.ndarray:
    """For sorted `keys`, the rank of each entry within its run of equal keys (0, 1, ... per run)."""
    if keys.shape[0] == 0:
        return np.zeros(0, np.int64)
    first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    runs = np.diff(np.append(first, keys.shape[0]))
    return np.arange(keys.shape[0]) - np.repeat(first, runs)


def seg_voting(
    nms_segs: torch.Tensor,
    all_segs: torch.Tensor,
    all_scores: torch.Tensor,
    iou_threshold: float,
    same: torch.Tensor | None = None,
) -> torch.Tensor:
    """Refine each kept segment as the score-weighted mean of all candidates overlapping it
    by at least `iou_threshold` (used after class-agnostic NMS); `same` (K, N) limits the
    candidates of each kept segment (e.g. to its own video)."""
    inter = (
        torch.minimum(nms_segs[:, None, 1], all_segs[None, :, 1])
        - torch.maximum(nms_segs[:, None, 0], all_segs[None, :, 0])
    ).clamp(min=0)
    union = (nms_segs[:, None, 1] - nms_segs[:, None, 0]) + (all_segs[None, :, 1] - all_segs[None, :, 0]) - inter
    w = (inter / union >= iou_threshold).to(all_scores.dtype) * all_scores[None, :]
    if same is not None:
        w = w * same.to(w.dtype)
    return (w / w.sum(dim=1, keepdim=True)) @ all_segs


def batched_nms(
    segments: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    cfg: DecodeConfig,
    sigma: float,
    videos: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The official post-processing, for the candidates of one or several videos (`videos`: the
    video index of each candidate, default all 0): per-class (or class-agnostic + voting) NMS within
    each video, then each video's `cfg.max_seg_num` best. Returns (segments, scores, labels, videos)
    sorted by video, then by descending score (ties in input order)."""
    if videos is None:
        videos = torch.zeros_like(labels)
    device = segments.device
    seg = segments.detach().cpu().numpy()
    sc = scores.detach().cpu().numpy()
    lab = labels.detach().cpu().numpy()
    vid = videos.detach().cpu().numpy()
    if seg.shape[0] and cfg.nms_method is not NmsMethod.NONE:
        decay = Decay.GAUSSIAN if cfg.nms_method is NmsMethod.SOFT else Decay.HARD
        if decay is Decay.HARD and cfg.min_score > 0:  # hard NMS never changes scores: filter first
            keep = sc > cfg.min_score
            seg, sc, lab, vid = seg[keep], sc[keep], lab[keep], vid[keep]
        groups = vid * (int(lab.max()) + 1 if lab.shape[0] else 1) + lab if cfg.multiclass_nms else vid
        rule = DecayRule(decay, cfg.iou_threshold, sigma, cfg.min_score)
        picked, new_sc = grouped_nms_numpy(
            seg.astype(np.float32, copy=False), sc.astype(np.float32, copy=False), groups, rule, cfg.max_seg_num
        )
        new_seg, lab, new_vid = seg[picked], lab[picked], vid[picked]
        if not cfg.multiclass_nms and cfg.voting_thresh > 0 and new_seg.shape[0] > 0:
            new_seg = seg_voting(
                torch.from_numpy(new_seg),
                torch.from_numpy(seg),
                torch.from_numpy(sc),
                cfg.voting_thresh,
                same=torch.from_numpy(new_vid[:, None] == vid[None, :]),
            ).numpy()
        seg, sc, vid = new_seg, new_sc.astype(sc.dtype, copy=False), new_vid
    # each video's best max_seg_num, ordered by video then score
    order = np.lexsort((-sc, vid))
    order = order[rank_within(vid[order]) < cfg.max_seg_num]

    def out(x: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x[order])).to(device=device, dtype=like.dtype)

    return out(seg, segments), out(sc, scores), out(lab, labels), out(vid, videos)
