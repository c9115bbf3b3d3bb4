"""Real recordings for the SED clips: `--sounds DIR` holds one sub-folder per label of audio files.

Files are decoded with PyAV to mono float32 at the media sample rate and trimmed of leading and
trailing silence, so an annotated event covers audible sound.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uniav.synth.vocab import label_from_folder

AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".oga", ".m4a", ".aac", ".opus", ".webm"})
SILENCE_DB = -40.0  # frames this far below the loudest frame count as silence


@dataclass(frozen=True, eq=False)
class Recording:
    """One decoded file: its label, path, samples (mono float32) and main frequency band (Hz)."""

    label: str
    path: Path
    samples: np.ndarray
    band: tuple[float, float]


def decode_audio(path: Path, sample_rate: int) -> np.ndarray:
    """All audio of `path` as mono float32 at `sample_rate` (PyAV); ValueError if it has none."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise ValueError(f"sound file {path}: cannot be opened as media ({exc})") from exc
    with container:
        if not container.streams.audio:
            raise ValueError(f"sound file {path}: has no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        parts: list[np.ndarray] = []
        try:
            for frame in container.decode(audio=0):
                parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        except av.FFmpegError as exc:
            raise ValueError(f"sound file {path}: decoding failed ({exc})") from exc
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    if not parts:
        raise ValueError(f"sound file {path}: no audio could be decoded")
    return np.concatenate(parts).astype(np.float32)


def loud_span(x: np.ndarray, sample_rate: int, floor_db: float = SILENCE_DB) -> tuple[int, int]:
    """[first, last) samples of x between the first and last 10-ms frame within `floor_db` of the loudest."""
    hop = max(sample_rate // 100, 1)
    m = max(len(x) // hop, 1)
    e = (np.pad(x, (0, max(m * hop - len(x), 0)))[: m * hop].reshape(m, hop).astype(np.float64) ** 2).mean(1)
    if e.max() <= 0:
        return 0, 0
    loud = np.flatnonzero(e >= e.max() * 10.0 ** (floor_db / 10.0))
    return int(loud[0] * hop), int(min((loud[-1] + 1) * hop, len(x)))


def energy_band(x: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """The band (Hz) holding the middle 80 % of x's spectral energy (10th to 90th percentile)."""
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    cum = np.cumsum(power) / max(power.sum(), 1e-20)
    f = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    return float(f[np.searchsorted(cum, 0.1)]), float(f[min(np.searchsorted(cum, 0.9), len(f) - 1)])


def load_recordings(folder: Path, sample_rate: int) -> dict[str, tuple[Recording, ...]]:
    """Label -> its recordings, for each sub-folder of `folder` (labels sorted; files sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"sounds folder {folder} does not exist")
    bank: dict[str, tuple[Recording, ...]] = {}
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir())
    if not subdirs:
        raise ValueError(f"sounds folder {folder} has no sub-folders (one per label expected)")
    for sub in subdirs:
        label = label_from_folder(sub.name)
        files = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise ValueError(f"sounds folder {sub} has no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
        if label in bank:
            raise ValueError(f"sound folders give the label {label!r} twice (e.g. {sub.name})")
        clips = []
        for path in files:
            x = decode_audio(path, sample_rate)
            a, b = loud_span(x, sample_rate)
            if b - a < sample_rate // 20:
                raise ValueError(f"sound file {path}: less than 50 ms of sound")
            x = x[a:b]
            clips.append(Recording(label, path, x, energy_band(x, sample_rate)))
        bank[label] = tuple(clips)
    return bank
