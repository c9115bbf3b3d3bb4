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


def grouped_nms(segments: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, *, decay: Decay,
                iou_threshold: float = 0.7, sigma: float = 0.5, min_score: float = 0.001,
                max_per_class: int = 100, per_label: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """NMS applied independently per label (or over everything with ``per_label=False``).

    Returns the picks of every group, at most `max_per_class` each, with their (decayed) scores,
    concatenated group by group in pick order.
    """
    if segments.shape[0] == 0:
        return segments.new_zeros((0, 2)), scores.new_zeros((0,)), labels.new_zeros((0,))
    keys = labels if per_label else torch.zeros_like(labels)
    _, group, rank, width = group_by_label(keys)
    g = int(group.max().item()) + 1
    segs = segments.new_zeros((g, width, 2))
    segs[group, rank] = segments
    s = scores.new_full((g, width), -1.0)
    s[group, rank] = scores
    lab = labels.new_zeros((g, width))
    lab[group, rank] = labels
    alive = torch.zeros((g, width), dtype=torch.bool, device=scores.device)
    alive[group, rank] = True

    rows = torch.arange(g, device=scores.device)
    picks_seg, picks_score, picks_lab, picks_ok = [], [], [], []
    for _ in range(min(max_per_class, width)):
        if not bool(alive.any()):
            break
        cur = torch.where(alive, s, torch.full_like(s, -float("inf")))
        idx = cur.argmax(dim=1)
        ok = alive[rows, idx]
        seg = segs[rows, idx]  # (G, 2)
        picks_seg.append(seg)
        picks_score.append(s[rows, idx])
        picks_lab.append(lab[rows, idx])
        picks_ok.append(ok)
        alive[rows, idx] = False
        iou = segment_iou(seg[:, None, :], segs)  # (G, W)
        if decay is Decay.GAUSSIAN:
            w = torch.exp(-(iou * iou) / sigma)
        elif decay is Decay.LINEAR:
            w = torch.where(iou >= iou_threshold, 1 - iou, torch.ones_like(iou))
        else:
            w = (iou <= iou_threshold).to(s.dtype)
        s = torch.where(alive & ok[:, None], s * w, s)
        alive &= s >= min_score
    if not picks_seg:
        return segments.new_zeros((0, 2)), scores.new_zeros((0,)), labels.new_zeros((0,))
    ok = torch.stack(picks_ok, 1)  # (G, K): row-major = group by group, in pick order
    return (torch.stack(picks_seg, 1)[ok], torch.stack(picks_score, 1)[ok], torch.stack(picks_lab, 1)[ok])


def seg_voting(nms_segs: torch.Tensor, all_segs: torch.Tensor, all_scores: torch.Tensor,
               iou_threshold: float) -> torch.Tensor:
    """Refine each kept segment as the score-weighted mean of all candidates overlapping it
    by at least `iou_threshold` (used after class-agnostic NMS)."""
    inter = (torch.minimum(nms_segs[:, None, 1], all_segs[None, :, 1])
             - torch.maximum(nms_segs[:, None, 0], all_segs[None, :, 0])).clamp(min=0)
    union = (nms_segs[:, None, 1] - nms_segs[:, None, 0]) + (all_segs[None, :, 1] - all_segs[None, :, 0]) - inter
    w = (inter / union >= iou_threshold).to(all_scores.dtype) * all_scores[None, :]
    return (w / w.sum(dim=1, keepdim=True)) @ all_segs


def batched_nms(segments: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, cfg: DecodeConfig,
                sigma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The official post-processing: per-class (or class-agnostic + voting) NMS, then the
    `cfg.max_seg_num` best overall, sorted by score."""
    if segments.shape[0] == 0 or cfg.nms_method is NmsMethod.NONE:
        segs, sc, lab = segments, scores, labels
    else:
        decay = Decay.GAUSSIAN if cfg.nms_method is NmsMethod.SOFT else Decay.HARD
        if decay is Decay.HARD and cfg.min_score > 0:  # hard NMS never changes scores: filter first
            keep = scores > cfg.min_score
            segments, scores, labels = segments[keep], scores[keep], labels[keep]
        segs, sc, lab = grouped_nms(
            segments, scores, labels, decay=decay, iou_threshold=cfg.iou_threshold, sigma=sigma,
            min_score=cfg.min_score, max_per_class=cfg.max_seg_num, per_label=cfg.multiclass_nms,
        )
        if not cfg.multiclass_nms and cfg.voting_thresh > 0 and segs.shape[0] > 0:
            segs = seg_voting(segs, segments, scores, cfg.voting_thresh)
    order = torch.argsort(sc, descending=True)[: cfg.max_seg_num]
    return segs[order], sc[order], lab[order]
