"""Forward time of the paper preset (eval, fp32, T=256) on CPU, batch 1 and 16: the whole forward, and the
backbone and heads apart. Medians and interquartile ranges over `--rounds` runs; with one thread the
CPU clock (see benchmarks/compare.py), with more the wall clock. The project does not carry the
authors' model code, so this benchmark has no official side; compare with it separately.

python benchmarks/bench_model.py [--threads 2] [--rounds 7] [--device cpu] [--task AVEL]
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import peak_rss_mb
from benchmarks.compare import interleaved
from uniav.config import ModelConfig
from uniav.model.uniav import UniAV


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--task", default="AVEL")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clock = "cpu" if args.threads == 1 and args.device == "cpu" else "wall"
    torch.manual_seed(0)
    model = UniAV(ModelConfig.preset("paper")).to(args.device).eval()
    text = torch.randn(model.config.task(args.task).num_classes, 1536, device=args.device)
    print(
        f"paper preset: {model.num_parameters():,} parameters, task {args.task}, {args.threads} threads, "
        f"{args.device}, {clock} clock"
    )

    def synced(fn):
        def run() -> None:
            with torch.inference_mode():
                fn()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()

        return run

    for bs in (1, 16):
        v = torch.randn(bs, 1536, 256, device=args.device)
        a = torch.randn(bs, 1536, 256, device=args.device)
        mask = torch.ones(bs, 1, 256, dtype=torch.bool, device=args.device)
        with torch.inference_mode():
            pyramid = model.encode(v, a, mask, args.task)
        runs = interleaved(
            {
                "forward": synced(lambda v=v, a=a, mask=mask: model(v, a, mask, args.task, text)),
                "backbone": synced(lambda v=v, a=a, mask=mask: model.encode(v, a, mask, args.task)),
                "heads": synced(lambda p=pyramid: model.heads(p, args.task, text)),
            },
            args.rounds if bs == 1 else max(3, args.rounds // 2),
            clock,
        )
        for name, spread in runs.items():
            extra = f"  ({bs / spread.median:.1f} videos/s)" if name == "forward" else ""
            print(f"batch {bs:>2} {name:<10} {spread}{extra}")
    print(f"peak RSS {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
