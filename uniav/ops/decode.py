"""Decoding of per-level network outputs into scored segments (before and after NMS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from uniav.config import DecodeConfig


@dataclass(frozen=True)
class ScoredSegments:
    """Scored segments of one video: segments (N, 2), scores (N,), labels (N,) (class indices)."""

    segments: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass(frozen=True)
class GridTiming:
    """How grid units map to seconds for one video: ``sec = (t * feat_stride + 0.5 * num_frames) / fps``."""

    feat_stride: float
    num_frames: float
    fps: float
    duration: float

    def to_seconds(self, segments: torch.Tensor) -> torch.Tensor:
        secs = (segments * self.feat_stride + 0.5 * self.num_frames) / self.fps
        return secs.clamp(min=0.0, max=self.duration)


@dataclass(frozen=True)
class BatchCandidates:
    """Scored segments of several videos: segments (N, 2), scores (N,), labels (N,), and the video
    index of each (N,)."""

    segments: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    videos: torch.Tensor


def decode_batch(
    cls_logits: Sequence[torch.Tensor],
    offsets: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    points: Sequence[torch.Tensor],
    cfg: DecodeConfig,
) -> BatchCandidates:
    """Candidates of every video of a batch in grid units, as they enter NMS.

    Per level: cls_logits (B, T_l, C), offsets (B, T_l, 2) or (B, T_l, C, 2), masks (B, T_l), points
    (T_l, 4). Per video and level, keeps probabilities above ``cfg.pre_nms_thresh``, at most
    ``cfg.pre_nms_topk`` of them, and segments longer than ``cfg.duration_thresh``.
    """
    vids, segs, scores, labels = [], [], [], []
    for logit, off, mask, pts in zip(cls_logits, offsets, masks, points, strict=True):
        b, t, num_classes = logit.shape
        prob = (logit.sigmoid() * mask[..., None].to(logit.dtype)).reshape(b, t * num_classes)
        k = min(cfg.pre_nms_topk, t * num_classes)
        top, flat = prob.topk(k, dim=1)  # (B, k), per video, best first
        vid, col = torch.nonzero(top > cfg.pre_nms_thresh, as_tuple=True)
        flat = flat[vid, col]
        pt = torch.div(flat, num_classes, rounding_mode="floor")
        cls = flat % num_classes
        o = off[vid, pt, cls] if off.dim() == 4 else off[vid, pt]
        tt, stride = pts[pt, 0], pts[pt, 3]
        seg = torch.stack((tt - o[:, 0] * stride, tt + o[:, 1] * stride), dim=-1)
        long_enough = (seg[:, 1] - seg[:, 0]) > cfg.duration_thresh
        vids.append(vid[long_enough])
        segs.append(seg[long_enough])
        scores.append(top[vid, col][long_enough])
        labels.append(cls[long_enough])
    return BatchCandidates(torch.cat(segs), torch.cat(scores), torch.cat(labels), torch.cat(vids))


def decode_candidates(
    cls_logits: Sequence[torch.Tensor],
    offsets: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    points: Sequence[torch.Tensor],
    cfg: DecodeConfig,
) -> ScoredSegments:
    """Candidates of one video (per level: cls_logits (T_l, C), offsets (T_l, 2) or (T_l, C, 2),
    mask (T_l,), points (T_l, 4)) in grid units, as they enter NMS."""
    out = decode_batch([x[None] for x in cls_logits], [x[None] for x in offsets], [x[None] for x in masks], points, cfg)
    return ScoredSegments(out.segments, out.scores, out.labels)
