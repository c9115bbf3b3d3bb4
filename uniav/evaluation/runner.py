"""Run a model over datasets and measure it: detections in seconds, then ActivityNet-protocol mAP.

Inference follows the official evaluation: each video is one whole sequence in its task's regime
(`uniav.data.transforms.to_grid`: TAL resized to ``max_seq_len``, others as they are, longer ones too),
padded by the model's inference rule (to ``max_seq_len``, or for a longer input to the next multiple of
the largest pyramid stride), decoded, per-class Soft-NMS, converted to seconds and clipped to the
duration. The official code evaluates one video at a time; the position embedding of an input depends
on its padded length, so videos are batched only with others of the same padded length, which gives
the same numbers as one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from uniav.config import ClassifierKind, TaskConfig
from uniav.data.annotations import Detections
from uniav.data.dataset import TaskDataset
from uniav.data.transforms import to_grid
from uniav.evaluation.map import evaluate_detections
from uniav.evaluation.report import EvaluationReport, TaskReport
from uniav.model.uniav import UniAV

if TYPE_CHECKING:
    from uniav.encoders.base import Encoder
    from uniav.training.config import TaskDataConfig


def predict_dataset(model: UniAV, dataset: TaskDataset, text: torch.Tensor | None, batch_size: int = 16) -> Detections:
    """Detections (seconds, task label ids) of `model` on every video of `dataset` (see the module docstring).

    `text`: the (C, text_dim) prompt embeddings of the task's labels (None for a convolutional classifier).
    The model is put in eval mode for the call and given back in the mode it was in.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    task = model.config.task(dataset.task.name)
    if text is not None:
        text = text.to(next(model.parameters()).device, torch.float32)
    was_training = model.training
    model.eval()
    results: list[dict[str, Any]] = []
    try:
        with torch.inference_mode():
            pending: dict[int, list] = {}  # padded length -> samples waiting for a full batch

            def flush(length: int) -> None:
                samples = pending.pop(length)
                batch = model.make_batch([s.visual for s in samples], [s.audio for s in samples], task.name)
                out = model(batch.visual, batch.audio, batch.mask, task.name, text)
                for s, det in zip(samples, model.detect(out, task.name, [s.timing for s in samples]), strict=True):
                    results.append(
                        {
                            "video_id": s.video_id,
                            "segments": det.segments.cpu().numpy(),
                            "labels": det.labels.cpu().numpy(),
                            "scores": det.scores.cpu().numpy(),
                        }
                    )

            for i in range(len(dataset)):
                sample = to_grid(dataset[i], task)
                length = model.padded_length(sample.length, task.name)
                pending.setdefault(length, []).append(sample)
                if len(pending[length]) == batch_size:
                    flush(length)
            for length in sorted(pending):
                flush(length)
    finally:
        model.train(was_training)
    if not results:
        return Detections((), np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0))
    order = {vid: k for k, vid in enumerate(dataset.video_ids)}
    results.sort(key=lambda r: order[r["video_id"]])  # dataset order, whatever the batching
    return Detections.from_video_results(results)


def evaluate_predictions(dataset: TaskDataset, detections: Detections, task: TaskConfig | None = None) -> TaskReport:
    """mAP of `detections` on `dataset` (its videos and subsets) at the task's tIoU thresholds."""
    task = task or dataset.task
    result = evaluate_detections(
        dataset.ground_truth, detections, dataset.subsets, task.tiou_thresholds, num_classes=task.num_classes
    )
    return TaskReport(task=task.name, subset=dataset.subsets, classes=tuple(task.labels), result=result)


def evaluate_model(
    model: UniAV, datasets: Mapping[str, TaskDataset], texts: Mapping[str, torch.Tensor | None], batch_size: int = 16
) -> EvaluationReport:
    """mAP per task (the task's tIoU thresholds) of `model` on each dataset's subsets.

    `datasets` and `texts` are keyed by task name; a task missing from `texts` gets None (convolutional
    classifier). Metadata: the model's source, the number of videos and predictions per task, and the
    videos left out for lack of features.
    """
    tasks: dict[str, TaskReport] = {}
    meta: dict[str, Any] = {"model": model.source, "videos": {}, "predictions": {}, "missing_features": {}}
    for name, dataset in datasets.items():
        task = model.config.task(name)
        if tuple(dataset.task.labels) != tuple(task.labels):
            raise ValueError(
                f"dataset of {task.name} was built with another vocabulary than the model's "
                f"({dataset.task.num_classes} vs {task.num_classes} labels): build it with "
                "model.config.task(name)"
            )
        dets = predict_dataset(model, dataset, texts.get(name), batch_size)
        tasks[task.name] = evaluate_predictions(dataset, dets, task)
        meta["videos"][task.name] = len(dataset)
        meta["predictions"][task.name] = len(dets)
        meta["missing_features"][task.name] = len(dataset.missing)
    return EvaluationReport(tasks=tasks, metadata=meta)


def prompt_embeddings(
    model: UniAV, task: TaskConfig, data: TaskDataConfig | None, encoder: Encoder | None = None
) -> torch.Tensor | None:
    """The (C, text_dim) embeddings of a task's class prompts (rows follow ``task.labels``).

    In order: ``data.prompt_embeddings`` (a .npy file) when given; else the embeddings attached to the model;
    else ``encoder.encode_text`` of ``task.prompts()`` (of the bare labels when the model does not use prompt
    templates), with `encoder` defaulting to the model's own encoder (`build_encoder(model.config.encoder)`).
    None for a model with convolutional classifiers.
    """
    cfg = model.config
    if cfg.classifier is not ClassifierKind.LANGUAGE:
        return None
    want = (task.num_classes, cfg.text_dim)
    if data is not None and data.prompt_embeddings:
        path = Path(data.prompt_embeddings)
        if not path.is_file():
            raise FileNotFoundError(f"prompt embeddings of {task.name} not found: {path}")
        emb = np.load(path, allow_pickle=False)
        if emb.shape != want:
            raise ValueError(
                f"{path}: prompt embeddings of {task.name} must be {want} (one row per label), got {emb.shape}"
            )
        return torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
    attached = model.prompt_embeddings.get(task.name)
    if attached is not None:
        return attached.float()
    if encoder is None:
        from uniav.encoders import build_encoder

        encoder = build_encoder(cfg.encoder)
    prompts = task.prompts() if cfg.use_prompt_template else list(task.labels)
    emb = np.asarray(encoder.encode_text(prompts), dtype=np.float32)
    if emb.shape != want:
        raise ValueError(
            f"encoder {encoder.spec.kind!r} gives text embeddings of shape {emb.shape}; the model expects {want}"
        )
    return torch.from_numpy(emb)
