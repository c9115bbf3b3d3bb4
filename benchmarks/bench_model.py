"""Forward time of the paper preset (eval, T=256) on CPU, batch 1 and 16.

python benchmarks/bench_model.py [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import peak_rss_mb, report, timeit
from uniav.config import ModelConfig
from uniav.model.uniav import UniAV


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--task", default="AVEL")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = UniAV(ModelConfig.preset("paper")).to(args.device).eval()
    text = torch.randn(model.config.task(args.task).num_classes, 1536, device=args.device)
    print(
        f"paper preset: {model.num_parameters():,} parameters, task {args.task}, {args.threads} threads, {args.device}"
    )
    for bs in (1, 16):
        v = torch.randn(bs, 1536, 256, device=args.device)
        a = torch.randn(bs, 1536, 256, device=args.device)
        mask = torch.ones(bs, 1, 256, dtype=torch.bool, device=args.device)

        def run(v=v, a=a, mask=mask) -> None:
            with torch.inference_mode():
                model(v, a, mask, args.task, text)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()

        med, best = timeit(run, repeat=5 if bs == 1 else 3)
        report(f"forward T=256 batch {bs}", med, f"(min {best * 1000:.1f} ms, {bs / med:.1f} videos/s)")
    print(f"peak RSS {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
