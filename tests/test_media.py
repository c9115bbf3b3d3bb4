"""The media layer on the real files of ../shared/media and on clips generated with PyAV.

Generated clips show their frame number as a flat grey level (16 + 3 * i, near-lossless H.264),
so a test can read back which source frame came out; their sound is a 440 Hz tone of amplitude
0.1 in both channels (RMS 0.1 / sqrt(2)).
"""

from __future__ import annotations

import math
import pickle
import tracemalloc
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torchaudio

from uniav.media import (
    AudioTrack,
    MediaError,
    MediaInfo,
    VideoBackend,
    decode_audio,
    open_video,
    probe_media,
)
from uniav.media.audio import samples_to_mono
from uniav.media.resample import StreamResampler
from uniav.media.video import expected_frame_count, source_indices

SR = 16000
TONE_RMS = 0.1 / math.sqrt(2)
BACKENDS = [VideoBackend.DECORD, VideoBackend.PYAV]


# -- helpers ------------------------------------------------------------------------------------


def write_clip(
    path: Path,
    *,
    vcodec: str | None = "libx264",
    fps: int = 24,
    frames: int = 48,
    size: tuple[int, int] = (64, 48),
    acodec: str | None = "aac",
    audio_rate: int = 44100,
    audio_seconds: float | None = None,
    video_start: float = 0.0,
    options: dict[str, str] | None = None,
) -> Path:
    """Write a clip: frame i is flat grey 16 + 3 * (i % 72); stereo 440 Hz tone of amplitude 0.1."""
    container = av.open(str(path), "w", options=options or {})
    if vcodec is not None:
        vs = container.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        if vcodec == "libx264":
            vs.options = {"preset": "ultrafast", "qp": "0"}
    if acodec is not None:
        aus = container.add_stream(acodec, rate=audio_rate)
        aus.layout = "stereo"
    if vcodec is not None:
        for i in range(frames):
            img = np.full((size[1], size[0], 3), 16 + 3 * (i % 72), np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i + round(video_start * fps), Fraction(1, fps)
            for packet in vs.encode(frame):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
    if acodec is not None:
        seconds = audio_seconds if audio_seconds is not None else frames / fps
        total, t = round(seconds * audio_rate), 0
        step = aus.codec_context.frame_size or 1024
        while t < total:
            m = min(step, total - t)
            tone = (0.1 * np.sin(2 * np.pi * 440 * (np.arange(m) + t) / audio_rate)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = audio_rate, t
            t += m
            for packet in aus.encode(frame):
                container.mux(packet)
        for packet in aus.encode():
            container.mux(packet)
    container.close()
    return path


def frames_of(path: Path | str, **kwargs: object) -> tuple[np.ndarray, list[str], int]:
    """All frames of open_video(path, **kwargs) (small clips only), its notes and expected_frames."""
    stream = open_video(path, **kwargs)
    chunks = list(stream)
    return np.concatenate(chunks), stream.notes, stream.expected_frames


def grey_index(frames: np.ndarray) -> np.ndarray:
    """Source frame number shown by each generated frame (float; exact frames sit within 0.5)."""
    return (frames.reshape(len(frames), -1).mean(axis=1) - 16) / 3


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def assert_full_length(track: AudioTrack, info: MediaInfo) -> None:
    assert track.sample_rate == SR
    assert track.waveform.dtype == np.float32 and track.waveform.ndim == 1
    assert len(track.waveform) == round(info.duration * SR)


# -- the shared media files (one test per file) -------------------------------------------------


def test_big_buck_bunny_webm(media_dir: Path) -> None:
    path = media_dir / "big_buck_bunny_30s.webm"
    info = probe_media(path)
    assert info.duration == pytest.approx(30.0, abs=0.05)
    assert (info.has_video, info.has_audio) == (True, True)
    assert (info.width, info.height, info.video_fps) == (1280, 720, 24.0)
    assert (info.audio_sample_rate, info.audio_channels) == (44100, 2)
    stream = open_video(path, size=(32, 32), info=info)
    count, shapes = 0, set()
    brightness = []
    for chunk in stream:
        count += len(chunk)
        shapes.add(chunk.shape[1:])
        assert chunk.dtype == np.uint8 and 1 <= len(chunk) <= 64
        brightness.append(chunk.reshape(len(chunk), -1).mean(axis=1))
    assert count == stream.expected_frames == 481  # 30.003 s at 16 fps
    assert shapes == {(32, 32, 3)}
    assert stream.notes == []
    level = np.concatenate(brightness)
    assert level[:5].max() < 5 and level[100:].mean() > 50  # opens on black, then the meadow
    track = decode_audio(path, info=info)
    assert_full_length(track, info)
    assert track.notes == ()
    assert rms(track.waveform) > 0.02


def test_chaplin_mp4_decord_and_pyav_agree(media_dir: Path) -> None:
    path = media_dir / "chaplin.mp4"
    info = probe_media(path)
    assert info.duration == pytest.approx(9.64, abs=0.01)
    assert (info.width, info.height, info.video_fps, info.audio_sample_rate) == (640, 360, 25.0, 44100)
    by_decord, notes_d, n = frames_of(path, size=(64, 48), info=info, backend=VideoBackend.DECORD)
    by_pyav, notes_p, _ = frames_of(path, size=(64, 48), info=info, backend=VideoBackend.PYAV)
    assert n == 155 and by_decord.shape == by_pyav.shape == (155, 48, 64, 3)
    assert notes_d == notes_p == []
    diff = np.abs(by_decord.astype(np.int16) - by_pyav).mean(axis=(1, 2, 3))
    assert diff.max() < 1.0  # same source frames, same scaler
    # and neighbouring output frames do differ (a film, not a still): the agreement is not trivial
    assert np.abs(by_decord[1:].astype(np.int16) - by_decord[:-1]).mean() > 1.0
    track = decode_audio(path, info=info)
    assert_full_length(track, info)
    assert track.notes == ()
    assert rms(track.waveform) > 0.05


def test_video_with_failing_audio_keeps_video(media_dir: Path) -> None:
    path = media_dir / "video_with_failing_audio.mp4"
    info = probe_media(path)
    assert info.duration == pytest.approx(11.23, abs=0.01)
    frames, notes, n = frames_of(path, size=(32, 32), info=info)
    assert frames.shape == (180, 32, 32, 3) and n == 180
    assert frames.mean() > 20
    track = decode_audio(path, info=info)
    assert_full_length(track, info)
    assert rms(track.waveform[: 4 * SR]) > 0.005  # its sound is in the first 5 s; silence after
    assert rms(track.waveform[6 * SR :]) < 1e-3


@pytest.mark.parametrize("name,seconds", [("no_audio_2s.mp4", 2.0), ("no_audio_16s.mp4", 16.0)])
def test_no_audio_gives_silence_and_a_note(media_dir: Path, name: str, seconds: float) -> None:
    path = media_dir / name
    info = probe_media(path)
    assert (info.has_video, info.has_audio, info.duration) == (True, False, seconds)
    assert info.audio_sample_rate is None and info.audio_channels is None
    track = decode_audio(path, info=info)
    assert len(track.waveform) == round(seconds * SR) and not track.waveform.any()
    assert track.notes == ("no audio track: audio is silence",)
    size = None if seconds < 3 else (40, 30)
    frames, notes, n = frames_of(path, size=size, info=info)
    assert n == round(seconds * 16) and notes == []
    assert frames.shape == ((n, 480, 640, 3) if size is None else (n, 30, 40, 3))


def test_one_pixel_video_decodes_with_fallback(media_dir: Path) -> None:
    path = media_dir / "one_pixel_5s.mp4"
    info = probe_media(path)
    assert (info.width, info.height, info.video_fps, info.duration, info.has_audio) == (1, 1, 1.0, 5.0, False)
    frames, notes, n = frames_of(path, info=info)
    assert frames.shape == (80, 1, 1, 3) and n == 80
    assert len(notes) == 1 and "PyAV" in notes[0] and "decord failed" in notes[0]
    # source frames (1 fps) are red, green, blue, black, white: each shown for 16 output frames
    colours = np.array([[254, 0, 0], [0, 255, 1], [0, 0, 255], [0, 0, 0], [255, 255, 255]])
    expected = np.repeat(colours, 16, axis=0)
    assert np.abs(frames[:, 0, 0, :].astype(int) - expected).max() <= 2
    # a requested size too small for decord falls back too, and is honoured
    resized, notes, _ = frames_of(path, size=(4, 2), info=info)
    assert resized.shape == (80, 2, 4, 3) and "PyAV" in notes[0]
    assert np.abs(resized[:, 1, 3].astype(int) - expected).max() <= 2


def test_crunching_mp3_is_audio_only(media_dir: Path) -> None:
    path = media_dir / "crunching.mp3"
    info = probe_media(path)
    assert (info.has_video, info.has_audio) == (False, True)
    assert (info.width, info.video_fps, info.audio_sample_rate, info.audio_channels) == (None, None, 48000, 2)
    assert info.duration == pytest.approx(8.31, abs=0.02)
    track = decode_audio(path, info=info)
    assert_full_length(track, info)
    assert rms(track.waveform) > 1e-3  # quiet crunching, but not silence
    with pytest.raises(MediaError) as err:
        open_video(path, info=info)
    assert err.value.reason == "no video stream (an audio-only file)"


def test_rain_60s_mp3(media_dir: Path) -> None:
    path = media_dir / "rain_60s.mp3"
    info = probe_media(path)
    assert (info.has_video, info.audio_sample_rate) == (False, 44100)
    assert info.duration == pytest.approx(60.46, abs=0.02)
    track = decode_audio(path, info=info)
    assert_full_length(track, info)
    assert track.notes == ()
    per_second = np.sqrt(np.mean(track.waveform[: 60 * SR].reshape(60, SR) ** 2, axis=1))
    assert per_second.min() > 0.005 and np.median(per_second) > 0.03  # rain throughout, never silence


@pytest.mark.parametrize(
    "name,seconds", [("car_horn.wav", 0.6875), ("human_voice_all_aboard.wav", 1.5396), ("dog_bark.wav", 0.1631)]
)
def test_short_sound_event_wavs(media_dir: Path, name: str, seconds: float) -> None:
    path = media_dir / name
    info = probe_media(path)
    assert (info.has_video, info.audio_sample_rate, info.audio_channels) == (False, 44100, 2)
    assert info.duration == pytest.approx(seconds, abs=1e-3) and info.duration < 1.6
    track = decode_audio(path, info=info)
    assert_full_length(track, info)
    assert rms(track.waveform) > 0.05
    # the same as a plain whole-file decode: channel mean, then torchaudio at 44.1 -> 16 kHz
    with wave.open(str(path)) as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    mono = torch.from_numpy((raw.astype(np.float64).mean(axis=1) / 32768).astype(np.float32))
    plain = torchaudio.functional.resample(mono, 44100, SR).numpy()
    assert len(plain) - len(track.waveform) in (0, 1)  # (the track is fitted to the duration)
    assert np.abs(plain[: len(track.waveform)] - track.waveform).max() < 1e-4


def test_noise_16k_wav_is_not_resampled(media_dir: Path) -> None:
    path = media_dir / "noise_16k.wav"
    info = probe_media(path)
    assert (info.audio_sample_rate, info.audio_channels) == (16000, 1)
    track = decode_audio(path, info=info)
    with wave.open(str(path)) as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    np.testing.assert_array_equal(track.waveform, raw)  # bit-exact: no resampler in the way
    assert rms(track.waveform) == pytest.approx(0.2173, abs=1e-3)
    half = decode_audio(path, sample_rate=8000, info=info)
    assert half.sample_rate == 8000 and len(half.waveform) == round(info.duration * 8000)
    # this noise lies below 1 kHz: halving the rate keeps its energy
    assert rms(half.waveform) == pytest.approx(rms(track.waveform), rel=0.01)


def test_truncated_mp4_is_a_clear_error(media_dir: Path) -> None:
    path = media_dir / "truncated.mp4"
    for read in (probe_media, decode_audio, open_video):
        with pytest.raises(MediaError) as err:
            read(path)
        assert err.value.reason.startswith("no decodable stream: the MP4/MOV index (moov atom) is missing")
        assert "truncated" in err.value.reason and err.value.path == str(path)


def test_not_a_video_is_a_clear_error(media_dir: Path) -> None:
    with pytest.raises(MediaError) as err:
        probe_media(media_dir / "not_a_video.mp4")
    assert err.value.reason == "not a media file: it contains text, not audio or video"


def test_empty_file_is_a_clear_error(media_dir: Path) -> None:
    path = media_dir / "empty.mp4"
    with pytest.raises(MediaError) as err:
        probe_media(path)
    assert err.value.reason == "empty file (0 bytes)"
    assert str(err.value) == f"{path}: empty file (0 bytes)"


def write_picture(path: Path, fmt: str) -> Path:
    """A 40x30 picture in `fmt` ("PNG", "JPEG", "WEBP") under whatever name `path` has."""
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_picture_named_like_a_video_is_a_still_image(tmp_path: Path, fmt: str) -> None:
    path = write_picture(tmp_path / "image.mp4", fmt)
    for read in (probe_media, decode_audio, open_video):
        with pytest.raises(MediaError) as err:
            read(path)
        assert err.value.reason.startswith("a still image (")
        assert "not a video" in err.value.reason and "upload a video or an audio file" in err.value.reason


def test_a_single_frame_without_sound_is_not_a_video_but_a_still_picture_over_sound_is(tmp_path: Path) -> None:
    fps = 25
    silent = write_clip(tmp_path / "one_frame.mp4", frames=1, fps=fps, acodec=None)
    with pytest.raises(MediaError) as err:
        probe_media(silent)
    assert err.value.reason.startswith(f"a single video frame ({1 / fps:.2f} s) and no sound")
    two = write_clip(tmp_path / "two_frames.mp4", frames=2, fps=fps, acodec=None)
    assert probe_media(two).duration == pytest.approx(2 / fps, abs=1e-3)
    voiced = write_clip(tmp_path / "one_frame_and_sound.mp4", frames=1, fps=fps, audio_seconds=2.0)
    info = probe_media(voiced)
    assert info.has_video and info.has_audio and info.duration == pytest.approx(2.0, abs=0.05)


def test_notes_and_reasons_never_name_the_path(tmp_path: Path) -> None:
    from uniav.media.probe import ffmpeg_reason

    folder = tmp_path / "server-only-folder"
    folder.mkdir()
    # decord cannot measure a live webm and names the file in its message; the note keeps the message only
    path = write_clip(
        folder / "no_duration.webm", vcodec="libvpx", fps=25, frames=50, acodec=None, options={"live": "1"}
    )
    _, notes, _ = frames_of(path, size=(16, 16), backend=VideoBackend.AUTO)
    assert notes and notes[0].startswith("frames decoded with PyAV (decord failed: Failed to measure")
    assert not any(str(folder) in n or "no_duration" in n for n in notes)
    # PyAV's errors append the file name: the reason is FFmpeg's message alone
    missing = folder / "missing.mp4"
    with pytest.raises(av.error.FFmpegError) as err:
        av.open(str(missing))
    assert str(missing) in str(err.value) and ffmpeg_reason(err.value) == "No such file or directory"

    class Unnamed(Exception):  # an error without FFmpeg's own message
        strerror = None
        filename = str(missing)

    assert ffmpeg_reason(Unnamed(f"cannot open {missing} now")) == "cannot open missing.mp4 now"


# -- errors -------------------------------------------------------------------------------------


def test_missing_file_directory_and_garbage(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as err:
        probe_media(tmp_path / "nope.mp4")
    assert err.value.reason == "file not found"
    with pytest.raises(MediaError) as err:
        probe_media(tmp_path)
    assert err.value.reason == "not a file (a directory)"
    garbage = tmp_path / "noise.mkv"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError) as err:
        probe_media(garbage)
    assert err.value.reason.startswith("not a media file: FFmpeg cannot read it")


def test_media_error_pickles_with_path_and_reason() -> None:
    e = pickle.loads(pickle.dumps(MediaError("a/b.mp4", "empty file (0 bytes)")))
    assert (e.path, e.reason, str(e)) == ("a/b.mp4", "empty file (0 bytes)", "a/b.mp4: empty file (0 bytes)")


def test_bad_arguments(media_dir: Path) -> None:
    path = media_dir / "no_audio_2s.mp4"
    for kwargs in ({"fps": 0}, {"chunk": 0}, {"size": (0, 10)}, {"size": (10,)}):
        with pytest.raises(ValueError):
            open_video(path, **kwargs)
    with pytest.raises(ValueError):
        decode_audio(path, sample_rate=0)


# -- generated clips ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("src_fps,frames", [(24, 72), (25, 70), (10, 30)])
def test_resampling_to_16_fps_picks_the_frame_on_screen(
    tmp_path: Path, backend: VideoBackend, src_fps: int, frames: int
) -> None:
    path = write_clip(tmp_path / "count.mp4", fps=src_fps, frames=frames, acodec=None)
    got, notes, n = frames_of(path, backend=backend)
    assert n == expected_frame_count(frames / src_fps, 16.0) == math.ceil(frames / src_fps * 16 - 1e-9)
    assert got.shape == (n, 48, 64, 3) and notes == []
    k = np.arange(n)
    expected = np.floor(k * src_fps / 16 + 1e-9)  # source frame on screen at k / 16 s
    assert np.abs(grey_index(got) - expected).max() < 0.5


@pytest.mark.parametrize(
    "ext,vcodec,acodec,rate",
    [
        ("mp4", "libx264", "aac", 44100),
        ("webm", "libvpx", "libopus", 48000),
        ("mkv", "libx264", "flac", 44100),
        ("avi", "mpeg4", "libmp3lame", 44100),
        ("mov", "libx264", "aac", 48000),
    ],
)
def test_containers(tmp_path: Path, ext: str, vcodec: str, acodec: str, rate: int) -> None:
    path = write_clip(tmp_path / f"clip.{ext}", vcodec=vcodec, acodec=acodec, audio_rate=rate)
    info = probe_media(path)
    assert (info.has_video, info.has_audio, info.width, info.height) == (True, True, 64, 48)
    assert info.audio_sample_rate == rate and info.duration == pytest.approx(2.0, abs=0.05)
    frames, notes, n = frames_of(path, info=info)
    assert frames.shape == (n, 48, 64, 3) and n in (32, 33) and notes == []
    if vcodec != "mpeg4":  # (mpeg4 at its default bit rate blurs the grey levels)
        expected = np.minimum(np.floor(np.arange(n) * 24 / 16 + 1e-9), 47)
        assert np.abs(grey_index(frames) - expected).max() < 1.0
    track = decode_audio(path, info=info)
    assert_full_length(track, info)
    assert rms(track.waveform[SR // 4 : -SR // 4]) == pytest.approx(TONE_RMS, rel=0.08)


@pytest.mark.parametrize("ext,acodec,rate", [("flac", "flac", 44100), ("ogg", "libopus", 48000), ("m4a", "aac", 22050)])
def test_audio_only_containers(tmp_path: Path, ext: str, acodec: str, rate: int) -> None:
    path = write_clip(tmp_path / f"tone.{ext}", vcodec=None, acodec=acodec, audio_rate=rate, audio_seconds=1.5)
    info = probe_media(path)
    assert (info.has_video, info.has_audio, info.audio_sample_rate) == (False, True, rate)
    assert info.duration == pytest.approx(1.5, abs=0.02)
    track = decode_audio(path, info=info)
    assert_full_length(track, info)
    assert rms(track.waveform[SR // 4 : -SR // 4]) == pytest.approx(TONE_RMS, rel=0.05)
    # 440 Hz survives resampling where it belongs
    spectrum = np.abs(np.fft.rfft(track.waveform[:SR]))
    assert np.argmax(spectrum) == 440


def test_mp3_cover_art_is_not_a_video(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "song.mp3", vcodec=None, acodec="libmp3lame", audio_seconds=1.0)
    with av.open(str(path)) as plain, av.open(str(tmp_path / "covered.mp3"), "w") as out:
        src = plain.streams.audio[0]
        audio = out.add_stream_from_template(src)
        cover = out.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for packet in cover.encode(picture.reformat(format="yuvj420p")) + cover.encode():
            out.mux(packet)
        for packet in plain.demux(src):
            if packet.dts is not None:
                packet.stream = audio
                out.mux(packet)
    with av.open(str(tmp_path / "covered.mp3")) as c:
        assert [s.type for s in c.streams] == ["audio", "video"]  # the picture is a video stream
    info = probe_media(tmp_path / "covered.mp3")
    assert (info.has_video, info.has_audio, info.width) == (False, True, None)
    assert rms(decode_audio(tmp_path / "covered.mp3", info=info).waveform[4000:-4000]) == pytest.approx(
        TONE_RMS, rel=0.08
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_late_video_start_is_placed_on_the_file_timeline(tmp_path: Path, backend: VideoBackend) -> None:
    # video from 1 s to 3 s, audio from 0 s to 2 s: frames before 1 s show the first frame
    path = write_clip(tmp_path / "late.mp4", frames=48, video_start=1.0, audio_seconds=2.0)
    info = probe_media(path)
    assert info.duration == pytest.approx(3.0, abs=0.01)
    frames, _, n = frames_of(path, info=info, backend=backend)
    assert n == 48
    t = np.arange(n) / 16
    expected = np.where(t < 1.0, 0, np.floor((t - 1.0) * 24 + 1e-9))
    assert np.abs(grey_index(frames) - expected).max() < 0.5
    track = decode_audio(path, info=info)
    assert_full_length(track, info)
    assert rms(track.waveform[SR // 4 : 7 * SR // 4]) == pytest.approx(TONE_RMS, rel=0.05)
    assert not track.waveform[2 * SR + 200 :].any()
    assert len(track.notes) == 1
    assert track.notes[0].startswith("audio ends at 2.0") and track.notes[0].endswith(
        " s of 3.00 s; padded with silence to the end"
    )


def test_cut_off_webm_keeps_what_decoded(tmp_path: Path) -> None:
    full = write_clip(tmp_path / "full.webm", vcodec="libvpx", fps=25, frames=100, acodec="libopus", audio_rate=48000)
    data = full.read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: len(data) // 2])  # an interrupted upload: header says 4 s, half the data
    info = probe_media(cut)
    assert info.duration == pytest.approx(4.0, abs=0.05)
    track = decode_audio(cut, info=info)
    assert_full_length(track, info)
    assert len(track.notes) == 1 and track.notes[0].startswith("audio ends at ")
    decoded_s = float(track.notes[0].split()[3])
    assert 1.0 < decoded_s < 3.0
    assert rms(track.waveform[SR // 4 : int((decoded_s - 0.25) * SR)]) == pytest.approx(TONE_RMS, rel=0.05)
    assert not track.waveform[int((decoded_s + 0.05) * SR) :].any()
    for backend in BACKENDS:
        frames, notes, n = frames_of(cut, info=info, backend=backend)
        assert frames.shape[0] == n == expected_frame_count(info.duration, 16.0) and n in (64, 65)
        assert len(notes) == 1 and "its last frame is repeated to the end" in notes[0]
        assert np.ptp(grey_index(frames[-20:])) < 0.5  # the last decoded frame, held


def test_live_webm_without_duration_is_scanned(tmp_path: Path) -> None:
    # as browsers record: no duration in the header (the muxer's live mode)
    path = write_clip(
        tmp_path / "live.webm",
        vcodec="libvpx",
        fps=25,
        frames=50,
        acodec="libopus",
        audio_rate=48000,
        options={"live": "1"},
    )
    with av.open(str(path)) as c:
        assert c.duration is None
    info = probe_media(path)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    frames, _, n = frames_of(path, info=info, size=(16, 16))
    assert n == len(frames) == math.ceil(info.duration * 16 - 1e-9)


def test_corrupt_packets_midway_keep_the_rest(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clean.mp4", fps=25, frames=100, size=(160, 120), acodec="libmp3lame")
    data = bytearray(clip.read_bytes())
    lo, hi = int(len(data) * 0.3), int(len(data) * 0.5)
    data[lo:hi] = np.random.default_rng(1).integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    info = probe_media(bad)
    track = decode_audio(bad, info=info)
    assert_full_length(track, info)
    assert len(track.notes) == 1 and "audio packet(s) failed to decode" in track.notes[0]
    per_tenth = np.sqrt(np.mean(track.waveform.reshape(-1, SR // 10) ** 2, axis=1))
    assert per_tenth[:8].min() > 0.06 and per_tenth[-10:].min() > 0.06  # before and after: the tone
    assert per_tenth.min() < 0.01  # the lost packets: silence
    # decord delivers the first chunks, then raises; PyAV continues from there
    stream = open_video(bad, info=info, chunk=8)
    frames = np.concatenate(list(stream))
    assert frames.shape == (64, 120, 160, 3)
    assert any(note.startswith("frames decoded with PyAV from ") for note in stream.notes)
    assert any("video packet(s) failed to decode" in note for note in stream.notes)
    clean = np.concatenate(list(open_video(clip, chunk=8)))
    first = int(float(stream.notes[0].split(" from ")[1].split()[0]) * 16)
    assert first >= 8
    np.testing.assert_array_equal(frames[:first], clean[:first])  # decord's frames were the right ones


@pytest.mark.parametrize("backend", BACKENDS)
def test_streaming_holds_one_chunk(tmp_path: Path, backend: VideoBackend) -> None:
    path = write_clip(tmp_path / "ten.mp4", fps=25, frames=250, size=(160, 120), acodec=None)
    stream = open_video(path, chunk=8, backend=backend)
    frame_bytes = 160 * 120 * 3
    all_bytes = stream.expected_frames * frame_bytes  # 160 frames: 9.2 MB
    sizes = []
    tracemalloc.start()
    try:
        for chunk in stream:
            sizes.append(len(chunk))
            del chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(sizes) == stream.expected_frames == 160
    assert max(sizes) == 8 and all(s == 8 for s in sizes[:-1])
    assert peak < 4 * 8 * frame_bytes < all_bytes / 4


# -- pure pieces --------------------------------------------------------------------------------


def test_source_indices() -> None:
    starts = np.array([0.0, 0.04, 0.08, 0.12])
    times = np.array([-1.0, 0.0, 0.039, 0.04, 0.0625, 0.08, 5.0])
    np.testing.assert_array_equal(source_indices(starts, times), [0, 0, 0, 1, 1, 2, 3])
    # a late first frame covers the times before it
    np.testing.assert_array_equal(source_indices(np.array([1.0, 2.0]), np.array([0.0, 1.5, 2.0])), [0, 0, 1])
    assert expected_frame_count(30.003, 16) == 481 and expected_frame_count(5.0, 16) == 80
    assert expected_frame_count(0.0, 16) == 1


def test_samples_to_mono_formats() -> None:
    planar = np.array([[0.5, -0.5], [0.25, 0.25]], dtype=np.float32)  # (channels, n)
    np.testing.assert_allclose(samples_to_mono(planar, "fltp", True, 2), [0.375, -0.125])
    packed = np.array([[16384, -16384, 32767, 32767]], dtype=np.int16)  # L R L R
    np.testing.assert_allclose(samples_to_mono(packed, "s16", False, 2), [0.0, 32767 / 32768])
    u8 = np.array([[0, 128, 255]], dtype=np.uint8)
    np.testing.assert_allclose(samples_to_mono(u8, "u8", False, 1), [-1.0, 0.0, 127 / 128])
    with pytest.raises(ValueError):
        samples_to_mono(planar, "weird", True, 2)


@pytest.mark.parametrize("orig,new", [(44100, 16000), (48000, 16000), (22050, 16000), (8000, 16000)])
def test_stream_resampler_matches_whole_signal(orig: int, new: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3 * orig + 123).astype(np.float32)
    whole = torchaudio.functional.resample(torch.from_numpy(x), orig, new).numpy()
    r = StreamResampler(orig, new, block_seconds=0.3)
    cuts = np.cumsum(rng.integers(1, 5000, size=len(x)))
    pieces = np.split(x, cuts[cuts < len(x)])
    out = np.concatenate([r.push(p) for p in pieces] + [r.finish()])
    assert len(out) == len(whole) == math.ceil(len(x) * new / orig)
    assert np.abs(out - whole).max() < 1e-4
