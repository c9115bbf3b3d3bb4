"""Frames of a video at a fixed rate, in bounded chunks (`open_video`, `VideoStream`).

Output frame k is the source frame on screen at time k / fps of the file's timeline (the last
frame whose presentation time is <= k / fps; the first frame before that), so 24, 25 or 1 fps
sources come out at 16 fps with frames dropped or repeated, and a stream that ends early repeats
its last frame to the end of the file. `size` resizes while decoding.

Frames come from decord (batch reads of at most `chunk` distinct frames) and, where decord fails
(it cannot read tiny frames such as 1x1, or raises midway), from PyAV, which continues from the
first frame decord did not deliver. PyAV decodes packet by packet: an undecodable packet is
skipped and counted, not fatal. What happened is told in `VideoStream.notes`.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import av
import av.error
import numpy as np

from uniav.media.errors import MediaError
from uniav.media.probe import DecodeFailures, MediaInfo, decode_frames, open_media, probe_media

# Slack (seconds) when comparing frame and output times, against float rounding of timestamps.
TIME_EPS = 1e-4
# A video stream that ends more than this (seconds) before the file's duration is reported.
EARLY_END_TOLERANCE_S = 0.5


class VideoBackend(Enum):
    """Which decoder `open_video` uses: decord with a PyAV fallback (AUTO), or one of them only."""

    AUTO = "auto"
    DECORD = "decord"
    PYAV = "pyav"


def expected_frame_count(duration: float, fps: float) -> int:
    """Output frames at `fps` whose time k / fps lies inside [0, duration) (at least one)."""
    return max(1, math.ceil(duration * fps - 1e-6))


def output_times(num: int, fps: float) -> np.ndarray:
    """Times in seconds of output frames 0..num-1."""
    return np.arange(num, dtype=np.float64) / fps


def source_indices(frame_starts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each time, the index of the source frame on screen then.

    `frame_starts` are the presentation times of the source frames in display order; the frame
    on screen at t is the last one starting at or before t, frame 0 before the first start.
    """
    starts = np.maximum.accumulate(np.asarray(frame_starts, dtype=np.float64))
    idx = np.searchsorted(starts, np.asarray(times, dtype=np.float64) + TIME_EPS, side="right") - 1
    return np.clip(idx, 0, len(starts) - 1)


class _BackendFailed(Exception):
    """decord could not go on; PyAV takes over from output frame `next_frame`."""

    def __init__(self, reason: str, next_frame: int) -> None:
        super().__init__(reason)
        self.reason, self.next_frame = reason, next_frame


