"""Throughput of the `yamnet` audio part (`uniav.encoders.yamnet.YamnetAudio`), and where its time goes.

Audio: ``../shared/media/rain_60s.mp3`` decoded at 16 kHz (60 s) and tiled to 10 minutes (real sound, so the
quantised network sees realistic inputs). Grids: SED (stride 4 at 16 fps, a patch every 0.25 s), TAL (stride 8,
every 0.5 s) and both at once (TAL's centres are every other SED centre, computed once).

Printed:
  load        first use: locating + checking the weights, reading the zip, editing the graph, building the
              onnxruntime session (``import onnx`` included, done here for the first time in the process)
  encode      `encode_waveform` wall time (median of --repeat runs), x real time = audio seconds / wall
  split       for the SED grid: the log-mel front-end vs the network, per minute of audio
  batching    network time per patch: batch 1, dynamic batches (8, 32, 64), and batch-1 runs of one session
              from 2 threads (1 intra-op thread each) -- the alternative if the batch could not be dynamic

Aim: >= 50x real time at the SED grid on 2 cores. The machine is shared with other agents: figures are medians.
Run: .venv/bin/python benchmarks/bench_yamnet.py [--repeat 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
RAIN = REPO.parent / "shared" / "media" / "rain_60s.mp3"
from benchmarks.common import peak_rss_mb, timeit  # noqa: E402

SR = 16_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    args = ap.parse_args()

    from uniav.encoders.logmel import patch_starts
    from uniav.encoders.yamnet import YamnetAudio
    from uniav.encoders.yamnet_onnx import YamnetNetwork, locate_weights, prepare_graph, read_onnx_zip
    from uniav.media.audio import decode_audio
    from uniav.media.grid import SnippetGrid

    t0 = time.perf_counter()
    part = YamnetAudio({"threads": args.threads})
    _ = part.network, part.score_classes
    load_s = time.perf_counter() - t0
    print(f"load (first use, incl. import onnx): {load_s * 1000:.0f} ms")
    print(f"machine shared with other agents: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")

    minute = decode_audio(RAIN, sample_rate=SR).waveform[: 60 * SR]
    audio = {"60 s": minute, "10 min": np.tile(minute, 10)}
    sed, tal = SnippetGrid(stride=4), SnippetGrid(stride=8)
    grid_sets = {"SED (0.25 s)": [sed], "TAL (0.5 s)": [tal], "SED+TAL": [sed, tal]}

    print(f"{'audio':<8} {'grids':<14} {'patches':>8} {'median s':>9} {'x real time':>12}")
    for name, wave in audio.items():
        seconds = len(wave) / SR
        for gname, grids in grid_sets.items():
            counts = {g: g.num_snippets(seconds) for g in grids}
            patches = len(np.unique(np.concatenate([g.centres(counts[g]) for g in grids])))
            repeat = args.repeat if seconds <= 60 else max(1, args.repeat // 2)
            med, _ = timeit(lambda w=wave, gs=grids, c=counts: part.encode_waveform(w, gs, c), repeat=repeat)
            print(f"{name:<8} {gname:<14} {patches:>8} {med:>9.3f} {seconds / med:>11.0f}x")

    counts = {sed: sed.num_snippets(60.0)}
    starts = patch_starts(sed.centres(counts[sed]))
    fe_s, _ = timeit(lambda: part.front_end.log_mel_patches(minute, starts), repeat=args.repeat)
    patches = part.front_end.log_mel_patches(minute, starts)
    net_s, _ = timeit(lambda: part.embed_patches(patches), repeat=args.repeat)
    print(f"\nsplit, SED grid, per minute: front-end {fe_s * 1000:.0f} ms, network {net_s * 1000:.0f} ms")

    graph = prepare_graph(read_onnx_zip(locate_weights(part.weights).model))
    sample = patches[:128]
    print(f"\n{'network run':<34} {'ms / patch':>10}")
    for batch, threads in [(1, args.threads), (8, args.threads), (32, args.threads), (64, args.threads), (32, 1)]:
        net = YamnetNetwork(graph, threads=threads, batch=batch)
        med, _ = timeit(lambda n=net: n(sample), repeat=args.repeat)
        print(f"{f'batch {batch}, {threads} intra-op thread(s)':<34} {med / len(sample) * 1000:>10.3f}")
    single = YamnetNetwork(graph, threads=1, batch=1)
    with ThreadPoolExecutor(max_workers=2) as pool:

        def threaded() -> None:
            list(pool.map(single, np.array_split(sample, 2 * len(sample) // 8)))

        med, _ = timeit(threaded, repeat=args.repeat)
    print(f"{'batch 1, 2 threads x 1 intra-op':<34} {med / len(sample) * 1000:>10.3f}")
    print(
        f"\npeak RSS {peak_rss_mb():.0f} MiB; timings are medians of {args.repeat} runs; load average now "
        f"{os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
