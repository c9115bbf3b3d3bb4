"""Decoding of per-level network outputs into scored segments (before and after NMS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from uniav.config import DecodeConfig
from uniav.ops.nms import batched_nms


@dataclass(frozen=True)
class Detections:
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


def decode_candidates(cls_logits: Sequence[torch.Tensor], offsets: Sequence[torch.Tensor],
                      masks: Sequence[torch.Tensor], points: Sequence[torch.Tensor], cfg: DecodeConfig
                      ) -> Detections:
    """Candidates of one video in grid units, as they enter NMS.

    Per level: cls_logits (T_l, C), offsets (T_l, 2) or (T_l, C, 2), mask (T_l,), points (T_l, 4).
    Keeps probabilities above ``cfg.pre_nms_thresh``, at most ``cfg.pre_nms_topk`` per level, and
    segments longer than ``cfg.duration_thresh``.
    """
    segs, scores, labels = [], [], []
    for logit, off, mask, pts in zip(cls_logits, offsets, masks, points, strict=True):
        num_classes = logit.shape[-1]
        prob = (logit.sigmoid() * mask[:, None].to(logit.dtype)).flatten()
        keep = torch.nonzero(prob > cfg.pre_nms_thresh, as_tuple=True)[0]
        prob = prob[keep]
        prob, order = prob.sort(descending=True)
        k = min(cfg.pre_nms_topk, prob.shape[0])
        prob, flat = prob[:k], keep[order[:k]]
        pt = torch.div(flat, num_classes, rounding_mode="floor")
        cls = flat % num_classes
        o = off[pt, cls] if off.dim() == 3 else off[pt]
        t, stride = pts[pt, 0], pts[pt, 3]
        seg = torch.stack((t - o[:, 0] * stride, t + o[:, 1] * stride), dim=-1)
        long_enough = (seg[:, 1] - seg[:, 0]) > cfg.duration_thresh
        segs.append(seg[long_enough])
        scores.append(prob[long_enough])
        labels.append(cls[long_enough])
    return Detections(torch.cat(segs), torch.cat(scores), torch.cat(labels))


def postprocess(candidates: Detections, cfg: DecodeConfig, sigma: float, timing: GridTiming) -> Detections:
    """NMS, the best ``cfg.max_seg_num``, then grid units -> seconds clipped to [0, duration]."""
    segs, scores, labels = batched_nms(candidates.segments, candidates.scores, candidates.labels, cfg, sigma)
    if segs.shape[0]:
        segs = timing.to_seconds(segs)
    return Detections(segs, scores, labels)
