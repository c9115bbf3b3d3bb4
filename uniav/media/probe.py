"""What a media file holds: duration, streams, sizes and rates (`probe_media`).

Probing opens the file with PyAV (FFmpeg), picks the first video stream that is not cover art and
the first audio stream, and decodes the first frame of each (within a bounded number of packets)
so that a file whose streams cannot be decoded fails here, with a specific reason, rather than
halfway through a pipeline. Files that FFmpeg cannot open are diagnosed from their first bytes
(empty, text, an MP4 without its index...) so that the user learns why.

PyAV keeps FFmpeg's log quiet by default, so probing a bad file prints nothing.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import av
import av.error

from uniav.media.errors import MediaError

# Packets demuxed at most while looking for the first decodable frame of each stream.
PROBE_MAX_PACKETS = 512
# FFmpeg's demuxers for a single picture (PNG, JPEG, WebP... named "<codec>_pipe", or "image2")
IMAGE_FORMATS = ("image2",)
IMAGE_FORMAT_SUFFIX = "_pipe"


@dataclass(frozen=True)
class MediaInfo:
    """Streams and timing of a media file.

    `duration` is in seconds from the start of the file's timeline (the earliest stream start).
    Video fields are None when `has_video` is False, audio fields when `has_audio` is False.
    """

    path: str
    duration: float
    has_video: bool
    has_audio: bool
    video_fps: float | None
    width: int | None
    height: int | None
    audio_sample_rate: int | None
    audio_channels: int | None


@dataclass(frozen=True)
class OpenedMedia:
    """An open PyAV container and the streams the media layer reads from it (None when absent)."""

    container: av.container.InputContainer
    video: av.video.stream.VideoStream | None
    audio: av.audio.stream.AudioStream | None
    start: float  # seconds: the timeline origin (container start time), 0 when unknown

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> OpenedMedia:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_file(path: str) -> int:
    """Size in bytes of the regular file at `path`, or MediaError naming what is wrong with it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except OSError as e:
        raise MediaError(path, f"cannot access the file ({e.strerror or e})") from None
    if os.path.isdir(path):
        raise MediaError(path, "not a file (a directory)")
    if st.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise MediaError(path, f"cannot read the file ({e.strerror or e})") from None
    return st.st_size


def _iso_bmff_boxes(path: str, size: int) -> tuple[list[str], bool] | None:
    """Top-level box types of an MP4/MOV (ISO BMFF) file and whether the last box runs past the end.

    None when the file does not start like one (no `ftyp`/`moov`/`mdat`/... box first).
    """
    types: list[str] = []
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            head = f.read(16)
            box_size, raw_type = struct.unpack(">I4s", head[:8])
            box_type = raw_type.decode("latin-1")
            if offset == 0 and box_type not in ("ftyp", "moov", "mdat", "free", "skip", "wide"):
                return None
            types.append(box_type)
            if box_size == 1 and len(head) >= 16:  # 64-bit size follows
                box_size = struct.unpack(">Q", head[8:16])[0]
            elif box_size == 0:  # box runs to the end of the file
                return types, False
            if box_size < 8:
                return types, True
            offset += box_size
        return (types, offset > size) if types else None


def ffmpeg_reason(error: BaseException) -> str:
    """FFmpeg's message for `error` without the file name PyAV appends to it: reasons and notes shown to a
    user never name a path (a server's upload folder, or the folder a cached clip was first read from)."""
    text = getattr(error, "strerror", None)
    if text:
        return str(text)
    text = str(error) or type(error).__name__
    name = getattr(error, "filename", None)
    if name:
        text = text.replace(f": '{name}'", "").replace(str(name), os.path.basename(str(name)))
    return text


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)


