"""Latency of a vocabulary change from cache: three tasks of 100 new labels each on an analysed
clip (`Detector.detect` only: prompt embeddings, cosine, decoding, Soft-NMS, window merge).

    python -m benchmarks.bench_vocab [--model DIR_OR_HUB_ID (default: the bundled model)] [--clip FILE] [--minutes 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from uniav.defaults import default_model
from uniav.encoders import FeatureCache
from uniav.pipeline.detector import Detector


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=default_model())
    ap.add_argument("--clip", default=str(Path(__file__).resolve().parents[2] / "shared" / "media" / "chaplin.mp4"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as cache:
        det = Detector.from_pretrained(args.model, feature_cache=FeatureCache(cache))
        t0 = time.perf_counter()
        analysis = det.analyze(args.clip)
        print(
            f"{Path(args.clip).name}: {analysis.duration:.1f} s, first analysis {time.perf_counter() - t0:.2f} s "
            f"(decode + encode + backbone), windows {[len(t.windows) for t in analysis.tasks.values()]}"
        )
        times = []
        for r in range(args.repeat):
            vocabs = {
                t: det.vocabulary(t, [f"new label {r} {i} for {t}" for i in range(100)]) for t in det.config.task_names
            }
            t0 = time.perf_counter()
            for v in vocabs.values():
                det.detect(analysis, v, threshold=0.0, top_k=100)
            times.append(time.perf_counter() - t0)
        med = 1000 * statistics.median(times)
        print(
            f"vocabulary change, {len(vocabs)} tasks x 100 new labels: median {med:.0f} ms "
            f"(min {1000 * min(times):.0f} ms), includes embedding the 300 new prompts"
        )
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for v in vocabs.values():
                det.detect(analysis, v, threshold=0.0, top_k=100)
            times.append(time.perf_counter() - t0)
        print(f"same vocabulary again (prompt embeddings cached): median {1000 * statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
