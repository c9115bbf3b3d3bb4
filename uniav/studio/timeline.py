"""The timeline figure: one lane per task, a row per detected label, bars from start to end.

Bars are coloured by score on one shared colour scale (0 to 1) and hover with label, times and score.
A lane whose task did not run (audio-only input, no sound track...) or found nothing above its
threshold says so in words. Lanes are laid out by hand (axis domains in pixels) rather than with
`make_subplots`, which is several times slower to build: the figure is rebuilt on every edit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from uniav.pipeline.results import DetectionResult, TaskResult

TASK_TITLES = {"TAL": "visual actions", "AVEL": "audio-visual events", "SED": "sound events"}
COLORSCALE = "Viridis"
ROW_PX = 24  # height of one label row
LANE_TITLE_PX = 34  # space above each lane for its title
GAP_PX = 18  # between lanes
TOP_PX, BOTTOM_PX = 16, 52
EMPTY_LANE_ROWS = 1.6  # height, in rows, of a lane with nothing to draw


@dataclass(frozen=True)
class Lane:
    """What one lane shows: the rows (labels with detections, in vocabulary order) and the bars."""

    task: str
    rows: tuple[str, ...]
    labels: tuple[str, ...]  # per bar
    starts: np.ndarray
    ends: np.ndarray
    scores: np.ndarray
    message: str | None  # shown instead of bars (skipped task, nothing above threshold)

    @property
    def height_rows(self) -> float:
        return len(self.rows) if self.rows else EMPTY_LANE_ROWS


def task_title(task: str) -> str:
    what = TASK_TITLES.get(task)
    return f"{task} · {what}" if what else task


def build_lane(res: TaskResult, threshold: float | None = None) -> Lane:
    """The lane of one task's result (rows follow the vocabulary's order, then first appearance)."""
    dets = res.detections
    labels = tuple(d.label for d in dets)
    starts = np.fromiter((d.start for d in dets), float, len(dets))
    ends = np.fromiter((d.end for d in dets), float, len(dets))
    scores = np.fromiter((d.score for d in dets), float, len(dets))
    order = {lab: i for i, lab in enumerate(res.labels)}
    # vocabulary order; labels outside the vocabulary (none from a Detector) after, by first appearance
    rows = tuple(sorted(dict.fromkeys(labels), key=lambda lab: order.get(lab, len(order))))
    message = None
    if res.skipped is not None:
        message = f"not run: {res.skipped}"
    elif not dets:
        message = "no detection" + (f" with a score of {threshold:.2f} or more" if threshold is not None else "")
    return Lane(res.task, rows, labels, starts, ends, scores, message)


def timeline_figure(
    result: DetectionResult, thresholds: Mapping[str, float] | None = None, order: Sequence[str] | None = None
) -> go.Figure:
    """The figure of `result`: lanes in `order` (default: the result's task order), top to bottom."""
    thresholds = thresholds or {}
    names = [t for t in (order or list(result.tasks)) if t in result.tasks]
    lanes = [build_lane(result.tasks[t], thresholds.get(t)) for t in names]
    if not lanes:
        return empty_timeline("no task selected")
    duration = max(float(result.duration), 1e-3)
    lane_px = [lane.height_rows * ROW_PX + LANE_TITLE_PX for lane in lanes]
    plot_px = sum(lane_px) + GAP_PX * (len(lanes) - 1)
    height = TOP_PX + plot_px + BOTTOM_PX

    traces: list[go.Bar] = []
    layout: dict = {
        "template": "none",  # styled here; plotly's default template would add ~9 KB to every update
        "height": height,
        "margin": {"l": 10, "r": 10, "t": TOP_PX, "b": BOTTOM_PX},
        "barmode": "overlay",
        "bargap": 0.25,
        "showlegend": False,
        "plot_bgcolor": "#f7f7f9",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"align": "left"},
        "coloraxis": {
            "colorscale": COLORSCALE,
            "cmin": 0.0,
            "cmax": 1.0,
            "colorbar": {
                "title": {"text": "score", "side": "top"},
                "thickness": 12,
                "len": 0.9,
                "lenmode": "fraction",
                "outlinewidth": 0,
            },
        },
        "annotations": [],
    }
    top = plot_px  # pixels from the bottom of the plot area to the top of the current lane
    for i, (lane, px) in enumerate(zip(lanes, lane_px, strict=True)):
        suffix = "" if i == 0 else str(i + 1)
        lo, hi = (top - px) / plot_px, (top - LANE_TITLE_PX) / plot_px
        top -= px + GAP_PX
        last = i == len(lanes) - 1
        layout[f"xaxis{suffix}"] = {
            "anchor": f"y{suffix}",
            "domain": [0.0, 1.0],
            "range": [0.0, duration],
            "showgrid": True,
            "gridcolor": "#e3e3e8",
            "zeroline": False,
            "ticksuffix": " s",
            "showticklabels": True,
            **({"matches": "x"} if i else {}),
            **({"title": {"text": "time (seconds)"}} if last else {}),
        }
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "domain": [max(lo, 0.0), min(hi, 1.0)],
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(lane.rows),
            "autorange": "reversed",
            "fixedrange": True,
            "automargin": True,
            "showgrid": False,
            "showticklabels": bool(lane.rows),
            **({"range": [-0.5, 0.5]} if not lane.rows else {}),
        }
        n = len(lane.labels)
        layout["annotations"].append(
            {
                "text": f"<b>{task_title(lane.task)}</b>" + (f" · {n} detection{'s' if n != 1 else ''}" if n else ""),
                "xref": "paper",
                "yref": "paper",
                "x": 0.0,
                "y": hi,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 13},
            }
        )
        if lane.message:
            layout["annotations"].append(
                {
                    "text": lane.message,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": (lo + hi) / 2,
                    "xanchor": "center",
                    "yanchor": "middle",
                    "showarrow": False,
                    "font": {"size": 12, "color": "#666"},
                }
            )
        if not n:  # an empty trace, so that plotly draws the lane's axes all the same
            traces.append(
                go.Scatter(
                    x=[], y=[], mode="markers", hoverinfo="skip", xaxis=f"x{suffix}", yaxis=f"y{suffix}", name=lane.task
                )
            )
        else:
            traces.append(
                go.Bar(
                    orientation="h",
                    y=list(lane.labels),
                    base=lane.starts,
                    x=lane.ends - lane.starts,
                    marker={"color": lane.scores, "coloraxis": "coloraxis", "line": {"width": 0.5, "color": "white"}},
                    customdata=np.stack([lane.starts, lane.ends, lane.scores], axis=1),
                    opacity=0.9,
                    hovertemplate=(
                        "<b>%{y}</b><br>%{customdata[0]:.2f} s – %{customdata[1]:.2f} s"
                        "<br>score %{customdata[2]:.3f}<extra>" + lane.task + "</extra>"
                    ),
                    xaxis=f"x{suffix}",
                    yaxis=f"y{suffix}",
                    name=lane.task,
                )
            )
    return go.Figure(data=traces, layout=layout)


def empty_timeline(message: str) -> go.Figure:
    """A blank figure that says why there is nothing to show."""
    return go.Figure(
        layout={
            "template": "none",
            "height": 160,
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "plot_bgcolor": "rgba(0,0,0,0)",
            "paper_bgcolor": "rgba(0,0,0,0)",
            "annotations": [
                {
                    "text": message,
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                    "font": {"size": 14, "color": "#666"},
                }
            ],
        }
    )
