"""Evaluation: ActivityNet-protocol detection mAP and result reports."""

from uniav.evaluation.map import (
    MapResult,
    evaluate_detections,
    interpolated_average_precision,
    match_detections,
    temporal_iou,
)
from uniav.evaluation.report import (
    EvaluationReport,
    ReportError,
    TaskReport,
    format_report,
    read_report,
    write_report,
)

__all__ = [
    "EvaluationReport",
    "MapResult",
    "ReportError",
    "TaskReport",
    "format_report",
    "read_report",
    "write_report",
    "evaluate_detections",
    "interpolated_average_precision",
    "match_detections",
    "temporal_iou",
]
