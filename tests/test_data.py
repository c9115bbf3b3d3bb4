"""Datasets, feature stores and the pure transforms (grid units, TAL resize, training crops, padding)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import tiny_config
from uniav.config import EncoderSpec
from uniav.data import (
    FeatureError,
    FeatureManifest,
    GridSample,
    NpzFeatureStore,
    OnePeaceFeatureStore,
    TaskDataset,
    VideoItem,
    clip_to_features,
    grid_to_seconds,
    load_annotation_db,
    load_task_dataset,
    open_feature_store,
    pad_batch,
    resize_to_length,
    seconds_to_grid,
    stretched_timing,
    task_timing,
    task_vocabulary,
    to_grid,
    train_crop,
    write_npz_features,
)
from uniav.data.config import TaskDataConfig
from uniav.media.grid import SnippetGrid
from uniav.ops.decode import GridTiming

TAL, SED = tiny_config().tasks  # TAL: stride 8, max_seq_len 64, trunc 0.5; SED: stride 4, max_seq_len 32
TAL = dataclasses.replace(TAL, resize_to_max_len=True)
SED = dataclasses.replace(SED, trunc_thresh=0.3)


# --------------------------------------------------------------------------- seconds <-> grid


def test_seconds_grid_round_trip_native_and_stretched() -> None:
    secs = np.array([0.0, 0.5, 1.0, 3.25, 17.9])
    native = task_timing(SED, 20.0)
    g = seconds_to_grid(secs, native)
    # stride 4 frames at 16 fps: 4 steps per second, t = 0 at the first snippet's centre (0.5 s)
    np.testing.assert_allclose(g, secs * 4 - 2)
    np.testing.assert_allclose(grid_to_seconds(g, native), secs, atol=1e-12)
    np.testing.assert_allclose(native.to_seconds(torch.tensor(g)).numpy(), secs, atol=1e-6)

    stretched = stretched_timing(100, TAL, 50.0)
    assert stretched.feat_stride == pytest.approx((99 * 8 + 16) / 64)
    assert stretched.num_frames == stretched.feat_stride
    g = seconds_to_grid(secs, stretched)
    np.testing.assert_allclose(g, secs * 16 / stretched.feat_stride - 0.5)
    np.testing.assert_allclose(grid_to_seconds(g, stretched), secs, atol=1e-12)


def _item(
    vid: str, t: int, dv: int = 12, da: int = 10, segments=(), labels=(), duration: float | None = None, seed: int = 0
) -> VideoItem:
    rng = np.random.default_rng(seed)
    return VideoItem(
        vid,
        float(duration if duration is not None else t * 0.25 + 0.5),
        rng.normal(size=(t, dv)).astype(np.float32),
        rng.normal(size=(t, da)).astype(np.float32),
        np.asarray(segments, dtype=np.float64).reshape(-1, 2),
        np.asarray(labels, dtype=np.int64),
    )


def test_to_grid_tal_resizes_and_stretches_the_grid() -> None:
    item = _item("a", 100, segments=[(2.0, 10.0), (30.0, 49.0)], labels=[1, 2], duration=50.8)
    s = to_grid(item, TAL)
    assert s.visual.shape == (12, 64) and s.audio.shape == (10, 64)
    stride = (99 * 8 + 16) / 64
    assert s.timing == GridTiming(stride, stride, 16.0, 50.8)
    np.testing.assert_allclose(s.segments.numpy(), np.array([[2.0, 10.0], [30.0, 49.0]]) * 16 / stride - 0.5, rtol=1e-6)
    assert s.labels.dtype == torch.long and s.labels.tolist() == [1, 2]
    # linear resize, align_corners=False: output step i samples the input at (i + 0.5) * T / L - 0.5
    x = np.clip((np.arange(64) + 0.5) * 100 / 64 - 0.5, 0, 99)
    expected = np.stack([np.interp(x, np.arange(100), item.visual[:, c]) for c in range(12)])
    np.testing.assert_allclose(s.visual.numpy(), expected, atol=1e-5)
    # the segments map back to the annotation in seconds
    np.testing.assert_allclose(s.timing.to_seconds(s.segments.double()).numpy(), item.segments, atol=1e-4)


def test_to_grid_other_tasks_keep_the_features() -> None:
    item = _item("b", 40, segments=[(1.0, 2.5)], labels=[0], duration=10.3)
    s = to_grid(item, SED)
    assert s.length == 40
    np.testing.assert_array_equal(s.visual.numpy(), item.visual.T)
    np.testing.assert_array_equal(s.audio.numpy(), item.audio.T)
    assert s.timing == GridTiming(4, 16, 16.0, 10.3)
    np.testing.assert_allclose(s.segments.numpy(), [[2.0, 8.0]])


def test_resize_to_length_identity_and_errors() -> None:
    v, a = torch.randn(3, 8), torch.randn(2, 8)
    v2, a2 = resize_to_length(v, a, 8)
    assert v2 is v and a2 is a
    v3, a3 = resize_to_length(v, a, 16)
    assert v3.shape == (3, 16) and a3.shape == (2, 16)
    # upsampling by 2 with align_corners=False: pairs of output steps straddle each input step
    np.testing.assert_allclose(v3[:, 1:-1:2].numpy(), (0.75 * v[:, :-1] + 0.25 * v[:, 1:]).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="expected"):
        resize_to_length(v, torch.randn(2, 7), 16)


# --------------------------------------------------------------------------- training crops


def _sample(t: int, segments, labels=None, timing: GridTiming | None = None) -> GridSample:
    seg = torch.tensor(segments, dtype=torch.float32).reshape(-1, 2)
    lab = torch.arange(seg.shape[0]) if labels is None else torch.tensor(labels)
    # visual row 0 holds the step index, so a crop's start can be read off its first column
    vis = torch.arange(t, dtype=torch.float32)[None].repeat(3, 1)
    return GridSample("v", vis, torch.zeros(2, t), seg, lab, timing or GridTiming(4, 16, 16.0, t / 4 + 0.5))


def _visible(seg: np.ndarray, lo: float, hi: float) -> np.ndarray:
    inter = np.clip(np.minimum(seg[:, 1], hi) - np.maximum(seg[:, 0], lo), 0, None)
    return inter / (seg[:, 1] - seg[:, 0])


def test_train_crop_keeps_the_truncation_rule() -> None:
    segs = np.array([[3.0, 9.0], [20.0, 40.0], [44.0, 47.0], [60.0, 90.0], [95.0, 99.0]])
    sample = _sample(100, segs)
    offset = 2.0  # half a 16-frame snippet at stride 4
    for seed in range(30):
        out = train_crop(sample, SED, np.random.default_rng(seed))
        assert out.length == SED.max_seq_len
        st = int(out.visual[0, 0])
        np.testing.assert_array_equal(out.visual[0].numpy(), np.arange(st, st + 32))
        ratio = _visible(segs, st - offset, st + 32 + offset)
        keep = ratio >= SED.trunc_thresh
        assert keep.any()  # a window keeping a segment exists for every start here
        assert out.labels.tolist() == np.flatnonzero(keep).tolist()
        clipped = np.clip(segs[keep], st - offset, st + 32 + offset) - st
        np.testing.assert_allclose(out.segments.numpy(), clipped, atol=1e-5)
        assert (out.segments[:, 0] >= -offset).all() and (out.segments[:, 1] <= 32 + offset).all()


def test_train_crop_keeps_at_least_one_segment_when_possible() -> None:
    sample = _sample(300, [[250.0, 256.0]])
    starts = set()
    for seed in range(40):
        out = train_crop(sample, SED, np.random.default_rng(seed))
        assert out.labels.tolist() == [0]
        starts.add(int(out.visual[0, 0]))
    assert len(starts) > 10  # still random among the admissible starts
    # admissible: >= 1.8 of the 6 steps inside [start - 2, start + 34]
    assert min(starts) >= 218 and max(starts) <= 256


def test_train_crop_without_admissible_window_returns_an_empty_crop() -> None:
    # a 500-step segment: at most 36 steps of it fit a window, below 0.3 of its length
    out = train_crop(_sample(600, [[50.0, 550.0]]), SED, np.random.default_rng(0))
    assert out.length == 32 and out.segments.shape == (0, 2) and out.labels.shape == (0,)


def test_train_crop_is_deterministic_given_the_rng() -> None:
    sample = _sample(200, [[10.0, 30.0], [100.0, 150.0], [170.0, 180.0]])
    a = train_crop(sample, SED, np.random.default_rng(7))
    b = train_crop(sample, SED, np.random.default_rng(7))
    assert torch.equal(a.visual, b.visual) and torch.equal(a.segments, b.segments) and torch.equal(a.labels, b.labels)
    starts = {int(train_crop(sample, SED, np.random.default_rng(s)).visual[0, 0]) for s in range(20)}
    assert len(starts) > 5


def test_train_crop_length_never_exceeds_max_seq_len() -> None:
    rng = np.random.default_rng(0)
    for t in [1, 2, 5, 10, 31, 32, 33, 50, 64, 200]:
        sample = _sample(t, [[0.0, max(t - 1.0, 0.5)]])
        for _ in range(5):
            out = train_crop(sample, SED, rng)
            assert out.length <= SED.max_seq_len
            if t <= SED.max_seq_len:
                assert max(round(0.9 * t), 1) <= out.length <= t
            else:
                assert out.length == SED.max_seq_len
            assert out.audio.shape[1] == out.length


def test_train_crop_short_sequence_crop_ratio() -> None:
    sample = _sample(30, [[5.0, 12.0], [20.0, 29.0]])
    lengths = {train_crop(sample, SED, np.random.default_rng(s)).length for s in range(60)}
    assert lengths == set(range(27, 31))  # round(0.9 * 30) = 27 .. 30
    none = train_crop(sample, SED, np.random.default_rng(0), crop_ratio=None)
    assert none.length == 30 and torch.equal(none.segments, sample.segments)
    with pytest.raises(ValueError, match="crop_ratio"):
        train_crop(sample, SED, np.random.default_rng(0), crop_ratio=(0.0, 1.0))


def test_clip_to_features_end_rule() -> None:
    # T = 20, offset 2: the features reach 22 grid units
    sample = _sample(20, [[2.0, 5.0], [18.0, 24.0], [21.0, 40.0], [23.0, 25.0], [6.0, 6.0]])
    out = clip_to_features(sample, 0.5)
    # kept: inside; [18, 24] has 4/6 before 22 -> clipped; [21, 40] has 1/19 -> dropped; [23, 25] starts after
    # the end -> dropped; the zero-length one -> dropped
    assert out.labels.tolist() == [0, 1]
    np.testing.assert_allclose(out.segments.numpy(), [[2.0, 5.0], [18.0, 22.0]])
    assert out.length == 20


# --------------------------------------------------------------------------- padding


def test_pad_batch_masks_and_shapes() -> None:
    a, b = _sample(5, [[1.0, 2.0]]), _sample(3, [])
    batch = pad_batch([a, b], length=8)
    assert batch.visual.shape == (2, 3, 8) and batch.audio.shape == (2, 2, 8) and batch.mask.shape == (2, 1, 8)
    assert batch.mask[0, 0].tolist() == [True] * 5 + [False] * 3
    assert batch.mask[1, 0].tolist() == [True] * 3 + [False] * 5
    assert torch.equal(batch.visual[0, :, :5], a.visual) and batch.visual[0, :, 5:].abs().sum() == 0
    assert batch.video_ids == ["v", "v"] and batch.segments[1].shape == (0, 2)
    assert pad_batch([a, b]).visual.shape[-1] == 5
    with pytest.raises(ValueError, match="does not fit"):
        pad_batch([a], length=4)


# --------------------------------------------------------------------------- feature stores


def test_npz_store_round_trip_and_errors(tmp_path: Path) -> None:
    vis = np.random.default_rng(0).normal(size=(7, 12))
    write_npz_features(tmp_path / "a.npz", vis, np.ones((7, 10)), 2.3)
    store = NpzFeatureStore(tmp_path)
    assert store.has("a") and not store.has("b") and store.manifest is None
    v, a = store.load("a")
    assert v.dtype == np.float32 and v.shape == (7, 12) and a.shape == (7, 10)
    np.testing.assert_allclose(v, vis, rtol=1e-6)
    assert store.duration("a") == pytest.approx(2.3)
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(FileNotFoundError, match="'b'"):
        store.load("b")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(FeatureError, match="bad.npz"):
        store.load("bad")
    np.savez(tmp_path / "noaudio.npz", visual=vis)
    with pytest.raises(FeatureError, match="missing array"):
        store.load("noaudio")
    with pytest.raises(FileNotFoundError, match="uniav extract"):
        NpzFeatureStore(tmp_path / "nowhere")


def test_one_peace_store_cuts_to_the_shorter_length_and_finds_the_prefix(tmp_path: Path) -> None:
    np.save(tmp_path / "v_abc_one_peace_video_finetune.npy", np.ones((9, 6), np.float64))
    np.save(tmp_path / "v_abc_one_peace_audio.npy", np.zeros((7, 6), np.float16))
    np.save(tmp_path / "xyz_one_peace_video_finetune.npy", np.ones((4, 6)))
    store = OnePeaceFeatureStore(tmp_path)
    assert store.has("abc") and not store.has("xyz")  # audio of xyz missing
    v, a = store.load("abc")
    assert v.shape == (7, 6) and a.shape == (7, 6) and v.dtype == a.dtype == np.float32
    assert not OnePeaceFeatureStore(tmp_path, prefix="").has("abc")
    with pytest.raises(FileNotFoundError, match="xyz"):
        store.load("xyz")
    data = TaskDataConfig(annotations="unused.json", features=str(tmp_path), feature_format="one-peace")
    assert isinstance(open_feature_store(data), OnePeaceFeatureStore)


# --------------------------------------------------------------------------- datasets


def _annotations(tmp_path: Path) -> Path:
    db = {
        "v0": {
            "subset": "train",
            "duration": 10.0,
            "annotations": [
                {"segment": [1.0, 3.0], "label": "jump", "label_id": 0},
                {"segment": [1.0005, 3.0004], "label": "jump", "label_id": 0},  # duplicate
                {"segment": [4.0, 8.0], "label": "run", "label_id": 1},
            ],
        },
        "v1": {
            "subset": "train",
            "duration": 6.0,
            "annotations": [{"segment": [0.5, 2.0], "label": "swim", "label_id": 2}],
        },
        "v2": {
            "subset": "Validation",
            "duration": 8.0,
            "annotations": [{"segment": [2.0, 5.0], "label": "run", "label_id": 1}],
        },
        "v3": {
            "subset": "test",
            "duration": 9.0,
            "annotations": [{"segment": [1.0, 4.0], "label": "jump", "label_id": 0}],
        },
        "v4": {"subset": "test", "duration": 5.0, "annotations": []},
    }
    path = tmp_path / "ann" / "annotations.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"database": db}))
    return path


def _features(folder: Path, ids, stride: int = 4, dv: int = 12, da: int = 10) -> None:
    rng = np.random.default_rng(1)
    for vid in ids:
        t = int(rng.integers(10, 40))
        write_npz_features(folder / f"{vid}.npz", rng.normal(size=(t, dv)), rng.normal(size=(t, da)), t / 4)
    FeatureManifest(EncoderSpec.uniform("signal"), "signal-test", dv, da, 16, SnippetGrid(stride)).write(
        folder / "manifest.json"
    )


def test_task_dataset_maps_labels_by_name_and_removes_duplicates(tmp_path: Path) -> None:
    ann = _annotations(tmp_path)
    _features(tmp_path / "feats", ["v0", "v2", "v3", "v4"])
    task = dataclasses.replace(SED, labels=("run", "swim", "jump"))  # another order than the file's ids
    ds = TaskDataset(task, load_annotation_db(ann), NpzFeatureStore(tmp_path / "feats"), ["train"])
    assert ds.video_ids == ["v0"] and ds.missing == ("v1",) and len(ds) == 1
    item = ds[0]
    assert item.video_id == "v0" and item.duration == 10.0
    np.testing.assert_allclose(item.segments, [[1.0, 3.0], [4.0, 8.0]])
    assert item.labels.dtype == np.int64 and item.labels.tolist() == [2, 0]  # jump -> 2, run -> 0
    assert item.visual.shape[1] == 12 and item.audio.shape[0] == item.visual.shape[0]
    assert ds.ground_truth.classes == task.labels
    assert [a.label_id for a in ds.ground_truth.videos["v0"].annotations] == [2, 2, 0]
    assert ds.num_annotations() == 2

    test = TaskDataset(task, load_annotation_db(ann), NpzFeatureStore(tmp_path / "feats"), ["test"])
    assert test.video_ids == ["v3", "v4"] and test[1].segments.shape == (0, 2)

    with pytest.raises(ValueError, match="not in the task's vocabulary"):
        TaskDataset(
            dataclasses.replace(SED, labels=("run", "jump")),
            load_annotation_db(ann),
            NpzFeatureStore(tmp_path / "feats"),
            ["train"],
        )
    with pytest.raises(FeatureError, match="none of the 1 videos"):
        TaskDataset(task, load_annotation_db(ann), OnePeaceFeatureStore(tmp_path / "feats"), ["validation"])


def test_load_task_dataset_splits_vocabulary_and_grid_check(tmp_path: Path) -> None:
    ann = _annotations(tmp_path)
    _features(tmp_path / "feats", ["v0", "v1", "v2", "v3", "v4"])
    data = TaskDataConfig(annotations=str(ann), features=str(tmp_path / "feats"))
    assert task_vocabulary(data) == ("jump", "run", "swim")
    task = dataclasses.replace(SED, labels=task_vocabulary(data))
    assert load_task_dataset(task, data, "train").video_ids == ["v0", "v1"]
    assert load_task_dataset(task, data, "val").video_ids == ["v2"]  # "Validation", case-insensitive
    assert load_task_dataset(task, data, "test").video_ids == ["v3", "v4"]
    with pytest.raises(ValueError, match="unknown split"):
        load_task_dataset(task, data, "training")
    # classes.txt beside the file names every id, even classes without an instance
    (ann.parent / "classes.txt").write_text("jump\nrun\nswim\nfly\n")
    assert task_vocabulary(data) == ("jump", "run", "swim", "fly")
    # features made on another grid are refused
    with pytest.raises(FeatureError, match="stride 8"):
        load_task_dataset(dataclasses.replace(task, feat_stride=8), data, "train")


def test_dataset_items_feed_the_transforms(tmp_path: Path) -> None:
    ann = _annotations(tmp_path)
    _features(tmp_path / "feats", ["v0", "v1"], stride=8)
    data = TaskDataConfig(annotations=str(ann), features=str(tmp_path / "feats"))
    task = dataclasses.replace(TAL, labels=task_vocabulary(data))
    ds = load_task_dataset(task, data, "train")
    s = to_grid(ds[0], task)
    assert s.length == task.max_seq_len
    crop = train_crop(s, task, np.random.default_rng(0))
    assert crop.length <= task.max_seq_len and crop.labels.numel() >= 1
