"""Where one task's data lives and how it is batched (the ``tasks`` entries of a training configuration,
also built by ``uniav evaluate --data``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FeatureFormat(StrEnum):
    """How a task's feature folder is laid out."""

    NPZ = "npz"  # one {id}.npz per video, written by `uniav extract`
    ONE_PEACE = "one-peace"  # the authors' {id}_one_peace_{video_finetune,audio}.npy files


@dataclass(frozen=True)
class TaskDataConfig:
    """Where one task's data lives and how it is batched."""

    annotations: str
    features: str
    feature_format: FeatureFormat = FeatureFormat.NPZ
    media_dir: str | None = None  # media to extract features from when they are missing
    train_split: tuple[str, ...] = ("train",)
    val_split: tuple[str, ...] = ("validation",)
    test_split: tuple[str, ...] = ("test",)
    prompt_embeddings: str | None = None  # (C, text_dim) .npy for encoders that cannot embed text
    batch_size: int = 16
    overrides: dict[str, Any] = field(default_factory=dict)  # TaskConfig fields

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "feature_format", FeatureFormat(self.feature_format))
        except ValueError:
            known = ", ".join(repr(f.value) for f in FeatureFormat)
            raise ValueError(f"feature_format must be one of {known}, got {self.feature_format!r}") from None
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
