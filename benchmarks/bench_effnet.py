"""Speed, drift and memory of the `effnet` visual part (`uniav.encoders.effnet.EffnetVisual`, EfficientNet-Lite0).

Files (first, each case in a fresh process, so its peak RSS is its own; median wall of --file-repeat runs):
  decode + encode with `encode_frames`, streaming, on the AVEL grid (stride 4: 4 frames/s), the TAL grid
  (stride 8: 2 frames/s) and both at once (TAL's centres are every other AVEL centre, computed once), on
  ``../shared/media/big_buck_bunny_30s.webm`` (VP8 1280 x 720, 30 s) and on a generated 1280 x 720 H.264
  clip (--minutes, default 1; made once in --workdir by `benchmarks.bench_decode.generate_long_video`); and
  decode alone for comparison. Figures: wall seconds, seconds per minute of video, x real time, frames
  decoded / through the network, peak RSS (MiB, the process's VmHWM: ``base`` after imports and network
  load, ``peak`` at the end).
Memory: peak RSS growth while 32 frames go through the network in batches of 1 / 4 / 8 / 16 / 32 (a fresh
  process per batch size): the activations.
Network (32 real frames of big_buck_bunny_30s.webm at 455 x 256, centre-cropped to 224): ms per frame,
  median and min of --repeat passes over the 32 frames in batches of 1 / 4 / 8 / 16 / 32, with 1 and
  --threads torch threads, for the part's input (the frames' NHWC layout kept: channels-last in memory) and
  for a contiguous NCHW copy of it; drift = max |difference| of the pooled features (values in [0, 6]) and
  of the logits at batch 32 against the part at batch 1.

int8 is not measured: dynamic quantisation covers `nn.Linear` only (the classifier, <1% of the FLOPs), and
static quantisation of the convolutions needs calibration data and a PT2E/FX export flow, so it was not tried.
The machine is shared with other agents: figures are medians and the load average is printed.
Run: .venv/bin/python benchmarks/bench_effnet.py [--repeat 3] [--file-repeat 3] [--threads 2] [--minutes 1]
     [--skip-files] [--workdir /tmp/uniav-bench-effnet]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
BBB = REPO.parent / "shared" / "media" / "big_buck_bunny_30s.webm"
from benchmarks.common import peak_rss_mb, timeit  # noqa: E402

GRIDS = {"AVEL": (4,), "TAL": (8,), "AVEL+TAL": (4, 8)}
BATCHES = (1, 4, 8, 16, 32)


def real_frames(n: int) -> np.ndarray:
    """`n` frames of BBB spread over its 30 s, decoded at the part's size (only those kept)."""
    from uniav.encoders.effnet import EffnetVisual
    from uniav.media import open_video, probe_media

    info = probe_media(BBB)
    stream = open_video(BBB, fps=16.0, size=EffnetVisual().decode_size(info.width, info.height), info=info)
    wanted = np.linspace(0, stream.expected_frames - 1, n).round().astype(int)
    kept, start = [], 0
    for chunk in stream:
        kept += [chunk[k - start] for k in wanted if start <= k < start + len(chunk)]
        start += len(chunk)
    return np.stack(kept)


