"""The sound track of a media file as mono float32 at a fixed rate (`decode_audio`).

Decoding is PyAV (FFmpeg) packet by packet, so that an error in the middle of a stream keeps
everything decoded before and after it; each decoded frame is mixed to mono (channel mean) and
placed on the file's timeline by its timestamp (gaps and a late start become silence); the
result is resampled in a stream by torchaudio (`StreamResampler`) and fitted to the duration
of the file, so that sample i is at time i / sample_rate like video frame k is at k / fps.
Everything that deviates from a clean decode is told in `AudioTrack.notes`.

(decord's AudioReader decodes a whole stream in one call, all or nothing, and mixes stereo to
mono as (L + R) / sqrt(2); PyAV gives per-packet control, so it is the decoder here.)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from uniav.media.probe import DecodeFailures, MediaInfo, decode_frames, open_media, probe_media
from uniav.media.resample import StreamResampler, resample

# A jump in timestamps longer than this (seconds) is a gap, filled with silence.
GAP_TOLERANCE_S = 0.02
# Missing audio at the end longer than this (seconds) is reported in the notes.
SHORT_TOLERANCE_S = 0.25
# Decoded audio running past the file's duration by more than this (seconds) is reported, then cut.
LONG_TOLERANCE_S = 0.5

_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}


@dataclass(frozen=True)
class AudioTrack:
    """A mono waveform (float32, shape (N,)) at `sample_rate`, starting at time 0 of the file.

    `notes` say, in words for the user, where the waveform is not simply the decoded sound
    (no audio track, decode errors, silence padding).
    """

    waveform: np.ndarray
    sample_rate: int
    notes: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.waveform) / self.sample_rate


def samples_to_mono(samples: np.ndarray, sample_format: str, planar: bool, channels: int) -> np.ndarray:
    """Mono float32 in [-1, 1] from one PyAV audio frame's ``to_ndarray()`` (channel mean).

    Planar arrays are (channels, n); packed ones (1, n * channels), interleaved.
    Integer formats are scaled to [-1, 1] (unsigned u8 centred on 128).
    """
    x = samples.reshape(channels, -1) if planar else samples.reshape(-1, channels).T
    base = sample_format.rstrip("p")
    if base in ("flt", "dbl"):
        mono = x.mean(axis=0, dtype=np.float64)
    elif base == "u8":
        mono = (x.mean(axis=0, dtype=np.float64) - 128.0) / _SCALE["u8"]
    elif base in _SCALE:
        mono = x.mean(axis=0, dtype=np.float64) / _SCALE[base]
    else:
        raise ValueError(f"unsupported audio sample format {sample_format!r}")
    return mono.astype(np.float32)


def _silence(info: MediaInfo, sample_rate: int, note: str) -> AudioTrack:
    n = max(0, round(info.duration * sample_rate))
    return AudioTrack(np.zeros(n, dtype=np.float32), sample_rate, (note,))


class _Timeline:
    """Mono source-rate samples placed by timestamp, resampled as they come into a preallocated
    output of `max_samples` source samples' worth (the rest of it stays silence)."""

    def __init__(self, src_rate: int, out_rate: int, max_samples: int) -> None:
        self.src_rate = src_rate
        self.written = 0  # source samples placed so far (timeline position)
        self.max_samples = max_samples
        self.gaps = 0.0  # seconds of silence inserted for gaps
        self._resampler = StreamResampler(src_rate, out_rate) if src_rate != out_rate else None
        self._out = np.zeros(math.ceil(max_samples * out_rate / src_rate) + 1, dtype=np.float32)
        self._filled = 0
        self._piece = 10 * src_rate  # longest input handed on at once (bounds silence for gaps)

    def _store(self, y: np.ndarray) -> None:
        n = min(len(y), len(self._out) - self._filled)
        self._out[self._filled : self._filled + n] = y[:n]
        self._filled += n

    def _emit(self, x: np.ndarray | None, count: int) -> None:
        """Hand on `count` samples: those of `x`, or silence when `x` is None."""
        for lo in range(0, count, self._piece):
            n = min(self._piece, count - lo)
            part = np.zeros(n, dtype=np.float32) if x is None else x[lo : lo + n]
            self._store(self._resampler.push(part) if self._resampler is not None else part)
            self.written += n

    def place(self, mono: np.ndarray, start: float | None) -> None:
        """Put `mono` at `start` seconds (None: right after the previous samples)."""
        if start is not None:
            pos = round(start * self.src_rate)
            jump = pos - self.written
            if jump > GAP_TOLERANCE_S * self.src_rate and pos <= self.max_samples:
                if self.written > 0:
                    self.gaps += jump / self.src_rate
                self._emit(None, jump)
            elif self.written == 0 and pos < 0:  # starts before the timeline origin
                mono = mono[-pos:]
        room = self.max_samples - self.written
        if len(mono) and room > 0:
            self._emit(mono, min(len(mono), room))

    @property
    def full(self) -> bool:
        return self.written >= self.max_samples

    def finish(self) -> np.ndarray:
        """The output buffer: resampled sound, then silence to its end."""
        if self._resampler is not None:
            self._store(self._resampler.finish())
        return self._out


