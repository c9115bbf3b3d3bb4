"""Sound synthesis: event timbres, background noise and music-like tones, all vectorised.

Each timbre keeps its energy inside its class's band (`vocab.BANDS`): tones are pure, noises are
band-limited, so a class's signature is where a spectral encoder looks for it.

`render_sound(ev, sr)` turns a `SoundEvent` into (first sample, waveform) scaled so that the RMS of
its loud part equals `ev.gain`. Rhythmic timbres (knocks, thuds, beeps, chirps...) are one short
kernel overlap-added at the event's beats; continuous ones (siren, rumble, buzz, hiss, whistle)
are synthesized over the whole span. `render_ambience` makes the background of a whole video.
Noise comes from `numpy.random.default_rng(seed)`, so a sound is a pure function of its event.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from uniav.synth.plan import Ambience, SoundEvent
from uniav.synth.vocab import Timbre

KERNEL_SECONDS: dict[Timbre, float] = {
    Timbre.THUD: 0.18,
    Timbre.KNOCK: 0.09,
    Timbre.BELL: 0.55,
    Timbre.CLINK: 0.12,
    Timbre.CHIRP: 0.06,
    Timbre.BANG: 0.35,
    Timbre.PLOP: 0.08,
    Timbre.TICK: 0.04,
}
"""Length of one beat's sound for rhythmic timbres of fixed kernel length (BEEP and ALARM last `hold`)."""


def tail_seconds(timbre: Timbre, hold: float) -> float:
    """How long a rhythmic timbre sounds after a beat (0 for continuous timbres)."""
    if timbre in (Timbre.BEEP, Timbre.ALARM):
        return hold
    return KERNEL_SECONDS.get(timbre, 0.0)