def network_table(repeat: int, threads: int) -> None:
    import torch

    from uniav.encoders.effnet import EffnetVisual, EffnetWeights, load_network, prepare_frames, torch_threads

    frames = real_frames(max(BATCHES))
    t0 = time.perf_counter()
    net = load_network(EffnetWeights())
    print(f"\nnetwork load (locate + sha256 + torch.load + build): {(time.perf_counter() - t0) * 1000:.0f} ms")
    part = EffnetVisual(network=net)
    ref_f, ref_l = (np.concatenate(x) for x in zip(*[part.embed_frames(f[None]) for f in frames], strict=True))

    def nchw(batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode():
            return net(prepare_frames(batch).contiguous())

    def all_frames(fn, b: int) -> None:
        for a in range(0, len(frames), b):
            fn(frames[a : a + b])

    variants = (("part (NHWC memory)", part.embed_frames), ("NCHW contiguous copy", nchw))
    head = "".join(f"{f'batch {b}':>14}" for b in BATCHES)
    print(f"ms per frame, median / min of {repeat} passes over {len(frames)} frames:")
    print(f"{'input':<22}{'threads':>8}{head}   drift feat / logit (batch 32 vs part at batch 1)")
    for name, fn in variants:
        for n_threads in sorted({1, threads}):
            with torch_threads(n_threads):
                cells = [timeit(lambda b=b, fn=fn: all_frames(fn, b), repeat=repeat) for b in BATCHES]
                f, logits = (np.asarray(x) for x in fn(frames))
            drift = f"{np.abs(f - ref_f).max():.1e} / {np.abs(logits - ref_l).max():.1e}"
            per = "".join(f"{f'{m / len(frames) * 1e3:.1f} / {lo / len(frames) * 1e3:.1f}':>14}" for m, lo in cells)
            print(f"{name:<22}{n_threads:>8}{per}   {drift}")


def memory_table() -> None:
    """Peak RSS growth of encoding 32 frames in batches of b, each b in a fresh process."""
    print("\nactivation memory (fresh process per batch size; VmHWM after 32 frames minus after loading):")
    for b in BATCHES:
        out = subprocess.run([sys.executable, __file__, "--memory", str(b)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  batch {b:>2}: +{r['peak'] - r['base']:.0f} MiB (base {r['base']:.0f} MiB)")


def memory_case(batch: int) -> dict:
    from uniav.encoders.effnet import EffnetVisual

    part = EffnetVisual({"batch_size": batch})
    frames = np.random.default_rng(0).integers(0, 256, (32, 256, 455, 3), dtype=np.uint8)
    part.embed_frames(frames[:1])
    base = hwm_mb()
    for a in range(0, len(frames), batch):
        part.embed_frames(frames[a : a + batch])
    return {"base": base, "peak": hwm_mb()}


def hwm_mb() -> float:
    """Peak resident memory of this process in MiB: VmHWM (reset by exec, unlike getrusage's ru_maxrss,
    which a child started from a bigger parent inherits); `peak_rss_mb` where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def run_case(path: Path, grid_name: str, threads: int, decode_only: bool) -> dict:
    """Decode (and encode) one file in this process; the figures as a dict."""
    from uniav.encoders.effnet import EffnetVisual
    from uniav.media import open_video, probe_media
    from uniav.media.grid import SnippetGrid

    part = EffnetVisual({"threads": threads})
    _ = part.network
    grids = [SnippetGrid(stride=s) for s in GRIDS[grid_name]]
    base = hwm_mb()
    start = time.perf_counter()
    info = probe_media(path)
    counts = {g: g.num_snippets(info.duration) for g in grids}
    size = part.decode_size(info.width, info.height)
    stream = open_video(path, fps=16.0, size=size, chunk=part.chunk_frames, info=info)
    if decode_only:
        decoded = sum(len(c) for c in stream)
        net_frames = 0
    else:
        out, decoded = part.encode_frames(stream, grids, counts)
        assert all(out.features[g].shape == (counts[g], 1280) for g in grids)
        net_frames = len({t * g.stride + g.num_frames // 2 for g in grids for t in range(counts[g])})
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "duration_s": info.duration,
        "frames": decoded,
        "net_frames": net_frames,
        "rss_base_mb": base,
        "rss_peak_mb": hwm_mb(),
    }


def file_table(paths: dict[str, Path], threads: int, repeat: int) -> None:
    print(
        f"{'file':<16}{'grid':<10}{'variant':<14}{'wall s':>8}{'s/min':>8}{'x real':>8}"
        f"{'frames':>8}{'net':>6}{'rss base':>10}{'rss peak':>10}"
    )
    cases = [("AVEL", "decode only", threads, True)]
    cases += [(grid, f"{threads} threads", threads, False) for grid in GRIDS]
    cases += [("AVEL+TAL", "1 thread", 1, False)] if threads != 1 else []
    for label, path in paths.items():
        for grid_name, variant, n_threads, decode_only in cases:
            arg = {"path": str(path), "grid": grid_name, "threads": n_threads, "decode_only": decode_only}
            runs = []
            for _ in range(repeat):
                out = subprocess.run(
                    [sys.executable, __file__, "--case", json.dumps(arg)], capture_output=True, text=True
                )
                if out.returncode != 0:
                    raise RuntimeError(f"{label} {grid_name} {variant} failed:\n{out.stderr}")
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = sorted(runs, key=lambda x: x["wall_s"])[len(runs) // 2]  # the median run
            peak = max(x["rss_peak_mb"] for x in runs)
            per_min = r["wall_s"] / r["duration_s"] * 60
            print(
                f"{label:<16}{'-' if decode_only else grid_name:<10}{variant:<14}{r['wall_s']:8.1f}{per_min:8.1f}"
                f"{r['duration_s'] / r['wall_s']:8.1f}{r['frames']:8d}{r['net_frames']:6d}"
                f"{r['rss_base_mb']:10.0f}{peak:10.0f}"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads of the main variant")
    ap.add_argument("--minutes", type=float, default=1.0, help="length of the generated 720p clip")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/uniav-bench-effnet"))
    ap.add_argument("--skip-files", action="store_true", help="the network table only")
    ap.add_argument("--file-repeat", type=int, default=3, help="runs of each file case (median wall)")
    ap.add_argument("--case", help=argparse.SUPPRESS)  # internal: one file case, in a fresh process
    ap.add_argument("--generate", nargs=2, help=argparse.SUPPRESS)  # internal: make the 720p clip
    ap.add_argument("--memory", type=int, help=argparse.SUPPRESS)  # internal: one batch size's memory
    args = ap.parse_args()
    if args.memory:
        print(json.dumps(memory_case(args.memory)))
        return 0
    if args.generate:
        from benchmarks.bench_decode import generate_long_video

        generate_long_video(Path(args.generate[0]), float(args.generate[1]))
        return 0
    if args.case:
        c = json.loads(args.case)
        print(json.dumps(run_case(Path(c["path"]), c["grid"], c["threads"], c["decode_only"])))
        return 0

    print(f"machine shared with other agents: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    if not args.skip_files:
        args.workdir.mkdir(parents=True, exist_ok=True)
        generated = args.workdir / f"generated_720p_{args.minutes:g}min.mp4"
        if not generated.exists():
            subprocess.run([sys.executable, __file__, "--generate", str(generated), str(args.minutes)], check=True)
        file_table({"bbb 720p 30s": BBB, f"gen 720p {args.minutes:g}min": generated}, args.threads, args.file_repeat)
    memory_table()
    network_table(args.repeat, args.threads)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
