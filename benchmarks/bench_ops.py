"""Hot paths of the math: Soft-NMS on 2,000 candidates of 20 classes and label assignment for
16 class-aware videos, against straightforward ports of the official algorithms (the official
Soft-NMS is a scalar C++ loop over all candidates, its class-aware assignment a Python loop over
points), and the full decode of one video.

    python benchmarks/bench_ops.py [--threads 2]
"""

from __future__ import annotations

import argparse
import ctypes
import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from benchmarks.common import report, timeit
from uniav.config import DecodeConfig
from uniav.ops.decode import decode_batch, decode_candidates
from uniav.ops.nms import batched_nms
from uniav.ops.targets import assign_targets, make_points

STRIDES = (1, 2, 4, 8, 16, 32)
RANGES = ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000))


def scalar_soft_nms(segs: list, scores: list, sigma: float, min_score: float) -> list:
    """The official algorithm, scalar (what the C++ operator does, here in Python)."""
    x1, x2, sc = [s[0] for s in segs], [s[1] for s in segs], list(scores)
    areas = [b - a + 1e-6 for a, b in zip(x1, x2, strict=True)]
    n, out, i = len(sc), [], 0
    while i < n:
        m = max(range(i, n), key=sc.__getitem__)
        for arr in (x1, x2, sc, areas):
            arr[i], arr[m] = arr[m], arr[i]
        out.append(sc[i])
        pos = i + 1
        while pos < n:
            inter = max(0.0, min(x2[i], x2[pos]) - max(x1[i], x1[pos]))
            ovr = inter / (areas[i] + areas[pos] - inter)
            sc[pos] *= math.exp(-(ovr * ovr) / sigma)
            if sc[pos] < min_score:
                for arr in (x1, x2, sc, areas):
                    arr[pos] = arr[n - 1]
                n -= 1
                pos -= 1
            pos += 1
        i += 1
    return out


CPP_SOFT_NMS = r"""
#include <cmath>
#include <algorithm>
// The official operator's algorithm (Gaussian soft-NMS over all candidates of one class).
extern "C" int soft_nms(float* x1, float* x2, float* sc, int n, float sigma, float min_score, float* out) {
  float* area = new float[n];
  for (int i = 0; i < n; i++) area[i] = x2[i] - x1[i] + 1e-6f;
  int k = 0;
  for (int i = 0; i < n; i++) {
    int m = i;
    for (int p = i + 1; p < n; p++) if (sc[m] < sc[p]) m = p;
    std::swap(x1[i], x1[m]); std::swap(x2[i], x2[m]); std::swap(sc[i], sc[m]); std::swap(area[i], area[m]);
    out[k++] = sc[i];
    for (int p = i + 1; p < n; p++) {
      float inter = std::max(0.f, std::min(x2[i], x2[p]) - std::max(x1[i], x1[p]));
      float ovr = inter / (area[i] + area[p] - inter);
      sc[p] *= std::exp(-(ovr * ovr) / sigma);
      if (sc[p] < min_score) {
        x1[p] = x1[n - 1]; x2[p] = x2[n - 1]; sc[p] = sc[n - 1]; area[p] = area[n - 1];
        n--; p--;
      }
    }
  }
  delete[] area;
  return k;
}
"""


def compiled_soft_nms():
    """Compile the scalar C++ operator (g++ -O2) for a like-for-like comparison; None without g++."""
    if shutil.which("g++") is None:
        return None
    tmp = Path(tempfile.mkdtemp())
    (tmp / "nms.cpp").write_text(CPP_SOFT_NMS)
    subprocess.run(["g++", "-O2", "-shared", "-fPIC", str(tmp / "nms.cpp"), "-o", str(tmp / "nms.so")], check=True)
    lib = ctypes.CDLL(str(tmp / "nms.so"))
    fp = ctypes.POINTER(ctypes.c_float)
    lib.soft_nms.argtypes = [fp, fp, fp, ctypes.c_int, ctypes.c_float, ctypes.c_float, fp]

    def run(groups):
        for x1, x2, sc in groups:
            a, b, c, out = x1.clone(), x2.clone(), sc.clone(), torch.empty_like(sc)
            ptr = [t.numpy().ctypes.data_as(fp) for t in (a, b, c, out)]
            lib.soft_nms(ptr[0], ptr[1], ptr[2], len(c), 0.4, 0.001, ptr[3])

    return run


