"""Focal, DIoU and GIoU losses and the per-task objective with its running normaliser."""

from __future__ import annotations

import math

import pytest
import torch

from uniav.config import RegressionLoss
from uniav.ops.losses import diou_loss_1d, giou_loss_1d, sigmoid_focal_loss, uniav_loss


def test_focal_loss_values():
    logits = torch.tensor([0.0, 2.0, -2.0])
    targets = torch.tensor([1.0, 0.0, 0.0])
    loss = sigmoid_focal_loss(logits, targets)
    p = torch.sigmoid(logits)
    expected = torch.stack(
        [
            0.25 * -torch.log(p[0]) * (1 - p[0]) ** 2,
            0.75 * -torch.log(1 - p[1]) * p[1] ** 2,
            0.75 * -torch.log(1 - p[2]) * p[2] ** 2,
        ]
    )
    torch.testing.assert_close(loss, expected)


def test_iou_losses():
    same = torch.tensor([[2.0, 3.0]])
    assert diou_loss_1d(same, same).item() == pytest.approx(0.0, abs=1e-7)
    assert giou_loss_1d(same, same).item() == pytest.approx(0.0, abs=1e-7)
    # pred (1, 1) vs target (1, 3): segments [-1, 1] and [-1, 3]; IoU 2/4; enclosing 4; centres 0 and 1
    pred, tgt = torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, 3.0]])
    assert diou_loss_1d(pred, tgt).item() == pytest.approx(1 - 0.5 + (1 / 4) ** 2)
    assert giou_loss_1d(pred, tgt).item() == pytest.approx(1 - 0.5)
    # disjoint cannot happen with centre-based offsets, but a tiny prediction far from the centre:
    pred, tgt = torch.tensor([[0.0, 0.1]]), torch.tensor([[5.0, 0.1]])
    assert giou_loss_1d(pred, tgt).item() > diou_loss_1d(pred, tgt).item() - 1


def test_uniav_loss_normaliser_and_smoothing():
    b, p, c = 2, 10, 3
    logits = torch.zeros(b, p, c)
    valid = torch.ones(b, p, dtype=torch.bool)
    valid[1, 5:] = False
    gt = torch.zeros(b, p, c)
    gt[0, 2, 1] = 1
    gt[1, 7, 0] = 1  # on an invalid point: not positive
    off = torch.ones(b, p, 2)
    out = uniav_loss(logits, off, valid, gt, off.clone(), 100.0, num_classes=c, class_aware=False, label_smoothing=0.1)
    assert out.num_pos == 1
    assert out.normalizer == pytest.approx(0.9 * 100 + 0.1 * 1)
    target = gt[valid] * 0.9 + 0.1 / (c + 1)
    expected_cls = sigmoid_focal_loss(logits[valid], target).sum() / out.normalizer
    assert out.cls_loss.item() == pytest.approx(expected_cls.item())
    assert out.reg_loss.item() == pytest.approx(0.0, abs=1e-7)  # perfect offsets


def test_uniav_loss_class_aware_uses_only_target_slots_and_auto_weight():
    b, p, c = 1, 4, 3
    gt = torch.zeros(b, p, c)
    gt[0, 1, 2] = 1
    gt_off = torch.zeros(b, p, c, 2)
    gt_off[0, 1, 2] = torch.tensor([1.0, 1.0])
    pred = torch.full((b, p, c, 2), 5.0)  # wrong everywhere, but only slot (1, 2) counts
    pred[0, 1, 2] = torch.tensor([1.0, 3.0])
    out = uniav_loss(
        torch.zeros(b, p, c),
        pred,
        torch.ones(b, p, dtype=torch.bool),
        gt,
        gt_off,
        1.0,
        num_classes=c,
        class_aware=True,
        loss_weight=-1,
        regression=RegressionLoss.GIOU,
    )
    assert out.reg_loss.item() == pytest.approx(0.5 / out.normalizer)
    w = out.cls_loss.item() / max(out.reg_loss.item(), 0.01)
    assert out.final_loss.item() == pytest.approx(out.cls_loss.item() + out.reg_loss.item() * w)
    assert math.isfinite(out.final_loss.item())


def test_uniav_loss_without_positives_keeps_graph():
    logits = torch.zeros(1, 4, 2, requires_grad=True)
    off = torch.ones(1, 4, 2, requires_grad=True)
    out = uniav_loss(
        logits,
        off,
        torch.ones(1, 4, dtype=torch.bool),
        torch.zeros(1, 4, 2),
        torch.zeros(1, 4, 2),
        10.0,
        num_classes=2,
        class_aware=False,
    )
    out.final_loss.backward()
    assert out.num_pos == 0 and out.reg_loss.item() == 0.0 and logits.grad is not None
