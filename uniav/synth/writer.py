"""Write a rendered video to MP4 with PyAV: H.264 (libx264) + AAC mono, bit-exact from run to run.

x264 runs on one thread and without macroblock-tree rate control: with mbtree on, this build's
output changed from one encode of the same frames to the next (checked: 2-3 distinct streams in
3 encodes), without it every encode is identical.

Frames are converted to YUV 4:2:0 (BT.601, limited range: what decoders assume for untagged SD
video) in numpy; audio is interleaved with the video chunk by chunk; the index (moov atom) goes
at the front so browsers can play the file while it downloads. The file is written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from uniav.synth.config import MediaSpec

AAC_FRAME = 1024  # samples per AAC frame


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB frames (N, H, W, 3) to planar YUV 4:2:0 (N, H * 3 // 2, W) uint8, BT.601 limited range.

    Integer arithmetic (the usual 8-bit fixed-point coefficients); chroma is the mean of each 2 x 2 block.
    """
    n, h, w, _ = rgb.shape
    c = rgb.astype(np.int32)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    # sums over 2 x 2 blocks (4x the mean), so the chroma coefficients get 2 more bits of shift
    rs, gs, bs = (ch[:, 0::2, 0::2] + ch[:, 1::2, 0::2] + ch[:, 0::2, 1::2] + ch[:, 1::2, 1::2] for ch in (r, g, b))
    u = ((-38 * rs - 74 * gs + 112 * bs + 512) >> 10) + 128
    v = ((112 * rs - 94 * gs - 18 * bs + 512) >> 10) + 128
    out = np.empty((n, h * 3 // 2, w), np.uint8)
    out[:, :h] = y
    out[:, h : h + h // 4] = u.reshape(n, h // 4, w)
    out[:, h + h // 4 :] = v.reshape(n, h // 4, w)
    return out


def write_mp4(path: Path, chunks: Iterable[np.ndarray], audio: np.ndarray, media: MediaSpec) -> None:
    """Encode uint8 RGB frame chunks (n, H, W, 3) and mono float audio to `path` (MP4, H.264 + AAC)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    audio = np.asarray(audio, np.float32)
    container = av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
    try:
        vs = container.add_stream("libx264", rate=media.fps)
        vs.width, vs.height, vs.pix_fmt = media.width, media.height, "yuv420p"
        vs.codec_context.thread_count = 1  # x264 is bit-exact for a given thread count
        vs.options = {
            "crf": str(media.crf),
            "preset": media.preset,
            "g": str(media.keyframe_interval),
            "x264-params": "threads=1:lookahead-threads=1:mbtree=0",
        }
        aus = container.add_stream("aac", rate=media.sample_rate)
        aus.layout = "mono"
        aus.bit_rate = media.audio_bitrate
        frame_index = 0
        audio_pos = 0
        for chunk in chunks:
            for plane in rgb_to_yuv420p(chunk):
                frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
                frame.pts = frame_index
                frame_index += 1
                container.mux(vs.encode(frame))
            audio_pos = _encode_audio(container, aus, audio, audio_pos, frame_index * media.samples_per_frame, media)
        container.mux(vs.encode(None))
        _encode_audio(container, aus, audio, audio_pos, len(audio), media)
        container.mux(aus.encode(None))
    except BaseException:
        container.close()
        tmp.unlink(missing_ok=True)
        raise
    container.close()
    os.replace(tmp, path)


def _encode_audio(container, stream, audio: np.ndarray, pos: int, until: int, media: MediaSpec) -> int:
    """Encode audio[pos:until] in AAC-frame pieces (the last piece only at the end); return the new pos."""
    import av

    until = min(until, len(audio))
    while pos < until and (until - pos >= AAC_FRAME or until == len(audio)):
        piece = audio[pos : pos + AAC_FRAME]
        frame = av.AudioFrame.from_ndarray(piece[None, :], format="fltp", layout="mono")
        frame.sample_rate = media.sample_rate
        frame.pts = pos
        container.mux(stream.encode(frame))
        pos += len(piece)
    return pos
