"""Wall time and peak memory of decode + encode (the `signal` parts by default), and the encoder's own throughput.

Cases (each runs in a fresh process, so that its peak RSS is its own):
  bbb            big_buck_bunny_30s.webm (VP8 1280x720 24 fps, Vorbis): decode + encode on the TAL (stride 8)
                 and AVEL/SED (stride 4) grids at once
  long           a generated 10-minute 1280x720 25 fps H.264 + AAC video (the generator of bench_decode.py,
                 shared file under --workdir), same grids
  encoder-only   the encoder alone on 10 minutes of in-memory 64x64 frames and 16 kHz audio (no decoding)
  bbb-cached     big_buck_bunny again through `CachedEncoder` with a warm cache (hash + load, no decode)

For the decode cases, `decode s` is the time spent inside the decoder calls (probe, audio, frame iteration)
and `encode s` the rest; `x realtime` = clip duration / wall time.
Aims (issue 3): the 10-minute video under 60 s and 1.5 GB peak on 2 cores; the encoder >= 50x real time.

`--encoder` names the parts of the decode cases (an earlier single kind or visual=K,audio=K,text=K, as
`uniav extract --encoder`); encoder-only always measures the signal feature functions.

Run: .venv/bin/python benchmarks/bench_encode.py [--workdir /tmp/uniav-bench] [--minutes 10] [--cases ...]
     [--encoder visual=signal,audio=yamnet,text=minilm]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
BBB = REPO.parent / "shared" / "media" / "big_buck_bunny_30s.webm"
from benchmarks.common import peak_rss_mb  # noqa: E402

CASES = ("bbb", "long", "encoder-only", "bbb-cached")


class TimedMedia:
    """The project's decoders, with the seconds spent inside them added up."""

    def __init__(self) -> None:
        from uniav.encoders import MediaFunctions

        self.inner = MediaFunctions.default()
        self.seconds = 0.0

    def _timed(self, fn, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0

    def probe_media(self, *a, **k):
        return self._timed(self.inner.probe_media, *a, **k)

    def decode_audio(self, *a, **k):
        return self._timed(self.inner.decode_audio, *a, **k)

    def open_video(self, *a, **k):
        stream = self._timed(self.inner.open_video, *a, **k)
        media = self

        class Stream:
            expected_frames = stream.expected_frames
            notes = stream.notes

            def __iter__(self):
                it = iter(stream)
                while True:
                    t0 = time.perf_counter()
                    try:
                        chunk = next(it)
                    except StopIteration:
                        media.seconds += time.perf_counter() - t0
                        return
                    media.seconds += time.perf_counter() - t0
                    yield chunk

        return Stream()

    def functions(self):
        from uniav.encoders import MediaFunctions

        return MediaFunctions(self.probe_media, self.decode_audio, self.open_video)


def grids():
    from uniav.media.grid import SnippetGrid

    return [SnippetGrid(stride=8), SnippetGrid(stride=4)]


def build(encoder: str, media: TimedMedia | None = None, cache=None):
    from uniav.config import EncoderSpec
    from uniav.encoders import build_encoder

    return build_encoder(EncoderSpec.parse(encoder), media=media.functions() if media else None, cache=cache)


def case_decode(path: Path, encoder: str) -> dict:
    media = TimedMedia()
    enc = build(encoder, media)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    out = enc.encode_file(path, grids())
    wall = time.perf_counter() - t0
    first = next(iter(out.values()))
    return {
        "file": path.name,
        "duration_s": round(first.duration, 2),
        "wall_s": round(wall, 2),
        "decode_s": round(media.seconds, 2),
        "encode_s": round(wall - media.seconds, 2),
        "realtime_x": round(first.duration / wall, 1),
        "encode_realtime_x": round(first.duration / max(wall - media.seconds, 1e-9), 1),
        "shapes": {f"stride{g.stride}": [list(f.visual.shape), list(f.audio.shape)] for g, f in out.items()},
        "notes": list(first.notes),
        "rss_base_mb": round(base),
        "rss_peak_mb": round(peak_rss_mb()),
    }


def case_encoder_only(minutes: float) -> dict:
    import numpy as np

    from uniav.encoders import signal_audio, signal_visual

    seconds = minutes * 60
    rng = np.random.default_rng(0)
    # one chunk of 64 smooth moving frames and 1 s of audio, reused: the cost does not depend on content
    ys, xs = np.mgrid[0:64, 0:64]
    chunk = np.stack(
        [
            np.stack(
                [
                    128 + 100 * np.sin((xs + 2 * k) / 5.0),
                    128 + 100 * np.cos((ys - k) / 7.0),
                    128 + 100 * np.sin((xs + ys + k) / 9.0),
                ],
                -1,
            )
            for k in range(64)
        ]
    ).astype(np.uint8)
    wave = (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)
    n_frames = int(seconds * 16)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    feat = signal_visual.FrameFeaturizer()
    rows = np.concatenate([feat(chunk[: min(64, n_frames - a)]) for a in range(0, n_frames, 64)])
    t_frames = time.perf_counter() - t0
    desc = signal_audio.frame_descriptors(wave)
    t_audio = time.perf_counter() - t0 - t_frames
    for g in grids():
        n = g.num_snippets(seconds)
        signal_visual.window_features(rows, g, n)
        signal_audio.window_features(desc, g, n)
    wall = time.perf_counter() - t0
    return {
        "file": f"in-memory {minutes:g} min",
        "duration_s": seconds,
        "wall_s": round(wall, 2),
        "frames_s": round(t_frames, 2),
        "audio_s": round(t_audio, 2),
        "pool_s": round(wall - t_frames - t_audio, 2),
        "realtime_x": round(seconds / wall, 1),
        "rss_base_mb": round(base),
        "rss_peak_mb": round(peak_rss_mb()),
    }


def case_cached(path: Path, encoder: str) -> dict:
    from uniav.encoders import FeatureCache

    with tempfile.TemporaryDirectory() as tmp:
        build(encoder, cache=FeatureCache(tmp)).encode_file(path, grids())  # warm the cache
        media = TimedMedia()
        enc = build(encoder, media, FeatureCache(tmp))
        t0 = time.perf_counter()
        out = enc.encode_file(path, grids())
        wall = time.perf_counter() - t0
    first = next(iter(out.values()))
    return {
        "file": path.name,
        "duration_s": round(first.duration, 2),
        "wall_s": round(wall, 3),
        "decode_s": round(media.seconds, 3),
        "hits": enc.stats.hits,
        "misses": enc.stats.misses,
        "realtime_x": round(first.duration / wall, 1),
        "rss_peak_mb": round(peak_rss_mb()),
    }


def run_case(case: str, long_path: Path, minutes: float, encoder: str) -> dict:
    import torch

    torch.set_num_threads(1)  # the decoders' resampling; the encoder itself is numpy
    if case == "bbb":
        r = case_decode(BBB, encoder)
    elif case == "long":
        r = case_decode(long_path, encoder)
    elif case == "encoder-only":
        r = case_encoder_only(minutes)
    else:
        r = case_cached(BBB, encoder)
    return {"case": case, **r}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/uniav-bench"))
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated video")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES)
    parser.add_argument("--encoder", default="signal", help="the parts of the decode cases (default: signal)")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args()
    long_path = args.workdir / f"synthetic_{args.minutes:g}min_720p.mp4"
    if args.case:
        print(json.dumps(run_case(args.case, long_path, args.minutes, args.encoder)))
        return 0
    if "long" in args.cases and not long_path.exists():
        from benchmarks.bench_decode import generate_long_video

        args.workdir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        generate_long_video(long_path, args.minutes)
        print(
            f"generated {long_path} ({long_path.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    for case in args.cases:
        cmd = [
            sys.executable,
            __file__,
            "--case",
            case,
            "--workdir",
            str(args.workdir),
            "--minutes",
            f"{args.minutes:g}",
            "--encoder",
            args.encoder,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{case}: FAILED\n{proc.stderr}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        line = f"{case:13s} {r['file']} ({r['duration_s']} s): wall {r['wall_s']} s = {r['realtime_x']}x real time"
        if "decode_s" in r and "encode_s" in r:
            line += (
                f"; decode {r['decode_s']} s, encode {r['encode_s']} s (encoder {r['encode_realtime_x']}x real "
                f"time); peak RSS {r['rss_peak_mb']} MB (after imports {r['rss_base_mb']} MB)"
            )
            line += f"; shapes {r['shapes']}" + (f"; notes {r['notes']}" if r["notes"] else "")
        elif "frames_s" in r:
            line += (
                f" (frames {r['frames_s']} s, audio {r['audio_s']} s, pooling {r['pool_s']} s); "
                f"peak RSS {r['rss_peak_mb']} MB (after imports {r['rss_base_mb']} MB)"
            )
        else:
            line += f"; decoder time {r['decode_s']} s, hits {r['hits']}, misses {r['misses']}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
