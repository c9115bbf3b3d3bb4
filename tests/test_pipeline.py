"""The Detector end to end on generated clips and real files, its caches, and `uniav predict`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import signal_model_config, write_test_clip
from uniav.cli import main
from uniav.encoders import ClipFeatures, FeatureCache
from uniav.media import MediaError
from uniav.model.uniav import UniAV
from uniav.pipeline.detector import Detector
from uniav.pipeline.prompts import nearest_labels
from uniav.pipeline.results import DetectionResult
from uniav.vocabularies import Vocabulary


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "clip.mp4"
    write_test_clip(path, seconds=6.0)
    return path


@pytest.fixture()
def detector(tmp_path) -> Detector:
    torch.manual_seed(0)
    return Detector(UniAV(signal_model_config()), feature_cache=FeatureCache(tmp_path / "cache"))


def test_end_to_end_on_a_generated_clip(detector, clip):
    result = detector.run(clip, threshold=0.0, top_k=7)
    assert result.duration == pytest.approx(6.0, abs=0.1)
    assert set(result.ran) == {"TAL", "AVEL", "SED"} and not result.skipped
    for task, res in result.ran.items():
        labels = set(detector.config.task(task).labels)
        assert 0 < len(res.detections) <= 7
        for d in res.detections:
            assert d.label in labels and 0 <= d.start < d.end <= result.duration and 0 <= d.score <= 1
        assert [d.start for d in res.detections] == sorted(d.start for d in res.detections)
    again = DetectionResult.from_dict(json.loads(result.to_json()))
    assert again.to_dict() == result.to_dict()
    rows = result.to_csv().splitlines()
    assert rows[0] == "task,label,start,end,score"
    assert len(rows) == 1 + sum(len(r.detections) for r in result.ran.values())


def test_vocabulary_change_skips_decoding_and_backbone(detector, clip, monkeypatch):
    analysis = detector.analyze(clip)

    # from here on, decoding, encoding or running the backbone would fail the test
    def refuse(*args, **kwargs):
        raise AssertionError("decoded or ran the backbone again")

    monkeypatch.setattr(detector.encoder, "encode_file", refuse)
    monkeypatch.setattr(detector.model, "encode", refuse)
    monkeypatch.setattr(detector.model.cls_head, "clip_embeddings", refuse)
    vocab = detector.vocabulary("SED", ["beep", "whistle", "door knock"], "the sound of a {label}")
    res = detector.detect(analysis, vocab, threshold=0.0, top_k=5)
    assert {d.label for d in res.detections} <= {"beep", "whistle", "door knock"} and res.detections
    # run() on the same clip with a new vocabulary uses the cached analysis as well
    out = detector.run(clip, tasks=["tal"], vocabularies=[Vocabulary("tal", ("juggling", "skating"))], threshold=0.0)
    assert {d.label for d in out.tasks["TAL"].detections} <= {"juggling", "skating"}


def test_second_run_decodes_nothing(tmp_path, clip, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    torch.manual_seed(0)
    model = UniAV(signal_model_config())
    first = Detector(model, feature_cache=cache).run(clip, threshold=0.0)
    fresh = Detector(model, feature_cache=cache)  # a new process would start with an empty memory cache
    monkeypatch.setattr(fresh.encoder.inner, "encode_file", lambda *a, **k: pytest.fail("decoded again"))
    second = fresh.run(clip, threshold=0.0)
    assert second.to_dict() == first.to_dict()


def test_open_vocabulary_borrows_nearest_training_offsets():
    keys = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), dim=1)
    query = torch.nn.functional.normalize(torch.tensor([[0.1, 1.0], [5.0, 0.2], [0.0, 1.0]]), dim=1)
    mapping = nearest_labels(query, keys, ["new b", "new a", "c"], ["a", "b", "c"])
    assert mapping.tolist() == [1, 0, 2]  # exact name match wins over cosine for "c"


def test_audio_only_and_silent_inputs(detector, media_dir):
    audio_only = detector.run(media_dir / "crunching.mp3", threshold=0.0)
    assert set(audio_only.ran) == {"SED"}
    assert "audio-only" in audio_only.skipped["TAL"] and "audio-only" in audio_only.skipped["AVEL"]
    silent = detector.run(media_dir / "no_audio_2s.mp4", threshold=0.0)
    assert set(silent.ran) == {"TAL"}
    assert "no audio track" in silent.skipped["SED"]
    assert any("no audio" in n for n in silent.notes)


def test_long_audio_uses_windows(detector, media_dir):
    result = detector.run(media_dir / "rain_60s.mp3", tasks=["sed"], threshold=0.0, top_k=None)
    analysis = detector.analyze(media_dir / "rain_60s.mp3", ["sed"])
    assert len(analysis.tasks["SED"].windows) > 4  # 60 s at 0.25 s per step, 64-step windows
    assert max(d.end for d in result.tasks["SED"].detections) > 40  # detections across the whole clip


@pytest.mark.parametrize("task", ["TAL", "AVEL", "SED"])
def test_a_threshold_only_filters(tmp_path, task):
    """On clips long enough for several windows, the detections at 0.4 are those at 0.1 scoring >= 0.4."""
    torch.manual_seed(1)
    model = UniAV(signal_model_config())
    cfg = model.config.task(task)
    steps = 5 * cfg.max_seq_len  # several windows for AVEL/SED; TAL resamples it to max_seq_len
    rng = np.random.default_rng(0)
    smooth = np.cumsum(rng.standard_normal((steps, 1)), axis=0) / 10  # slow trends: events span windows
    feats = ClipFeatures(
        visual=(rng.standard_normal((steps, 384)) + smooth).astype(np.float32),
        audio=(rng.standard_normal((steps, 256)) + smooth).astype(np.float32),
        duration=(steps * cfg.feat_stride + cfg.num_frames / 2) / cfg.fps,
        has_video=True,
        has_audio=True,
    )
    det = Detector(model, feature_cache=FeatureCache(tmp_path))
    analysis = det.analyze_features("long", {task: feats})
    vocab = det.vocabulary(task, cfg.labels[:1])  # one label: Soft-NMS leaves decayed duplicates below 0.4
    low = det.detect(analysis, vocab, threshold=0.1, top_k=None)
    high = det.detect(analysis, vocab, threshold=0.4, top_k=None)
    assert [d for d in low.detections if d.score >= 0.4] == list(high.detections)
    assert high.detections and any(d.score < 0.4 for d in low.detections)
    if task != "TAL":
        assert len(analysis.tasks[task].windows) > 4


def test_bad_inputs(detector, media_dir):
    with pytest.raises(MediaError, match="not a media file"):
        detector.run(media_dir / "not_a_video.mp4")
    with pytest.raises(ValueError, match="the list is empty"):
        detector.run(media_dir / "crunching.mp3", tasks=["sed"], vocabularies=[detector.vocabulary("sed", [])])
    with pytest.raises(ValueError, match="placeholder"):
        detector.vocabulary("SED", ["dog"], "no placeholder here")
    with pytest.raises(KeyError, match="unknown task 'asr'; this model serves TAL, AVEL, SED"):
        detector.run(media_dir / "crunching.mp3", tasks=["asr"])
    with pytest.raises(ValueError, match=r"only \{label\} may appear in braces, not \{lbl\}"):
        detector.vocabulary("SED", ["dog"], "{label} or {lbl}")


def test_encoder_and_model_widths_must_agree(tmp_path):
    model = UniAV(signal_model_config(visual_dim=100))
    with pytest.raises(ValueError, match="use the encoders the model was trained with"):
        Detector(model, feature_cache=FeatureCache(tmp_path))


def test_predict_cli(tmp_path, clip, capsys, monkeypatch):
    monkeypatch.setenv("UNIAV_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    UniAV(signal_model_config()).save_pretrained(tmp_path / "model")
    vocab = tmp_path / "sed.txt"
    vocab.write_text("beep\nsiren\n")
    out = tmp_path / "dets.csv"
    rc = main(
        [
            "predict",
            str(clip),
            "--model",
            str(tmp_path / "model"),
            "--tasks",
            "sed,tal",
            "--vocab",
            f"sed={vocab}",
            "--template",
            "sed=the sound of {label}",
            "--threshold",
            "0",
            "--top-k",
            "3",
            "-o",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "task,label,start,end,score"
    assert {r.split(",")[0] for r in rows[1:]} == {"SED", "TAL"}
    assert {r.split(",")[1] for r in rows[1:] if r.startswith("SED")} <= {"beep", "siren"}
    rc = main(
        ["predict", str(clip), "--model", str(tmp_path / "model"), "--tasks", "avel", "--quiet", "--threshold", "0"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and set(doc) == {"file", "duration", "model", "knowledge", "notes", "skipped", "tasks"}
    assert list(doc["tasks"]) == ["AVEL"] and set(doc["tasks"]["AVEL"][0]) == {"label", "start", "end", "score"}
    rc = main(["predict", str(tmp_path / "missing.mp4"), "--model", str(tmp_path / "model"), "--quiet"])
    assert rc == 2 and "file not found" in capsys.readouterr().err
