"""JSON reports of evaluation results (one section per task).

Layout (the per-task keys are those of the reference ``expected.json`` fixtures, so such a
file reads as a report too)::

    {"format": "uniav-evaluation", "version": 1,
     "metadata": {...free-form JSON...},
     "tasks": {"TAL": {"split": "validation",            # or a list of subset names
                       "tiou_thresholds": [...], "mAP": [...], "average_mAP": x,
                       "ap_per_class": [[...], ...],       # T x K, null for classes without gt
                       "classes": [...], "num_ground_truth": [...]}}}

A mapping of task sections without the envelope (the ``expected.json`` layout) is accepted
when reading. Floats are written with ``repr`` precision, so a report round-trips exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uniav.evaluation.map import MapResult

FORMAT_NAME = "uniav-evaluation"
FORMAT_VERSION = 1


class ReportError(ValueError):
    """A report file does not follow the layout above."""


@dataclass(frozen=True)
class TaskReport:
    """One task's result: the subsets evaluated, class names (by id) and the numbers."""

    task: str
    subset: tuple[str, ...]
    classes: tuple[str, ...]
    result: MapResult


@dataclass(frozen=True)
class EvaluationReport:
    """Results of several tasks plus free-form metadata (checkpoint, dataset files, ...)."""

    tasks: dict[str, TaskReport]
    metadata: dict[str, Any] = field(default_factory=dict)


def report_to_dict(report: EvaluationReport) -> dict[str, Any]:
    """The JSON-ready mapping of a report (NaN written as null)."""
    tasks = {}
    for name, tr in report.tasks.items():
        r = tr.result
        section: dict[str, Any] = {
            "split": tr.subset[0] if len(tr.subset) == 1 else list(tr.subset),
            "tiou_thresholds": _floats(r.tiou_thresholds),
            "mAP": _floats(r.mAP),
            "average_mAP": _float(r.average_mAP),
            "ap_per_class": [_floats(row) for row in np.asarray(r.ap_per_class)],
            "classes": list(tr.classes),
        }
        if r.num_ground_truth is not None:
            section["num_ground_truth"] = [int(x) for x in r.num_ground_truth]
        tasks[name] = section
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "metadata": dict(report.metadata), "tasks": tasks}


def report_from_dict(data: Mapping[str, Any], source: str = "<mapping>") -> EvaluationReport:
    """Parse a report mapping (with or without the envelope); raises ReportError on bad layout."""
    if not isinstance(data, Mapping):
        raise ReportError(f"{source}: expected a JSON object, got {type(data).__name__}")
    if "tasks" in data:
        if data.get("format", FORMAT_NAME) != FORMAT_NAME:
            raise ReportError(f"{source}: unknown report format {data.get('format')!r}")
        if int(data.get("version", FORMAT_VERSION)) > FORMAT_VERSION:
            raise ReportError(f"{source}: report version {data['version']} is newer than {FORMAT_VERSION}")
        tasks, metadata = data["tasks"], dict(data.get("metadata", {}))
    else:
        tasks, metadata = data, {}
    if not isinstance(tasks, Mapping):
        raise ReportError(f"{source}: 'tasks' must map task names to results")
    return EvaluationReport(
        tasks={str(name): _task_from_dict(str(name), sec, source) for name, sec in tasks.items()},
        metadata=metadata,
    )


def write_report(report: EvaluationReport, path: str | Path) -> Path:
    """Write ``report`` as JSON to ``path`` (parent folders created); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report_to_dict(report), indent=2, allow_nan=False)
    p.write_text(text + "\n", encoding="utf-8")
    return p


def read_report(path: str | Path) -> EvaluationReport:
    """Read a report written by :func:`write_report` (or an ``expected.json``-style file)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"report not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(f"{p}: malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}") from err
    return report_from_dict(data, source=str(p))


def format_report(report: EvaluationReport) -> str:
    """A plain-text summary: mAP per threshold and the average, per task (percent)."""
    lines = []
    for name, tr in report.tasks.items():
        r = tr.result
        lines.append(f"[{name}] subset {', '.join(tr.subset)}")
        for t, m in zip(r.tiou_thresholds, r.mAP, strict=True):
            lines.append(f"  tIoU = {t:.2f}: mAP = {100 * m:.2f} %")
        lines.append(f"  average mAP = {100 * r.average_mAP:.2f} %")
    return "\n".join(lines)


def _task_from_dict(name: str, sec: Any, source: str) -> TaskReport:
    where = f"{source}: task {name!r}"
    if not isinstance(sec, Mapping):
        raise ReportError(f"{where}: expected an object")
    for key in ("split", "tiou_thresholds", "mAP", "average_mAP", "ap_per_class"):
        if key not in sec:
            raise ReportError(f"{where}: missing key {key!r}")
    try:
        thr = _array(sec["tiou_thresholds"])
        m_ap = _array(sec["mAP"])
        ap = _array(sec["ap_per_class"]).reshape(thr.size, -1) if thr.size else np.zeros((0, 0))
        avg = float("nan") if sec["average_mAP"] is None else float(sec["average_mAP"])
    except (TypeError, ValueError) as err:
        raise ReportError(f"{where}: numbers malformed ({err})") from err
    if m_ap.shape != thr.shape or ap.shape[0] != thr.size:
        raise ReportError(
            f"{where}: {thr.size} thresholds but mAP has {m_ap.size} values and ap_per_class {ap.shape[0]} rows"
        )
    n_cls = ap.shape[1]
    classes = tuple(sec.get("classes", [f"class_{i}" for i in range(n_cls)]))
    if len(classes) != n_cls:
        raise ReportError(f"{where}: {len(classes)} class names for {n_cls} ap_per_class columns")
    counts = sec.get("num_ground_truth")
    if counts is not None and len(counts) != n_cls:
        raise ReportError(f"{where}: {len(counts)} num_ground_truth values for {n_cls} classes")
    split = sec["split"]
    subset = (split,) if isinstance(split, str) else tuple(str(s) for s in split)
    result = MapResult(
        tiou_thresholds=thr,
        mAP=m_ap,
        average_mAP=avg,
        ap_per_class=ap,
        num_ground_truth=None if counts is None else np.asarray(counts, dtype=np.int64),
    )
    return TaskReport(task=name, subset=subset, classes=classes, result=result)


def _float(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _floats(values: Any) -> list[float | None]:
    return [_float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _array(values: Any) -> np.ndarray:
    """JSON numbers (null = NaN, nested lists allowed) as a float64 array."""
    return np.array(values, dtype=np.float64)  # None -> nan