def fade(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """A linear attack/release envelope (n,) with the given times in seconds."""
    t = np.arange(n)
    a = max(int(attack * sr), 1)
    r = max(int(release * sr), 1)
    return np.minimum(np.minimum(1.0, (t + 1) / a), np.minimum(1.0, (n - t) / r)).astype(np.float64)


def band_noise(n: int, sr: int, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """White noise (n,) band-limited to [lo, hi] Hz with smooth (1/3-octave) edges, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    logf = np.log2(np.maximum(f, 1.0))
    gain = np.clip((logf - np.log2(lo)) * 3 + 0.5, 0, 1) * np.clip((np.log2(hi) - logf) * 3 + 0.5, 0, 1)
    x = np.fft.irfft(spec * gain, n)
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def overlap_add(n: int, offsets: np.ndarray, kernel: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """(n,) signal with `kernel` added at each sample offset, scaled by `gains` (clipped at the end)."""
    idx = offsets[:, None] + np.arange(len(kernel))[None, :]
    w = gains[:, None] * kernel[None, :]
    keep = (idx >= 0) & (idx < n)
    return np.bincount(idx[keep], weights=w[keep], minlength=n)[:n]


def scatter_add(n: int, starts: np.ndarray, waves: np.ndarray) -> np.ndarray:
    """(n,) signal with row k of `waves` (K, L) added from sample starts[k] (clipped at the end)."""
    idx = starts[:, None] + np.arange(waves.shape[1])[None, :]
    keep = (idx >= 0) & (idx < n)
    return np.bincount(idx[keep], weights=waves[keep], minlength=n)[:n]


def _t(seconds: float, sr: int) -> np.ndarray:
    return np.arange(max(int(round(seconds * sr)), 1)) / sr


def _sweep(t: np.ndarray, f: np.ndarray, sr: int) -> np.ndarray:
    """A sine whose instantaneous frequency is f (same length as t)."""
    return np.sin(2 * np.pi * np.cumsum(f) / sr)


def _end_fade(x: np.ndarray, sr: int) -> np.ndarray:
    return x * fade(len(x), sr, 0.001, 0.01)


# ---------------------------------------------------------------- one beat's kernel per rhythmic timbre


def kernel_thud(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(KERNEL_SECONDS[Timbre.THUD], sr)
    f = 95.0 * ev.pitch * (1.0 + 0.8 * np.exp(-t / 0.02))
    body = _sweep(t, f, sr) * np.exp(-t / 0.05)
    click = band_noise(len(t), sr, 60.0, 350.0, rng) * np.exp(-t / 0.008) * 0.5
    return _end_fade(body + click, sr)


def kernel_knock(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(KERNEL_SECONDS[Timbre.KNOCK], sr)
    modes = np.array([260.0, 520.0, 900.0]) * ev.pitch
    decay = np.array([0.025, 0.018, 0.012])
    amps = np.array([1.0, 0.7, 0.4])
    body = (amps * np.sin(2 * np.pi * modes * t[:, None]) * np.exp(-t[:, None] / decay)).sum(1)
    click = band_noise(len(t), sr, 300.0, 1200.0, rng) * np.exp(-t / 0.004) * 0.6
    return _end_fade(body + click, sr)


def kernel_bell(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(KERNEL_SECONDS[Timbre.BELL], sr)
    ratios = np.array([1.0, 2.0, 2.42, 3.0, 4.16, 5.43])
    amps = np.array([1.0, 0.6, 0.5, 0.4, 0.25, 0.15])
    decay = np.array([0.3, 0.22, 0.18, 0.15, 0.1, 0.08])
    f = 560.0 * ev.pitch * ratios
    x = (amps * np.sin(2 * np.pi * f * t[:, None]) * np.exp(-t[:, None] / decay)).sum(1)
    return x * fade(len(t), sr, 0.002, 0.08)


def kernel_clink(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(KERNEL_SECONDS[Timbre.CLINK], sr)
    f = np.array([3100.0, 3900.0, 4700.0, 5600.0]) * ev.pitch
    decay = np.array([0.04, 0.03, 0.025, 0.02])
    ring = (np.sin(2 * np.pi * f * t[:, None]) * np.exp(-t[:, None] / decay)).sum(1) * 0.5
    hit = band_noise(len(t), sr, 2600.0, 6500.0, rng) * np.exp(-t / 0.005)
    return _end_fade(ring + hit, sr)


def kernel_chirp(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(KERNEL_SECONDS[Timbre.CHIRP], sr)
    f = ev.pitch * (2600.0 + 2600.0 * (t / t[-1]) ** 1.5)
    return _sweep(t, f, sr) * np.hanning(len(t))


def kernel_bang(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(KERNEL_SECONDS[Timbre.BANG], sr)
    burst = band_noise(len(t), sr, 100.0, 2400.0 * ev.pitch, rng) * np.exp(-t / 0.07)
    boom = np.sin(2 * np.pi * 70.0 * ev.pitch * t) * np.exp(-t / 0.12) * 0.8
    return _end_fade(burst + boom, sr)


def kernel_plop(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(KERNEL_SECONDS[Timbre.PLOP], sr)
    f = ev.pitch * (1500.0 - 850.0 * np.sqrt(t / t[-1]))
    return _sweep(t, f, sr) * np.sin(np.pi * t / t[-1]) ** 0.5


def kernel_tick(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(KERNEL_SECONDS[Timbre.TICK], sr)
    click = band_noise(len(t), sr, 2000.0, 6500.0, rng) * np.exp(-t / 0.004)
    ring = np.sin(2 * np.pi * 3300.0 * ev.pitch * t) * np.exp(-t / 0.012) * 0.7
    return _end_fade(click + ring, sr)


def kernel_beep(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(ev.hold, sr)
    return np.sin(2 * np.pi * 2200.0 * ev.pitch * t) * fade(len(t), sr, 0.004, 0.006)


def kernel_alarm(ev: SoundEvent, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(ev.hold, sr)
    return np.sin(2 * np.pi * 1100.0 * ev.pitch * t) * fade(len(t), sr, 0.004, 0.006)


KernelFn = Callable[[SoundEvent, int, np.random.Generator], np.ndarray]
KERNELS: dict[Timbre, KernelFn] = {
    Timbre.THUD: kernel_thud,
    Timbre.KNOCK: kernel_knock,
    Timbre.BELL: kernel_bell,
    Timbre.CLINK: kernel_clink,
    Timbre.CHIRP: kernel_chirp,
    Timbre.BANG: kernel_bang,
    Timbre.PLOP: kernel_plop,
    Timbre.TICK: kernel_tick,
    Timbre.BEEP: kernel_beep,
    Timbre.ALARM: kernel_alarm,
}

# ---------------------------------------------------------------- continuous timbres over the whole span


def tone_drum(ev: SoundEvent, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    f = ev.pitch * (55.0 + 120.0 * np.exp(-t / 0.03))
    body = _sweep(t, f, sr) * np.exp(-t / max(0.25 * n / sr, 0.02))
    click = band_noise(n, sr, 80.0, 250.0, rng) * np.exp(-t / 0.006) * 0.4
    return _end_fade(body + click, sr)


def tone_rumble(ev: SoundEvent, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    noise = band_noise(n, sr, 25.0, 200.0, rng)
    hum = np.sin(2 * np.pi * 45.0 * ev.pitch * t) + 0.5 * np.sin(2 * np.pi * 90.0 * ev.pitch * t)
    am = 1.0 + 0.5 * np.sin(2 * np.pi * 11.0 * ev.pitch * t)
    return (noise + 0.8 * hum) * am * fade(n, sr, 0.05, 0.05)


def tone_siren(ev: SoundEvent, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    f = 1000.0 * ev.pitch + 380.0 * np.sin(2 * np.pi * t / ev.rate)
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * fade(n, sr, 0.03, 0.03)


def tone_buzz(ev: SoundEvent, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = 120.0 * ev.pitch
    k = np.arange(1, int(1900.0 // f0) + 1)
    x = (np.sin(2 * np.pi * f0 * k[None, :] * t[:, None]) / k[None, :]).sum(1)
    return x * (1.0 + 0.3 * np.sin(2 * np.pi * 2 * f0 * t + 0.3)) * fade(n, sr, 0.02, 0.02)


def tone_hiss(ev: SoundEvent, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    return band_noise(n, sr, 3500.0 * ev.pitch, 7000.0, rng) * fade(n, sr, 0.03, 0.08)


def tone_whistle(ev: SoundEvent, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    f = 2900.0 * ev.pitch * (1.0 + 0.02 * np.sin(2 * np.pi * 6.0 * t))
    breath = band_noise(n, sr, 2600.0, 3300.0, rng) * 0.1
    return (_sweep(t, f, sr) + breath) * fade(n, sr, 0.025, 0.025)


ToneFn = Callable[[SoundEvent, int, int, np.random.Generator], np.ndarray]
TONES: dict[Timbre, ToneFn] = {
    Timbre.DRUM: tone_drum,
    Timbre.RUMBLE: tone_rumble,
    Timbre.SIREN: tone_siren,
    Timbre.BUZZ: tone_buzz,
    Timbre.HISS: tone_hiss,
    Timbre.WHISTLE: tone_whistle,
}


def active_rms(x: np.ndarray, sr: int) -> float:
    """RMS of the loud part of x: 20-ms frames with at least a tenth of the loudest frame's energy."""
    hop = max(int(0.02 * sr), 1)
    m = len(x) // hop
    if m == 0:
        return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    e = (x[: m * hop].reshape(m, hop) ** 2).mean(1)
    loud = e >= 0.1 * e.max()
    return float(np.sqrt(e[loud].mean()))


def render_sound(ev: SoundEvent, sr: int) -> tuple[int, np.ndarray]:
    """(first sample, float64 waveform) of one sound event, its loud part at RMS `ev.gain`."""
    first = int(round(ev.start * sr))
    n = max(int(round(ev.end * sr)) - first, 1)
    rng = np.random.default_rng(ev.seed)
    if ev.timbre is Timbre.RECORDING:
        if ev.samples is None:
            raise ValueError("a recording sound event needs its samples")
        x = np.asarray(ev.samples, np.float64)[:n] * fade(min(n, len(ev.samples)), sr, 0.005, 0.01)
    elif ev.timbre in KERNELS:
        kernel = KERNELS[ev.timbre](ev, sr, rng)
        offsets = np.round((np.asarray(ev.beats) - ev.start) * sr).astype(np.int64)
        gains = 10.0 ** (rng.uniform(-2.0, 2.0, size=len(offsets)) / 20.0)
        x = overlap_add(n, offsets, kernel, gains)
    else:
        x = TONES[ev.timbre](ev, sr, n, rng)
    level = active_rms(x, sr)
    return first, x * (ev.gain / max(level, 1e-12))


def coloured_noise(n: int, sr: int, tilt_db_per_octave: float, rng: np.random.Generator) -> np.ndarray:
    """Noise (n,) with a spectral slope of `tilt_db_per_octave`, rolled off below 80 Hz, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / sr), 1.0)
    highpass = 1.0 / (1.0 + (80.0 / f) ** 2)
    x = np.fft.irfft(spec * highpass * (np.maximum(f, 80.0) / 1000.0) ** (tilt_db_per_octave / 6.02), n)
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def music(n: int, sr: int, notes: int, rng: np.random.Generator) -> np.ndarray:
    """Music-like tones (n,): `notes` random notes of a pentatonic scale at random times, unit RMS."""
    if notes <= 0 or n == 0:
        return np.zeros(n)
    starts = np.sort(rng.integers(0, n, size=notes))
    lengths = rng.uniform(0.2, 1.5, size=notes)
    scale = np.array([0, 2, 4, 7, 9])
    midi = 55 + 12 * rng.integers(0, 2, size=notes) + scale[rng.integers(0, 5, size=notes)]
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    t = np.arange(int(1.5 * sr)) / sr
    env = np.minimum(t / 0.02, 1.0)[None, :] * np.exp(-t[None, :] / (0.4 * lengths[:, None]))
    env *= t[None, :] < lengths[:, None]
    phase = 2 * np.pi * f0[:, None] * t[None, :]
    waves = np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)
    x = scatter_add(n, starts, waves * env * rng.uniform(0.5, 1.0, size=notes)[:, None])
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def render_ambience(amb: Ambience, n: int, sr: int) -> np.ndarray:
    """The background sound (n,) float64 of a whole video: coloured noise, slow level drift, music."""
    rng = np.random.default_rng(amb.seed)
    t = np.arange(n) / sr
    drift = 10.0 ** (1.5 * np.sin(2 * np.pi * rng.uniform(0.02, 0.1) * t + rng.uniform(0, 6.3)) / 20.0)
    x = amb.noise_rms * coloured_noise(n, sr, amb.noise_tilt, rng) * drift
    if amb.music_notes > 0 and amb.music_rms > 0:
        x += amb.music_rms * music(n, sr, amb.music_notes, rng)
    return x
