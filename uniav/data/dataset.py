"""One task's dataset: the videos of some subsets of an annotation file that have features.

Annotation files follow the authors' layout (ActivityNet 1.3, UnAV-100, DESED and UniAV-Synth alike, see
`uniav.data.annotations`). Class names come from the file (ordered by ``label_id``); when a
``classes.txt`` sits beside it (UniAV-Synth writes one, line i = label_id i) that list is used, so classes
without any instance keep their names. Labels of a `TaskDataset` are ids into the *task's* vocabulary
(``TaskConfig.labels``), matched by name, so a model and a file may order their classes differently.

Splits: ``train`` / ``val`` / ``test`` select the subsets named in `TaskDataConfig` (``train_split``,
``val_split``, ``test_split``; e.g. DESED trains on "validation" and tests on "public_eval").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from uniav.config import TaskConfig
from uniav.data.annotations import (
    Annotation,
    AnnotationDB,
    VideoRecord,
    load_annotation_db,
    remove_duplicate_annotations,
)
from uniav.data.features import FeatureError, FeatureStore, open_feature_store
from uniav.vocabularies import parse_vocabulary

if TYPE_CHECKING:
    from uniav.data.config import TaskDataConfig

log = logging.getLogger(__name__)
CLASSES_FILE = "classes.txt"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class VideoItem:
    """One video: features (T, Dv) / (T, Da) float32, duration (seconds, from the annotation file),
    ground truth segments (N, 2) in seconds and labels (N,) int64 (task label ids), duplicates removed."""

    video_id: str
    duration: float
    visual: np.ndarray
    audio: np.ndarray
    segments: np.ndarray
    labels: np.ndarray


def annotation_classes(annotations: str | Path) -> tuple[str, ...] | None:
    """The ``classes.txt`` beside an annotation file (line i = label_id i), or None when there is none."""
    path = Path(annotations).with_name(CLASSES_FILE)
    if not path.is_file():
        return None
    return tuple(parse_vocabulary(path.read_text(encoding="utf-8")))


def load_task_annotations(data: TaskDataConfig) -> AnnotationDB:
    """The task's annotation file, with the class list of its ``classes.txt`` when present."""
    return load_annotation_db(data.annotations, classes=annotation_classes(data.annotations))


def task_vocabulary(data: TaskDataConfig) -> tuple[str, ...]:
    """Class names of the task's annotation file, ordered by id."""
    return load_task_annotations(data).classes


def split_subsets(data: TaskDataConfig, split: str) -> tuple[str, ...]:
    """The annotation subsets of ``split`` ("train", "val" or "test")."""
    table = {"train": data.train_split, "val": data.val_split, "test": data.test_split}
    if split not in table:
        raise ValueError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    subsets = tuple(table[split])
    if not subsets:
        raise ValueError(f"the {split} split names no annotation subset")
    return subsets


class TaskDataset:
    """The videos of `subsets` (case-insensitive) of `db` that `store` has features for.

    ``video_ids`` keeps the file order; ``missing`` lists the videos of the subsets without features (they
    are left out, with a warning). ``ground_truth`` is the annotation database of exactly these videos with
    class ids of the task's vocabulary: what evaluation compares predictions with.
    Items are built on access (features are read from the store each time).
    """

    def __init__(self, task: TaskConfig, db: AnnotationDB, store: FeatureStore, subsets: Sequence[str]) -> None:
        if isinstance(subsets, str):
            subsets = (subsets,)
        self.task = task
        self.store = store
        self.subsets = tuple(subsets)
        selected = db.subset(*self.subsets)
        index = {name: i for i, name in enumerate(task.labels)}
        used = sorted({a.label for rec in selected.videos.values() for a in rec.annotations})
        unknown = [name for name in used if name not in index]
        if unknown:
            raise ValueError(
                f"task {task.name}: label(s) {unknown[:10]}{' ...' if len(unknown) > 10 else ''} of the annotation "
                f"file are not in the task's vocabulary of {task.num_classes} labels"
            )
        kept: dict[str, VideoRecord] = {}
        missing: list[str] = []
        for vid, rec in selected.videos.items():
            if store.has(vid):
                kept[vid] = rec
            else:
                missing.append(vid)
        self.missing = tuple(missing)
        if not kept:
            raise FeatureError(
                f"task {task.name}: none of the {len(selected.videos)} videos of subset(s) {list(self.subsets)} has "
                f"features in {getattr(store, 'folder', store)} (extract them with `uniav extract`)"
            )
        if missing:
            log.warning(
                "task %s: %d of %d videos of %s have no features and are left out (e.g. %s)",
                task.name,
                len(missing),
                len(selected.videos),
                list(self.subsets),
                missing[:3],
            )
        self.video_ids: list[str] = list(kept)
        self._records = [self._relabel(rec, index) for rec in kept.values()]
        self.ground_truth = AnnotationDB(classes=tuple(task.labels), videos={r.video_id: r for r in self._records})
        self._arrays = [self._ground_truth_arrays(r) for r in self._records]

    @staticmethod
    def _relabel(rec: VideoRecord, index: dict[str, int]) -> VideoRecord:
        anns = tuple(Annotation(a.start, a.end, a.label, index[a.label]) for a in rec.annotations)
        return VideoRecord(rec.video_id, rec.subset, rec.duration, rec.fps, anns)

    @staticmethod
    def _ground_truth_arrays(rec: VideoRecord) -> tuple[np.ndarray, np.ndarray]:
        anns = remove_duplicate_annotations(rec.annotations)
        segments = np.array([(a.start, a.end) for a in anns], dtype=np.float64).reshape(-1, 2)
        labels = np.array([a.label_id for a in anns], dtype=np.int64)
        return segments, labels

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, i: int) -> VideoItem:
        rec = self._records[i]
        visual, audio = self.store.load(rec.video_id)
        segments, labels = self._arrays[i]
        return VideoItem(rec.video_id, rec.duration, visual, audio, segments.copy(), labels.copy())

    def num_annotations(self) -> int:
        """Ground-truth instances after duplicate removal."""
        return int(sum(a[1].size for a in self._arrays))


def check_grid(task: TaskConfig, store: FeatureStore) -> None:
    """Raise when the store's manifest says its features were made on another grid than the task's."""
    m = store.manifest
    if m is None:
        return
    want = (task.feat_stride, task.num_frames, float(task.fps))
    got = (m.grid.stride, m.grid.num_frames, float(m.grid.fps))
    if want != got:
        raise FeatureError(
            f"task {task.name} expects features on a grid of stride {want[0]}, {want[1]} frames at {want[2]} fps, "
            f"but {getattr(store, 'folder', 'the feature folder')} holds stride {got[0]}, {got[1]} frames at "
            f"{got[2]} fps (re-extract with `uniav extract --stride {want[0]}`)"
        )


def load_task_dataset(task: TaskConfig, data: TaskDataConfig, split: str) -> TaskDataset:
    """The `split` ("train", "val" or "test") of a task as configured in `data`."""
    subsets = split_subsets(data, split)
    store = open_feature_store(data)
    check_grid(task, store)
    return TaskDataset(task, load_task_annotations(data), store, subsets)
