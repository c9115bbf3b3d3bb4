"""Run a model over datasets and measure it: detections in seconds, then ActivityNet-protocol mAP.

Inference is the product's own path (`uniav.pipeline.analysis`), so the mAP reported is the mAP of what
``uniav predict`` outputs: each video in its task's regime (TAL resampled to ``max_seq_len`` steps; AVEL and
SED as they are, in windows of ``max_seq_len`` steps when longer), every window padded to ``max_seq_len``
(the official inference rule for inputs that fit), decoded, per-class Soft-NMS, windows merged, converted
to seconds and clipped to the duration. For videos that fit in one window (every video of the paper's
datasets in their training regime) this is the official evaluation exactly.

The vocabulary evaluated is the dataset task's labels with the model's prompt template: the model's
training labels, or other labels (zero-shot evaluation on unseen classes: build the dataset with them).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uniav.config import TaskConfig
from uniav.data.annotations import DetectionTable
from uniav.data.config import TaskDataConfig
from uniav.data.dataset import TaskDataset
from uniav.evaluation.map import evaluate_detections
from uniav.evaluation.report import EvaluationReport, TaskReport
from uniav.model.uniav import UniAV
from uniav.pipeline.analysis import analyze_sequences, prepare_sequence, score_analyses
from uniav.pipeline.prompts import PromptEmbedder
from uniav.vocabularies import Vocabulary

CLIPS_PER_PASS = 64  # videos analysed and scored together (bounds the memory of cached outputs)


def evaluation_vocabulary(model: UniAV, dataset: TaskDataset) -> Vocabulary:
    """What a dataset is evaluated with: its task's labels (ids of its ground truth) and the model's template."""
    return model.config.task(dataset.task.name).vocabulary.with_labels(dataset.task.labels)


def predict_dataset(
    model: UniAV, dataset: TaskDataset, prompts: PromptEmbedder, batch_size: int = 16
) -> DetectionTable:
    """Detections (seconds, label ids of the dataset's task) of `model` on every video of `dataset`, in
    dataset order (see the module docstring). The model is put in eval mode for the call and given back in
    the mode it was in."""
    task = model.config.task(dataset.task.name)
    vocab = evaluation_vocabulary(model, dataset)
    text, class_map = prompts.text(vocab), prompts.class_map(vocab)
    ids, segments, labels, scores = [], [], [], []
    for a in range(0, len(dataset), CLIPS_PER_PASS):
        items = [dataset[i] for i in range(a, min(a + CLIPS_PER_PASS, len(dataset)))]
        seqs = [prepare_sequence(task, it.visual, it.audio, it.duration) for it in items]
        dets = score_analyses(model, task, analyze_sequences(model, task, seqs, batch_size), text, class_map)
        ids.append(np.asarray([items[i].video_id for i in dets.sequence], dtype=object))
        segments.append(dets.segments)
        labels.append(dets.labels)
        scores.append(dets.scores.astype(np.float64))
    if not ids or not sum(len(x) for x in ids):
        return DetectionTable((), np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0))
    return DetectionTable.from_arrays(
        np.concatenate(ids).astype(str), np.concatenate(segments), np.concatenate(labels), np.concatenate(scores)
    )


def evaluate_predictions(dataset: TaskDataset, detections: DetectionTable) -> TaskReport:
    """mAP of `detections` (label ids of the dataset's task) on `dataset` (its videos and subsets) at the
    task's tIoU thresholds."""
    task = dataset.task
    result = evaluate_detections(
        dataset.ground_truth, detections, dataset.subsets, task.tiou_thresholds, num_classes=task.num_classes
    )
    return TaskReport(task=task.name, subset=dataset.subsets, classes=tuple(task.labels), result=result)


def evaluate_model(
    model: UniAV, datasets: Mapping[str, TaskDataset], prompts: PromptEmbedder, batch_size: int = 16
) -> EvaluationReport:
    """mAP per task (the task's tIoU thresholds) of `model` on each dataset's subsets.

    `datasets` are keyed by task name; each is evaluated with `evaluation_vocabulary` (the model's own labels,
    or the dataset's for an open-vocabulary evaluation); `prompts` embeds the vocabularies (the model's text
    encoder and attached embeddings). Metadata: the model's source, the number of videos and predictions per
    task, and the videos left out for lack of features.
    """
    tasks: dict[str, TaskReport] = {}
    meta: dict[str, Any] = {"model": model.source, "videos": {}, "predictions": {}, "missing_features": {}}
    for name, dataset in datasets.items():
        task = model.config.task(name)
        dets = predict_dataset(model, dataset, prompts.with_model(model), batch_size)
        tasks[task.name] = evaluate_predictions(dataset, dets)
        meta["videos"][task.name] = len(dataset)
        meta["predictions"][task.name] = len(dets)
        meta["missing_features"][task.name] = len(dataset.missing)
    return EvaluationReport(tasks=tasks, metadata=meta)


def load_prompt_embeddings(task: TaskConfig, data: TaskDataConfig, text_dim: int) -> torch.Tensor | None:
    """The (C, text_dim) prompt embeddings a task's data section names (``prompt_embeddings``, a .npy file
    with one row per label, for encoders that cannot embed text), or None when it names none."""
    if not data.prompt_embeddings:
        return None
    path = Path(data.prompt_embeddings)
    if not path.is_file():
        raise FileNotFoundError(f"prompt embeddings of {task.name} not found: {path}")
    emb = np.load(path, allow_pickle=False)
    want = (task.num_classes, text_dim)
    if emb.shape != want:
        raise ValueError(f"{path}: prompt embeddings of {task.name} must be {want} (a row per label), got {emb.shape}")
    return torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
