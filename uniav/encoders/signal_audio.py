"""Weight-free audio features: log-mel statistics of 1-s windows (the `signal` encoder's audio side).

Two steps, both vectorised:

1. `frame_descriptors(waveform)`: one row per 10 ms hop (frame j centred on sample j * 160 at 16 kHz,
   25 ms Hann window, 512-point FFT), `FRAME_DESC_DIM` = 73 columns:
   64 scaled log-mel bands (60 Hz - 7.8 kHz), log energy, spectral flux (onset strength),
   spectral flatness, centroid, bandwidth, 85 % roll-off, zero-crossing rate, share of power
   below 500 Hz, share above 4 kHz. Computed in batches of frames, so the working memory is
   independent of the length.
2. `window_features(desc, grid, num)`: the `AUDIO_DIM` = 256 statistics of the 100 frames inside each
   snippet's 1-s window (frames outside the signal count as silence):

   ======  =====  ===========================================================
   offset  width  what
   ======  =====  ===========================================================
   0       64     mean of each log-mel band
   64      64     std of each log-mel band
   128     64     max of each log-mel band
   192     16     mean |frame-to-frame change| of 16 groups of 4 bands
   208     4      log energy: mean, std, max, min
   212     3      spectral flux (onset strength): mean, std, max
   215     11     means (and std where noted) of flatness (+std), centroid (+std), bandwidth,
                  roll-off (+std), zero-crossing rate (+std), low-band share, high-band share
   226     1      fraction of silent frames (energy below -60 dB re full scale)
   227     5      loudness modulation: rms amplitude of the energy envelope in 1-2, 2-4, 4-8,
                  8-16 and 16-50 Hz
   232     24     modulation of 8 groups of 8 mel bands in 1-4, 4-16, 16-50 Hz (group-major)
   ======  =====  ===========================================================

Scales: log-mel and energy are ``(log10(power) + 5) / 3`` (silence -1.67, full-scale tone about 2);
shares, rates and positions are in [0, 1]. All outputs float32.
"""

from __future__ import annotations

import numpy as np

from uniav.media.grid import SnippetGrid

SAMPLE_RATE = 16_000
HOP = 160  # 10 ms
WIN = 400  # 25 ms
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 60.0, 7800.0
FRAMES_PER_SECOND = SAMPLE_RATE // HOP
FRAME_DESC_DIM = N_MELS + 9
AUDIO_DIM = 256
SILENCE_LOG10 = -6.0
_EPS = 1e-10
_BATCH_FRAMES = 8192
_BATCH_WINDOWS = 512

# column indices inside a frame descriptor
_C_ENERGY, _C_FLUX, _C_FLAT, _C_CENTROID, _C_BW, _C_ROLLOFF, _C_ZCR, _C_LOW, _C_HIGH = range(N_MELS, N_MELS + 9)


def _scale_log(power: np.ndarray) -> np.ndarray:
    return ((np.log10(power + _EPS) + 5.0) / 3.0).astype(np.float32)


