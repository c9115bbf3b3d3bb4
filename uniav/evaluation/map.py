"""Detection mAP under the ActivityNet protocol, vectorised over predictions and thresholds.

The protocol (the official UniAV / ActionFormer evaluator):

1. Ground truth of the evaluated subset, with duplicates removed (same video, same label,
   both ends within 1e-3 s of an earlier kept instance).
2. Per class, predictions are ranked by decreasing score. Walking down the ranking, each
   prediction takes the unmatched ground truth of its video and class with the highest tIoU,
   provided that tIoU >= the threshold (a true positive); otherwise it is a false positive.
   Predictions on videos with no ground truth of that class in the subset (other subsets,
   unknown videos) are false positives. Each threshold is matched independently.
3. AP is the area under the interpolated precision-recall curve (VOC 2011 /
   ActivityNet ``interpolated_prec_rec``); mAP averages the classes that have ground truth,
   then ``average_mAP`` averages the thresholds.

Deterministic tie rules (the official code inherits whatever order numpy's unstable
``argsort()[::-1]`` gives, which differs between CPUs): equal scores keep the input order
(first listed ranks first), and equal tIoUs prefer the ground truth listed first.

Everything runs as array operations over all predictions and all thresholds at once; the
greedy matching proceeds in rounds (see :func:`match_detections`), typically a handful.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uniav.data.annotations import AnnotationDB, as_detections, duplicate_mask, parse_annotation_db

_MATCH_BLOCK = 128  # predictions per group per matching block (see match_detections)


@dataclass(frozen=True, eq=False)
class MapResult:
    """Evaluation numbers.

    ``tiou_thresholds`` (T,); ``mAP`` (T,) the mean AP over classes with ground truth;
    ``average_mAP`` the mean of ``mAP``; ``ap_per_class`` (T, K) with NaN columns for
    classes without ground truth in the subset (they are not averaged); ``num_ground_truth``
    (K,) instances per class after duplicate removal (None when read from a report lacking it).
    """

    tiou_thresholds: np.ndarray
    mAP: np.ndarray
    average_mAP: float
    ap_per_class: np.ndarray
    num_ground_truth: np.ndarray | None = None


def temporal_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tIoU of segments ``a`` (..., 2) and ``b`` (..., 2), broadcast over the leading axes.

    ``intersection / (len_a + len_b - intersection)``; 0 where the union is empty (two
    zero-length segments). For all pairs use ``temporal_iou(a[:, None], b[None])`` -> (N, M).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    inter = np.clip(np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    union = (b[..., 1] - b[..., 0]) + (a[..., 1] - a[..., 0]) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where(union > 0, iou, 0.0)


def interpolated_average_precision(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """ActivityNet / VOC-2011 interpolated AP of precision-recall curves along the last axis.

    ``precision`` and ``recall`` are (..., N) over a ranking; the curve is closed with
    (recall 0, precision 0) in front and (recall 1, precision 0) at the end, precision is
    replaced by its running maximum from the right, and the area is summed where recall
    changes. Returns an array of shape (...).
    """
    precision = np.asarray(precision, dtype=np.float64)
    recall = np.asarray(recall, dtype=np.float64)
    if precision.shape != recall.shape:
        raise ValueError(f"precision {precision.shape} and recall {recall.shape} differ in shape")
    lead = precision.shape[:-1]
    zeros, ones = np.zeros((*lead, 1)), np.ones((*lead, 1))
    mprec = np.concatenate([zeros, precision, zeros], axis=-1)
    mrec = np.concatenate([zeros, recall, ones], axis=-1)
    envelope = np.flip(np.maximum.accumulate(np.flip(mprec, -1), axis=-1), -1)
    step = mrec[..., 1:] - mrec[..., :-1]
    return np.sum(np.where(step != 0, step * envelope[..., 1:], 0.0), axis=-1)


def match_detections(
    pred_group: np.ndarray,
    pred_segments: np.ndarray,
    gt_group: np.ndarray,
    gt_segments: np.ndarray,
    tiou_thresholds: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """Greedy one-to-one matching of ranked predictions to ground truth, for every threshold.

    Predictions are given in priority order (index 0 first). A prediction may match only
    ground truth with the same ``group`` code (e.g. class and video; -1 matches nothing).
    Walking down the ranking, each prediction takes the still-unmatched ground truth with the
    highest tIoU (ties: lowest index) among those with tIoU >= threshold.

    Returns (T, P) int64: the index of the matched ground truth, or -1 (false positive).

    Vectorised as rounds over all thresholds and groups: in a round every unresolved
    prediction points at its best still-free candidate, and it is granted that candidate when
    no unresolved prediction ranked above it also has it as a candidate (nothing earlier can
    take it, so the sequential walk would grant it too). The first unresolved prediction of
    every group is always granted, so the loop ends; uncontested predictions all resolve in
    the first round. Rounds run block by block (ranks 0-127 of every group, then 128-255, ...)
    so that a long chain of contention rescans one block, not the whole ranking. The number of
    rounds is the longest such chain (greedy matching is inherently sequential there).
    """
    thr = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
    pred_group = np.asarray(pred_group, dtype=np.int64)
    gt_group = np.asarray(gt_group, dtype=np.int64)
    pred_segments = np.asarray(pred_segments, dtype=np.float64).reshape(-1, 2)
    gt_segments = np.asarray(gt_segments, dtype=np.float64).reshape(-1, 2)
    n_thr, n_pred, n_gt = thr.size, pred_group.size, gt_group.size
    matched = np.full(n_thr * n_pred, -1, dtype=np.int64)
    if n_pred == 0 or n_gt == 0 or n_thr == 0:
        return matched.reshape(n_thr, n_pred)

    # candidate pairs: every prediction with every ground truth of its group
    gt_order = np.argsort(gt_group, kind="stable")
    sorted_groups = gt_group[gt_order]
    lo = np.searchsorted(sorted_groups, pred_group, side="left")
    hi = np.searchsorted(sorted_groups, pred_group, side="right")
    n_cand = np.where(pred_group >= 0, hi - lo, 0)
    pair_pred = np.repeat(np.arange(n_pred), n_cand)
    first_pair = np.repeat(np.cumsum(n_cand) - n_cand, n_cand)
    pair_gt = gt_order[np.repeat(lo, n_cand) + np.arange(pair_pred.size) - first_pair]
    iou = temporal_iou(pred_segments[pair_pred], gt_segments[pair_gt])
    useful = iou >= thr.min()
    pair_pred, pair_gt, iou = pair_pred[useful], pair_gt[useful], iou[useful]

    # blocks of _MATCH_BLOCK predictions by rank within their group: a block's outcome depends only on
    # earlier blocks, so each round scans one block, not the whole tail of a long ranking
    with_pairs = np.zeros(n_pred, dtype=bool)
    with_pairs[pair_pred] = True
    ranked = np.flatnonzero(with_pairs)  # ascending: priority order
    by_group = ranked[np.argsort(pred_group[ranked], kind="stable")]
    grp = pred_group[by_group]
    group_start = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]])
    block = np.zeros(n_pred, dtype=np.int64)
    block[by_group] = np.arange(by_group.size) - np.repeat(group_start, np.diff(np.r_[group_start, grp.size]))
    block //= _MATCH_BLOCK

    # each prediction's candidates in preference order (best tIoU, then lowest gt index)
    order = _preference_order(pair_pred, pair_gt, iou, block, n_pred)
    pair_pred, pair_gt, iou = pair_pred[order], pair_gt[order], iou[order]
    pair_block = block[pair_pred]
    bounds = np.searchsorted(pair_block, np.arange(pair_block[-1] + 2) if pair_block.size else [0])

    pred_done = np.zeros(n_thr * n_pred, dtype=bool)
    gt_taken = np.zeros(n_thr * n_gt, dtype=bool)
    claim = np.empty(n_thr * n_gt, dtype=np.int64)
    for lo_b, hi_b in zip(bounds[:-1], bounds[1:], strict=True):
        # one entry per (threshold passed, pair), t-major, then rank, then preference
        t_idx, k = np.nonzero(iou[None, lo_b:hi_b] >= thr[:, None])
        pk = t_idx * n_pred + pair_pred[lo_b:hi_b][k]  # prediction key (threshold, rank)
        gk = t_idx * n_gt + pair_gt[lo_b:hi_b][k]  # ground-truth key (threshold, gt)
        free = ~gt_taken[gk]
        pk, gk = pk[free], gk[free]
        while pk.size:
            best = np.r_[True, pk[1:] != pk[:-1]]  # each prediction's best free candidate
            claim[gk] = np.iinfo(np.int64).max
            np.minimum.at(claim, gk, pk)  # highest-ranked prediction still wanting each gt
            won = best & (claim[gk] == pk)
            matched[pk[won]] = gk[won] % n_gt
            pred_done[pk[won]] = True
            gt_taken[gk[won]] = True
            alive = ~(pred_done[pk] | gt_taken[gk])
            pk, gk = pk[alive], gk[alive]
    return matched.reshape(n_thr, n_pred)


def average_precision_per_class(
    true_positive: np.ndarray, pred_class: np.ndarray, num_positives: np.ndarray
) -> np.ndarray:
    """Interpolated AP per (threshold, class) from ranked match outcomes.

    ``true_positive`` (T, P) bool for predictions sorted by class and, within a class, by
    rank; ``pred_class`` (P,) their (non-decreasing) class ids; ``num_positives`` (K,) ground
    truth per class. Returns (T, K) float64, NaN for classes without ground truth and 0 for
    classes with ground truth but no prediction.

    Same value as :func:`interpolated_average_precision` per class, computed on the true
    positives only: recall grows exactly there, and the right-running maximum of precision
    is always reached at a true positive (precision falls at every false positive).
    """
    tp = np.asarray(true_positive, dtype=bool)
    pred_class = np.asarray(pred_class, dtype=np.int64)
    npos = np.asarray(num_positives, dtype=np.int64)
    n_thr, n_pred = tp.shape
    n_cls = npos.size
    if n_pred and np.any(np.diff(pred_class) < 0):
        raise ValueError("predictions must be grouped by class (pred_class non-decreasing)")

    per_class = np.bincount(pred_class, minlength=n_cls) if n_pred else np.zeros(n_cls, np.int64)
    class_start = np.cumsum(per_class) - per_class
    t_idx, i_idx = np.nonzero(tp)
    cum = np.cumsum(tp, axis=1, dtype=np.int64)
    cls = pred_class[i_idx]
    start = class_start[cls]
    k = cum[t_idx, i_idx] - (cum[t_idx, start] - tp[t_idx, start])  # true positives so far in the class
    n = i_idx - start + 1  # predictions so far in the class
    positives = npos[cls].astype(np.float64)
    precision = k / n
    recall_step = k / positives - (k - 1) / positives
    segment = t_idx * n_cls + cls  # non-decreasing: nonzero() is row-major, classes are grouped
    envelope = _segmented_suffix_max(precision, segment)
    area = np.bincount(segment, weights=recall_step * envelope, minlength=n_thr * n_cls)
    ap = area.astype(np.float64).reshape(n_thr, n_cls)  # float even when there is no true positive
    ap[:, npos == 0] = np.nan
    return ap


def evaluate_detections(
    ground_truth: AnnotationDB | Mapping[str, Any],
    predictions: Any,
    subset: str | Sequence[str],
    tiou_thresholds: Sequence[float] | np.ndarray,
    num_classes: int | None = None,
) -> MapResult:
    """mAP of ``predictions`` against the ``subset`` of ``ground_truth`` (ActivityNet protocol).

    ``ground_truth``: an :class:`AnnotationDB` or an annotation mapping (file layout).
    ``predictions``: anything :func:`uniav.data.annotations.as_detections` accepts
    (``DetectionTable``, a detection-file mapping, the official column dict, per-video results).
    ``subset``: one name or several (case-insensitive). ``num_classes`` defaults to the
    database's class count; every label id must be below it.
    """
    db = ground_truth if isinstance(ground_truth, AnnotationDB) else parse_annotation_db(ground_truth)
    names = (subset,) if isinstance(subset, str) else tuple(subset)
    evaluated = db.subset(*names)
    thr = _check_thresholds(tiou_thresholds)
    dets = as_detections(predictions, classes=db.classes)
    n_cls = len(db.classes) if num_classes is None else int(num_classes)

    # ground truth of the subset as arrays, duplicates removed
    video_code = {vid: i for i, vid in enumerate(evaluated.videos)}
    per_video = [len(rec.annotations) for rec in evaluated.videos.values()]
    anns = [a for rec in evaluated.videos.values() for a in rec.annotations]
    gt_video = np.repeat(np.arange(len(per_video), dtype=np.int64), per_video)
    gt_label = np.fromiter((a.label_id for a in anns), dtype=np.int64, count=len(anns))
    gt_seg = np.array([(a.start, a.end) for a in anns], dtype=np.float64).reshape(-1, 2)
    if gt_label.size == 0:
        raise ValueError(f"no ground-truth annotation in subset {list(names)}")
    if gt_label.max() >= n_cls:
        raise ValueError(f"ground-truth label_id {int(gt_label.max())} is outside num_classes={n_cls}")
    keep = ~duplicate_mask(gt_video * n_cls + gt_label, gt_seg)
    gt_video, gt_label, gt_seg = gt_video[keep], gt_label[keep], gt_seg[keep]
    npos = np.bincount(gt_label, minlength=n_cls)

    # predictions ranked per class: class, then score descending, then input order
    if len(dets) and dets.label_ids.max() >= n_cls:
        raise ValueError(
            f"detection label_id {int(dets.label_ids.max())} is outside the {n_cls} classes "
            "(pass num_classes or the full class list)"
        )
    known = np.array([video_code.get(v, -1) for v in dets.video_ids], dtype=np.int64)
    det_video = known[dets.video_index] if len(dets) else np.zeros(0, np.int64)
    order = np.lexsort((np.arange(len(dets)), -dets.scores, dets.label_ids))
    p_label = dets.label_ids[order]
    p_video = det_video[order]
    n_vid = max(len(per_video), 1)
    p_group = np.where(p_video >= 0, p_label * n_vid + p_video, -1)

    matched = match_detections(p_group, dets.segments[order], gt_label * n_vid + gt_video, gt_seg, thr)
    ap = average_precision_per_class(matched >= 0, p_label, npos)
    m_ap = np.nanmean(ap, axis=1)
    return MapResult(
        tiou_thresholds=thr, mAP=m_ap, average_mAP=float(m_ap.mean()), ap_per_class=ap, num_ground_truth=npos
    )


def _check_thresholds(tiou_thresholds: Sequence[float] | np.ndarray) -> np.ndarray:
    thr = np.asarray(tiou_thresholds, dtype=np.float64)
    if thr.ndim != 1 or thr.size == 0:
        raise ValueError(f"tiou_thresholds must be a non-empty 1-D sequence, got shape {thr.shape}")
    if not np.all((thr > 0) & (thr <= 1)):
        raise ValueError(f"tiou_thresholds must lie in (0, 1], got {thr.tolist()}")
    return thr


def _preference_order(
    pair_pred: np.ndarray, pair_gt: np.ndarray, iou: np.ndarray, block: np.ndarray, n_pred: int
) -> np.ndarray:
    """Permutation sorting candidate pairs by (block of the prediction, prediction, tIoU
    descending, gt index). Pairs arrive grouped by prediction with gt indices ascending.

    One integer key instead of a 4-key lexsort (several times faster on millions of pairs):
    tIoU becomes its dense descending rank and the gt tie-break the position in the
    prediction's list; falls back to lexsort if that key could overflow int64.
    """
    n = iou.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    by_iou = np.argsort(-iou)
    ranked = iou[by_iou]
    level = np.empty(n, dtype=np.int64)
    level[by_iou] = np.cumsum(np.r_[True, ranked[1:] != ranked[:-1]]) - 1
    run_start = np.flatnonzero(np.r_[True, pair_pred[1:] != pair_pred[:-1]])
    position = np.arange(n) - np.repeat(run_start, np.diff(np.r_[run_start, n]))
    n_levels, n_pos, n_blocks = int(level.max()) + 1, int(position.max()) + 1, int(block.max()) + 1
    if n_blocks * n_pred * n_levels * n_pos >= 2**62:
        return np.lexsort((pair_gt, -iou, pair_pred, block[pair_pred]))
    key = ((block[pair_pred] * n_pred + pair_pred) * n_levels + level) * n_pos + position
    return np.argsort(key)  # keys are unique: any sort algorithm gives the same order


def _segmented_suffix_max(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Running maximum from the right within runs of equal ``segment`` (non-decreasing ids).

    Doubling scan: after the step with span s, entry i holds the maximum over
    [i, i + 2s) clipped to its run; about log2(longest run) steps.
    """
    out = np.array(values, dtype=np.float64, copy=True)
    if out.size == 0:
        return out
    run_end = np.searchsorted(segment, segment, side="right") - 1
    active = np.arange(out.size)
    span = 1
    while True:
        active = active[active + span <= run_end[active]]
        if active.size == 0:
            return out
        out[active] = np.maximum(out[active], out[active + span])
        span *= 2
