"""The timeline figure: one lane per task, a row per detected label, bars from start to end.

Bars are coloured by score on one shared colour scale (0 to 1) and hover with label, times and score.
Detections of one label that overlap in time are stacked in sub-rows of the label's row (`stack_levels`),
so every bar's extent and colour stays visible. A lane whose task did not run (audio-only input, no sound
track...) or found nothing above its threshold says so in words. Lanes are laid out by hand (axis domains
in pixels) rather than with `make_subplots`, which is several times slower to build: the figure is rebuilt
on every edit. `stale_timeline` greys a figure out under a banner when an edit could not be applied.
"""

from __future__ import annotations

import html
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
BAR_WIDTH = 0.8  # of a sub-row
# row labels: at most this many characters on the axis (the hover shows the whole label), and the left margin
# they need (set here: plotly's automargin would lay the figure out again on every redraw)
TICK_LABEL_CHARS = 32
TICK_CHAR_PX = 7
MARGIN_PX = 10
CAVEAT_COLOR = "#b45309"
STALE_BANNER_PX = 34  # added above a figure marked out of date, for its banner
STALE_ANNOTATION = "stale"  # the banner annotation's name


@dataclass(frozen=True)
class Lane:
    """What one lane shows: a row per label with detections (vocabulary order), split into as many sub-rows as
    the label has detections at once, and the bars, each on its own sub-row."""

    task: str
    rows: tuple[str, ...]  # labels with detections
    depths: np.ndarray  # (rows,) sub-rows of each label's row
    labels: tuple[str, ...]  # per bar
    starts: np.ndarray
    ends: np.ndarray
    scores: np.ndarray
    row_of: np.ndarray  # per bar: the index of its label's row
    levels: np.ndarray  # per bar: its sub-row within its label's row (0 = the first)
    message: str | None  # shown instead of bars (skipped task, nothing above threshold)

    @property
    def height_rows(self) -> float:
        return float(self.depths.sum()) if self.rows else EMPTY_LANE_ROWS

    @property
    def offsets(self) -> np.ndarray:
        """(rows,) the first sub-row of each label's row, counted from the top of the lane."""
        return np.concatenate([[0], np.cumsum(self.depths)[:-1]]).astype(int) if self.rows else np.zeros(0, int)

    @property
    def positions(self) -> np.ndarray:
        """Per bar its sub-row counted from the top of the lane (the y coordinate it is drawn at)."""
        return self.offsets[self.row_of] + self.levels if len(self.row_of) else np.zeros(0, int)


def task_title(task: str) -> str:
    what = TASK_TITLES.get(task)
    return f"{task} · {what}" if what else task


