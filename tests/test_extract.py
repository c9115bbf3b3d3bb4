"""`uniav extract`: sharded, resumable feature extraction with the `signal` encoder on tiny clips."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import write_test_clip
from uniav.commands import extract as extract_cmd
from uniav.commands.args import parse_options
from uniav.config import EncoderSpec
from uniav.data import FeatureError, FeatureManifest, NpzFeatureStore, load_task_dataset
from uniav.data.config import TaskDataConfig
from uniav.data.extract import (
    dataset_layout,
    ensure_features,
    extract_features,
    find_media,
    shard,
)
from uniav.distributed import DistInfo
from uniav.encoders import build_encoder
from uniav.media.grid import SnippetGrid

REPO = Path(__file__).resolve().parents[1]
GOOD = ["a1", "b2", "c3", "d4", "e5"]
BAD = "f6"  # a file that is not media
GONE = "g7"  # listed in the annotations, no file
RUNNER = (
    "import argparse, sys; from uniav.commands import extract as m; p = argparse.ArgumentParser(); "
    "m.add_arguments(p); sys.exit(m.run(p.parse_args(sys.argv[1:])))"
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """UniAV-Synth layout: sed/annotations.json + sed/videos/{id}.mp4."""
    root = tmp_path_factory.mktemp("synth") / "sed"
    videos = root / "videos"
    videos.mkdir(parents=True)
    db = {}
    for i, vid in enumerate(GOOD):
        seconds = 1.0 + 0.25 * i
        write_test_clip(videos / f"{vid}.mp4", seconds=seconds, size=(64, 48))
        db[vid] = {
            "subset": "train" if i % 2 else "test",
            "duration": seconds,
            "annotations": [{"segment": [0.2, 0.8], "label": "tone", "label_id": 0}],
        }
    (videos / f"{BAD}.mp4").write_bytes(b"\x00not a video at all" * 50)
    (videos / "notes.txt").write_text("not media")
    for vid in (BAD, GONE):
        db[vid] = {"subset": "test", "duration": 1.0, "annotations": []}
    (root / "annotations.json").write_text(json.dumps({"database": db}))
    return root


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    extract_cmd.add_arguments(parser)
    return parser.parse_args(argv)


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.npz")}


def test_two_process_run_is_complete_and_resumable(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "feats"
    argv = [str(dataset), "--encoder", "signal", "--out", str(out), "--quiet"]
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1"}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", RUNNER, *argv],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err

    ids = sorted([*GOOD, BAD, GONE])
    assert shard(ids, 0, 2) == ids[0::2] and shard(ids, 1, 2) == ids[1::2]
    # each rank wrote its share; the union is every good id
    assert sorted(p.stem for p in out.glob("*.npz")) == GOOD
    assert "rank 0/2: 4 assigned, 3 written" in results[0][1]  # a1 c3 e5 written, g7 failed
    assert "rank 1/2: 3 assigned, 2 written" in results[1][1]  # b2 d4 written, f6 failed
    fail0 = json.loads((out / "failures-rank0.json").read_text())
    fail1 = json.loads((out / "failures-rank1.json").read_text())
    assert [f["video_id"] for f in fail0] == [GONE] and "not found" in fail0[0]["error"]
    assert [f["video_id"] for f in fail1] == [BAD] and fail1[0]["path"].endswith(f"{BAD}.mp4")
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))

    # the manifest names the encoder and the grid (SED folder: stride 4)
    manifest = FeatureManifest.read(out / "manifest.json")
    encoder = build_encoder(EncoderSpec.uniform("signal"))
    assert manifest.grid == SnippetGrid(4) and manifest.cache_key == encoder.cache_key
    assert (manifest.visual_dim, manifest.audio_dim, manifest.text_dim) == (
        encoder.visual_dim,
        encoder.audio_dim,
        encoder.text_dim,
    )

    # the files hold exactly what the encoder gives
    store = NpzFeatureStore(out)
    direct = encoder.encode_file(dataset / "videos" / "c3.mp4", [SnippetGrid(4)])[SnippetGrid(4)]
    v, a = store.load("c3")
    # (the subprocesses ran on one thread: last-bit differences of float sums)
    np.testing.assert_allclose(v, direct.visual, atol=1e-6)
    np.testing.assert_allclose(a, direct.audio, atol=1e-6)
    assert store.duration("c3") == pytest.approx(direct.duration)
    assert v.shape[0] == SnippetGrid(4).num_snippets(direct.duration)

    # a re-run of both ranks writes nothing (only the failures are retried)
    before = _mtimes(out)
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        assert extract_cmd.run(_args(argv)) == 0
    assert _mtimes(out) == before

    # a lost file is the only one redone
    (out / "d4.npz").unlink()
    summary = extract_features(
        find_media(dataset / "videos", ids), encoder, SnippetGrid(4), out, DistInfo(1, 2), progress=False
    )
    assert summary.written == ["d4"] and summary.skipped == ["b2"] and [f.video_id for f in summary.failures] == [BAD]
    assert _mtimes(out).keys() == before.keys()


def test_extract_refuses_to_mix_encoders_or_grids(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "feats"
    encoder = build_encoder(EncoderSpec.uniform("signal"))
    media = find_media(dataset / "videos", ["a1"])
    extract_features(media, encoder, SnippetGrid(4), out, progress=False)
    with pytest.raises(FeatureError, match="one folder never mixes"):
        extract_features(media, encoder, SnippetGrid(8), out, progress=False)
    other = build_encoder(EncoderSpec.uniform("signal", {"cells": 2}))
    with pytest.raises(FeatureError, match="one folder never mixes"):
        extract_features(media, other, SnippetGrid(4), out, progress=False)


def test_failures_file_is_cleared_when_a_run_succeeds(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "feats"
    encoder = build_encoder(EncoderSpec.uniform("signal"))
    summary = extract_features({"x": None}, encoder, SnippetGrid(4), out, progress=False)
    assert [f.video_id for f in summary.failures] == ["x"] and (out / "failures-rank0.json").is_file()
    summary = extract_features(find_media(dataset / "videos", ["a1"]), encoder, SnippetGrid(4), out, progress=False)
    assert summary.written == ["a1"] and not (out / "failures-rank0.json").exists()


def test_ensure_features_fills_a_task_folder_for_training(dataset: Path, tmp_path: Path) -> None:
    from tests.helpers import signal_model_config

    task = signal_model_config().task("SED")
    data = TaskDataConfig(
        annotations=str(dataset / "annotations.json"),
        features=str(tmp_path / "f"),
        media_dir=str(dataset / "videos"),
        train_split=("train",),
    )
    summary = ensure_features(task, data, build_encoder(EncoderSpec.uniform("signal")), progress=False)
    assert sorted(summary.written) == GOOD and len(summary.failures) == 2
    encoder = build_encoder(EncoderSpec.uniform("signal"))
    task = dataclasses.replace(task, labels=("tone", *task.labels[1:]))
    ds = load_task_dataset(task, data, "train")
    assert ds.video_ids == ["b2", "d4"] and ds[0].visual.shape[1] == encoder.visual_dim
    assert ensure_features(task, TaskDataConfig(annotations="a", features="f"), None) is None


def test_dataset_layout_and_stride(dataset: Path, tmp_path: Path) -> None:
    ann, media = dataset_layout(dataset)
    assert ann == dataset / "annotations.json" and media == dataset / "videos"
    assert dataset_layout(ann, media) == (ann, media)
    with pytest.raises(ValueError, match="--media-dir"):
        dataset_layout(ann)
    with pytest.raises(FileNotFoundError, match="annotations.json"):
        dataset_layout(tmp_path)
    assert extract_cmd.resolve_stride(None, None, str(dataset)) == 4  # folder named sed
    assert extract_cmd.resolve_stride(None, "TAL", str(dataset)) == 8
    assert extract_cmd.resolve_stride(2, "TAL", str(dataset)) == 2
    with pytest.raises(ValueError, match="--task"):
        extract_cmd.resolve_stride(None, None, str(tmp_path))
    assert parse_options(["cells=2", "device=cuda", "x=0.5"]) == {"cells": 2, "device": "cuda", "x": 0.5}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_options(["cells"])
    found = find_media(media, ["a1", BAD, GONE])
    assert found["a1"] == media / "a1.mp4" and found[GONE] is None


def test_dist_info_from_env() -> None:
    assert DistInfo.from_env({}) == DistInfo(0, 1, 0)
    assert DistInfo.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == DistInfo(3, 4, 1)
    with pytest.raises(ValueError, match="invalid rank"):
        DistInfo.from_env({"RANK": "4", "WORLD_SIZE": "4"})


def test_encoder_per_modality_and_prefixed_options_on_the_command_line(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "feats"
    argv = [str(dataset), "--encoder", "visual=signal,audio=signal,text=signal", "--out", str(out), "--quiet"]
    argv += ["--encoder-option", "visual.cells=2", "--encoder-option", "text_dim=64"]
    assert extract_cmd.run(_args(argv)) == 0
    manifest = FeatureManifest.read(out / "manifest.json")
    expected = build_encoder(EncoderSpec.uniform("signal", {"cells": 2, "text_dim": 64}))
    assert manifest.encoder == expected.spec and manifest.cache_key == expected.cache_key
    assert (manifest.visual_dim, manifest.text_dim) == (expected.visual_dim, 64)
    v, _ = NpzFeatureStore(out).load("a1")
    assert v.shape[1] == expected.visual_dim


def test_encoder_spec_of_the_command_line() -> None:
    clip = extract_cmd.encoder_spec("clip-clap", ["device=cuda", "audio.batch_size=8"])
    assert [p.options["device"] for p in clip.parts.values()] == ["cuda"] * 3
    assert clip.audio.options["batch_size"] == 8 and "batch_size" not in clip.visual.options
    moved = extract_cmd.per_process_device(clip, 3)
    assert [p.options["device"] for p in moved.parts.values()] == ["cuda:3"] * 3
    assert moved.audio.options["batch_size"] == 8
    cpu = extract_cmd.encoder_spec("visual=clip,audio=signal,text=clip", ["visual.device=cpu", "text.device=auto"])
    assert extract_cmd.per_process_device(cpu, 1).visual.options["device"] == "cpu"
    assert extract_cmd.per_process_device(cpu, 1).text.options["device"] == "cuda:1"
    with pytest.raises(ValueError, match="no part of this encoder accepts it"):
        extract_cmd.encoder_spec("signal", ["device=cuda"])
    with pytest.raises(ValueError, match="precomputed features need no extraction"):
        extract_cmd.encoder_spec("features", [])
