"""`uniav predict` on a long 720p video with a model's encoders: wall time and peak memory of the process.

    python -m benchmarks.bench_predict_memory [--minutes 10] [--model checkpoints/uniav-sounds] [--workdir DIR]

Generates a 1280x720 25-fps H.264 + AAC video of `--minutes` (once, the generator of `bench_decode`), then runs
`uniav predict` on it in a fresh process with an empty feature cache (every encoder the model uses decodes and
encodes the whole clip: EfficientNet-Lite0 frames, YAMNet patches, MiniLM prompts for the bundled model), and
once more with the caches warm. Peak memory is the child's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from uniav.defaults import bundled_model_dir


def run_predict(clip: Path, model: str, cache: Path) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS MiB of the child, the JSON output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "uniav", "predict", str(clip), "--model", model, "--cache-dir", str(cache), "--quiet"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far: a fresh interpreter per measurement keeps it
    # honest as long as the runs are ordered from the heaviest (cold) to the lightest (cached)
    return wall, max(peak, before) / 1024, json.loads(proc.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--model", default=str(bundled_model_dir()))
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/uniav-bench"))
    args = ap.parse_args()
    clip = args.workdir / f"synthetic_{args.minutes:g}min_720p.mp4"
    if not clip.exists():
        from benchmarks.bench_decode import generate_long_video

        args.workdir.mkdir(parents=True, exist_ok=True)
        generate_long_video(clip, args.minutes)
    cache = Path(tempfile.mkdtemp(prefix="uniav-bench-cache-"))
    try:
        cold, cold_peak, doc = run_predict(clip, args.model, cache)
        warm, _, _ = run_predict(clip, args.model, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    counts = {t: len(d) for t, d in doc["tasks"].items()}
    print(f"model {args.model}; clip {clip.name} ({doc['duration']:.0f} s, 1280x720)")
    speed = doc["duration"] / cold
    print(f"  cold (decode + encode + model): {cold:7.1f} s = {speed:5.1f}x real time, peak {cold_peak:.0f} MiB")
    print(f"  rerun (detections cached):      {warm:7.1f} s")
    print(f"  detections per task: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
