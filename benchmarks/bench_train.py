"""Training throughput of the paper preset on CPU: iterations per second of the round-robin loop
(one batch of each task, forward + backward + AdamW step + EMA), on random ONE-PEACE-sized inputs.

    python -m benchmarks.bench_train [--batch 16] [--iterations 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import peak_rss_mb
from uniav.config import ModelConfig
from uniav.model.uniav import UniAV
from uniav.ops.losses import uniav_loss
from uniav.ops.targets import assign_targets
from uniav.training.ema import ModelEma
from uniav.training.optim import make_optimizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default="paper")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = UniAV(ModelConfig.preset(args.preset)).train()
    opt = make_optimizer(model, 1e-3, 1e-4)
    ema = ModelEma(model)
    cfg = model.config
    batches = {}
    for t in cfg.tasks:
        b, T = args.batch, t.max_seq_len
        segs = [torch.tensor([[10.0, 60.0], [100.0, 140.0]]) for _ in range(b)]
        labs = [torch.tensor([1, 3]) for _ in range(b)]
        points = torch.cat(model.points(T))
        gt = assign_targets(points, segs, labs, t.num_classes, t.class_aware)
        batches[t.name] = (
            torch.randn(b, cfg.visual_dim, T),
            torch.randn(b, cfg.audio_dim, T),
            torch.ones(b, 1, T, dtype=torch.bool),
            torch.randn(t.num_classes, cfg.text_dim),
            gt,
        )

    def iteration() -> None:
        for t in cfg.tasks:
            v, a, m, text, (gc, go) = batches[t.name]
            out = model(v, a, m, t.name, text)
            loss = uniav_loss(
                torch.cat(out.cls_logits, 1),
                torch.cat(out.offsets, 1),
                torch.cat(out.masks, 1),
                gc,
                go,
                400.0,
                num_classes=t.num_classes,
                class_aware=t.class_aware,
                label_smoothing=t.label_smoothing,
            )
            opt.zero_grad(set_to_none=True)
            loss.final_loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            ema.update(model)

    iteration()  # warm-up
    t0 = time.perf_counter()
    for _ in range(args.iterations):
        iteration()
    dt = (time.perf_counter() - t0) / args.iterations
    print(
        f"{args.preset} preset ({model.num_parameters():,} parameters), batch {args.batch} per task, "
        f"{args.threads} threads: {dt:.2f} s per round-robin iteration (3 tasks) = {1 / dt:.3f} iterations/s, "
        f"{3 * args.batch / dt:.1f} videos/s; peak RSS {peak_rss_mb():.0f} MiB"
    )


if __name__ == "__main__":
    main()
