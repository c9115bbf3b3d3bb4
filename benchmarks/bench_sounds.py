"""Benchmark UniAV-Sounds generation: seconds per clip and per minute of media, and what they cost.

    .venv/bin/python benchmarks/bench_sounds.py                       # 40 SED + 16 AVEL clips, 2 workers
    .venv/bin/python benchmarks/bench_sounds.py --sed 800 --avel 300  # the default recipe's full counts
    .venv/bin/python benchmarks/bench_sounds.py --sizes               # also: frame size cost (160x120 .. 256x192)

Prints: planning time (catalog, splits, envelopes), wall and CPU time of rendering with
`--workers` processes, per clip and per minute of media for each part (SED, AVEL, zero-shot);
a single-process breakdown (sound, pictures, encoding; median over clips) per clip type; and,
with `--sizes`, the per-frame cost of other frame sizes. The machine may be shared: the load
average is printed, and medians are reported.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from uniav.sounds.config import SoundsConfig
from uniav.sounds.dataset import generate, plan_benchmark
from uniav.sounds.plan import ClipPlan
from uniav.sounds.render import iter_frames, render_audio
from uniav.synth.config import MediaSpec
from uniav.synth.writer import write_mp4


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def stages(plan: ClipPlan, config: SoundsConfig, media: MediaSpec, out: Path) -> tuple[float, float, float]:
    """(sound, pictures, encoding) milliseconds per frame of one clip, in this process."""
    t0 = time.perf_counter()
    audio = render_audio(plan, config.realsounds)
    t1 = time.perf_counter()
    chunks = list(iter_frames(plan, media, config.realpictures))
    t2 = time.perf_counter()
    write_mp4(out / "stage.mp4", chunks, audio, media)
    t3 = time.perf_counter()
    n = plan.num_frames
    return 1e3 * (t1 - t0) / n, 1e3 * (t2 - t1) / n, 1e3 * (t3 - t2) / n


def breakdown(label: str, plans: list[ClipPlan], config: SoundsConfig, media: MediaSpec, out: Path) -> None:
    if not plans:
        return
    runs = [stages(p, config, media, out) for p in plans]
    med = [statistics.median(r[i] for r in runs) for i in range(3)]
    per_clip = statistics.median(sum(r) * p.num_frames / 1e3 for r, p in zip(runs, plans, strict=True))
    print(
        f"  {label:<22} {media.width}x{media.height}: sound {med[0]:.2f}, pictures {med[1]:.2f}, "
        f"encode {med[2]:.2f} ms/frame; {per_clip:.2f} s per clip (median of {len(plans)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sed", type=int, default=40)
    ap.add_argument("--avel", type=int, default=16)
    ap.add_argument("--zeroshot-sed", type=int, default=8)
    ap.add_argument("--zeroshot-avel", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sizes", action="store_true", help="also time other frame sizes")
    ap.add_argument("--out", help="keep the dataset here (default: a temporary folder, deleted)")
    args = ap.parse_args()

    tmp = None
    out = Path(args.out) if args.out else Path(tmp := tempfile.mkdtemp(prefix="bench_sounds_"))
    config = SoundsConfig(
        root=out,
        seed=args.seed,
        sed=args.sed,
        avel=args.avel,
        zeroshot_sed=args.zeroshot_sed,
        zeroshot_avel=args.zeroshot_avel,
    )
    try:
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        bench = plan_benchmark(config)
        t_plan = time.perf_counter() - t0
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        generate(config, workers=args.workers, benchmark=bench)
        wall = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        print(f"UniAV-Sounds seed {args.seed}, {args.workers} workers, {os.cpu_count()} CPUs")
        print(f"  load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after (a busy machine stretches times)")
        print(f"  planning (catalog, splits, decoding, envelopes): {t_plan:.1f} s")
        minutes = sum(p.duration for ps in bench.plans.values() for p in ps) / 60
        clips = sum(len(ps) for ps in bench.plans.values())
        print(
            f"  rendering {clips} clips, {minutes:.1f} min of media: wall {wall:.1f} s, CPU {cpu:.1f} s "
            f"= {cpu / max(minutes, 1e-9):.1f} CPU s per minute of media"
        )
        for part, plans in bench.plans.items():
            if not plans:
                continue
            m = sum(p.duration for p in plans) / 60
            size = sum((out / part.split("_")[0] / "videos" / f"{p.video_id}.mp4").stat().st_size for p in plans)
            print(f"  {part:<14} {len(plans):5d} clips, {m:6.1f} min, {size / 2**20:6.1f} MiB")
        print("single-process breakdown (median over up to 6 clips of each type):")
        sed = [p for p in bench.plans["sed"] if not p.isolated][:6]
        iso = [p for p in bench.plans["sed"] if p.isolated][:6]
        avel = list(bench.plans["avel"][:6])
        for label, plans in (("SED soundscape", sed), ("SED isolated", iso), ("AVEL", avel)):
            breakdown(label, plans, config, config.media, out)
        if args.sizes:
            print("frame size cost (same plans re-planned at each size):")
            for w, h in ((160, 120), (224, 224), (256, 192)):
                media = MediaSpec(width=w, height=h)
                sized = plan_benchmark(replace(config, media=media, sed=min(args.sed, 12), avel=min(args.avel, 6)))
                soundscapes = [p for p in sized.plans["sed"] if not p.isolated][:6]
                breakdown("SED soundscape", soundscapes, config, media, out)
                breakdown("AVEL", list(sized.plans["avel"][:6]), config, media, out)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
