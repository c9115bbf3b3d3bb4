"""Wall time and peak memory of the media layer on a real clip and on a long generated video.

Cases (each runs in a fresh process, so that its peak RSS is its own):
  bbb-video-128      big_buck_bunny_30s.webm (VP8 1280x720 24 fps) -> frames at 16 fps, 128x128
  bbb-video-128-pyav the same through the PyAV fallback only
  bbb-video-720p     the same at the native 1280x720 (chunks of 64 frames: about 177 MB each)
  bbb-video-720p-pyav  the same through PyAV only
  bbb-audio          its Vorbis 44.1 kHz stereo -> mono 16 kHz
  long-video-128     a generated 10-minute 1280x720 25 fps H.264 video -> 16 fps, 128x128
  long-video-128-pyav  the same through PyAV only
  long-audio         its AAC 44.1 kHz stereo -> mono 16 kHz

The long video is generated once (moving patterns, x264 ultrafast) into --workdir and reused.
`rss_base` is the process's peak RSS after imports, before decoding; `rss_peak` is at the end.

Run: .venv/bin/python benchmarks/bench_decode.py [--workdir /tmp/uniav-bench] [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
BBB = REPO.parent / "shared" / "media" / "big_buck_bunny_30s.webm"
from benchmarks.common import peak_rss_mb  # noqa: E402

CASES = (
    "bbb-video-128",
    "bbb-video-128-pyav",
    "bbb-video-720p",
    "bbb-video-720p-pyav",
    "bbb-audio",
    "long-video-128",
    "long-video-128-pyav",
    "long-audio",
)


def generate_long_video(path: Path, minutes: float, fps: int = 25, size: tuple[int, int] = (1280, 720)) -> None:
    """A 1280x720 H.264 + AAC stereo video: a scrolling luma texture with a moving bright box, a tone."""
    import av
    import numpy as np

    width, height = size
    frames = round(minutes * 60 * fps)
    x = np.arange(2 * width)
    y = np.arange(height)[:, None]
    texture = (128 + 60 * np.sin(x / 37.0) * np.cos(y / 23.0) + 30 * np.sin((x + 2 * y) / 11.0)).astype(np.uint8)
    chroma = np.full((height // 2, width // 2), 128, np.uint8)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "28"}
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "stereo"
        audio_frame = audio.codec_context.frame_size or 1024
        samples_per_video_frame = 44100 / fps
        audio_pos = 0
        for i in range(frames):
            shift = (3 * i) % width
            luma = np.ascontiguousarray(texture[:, shift : shift + width])
            bx, by = (7 * i) % (width - 64), (5 * i) % (height - 64)
            luma[by : by + 64, bx : bx + 64] = 235
            u = v = chroma
            if (i // fps) % 2:  # colour changes every second
                v = chroma + 40
            planes = np.concatenate([luma, u.reshape(height // 4, width), v.reshape(height // 4, width)])
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
            while audio_pos < (i + 1) * samples_per_video_frame:
                t = (audio_pos + np.arange(audio_frame)) / 44100
                tone = (0.2 * np.sin(2 * np.pi * (220 + 220 * (t % 4 > 2)) * t)).astype(np.float32)
                aframe = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                aframe.sample_rate, aframe.pts = 44100, audio_pos
                audio_pos += audio_frame
                for packet in audio.encode(aframe):
                    out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                out.mux(packet)
    tmp.rename(path)


def run_case(case: str, long_path: Path, size: int) -> dict:
    """Decode one case in this process; the figures as a dict."""
    import torch

    from uniav.media import VideoBackend, decode_audio, open_video, probe_media

    torch.set_num_threads(1)
    path = BBB if case.startswith("bbb") else long_path
    base = peak_rss_mb()
    start = time.perf_counter()
    info = probe_media(path)
    result: dict = {"case": case, "file": path.name, "duration_s": round(info.duration, 2)}
    if "video" in case:
        backend = VideoBackend.PYAV if case.endswith("pyav") else VideoBackend.AUTO
        frame_size = None if "720p" in case else (size, size)
        stream = open_video(path, fps=16.0, size=frame_size, info=info, backend=backend)
        frames = biggest = 0
        for chunk in stream:
            frames += len(chunk)
            biggest = max(biggest, chunk.nbytes)
        result |= {
            "frames": frames,
            "expected": stream.expected_frames,
            "chunk_mb": round(biggest / 2**20, 1),
            "notes": stream.notes,
            "backend": backend.value,
        }
    else:
        track = decode_audio(path, info=info)
        result |= {"samples": len(track.waveform), "notes": list(track.notes)}
    wall = time.perf_counter() - start
    result |= {
        "wall_s": round(wall, 2),
        "realtime_x": round(info.duration / wall, 1),
        "rss_base_mb": round(base),
        "rss_peak_mb": round(peak_rss_mb()),
    }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/uniav-bench"))
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated video")
    parser.add_argument("--size", type=int, default=128, help="square frame size of the resized cases")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args()
    long_path = args.workdir / f"synthetic_{args.minutes:g}min_720p.mp4"
    if args.case:
        print(json.dumps(run_case(args.case, long_path, args.size)))
        return 0
    if any(c.startswith("long") for c in args.cases) and not long_path.exists():
        args.workdir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        generate_long_video(long_path, args.minutes)
        size_mb = long_path.stat().st_size / 2**20
        print(f"generated {long_path} ({size_mb:.0f} MB) in {time.perf_counter() - start:.1f} s", flush=True)
    print(f"{'case':22s} {'wall s':>7s} {'x realtime':>10s} {'RSS base':>9s} {'RSS peak':>9s}  output")
    for case in args.cases:
        cmd = [sys.executable, __file__, "--case", case, "--workdir", str(args.workdir)]
        cmd += ["--minutes", f"{args.minutes:g}", "--size", str(args.size)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{case:22s} FAILED\n{proc.stderr}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        if "frames" in r:
            what = f"{r['frames']}/{r['expected']} frames ({r['backend']}), chunk {r['chunk_mb']} MB"
        else:
            what = f"{r['samples']} samples"
        if r["notes"]:
            what += f"; notes: {r['notes']}"
        print(
            f"{case:22s} {r['wall_s']:7.2f} {r['realtime_x']:10.1f} {r['rss_base_mb']:7d}MB {r['rss_peak_mb']:7d}MB"
            f"  {r['file']} {r['duration_s']} s: {what}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
