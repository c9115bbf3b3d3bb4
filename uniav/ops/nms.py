"""1-D non-maximum suppression in PyTorch, vectorised over classes and candidates.

Soft-NMS follows the official (ActionFormer) C++ operator: repeatedly pick the highest remaining
score, multiply every remaining score by a decay of its IoU with the pick (Gaussian
``exp(-iou^2 / sigma)``, linear ``1 - iou`` above the threshold, or hard: 0 above it), and drop a
segment whose score falls below `min_score`. Lengths get +1e-6 in the IoU denominator. Only the
first `max_per_class` picks matter, so the loop stops there: it runs over picks, with every
class and candidate handled at once.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import torch

from uniav.config import DecodeConfig, NmsMethod

LENGTH_EPS = 1e-6


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


def group_by_label(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """(unique labels (G,), group of each item (N,), rank of each item within its group (N,), max group size)."""
    uniq, group = torch.unique(labels, return_inverse=True)
    counts = torch.bincount(group, minlength=uniq.numel())
    order = torch.argsort(group, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(group)
    rank[order] = torch.arange(group.numel(), device=labels.device) - starts[group[order]]
    return uniq, group, rank, int(counts.max().item()) if counts.numel() else 0


def _decay_in_place(iou: np.ndarray, decay: Decay, iou_threshold: float, sigma: float) -> np.ndarray:
    """Score multipliers for the given IoUs (float32; the Gaussian case overwrites `iou`)."""
    if decay is Decay.GAUSSIAN:
        np.square(iou, out=iou)
        iou *= np.float32(-1.0 / sigma)
        return np.exp(iou, out=iou)
    if decay is Decay.LINEAR:
        return np.where(iou >= iou_threshold, 1 - iou, 1).astype(np.float32)
    return (iou <= iou_threshold).astype(np.float32)


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
    (decayed) scores, group by group in pick order. Runs on the CPU in float32 (as the official
    operator); candidates are laid out as a (groups, width) table so that each pick step handles
    every group and candidate at once.
    """
    device = segments.device
    if segments.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=device), scores.new_zeros((0,))
    _, group, rank, width = group_by_label(groups.cpu())
    g_idx, r_idx = group.numpy(), rank.numpy()
    g = int(g_idx.max()) + 1
    segs = np.zeros((g, width, 2), dtype=np.float32)
    segs[g_idx, r_idx] = segments.detach().cpu().float().numpy()
    # remaining scores; -1 marks a removed (or padding) entry since real scores are >= 0
    s = np.full((g, width), -1.0, dtype=np.float32)
    s[g_idx, r_idx] = scores.detach().cpu().float().numpy()
    item = np.full((g, width), -1, dtype=np.int64)
    item[g_idx, r_idx] = np.arange(g_idx.shape[0])
    x1, x2 = np.ascontiguousarray(segs[..., 0]), np.ascontiguousarray(segs[..., 1])
    length = x2 - x1 + np.float32(LENGTH_EPS)

    floor = np.float32(min_score)
    group_id = np.arange(g)  # the group of each row (rows are dropped as their groups run out)
    out_group, out_step, out_item, out_score = [], [], [], []
    rows = np.arange(g)
    inter, den = np.empty((g, width), np.float32), np.empty((g, width), np.float32)
    for step in range(min(max_per_group, width)):
        idx = s.argmax(axis=1)
        best = s[rows, idx]
        ok = best >= 0
        if not ok.any():
            break
        out_group.append(group_id[ok])
        out_step.append(np.full(int(ok.sum()), step))
        out_item.append(item[rows, idx][ok])
        out_score.append(best[ok])
        s[rows, idx] = -1.0
        # IoU of every remaining segment with its group's pick, then the decay of its score
        np.minimum(x2, x2[rows, idx][:, None], out=inter)
        np.subtract(inter, np.maximum(x1, x1[rows, idx][:, None], out=den), out=inter)
        np.maximum(inter, 0, out=inter)
        np.add(length, length[rows, idx][:, None], out=den)
        den -= inter
        np.divide(inter, den, out=inter)
        s *= _decay_in_place(inter, decay, iou_threshold, sigma)
        np.putmask(s, s < floor, np.float32(-1.0))
        if step % 4 == 3:  # drop the rows of groups that have nothing left to pick
            live = (s >= 0).any(axis=1)
            if live.mean() < 0.75:
                s, x1, x2, length = s[live], x1[live], x2[live], length[live]
                item, group_id, inter, den = item[live], group_id[live], inter[live], den[live]
                rows = np.arange(s.shape[0])
                if s.shape[0] == 0:
                    break
    if not out_item:
        return torch.zeros(0, dtype=torch.long, device=device), scores.new_zeros((0,))
    grp_all, step_all = np.concatenate(out_group), np.concatenate(out_step)
    order = np.lexsort((step_all, grp_all))  # group by group, in pick order
    items = np.concatenate(out_item)[order]
    out_scores = torch.from_numpy(np.concatenate(out_score)[order]).to(device=device, dtype=scores.dtype)
    return torch.from_numpy(items).to(device), out_scores


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
    sorted by video, then by descending score."""
    if videos is None:
        videos = torch.zeros_like(labels)
    if segments.shape[0] and cfg.nms_method is not NmsMethod.NONE:
        decay = Decay.GAUSSIAN if cfg.nms_method is NmsMethod.SOFT else Decay.HARD
        if decay is Decay.HARD and cfg.min_score > 0:  # hard NMS never changes scores: filter first
            keep = scores > cfg.min_score
            segments, scores, labels, videos = segments[keep], scores[keep], labels[keep], videos[keep]
        groups = videos * (int(labels.max()) + 1 if labels.numel() else 1) + labels if cfg.multiclass_nms else videos
        picked, new_scores = grouped_nms(
            segments,
            scores,
            groups,
            decay=decay,
            iou_threshold=cfg.iou_threshold,
            sigma=sigma,
            min_score=cfg.min_score,
            max_per_group=cfg.max_seg_num,
        )
        segs, lab, vid = segments[picked], labels[picked], videos[picked]
        if not cfg.multiclass_nms and cfg.voting_thresh > 0 and segs.shape[0] > 0:
            segs = seg_voting(segs, segments, scores, cfg.voting_thresh, same=vid[:, None] == videos[None, :])
        segments, scores, labels, videos = segs, new_scores, lab, vid
    # each video's best max_seg_num, ordered by video then score
    order = torch.argsort(scores, descending=True, stable=True)
    order = order[torch.argsort(videos[order], stable=True)]
    vid = videos[order]
    starts = torch.searchsorted(vid, vid, right=False)
    rank = torch.arange(vid.numel(), device=vid.device) - starts
    order = order[rank < cfg.max_seg_num]
    return segments[order], scores[order], labels[order], videos[order]