def loop_assign(points, segs, labels, num_classes):
    """The official class-aware assignment: vectorised candidates, then a Python loop over points."""
    p = points.shape[0]
    left = points[:, 0, None] - segs[None, :, 0]
    right = segs[None, :, 1] - points[:, 0, None]
    reg = torch.stack((left, right), -1)
    inside = reg.min(-1)[0] > 0
    far = reg.max(-1)[0]
    ok = inside & (far >= points[:, 1, None]) & (far <= points[:, 2, None])
    lens = (segs[:, 1] - segs[:, 0])[None].repeat(p, 1).masked_fill(~ok, float("inf"))
    mask = (lens < float("inf")).float()
    cls = (mask @ torch.nn.functional.one_hot(labels, num_classes).float()).clamp(0, 1)
    out = torch.zeros(p, num_classes, 2)
    for i in range(p):
        inds = mask[i].nonzero()
        out[i, labels[inds]] = reg[i, inds]
    return cls, out / points[:, 3, None, None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)

    # --- Soft-NMS: 2,000 candidates of 20 classes (the figure), then other class sizes ---
    cfg = DecodeConfig()
    cpp = compiled_soft_nms()
    for n, c in ((2000, 20), (2000, 2), (12000, 100)):
        start = torch.rand(n, generator=g) * 200
        segs = torch.stack([start, start + 1 + torch.rand(n, generator=g) * 40], 1)
        scores = torch.rand(n, generator=g)
        labels = torch.randint(0, c, (n,), generator=g)
        med, best = timeit(
            lambda segs=segs, scores=scores, labels=labels: batched_nms(segs, scores, labels, cfg, 0.4), repeat=20
        )
        report(f"soft-NMS {n} candidates x {c} classes (uniav)", med, f"min {best * 1000:.2f} ms")
        if (n, c) == (2000, 20):
            per_class = [(segs[labels == k].tolist(), scores[labels == k].tolist()) for k in range(c)]
            med_ref, _ = timeit(lambda pc=per_class: [scalar_soft_nms(s, sc, 0.4, 0.001) for s, sc in pc], repeat=3)
            report("  same input, official algorithm in pure Python", med_ref, f"uniav is x{med_ref / med:.1f} faster")
        if cpp is not None:
            groups = [
                (segs[labels == k, 0].contiguous(), segs[labels == k, 1].contiguous(), scores[labels == k].clone())
                for k in range(c)
            ]
            med_cpp, _ = timeit(lambda groups=groups: cpp(groups), repeat=10)
            report("  same input, official scalar C++ operator (g++ -O2)", med_cpp, f"uniav/C++ = {med / med_cpp:.2f}")

    # --- label assignment: 16 class-aware videos, T=256, 100 classes, 2-12 events each ---
    points = torch.cat(make_points(256, STRIDES, RANGES))
    segs_l, labs_l = [], []
    for _ in range(16):
        k = int(torch.randint(2, 13, (1,), generator=g))
        st = torch.rand(k, generator=g) * 200
        segs_l.append(torch.stack([st, st + 2 + torch.rand(k, generator=g) * 50], 1))
        labs_l.append(torch.randint(0, 100, (k,), generator=g))
    med, best = timeit(lambda: assign_targets(points, segs_l, labs_l, 100, True), repeat=10)
    report("label assignment, 16 class-aware videos (uniav)", med, f"min {best * 1000:.2f} ms")
    med_ref, _ = timeit(
        lambda: [loop_assign(points, s, lab, 100) for s, lab in zip(segs_l, labs_l, strict=True)], repeat=3
    )
    report("label assignment, official per-point loop", med_ref, f"x{med_ref / med:.1f} slower")

    # --- decoding one video (T=256, 100 classes, class-aware) + NMS ---
    pts = make_points(256, STRIDES, RANGES)
    logits = [torch.randn(p.shape[0], 100, generator=g) - 4 for p in pts]
    offs = [torch.rand(p.shape[0], 100, 2, generator=g) * 4 for p in pts]
    masks = [torch.ones(p.shape[0], dtype=torch.bool) for p in pts]

    def decode() -> None:
        cand = decode_candidates(logits, offs, masks, pts, cfg)
        batched_nms(cand.segments, cand.scores, cand.labels, cfg, sigma=0.4)

    med, best = timeit(decode, repeat=10)
    report("decode + soft-NMS, one video (T=256, 100 classes)", med, f"min {best * 1000:.2f} ms")

    # --- decoding 40 windows of a long clip at once (SED-like: T=64, 10 classes) ---
    pts = make_points(64, STRIDES, RANGES)
    wl = [torch.randn(40, p.shape[0], 10, generator=g) - 3 for p in pts]
    wo = [torch.rand(40, p.shape[0], 10, 2, generator=g) * 4 for p in pts]
    wm = [torch.ones(40, p.shape[0], dtype=torch.bool) for p in pts]

    def decode_windows() -> None:
        cand = decode_batch(wl, wo, wm, pts, cfg)
        batched_nms(cand.segments, cand.scores, cand.labels, cfg, 0.4, videos=cand.videos)

    def decode_one_by_one() -> None:
        for i in range(40):
            cand = decode_candidates([x[i] for x in wl], [x[i] for x in wo], [x[i] for x in wm], pts, cfg)
            batched_nms(cand.segments, cand.scores, cand.labels, cfg, 0.4)

    med, best = timeit(decode_windows, repeat=5)
    med_one, _ = timeit(decode_one_by_one, repeat=3)
    report("decode + soft-NMS, 40 windows batched (T=64, 10 classes)", med, f"one by one {med_one * 1000:.1f} ms")


if __name__ == "__main__":
    main()