def mel_filterbank(
    n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE, fmin: float = FMIN, fmax: float = FMAX
) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangular HTK-mel filters, each normalised to unit area."""

    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    mel_pts = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    hz_pts = 700.0 * (10.0 ** (mel_pts / 2595.0) - 1.0)
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    lo, mid, hi = hz_pts[:-2], hz_pts[1:-1], hz_pts[2:]
    up = (freqs[:, None] - lo[None, :]) / (mid - lo)[None, :]
    down = (hi[None, :] - freqs[:, None]) / (hi - mid)[None, :]
    fb = np.clip(np.minimum(up, down), 0.0, None)
    fb /= np.maximum(fb.sum(axis=0, keepdims=True), _EPS)
    return fb.astype(np.float32)


def _spectral_columns(
    frames: np.ndarray,
    fb: np.ndarray,
    freqs_rel: np.ndarray,
    window: np.ndarray,
    low_mask: np.ndarray,
    high_mask: np.ndarray,
) -> np.ndarray:
    """Descriptor columns except flux for a (n, WIN) batch of raw frames -> (n, FRAME_DESC_DIM)."""
    n = frames.shape[0]
    spec = np.fft.rfft(frames * window, n=N_FFT, axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32) / np.float32((window**2).sum())
    out = np.empty((n, FRAME_DESC_DIM), dtype=np.float32)
    out[:, :N_MELS] = _scale_log(power @ fb)
    out[:, _C_ENERGY] = _scale_log(np.mean(frames.astype(np.float32) ** 2, axis=1))
    out[:, _C_FLUX] = 0.0
    total = power.sum(axis=1) + _EPS
    log_p = np.log(power + _EPS)
    out[:, _C_FLAT] = np.exp(log_p.mean(axis=1)) / (power.mean(axis=1) + _EPS)
    centroid = (power @ freqs_rel) / total
    out[:, _C_CENTROID] = centroid
    out[:, _C_BW] = np.sqrt(np.maximum((power @ freqs_rel**2) / total - centroid**2, 0.0))
    cum = np.cumsum(power, axis=1)
    out[:, _C_ROLLOFF] = freqs_rel[np.argmax(cum >= 0.85 * cum[:, -1:], axis=1)]
    signs = np.signbit(frames)
    out[:, _C_ZCR] = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    out[:, _C_LOW] = power[:, low_mask].sum(axis=1) / total
    out[:, _C_HIGH] = power[:, high_mask].sum(axis=1) / total
    return out


def frame_descriptors(waveform: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(ceil(N / HOP), FRAME_DESC_DIM) float32 descriptors of a mono 16 kHz waveform (N samples)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"signal audio features need {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    x = np.asarray(waveform, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a mono waveform (N,), got shape {x.shape}")
    n_frames = max(1, -(-len(x) // HOP))
    padded = np.pad(x, (WIN // 2, WIN // 2 + HOP))
    frames = np.lib.stride_tricks.sliding_window_view(padded, WIN)[::HOP][:n_frames]
    fb = mel_filterbank()
    freqs_rel = np.linspace(0.0, 1.0, N_FFT // 2 + 1, dtype=np.float32)
    hz = freqs_rel * (SAMPLE_RATE / 2)
    window = np.hanning(WIN + 2)[1:-1].astype(np.float32)
    out = np.empty((n_frames, FRAME_DESC_DIM), dtype=np.float32)
    for a in range(0, n_frames, _BATCH_FRAMES):
        b = min(a + _BATCH_FRAMES, n_frames)
        out[a:b] = _spectral_columns(frames[a:b], fb, freqs_rel, window, hz < 500.0, hz > 4000.0)
    mel = out[:, :N_MELS]
    out[1:, _C_FLUX] = np.maximum(mel[1:] - mel[:-1], 0.0).mean(axis=1)
    return out


def silence_descriptor() -> np.ndarray:
    """(FRAME_DESC_DIM,) the descriptor of an all-zero frame (used outside the signal)."""
    return frame_descriptors(np.zeros(WIN, dtype=np.float32))[0]


def _band_rms(spectrum_power: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.sqrt(spectrum_power[:, lo:hi].sum(axis=1))


def _window_stats(w: np.ndarray) -> np.ndarray:
    """(B, F, FRAME_DESC_DIM) windows of frame descriptors -> (B, AUDIO_DIM)."""
    b, f, _ = w.shape
    mel = w[:, :, :N_MELS]
    parts = [mel.mean(axis=1), mel.std(axis=1), mel.max(axis=1)]
    delta = np.abs(np.diff(mel, axis=1)).mean(axis=1)  # (B, 64)
    parts.append(delta.reshape(b, 16, 4).mean(axis=2))
    e = w[:, :, _C_ENERGY]
    parts.append(np.stack([e.mean(1), e.std(1), e.max(1), e.min(1)], axis=1))
    fl = w[:, :, _C_FLUX]
    parts.append(np.stack([fl.mean(1), fl.std(1), fl.max(1)], axis=1))
    flat, cen, bw, roll, zcr = (w[:, :, c] for c in (_C_FLAT, _C_CENTROID, _C_BW, _C_ROLLOFF, _C_ZCR))
    parts.append(
        np.stack(
            [
                flat.mean(1),
                flat.std(1),
                cen.mean(1),
                cen.std(1),
                bw.mean(1),
                roll.mean(1),
                roll.std(1),
                zcr.mean(1),
                zcr.std(1),
                w[:, :, _C_LOW].mean(1),
                w[:, :, _C_HIGH].mean(1),
            ],
            axis=1,
        )
    )
    silent_level = (SILENCE_LOG10 + 5.0) / 3.0
    parts.append((e < silent_level).mean(axis=1, keepdims=True))
    # modulation spectra (1 Hz resolution for 100 frames at 100 Hz)
    env = np.concatenate([e[:, :, None], mel.reshape(b, f, 8, 8).mean(axis=3)], axis=2)  # (B, F, 9)
    env = env - env.mean(axis=1, keepdims=True)
    pw = np.abs(np.fft.rfft(env, axis=1)) ** 2 / (f * f)  # (B, F//2+1, 9)
    edges_e = [(1, 2), (2, 4), (4, 8), (8, 16), (16, pw.shape[1])]
    parts.append(np.stack([_band_rms(pw[:, :, 0], lo, hi) for lo, hi in edges_e], axis=1))
    edges_g = [(1, 4), (4, 16), (16, pw.shape[1])]
    grp = np.stack([np.sqrt(pw[:, lo:hi, 1:].sum(axis=1)) for lo, hi in edges_g], axis=2)  # (B, 8, 3)
    parts.append(grp.reshape(b, 24))
    out = np.concatenate(parts, axis=1).astype(np.float32)
    assert out.shape[1] == AUDIO_DIM, out.shape
    return out


def window_features(
    desc: np.ndarray, grid: SnippetGrid, num: int, sample_rate: int = SAMPLE_RATE, silence: np.ndarray | None = None
) -> np.ndarray:
    """(num, AUDIO_DIM) statistics of each snippet's audio window, from `frame_descriptors` output."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"signal audio features need {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    sil = silence_descriptor() if silence is None else silence
    padded = np.concatenate([sil[None], desc, sil[None]], axis=0)
    bounds = grid.audio_bounds(num, sample_rate)
    n_per = max(1, int(round((bounds[0, 1] - bounds[0, 0]) / HOP)))
    first = -(-bounds[:, 0] // HOP)  # first frame centre inside [start, end)
    out = np.empty((num, AUDIO_DIM), dtype=np.float32)
    for a in range(0, num, _BATCH_WINDOWS):
        b = min(a + _BATCH_WINDOWS, num)
        j = first[a:b, None] + np.arange(n_per)[None, :]
        j = np.where(j < 0, -1, np.where(j >= len(desc), len(desc), j)) + 1
        out[a:b] = _window_stats(padded[j])
    return out
