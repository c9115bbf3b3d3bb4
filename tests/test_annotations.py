"""Annotation and detection files: layouts, class reconciliation, duplicates, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from uniav.data.annotations import (
    Annotation,
    AnnotationDB,
    AnnotationError,
    DetectionTable,
    VideoRecord,
    as_detections,
    duplicate_mask,
    load_annotation_db,
    load_predictions,
    parse_annotation_db,
    remove_duplicate_annotations,
)


def _write(tmp_path: Path, data: object, name: str = "ann.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


AUTHORS_LAYOUT = {
    "database": {
        "v_abc": {
            "subset": "Validation",
            "duration": 30.5,
            "fps": 29.97,
            "annotations": [
                {"segment": [1.0, 5.5], "label": "dog barking", "label_id": 2},
                {"segment": [3, 9], "label": "car horn", "label_id": 0},
            ],
        },
        "v_def": {
            "subset": "training",
            "duration": 12.0,
            "annotations": [{"segment": [0.0, 12.0], "label": "car horn", "label_id": 0}],
        },
        "v_test": {"subset": "testing", "duration": 8.0, "annotations": []},
        "v_noann": {"subset": "testing", "duration": 8.0},
    }
}


# --------------------------------------------------------------------------- ground truth


def test_authors_layout(tmp_path: Path) -> None:
    db = load_annotation_db(_write(tmp_path, AUTHORS_LAYOUT))
    assert db.classes == ("car horn", "class_1", "dog barking")  # id 1 never named
    assert list(db.videos) == ["v_abc", "v_def", "v_test", "v_noann"]
    v = db.videos["v_abc"]
    assert v == VideoRecord(
        "v_abc",
        "Validation",
        30.5,
        29.97,
        (Annotation(1.0, 5.5, "dog barking", 2), Annotation(3.0, 9.0, "car horn", 0)),
    )
    assert isinstance(v.annotations[1].start, float)
    assert db.videos["v_def"].fps is None
    assert db.videos["v_test"].annotations == () == db.videos["v_noann"].annotations
    assert db.num_annotations == 3
    assert db.subsets() == {"validation", "training", "testing"}


def test_subset_selection_is_case_insensitive(tmp_path: Path) -> None:
    db = load_annotation_db(_write(tmp_path, AUTHORS_LAYOUT))
    assert list(db.subset("VALIDATION").videos) == ["v_abc"]
    both = db.subset("validation", "Training")
    assert list(both.videos) == ["v_abc", "v_def"] and both.classes == db.classes
    with pytest.raises(ValueError, match=r"\['val'\].*subsets present"):
        db.subset("val")
    with pytest.raises(ValueError, match="at least one"):
        db.subset()


def test_class_list_given(tmp_path: Path) -> None:
    classes = ["car horn", "siren", "dog barking"]
    db = load_annotation_db(_write(tmp_path, AUTHORS_LAYOUT), classes=classes)
    assert db.classes == tuple(classes)
    assert db.videos["v_abc"].annotations[0].label == "dog barking"
    with pytest.raises(AnnotationError, match=r"v_abc.*'dog barking' has label_id 2.*'siren'"):
        load_annotation_db(_write(tmp_path, AUTHORS_LAYOUT), classes=["car horn", "dog barking", "siren"])
    with pytest.raises(AnnotationError, match="label_id 2 is outside the 2 given classes"):
        load_annotation_db(_write(tmp_path, AUTHORS_LAYOUT), classes=["car horn", "dog barking"])
    with pytest.raises(AnnotationError, match="duplicate names"):
        load_annotation_db(_write(tmp_path, AUTHORS_LAYOUT), classes=["a", "a", "b"])


def test_label_only_files(tmp_path: Path) -> None:
    data = {
        "database": {
            "a": {
                "subset": "training",
                "duration": 10,
                "annotations": [{"segment": [0, 1], "label": "zebra"}, {"segment": [1, 2], "label": "apple"}],
            },
            "b": {"subset": "validation", "duration": 10, "annotations": [{"segment": [0, 1], "label": "mango"}]},
        }
    }
    db = parse_annotation_db(data)
    assert db.classes == ("apple", "mango", "zebra")  # sorted names
    assert [a.label_id for a in db.videos["a"].annotations] == [2, 0]
    db = parse_annotation_db(data, classes=["zebra", "mango", "apple", "kiwi"])
    assert [a.label_id for a in db.videos["a"].annotations] == [0, 2]
    with pytest.raises(AnnotationError, match=r"video 'b': label 'mango' is not in the given classes"):
        parse_annotation_db(data, classes=["zebra", "apple"])


def test_id_only_files_take_names_from_class_list(tmp_path: Path) -> None:
    data = {
        "database": {"a": {"subset": "validation", "duration": 5, "annotations": [{"segment": [0, 1], "label_id": 1}]}}
    }
    assert parse_annotation_db(data).classes == ("class_0", "class_1")
    db = parse_annotation_db(data, classes=["cat", "dog", "cow"])
    assert db.videos["a"].annotations[0] == Annotation(0.0, 1.0, "dog", 1)


def test_mixed_label_forms_are_reconciled() -> None:
    data = {
        "database": {
            "a": {
                "subset": "validation",
                "duration": 5,
                "annotations": [
                    {"segment": [0, 1], "label": "dog", "label_id": 1},
                    {"segment": [1, 2], "label": "dog"},
                    {"segment": [2, 3], "label": "bird"},
                    {"segment": [3, 4], "label_id": 0},
                ],
            }
        }
    }
    db = parse_annotation_db(data)
    assert db.classes == ("class_0", "dog", "bird")
    assert [a.label_id for a in db.videos["a"].annotations] == [1, 1, 2, 0]


def test_inconsistent_labels_are_rejected() -> None:
    def db_of(*anns: dict) -> dict:
        return {
            "database": {
                "x": {
                    "subset": "training",
                    "duration": 5,
                    "annotations": [{"segment": [0, 1], "label": "a", "label_id": 0}],
                },
                "y": {"subset": "training", "duration": 5, "annotations": list(anns)},
            }
        }

    with pytest.raises(AnnotationError, match=r"video 'y': label 'a' has label_id 1 here but 0 elsewhere"):
        parse_annotation_db(db_of({"segment": [0, 1], "label": "a", "label_id": 1}))
    with pytest.raises(AnnotationError, match=r"video 'y': label_id 0 is named 'b' here but 'a' elsewhere"):
        parse_annotation_db(db_of({"segment": [0, 1], "label": "b", "label_id": 0}))
    with pytest.raises(AnnotationError, match="clash"):
        parse_annotation_db(db_of({"segment": [0, 1], "label": "class_1", "label_id": 2}))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"duration": 5, "annotations": []}, r"video 'bad': missing key 'subset'"),
        ({"subset": "training", "annotations": []}, r"video 'bad': missing key 'duration'"),
        ({"subset": 3, "duration": 5}, r"video 'bad': 'subset' must be a string"),
        ({"subset": "training", "duration": "long"}, r"video 'bad': 'duration' must be a finite number"),
        ({"subset": "training", "duration": 5, "fps": 0}, r"video 'bad': 'fps' must be positive"),
        ({"subset": "training", "duration": 5, "annotations": {}}, r"'annotations' must be a list"),
        (
            {"subset": "training", "duration": 5, "annotations": [{"label_id": 0}]},
            r"video 'bad', annotation #0: missing key 'segment'",
        ),
        (
            {"subset": "training", "duration": 5, "annotations": [{"segment": [0, 1]}]},
            r"video 'bad', annotation #0: missing key 'label_id'",
        ),
        (
            {"subset": "training", "duration": 5, "annotations": [{"segment": [0, 1, 2], "label_id": 0}]},
            r"'segment' must be \[start, end\]",
        ),
        (
            {"subset": "training", "duration": 5, "annotations": [{"segment": [2, 1], "label_id": 0}]},
            r"ends before it starts",
        ),
        (
            {"subset": "training", "duration": 5, "annotations": [{"segment": [0, None], "label_id": 0}]},
            r"segment end must be a finite number",
        ),
        (
            {"subset": "training", "duration": 5, "annotations": [{"segment": [0, 1], "label_id": -1}]},
            r"'label_id' must be a non-negative integer",
        ),
        (
            {"subset": "training", "duration": 5, "annotations": [{"segment": [0, 1], "label_id": 1.5}]},
            r"'label_id' must be a non-negative integer",
        ),
        (
            {"subset": "training", "duration": 5, "annotations": [{"segment": [0, 1], "label": 7}]},
            r"'label' must be a string",
        ),
        ("not an object", r"video 'bad': expected an object"),
    ],
)
def test_malformed_entries_name_video_and_key(tmp_path: Path, entry: object, message: str) -> None:
    data = {"database": {"good": {"subset": "training", "duration": 1, "annotations": []}, "bad": entry}}
    path = _write(tmp_path, data)
    with pytest.raises(AnnotationError, match=message) as err:
        load_annotation_db(path)
    assert str(path) in str(err.value)


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_annotation_db(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"database": {"a": ')
    with pytest.raises(AnnotationError, match="malformed JSON at line 1"):
        load_annotation_db(broken)
    with pytest.raises(AnnotationError, match="top level"):
        load_annotation_db(_write(tmp_path, [1, 2]))
    with pytest.raises(AnnotationError, match="'database' must be an object"):
        load_annotation_db(_write(tmp_path, {"database": []}))
    assert isinstance(AnnotationError("x"), ValueError)


def test_map_fixture_ground_truth(map_fixtures: Path) -> None:
    expected = json.loads((map_fixtures / "expected.json").read_text())
    for task in expected:
        raw = json.loads((map_fixtures / f"{task}_gt.json").read_text())["database"]
        db = load_annotation_db(map_fixtures / f"{task}_gt.json")
        assert list(db.videos) == list(raw)
        assert db.num_annotations == sum(len(v["annotations"]) for v in raw.values())
        max_id = max(a["label_id"] for v in raw.values() for a in v["annotations"])
        assert db.classes == tuple(f"class_{i}" for i in range(max_id + 1))
        vid, entry = next(iter(raw.items()))
        rec = db.videos[vid]
        assert (rec.subset, rec.duration) == (entry["subset"], entry["duration"])
        assert [(a.start, a.end, a.label_id) for a in rec.annotations] == [
            (*a["segment"], a["label_id"]) for a in entry["annotations"]
        ]
        # the fixture holds exact duplicates: removal shrinks some videos, never adds
        removed = sum(len(r.annotations) - len(remove_duplicate_annotations(r.annotations)) for r in db.videos.values())
        assert removed > 0
        assert expected[task]["split"] in db.subsets()


# --------------------------------------------------------------------------- duplicates


def test_remove_duplicate_annotations_follows_kept_ones() -> None:
    a = Annotation(0.0, 10.0, "x", 0)
    b = Annotation(0.0008, 10.0008, "x", 0)  # duplicate of a
    c = Annotation(0.0016, 10.0, "x", 0)  # within tol of b (dropped) but not of a: kept
    d = Annotation(0.0, 10.0, "y", 1)  # other label
    e = Annotation(0.001, 9.999, "x", 0)  # exactly at the tolerance of a: duplicate
    assert remove_duplicate_annotations([a, b, c, d, e]) == (a, c, d)
    assert remove_duplicate_annotations([]) == ()
    assert remove_duplicate_annotations((a,)) == (a,)
    assert remove_duplicate_annotations([a, b], tol=1e-4) == (a, b)


def test_duplicate_mask_over_groups() -> None:
    group = np.array([0, 1, 0, 1, 0, 2])
    seg = np.array([[0, 1], [0, 1], [0, 1], [5, 6], [0.0005, 1], [0, 1]])
    np.testing.assert_array_equal(duplicate_mask(group, seg), [False, False, True, False, True, False])
    np.testing.assert_array_equal(duplicate_mask(group[:1], seg[:1]), [False])


@pytest.mark.parametrize("seed", range(4))
def test_duplicate_mask_matches_sequential_rule(seed: int) -> None:
    """Ends on a 0.0006 s grid: neighbours are within the 1e-3 tolerance, second neighbours not,
    so chains of near-duplicates are common."""
    rng = np.random.default_rng(seed)
    n = 300
    group = rng.integers(0, 4, n)
    seg = np.stack([rng.integers(0, 4, n) * 6e-4, 1 + rng.integers(0, 4, n) * 6e-4], axis=1)
    kept: list[int] = []
    expected = np.zeros(n, dtype=bool)
    for i in range(n):
        if any(group[j] == group[i] and np.abs(seg[j] - seg[i]).max() <= 1e-3 for j in kept):
            expected[i] = True
        else:
            kept.append(i)
    got = duplicate_mask(group, seg)
    np.testing.assert_array_equal(got, expected)
    assert 0 < got.sum() < n - 4


# --------------------------------------------------------------------------- detections


def test_map_fixture_predictions(map_fixtures: Path) -> None:
    expected = json.loads((map_fixtures / "expected.json").read_text())
    for task in expected:
        raw = json.loads((map_fixtures / f"{task}_pred.json").read_text())["database"]
        dets = load_predictions(map_fixtures / f"{task}_pred.json")
        flat = [(vid, d) for vid, ds in raw.items() for d in ds]
        assert len(dets) == len(flat)
        assert dets.video_ids == tuple(raw)
        assert [dets.video_ids[i] for i in dets.video_index] == [v for v, _ in flat]
        np.testing.assert_array_equal(dets.segments, [d["segment"] for _, d in flat])
        np.testing.assert_array_equal(dets.label_ids, [d["label_id"] for _, d in flat])
        np.testing.assert_array_equal(dets.scores, [d["scores"] for _, d in flat])
        assert dets.segments.dtype == np.float64 and dets.label_ids.dtype == np.int64


def test_prediction_variants_and_errors(tmp_path: Path) -> None:
    data = {
        "database": {
            "a": [
                {"segment": [0, 1], "label": "dog", "score": 0.5},
                {"segment": [1, 2], "label_id": 0, "scores": 0.25},
            ],
            "b": [],
        }
    }
    dets = load_predictions(_write(tmp_path, data), classes=["cat", "dog"])
    np.testing.assert_array_equal(dets.label_ids, [1, 0])
    np.testing.assert_array_equal(dets.scores, [0.5, 0.25])
    assert dets.video_ids == ("a", "b")
    with pytest.raises(AnnotationError, match="pass the class list"):
        load_predictions(_write(tmp_path, data))
    bad = {"database": {"a": [{"segment": [0, 1], "label_id": 0}]}}
    with pytest.raises(AnnotationError, match=r"video 'a', detection #0: missing key 'scores'"):
        load_predictions(_write(tmp_path, bad))
    bad = {
        "database": {
            "a": [{"segment": [0, 1], "label_id": 0, "scores": 1.0}],
            "b": [{"segment": [0, 1], "label_id": 5, "scores": 1.0}],
        }
    }
    with pytest.raises(AnnotationError, match=r"video 'b', detection #0: label_id 5 is outside the 2"):
        load_predictions(_write(tmp_path, bad), classes=["cat", "dog"])
    bad = {"database": {"a": [{"segment": [0, 1], "label_id": 0, "scores": "high"}]}}
    with pytest.raises(AnnotationError, match=r"detection #0: 'scores' must be a finite number"):
        load_predictions(_write(tmp_path, bad))
    with pytest.raises(AnnotationError, match="expected a list of detections"):
        load_predictions(_write(tmp_path, {"database": {"a": {}}}))
    empty = load_predictions(_write(tmp_path, {"database": {}}))
    assert len(empty) == 0 and empty.segments.shape == (0, 2)


def test_detections_constructors() -> None:
    d = DetectionTable.from_arrays(["b", "a", "b"], [[0, 1], [1, 2], [2, 3]], [1, 0, 1], [0.1, 0.2, 0.3])
    assert d.video_ids == ("b", "a")
    np.testing.assert_array_equal(d.video_index, [0, 1, 0])
    r = DetectionTable.from_video_results(
        [
            {"video_id": "b", "segments": np.array([[0, 1]]), "labels": np.array([1]), "scores": np.array([0.1])},
            {"video_id": "a", "segments": [[1, 2]], "labels": [0], "scores": [0.2]},
        ]
    )
    assert r.video_ids == ("b", "a") and len(r) == 2
    cols = as_detections(
        {"video-id": ["b", "a"], "t-start": [0, 1], "t-end": [1, 2], "label": [1, 0], "score": [0.1, 0.2]}
    )
    np.testing.assert_array_equal(cols.segments, [[0, 1], [1, 2]])
    assert as_detections(d) is d
    with pytest.raises(AnnotationError, match="different lengths"):
        DetectionTable.from_video_results([{"video_id": "a", "segments": [[0, 1]], "labels": [0, 1], "scores": [1]}])
    with pytest.raises(AnnotationError, match="no 'scores' key"):
        DetectionTable.from_video_results([{"video_id": "a", "segments": [[0, 1]], "labels": [0]}])
    with pytest.raises(ValueError, match="finite"):
        DetectionTable.from_arrays(["a"], [[0, 1]], [0], [float("nan")])
    with pytest.raises(ValueError, match="negative"):
        DetectionTable.from_arrays(["a"], [[0, 1]], [-1], [0.5])
    with pytest.raises(AnnotationError, match="integers"):
        DetectionTable.from_arrays(["a"], [[0, 1]], [0.5], [0.5])
    with pytest.raises(TypeError, match="unsupported"):
        as_detections(3)


def test_annotation_db_is_plain_data() -> None:
    rec = VideoRecord("v", "validation", 10.0, None, (Annotation(0.0, 1.0, "a", 0),))
    db = AnnotationDB(classes=("a",), videos={"v": rec})
    assert db.subset("validation").videos == {"v": rec}
    with pytest.raises(AttributeError):
        rec.subset = "training"  # type: ignore[misc]
