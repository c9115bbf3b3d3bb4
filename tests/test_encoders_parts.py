"""Encoders as parts: option routing of earlier single-kind specs and of command lines, the kind -> part
mapping and its messages, `PartsEncoder` (decode once, resample, scores, notes, duration fallback), and
earlier model folders."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from tests.encoder_helpers import FakeMedia, MeanColourVisual, RmsAudio, SynthClip, noise, solid_frames, tone
from uniav.config import (
    LEGACY_KINDS,
    LEGACY_PART_OPTIONS,
    SLOTS,
    AudioKind,
    EncoderSpec,
    ModelConfig,
    PartSpec,
    TextKind,
    VisualKind,
)
from uniav.encoders import (
    NOTE_NO_AUDIO,
    NOTE_NO_FRAMES,
    NOTE_NO_VIDEO,
    AudioPart,
    EncoderError,
    FeaturesEncoder,
    PartsEncoder,
    TextPart,
    VisualPart,
    build_encoder,
    part_class,
    part_options,
    with_options,
)
from uniav.encoders import signal_audio as sa
from uniav.encoders import signal_visual as sv
from uniav.encoders.signal_parts import SignalText
from uniav.media import AudioTrack
from uniav.media.grid import SnippetGrid, audio_windows

G8, G4 = SnippetGrid(stride=8), SnippetGrid(stride=4)
REPO = Path(__file__).resolve().parents[1]
SIGNAL = EncoderSpec("signal", "signal", "signal")
INTERFACE = {"visual": VisualPart, "audio": AudioPart, "text": TextPart}


# ---- kinds -> parts ---------------------------------------------------------------------------------


def test_every_kind_maps_to_a_part_of_its_modality():
    from uniav.encoders.features import FeaturesAudio, FeaturesVisual

    joint = {("visual", VisualKind.FEATURES): FeaturesVisual, ("audio", AudioKind.FEATURES): FeaturesAudio}
    for slot, kinds in (("visual", VisualKind), ("audio", AudioKind), ("text", TextKind)):
        for kind in kinds:
            cls = part_class(slot, kind)
            assert cls is joint[(slot, kind)] if (slot, kind) in joint else issubclass(cls, INTERFACE[slot])
            assert isinstance(cls.OPTIONS, frozenset), (slot, kind)
    assert part_class("text", "clip").__name__ == "ClipText" != part_class("visual", "clip").__name__
    with pytest.raises(EncoderError, match="unknown encoder slot 'colour'"):
        part_class("colour", "signal")


def test_legacy_routing_table_is_the_parts_own_options():
    """`EncoderSpec.uniform` routes by a table in config.py: it must name exactly what each part accepts."""
    for (slot, kind), names in LEGACY_PART_OPTIONS.items():
        assert part_options(slot, kind) == names, (slot, kind)
    reachable = {(s, k) for kinds in LEGACY_KINDS.values() for s, k in zip(SLOTS, kinds, strict=True)}
    assert reachable | {("text", TextKind.CLIP), ("text", TextKind.CLAP)} == set(LEGACY_PART_OPTIONS)


def test_unknown_kinds_name_the_modality_and_the_choices():
    with pytest.raises(ValueError, match=r"unknown audio encoder 'yamnett'; choose one of \['signal', 'yamnet'"):
        EncoderSpec("signal", "yamnett", "minilm")
    with pytest.raises(ValueError, match="unknown visual encoder 'clap'"):
        EncoderSpec("clap", "clap", "clap")


def test_unknown_option_of_a_part_names_the_part_and_the_option():
    spec = EncoderSpec("signal", PartSpec("signal", {"n_mels": 64}), "signal")
    with pytest.raises(EncoderError, match=r"^audio encoder 'signal': unknown option\(s\) \['n_mels'\]; known: \[\]$"):
        build_encoder(spec)
    spec = EncoderSpec("signal", "signal", PartSpec("clip-clap", {"clip_model": "x", "batch_size": 2}))
    with pytest.raises(EncoderError, match=r"text encoder 'clip-clap': unknown option\(s\) \['batch_size'\]"):
        build_encoder(spec)


# ---- options: earlier single-kind specs -------------------------------------------------------------


def test_uniform_clip_clap_gives_each_part_only_its_options():
    spec = EncoderSpec.uniform(
        "clip-clap", {"clip_model": "c", "clap_model": "a", "device": "cuda", "batch_size": 8, "frames_per_snippet": 2}
    )
    assert (spec.visual.kind, spec.audio.kind, spec.text.kind) == ("clip", "clap", "clip-clap")
    assert spec.visual.options == {"clip_model": "c", "device": "cuda", "batch_size": 8, "frames_per_snippet": 2}
    assert spec.audio.options == {"clap_model": "a", "device": "cuda", "batch_size": 8}
    assert spec.text.options == {"clip_model": "c", "clap_model": "a", "device": "cuda"}
    # the old `text` option picks the text part; the option itself is consumed
    clip_text = EncoderSpec.uniform("clip-clap", {"clip_model": "c", "clap_model": "a", "text": "clip"})
    assert clip_text.text == PartSpec(TextKind.CLIP, {"clip_model": "c"})
    assert EncoderSpec.uniform("clip-clap", {"text": "clap"}).text.kind is TextKind.CLAP
    assert EncoderSpec.uniform("signal", {"cells": 2, "text_dim": 64}).to_dict() == {
        "visual": {"kind": "signal", "options": {"cells": 2}},
        "audio": {"kind": "signal", "options": {}},
        "text": {"kind": "signal", "options": {"text_dim": 64}},
    }
    with pytest.raises(ValueError, match=r"encoder 'signal': unknown option\(s\) \['device'\]"):
        EncoderSpec.uniform("signal", {"device": "cuda"})


def test_earlier_model_folders_read_as_uniform_specs():
    old = {"kind": "clip-clap", "options": {"device": "cpu", "text": "concat"}}
    assert EncoderSpec.from_dict(old) == EncoderSpec.uniform("clip-clap", {"device": "cpu"})
    spec = EncoderSpec.from_dict(
        {"visual": "signal", "audio": {"kind": "yamnet", "options": {"batch": 8}}, "text": "minilm"}
    )
    assert spec == EncoderSpec("signal", PartSpec("yamnet", {"batch": 8}), "minilm")
    assert EncoderSpec.from_dict(spec.to_dict()) == spec
    assert spec.label == "visual signal · audio yamnet · text minilm"
    # a training YAML may name the kinds in one string
    assert EncoderSpec.from_dict("visual=signal,audio=yamnet,text=minilm") == EncoderSpec("signal", "yamnet", "minilm")
    assert EncoderSpec.from_dict("signal") == SIGNAL
    with pytest.raises(ValueError, match=r"encoder.audio: options must be a mapping of names to values, got \[8\]"):
        EncoderSpec.from_dict({"visual": "signal", "audio": {"kind": "yamnet", "options": [8]}, "text": "minilm"})
    with pytest.raises(ValueError, match=r"encoder: unknown field\(s\) \['video'\]"):
        EncoderSpec.from_dict({"video": "signal"})


def test_bundled_model_folder_of_the_old_format_builds_the_same_encoder(media_dir: Path):
    raw = json.loads((REPO / "checkpoints" / "uniav-synth" / "config.json").read_text())
    old = ModelConfig.from_dict({**raw, "encoder": {"kind": "signal", "options": {}}})  # as an earlier release wrote it
    config = ModelConfig.load(REPO / "checkpoints" / "uniav-synth" / "config.json")
    assert old.encoder == config.encoder == SIGNAL
    enc = build_encoder(config.encoder)
    assert (enc.visual_dim, enc.audio_dim, enc.text_dim) == (config.visual_dim, config.audio_dim, config.text_dim)
    from uniav.media.audio import decode_audio
    from uniav.media.probe import probe_media
    from uniav.media.video import open_video

    path = media_dir / "chaplin.mp4"
    info = probe_media(path)
    n = G4.num_snippets(info.duration)
    frames = np.concatenate(list(open_video(path, fps=16.0, size=(64, 64), chunk=64, info=info)))
    wave = decode_audio(path, sample_rate=16000, info=info).waveform
    out = enc.encode_file(path, [G4])[G4]
    assert out.visual.tobytes() == sv.window_features(sv.FrameFeaturizer()(frames), G4, n).tobytes()
    assert out.audio.tobytes() == sa.window_features(sa.frame_descriptors(wave), G4, n).tobytes()


def test_parse_names_one_kind_or_one_per_modality():
    assert EncoderSpec.parse("signal") == SIGNAL
    assert EncoderSpec.parse(" text=minilm, visual=signal,audio=yamnet") == EncoderSpec("signal", "yamnet", "minilm")
    with pytest.raises(ValueError, match="name the text encoder too"):
        EncoderSpec.parse("visual=signal,audio=yamnet")
    with pytest.raises(ValueError, match="expected visual=KIND,audio=KIND,text=KIND, got 'video=signal'"):
        EncoderSpec.parse("video=signal,audio=signal,text=signal")
    with pytest.raises(ValueError, match="unknown encoder 'yamnet'"):
        EncoderSpec.parse("yamnet")


# ---- options: command lines ---------------------------------------------------------------------------


def test_with_options_routes_unprefixed_options_to_every_part_that_takes_them():
    spec = EncoderSpec.uniform("features", {"name": "one-peace"})
    out = with_options(spec, {"feature_dir": "/f", "text_embeddings": "/p.npy", "audio.audio_dim": 4})
    assert out.visual.options == {"name": "one-peace", "feature_dir": "/f"}
    assert out.audio.options == {"name": "one-peace", "feature_dir": "/f", "audio_dim": 4}
    assert out.text.options == {"text_embeddings": "/p.npy"}
    assert spec.visual.options == {"name": "one-peace"}  # the spec given is left alone
    clip = EncoderSpec.uniform("clip-clap")
    out = with_options(clip, {"device": "cuda", "batch_size": 4, "audio.batch_size": 8})
    assert [p.options.get("device") for p in out.parts.values()] == ["cuda"] * 3
    assert (out.visual.options["batch_size"], out.audio.options["batch_size"]) == (4, 8)
    assert "batch_size" not in out.text.options


def test_with_options_refuses_what_no_part_takes():
    with pytest.raises(EncoderError, match=r"encoder option 'feature_dir': no part of this encoder accepts it"):
        with_options(SIGNAL, {"feature_dir": "/f"})
    with pytest.raises(EncoderError, match="the audio encoder 'signal' has no option 'cells'; it accepts none"):
        with_options(SIGNAL, {"audio.cells": 2})
    with pytest.raises(EncoderError, match=r"the visual encoder 'signal' has no option 'text_dim'; it accepts \["):
        with_options(SIGNAL, {"visual.text_dim": 64})
    assert with_options(SIGNAL, {"text.text_dim": 64, "cells": 2}) == EncoderSpec.uniform(
        "signal", {"cells": 2, "text_dim": 64}
    )


# ---- PartsEncoder -------------------------------------------------------------------------------------


def parts_encoder(media: FakeMedia, text: TextPart | None = None) -> PartsEncoder:
    return PartsEncoder(SIGNAL, MeanColourVisual(), RmsAudio(), text or SignalText(), media=media.functions())


def test_parts_get_one_decode_at_their_rate_and_size_and_keep_scores():
    media = FakeMedia()
    clip = SynthClip(3.0, solid_frames((0.2, 0.4, 0.6)), tone(500.0, amp=0.5, seconds=3.0))
    path = media.add("/virtual/c.mp4", clip)
    enc = parts_encoder(media)
    out = enc.encode_file(path, [G8, G4])
    assert [w for w, _ in media.calls] == ["probe", "audio", "video"] and media.video_sizes == [(8, 8)]
    assert (enc.visual_score_classes, enc.audio_score_classes) == (("red", "green", "blue"), ("loud", "quiet"))
    for g in (G8, G4):
        f = out[g]
        n = g.num_snippets(3.0)
        np.testing.assert_allclose(f.visual, np.tile([0.2, 0.4, 0.6], (n, 1)), atol=1 / 255)
        np.testing.assert_allclose(f.visual_scores, 10 * f.visual, rtol=1e-6)
        rms = np.sqrt((audio_windows(clip.audio_fn(8000), g, n, 8000) ** 2).mean(axis=1))
        np.testing.assert_allclose(f.audio[:, 0], rms, rtol=1e-5)
        np.testing.assert_array_equal(f.audio_scores, np.stack([f.audio[:, 0], -f.audio[:, 0]], axis=1))
        assert f.notes == ("colour means",)  # a part's own remarks reach the user
        assert f.visual.dtype == f.visual_scores.dtype == np.float32


def test_audio_is_resampled_when_the_decoder_gives_another_rate():
    import torch
    import torchaudio

    media = FakeMedia()
    clip = SynthClip(2.0, None, noise(0.2, seconds=2.0))
    path = media.add("/virtual/n.wav", clip)
    fixed = media.decode_audio
    media.decode_audio = lambda p, sample_rate=16000, info=None: fixed(p, 16000, info)
    out = parts_encoder(media).encode_file(path, [G4])[G4]
    wave = torchaudio.functional.resample(torch.from_numpy(clip.audio_fn(16000)[:32000]), 16000, 8000).numpy()
    rms = np.sqrt((audio_windows(wave, G4, out.num_snippets, 8000) ** 2).mean(axis=1))
    np.testing.assert_allclose(out.audio[:, 0], rms, rtol=1e-5)


def test_missing_tracks_give_the_parts_no_video_rows_and_notes():
    media = FakeMedia()
    silent = media.add("/virtual/s.mp4", SynthClip(2.0, solid_frames((1.0, 0.0, 0.0)), None))
    audio_only = media.add("/virtual/a.wav", SynthClip(2.0, None, tone(300.0, seconds=2.0)))
    enc = parts_encoder(media)
    f = enc.encode_file(silent, [G4])[G4]
    assert f.has_video and not f.has_audio and NOTE_NO_AUDIO in f.notes
    assert not f.audio.any() and f.visual_scores is not None
    media.calls.clear()
    f = enc.encode_file(audio_only, [G4])[G4]
    assert not f.has_video and NOTE_NO_VIDEO in f.notes and not f.visual.any() and f.visual_scores is None
    assert "video" not in [w for w, _ in media.calls]


def test_a_stream_without_frames_says_so():
    media = FakeMedia()
    path = media.add("/virtual/e.mp4", SynthClip(2.0, solid_frames((0.5, 0.5, 0.5)), tone(300.0, seconds=2.0)))
    real_open = media.open_video

    def empty(*args, **kwargs):
        stream = real_open(*args, **kwargs)
        stream.expected_frames = 0
        return stream

    media.open_video = empty
    f = parts_encoder(media).encode_file(path, [G4])[G4]
    assert f.has_video and NOTE_NO_FRAMES in f.notes and not f.visual.any() and f.visual_scores is None


def test_unknown_duration_is_the_longer_of_audio_and_video():
    """A probe without a duration: the video is streamed once more to count its frames."""
    media = FakeMedia()
    path = media.add("/virtual/u.mp4", SynthClip(3.0, solid_frames((0.1, 0.2, 0.3)), tone(300.0, seconds=3.0)))
    real_probe, real_audio = media.probe_media, media.decode_audio

    def probe(p):
        return dataclasses.replace(real_probe(p), duration=0.0)

    def two_seconds_of_sound(p, sample_rate=16000, info=None):  # and 3 s of pictures
        return AudioTrack(real_audio(p, sample_rate).waveform[: 2 * sample_rate], sample_rate)

    media.probe_media, media.decode_audio = probe, two_seconds_of_sound
    out = parts_encoder(media).encode_file(path, [G8, G4])
    assert out[G4].duration == pytest.approx(3.0) and out[G4].num_snippets == G4.num_snippets(3.0)
    assert [w for w, _ in media.calls].count("video") == 2


def test_cache_key_combines_visual_and_audio_not_text():
    a = build_encoder(SIGNAL)
    assert a.cache_key == f"visual={a.visual.cache_key};audio={a.audio.cache_key}"
    assert build_encoder(EncoderSpec("signal", "signal", PartSpec("signal", {"text_dim": 32}))).cache_key == a.cache_key
    assert build_encoder(EncoderSpec(PartSpec("signal", {"cells": 2}), "signal", "signal")).cache_key != a.cache_key
    assert isinstance(a, PartsEncoder) and not isinstance(a, FeaturesEncoder)
