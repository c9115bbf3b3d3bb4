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
    status_markdown,
    timeline_figure,
    write_downloads,
)


def _result() -> DetectionResult:
    tal = TaskResult(
        "TAL",
        (Detection("jump", 0.5, 2.0, 0.9), Detection("run", 1.0, 4.0, 0.4), Detection("jump", 6.0, 7.5, 0.65)),
        labels=("run", "jump", "swim"),
        template="A visual event of {label}.",
    )
    avel = TaskResult("AVEL", (), labels=("dog barking",), template="An audio visual event of {label}.")
    sed = TaskResult("SED", skipped="SED needs sound and this file has no audio track", labels=("dog",))
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
    base = np.asarray(bar.base, dtype=float)
    np.testing.assert_allclose(base, [0.5, 1.0, 6.0])
    np.testing.assert_allclose(base + np.asarray(bar.x, dtype=float), [2.0, 4.0, 7.5])
    np.testing.assert_allclose(bar.marker.color, [0.9, 0.4, 0.65])
    assert bar.marker.coloraxis == "coloraxis"
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    np.testing.assert_allclose(bar.customdata, [[0.5, 2.0, 0.9], [1.0, 4.0, 0.4], [6.0, 7.5, 0.65]])
    for field in ("%{y}", "%{customdata[0]", "%{customdata[1]", "%{customdata[2]"):
        assert field in bar.hovertemplate  # label, start, end, score
    assert list(_axis(fig, "y", 0).categoryarray) == ["run", "jump"]
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
        "TAL", tuple(Detection(f"l{i}", i, i + 1.0, 0.5) for i in range(30)), labels=tuple(f"l{i}" for i in range(30))
    )
    big = timeline_figure(DetectionResult("a.mp4", 40.0, {"TAL": many}))
    assert big.layout.height > small.layout.height + 20 * 24
    assert len(big.data[0].y) == 30 and len(big.layout.yaxis.categoryarray) == 30
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
    table = detection_table(result, order=["TAL", "SED"])
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
    assert set(data) == {"file", "duration", "model", "notes", "skipped", "tasks"}
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
