"""ActivityNet-protocol mAP: the reference fixtures, hand-computed cases, a loop oracle, reports."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import uniav.evaluation.map as map_module
from uniav.data.annotations import DetectionTable, load_annotation_db, load_predictions
from uniav.evaluation.map import (
    average_precision_per_class,
    evaluate_detections,
    interpolated_average_precision,
    match_detections,
    temporal_iou,
)
from uniav.evaluation.report import (
    EvaluationReport,
    ReportError,
    TaskReport,
    format_report,
    read_report,
    report_from_dict,
    write_report,
)

TOL = 1e-6


# --------------------------------------------------------------------------- reference fixtures


def _expected(map_fixtures: Path) -> dict:
    data = json.loads((map_fixtures / "expected.json").read_text())
    assert data, "expected.json lists no task"
    return data


def test_fixture_numbers_reproduced(map_fixtures: Path) -> None:
    """Every number of expected.json, for every task it lists, from the files next to it."""
    for task, exp in _expected(map_fixtures).items():
        db = load_annotation_db(map_fixtures / f"{task}_gt.json")
        preds = load_predictions(map_fixtures / f"{task}_pred.json")
        res = evaluate_detections(db, preds, exp["split"], exp["tiou_thresholds"])
        ap_exp = np.asarray(exp["ap_per_class"], dtype=np.float64)
        assert res.ap_per_class.shape == ap_exp.shape, task
        np.testing.assert_allclose(res.tiou_thresholds, exp["tiou_thresholds"], rtol=0, atol=0, err_msg=task)
        np.testing.assert_allclose(res.ap_per_class, ap_exp, rtol=0, atol=TOL, err_msg=task)
        np.testing.assert_allclose(res.mAP, exp["mAP"], rtol=0, atol=TOL, err_msg=task)
        assert res.average_mAP == pytest.approx(exp["average_mAP"], abs=TOL), task


def test_fixture_numbers_from_raw_mappings(map_fixtures: Path) -> None:
    """Same numbers when the evaluator is handed the parsed JSON instead of loaded objects."""
    for task, exp in _expected(map_fixtures).items():
        gt = json.loads((map_fixtures / f"{task}_gt.json").read_text())
        pred = json.loads((map_fixtures / f"{task}_pred.json").read_text())
        res = evaluate_detections(gt, pred, [exp["split"].upper()], exp["tiou_thresholds"])
        np.testing.assert_allclose(res.mAP, exp["mAP"], rtol=0, atol=TOL, err_msg=task)


def test_fixture_protocol_details_matter(map_fixtures: Path) -> None:
    """The fixtures exercise duplicate removal and false positives outside the subset: dropping
    either rule changes the numbers (so the reproduction test above pins both)."""
    for task, exp in _expected(map_fixtures).items():
        gt = json.loads((map_fixtures / f"{task}_gt.json").read_text())
        preds = load_predictions(map_fixtures / f"{task}_pred.json")
        split = exp["split"]
        base = evaluate_detections(gt, preds, split, exp["tiou_thresholds"]).average_mAP
        in_subset = {k for k, v in gt["database"].items() if v["subset"].lower() == split}
        keep = np.array([preds.video_ids[i] in in_subset for i in preds.video_index])
        only_subset = DetectionTable.from_arrays(
            np.asarray(preds.video_ids)[preds.video_index[keep]],
            preds.segments[keep],
            preds.label_ids[keep],
            preds.scores[keep],
        )
        assert len(only_subset) < len(preds)
        assert evaluate_detections(gt, only_subset, split, exp["tiou_thresholds"]).average_mAP > base + 1e-4
        # doubling every annotation and nudging the copy by 2e-3 s defeats duplicate removal
        for v in gt["database"].values():
            v["annotations"] += [{**a, "segment": [a["segment"][0] + 2e-3, a["segment"][1]]} for a in v["annotations"]]
        assert evaluate_detections(gt, preds, split, exp["tiou_thresholds"]).average_mAP < base - 1e-4


# --------------------------------------------------------------------------- hand-computed cases


def _gt(*videos: tuple[str, str, list[tuple[float, float, int]]]) -> dict:
    return {
        "database": {
            vid: {
                "subset": subset,
                "duration": 100.0,
                "annotations": [{"segment": [s, e], "label_id": c} for s, e, c in anns],
            }
            for vid, subset, anns in videos
        }
    }


def _pred(rows: list[tuple[str, float, float, int, float]]) -> DetectionTable:
    vids, s, e, c, p = zip(*rows, strict=True)
    return DetectionTable.from_arrays(list(vids), np.stack([s, e], axis=1), list(c), list(p))


THR = [0.5, 0.7, 0.9]


def test_perfect_predictions_score_one() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0), (20, 30, 1)]), ("b", "validation", [(5, 9, 0)]))
    preds = _pred([("a", 0, 10, 0, 0.9), ("a", 20, 30, 1, 0.8), ("b", 5, 9, 0, 0.7)])
    res = evaluate_detections(gt, preds, "validation", THR)
    np.testing.assert_array_equal(res.ap_per_class, np.ones((3, 2)))
    np.testing.assert_array_equal(res.mAP, np.ones(3))
    assert res.average_mAP == 1.0
    np.testing.assert_array_equal(res.num_ground_truth, [2, 1])


def test_false_positive_ranked_first_halves_precision() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0)]))
    preds = _pred([("a", 50, 60, 0, 0.9), ("a", 0, 10, 0, 0.8)])
    assert evaluate_detections(gt, preds, "validation", THR).average_mAP == pytest.approx(0.5)
    # ranked last it costs nothing: recall is already complete
    preds = _pred([("a", 50, 60, 0, 0.1), ("a", 0, 10, 0, 0.8)])
    assert evaluate_detections(gt, preds, "validation", THR).average_mAP == pytest.approx(1.0)


def test_interpolation_uses_best_precision_to_the_right() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0), (20, 30, 0)]))
    # FP, TP, TP: precision 1/2 then 2/3; interpolated: 2/3 at both recall steps
    preds = _pred([("a", 50, 60, 0, 0.9), ("a", 0, 10, 0, 0.8), ("a", 20, 30, 0, 0.7)])
    assert evaluate_detections(gt, preds, "validation", [0.5]).average_mAP == pytest.approx(2 / 3)
    # TP, FP, FP, TP: 0.5 * 1 + 0.5 * 1/2
    preds = _pred([("a", 0, 10, 0, 0.9), ("a", 50, 60, 0, 0.8), ("a", 70, 80, 0, 0.7), ("a", 20, 30, 0, 0.6)])
    assert evaluate_detections(gt, preds, "validation", [0.5]).average_mAP == pytest.approx(0.75)


def test_threshold_decides_true_positive() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0)]))
    preds = _pred([("a", 0, 6, 0, 0.9)])  # tIoU 0.6
    res = evaluate_detections(gt, preds, "validation", [0.5, 0.6, 0.61, 0.7])
    np.testing.assert_array_equal(res.mAP, [1.0, 1.0, 0.0, 0.0])
    assert res.average_mAP == pytest.approx(0.5)


def test_each_ground_truth_matched_once_greedily() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0), (8, 18, 0)]))
    # first prediction: tIoU 8/12 with gt0, 4/16 with gt1 -> takes gt0; the second (tIoU 0.9
    # with gt0, 1/18 with gt1) finds gt0 taken and gt1 too far: false positive
    preds = _pred([("a", 2, 12, 0, 0.9), ("a", 0, 9, 0, 0.8)])
    assert evaluate_detections(gt, preds, "validation", [0.5]).average_mAP == pytest.approx(0.5)
    # at 0.2 the second one falls back to nothing either (1/18 < 0.2), at 0.05 it takes gt1
    np.testing.assert_allclose(evaluate_detections(gt, preds, "validation", [0.2, 0.05]).mAP, [0.5, 1.0])


def test_duplicate_ground_truth_removed() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0), (0.0005, 10.0009, 0)]))
    preds = _pred([("a", 0, 10, 0, 0.9)])
    res = evaluate_detections(gt, preds, "validation", THR)
    assert res.average_mAP == 1.0
    np.testing.assert_array_equal(res.num_ground_truth, [1])
    # beyond the 1e-3 tolerance both stay: one of two found
    gt = _gt(("a", "validation", [(0, 10, 0), (0.002, 10, 0)]))
    assert evaluate_detections(gt, preds, "validation", THR).average_mAP == pytest.approx(0.5)
    # same segment, other label: not a duplicate
    gt = _gt(("a", "validation", [(0, 10, 0), (0, 10, 1)]))
    res = evaluate_detections(gt, preds, "validation", THR)
    np.testing.assert_array_equal(res.num_ground_truth, [1, 1])


def test_predictions_outside_the_subset_are_false_positives() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0)]), ("t", "training", [(0, 10, 0)]))
    exact = ("a", 0, 10, 0, 0.5)
    for stray in [("ghost", 0, 10, 0, 0.9), ("t", 0, 10, 0, 0.9)]:
        res = evaluate_detections(gt, _pred([stray, exact]), "validation", THR)
        assert res.average_mAP == pytest.approx(0.5), stray
    # evaluating both subsets makes the training prediction a true positive
    res = evaluate_detections(gt, _pred([("t", 0, 10, 0, 0.9), exact]), ["training", "VALIDATION"], THR)
    assert res.average_mAP == 1.0


def test_class_without_ground_truth_is_left_out() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0), (20, 30, 2)]))
    preds = _pred([("a", 20, 30, 1, 0.99), ("a", 50, 60, 2, 0.95), ("a", 20, 30, 2, 0.9), ("a", 0, 10, 0, 0.8)])
    res = evaluate_detections(gt, preds, "validation", THR, num_classes=4)
    assert res.ap_per_class.shape == (3, 4)
    assert np.isnan(res.ap_per_class[:, [1, 3]]).all()
    np.testing.assert_allclose(res.ap_per_class[:, 0], 1.0)
    np.testing.assert_allclose(res.ap_per_class[:, 2], 0.5)  # its own FP, not class 1's detection
    np.testing.assert_allclose(res.mAP, 0.75)
    np.testing.assert_array_equal(res.num_ground_truth, [1, 0, 1, 0])


def test_class_without_predictions_scores_zero() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0), (20, 30, 1)]))
    res = evaluate_detections(gt, _pred([("a", 0, 10, 0, 0.9)]), "validation", THR)
    np.testing.assert_array_equal(res.ap_per_class, [[1.0, 0.0]] * 3)
    np.testing.assert_allclose(res.mAP, 0.5)


def test_tie_rules() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0)]))
    # equal scores keep input order: the first listed (a miss) ranks first
    preds = _pred([("a", 50, 60, 0, 0.5), ("a", 0, 10, 0, 0.5)])
    assert evaluate_detections(gt, preds, "validation", [0.5]).average_mAP == pytest.approx(0.5)
    preds = _pred([("a", 0, 10, 0, 0.5), ("a", 50, 60, 0, 0.5)])
    assert evaluate_detections(gt, preds, "validation", [0.5]).average_mAP == pytest.approx(1.0)
    # equal tIoU (0.5 with both halves): the first listed ground truth is taken, so a second
    # prediction exactly on that half finds it gone
    gt = _gt(("a", "validation", [(0, 5, 0), (5, 10, 0)]))
    preds = _pred([("a", 0, 10, 0, 0.9), ("a", 0, 5, 0, 0.8)])
    assert evaluate_detections(gt, preds, "validation", [0.5]).average_mAP == pytest.approx(0.5)
    preds = _pred([("a", 0, 10, 0, 0.9), ("a", 5, 10, 0, 0.8)])
    assert evaluate_detections(gt, preds, "validation", [0.5]).average_mAP == pytest.approx(1.0)


def test_prediction_container_forms_agree() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0), (20, 30, 1)]), ("b", "validation", [(5, 9, 0)]))
    rows = [("a", 1, 10, 0, 0.9), ("b", 5, 8, 0, 0.3), ("a", 20, 29, 1, 0.8), ("a", 40, 45, 1, 0.85)]
    expected = evaluate_detections(gt, _pred(rows), "validation", THR).ap_per_class
    columns = {
        "video-id": [r[0] for r in rows],
        "t-start": np.array([r[1] for r in rows]),
        "t-end": np.array([r[2] for r in rows]),
        "label": np.array([r[3] for r in rows]),
        "score": np.array([r[4] for r in rows]),
    }
    per_video = [
        {
            "video_id": v,
            "segments": np.array([[r[1], r[2]] for r in rows if r[0] == v]),
            "labels": np.array([r[3] for r in rows if r[0] == v]),
            "scores": np.array([r[4] for r in rows if r[0] == v]),
        }
        for v in ("a", "b")
    ]
    file_layout = {
        "database": {
            v: [{"segment": [r[1], r[2]], "label_id": r[3], "scores": r[4]} for r in rows if r[0] == v]
            for v in ("a", "b")
        }
    }
    for form in (columns, per_video, file_layout):
        np.testing.assert_array_equal(evaluate_detections(gt, form, "validation", THR).ap_per_class, expected)


def test_evaluation_errors() -> None:
    gt = _gt(("a", "validation", [(0, 10, 0)]))
    preds = _pred([("a", 0, 10, 0, 0.9)])
    with pytest.raises(ValueError, match="subset"):
        evaluate_detections(gt, preds, "testing", THR)
    with pytest.raises(ValueError, match="tiou_thresholds"):
        evaluate_detections(gt, preds, "validation", [0.0, 0.5])
    with pytest.raises(ValueError, match="tiou_thresholds"):
        evaluate_detections(gt, preds, "validation", [])
    with pytest.raises(ValueError, match="label_id 3 is outside the 1 classes"):
        evaluate_detections(gt, _pred([("a", 0, 10, 3, 0.9)]), "validation", THR)
    assert np.isnan(
        evaluate_detections(gt, _pred([("a", 0, 10, 3, 0.9)]), "validation", THR, num_classes=4).ap_per_class[:, 3]
    ).all()
    with pytest.raises(ValueError, match="no ground-truth"):
        evaluate_detections(_gt(("a", "validation", [])), preds, "validation", THR)


# --------------------------------------------------------------------------- pure helpers


def test_temporal_iou_values_and_broadcasting() -> None:
    a = np.array([[0.0, 10.0], [2.0, 4.0], [5.0, 5.0]])
    b = np.array([[5.0, 15.0], [0.0, 10.0], [20.0, 30.0], [5.0, 5.0]])
    iou = temporal_iou(a[:, None], b[None])
    assert iou.shape == (3, 4)
    np.testing.assert_allclose(iou[0], [5 / 15, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(iou[1], [0.0, 0.2, 0.0, 0.0])
    np.testing.assert_array_equal(iou[2], [0.0, 0.0, 0.0, 0.0])  # zero-length: never a match
    np.testing.assert_allclose(temporal_iou(a[0], b[0]), 5 / 15)
    np.testing.assert_allclose(temporal_iou(b, b), [1, 1, 1, 0])


def test_interpolated_average_precision_values() -> None:
    assert interpolated_average_precision([1.0, 0.5], [0.5, 0.5]) == pytest.approx(0.5)
    assert interpolated_average_precision([0.5, 2 / 3], [0.5, 1.0]) == pytest.approx(2 / 3)
    assert interpolated_average_precision([1.0, 0.5, 1 / 3, 0.5], [0.5, 0.5, 0.5, 1.0]) == pytest.approx(0.75)
    assert interpolated_average_precision([0.0, 0.0], [0.0, 0.0]) == 0.0
    batch = interpolated_average_precision(np.array([[1.0, 0.5], [0.5, 2 / 3]]), np.array([[0.5, 0.5], [0.5, 1.0]]))
    np.testing.assert_allclose(batch, [0.5, 2 / 3])
    with pytest.raises(ValueError, match="shape"):
        interpolated_average_precision([1.0], [1.0, 1.0])


def test_match_detections_contention_chain() -> None:
    # four ranked predictions in one group all prefer gt0 > gt1 > gt2: the walk assigns them in
    # order, the fourth gets nothing; another group is independent
    gt_seg = np.array([[0, 10], [1, 11], [2, 12], [0, 10]], dtype=float)
    gt_group = np.array([0, 0, 0, 1])
    pred_seg = np.array([[0, 10], [0, 10], [0, 10], [0, 10], [0, 10], [0, 10]], dtype=float)
    pred_group = np.array([0, 0, 0, 0, 1, -1])
    m = match_detections(pred_group, pred_seg, gt_group, gt_seg, [0.5, 0.75, 0.95])
    np.testing.assert_array_equal(m[0], [0, 1, 2, -1, 3, -1])
    np.testing.assert_array_equal(m[1], [0, 1, -1, -1, 3, -1])  # tIoU(gt2) = 8/12 < 0.75
    np.testing.assert_array_equal(m[2], [0, -1, -1, -1, 3, -1])
    assert match_detections(np.zeros(0, int), np.zeros((0, 2)), gt_group, gt_seg, [0.5]).shape == (1, 0)


def test_preference_order_key_and_fallback_agree() -> None:
    rng = np.random.default_rng(1)
    pair_pred = np.sort(rng.integers(0, 40, 400))
    pair_gt = rng.integers(0, 30, 400)
    order_in_pred = np.lexsort((pair_gt, pair_pred))
    pair_pred, pair_gt = pair_pred[order_in_pred], pair_gt[order_in_pred]
    iou = rng.integers(0, 6, 400) / 5  # many ties
    block = rng.integers(0, 3, 40)
    fast = map_module._preference_order(pair_pred, pair_gt, iou, block, 40)
    fallback = map_module._preference_order(pair_pred, pair_gt, iou, block, 2**61)  # key would overflow
    reference = np.lexsort((pair_gt, -iou, pair_pred, block[pair_pred]))
    np.testing.assert_array_equal(fast, reference)
    np.testing.assert_array_equal(fallback, reference)


def test_ap_from_matches_equals_curve_formula() -> None:
    rng = np.random.default_rng(0)
    pred_class = np.sort(rng.integers(0, 6, 300))
    tp = rng.random((4, 300)) < 0.3
    npos = np.bincount(pred_class, minlength=7) // 3 + 25  # at least every possible TP count
    npos[6] = 0
    ap = average_precision_per_class(tp, pred_class, npos)
    for c in range(6):
        sel = pred_class == c
        cum = np.cumsum(tp[:, sel], axis=1)
        ref = interpolated_average_precision(cum / np.arange(1, sel.sum() + 1), cum / npos[c])
        np.testing.assert_allclose(ap[:, c], ref, rtol=0, atol=1e-14)
    assert np.isnan(ap[:, 6]).all()


# --------------------------------------------------------------------------- loop oracle


def _reference(gt: dict, rows: list, split: str, thresholds: list[float], num_classes: int) -> np.ndarray:
    """The protocol written literally: per class, per ranked prediction, per threshold."""
    kept: dict[tuple[str, int], list] = {}
    for vid, v in gt["database"].items():
        if v["subset"] != split:
            continue
        for a in v["annotations"]:
            key = (vid, a["label_id"])
            seg = a["segment"]
            if not any(abs(seg[0] - k[0]) <= 1e-3 and abs(seg[1] - k[1]) <= 1e-3 for k in kept.get(key, [])):
                kept.setdefault(key, []).append(seg)
    ap = np.full((len(thresholds), num_classes), np.nan)
    for c in range(num_classes):
        gts = {vid: segs for (vid, cc), segs in kept.items() if cc == c}
        npos = sum(len(s) for s in gts.values())
        if npos == 0:
            continue
        preds = sorted([r for r in rows if r[3] == c], key=lambda r: -r[4])  # stable
        for t, thr in enumerate(thresholds):
            taken: set[tuple[str, int]] = set()
            tp = []
            for vid, s, e, _, _ in preds:
                cands = gts.get(vid, [])
                ious = [float(temporal_iou(np.array([s, e]), np.array(g))) for g in cands]
                hit = False
                for j in sorted(range(len(cands)), key=lambda j: -ious[j]):  # stable: first listed wins ties
                    if ious[j] < thr:
                        break
                    if (vid, j) in taken:
                        continue
                    taken.add((vid, j))
                    hit = True
                    break
                tp.append(hit)
            if not preds:
                ap[t, c] = 0.0
                continue
            cum = np.cumsum(tp)
            ap[t, c] = interpolated_average_precision(cum / np.arange(1, len(tp) + 1), cum / npos)
    return ap


@pytest.mark.parametrize(("seed", "block"), [(s, b) for s in range(6) for b in (128, 2)])
def test_matches_loop_reference_on_random_data(seed: int, block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Coarse coordinates and scores make ties, duplicates and contention frequent; a tiny
    matching block splits every group's ranking into many blocks."""
    monkeypatch.setattr(map_module, "_MATCH_BLOCK", block)
    rng = np.random.default_rng(seed)
    n_cls, thresholds = 4, [0.1, 0.3, 0.5, 0.7, 0.9]
    database = {}
    for v in range(12):
        anns = []
        for _ in range(rng.integers(0, 6)):
            s = float(rng.integers(0, 8))
            anns.append({"segment": [s, s + float(rng.integers(1, 5))], "label_id": int(rng.integers(0, n_cls - 1))})
        if anns and rng.random() < 0.5:
            anns.append(dict(anns[0]))
        database[f"v{v}"] = {"subset": "validation" if v < 9 else "training", "duration": 20.0, "annotations": anns}
    gt = {"database": database}
    rows = []
    for _ in range(150):
        vid = f"v{rng.integers(0, 13)}"  # v12 has no ground truth at all
        s = float(rng.integers(0, 8))
        end = s + float(rng.integers(1, 5))
        rows.append((vid, s, end, int(rng.integers(0, n_cls)), float(rng.integers(0, 10)) / 10))
    res = evaluate_detections(gt, _pred(rows), "validation", thresholds, num_classes=n_cls)
    ref = _reference(gt, rows, "validation", thresholds, n_cls)
    np.testing.assert_allclose(res.ap_per_class, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.mAP, np.nanmean(ref, axis=1), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- reports


def test_report_round_trip(tmp_path: Path, map_fixtures: Path) -> None:
    exp = _expected(map_fixtures)
    task = next(iter(exp))
    db = load_annotation_db(map_fixtures / f"{task}_gt.json")
    res = evaluate_detections(
        db,
        load_predictions(map_fixtures / f"{task}_pred.json"),
        exp[task]["split"],
        exp[task]["tiou_thresholds"],
        num_classes=len(db.classes) + 1,  # one class without ground truth: NaN column
    )
    report = EvaluationReport(
        tasks={task: TaskReport(task, (exp[task]["split"],), (*db.classes, "extra"), res)},
        metadata={"checkpoint": "x.safetensors", "seed": 3},
    )
    path = write_report(report, tmp_path / "out" / "report.json")
    raw = json.loads(path.read_text())  # strict JSON: NaN written as null
    assert raw["tasks"][task]["ap_per_class"][0][-1] is None
    back = read_report(path)
    assert back.metadata == {"checkpoint": "x.safetensors", "seed": 3}
    tr = back.tasks[task]
    assert tr.subset == (exp[task]["split"],) and tr.classes[-1] == "extra"
    np.testing.assert_array_equal(tr.result.ap_per_class, res.ap_per_class)  # exact, NaN included
    np.testing.assert_array_equal(tr.result.mAP, res.mAP)
    assert tr.result.average_mAP == res.average_mAP
    np.testing.assert_array_equal(tr.result.num_ground_truth, res.num_ground_truth)
    text = format_report(back)
    assert f"average mAP = {100 * res.average_mAP:.2f} %" in text


def test_report_reads_expected_json_layout(map_fixtures: Path) -> None:
    exp = _expected(map_fixtures)
    rep = read_report(map_fixtures / "expected.json")
    assert set(rep.tasks) == set(exp)
    for task, sec in exp.items():
        r = rep.tasks[task].result
        np.testing.assert_array_equal(r.mAP, sec["mAP"])
        np.testing.assert_array_equal(r.ap_per_class, sec["ap_per_class"])
        assert r.num_ground_truth is None and len(rep.tasks[task].classes) == r.ap_per_class.shape[1]


def test_report_errors(tmp_path: Path) -> None:
    good = {
        "split": "validation",
        "tiou_thresholds": [0.5],
        "mAP": [0.1],
        "average_mAP": 0.1,
        "ap_per_class": [[0.1, 0.1]],
    }
    report_from_dict({"TAL": good})
    with pytest.raises(ReportError, match="'TAL'.*'mAP'"):
        report_from_dict({"TAL": {k: v for k, v in good.items() if k != "mAP"}})
    with pytest.raises(ReportError, match="2 thresholds"):
        report_from_dict({"TAL": {**good, "tiou_thresholds": [0.5, 0.6]}})
    with pytest.raises(ReportError, match="class names"):
        report_from_dict({"TAL": {**good, "classes": ["a"]}})
    with pytest.raises(ReportError, match="format"):
        report_from_dict({"format": "other", "tasks": {}})
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ReportError, match="malformed JSON"):
        read_report(bad)
    with pytest.raises(FileNotFoundError):
        read_report(tmp_path / "missing.json")
    assert math.isnan(report_from_dict({"TAL": {**good, "average_mAP": None}}).tasks["TAL"].result.average_mAP)
