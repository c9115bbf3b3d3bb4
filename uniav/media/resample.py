"""Streaming sample-rate conversion with torchaudio's windowed-sinc resampler.

`StreamResampler` converts a signal that arrives in pieces of any size and gives the same samples
as ``torchaudio.functional.resample`` on the whole signal (to float rounding), while holding only
one block (about `block_seconds`) of input at a time. It works on blocks whose starts are
multiples of the reduced input period, each widened by enough context on both sides for the
filter, and keeps the outputs that belong to the block.
"""

from __future__ import annotations

import math

import numpy as np


class StreamResampler:
    """Resample a mono float32 signal from `orig_rate` to `new_rate`, fed with `push`, ended by `finish`.

    `push(x)` and `finish()` return the output samples that became final (float32, possibly empty);
    their concatenation has ``ceil(len(input) * new_rate / orig_rate)`` samples.
    """

    def __init__(self, orig_rate: int, new_rate: int, block_seconds: float = 10.0) -> None:
        if orig_rate <= 0 or new_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {orig_rate} -> {new_rate}")
        import torchaudio

        g = math.gcd(int(orig_rate), int(new_rate))
        self.orig_rate, self.new_rate = int(orig_rate), int(new_rate)
        self._o, self._n = self.orig_rate // g, self.new_rate // g
        self._transform = torchaudio.transforms.Resample(self.orig_rate, self.new_rate)
        # torchaudio pads `width` zeros left and `width + o` right: context covering both keeps
        # the outputs of a block identical to the whole-signal computation.
        width = int(self._transform.width)
        self._ctx = self._o * math.ceil((width + self._o) / self._o)
        self._block = self._o * max(1, round(block_seconds * self.orig_rate / self._o))
        self._buf = np.zeros(0, dtype=np.float32)  # input from global index self._buf_start
        self._buf_start = 0
        self._pending: list[np.ndarray] = []  # pushed input not yet joined to self._buf
        self._pending_len = 0
        self._next = 0  # global input index of the next block to resample (a multiple of o)
        self._done = False

    def _run(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self._transform(torch.from_numpy(np.ascontiguousarray(x))).numpy()

    def _blocks(self, final: bool) -> list[np.ndarray]:
        if self._pending:
            self._buf = np.concatenate([self._buf, *self._pending])
            self._pending, self._pending_len = [], 0
        out: list[np.ndarray] = []
        end = self._buf_start + len(self._buf)
        while self._next < end and (final or self._next + self._block + self._ctx <= end):
            left = min(self._ctx, self._next)
            stop = end if final else self._next + self._block + self._ctx
            lo, hi = self._next - left - self._buf_start, stop - self._buf_start
            y = self._run(self._buf[lo:hi])
            skip = left // self._o * self._n
            if final:
                out.append(y[skip:])
                self._next = end
            else:
                out.append(y[skip : skip + self._block // self._o * self._n])
                self._next += self._block
        keep_from = max(self._buf_start, self._next - self._ctx)
        self._buf = self._buf[keep_from - self._buf_start :].copy()
        self._buf_start = keep_from
        return out

    def push(self, x: np.ndarray) -> np.ndarray:
        """Feed the next input samples; returns the outputs that are now final."""
        if self._done:
            raise RuntimeError("StreamResampler.push after finish")
        if len(x):
            self._pending.append(np.asarray(x, dtype=np.float32).reshape(-1))
            self._pending_len += len(self._pending[-1])
        if self._buf_start + len(self._buf) + self._pending_len < self._next + self._block + self._ctx:
            return np.zeros(0, dtype=np.float32)
        out = self._blocks(final=False)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def finish(self) -> np.ndarray:
        """End of input: the remaining outputs."""
        self._done = True
        out = self._blocks(final=True)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def resample(x: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Whole-signal convenience over `StreamResampler` (float32 in, float32 out)."""
    if orig_rate == new_rate:
        return np.asarray(x, dtype=np.float32)
    r = StreamResampler(orig_rate, new_rate)
    return np.concatenate([r.push(x), r.finish()])