def _short_decord_error(e: BaseException, path: str) -> str:
    """decord's messages carry a timestamp, a C++ source path and the file's path; keep the message (notes are
    cached with a clip's features and shown to users: they never name a path)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    text = re.sub(r"^(?:\[[\d:]+\] \S+:\d+: )+", "", text)
    return text.replace(f"[{path}] ", "").replace(path, os.path.basename(path))


class _DLPackCapsule:
    """Hands a DLPack capsule (decord's `NDArray.to_dlpack()`) to `np.from_dlpack`."""

    def __init__(self, capsule: object) -> None:
        self._capsule = capsule

    def __dlpack__(self, stream: object = None, **kwargs: object) -> object:
        return self._capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU, device 0


def _decord_to_numpy(batch: object) -> np.ndarray:
    """A decord NDArray as a numpy array without a copy (a 720p chunk is ~180 MB); copies if that fails."""
    try:
        return np.from_dlpack(_DLPackCapsule(batch.to_dlpack()))
    except (TypeError, ValueError, BufferError, RuntimeError):
        return batch.asnumpy()


@dataclass(frozen=True)
class _Timeline:
    """Where the video stream sits on the file's timeline (seconds)."""

    origin: float  # the file's start time: output time 0
    video_start: float  # start time of the video stream
    source_fps: float  # nominal frame rate of the source, for frame durations


def _read_timeline(path: str, info: MediaInfo) -> _Timeline:
    with open_media(path) as media:
        stream = media.video
        if stream is None:
            raise MediaError(path, "no video stream")
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else media.start
        return _Timeline(origin=media.start, video_start=start, source_fps=info.video_fps or 25.0)


class VideoStream:
    """The frames of one video at `fps` and `size`, iterated as uint8 chunks (n, H, W, 3), n <= chunk.

    Iterating decodes afresh each time and yields `expected_frames` frames in all; memory holds
    about one chunk. `notes` is refilled on each iteration with what deviated from a clean decode
    (the fallback decoder, skipped packets, a stream that ended early).
    """

    def __init__(
        self, path: str, info: MediaInfo, fps: float, size: tuple[int, int], chunk: int, backend: VideoBackend
    ) -> None:
        self.path = path
        self.info = info
        self.fps = float(fps)
        self.size = size
        self.chunk = chunk
        self.backend = backend
        self.expected_frames = expected_frame_count(info.duration, self.fps)
        self.notes: list[str] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        self.notes.clear()
        return self._chunks()

    def _chunks(self) -> Iterator[np.ndarray]:
        timeline = _read_timeline(self.path, self.info)
        done = 0
        if self.backend is not VideoBackend.PYAV:
            try:
                for batch in self._decord_chunks(timeline):
                    done += len(batch)
                    yield batch
            except _BackendFailed as e:
                if self.backend is VideoBackend.DECORD:
                    raise MediaError(self.path, f"decord cannot decode the video ({e.reason})") from None
                where = f" from {e.next_frame / self.fps:.2f} s" if e.next_frame else ""
                self.notes.append(f"frames decoded with PyAV{where} (decord failed: {e.reason})")
                done = e.next_frame
        if done < self.expected_frames:
            yield from self._pyav_chunks(timeline, done)

    # -- decord ---------------------------------------------------------------------------------

    def _decord_chunks(self, timeline: _Timeline) -> Iterator[np.ndarray]:
        import decord

        # decord bundles its own FFmpeg, which logs decode problems on stderr: keep it quiet
        # (this sets the level of decord's private FFmpeg copy only, not PyAV's).
        decord.logging.set_level(decord.logging.QUIET)
        width, height = self.size
        native = (width, height) == (self.info.width, self.info.height)
        try:
            reader = decord.VideoReader(
                self.path,
                ctx=decord.cpu(0),
                width=-1 if native else width,
                height=-1 if native else height,
            )
            num_source = len(reader)
            if num_source == 0:
                raise _BackendFailed("no frames", 0)
            stamps = reader.get_frame_timestamp(range(num_source))
        except (decord.DECORDError, RuntimeError) as e:
            raise _BackendFailed(_short_decord_error(e, self.path), 0) from None
        # decord's times count from the video stream's start; shift them onto the file's timeline.
        starts = stamps[:, 0].astype(np.float64) + (timeline.video_start - timeline.origin)
        indices = source_indices(starts, output_times(self.expected_frames, self.fps))
        last_index, last_frame = -1, None  # the previous chunk's last frame, often needed again
        for lo in range(0, self.expected_frames, self.chunk):
            wanted = indices[lo : lo + self.chunk]
            unique, inverse = np.unique(wanted, return_inverse=True)
            reuse = unique[0] == last_index
            to_read = unique[1:] if reuse else unique
            try:
                batch = _decord_to_numpy(reader.get_batch(to_read.tolist())) if len(to_read) else None
            except (decord.DECORDError, RuntimeError) as e:
                raise _BackendFailed(_short_decord_error(e, self.path), lo) from None
            if batch is not None and batch.shape != (len(to_read), height, width, 3):
                raise _BackendFailed(f"frames of shape {batch.shape[1:]} instead of {(height, width, 3)}", lo)
            if reuse:
                batch = last_frame[None] if batch is None else np.concatenate([last_frame[None], batch])
            last_index, last_frame = int(unique[-1]), batch[-1].copy()
            yield batch if len(unique) == len(wanted) else batch[inverse]
        end = float(starts[-1]) + 1.0 / timeline.source_fps
        self._note_early_end(end)

    # -- PyAV -----------------------------------------------------------------------------------

    def _pyav_chunks(self, timeline: _Timeline, first: int) -> Iterator[np.ndarray]:
        path = self.path
        width, height = self.size
        native = (width, height) == (self.info.width, self.info.height)
        times = output_times(self.expected_frames, self.fps)
        n = self.expected_frames
        with open_media(path) as media:
            stream = media.video
            if stream is None:
                raise MediaError(path, "no video stream")
            stream.thread_type = "AUTO"
            if first > 0:  # continue where decord stopped: from the keyframe before that time
                target = times[first] + timeline.origin
                # (not seekable: decode from the start; frames before `first` are not emitted)
                with contextlib.suppress(av.error.FFmpegError):
                    media.container.seek(int(target / stream.time_base), stream=stream, backward=True)
            k = first  # next output frame to fill
            chunk_start = first
            buf = np.empty((min(self.chunk, n - k), height, width, 3), dtype=np.uint8)
            current: av.VideoFrame | None = None
            current_t = -math.inf
            current_rgb: np.ndarray | None = None
            failures = DecodeFailures()

            def fill(until: int) -> Iterator[np.ndarray]:
                """Output frames k..until-1 show the current frame; yield each chunk that fills."""
                nonlocal k, chunk_start, buf, current_rgb
                while k < until:
                    if current_rgb is None:
                        kwargs = {} if native else {"width": width, "height": height}
                        current_rgb = current.to_ndarray(format="rgb24", **kwargs)
                    m = min(until, chunk_start + len(buf)) - k
                    buf[k - chunk_start : k - chunk_start + m] = current_rgb
                    k += m
                    if k == chunk_start + len(buf):
                        yield buf
                        chunk_start = k
                        buf = np.empty((min(self.chunk, n - k), height, width, 3), dtype=np.uint8)

            for frame in decode_frames(media, stream, failures):
                if frame.time is not None:
                    t = float(frame.time) - timeline.origin
                else:
                    t = current_t + 1.0 / timeline.source_fps if current is not None else 0.0
                if current is not None:
                    until = int(np.searchsorted(times, t - TIME_EPS, side="left"))
                    yield from fill(min(until, n))
                current, current_t, current_rgb = frame, t, None
                if k >= n:
                    break
            if current is None:
                detail = failures.first or failures.stopped or "the stream holds no frame"
                raise MediaError(path, f"no decodable video frame ({detail})")
            yield from fill(n)
        if failures.failed:
            self.notes.append(f"{failures.failed} video packet(s) failed to decode (first: {failures.first}); skipped")
        if failures.stopped is not None:
            self.notes.append(f"video decoding stopped at {current_t:.2f} s ({failures.stopped}); last frame repeated")
        else:
            self._note_early_end(current_t + 1.0 / timeline.source_fps)

    def _note_early_end(self, end: float) -> None:
        if self.info.duration - end > EARLY_END_TOLERANCE_S:
            self.notes.append(
                f"video ends at {end:.2f} s of {self.info.duration:.2f} s; its last frame is repeated to the end"
            )


def _check_size(size: tuple[int, int] | None, info: MediaInfo) -> tuple[int, int]:
    if size is None:
        if not info.width or not info.height:
            raise MediaError(info.path, "unknown video frame size")
        return (int(info.width), int(info.height))
    if len(size) != 2 or any(int(v) != v or v < 1 for v in size):
        raise ValueError(f"size must be (width, height) with positive integers, got {size!r}")
    return (int(size[0]), int(size[1]))


def open_video(
    path: str | os.PathLike[str],
    fps: float = 16.0,
    size: tuple[int, int] | None = None,
    chunk: int = 64,
    info: MediaInfo | None = None,
    *,
    backend: VideoBackend = VideoBackend.AUTO,
) -> VideoStream:
    """A `VideoStream` of `path` at `fps`, frames resized to `size` = (width, height) if given.

    Output frame k is the source frame displayed at time k / fps. Raises MediaError when the
    file cannot be read (see `probe_media`) or has no video stream; decoding starts on iteration.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    path = os.fspath(path)
    info = info if info is not None else probe_media(path)
    if not info.has_video:
        raise MediaError(path, "no video stream (an audio-only file)")
    return VideoStream(path, info, fps, _check_size(size, info), int(chunk), VideoBackend(backend))
