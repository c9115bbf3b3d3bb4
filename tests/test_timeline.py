"""The studio's pure views: the timeline figure, the detections table, the status line, the downloads."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from uniav.pipeline.results import Detection, DetectionResult, TaskResult
from uniav.studio import (
    TABLE_COLUMNS,
    build_lane,
    detection_table,
    download_stem,
    empty_timeline,
    stack_levels,
    stale_timeline,
    status_markdown,
    timeline_figure,
    write_downloads,
)
from uniav.studio.timeline import MARGIN_PX, ROW_PX, STALE_ANNOTATION, TICK_CHAR_PX, TICK_LABEL_CHARS
from uniav.vocabularies import Vocabulary


def _result() -> DetectionResult:
    tal = TaskResult(
        "TAL",
        (Detection("jump", 0.5, 2.0, 0.9), Detection("run", 1.0, 4.0, 0.4), Detection("jump", 6.0, 7.5, 0.65)),
        vocabulary=Vocabulary("TAL", ("run", "jump", "swim"), "A visual event of {label}."),
    )
    avel = TaskResult("AVEL", (), vocabulary=Vocabulary("AVEL", ("dog barking",), "An audio visual event of {label}."))
    sed = TaskResult(
        "SED", skipped="SED needs sound and this file has no audio track", vocabulary=Vocabulary("SED", ("dog",))
    )
    return DetectionResult(
        file="my clip.mp4",
        duration=10.0,
        tasks={"TAL": tal, "AVEL": avel, "SED": sed},
        notes=("no audio track: audio features computed on silence",),
        model="m",
    )


def _axis(fig, kind: str, i: int):
    return fig.layout[f"{kind}axis{'' if i == 0 else i + 1}"]


def test_lane_rows_follow_the_vocabulary_and_bars_keep_their_times():
    lane = build_lane(_result().tasks["TAL"], threshold=0.3)
    assert lane.rows == ("run", "jump")  # vocabulary order, only labels with detections
    assert lane.labels == ("jump", "run", "jump")
    np.testing.assert_allclose(lane.starts, [0.5, 1.0, 6.0])
    np.testing.assert_allclose(lane.ends, [2.0, 4.0, 7.5])
    np.testing.assert_allclose(lane.scores, [0.9, 0.4, 0.65])
    # the two "jump" bars do not overlap: one sub-row per label; rows from the top: run, then jump
    assert lane.depths.tolist() == [1, 1] and lane.levels.tolist() == [0, 0, 0]
    assert lane.positions.tolist() == [1, 0, 1] and lane.height_rows == 2
    assert lane.message is None
    assert build_lane(_result().tasks["AVEL"], 0.3).message == "no detection with a score of 0.30 or more"
    assert build_lane(_result().tasks["SED"]).message.startswith("not run: SED needs sound")


def test_figure_has_one_lane_per_task_and_bars_from_start_to_end_coloured_by_score():
    fig = timeline_figure(_result(), {"TAL": 0.3, "AVEL": 0.3, "SED": 0.3})
    bars = [tr for tr in fig.data if tr.type == "bar"]
    assert len(bars) == 1 and len(fig.data) == 3  # only TAL has detections; the others draw empty axes
    bar = bars[0]
    assert [(tr.xaxis, tr.yaxis, len(tr.x)) for tr in fig.data[1:]] == [("x2", "y2", 0), ("x3", "y3", 0)]
    assert bar.orientation == "h" and bar.xaxis == "x" and bar.yaxis == "y"
    assert list(bar.hovertext) == ["jump", "run", "jump"] and list(bar.y) == [1, 0, 1]
    base = np.asarray(bar.base, dtype=float)
    np.testing.assert_allclose(base, [0.5, 1.0, 6.0])
    np.testing.assert_allclose(base + np.asarray(bar.x, dtype=float), [2.0, 4.0, 7.5])
    np.testing.assert_allclose(bar.marker.color, [0.9, 0.4, 0.65])
    assert bar.marker.coloraxis == "coloraxis"
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    np.testing.assert_allclose(bar.customdata, [[0.5, 2.0, 0.9], [1.0, 4.0, 0.4], [6.0, 7.5, 0.65]])
    for field in ("%{hovertext}", "%{customdata[0]", "%{customdata[1]", "%{customdata[2]"):
        assert field in bar.hovertemplate  # label, start, end, score
    y = _axis(fig, "y", 0)
    assert list(y.ticktext) == ["run", "jump"] and list(y.tickvals) == [0.0, 1.0]
    assert tuple(y.range) == (1.5, -0.5)  # the first row on top
    # three lanes, top to bottom in task order, not overlapping, all on the clip's time range
    domains = [tuple(_axis(fig, "y", i).domain) for i in range(3)]
    assert all(lo < hi for lo, hi in domains)
    assert domains[0][0] > domains[1][1] and domains[1][0] > domains[2][1]
    assert all(tuple(_axis(fig, "x", i).range) == (0.0, 10.0) for i in range(3))
    assert _axis(fig, "x", 1).matches == "x" and _axis(fig, "x", 2).matches == "x"
    texts = [a.text for a in fig.layout.annotations]
    assert any("TAL · visual actions" in t and "3 detections" in t for t in texts)
    assert "no detection with a score of 0.30 or more" in texts
    assert any(t.startswith("not run: SED needs sound") for t in texts)


def test_figure_grows_with_rows_and_follows_the_requested_order():
    small = timeline_figure(_result(), order=["TAL"])
    many = TaskResult(
        "TAL",
        tuple(Detection(f"l{i}", i, i + 1.0, 0.5) for i in range(30)),
        vocabulary=Vocabulary("TAL", tuple(f"l{i}" for i in range(30))),
    )
    big = timeline_figure(DetectionResult("a.mp4", 40.0, {"TAL": many}))
    assert big.layout.height > small.layout.height + 20 * 24
    assert len(big.data[0].y) == 30 and len(big.layout.yaxis.ticktext) == 30
    fig = timeline_figure(_result(), order=["SED", "TAL"])
    assert [(tr.type, tr.yaxis) for tr in fig.data] == [("scatter", "y"), ("bar", "y2")]  # TAL is the second lane
    assert "not run" in fig.layout.annotations[1].text
    assert fig.layout.annotations[0].text.startswith("<b>SED")
    assert [tr.type for tr in timeline_figure(_result(), order=["SED"]).data] == ["scatter"]


def test_figure_serialises_and_empty_figure_says_why():
    payload = json.loads(timeline_figure(_result()).to_json())
    assert payload["data"][0]["type"] == "bar"
    empty = empty_timeline("Cannot read x.mp4")
    assert len(empty.data) == 0 and empty.layout.annotations[0].text == "Cannot read x.mp4"
    assert timeline_figure(DetectionResult("a", 1.0, {})).layout.annotations[0].text == "no task selected"


def test_table_is_sorted_by_time_then_task_then_score():
    tal = TaskResult(
        "TAL", (Detection("b", 1.0, 2.0, 0.2), Detection("a", 1.0, 3.0, 0.7), Detection("c", 0.25, 0.5, 0.123456))
    )
    sed = TaskResult("SED", (Detection("x", 1.0, 1.5, 0.9), Detection("y", 0.0, 0.333333, 0.5)))
    result = DetectionResult("a.wav", 5.0, {"TAL": tal, "SED": sed})
    table = detection_table(result)  # the result's task order: TAL, then SED
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert table.values.tolist() == [
        ["SED", "y", 0.0, 0.33, 0.5],
        ["TAL", "c", 0.25, 0.5, 0.123],
        ["TAL", "a", 1.0, 3.0, 0.7],
        ["TAL", "b", 1.0, 2.0, 0.2],
        ["SED", "x", 1.0, 1.5, 0.9],
    ]
    assert detection_table(None).empty and list(detection_table(None).columns) == list(TABLE_COLUMNS)
    skipped = DetectionResult("a.wav", 5.0, {"TAL": TaskResult("TAL", skipped="no video")})
    assert detection_table(skipped).empty


def test_status_names_counts_skips_notes_and_escapes_user_text():
    text = status_markdown(
        _result(),
        tracks="video without sound",
        model="m",
        thresholds={"AVEL": 0.25},
        timing="updated in 12 ms",
        pending=["XYZ"],
    )
    assert text.startswith("**my clip.mp4** · 10.0 s · video without sound")
    assert "TAL: 3 detections" in text and "AVEL: none with score ≥ 0.25" in text and "SED: not run" in text
    assert "SED not run: SED needs sound and this file has no audio track" in text
    assert "no audio track: audio features computed on silence" in text
    assert "XYZ was not analysed" in text and "updated in 12 ms" in text
    odd = DetectionResult("not_a_*video*.mp4", 1.0, {})
    assert "not\\_a\\_\\*video\\*.mp4" in status_markdown(odd, tracks="", model="m", thresholds={}, timing="")


def test_downloads_are_the_cli_json_schema_and_csv(tmp_path):
    result = _result()
    json_path, csv_path = write_downloads(result, tmp_path / "s")
    assert json_path.name == "my_clip.uniav.json" and csv_path.name == "my_clip.uniav.csv"
    data = json.loads(json_path.read_text())
    assert data == result.to_dict()
    assert set(data) == {"file", "duration", "model", "knowledge", "notes", "skipped", "tasks"}
    assert data["tasks"]["TAL"][0] == {"label": "jump", "start": 0.5, "end": 2.0, "score": 0.9}
    assert data["skipped"] == {"SED": "SED needs sound and this file has no audio track"}
    assert DetectionResult.from_dict(data).to_dict() == data
    rows = list(csv.reader(io.StringIO(csv_path.read_text())))
    assert rows[0] == ["task", "label", "start", "end", "score"] and len(rows) == 4
    assert rows[1] == ["TAL", "jump", "0.5", "2.0", "0.9"]
    # a rewrite replaces the files in place
    write_downloads(DetectionResult("my clip.mp4", 1.0, {}), tmp_path / "s")
    assert json.loads(json_path.read_text())["tasks"] == {}
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["my_clip.uniav.csv", "my_clip.uniav.json"]


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("clip.mp4", "clip.uniav"),
        ("../../etc/pass wd.mp4", "pass_wd.uniav"),
        ("été 2024!.wav", "t_2024.uniav"),
        ("...", "clip.uniav"),
    ],
)
def test_download_names_are_safe(name, stem):
    assert download_stem(name) == stem


def first_fit(groups, starts, ends) -> list[int]:
    """The reference: bars in start order, each on the lowest sub-row of its group that is free by then."""
    out = [0] * len(starts)
    free_at: dict = {}
    for i in sorted(range(len(starts)), key=lambda i: (groups[i], starts[i], ends[i])):
        rows = free_at.setdefault(groups[i], [])
        k = next((r for r, t in enumerate(rows) if t <= starts[i]), len(rows))
        if k == len(rows):
            rows.append(0.0)
        rows[k] = max(ends[i], starts[i])
        out[i] = k
    return out


@pytest.mark.parametrize("seed", range(6))
def test_overlapping_bars_of_a_label_get_their_own_sub_rows(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    groups = rng.integers(0, 4, n)
    starts = np.round(rng.uniform(0, 30, n), 1)  # rounded: equal starts and touching bars happen
    ends = starts + np.round(rng.choice([0.0, 0.5, 2.0, 8.0], n), 1)
    levels = stack_levels(groups, starts, ends)
    assert levels.tolist() == first_fit(groups.tolist(), starts.tolist(), ends.tolist())
    same = groups[:, None] == groups[None, :]
    overlap = (starts[:, None] < ends[None, :]) & (starts[None, :] < ends[:, None]) & ~np.eye(n, dtype=bool)
    assert not (same & overlap & (levels[:, None] == levels[None, :])).any()  # never on one sub-row
    # as many sub-rows as bars at one time, the fewest possible: a bar and those overlapping it that started no
    # later are all at one time (a clique), and the largest such group needs that many sub-rows
    earlier = starts[None, :] <= starts[:, None]
    at_once = 1 + (same & overlap & earlier).sum(1)
    for g in np.unique(groups):
        assert levels[groups == g].max() + 1 == at_once[groups == g].max()
    assert stack_levels(np.zeros(0, int), np.zeros(0), np.zeros(0)).tolist() == []


def test_overlapping_detections_of_one_label_are_each_visible_with_their_hover():
    dets = (
        Detection("dog", 1.0, 6.0, 0.9),
        Detection("dog", 2.0, 3.0, 0.5),
        Detection("dog", 2.5, 8.0, 0.3),
        Detection("cat", 4.0, 5.0, 0.7),
        Detection("dog", 6.5, 7.0, 0.2),
    )
    res = TaskResult("SED", dets, vocabulary=Vocabulary("SED", ("dog", "cat")))
    lane = build_lane(res)
    assert lane.rows == ("dog", "cat") and lane.depths.tolist() == [3, 1]
    # dog 1-6 on the first sub-row, 2-3 on the second, 2.5-8 on the third; 6.5-7 starts after 1-6 ended: the first
    assert lane.levels.tolist() == [0, 1, 2, 0, 0]
    fig = timeline_figure(DetectionResult("a.wav", 10.0, {"SED": res}))
    (bar,) = fig.data
    y = np.asarray(bar.y)
    assert y.tolist() == [0, 1, 2, 3, 0]  # cat's row starts below dog's three sub-rows
    boxes = list(zip(y, bar.base, np.asarray(bar.base) + np.asarray(bar.x), strict=True))
    for i, (yi, s0, e0) in enumerate(boxes):  # no bar covers another: distinct rows or disjoint times
        for yj, s1, e1 in boxes[i + 1 :]:
            assert yi != yj or e0 <= s1 or e1 <= s0
    assert 0 < bar.width <= 1  # thinner than a sub-row: a gap between stacked bars
    axis = fig.layout.yaxis
    assert list(axis.ticktext) == ["dog", "cat"] and list(axis.tickvals) == [1.0, 3.0]  # centred on their rows
    assert list(axis.minor.tickvals) == [2.5]  # a line between dog's and cat's rows
    assert list(bar.hovertext) == [d.label for d in dets]
    np.testing.assert_allclose(bar.customdata, [[d.start, d.end, d.score] for d in dets])
    cat_only = TaskResult("SED", dets[3:4], vocabulary=Vocabulary("SED", ("cat",)))
    one_row = timeline_figure(DetectionResult("a.wav", 10.0, {"SED": cat_only}))
    assert fig.layout.height - one_row.layout.height == 3 * ROW_PX  # three more sub-rows, each a row's height


def test_lane_titles_carry_the_caveats_and_a_stale_figure_says_it_is_out_of_date():
    fig = timeline_figure(_result(), caveats={"TAL": "⚠ synthetic training data only"})
    titles = [a.text for a in fig.layout.annotations if a.text.startswith("<b>")]
    assert "⚠ synthetic training data only" in titles[0] and all("synthetic" not in t for t in titles[1:])
    stale = stale_timeline(fig, "SED labels: each label once, please; repeated: <dog>")
    banner = [a for a in stale.layout.annotations if a.name == STALE_ANNOTATION]
    assert len(banner) == 1 and banner[0].text.startswith("<b>Out of date</b>: SED labels")
    assert "&lt;dog&gt;" in banner[0].text  # user text escaped for plotly's HTML
    assert (
        stale.layout.height > fig.layout.height and stale.layout.coloraxis.colorscale != fig.layout.coloraxis.colorscale
    )
    (veil,) = stale.layout.shapes
    assert (veil.xref, veil.yref, veil.x0, veil.x1, veil.y0, veil.y1, veil.layer) == (
        "paper",
        "paper",
        0,
        1,
        0,
        1,
        "above",
    )
    assert len(stale.data) == len(fig.data) and not [a for a in fig.layout.annotations if a.name == STALE_ANNOTATION]


def test_long_labels_are_cut_on_the_axis_and_the_margin_fits_the_longest_row():
    long = ("a very long label " * 4).strip()
    res = TaskResult(
        "SED",
        (Detection(long, 0.0, 1.0, 0.5), Detection("dog", 1.0, 2.0, 0.5)),
        vocabulary=Vocabulary("SED", (long, "dog")),
    )
    fig = timeline_figure(DetectionResult("a.wav", 3.0, {"SED": res}))
    ticks = list(fig.layout.yaxis.ticktext)
    assert ticks[1] == "dog" and len(ticks[0]) == TICK_LABEL_CHARS and ticks[0].endswith("…")
    assert long.startswith(ticks[0][:-1]) and fig.data[0].hovertext[0] == long  # the hover keeps it whole
    assert fig.layout.margin.l == MARGIN_PX + TICK_CHAR_PX * TICK_LABEL_CHARS
    dog = TaskResult("SED", res.detections[1:], vocabulary=Vocabulary("SED", ("dog",)))
    assert timeline_figure(DetectionResult("a.wav", 3.0, {"SED": dog})).layout.margin.l == MARGIN_PX + 3 * TICK_CHAR_PX
