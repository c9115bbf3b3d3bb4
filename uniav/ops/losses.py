"""Training losses: sigmoid focal loss, 1-D distance-IoU / generalized-IoU, and the UniAV
per-task objective with its running normaliser. Pure functions; the normaliser state is passed
in and the updated value returned."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from uniav.config import RegressionLoss

NORMALIZER_MOMENTUM = 0.9


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Element-wise focal loss (RetinaNet) on logits with (possibly soft) targets."""
    logits = logits.float()
    targets = targets.float()
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def _iou_terms(pred: torch.Tensor, target: torch.Tensor, eps: float):
    lp, rp = pred[:, 0], pred[:, 1]
    lg, rg = target[:, 0], target[:, 1]
    inter = torch.minimum(lp, lg) + torch.minimum(rp, rg)
    union = (lp + rp) + (lg + rg) - inter
    iou = inter / union.clamp(min=eps)
    len_c = torch.maximum(lp, lg) + torch.maximum(rp, rg)
    return iou, union, len_c, (lp, rp, lg, rg)


def diou_loss_1d(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Distance-IoU loss of (N, 2) centre-based offsets (distances to start and end, >= 0)."""
    pred, target = pred.float(), target.float()
    iou, _, len_c, (lp, rp, lg, rg) = _iou_terms(pred, target, eps)
    rho = 0.5 * (rp - lp - rg + lg)
    return 1.0 - iou + torch.square(rho / len_c.clamp(min=eps))


def giou_loss_1d(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Generalized-IoU loss of (N, 2) centre-based offsets."""
    pred, target = pred.float(), target.float()
    iou, union, len_c, _ = _iou_terms(pred, target, eps)
    return 1.0 - (iou - (len_c - union) / len_c.clamp(min=eps))


@dataclass(frozen=True)
class LossOutput:
    cls_loss: torch.Tensor
    reg_loss: torch.Tensor
    final_loss: torch.Tensor
    num_pos: int
    normalizer: float  # the running normaliser after this step


def uniav_loss(
    cls_logits: torch.Tensor,
    offsets: torch.Tensor,
    valid: torch.Tensor,
    gt_cls: torch.Tensor,
    gt_offsets: torch.Tensor,
    normalizer: float,
    *,
    num_classes: int,
    class_aware: bool,
    label_smoothing: float = 0.0,
    loss_weight: float = 1.0,
    regression: RegressionLoss = RegressionLoss.DIOU,
) -> LossOutput:
    """The per-task objective on concatenated pyramid points.

    cls_logits (B, P, C); offsets (B, P, 2) or (B, P, C, 2); valid (B, P) bool; gt_cls (B, P, C);
    gt_offsets like offsets. ``n <- 0.9 n + 0.1 max(#pos, 1)``; focal loss over valid points and
    IoU loss over positive points (class-aware: only (point, class) pairs with a target), both / n;
    total = cls + w * reg (w <= 0: automatic balancing, cls / max(reg, 0.01)).
    """
    pos = (gt_cls.sum(-1) > 0) & valid
    num_pos = int(pos.sum().item())
    normalizer = NORMALIZER_MOMENTUM * normalizer + (1 - NORMALIZER_MOMENTUM) * max(num_pos, 1)

    target = gt_cls[valid] * (1 - label_smoothing) + label_smoothing / (num_classes + 1)
    cls_loss = sigmoid_focal_loss(cls_logits[valid], target).sum() / normalizer

    pred_off = offsets[pos]
    tgt_off = gt_offsets[pos]
    if class_aware:
        has = (tgt_off[..., 0] > 0) | (tgt_off[..., 1] > 0)
        pred_off, tgt_off = pred_off[has], tgt_off[has]
    if num_pos == 0:
        reg_loss = 0 * pred_off.sum()
    else:
        fn = diou_loss_1d if regression is RegressionLoss.DIOU else giou_loss_1d
        reg_loss = fn(pred_off, tgt_off).sum() / normalizer

    weight = loss_weight if loss_weight > 0 else cls_loss.detach() / max(float(reg_loss.item()), 0.01)
    return LossOutput(cls_loss, reg_loss, cls_loss + reg_loss * weight, num_pos, normalizer)
