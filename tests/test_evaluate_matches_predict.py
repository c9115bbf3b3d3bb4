"""`uniav evaluate` measures what `uniav predict` outputs: one inference path, long clips (several windows) too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import signal_model_config, write_test_clip
from uniav.cli import main
from uniav.data.annotations import DetectionTable, load_annotation_db
from uniav.evaluation.map import evaluate_detections
from uniav.model.uniav import UniAV

TASK = "SED"
DURATIONS = (25.0, 9.0, 31.0)  # the SED windows hold 64 steps of 0.25 s: two of the clips need several


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Clips, a model, and ground truth derived from what that model predicts (so that the mAP is not 0)."""
    root = tmp_path_factory.mktemp("eval-vs-predict")
    videos = root / "data" / "videos"
    videos.mkdir(parents=True)
    for i, seconds in enumerate(DURATIONS):
        write_test_clip(videos / f"clip{i}.mp4", seconds=seconds)
    torch.manual_seed(3)
    UniAV(signal_model_config()).save_pretrained(root / "model")
    return root


def run_cli(args: list[str], capsys) -> str:
    assert main(args) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def predictions(root: Path, capsys) -> dict[str, dict]:
    """`uniav predict` of every clip with no threshold and no limit (what evaluation scores)."""
    out = {}
    for i in range(len(DURATIONS)):
        text = run_cli(
            ["predict", str(root / "data" / "videos" / f"clip{i}.mp4"), "--model", str(root / "model")]
            + ["--tasks", TASK, "--threshold", "0", "--top-k", "100000", "--quiet"],
            capsys,
        )
        out[f"clip{i}"] = json.loads(text)
    return out


def test_evaluate_gives_the_map_of_the_predict_outputs(dataset, capsys, monkeypatch):
    monkeypatch.setenv("UNIAV_CACHE", str(dataset / "cache"))
    model = UniAV.from_pretrained(dataset / "model")
    labels = model.config.task(TASK).labels
    preds = predictions(dataset, capsys)
    # ground truth: each clip's three best predictions, shifted a little, as annotations of the test subset
    database = {}
    for vid, doc in preds.items():
        dets = doc["tasks"][TASK]
        best = sorted((d for d in dets if d["end"] - d["start"] > 1.0), key=lambda d: -d["score"])[:3]
        anns = [
            {"segment": [d["start"] + 0.3, d["end"] - 0.2], "label": d["label"], "label_id": labels.index(d["label"])}
            for d in best
        ]
        # the media's own duration (what predict clips to), as an annotation file of these clips would say
        database[vid] = {"subset": "test", "duration": doc["duration"], "annotations": anns}
    ann_file = dataset / "data" / "annotations.json"
    ann_file.write_text(json.dumps({"database": database}))
    run_cli(
        ["extract", str(dataset / "data"), "--encoder", "signal", "--task", TASK, "--out", str(dataset / "f")]
        + ["--quiet"],
        capsys,
    )
    report = dataset / "report.json"
    run_cli(
        ["evaluate", str(dataset / "model"), "--data", f"{TASK}={ann_file}", "--features", f"{TASK}={dataset / 'f'}"]
        + ["-o", str(report)],
        capsys,
    )
    evaluated = json.loads(report.read_text())["tasks"][TASK]

    # score the predict outputs with the same protocol
    rows = [(vid, d) for vid, doc in preds.items() for d in doc["tasks"][TASK]]
    table = DetectionTable.from_arrays(
        [vid for vid, _ in rows],
        np.array([[d["start"], d["end"]] for _, d in rows]),
        np.array([labels.index(d["label"]) for _, d in rows]),
        np.array([d["score"] for _, d in rows]),
    )
    gt = load_annotation_db(ann_file)
    gt_by_model_ids = type(gt)(classes=labels, videos=gt.videos)
    scored = evaluate_detections(
        gt_by_model_ids, table, ("test",), model.config.task(TASK).tiou_thresholds, num_classes=len(labels)
    )
    assert evaluated["average_mAP"] > 0.05  # a meaningful comparison, not 0 == 0
    # the JSON rounds times to 1 ms and scores to 1e-4: the same mAP up to that rounding
    assert evaluated["average_mAP"] == pytest.approx(scored.average_mAP, abs=2e-3)
    np.testing.assert_allclose(evaluated["mAP"], scored.mAP, atol=5e-3)
