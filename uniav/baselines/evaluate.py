"""mAP of the training-free bridge on a dataset, with the protocol and ground truth of `uniav evaluate`."""

from __future__ import annotations

import numpy as np

from uniav.baselines.detector import BridgeDetector
from uniav.data.annotations import DetectionTable
from uniav.data.dataset import TaskDataset
from uniav.data.features import NpzFeatureStore
from uniav.encoders import ClipFeatures
from uniav.evaluation.report import TaskReport
from uniav.evaluation.runner import evaluate_predictions
from uniav.vocabularies import Vocabulary


def dataset_features(dataset: TaskDataset) -> dict[str, ClipFeatures]:
    """Each video's features with the encoders' scores stored beside them (``uniav extract`` keeps them)."""
    if not isinstance(dataset.store, NpzFeatureStore):
        raise ValueError("the bridge reads the classifier scores of npz features (written by `uniav extract`)")
    out = {}
    for i, vid in enumerate(dataset.video_ids):
        item = dataset[i]
        visual_scores, audio_scores = dataset.store.scores(vid)
        n = item.visual.shape[0]
        out[vid] = ClipFeatures(
            visual=item.visual,
            audio=item.audio,
            duration=item.duration,
            has_video=True,
            has_audio=True,
            visual_scores=None if visual_scores is None else visual_scores[:n],
            audio_scores=None if audio_scores is None else audio_scores[:n],
        )
    return out


def evaluate_bridge(bridge: BridgeDetector, dataset: TaskDataset, template: str = "{label}") -> TaskReport:
    """The bridge's mAP on `dataset`, with the dataset task's labels as the vocabulary."""
    vocab = Vocabulary(dataset.task.name, dataset.task.labels, template)
    results = bridge.detect_features(dataset_features(dataset), vocab)
    index = {lab: i for i, lab in enumerate(vocab.labels)}
    rows = [(vid, d) for vid, res in results.items() for d in res.detections]
    if not rows:
        empty = DetectionTable((), np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0))
        return evaluate_predictions(dataset, empty)
    table = DetectionTable.from_arrays(
        [vid for vid, _ in rows],
        np.array([[d.start, d.end] for _, d in rows]),
        np.array([index[d.label] for _, d in rows]),
        np.array([d.score for _, d in rows]),
    )
    return evaluate_predictions(dataset, table)
