"""Placing recordings in a clip: levels (SNR), cuts at quiet points, and the resulting activity.

SNR is defined on RMS: the RMS of the event's active samples (`uniav.sounds.envelope`, on the
source file's own envelope) over the RMS of the bed as heard in the clip. A take starts on the
10-ms envelope grid, so its frames are the clip's frames and activities of several takes add up
on one grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uniav.sounds.envelope import (
    MIN_RUN_SECONDS,
    EnvelopeSpec,
    active_rms,
    hop_samples,
    levels_db,
    placed_active,
    quiet_cut,
    runs,
    self_active,
)
from uniav.sounds.media import SoundBank
from uniav.sounds.plan import Bed, Take
from uniav.synth.sounds import fade

MIN_CUT_SECONDS = 0.3  # a recording cut to fit keeps at least this much
CUT_SEARCH = 0.6  # look for the quietest frame in the last 40 % of the room left
FADE_IN, FADE_OUT = 0.005, 0.01  # seconds: every take is faded in and out (no clicks at cuts)


def faded(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """A take's samples as heard, float64: faded in over `FADE_IN` and out over `FADE_OUT` seconds."""
    return np.asarray(x, np.float64) * fade(len(x), sample_rate, FADE_IN, FADE_OUT)


def ping_pong(source_len: int, offset: int, n: int) -> np.ndarray:
    """(n,) indices into a source of `source_len` samples read forward then backward from `offset`,
    so a short bed loops without a discontinuity."""
    if source_len < 2:
        return np.zeros(n, np.int64)
    period = 2 * source_len - 2
    k = (offset + np.arange(n, dtype=np.int64)) % period
    return np.where(k < source_len, k, period - k)


def bed_signal(bank: SoundBank, bed: Bed, n: int) -> np.ndarray:
    """The bed as heard (n,) float64: its file looped back and forth from `bed.offset`, times `bed.gain`."""
    x = bank.samples(bed.file)
    return x[ping_pong(len(x), bed.offset, n)].astype(np.float64) * bed.gain


def draw_bed(
    rng: np.random.Generator, files: tuple[str, ...], bank: SoundBank, n: int, dbfs: float
) -> tuple[Bed, float]:
    """A bed from `files` at a random offset, scaled so its RMS over the clip is `dbfs`; (bed, its RMS)."""
    file = files[int(rng.integers(len(files)))]
    x = bank.samples(file)
    offset = int(rng.integers(max(2 * len(x) - 2, 1)))
    raw = float(np.sqrt(np.mean(np.square(x[ping_pong(len(x), offset, n)], dtype=np.float64))))
    if raw <= 0:
        raise ValueError(f"background file {file} is silent")
    target = 10.0 ** (dbfs / 20.0)
    return Bed(file, offset, target / raw), target


@dataclass(frozen=True, eq=False)
class Placement:
    """A take and the clip frames (10-ms grid) where it is audible: `first` frame and a mask."""

    take: Take
    first: int
    active: np.ndarray


def fit_length(bank: SoundBank, file: str, room: int) -> int:
    """Samples of `file` to use when `room` samples are left: all of it if it fits, else up to the
    quietest frame of the last 40 % of the room (but at least `MIN_CUT_SECONDS`)."""
    n = len(bank.samples(file))
    if n <= room:
        return n
    hop = hop_samples(bank.sample_rate)
    frame = quiet_cut(bank.levels(file), int(CUT_SEARCH * room / hop), room // hop)
    return int(min(max(frame * hop, MIN_CUT_SECONDS * bank.sample_rate), room))


def place(
    bank: SoundBank,
    spec: EnvelopeSpec,
    file: str,
    at: int,
    length: int,
    bed_rms: float,
    snr_db: float | None,
) -> Placement | None:
    """`length` samples of `file` at clip sample `at` (a multiple of the hop), scaled to `snr_db`
    over a bed of RMS `bed_rms` (`snr_db` None: unscaled). None when nothing of it is audible."""
    sr = bank.sample_rate
    hop = hop_samples(sr)
    if at % hop:
        raise ValueError(f"takes start on the {hop}-sample grid, got sample {at}")
    x = faded(bank.samples(file)[:length], sr)
    levels = levels_db(x, sr)  # what is heard (fades included), judged against the whole file's peak
    own = self_active(levels, spec, float(bank.levels(file).max()))
    if snr_db is None:
        gain = 1.0
    else:
        level = active_rms(x, own, sr)
        if level <= 0 or bed_rms <= 0:
            return None
        gain = bed_rms * 10.0 ** (snr_db / 20.0) / level
    audible = placed_active(levels, gain, bed_rms, spec, own)
    if not audible.any():
        return None
    return Placement(Take(file, at, 0, len(x), float(gain)), at // hop, audible)


def activity(placements: list[Placement] | tuple[Placement, ...], total_frames: int) -> np.ndarray:
    """(total_frames,) mask of the clip frames where any of the placements is audible."""
    mask = np.zeros(total_frames, bool)
    for p in placements:
        stop = min(p.first + len(p.active), total_frames)
        mask[p.first : stop] |= p.active[: stop - p.first]
    return mask


def segments(mask: np.ndarray, sample_rate: int, bridge_s: float, duration: float) -> tuple[tuple[float, float], ...]:
    """Active runs of a clip-frame mask as (start, end) seconds, gaps under `bridge_s` bridged,
    runs under `MIN_RUN_SECONDS` dropped."""
    hop_s = hop_samples(sample_rate) / sample_rate
    r = runs(mask, int(round(bridge_s / hop_s)), int(round(MIN_RUN_SECONDS / hop_s)))
    return tuple((round(float(a * hop_s), 4), round(float(min(b * hop_s, duration)), 4)) for a, b in r)
