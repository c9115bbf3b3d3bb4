"""Benchmark UniAV-Synth generation: wall time of `--videos` per sub-dataset with `--workers` processes.

The issue's target: 100 videos of each kind (TAL, AVEL, SED) in under 10 minutes on 2 cores.

    .venv/bin/python benchmarks/bench_synth.py                 # the full figure (100 per kind, 2 workers)
    .venv/bin/python benchmarks/bench_synth.py --videos 5      # a quick run

Prints the total wall time, frames and seconds of media made, throughput, disk use, a
single-process breakdown (planning, sound, pictures, encoding) on one video per kind, and the
dataset statistics (durations, events, pyramid levels).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from uniav.synth.config import SynthConfig
from uniav.synth.dataset import generate, plan_dataset
from uniav.synth.render import iter_frames, render_audio
from uniav.synth.stats import kind_stats
from uniav.synth.writer import write_mp4


def stage_breakdown(config: SynthConfig, out: Path) -> None:
    """Per-stage times of the first video of each kind, in one process."""
    for kind, (_, plans) in plan_dataset(config).items():
        plan = plans[0]
        t0 = time.perf_counter()
        audio = render_audio(plan, config.media)
        t1 = time.perf_counter()
        chunks = list(iter_frames(plan, config.media))
        t2 = time.perf_counter()
        write_mp4(out / f"stage_{plan.video_id}.mp4", chunks, audio, config.media)
        t3 = time.perf_counter()
        n = plan.num_frames
        print(
            f"  {kind.task:4s} {plan.duration:6.1f} s video: sound {1e3 * (t1 - t0) / n:.2f} ms/frame, "
            f"pictures {1e3 * (t2 - t1) / n:.2f} ms/frame, encode+mux {1e3 * (t3 - t2) / n:.2f} ms/frame"
        )


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=100, help="videos per sub-dataset (default 100)")
    ap.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="keep the dataset here (default: a temporary folder, deleted)")
    args = ap.parse_args()

    config = SynthConfig(seed=args.seed, videos=args.videos)
    tmp = None
    out = Path(args.out) if args.out else Path(tmp := tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        t0 = time.perf_counter()
        planned = plan_dataset(config)
        t_plan = time.perf_counter() - t0
        load_before = os.getloadavg()[0]
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        outputs = generate(config, out, workers=args.workers)
        wall = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        frames = sum(p.num_frames for _, plans in planned.values() for p in plans)
        media_s = sum(p.duration for _, plans in planned.values() for p in plans)
        size = sum(f.stat().st_size for f in out.rglob("*.mp4"))
        print(f"UniAV-Synth: {args.videos} videos x {len(outputs)} kinds, seed {args.seed}, {args.workers} workers")
        print(f"  wall time {wall:.1f} s ({wall / 60:.2f} min; target < 10 min for 100 per kind on 2 cores)")
        print(
            f"  CPU time {cpu:.1f} s (all processes) = {cpu / args.workers / 60:.2f} min on {args.workers} idle "
            f"cores; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after on "
            f"{os.cpu_count()} CPUs (a busy machine stretches the wall time)"
        )
        print(
            f"  planning alone {t_plan:.2f} s; {frames:,} frames = {media_s / 3600:.2f} h of media; "
            f"{frames / wall:.0f} frames/s ({media_s / wall:.0f}x real time)"
        )
        print(f"  disk: {size / 2**20:.1f} MiB of MP4 ({8 * size / media_s / 1000:.0f} kbit/s on average)")
        for o in outputs:
            kind_size = sum(f.stat().st_size for f in (o.folder / "videos").glob("*.mp4"))
            minutes = sum(p.duration for p in o.plans) / 60
            print(f"  {o.kind.task}: {minutes:.1f} min of video, {kind_size / 2**20:.1f} MiB")
        print("single-process breakdown (first video of each kind):")
        stage_breakdown(config, out)
        print("dataset statistics:")
        for o in outputs:
            print("\n".join("  " + line for line in kind_stats(o.kind, o.plans, o.classes).lines()))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
