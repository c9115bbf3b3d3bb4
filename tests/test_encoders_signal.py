"""The weight-free `signal` parts through `PartsEncoder`: shapes, determinism, identical numbers to the feature
functions, and that colour, motion and sound move the features."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.encoder_helpers import (
    FakeMedia,
    SynthClip,
    clicks,
    noise,
    pan_frames,
    rotate_frames,
    solid_frames,
    square_frames,
    tone,
    zoom_frames,
)
from uniav.config import EncoderSpec, PartSpec
from uniav.encoders import NOTE_NO_AUDIO, NOTE_NO_VIDEO, EncoderError, build_encoder
from uniav.encoders import signal_audio as sa
from uniav.encoders import signal_text as st
from uniav.encoders import signal_visual as sv
from uniav.media.grid import SnippetGrid

G8, G4 = SnippetGrid(stride=8), SnippetGrid(stride=4)
C = 16  # cells
GLOBAL = 9 * C  # offset of the 11 global per-frame signals
U_G, V_G, ENERGY, CX, CY, SX, SY, LUM, SAT, DIV, CURL = range(GLOBAL, GLOBAL + 11)
MEAN = 0  # window-mean block offset in the pooled vector
STD = sv.FRAME_DIM


def encode(clip: SynthClip, grids=(G8, G4), **options):
    media = FakeMedia()
    path = media.add("/virtual/clip.mp4", clip)
    enc = build_encoder(EncoderSpec.uniform("signal", options), media=media.functions())
    return enc.encode_file(path, list(grids)), media


def visual_of(frame_fn, seconds: float = 3.0) -> np.ndarray:
    out, _ = encode(SynthClip(seconds, frame_fn, tone(440.0, seconds=seconds)), grids=[G4])
    return out[G4].visual


def audio_of(audio_fn, seconds: float = 3.0) -> np.ndarray:
    out, _ = encode(SynthClip(seconds, solid_frames((0.5, 0.5, 0.5)), audio_fn), grids=[G4])
    return out[G4].audio


def inner(v: np.ndarray) -> np.ndarray:
    """Snippets whose 16 frames lie inside the clip (no edge repetition)."""
    return v[1:-4]


# ---- shapes, widths, determinism ----------------------------------------------------------------


def test_shapes_dtypes_and_lengths_follow_the_grid():
    clip = SynthClip(5.3, square_frames(1.5), noise(seconds=6))
    out, media = encode(clip)
    assert set(out) == {G8, G4}
    for g, f in out.items():
        n = g.num_snippets(5.3)
        assert f.visual.shape == (n, sv.VISUAL_DIM) == (n, 384)
        assert f.audio.shape == (n, sa.AUDIO_DIM) == (n, 256)
        assert f.visual.dtype == np.float32 and f.audio.dtype == np.float32
        assert np.isfinite(f.visual).all() and np.isfinite(f.audio).all()
        assert f.duration == 5.3 and f.has_video and f.has_audio and f.notes == ()
    assert out[G8].num_snippets == 10 and out[G4].num_snippets == 20
    # one decode for both grids
    assert [w for w, _ in media.calls] == ["probe", "audio", "video"]
    assert media.video_sizes == [(64, 64)]


def reference(
    clip: SynthClip, grid: SnippetGrid, frame_size: int = 64, cells: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """The features computed straight from the feature functions (as the single-kind `signal` encoder did):
    every frame drawn at frame_size x frame_size, rows of all frames at once, then the pooled windows."""
    n = grid.num_snippets(clip.duration)
    frames = np.stack([clip.frame_fn(k, frame_size, frame_size) for k in range(int(round(clip.duration * 16)))])
    rows = sv.FrameFeaturizer(cells=cells)(frames)
    wave = np.asarray(clip.audio_fn(16000), np.float32)[: int(round(clip.duration * 16000))]
    return sv.window_features(rows, grid, n, cells), sa.window_features(sa.frame_descriptors(wave), grid, n)


@pytest.mark.parametrize("options", [{}, {"cells": 2, "frame_size": 32, "chunk": 64}])
def test_numbers_are_those_of_the_feature_functions(options):
    clip = SynthClip(3.5, rotate_frames(2.5), noise(seconds=4))
    out, _ = encode(clip, **options)
    for g in (G8, G4):
        visual, audio = reference(clip, g, options.get("frame_size", 64), options.get("cells", 4))
        assert out[g].visual.tobytes() == visual.tobytes()
        assert out[g].audio.tobytes() == audio.tobytes()


def test_widths_are_declared():
    enc = build_encoder(EncoderSpec.uniform("signal"))
    assert (enc.visual_dim, enc.audio_dim, enc.text_dim) == (384, 256, 512)
    desc = enc.describe()
    assert desc["visual"] == desc["audio"] == desc["text"] == {"kind": "signal", "options": {}}
    assert (desc["visual_dim"], desc["audio_dim"], desc["text_dim"]) == (384, 256, 512)
    assert desc["parts"]["visual"]["options"] == {"frame_size": 64, "cells": 4, "chunk": 64}
    small = build_encoder(EncoderSpec.uniform("signal", {"cells": 2, "frame_size": 32, "text_dim": 64}))
    assert (small.visual_dim, small.text_dim) == (sv.visual_dim(2), 64) == (2 * 47 + 55 + 4 + 3, 64)


def test_same_input_gives_identical_bytes_and_chunking_does_not_matter():
    clip = SynthClip(4.0, rotate_frames(3.0), noise(seconds=4))
    a, _ = encode(clip)
    b, _ = encode(clip)
    c, _ = encode(clip, chunk=7)
    for g in (G8, G4):
        assert a[g].visual.tobytes() == b[g].visual.tobytes()
        assert a[g].audio.tobytes() == b[g].audio.tobytes()
        np.testing.assert_allclose(c[g].visual, a[g].visual, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(c[g].audio, a[g].audio)


def test_grids_share_snippets_where_they_coincide():
    """Snippet 2t of stride 4 and snippet t of stride 8 cover the same frames and audio window."""
    out, _ = encode(SynthClip(6.0, square_frames(2.0), noise(seconds=6)))
    n8 = out[G8].num_snippets
    np.testing.assert_array_equal(out[G4].visual[: 2 * n8 : 2], out[G8].visual)
    np.testing.assert_array_equal(out[G4].audio[: 2 * n8 : 2], out[G8].audio)


def signal_with(visual: dict | None = None, text: dict | None = None) -> EncoderSpec:
    return EncoderSpec(PartSpec("signal", visual or {}), "signal", PartSpec("signal", text or {}))


def test_options_are_validated():
    with pytest.raises(ValueError, match=r"encoder 'signal': unknown option\(s\) \['framesize'\]"):
        EncoderSpec.uniform("signal", {"framesize": 64})
    with pytest.raises(EncoderError, match=r"visual encoder 'signal': unknown option\(s\) \['framesize'\]"):
        build_encoder(signal_with({"framesize": 64}))
    with pytest.raises(EncoderError, match="visual encoder 'signal': options must be integers"):
        build_encoder(signal_with({"frame_size": "64"}))
    with pytest.raises(EncoderError, match="multiple of cells"):
        build_encoder(signal_with({"frame_size": 30, "cells": 4}))
    with pytest.raises(EncoderError, match="text encoder 'signal': text_dim must be >= 16"):
        build_encoder(signal_with(text={"text_dim": 8}))
    with pytest.raises(
        ValueError, match=r"unknown encoder 'sigmal'; choose one of \['clip-clap', 'features', 'signal'\]"
    ):
        EncoderSpec.uniform("sigmal")
    with pytest.raises(EncoderError, match="at least one snippet grid"):
        encode(SynthClip(2.0, square_frames(1.0), None), grids=[])
    with pytest.raises(EncoderError, match="one frame rate"):
        encode(SynthClip(2.0, square_frames(1.0), None), grids=[G4, SnippetGrid(4, fps=8.0)])


def test_cache_key_tracks_numeric_options_only():
    def key(**options) -> str:
        return build_encoder(EncoderSpec.uniform("signal", options)).cache_key

    base = key()
    assert base.startswith("visual=signal-v1-") and base.endswith(";audio=signal-v1")
    assert key(chunk=16) == base
    assert key(text_dim=64) == base  # the text part does not change the features
    assert key(frame_size=96) != base
    assert key(cells=2) != base


def test_progress_is_monotone_and_ends_at_one():
    seen: list[float] = []
    media = FakeMedia()
    path = media.add("/virtual/p.mp4", SynthClip(10.0, square_frames(1.0), noise(seconds=10)))
    build_encoder(EncoderSpec.uniform("signal"), media=media.functions()).encode_file(
        path, [G8, G4], progress=seen.append
    )
    assert len(seen) > 3
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))
    assert seen[-1] == pytest.approx(1.0) and 0.0 <= seen[0] < 0.5


# ---- missing tracks -----------------------------------------------------------------------------


def test_audio_only_file_has_zero_visual_features_and_says_so():
    out, media = encode(SynthClip(3.0, None, tone(300.0, seconds=3)))
    f = out[G4]
    assert not f.has_video and f.has_audio
    assert f.visual.shape == (f.num_snippets, 384) and not f.visual.any()
    assert f.audio.std() > 0.1
    assert NOTE_NO_VIDEO in f.notes
    assert "video" not in [w for w, _ in media.calls]


def test_video_without_audio_is_encoded_on_silence_and_says_so():
    out, _ = encode(SynthClip(3.0, square_frames(1.0), None))
    f = out[G4]
    assert f.has_video and not f.has_audio
    assert f.notes == (NOTE_NO_AUDIO,)  # the decoder's own "no audio" remark is replaced, not repeated
    silent = sa.window_features(sa.frame_descriptors(np.zeros(16000, np.float32)), G4, 1)
    np.testing.assert_array_equal(f.audio, np.repeat(silent, f.num_snippets, axis=0))


# ---- visual features respond to colour and motion ------------------------------------------------


def test_colour_moves_the_colour_block():
    red = visual_of(solid_frames((0.9, 0.1, 0.1)))
    blue = visual_of(solid_frames((0.1, 0.1, 0.9)))
    col_r = red[:, MEAN : MEAN + 3 * C].reshape(-1, C, 3).mean(axis=(0, 1))
    col_b = blue[:, MEAN : MEAN + 3 * C].reshape(-1, C, 3).mean(axis=(0, 1))
    np.testing.assert_allclose(col_r, [0.9, 0.1, 0.1], atol=0.01)
    np.testing.assert_allclose(col_b, [0.1, 0.1, 0.9], atol=0.01)
    # a static frame has no motion
    assert np.abs(red[:, MEAN + 6 * C : MEAN + 9 * C]).max() < 1e-6


def test_moving_object_has_motion_energy_where_it_moves():
    static = inner(visual_of(square_frames(0.0)))
    moving = inner(visual_of(square_frames(2.0)))
    m_static = static[:, MEAN + 6 * C : MEAN + 7 * C]
    m_moving = moving[:, MEAN + 6 * C : MEAN + 7 * C].reshape(-1, 4, 4)
    assert m_static.max() < 1e-6
    # the square travels along the middle rows (cell rows 1 and 2), not the top and bottom rows
    assert m_moving[:, 1:3].mean() > 0.05
    assert m_moving[:, [0, 3]].max() < 1e-6
    assert moving[:, MEAN + ENERGY].mean() > static[:, MEAN + ENERGY].mean() + 0.1


def test_camera_pan_direction_is_in_the_global_flow():
    right = inner(visual_of(pan_frames(1.0, 0.0)))
    left = inner(visual_of(pan_frames(-1.0, 0.0)))
    down = inner(visual_of(pan_frames(0.0, 1.0)))
    # global u, v are in pixels/frame at 64 px, halved
    assert right[:, MEAN + U_G].mean() == pytest.approx(0.5, abs=0.1)
    assert left[:, MEAN + U_G].mean() == pytest.approx(-0.5, abs=0.1)
    assert abs(right[:, MEAN + V_G].mean()) < 0.1
    assert down[:, MEAN + V_G].mean() == pytest.approx(0.5, abs=0.1)
    # a uniform pan leaves no motion relative to the camera
    rel = right[:, MEAN + 7 * C : MEAN + 9 * C]
    assert np.abs(rel).mean() < 0.1 * abs(right[:, MEAN + U_G].mean())


def test_rotation_shows_as_curl_and_growth_as_divergence():
    ccw, cw = inner(visual_of(rotate_frames(2.0))), inner(visual_of(rotate_frames(-2.0)))
    grow, shrink = inner(visual_of(zoom_frames(0.02))), inner(visual_of(zoom_frames(-0.02)))
    curl_ccw, curl_cw = ccw[:, MEAN + CURL].mean(), cw[:, MEAN + CURL].mean()
    div_grow, div_shrink = grow[:, MEAN + DIV].mean(), shrink[:, MEAN + DIV].mean()
    assert abs(curl_ccw) > 0.1 and np.sign(curl_ccw) == -np.sign(curl_cw)
    assert abs(ccw[:, MEAN + DIV].mean()) < 0.3 * abs(curl_ccw)
    assert div_grow > 0.1 and div_shrink < -0.1
    assert abs(grow[:, MEAN + CURL].mean()) < 0.3 * div_grow


def test_temporal_pattern_separates_steady_and_oscillating_motion():
    """Same speed, different temporal pattern: a steady slide vs a swing (back and forth)."""

    def swing(k: int, w: int, h: int) -> np.ndarray:
        x = 20.0 * np.sin(2 * np.pi * k / 16.0)  # one period per snippet, amplitude 20 px
        return square_frames(1.0)(int(round(x)), w, h)  # square_frames(1.0) at "time" x is offset by x px

    steady = inner(visual_of(square_frames(0.5)))  # 24 px in 3 s: no wrap-around
    osc = inner(visual_of(swing))
    bins = 2 * sv.FRAME_DIM  # FFT block: 4 bins x 11 signals, bin-major (bin 1 first)
    slope = bins + 44
    # the swing's motion centroid oscillates once per window: strong first-bin energy after detrending;
    # the steady slide is a ramp, which the detrending removes
    assert osc[:, bins + (CX - GLOBAL)].mean() > 5 * steady[:, bins + (CX - GLOBAL)].mean()
    # the steady slide moves right in every window; the swing's net displacement changes sign
    assert (steady[:, slope + (CX - GLOBAL)] > 0).all()
    assert (osc[:, slope + (CX - GLOBAL)] > 0).any() and (osc[:, slope + (CX - GLOBAL)] < 0).any()


# ---- audio features respond to sound ------------------------------------------------------------


def test_pitch_moves_the_peak_mel_band():
    peaks = [int(np.argmax(audio_of(tone(f))[:, :64].mean(axis=0))) for f in (200.0, 800.0, 3000.0)]
    assert peaks[0] < peaks[1] < peaks[2]


def test_silence_tone_and_noise_differ_in_level_and_flatness():
    sil = audio_of(lambda sr: np.zeros(3 * sr, np.float32))
    ton = audio_of(tone(1000.0))
    noi = audio_of(noise(0.3))
    energy = 208  # log-energy mean
    flat = 215  # flatness mean
    assert sil[:, energy].max() < ton[:, energy].min()
    assert noi[:, flat].mean() > 10 * ton[:, flat].mean()
    assert sil[:, 226].min() == 1.0 and inner(ton)[:, 226].max() == 0.0  # silent-frame fraction


def test_audio_windows_are_centred_on_the_snippets():
    """A 20 ms burst at 3.1 s shows in exactly the stride-4 windows [c - 0.5, c + 0.5) that overlap it."""
    f = audio_of(clicks([3.1], seconds=6.0), seconds=6.0)
    centres = G4.centres(len(f))
    has_click = f[:, 210] > 0  # max log energy above -5 log10 units
    expected = (centres - 0.5 < 3.12) & (centres + 0.5 > 3.1)
    assert expected.sum() == 4
    np.testing.assert_array_equal(has_click, expected)


def test_frame_descriptors_are_chunk_independent_and_sized():
    x = np.random.default_rng(0).standard_normal(16000 * 3 + 77).astype(np.float32) * 0.1
    d = sa.frame_descriptors(x)
    assert d.shape == (-(-len(x) // 160), sa.FRAME_DESC_DIM)
    with pytest.raises(ValueError, match="16000 Hz"):
        sa.frame_descriptors(x, sample_rate=44100)


# ---- text ----------------------------------------------------------------------------------------


def test_text_embedding_similar_labels_are_closer():
    e = st.embed_texts(["dog barking", "dog bark", "a dog is barking", "car horn", "playing the violin"])
    cos = e @ e.T
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-6)
    assert cos[0, 1] > 0.5 and cos[0, 2] > 0.5
    assert cos[0, 3] < 0.1 and cos[0, 4] < 0.1 and cos[3, 4] < 0.1
    assert cos[0, 1] > cos[0, 3] + 0.4


def test_text_embedding_within_a_template():
    tpl = "A sound event of {}."
    e = st.embed_texts([tpl.format(x) for x in ("dog barking", "dog bark", "car horn")])
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2


def test_text_embedding_is_deterministic_and_normalises_text():
    enc = build_encoder(EncoderSpec.uniform("signal"))
    a = enc.encode_text(["Dog  barking!", "Café"])
    b = enc.encode_text(["dog barking", "cafe"])
    assert a.dtype == np.float32 and a.shape == (2, 512)
    assert a.tobytes() == b.tobytes()
    assert not enc.encode_text([""]).any()


def test_text_hash_is_the_stable_crc32_scheme():
    """The column and sign of a feature come from CRC-32 (not Python's salted hash())."""
    v = st.embed_texts(["dog"], dim=512)[0]
    feats = st.text_features("dog")
    assert set(feats) == {"w:dog", "c3:<do", "c3:dog", "c3:og>", "c4:<dog", "c4:dog>", "c5:<dog>"}
    h = zlib.crc32(b"w:dog")
    sign = -1.0 if (h >> 31) & 1 else 1.0
    assert sign * v[h % 512] > 0


# ---- real files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["chaplin.mp4", "no_audio_2s.mp4", "crunching.mp3", "one_pixel_5s.mp4"])
def test_real_files_give_features_matching_their_duration(media_dir: Path, name: str):
    from uniav.media.probe import probe_media

    path = media_dir / name
    info = probe_media(path)
    out = build_encoder(EncoderSpec.uniform("signal")).encode_file(path, [G8, G4])
    for g, f in out.items():
        assert f.num_snippets == g.num_snippets(info.duration)
        assert f.duration == pytest.approx(info.duration)
        assert np.isfinite(f.visual).all() and np.isfinite(f.audio).all()
        assert f.has_video == info.has_video and f.has_audio == info.has_audio
        assert f.visual.any() == info.has_video
    if not info.has_audio:
        assert NOTE_NO_AUDIO in out[G4].notes
    if not info.has_video:
        assert NOTE_NO_VIDEO in out[G4].notes


def test_real_sound_differs_from_silence(media_dir: Path):
    enc = build_encoder(EncoderSpec.uniform("signal"))
    bark = enc.encode_file(media_dir / "dog_bark.wav", [G4])[G4].audio
    quiet = enc.encode_file(media_dir / "no_audio_2s.mp4", [G4])[G4].audio
    assert bark[:, 210].max() > quiet[:, 210].max() + 1.0  # max log energy
