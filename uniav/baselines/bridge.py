"""Bridging a pretrained classifier's classes to a user's labels by text similarity (no training).

A pretrained classifier (YAMNet: 521 AudioSet classes; EfficientNet-Lite0: 1,000 ImageNet classes) scores
every snippet of a clip. A user's label ("dog barking") is matched to the classifier's class names ("Bark",
"Dog", ...) by the cosine of their sentence embeddings (MiniLM): the label's probability at a snippet is a
similarity-weighted mean of the sigmoid scores of its `top` nearest classes (softmax of the cosines over
`temperature`). All of it is two matrix products, vectorised over snippets, classes and labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

TextFn = Callable[[Sequence[str]], np.ndarray]

DEFAULT_TOP = 3
DEFAULT_TEMPERATURE = 0.05


def _normalised(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def softmax_scores(logits: np.ndarray) -> np.ndarray:
    """The classifier's own probabilities: sigmoid for multi-label (AudioSet) or softmax (ImageNet)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid_scores(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


@dataclass(frozen=True, eq=False)
class ClassBridge:
    """The classifier's class names and their L2-normalised text embeddings (K, D)."""

    class_names: tuple[str, ...]
    class_embeddings: np.ndarray
    top: int = DEFAULT_TOP
    temperature: float = DEFAULT_TEMPERATURE

    @classmethod
    def build(cls, class_names: Sequence[str], encode_text: TextFn, **kwargs) -> ClassBridge:
        names = tuple(class_names)
        if not names:
            raise ValueError("a class bridge needs the classifier's class names")
        return cls(names, _normalised(encode_text(list(names))), **kwargs)

    def weights(self, label_embeddings: np.ndarray) -> np.ndarray:
        """(C, K) weights of each label over the classes: softmax of the `top` highest cosines, zero elsewhere."""
        sims = _normalised(label_embeddings) @ self.class_embeddings.T  # (C, K)
        k = min(self.top, sims.shape[1])
        keep = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, keep, axis=1) / self.temperature
        top = np.exp(top - top.max(axis=1, keepdims=True))
        w = np.zeros_like(sims)
        np.put_along_axis(w, keep, top / top.sum(axis=1, keepdims=True), axis=1)
        return w

    def nearest(self, label_embeddings: np.ndarray) -> list[str]:
        """Each label's single nearest class name (for reports)."""
        sims = _normalised(label_embeddings) @ self.class_embeddings.T
        return [self.class_names[i] for i in sims.argmax(axis=1)]

    def label_scores(self, class_probs: np.ndarray, label_embeddings: np.ndarray) -> np.ndarray:
        """(T, C) label probabilities from (T, K) class probabilities."""
        return np.asarray(class_probs, dtype=np.float64) @ self.weights(label_embeddings).T
