"""Clip-level recognition from detections: which labels a clip is about, and top-k accuracy over clips.

A single recording ("is this a dog?") is judged the way a user reads the output: a label's score on the
clip is its best detection's score (0 without one); the clip's ranking is the vocabulary sorted by that
score, ties broken by vocabulary order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uniav.pipeline.results import TaskResult


def label_scores(result: TaskResult, labels: Sequence[str]) -> np.ndarray:
    """(C,) each label's best detection score in `result` (0 for a label without detection)."""
    index = {lab: i for i, lab in enumerate(labels)}
    scores = np.zeros(len(labels))
    for d in result.detections:
        i = index.get(d.label)
        if i is not None:
            scores[i] = max(scores[i], d.score)
    return scores


def ranked_labels(result: TaskResult, labels: Sequence[str]) -> list[str]:
    """The labels, best first."""
    order = np.argsort(-label_scores(result, labels), kind="stable")
    return [labels[i] for i in order]


def top_k_hits(rankings: Sequence[Sequence[str]], truths: Sequence[str], k: int) -> np.ndarray:
    """(N,) whether each clip's true label is among its `k` best."""
    if len(rankings) != len(truths):
        raise ValueError(f"{len(rankings)} rankings for {len(truths)} true labels")
    return np.array([truth in list(r[:k]) for r, truth in zip(rankings, truths, strict=True)], dtype=bool)
