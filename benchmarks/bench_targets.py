"""Label assignment for a batch of 16 videos (T=256, the paper's pyramid, 2-12 events each), class-aware
(AVEL-like, 100 classes) and class-agnostic (TAL-like, 200 classes), against straightforward ports of the
official algorithms on the same inputs: the official code assigns one video at a time, and its
class-aware branch fills the offsets in a Python loop over points.

    python benchmarks/bench_targets.py [--threads 2] [--rounds 9]

Single-threaded figures use the CPU clock (see benchmarks/compare.py); the machine may be shared.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from benchmarks.compare import interleaved, report_pair
from uniav.ops.targets import assign_targets, make_points

STRIDES = (1, 2, 4, 8, 16, 32)
RANGES = ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000))


def official_candidates(points: torch.Tensor, segs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The official first half, for one video: (offsets (P, N, 2), lengths with inf for non-candidates (P, N))."""
    p = points.shape[0]
    lens = (segs[:, 1] - segs[:, 0])[None, :].repeat(p, 1)
    left = points[:, 0, None] - segs[None, :, 0]
    right = segs[None, :, 1] - points[:, 0, None]
    reg = torch.stack((left, right), dim=-1)
    inside = reg.min(-1)[0] > 0
    far = reg.max(-1)[0]
    in_range = (far >= points[:, 1, None]) & (far <= points[:, 2, None])
    lens.masked_fill_(~inside, float("inf"))
    lens.masked_fill_(~in_range, float("inf"))
    return reg, lens, inside


def official_class_aware(points, segs, labels, num_classes):
    """Every candidate kept; the offsets go to the label's slot in a loop over points."""
    reg, lens, _ = official_candidates(points, segs)
    mask = (lens < float("inf")).to(reg.dtype)
    cls = (mask @ F.one_hot(labels, num_classes).to(reg.dtype)).clamp_(0, 1)
    out = torch.zeros(points.shape[0], num_classes, 2)
    for i in range(points.shape[0]):
        inds = mask[i].nonzero()
        out[i, labels[inds]] = reg[i, inds]
    return cls, out / points[:, 3, None, None]


def official_class_agnostic(points, segs, labels, num_classes):
    """Per point the shortest candidate (ties within 1e-3 all count for the class target)."""
    reg, lens, _ = official_candidates(points, segs)
    min_len, min_idx = lens.min(dim=1)
    mask = ((lens <= min_len[:, None] + 1e-3) & (lens < float("inf"))).to(reg.dtype)
    cls = (mask @ F.one_hot(labels, num_classes).to(reg.dtype)).clamp_(0, 1)
    off = reg[torch.arange(points.shape[0]), min_idx] / points[:, 3, None]
    return cls, off


def make_videos(g: torch.Generator, n: int, num_classes: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    segs, labels = [], []
    for _ in range(n):
        k = int(torch.randint(2, 13, (1,), generator=g))
        start = torch.rand(k, generator=g) * 200
        segs.append(torch.stack([start, start + 2 + torch.rand(k, generator=g) * 50], 1))
        labels.append(torch.randint(0, num_classes, (k,), generator=g))
    return segs, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clock = "cpu" if args.threads == 1 else "wall"
    g = torch.Generator().manual_seed(0)
    points = torch.cat(make_points(256, STRIDES, RANGES))
    for class_aware, num_classes, official in (
        (True, 100, official_class_aware),
        (False, 200, official_class_agnostic),
    ):
        segs, labels = make_videos(g, 16, num_classes)
        ours_cls, ours_off = assign_targets(points, segs, labels, num_classes, class_aware)
        for b, (s, lab) in enumerate(zip(segs, labels, strict=True)):  # the same targets, or the figure is moot
            ref_cls, ref_off = official(points, s, lab, num_classes)
            if not (torch.equal(ours_cls[b], ref_cls) and torch.allclose(ours_off[b], ref_off)):
                raise SystemExit(f"video {b}: the assignment differs from the official one")
        runs = interleaved(
            {
                "ours": lambda s=segs, lab=labels, c=num_classes, a=class_aware: assign_targets(points, s, lab, c, a),
                "official": lambda s=segs, lab=labels, c=num_classes, f=official: [
                    f(points, x, y, c) for x, y in zip(s, lab, strict=True)
                ],
            },
            args.rounds,
            clock,
        )
        kind = "class-aware, 100 classes" if class_aware else "class-agnostic, 200 classes"
        official_name = "official per-point loop" if class_aware else "official, one video at a time"
        report_pair(f"label assignment, 16 videos, {kind}", runs["ours"], runs["official"], official_name)


if __name__ == "__main__":
    main()
