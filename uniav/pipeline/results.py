"""Detections of a clip and their file formats (JSON and CSV).

JSON schema (``uniav predict --format json``)::

    {
      "file": "clip.mp4",                    # the input, as given
      "duration": 12.5,                      # seconds
      "model": "checkpoints/uniav-synth",    # where the model came from
      "notes": ["no audio track: ..."],      # decoding / input remarks for the user
      "skipped": {"SED": "no audio track: ..."},   # tasks not run, and why
      "tasks": {                             # per task that ran, detections sorted by start time
        "TAL": [{"label": "bouncing ball", "start": 1.25, "end": 7.5, "score": 0.81}, ...],
        ...
      }
    }

CSV: one row per detection, columns ``task,label,start,end,score``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
    """A task's detections (sorted by start time), or why it did not run."""

    task: str
    detections: tuple[Detection, ...] = ()
    skipped: str | None = None
    labels: tuple[str, ...] = ()
    template: str = ""


@dataclass(frozen=True)
class DetectionResult:
    file: str
    duration: float
    tasks: Mapping[str, TaskResult]
    notes: tuple[str, ...] = ()
    model: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

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
            "notes": list(self.notes),
            "skipped": self.skipped,
            "tasks": {k: [d.to_dict() for d in v.detections] for k, v in self.ran.items()},
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["task", "label", "start", "end", "score"])
        for task, res in self.ran.items():
            for d in res.detections:
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
            file=d["file"],
            duration=float(d["duration"]),
            tasks=tasks,
            notes=tuple(d.get("notes", ())),
            model=d.get("model"),
        )