def _unreadable_reason(path: str, size: int, error: Exception) -> str:
    """Why FFmpeg could not open `path`, from the file's first bytes and FFmpeg's error."""
    boxes = _iso_bmff_boxes(path, size)
    if boxes is not None:
        types, runs_past_end = boxes
        if "moov" not in types:
            return (
                "no decodable stream: the MP4/MOV index (moov atom) is missing, so the file is "
                "truncated or was never finalised"
                + (f" (its '{types[-1]}' box runs past the end at {size} bytes)" if runs_past_end else "")
            )
        if runs_past_end:
            return f"no decodable stream: the MP4/MOV file is truncated (its '{types[-1]}' box is cut off)"
    with open(path, "rb") as f:
        head = f.read(512)
    if _looks_like_text(head):
        return "not a media file: it contains text, not audio or video"
    return f"not a media file: FFmpeg cannot read it as audio or video ({ffmpeg_reason(error)})"


def _is_cover_art(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _has_decoder(stream: av.stream.Stream) -> bool:
    try:
        return stream.codec_context is not None
    except (av.error.FFmpegError, ValueError):
        return False


def open_media(path: str | os.PathLike[str]) -> OpenedMedia:
    """Open `path` with PyAV and select its streams; MediaError with a specific reason on failure.

    Raises when the file is missing, empty, not media, or holds neither a video nor an audio
    stream that has a decoder. The caller closes the result (it is a context manager).
    """
    path = os.fspath(path)
    size = _check_file(path)
    try:
        container = av.open(path, mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise MediaError(path, _unreadable_reason(path, size, e)) from None
    except OSError as e:  # I/O errors that PyAV does not wrap
        raise MediaError(path, f"cannot read the file ({e.strerror or e})") from None
    videos = [s for s in container.streams.video if not _is_cover_art(s)]
    audios = list(container.streams.audio)
    if not videos and not audios:
        container.close()
        raise MediaError(path, "no audio or video stream")
    video = next((s for s in videos if _has_decoder(s)), None)
    audio = next((s for s in audios if _has_decoder(s)), None)
    if video is None and audio is None:
        codecs = ", ".join(sorted({s.codec_context.name if s.codec_context else "?" for s in videos + audios}))
        container.close()
        raise MediaError(path, f"no decodable stream: no decoder for its codecs ({codecs})")
    start = container.start_time / av.time_base if container.start_time is not None else 0.0
    return OpenedMedia(container=container, video=video, audio=audio, start=start)


def _first_frames(media: OpenedMedia) -> tuple[dict[int, av.frame.Frame], list[str]]:
    """The first decoded frame of each selected stream (by stream index) and the errors met."""
    streams = [s for s in (media.video, media.audio) if s is not None]
    pending = {s.index for s in streams}
    found: dict[int, av.frame.Frame] = {}
    errors: list[str] = []
    packets = media.container.demux(*streams)
    for _ in range(PROBE_MAX_PACKETS):
        if not pending:
            break
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as e:
            errors.append(ffmpeg_reason(e))
            break
        if packet.stream.index not in pending:
            continue
        try:
            frames = packet.decode()
        except av.error.FFmpegError as e:
            errors.append(ffmpeg_reason(e))
            continue
        if frames:
            found[packet.stream.index] = frames[0]
            pending.discard(packet.stream.index)
    return found, errors


def _header_duration(media: OpenedMedia) -> float | None:
    """Duration from the container or stream headers (seconds), None when they do not say."""
    c = media.container
    if c.duration is not None and c.duration > 0:
        return c.duration / av.time_base
    ends = [
        float(((s.start_time or 0) + s.duration) * s.time_base) - media.start
        for s in (media.video, media.audio)
        if s is not None and s.duration is not None and s.duration > 0 and s.time_base is not None
    ]
    return max(ends) if ends else None


def _scanned_duration(path: str) -> float:
    """Duration from the timestamps of all packets (for files whose headers lack one, e.g. live webm)."""
    with open_media(path) as media:
        end = 0.0
        streams = [s for s in (media.video, media.audio) if s is not None]
        packets = media.container.demux(*streams)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError:
                break
            if packet.pts is None or packet.time_base is None:
                continue
            stop = packet.pts + (packet.duration or 0)
            end = max(end, float(stop * packet.time_base) - media.start)
        return end


def _still_picture(format_name: str, codec: str, duration: float, fps: float | None, has_audio: bool) -> str | None:
    """Why a file is a still picture rather than something that happens over time (None: it is not one): a
    picture format (a PNG or JPEG named ``.mp4``...), or, without sound, a video of zero duration or of one
    frame. A single frame with a sound track is left alone (a still picture over sound)."""
    if format_name in IMAGE_FORMATS or format_name.endswith(IMAGE_FORMAT_SUFFIX):
        kind = codec.upper() if codec else "picture"
        return f"a still image ({kind}), not a video: nothing in it happens over time; upload a video or an audio file"
    if has_audio:
        return None
    if duration <= 0:
        return "its video stream has zero duration and there is no sound: nothing to analyse over time"
    if fps and duration * fps < 1.5:
        return (
            f"a single video frame ({duration:.2f} s) and no sound: nothing in it happens over time; upload a "
            "longer video or an audio file"
        )
    return None


def probe_media(path: str | os.PathLike[str]) -> MediaInfo:
    """Streams and duration of the media file at `path` (see `MediaInfo`).

    Raises MediaError with a specific reason: "file not found", "empty file (0 bytes)",
    "not a media file: ...", "no audio or video stream", "no decodable stream: ..." (including an
    MP4 whose index, the moov atom, is missing), "a still image ..." / "a single video frame ..." (a picture,
    or a one-frame or zero-duration video without sound), "zero duration ...".
    """
    path = os.fspath(path)
    with open_media(path) as media:
        format_name = media.container.format.name or ""
        codec_name = (media.video.codec_context.name or "") if media.video is not None else ""
        frames, errors = _first_frames(media)
        if not frames:
            detail = errors[0] if errors else "none of its streams yields a frame"
            raise MediaError(path, f"no decodable stream: {detail}")
        duration = _header_duration(media)
        video, audio = media.video, media.audio
        vframe = frames.get(video.index) if video is not None else None
        aframe = frames.get(audio.index) if audio is not None else None
        fps = None
        width = height = None
        if video is not None:
            rate = video.average_rate or video.guessed_rate or video.base_rate
            fps = float(rate) if rate else None
            width = vframe.width if vframe is not None else (video.codec_context.width or None)
            height = vframe.height if vframe is not None else (video.codec_context.height or None)
        sample_rate = channels = None
        if audio is not None:
            if aframe is not None:
                sample_rate, channels = aframe.sample_rate, aframe.layout.nb_channels
            else:
                sample_rate = audio.codec_context.sample_rate or None
                channels = audio.codec_context.channels or None
    if duration is None:
        duration = _scanned_duration(path)
    if video is not None:
        still = _still_picture(format_name, codec_name, float(duration), fps, audio is not None)
        if still is not None:
            raise MediaError(path, still)
    if duration <= 0:
        raise MediaError(path, "zero duration: its streams hold no time span to analyse")
    return MediaInfo(
        path=path,
        duration=float(duration),
        has_video=video is not None,
        has_audio=audio is not None,
        video_fps=fps,
        width=width,
        height=height,
        audio_sample_rate=sample_rate,
        audio_channels=channels,
    )


@dataclass
class DecodeFailures:
    """What went wrong while decoding a stream: packets that failed (the first one described) and
    the error that ended the stream early, if any."""

    failed: int = 0
    first: str | None = None
    stopped: str | None = None


def decode_frames(media: OpenedMedia, stream, failures: DecodeFailures) -> Iterator:
    """The decoded frames of `stream`, packet by packet: a packet that fails to decode is counted and
    skipped, an error while reading the container ends the stream (both recorded in `failures`)."""
    packets = media.container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as e:
            failures.stopped = ffmpeg_reason(e)
            return
        try:
            frames = packet.decode()
        except av.error.FFmpegError as e:
            failures.failed += 1
            if failures.first is None:
                at = packet.pts * packet.time_base - media.start if packet.pts is not None else None
                failures.first = ffmpeg_reason(e) + (f" at {float(at):.2f} s" if at is not None else "")
            continue
        yield from frames
