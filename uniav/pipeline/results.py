"""Detections of a clip and their file formats (JSON and CSV).

JSON schema (``uniav predict --format json``)::

    {
      "file": "clip.mp4",                    # the input, as given
      "duration": 12.5,                      # seconds
      "model": "checkpoints/uniav-sounds",   # where the model came from
      "knowledge": {                         # what the model knows (`uniav.knowledge.ModelKnowledge`)
        "tasks": {"SED": {"trained_on": "...", "real_world_training": true, "classes": [...]}, ...},
        "encoders": {"visual": "effnet: ...", "audio": "yamnet: ...", "text": "minilm: ..."},
        "note": null
      },
      "notes": ["no audio track: ..."],      # decoding / input remarks for the user
      "skipped": {"SED": "no audio track: ..."},   # tasks not run, and why
      "tasks": {                             # per task that ran, detections sorted by start time
        "TAL": [{"label": "bouncing ball", "start": 1.25, "end": 7.5, "score": 0.81}, ...],
        ...
      }
    }

CSV: one row per detection, columns ``task,label,start,end,score``, in the order of `DetectionResult.rows`
(start time, then task, then best score first), the order the studio's table shows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from uniav.vocabularies import Vocabulary


@dataclass(frozen=True)
class Detection:
    label: str
    start: float
    end: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class TaskResult:
    """A task's detections (sorted by start time) for a vocabulary, or why it did not run."""

    task: str
    detections: tuple[Detection, ...] = ()
    skipped: str | None = None
    vocabulary: Vocabulary | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.vocabulary.labels if self.vocabulary is not None else ()

    def filtered(self, threshold: float, top_k: int | None) -> TaskResult:
        """The detections scoring at least `threshold`, at most `top_k` of them (the best), by start time.

        Filtering is all a threshold does: the detections come from one fixed decoding floor, so the same
        detection has the same extent and score whatever threshold is asked for."""
        kept = sorted((d for d in self.detections if d.score >= threshold), key=lambda d: -d.score)
        if top_k is not None:
            kept = kept[:top_k]
        return replace(self, detections=tuple(sorted(kept, key=lambda d: (d.start, -d.score))))


@dataclass(frozen=True)
class DetectionResult:
    file: str
    duration: float
    tasks: Mapping[str, TaskResult]
    notes: tuple[str, ...] = ()
    model: str | None = None
    knowledge: Mapping[str, Any] | None = None

    @property
    def ran(self) -> dict[str, TaskResult]:
        return {k: v for k, v in self.tasks.items() if v.skipped is None}

    @property
    def skipped(self) -> dict[str, str]:
        return {k: v.skipped for k, v in self.tasks.items() if v.skipped is not None}

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "duration": round(self.duration, 3),
            "model": self.model,
            "knowledge": self.knowledge,
            "notes": list(self.notes),
            "skipped": self.skipped,
            "tasks": {k: [d.to_dict() for d in v.detections] for k, v in self.ran.items()},
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def rows(self) -> list[tuple[str, Detection]]:
        """(task, detection) of every task that ran, by start time, then task order, then best score first."""
        rank = {t: i for i, t in enumerate(self.tasks)}
        pairs = [(task, d) for task, res in self.ran.items() for d in res.detections]
        return sorted(pairs, key=lambda p: (p[1].start, rank[p[0]], -p[1].score))

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["task", "label", "start", "end", "score"])
        for task, d in self.rows():
            dd = d.to_dict()
            w.writerow([task, dd["label"], dd["start"], dd["end"], dd["score"]])
        return buf.getvalue()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DetectionResult:
        tasks: dict[str, TaskResult] = {
            k: TaskResult(
                k, tuple(Detection(x["label"], float(x["start"]), float(x["end"]), float(x["score"])) for x in dets)
            )
            for k, dets in d.get("tasks", {}).items()
        }
        for k, why in d.get("skipped", {}).items():
            tasks[k] = TaskResult(k, skipped=why)
        return cls(
            knowledge=d.get("knowledge"),
            file=d["file"],
            duration=float(d["duration"]),
            tasks=tasks,
            notes=tuple(d.get("notes", ())),
            model=d.get("model"),
        )
