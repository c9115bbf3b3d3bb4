"""The bundled default model: loads offline, fits the size budget, has its card, and finds the
annotated events of the example clips that ship in assets/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from uniav.defaults import bundled_model_dir
from uniav.encoders import FeatureCache
from uniav.pipeline.detector import Detector

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "synth"


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> Detector:
    return Detector.from_pretrained(bundled_model_dir(), feature_cache=FeatureCache(tmp_path_factory.mktemp("c")))


def ground_truth(kind: str) -> dict:
    return json.loads((ASSETS / kind / "annotations.json").read_text())["database"]


def tiou(a, b) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def test_folder_size_and_card():
    folder = bundled_model_dir()
    assert sum(f.stat().st_size for f in folder.iterdir()) < 25 * 2**20
    card = (folder / "README.md").read_text()
    assert "library_name: uniav" in card and "uniav train configs/uniav-synth.yaml" in card
    assert "single-task" in card and "it recognises the synthetic classes" in card.lower().replace("**", "")


@pytest.mark.parametrize(("kind", "task"), [("avel", "AVEL"), ("sed", "SED"), ("tal", "TAL")])
def test_finds_the_annotated_events_of_the_examples(detector, kind, task, min_tiou=0.5):
    found, total = 0, 0
    for vid, rec in ground_truth(kind).items():
        result = detector.run(ASSETS / kind / "videos" / f"{vid}.mp4", tasks=[task], threshold=0.3)
        dets = result.tasks[task].detections
        for ann in rec["annotations"]:
            total += 1
            found += any(d.label == ann["label"] and tiou((d.start, d.end), ann["segment"]) >= min_tiou for d in dets)
    assert total > 0 and found / total >= 0.6, (found, total)


def test_scores_separate_true_labels_from_others(detector):
    rec = ground_truth("sed")["sed_00000"]
    result = detector.run(ASSETS / "sed" / "videos" / "sed_00000.mp4", tasks=["sed"], threshold=0.0, top_k=None)
    present = {a["label"] for a in rec["annotations"]}
    best = {}
    for d in result.tasks["SED"].detections:
        best[d.label] = max(best.get(d.label, 0.0), d.score)
    assert np.mean([best.get(x, 0.0) for x in present]) > 2 * np.mean(
        [v for k, v in best.items() if k not in present] or [0.0]
    )
