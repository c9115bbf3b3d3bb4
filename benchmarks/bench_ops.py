"""Hot paths of the post-processing: Soft-NMS on 2,000 candidates of 20 and of 2 classes and on 12,000
of 100 classes, each against the official algorithm on the same inputs (its scalar C++ operator,
compiled here with g++ -O2 from a transcription, when g++ is there), then the full decode of one video
and of 40 windows. Label assignment is in bench_targets.py.

    python benchmarks/bench_ops.py [--threads 1] [--rounds 15]

With one thread the figures are CPU time (benchmarks/compare.py), which a shared machine disturbs
least; Soft-NMS is single-threaded in both implementations.
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
from benchmarks.compare import interleaved, report_pair
from uniav.config import DecodeConfig
from uniav.ops.decode import decode_batch, decode_candidates
from uniav.ops.nms import batched_nms
from uniav.ops.targets import make_points

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


def nms_inputs(g: torch.Generator, n: int, c: int, tied: bool = False):
    """n candidates over 200 grid steps, lengths 1-41, uniform scores (in tenths when `tied`), c classes."""
    start = torch.rand(n, generator=g) * 200
    segs = torch.stack([start, start + 1 + torch.rand(n, generator=g) * 40], 1)
    scores = torch.rand(n, generator=g)
    if tied:
        scores = (scores * 10).ceil() / 10
    return segs, scores, torch.randint(0, c, (n,), generator=g)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clock = "cpu" if args.threads == 1 else "wall"
    g = torch.Generator().manual_seed(0)

    # --- Soft-NMS (sigma 0.4, min score 0.001, 100 per class) against the official scalar operator ---
    cfg = DecodeConfig()
    cpp = compiled_soft_nms()
    if cpp is None:
        print("g++ not found: the official operator is not compiled, only ours is timed")
    for n, c, tied in ((2000, 20, False), (2000, 2, False), (12000, 100, False), (2000, 20, True)):
        segs, scores, labels = nms_inputs(g, n, c, tied)
        groups = [
            (segs[labels == k, 0].contiguous(), segs[labels == k, 1].contiguous(), scores[labels == k].clone())
            for k in range(c)
        ]
        cands = {"ours": lambda s=segs, sc=scores, lab=labels: batched_nms(s, sc, lab, cfg, 0.4)}
        if cpp is not None:
            cands["official"] = lambda groups=groups: cpp(groups)
        runs = interleaved(cands, args.rounds, clock)
        title = f"soft-NMS {n} candidates x {c} classes" + (" (scores in tenths: ties)" if tied else "")
        if cpp is None:
            print(f"{title:<60} {runs['ours']}")
        else:
            report_pair(title, runs["ours"], runs["official"], "official scalar C++ operator (g++ -O2)")
        if (n, c, tied) == (2000, 20, False):
            per_class = [(segs[labels == k].tolist(), scores[labels == k].tolist()) for k in range(c)]
            ref = interleaved(
                {"py": lambda pc=per_class: [scalar_soft_nms(s, sc, 0.4, 0.001) for s, sc in pc]}, 3, clock
            )
            print(f"  same input, official algorithm in pure Python {ref['py']}")

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