def _follow_all(heads: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Mask of every node reached from `heads` along the functional graph `nxt` (node -> its successor; the
    node ``len(nxt) - 1`` is a sink pointing to itself), by pointer doubling: log2(n) vectorised steps."""
    reach = np.zeros(len(nxt), bool)
    reach[heads] = True
    jump = nxt.copy()
    for _ in range(max(1, int(np.ceil(np.log2(len(nxt)))) + 1)):
        reach[jump[reach]] = True  # reach: nodes k steps away, k < 2^i -> k < 2^(i+1)
        jump = jump[jump]
    return reach


def stack_levels(groups: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per bar its sub-row within its group (label), so that bars of a group that overlap in time never share a
    sub-row: first fit in start order (a bar takes the lowest sub-row whose last bar has ended), which uses as
    many sub-rows as the group has bars at one time, the fewest possible.

    Sub-row by sub-row, the bars of sub-row k are the greedy chain of the bars not yet placed: in each group the
    first by start, then the next one starting at or after its end, and so on; each chain is followed for all
    groups at once by pointer doubling, so the loop runs once per sub-row, not once per bar.
    """
    n = len(starts)
    levels = np.full(n, -1, dtype=int)
    if n == 0:
        return levels
    order = np.lexsort((ends, starts, groups))  # by group, then start time
    g = np.asarray(groups)[order]
    s = np.asarray(starts, dtype=np.float64)[order]
    e = np.maximum(np.asarray(ends, dtype=np.float64)[order], s)
    span = float(e.max() - s.min()) + 1.0
    base = s.min()
    left = np.ones(n, bool)
    level = 0
    while left.any():
        idx = np.flatnonzero(left)
        gi = g[idx]
        # one sorted key per bar: groups apart by more than any time span, so a search never crosses a group
        key_start = gi * span + (s[idx] - base)
        key_end = gi * span + (e[idx] - base)
        m = len(idx)
        nxt = np.maximum(np.searchsorted(key_start, key_end, side="left"), np.arange(1, m + 1))
        nxt[(nxt < m) & (gi[np.minimum(nxt, m - 1)] != gi)] = m  # the next bar is another group's: chain ends
        heads = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
        on_level = _follow_all(heads, np.append(nxt, m))[:m]
        levels[order[idx[on_level]]] = level
        left[idx[on_level]] = False
        level += 1
    return levels


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
    index = {lab: i for i, lab in enumerate(rows)}
    row_of = np.fromiter((index[lab] for lab in labels), int, len(labels))
    levels = stack_levels(row_of, starts, ends)
    depths = np.zeros(len(rows), int)
    np.maximum.at(depths, row_of, levels + 1)
    message = None
    if res.skipped is not None:
        message = f"not run: {res.skipped}"
    elif not dets:
        message = "no detection" + (f" with a score of {threshold:.2f} or more" if threshold is not None else "")
    return Lane(res.task, rows, depths, labels, starts, ends, scores, row_of, levels, message)


def _lane_title(lane: Lane, caveat: str | None) -> str:
    n = len(lane.labels)
    title = f"<b>{task_title(lane.task)}</b>" + (f" · {n} detection{'s' if n != 1 else ''}" if n else "")
    return title + (f' · <span style="color:{CAVEAT_COLOR}">{html.escape(caveat)}</span>' if caveat else "")


def _tick_text(label: str) -> str:
    return label if len(label) <= TICK_LABEL_CHARS else label[: TICK_LABEL_CHARS - 1] + "…"


def _left_margin(lanes: Sequence[Lane]) -> int:
    """Room for the longest row label of any lane (all lanes share the left edge)."""
    longest = max((len(_tick_text(label)) for lane in lanes for label in lane.rows), default=0)
    return MARGIN_PX + TICK_CHAR_PX * longest


def _y_axis(lane: Lane, anchor: str, lo: float, hi: float) -> dict:
    """A lane's y axis: sub-rows 0.. from the top, a tick with the label at the middle of each label's row and
    a faint line between rows."""
    axis = {
        "anchor": anchor,
        "domain": [max(lo, 0.0), min(hi, 1.0)],
        "fixedrange": True,
        "showgrid": False,
        "zeroline": False,
        "showticklabels": bool(lane.rows),
        "range": [lane.height_rows - 0.5, -0.5] if lane.rows else [-0.5, 0.5],
    }
    if lane.rows:
        offsets = lane.offsets
        axis.update(
            tickmode="array",
            tickvals=(offsets + (lane.depths - 1) / 2).tolist(),
            ticktext=[_tick_text(label) for label in lane.rows],
            minor={"tickvals": (offsets[1:] - 0.5).tolist(), "showgrid": True, "gridcolor": "#dcdce3", "ticks": ""},
        )
    return axis


def timeline_figure(
    result: DetectionResult,
    thresholds: Mapping[str, float] | None = None,
    order: Sequence[str] | None = None,
    caveats: Mapping[str, str] | None = None,
) -> go.Figure:
    """The figure of `result`: lanes in `order` (default: the result's task order), top to bottom; `caveats`
    add a remark to a lane's title (e.g. that the model learnt the task from synthetic data only)."""
    thresholds = thresholds or {}
    caveats = caveats or {}
    names = [t for t in (order or list(result.tasks)) if t in result.tasks]
    lanes = [build_lane(result.tasks[t], thresholds.get(t)) for t in names]
    if not lanes:
        return empty_timeline("no task selected")
    duration = max(float(result.duration), 1e-3)
    lane_px = [lane.height_rows * ROW_PX + LANE_TITLE_PX for lane in lanes]
    plot_px = sum(lane_px) + GAP_PX * (len(lanes) - 1)
    height = TOP_PX + plot_px + BOTTOM_PX

    traces: list[go.Bar | go.Scatter] = []
    layout: dict = {
        "template": "none",  # styled here; plotly's default template would add ~9 KB to every update
        "height": height,
        "margin": {"l": _left_margin(lanes), "r": MARGIN_PX, "t": TOP_PX, "b": BOTTOM_PX},
        "barmode": "overlay",
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
        layout[f"yaxis{suffix}"] = _y_axis(lane, f"x{suffix}", lo, hi)
        layout["annotations"].append(
            {
                "text": _lane_title(lane, caveats.get(lane.task)),
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
        if not lane.labels:  # an empty trace, so that plotly draws the lane's axes all the same
            traces.append(
                go.Scatter(
                    x=[], y=[], mode="markers", hoverinfo="skip", xaxis=f"x{suffix}", yaxis=f"y{suffix}", name=lane.task
                )
            )
        else:
            traces.append(
                go.Bar(
                    orientation="h",
                    y=lane.positions,
                    base=lane.starts,
                    x=lane.ends - lane.starts,
                    width=BAR_WIDTH,
                    hovertext=list(lane.labels),
                    marker={"color": lane.scores, "coloraxis": "coloraxis", "line": {"width": 0.5, "color": "white"}},
                    customdata=np.stack([lane.starts, lane.ends, lane.scores], axis=1),
                    opacity=0.9,
                    hovertemplate=(
                        "<b>%{hovertext}</b><br>%{customdata[0]:.2f} s – %{customdata[1]:.2f} s"
                        "<br>score %{customdata[2]:.3f}<extra>" + lane.task + "</extra>"
                    ),
                    xaxis=f"x{suffix}",
                    yaxis=f"y{suffix}",
                    name=lane.task,
                )
            )
    return go.Figure(data=traces, layout=layout)


def stale_timeline(figure: go.Figure, reason: str) -> go.Figure:
    """A copy of `figure` greyed out under a banner saying that it no longer matches the page's settings and
    why (the last edit could not be applied): the timeline stays readable, and nobody takes it for current."""
    out = go.Figure(figure)
    margin_top = (out.layout.margin.t or 0) + STALE_BANNER_PX
    out.update_layout(
        height=(out.layout.height or 160) + STALE_BANNER_PX,
        margin_t=margin_top,
        coloraxis_colorscale="Greys",
    )
    out.add_shape(
        type="rect",
        xref="paper",
        yref="paper",
        x0=0,
        x1=1,
        y0=0,
        y1=1,
        fillcolor="rgba(240,240,244,0.6)",
        line_width=0,
        layer="above",
    )
    out.add_annotation(
        text=f"<b>Out of date</b>: {html.escape(reason)} · the timeline shows the last valid settings",
        xref="paper",
        yref="paper",
        x=0.0,
        y=1.0,
        xanchor="left",
        yanchor="bottom",
        yshift=STALE_BANNER_PX - 26,
        showarrow=False,
        bgcolor="#fff3cd",
        bordercolor="#d39e00",
        borderpad=4,
        font={"size": 13, "color": "#5c4400"},
        name=STALE_ANNOTATION,
    )
    return out


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
