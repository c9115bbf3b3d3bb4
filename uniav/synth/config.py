"""Typed configuration of UniAV-Synth: the media format and each sub-dataset's statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from uniav.synth.vocab import Kind

SUBSETS = ("training", "validation", "testing")


@dataclass(frozen=True)
class MediaSpec:
    """The files written: H.264 video (yuv420p) + AAC audio (mono) in MP4.

    160 x 120 keeps rendering and encoding fast (about 5 ms a frame all told) while objects of
    10-40 pixels stay sharp after compression and fill several cells of a coarse spatial grid.
    """

    width: int = 160
    height: int = 120
    fps: int = 16
    sample_rate: int = 16000
    crf: int = 23
    preset: str = "veryfast"
    audio_bitrate: int = 64000
    keyframe_interval: int = 32
    chunk_frames: int = 32  # frames rendered together (memory: chunk x H x W x 3 float32)

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 48 or self.width % 4 or self.height % 4:
            raise ValueError(f"frame size {self.width}x{self.height}: need at least 64x48, multiples of 4")
        if self.fps < 1 or self.sample_rate < 8000 or self.sample_rate % self.fps:
            raise ValueError(
                f"fps {self.fps} / sample rate {self.sample_rate}: need fps >= 1, rate >= 8000 Hz "
                "and a whole number of samples per frame"
            )
        if self.chunk_frames < 1:
            raise ValueError("chunk_frames must be at least 1")

    @property
    def samples_per_frame(self) -> int:
        return self.sample_rate // self.fps


@dataclass(frozen=True)
class KindSpec:
    """Statistics of one sub-dataset.

    `duration`: video length range (s). `events`: annotated events per video (inclusive range).
    `distractors`: unannotated one-modality events per video (AVEL). `min_event` (s) and
    `max_event_fraction` (of the video) bound event lengths drawn log-uniformly, for classes
    without their own length range. `snr_db`: event level over the background noise.
    `jitter_px`: camera shake amplitude; `drift_px_s`: top speed of the moving background.
    `idle_probability` / `idle_pad`: chance that an object is on screen, still, before and after it
    acts, and for how long (s). `max_polyphony`: most sounds at once (SED). `scenery`: drifting
    blobs unrelated to the events (SED pictures).
    """

    duration: tuple[float, float]
    events: tuple[int, int]
    distractors: tuple[int, int] = (0, 0)
    min_event: float = 0.4
    max_event_fraction: float = 0.9
    snr_db: tuple[float, float] = (8.0, 22.0)
    jitter_px: float = 1.0
    drift_px_s: float = 6.0
    idle_probability: float = 0.5
    idle_pad: tuple[float, float] = (0.5, 3.0)
    max_polyphony: int = 3
    scenery: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        lo, hi = self.duration
        if not 0 < lo <= hi:
            raise ValueError(f"video duration range {self.duration} is not a positive interval")
        if not 0 <= self.events[0] <= self.events[1] or not 0 <= self.distractors[0] <= self.distractors[1]:
            raise ValueError(f"event counts {self.events} / {self.distractors} are not ranges")
        if not 0 < self.max_event_fraction <= 1 or self.min_event <= 0:
            raise ValueError("event lengths need min_event > 0 and 0 < max_event_fraction <= 1")


DEFAULT_SPECS: dict[Kind, KindSpec] = {
    Kind.TAL: KindSpec(
        duration=(30.0, 180.0),
        events=(1, 3),
        min_event=2.0,
        max_event_fraction=0.85,
        jitter_px=1.0,
        drift_px_s=8.0,
        idle_probability=0.7,
        idle_pad=(0.5, 5.0),
    ),
    Kind.AVEL: KindSpec(
        duration=(10.0, 60.0),
        events=(1, 4),
        distractors=(1, 2),
        min_event=0.4,
        max_event_fraction=0.9,
        snr_db=(10.0, 24.0),
        jitter_px=1.0,
        drift_px_s=4.0,
    ),
    Kind.SED: KindSpec(
        duration=(10.0, 10.0),
        events=(2, 6),
        snr_db=(8.0, 26.0),
        jitter_px=0.8,
        drift_px_s=6.0,
        scenery=(1, 3),
    ),
}


@dataclass(frozen=True)
class SynthConfig:
    """What `uniav synth` makes: `videos` per sub-dataset of `kinds`, all drawn from `seed`.

    `split` gives the shares of the training / validation / testing subsets; `sounds_dir` an
    optional folder of real recordings (one sub-folder per label) mixed into the SED clips.
    """

    seed: int = 0
    videos: int = 100
    kinds: tuple[Kind, ...] = (Kind.TAL, Kind.AVEL, Kind.SED)
    media: MediaSpec = field(default_factory=MediaSpec)
    specs: dict[Kind, KindSpec] = field(default_factory=lambda: dict(DEFAULT_SPECS))
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    sounds_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.videos < 1:
            raise ValueError(f"--videos must be at least 1, got {self.videos}")
        if not self.kinds or len(set(self.kinds)) != len(self.kinds):
            raise ValueError(f"kinds {self.kinds}: give each of tal, avel, sed at most once")
        missing = [k.value for k in self.kinds if k not in self.specs]
        if missing:
            raise ValueError(f"no KindSpec for {missing}")
        if len(self.split) != 3 or min(self.split) < 0 or sum(self.split) <= 0:
            raise ValueError(f"split {self.split} must be three non-negative shares")

    def spec(self, kind: Kind) -> KindSpec:
        return self.specs[kind]
