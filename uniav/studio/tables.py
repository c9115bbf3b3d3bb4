"""Text views of a result: the detections table (sorted by time) and the status line of the page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from uniav.pipeline.results import DetectionResult
from uniav.studio.errors import md_escape

TABLE_COLUMNS = ("task", "label", "start (s)", "end (s)", "score")


def detection_table(result: DetectionResult | None) -> pd.DataFrame:
    """One row per detection of the tasks that ran, in the order of the CSV download (`DetectionResult.rows`:
    start time, task, best score first); times rounded to 0.01 s, scores to 0.001."""
    if result is None:
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    rows = [(task, d.label, d.start, d.end, d.score) for task, d in result.rows()]
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return frame.round({"start (s)": 2, "end (s)": 2, "score": 3})


def describe_tracks(has_video: bool, has_audio: bool) -> str:
    if has_video and has_audio:
        return "video with sound"
    if has_video:
        return "video without sound"
    return "audio only"


def status_markdown(
    result: DetectionResult,
    *,
    tracks: str,
    model: str,
    thresholds: Mapping[str, float],
    timing: str,
    pending: Sequence[str] = (),
) -> str:
    """The page's status: what was analysed, how many detections per task, what did not run and why,
    the decoder's notes, and how long it took."""
    head = f"**{md_escape(result.file)}** · {result.duration:.1f} s · {tracks} · model `{model}` · {timing}"
    counts = []
    for task, res in result.tasks.items():
        if res.skipped is not None:
            counts.append(f"{task}: not run")
        elif res.detections:
            counts.append(f"{task}: {len(res.detections)} detection{'s' if len(res.detections) != 1 else ''}")
        else:
            counts.append(f"{task}: none with score ≥ {thresholds.get(task, 0.0):.2f}")
    lines = [head, " · ".join(counts)]
    lines += [f"ℹ️ {task} not run: {md_escape(why)}" for task, why in result.skipped.items()]
    lines += [f"ℹ️ {md_escape(note)}" for note in result.notes]
    lines += [f"ℹ️ {task} was not analysed on this clip: press **Detect** to run it" for task in pending]
    return "  \n".join(lines)