def decode_audio(path: str | os.PathLike[str], sample_rate: int = 16000, info: MediaInfo | None = None) -> AudioTrack:
    """The sound of `path` as mono float32 at `sample_rate`, covering the file's duration.

    The waveform has ``round(info.duration * sample_rate)`` samples. A file without an audio
    stream gives silence and a note; a stream that fails or ends early keeps what decoded, pads
    with silence and says so in the notes. Raises MediaError when the file cannot be read at all
    (see `probe_media`).
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    path = os.fspath(path)
    info = info if info is not None else probe_media(path)
    if not info.has_audio:
        return _silence(info, sample_rate, "no audio track: audio is silence")
    target = max(0, round(info.duration * sample_rate))
    notes: list[str] = []
    with open_media(path) as media:
        stream = media.audio
        if stream is None:
            return _silence(info, sample_rate, "no audio track: audio is silence")
        src_rate = info.audio_sample_rate or stream.codec_context.sample_rate or sample_rate
        timeline = _Timeline(src_rate, sample_rate, round((info.duration + LONG_TOLERANCE_S) * src_rate))
        failures = DecodeFailures()
        for frame in decode_frames(media, stream, failures):
            if timeline.full:
                break
            mono = samples_to_mono(
                frame.to_ndarray(), frame.format.name, frame.format.is_planar, frame.layout.nb_channels
            )
            if frame.sample_rate != src_rate:
                rate_note = f"audio sample rate changes mid-stream ({src_rate} -> {frame.sample_rate} Hz)"
                if rate_note not in notes:
                    notes.append(rate_note)
                mono = resample(mono, frame.sample_rate, src_rate)
            start = float(frame.time) - media.start if frame.time is not None else None
            timeline.place(mono, start)
    decoded_s = timeline.written / src_rate
    wave = timeline.finish()
    failed, first_failure, stopped = failures.failed, failures.first, failures.stopped
    if timeline.written == 0:
        detail = f" ({first_failure or stopped})" if (first_failure or stopped) else ""
        return _silence(info, sample_rate, f"audio track could not be decoded{detail}: audio is silence")
    if failed:
        notes.append(f"{failed} audio packet(s) failed to decode (first: {first_failure}); silence in their place")
    if stopped is not None:
        notes.append(f"audio decoding stopped at {decoded_s:.2f} s ({stopped}); the rest is silence")
    elif info.duration - decoded_s > SHORT_TOLERANCE_S:
        notes.append(f"audio ends at {decoded_s:.2f} s of {info.duration:.2f} s; padded with silence to the end")
    if timeline.gaps > GAP_TOLERANCE_S and not failed:
        notes.append(f"audio has gaps ({timeline.gaps:.2f} s in all), filled with silence")
    if timeline.full:
        notes.append(f"audio runs past the file's duration ({info.duration:.2f} s); cut there")
    return AudioTrack(wave[:target], sample_rate, tuple(notes))  # (the buffer holds >= target samples)
