"""The plan of one synthetic video: everything needed to render it, drawn from its seed.

Rendering is a pure function of a `VideoPlan`: every random choice (times, places, colours,
levels, noise seeds) is made while planning (`uniav.synth.schedule`), so the same plan always
gives the same pixels and samples, and removing one event from a plan changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from uniav.synth.canvas import Box
from uniav.synth.vocab import Kind, Timbre, VisualPattern


@dataclass(frozen=True)
class VisualEvent:
    """An object on screen.

    It is drawn from `show_from` to `show_to` (seconds) inside `slot`, moves (acts) from `start`
    to `end` and holds still before and after (its pose at `start` and `end`). `beats` are the
    instants that drive rhythmic patterns (impacts, flashes), `hold` the length of each beat's
    effect (e.g. a flash), `rate` the pattern's speed (Hz or cycles per second), `amp` (0.6-1)
    its motion amplitude and `size` its scale; `hue`, `sat`, `val` its colour.
    """

    pattern: VisualPattern
    slot: Box
    start: float
    end: float
    show_from: float
    show_to: float
    hue: float
    sat: float
    val: float
    size: float = 1.0
    rate: float = 1.0
    amp: float = 1.0
    hold: float = 0.0
    beats: tuple[float, ...] = ()
    seed: int = 0


@dataclass(frozen=True, eq=False)
class SoundEvent:
    """A sound from `start` to `end` (seconds) at RMS level `gain` (linear, of its loud part).

    `beats` are the onsets of rhythmic timbres (knocks, beeps...), `hold` the length of each
    beat's sound where it varies (beeps), `pitch` a frequency factor near 1, `rate` a
    timbre-specific speed (e.g. a siren's sweep period), `seed` the seed of its noise. A
    recording carries its samples (mono, at the media sample rate) in `samples`.
    """

    timbre: Timbre
    start: float
    end: float
    gain: float
    pitch: float = 1.0
    rate: float = 1.0
    hold: float = 0.0
    beats: tuple[float, ...] = ()
    seed: int = 0
    samples: np.ndarray | None = None


@dataclass(frozen=True)
class PlannedEvent:
    """One event of a video: its label, the span it covers and what is seen and heard.

    `label_id` is None for events that are not annotated (AVEL distractors, scenery).
    """

    label: str
    label_id: int | None
    start: float
    end: float
    visual: VisualEvent | None = None
    sound: SoundEvent | None = None

    @property
    def annotated(self) -> bool:
        return self.label_id is not None


class Backdrop(Enum):
    """The backdrop texture's style."""

    CLOUDS = "clouds"
    STRIPES = "stripes"
    TILES = "tiles"


@dataclass(frozen=True)
class Scene:
    """The backdrop: a periodic texture (its style, seed and look), its drift and the camera jitter."""

    style: Backdrop
    texture_seed: int
    hue_a: float
    hue_b: float
    saturation: float
    brightness: float
    contrast: float
    roughness: float
    scale: float
    stretch: float
    drift: tuple[float, float]  # pixels per second (x, y)
    jitter_px: float
    jitter_seed: int


@dataclass(frozen=True)
class Ambience:
    """The background sound: coloured noise at `noise_rms`, and (TAL) music-like tones at `music_rms`."""

    seed: int
    noise_rms: float
    noise_tilt: float  # spectral slope in dB per octave (0 white, -3 pink, -6 brown)
    music_rms: float = 0.0
    music_notes: int = 0


@dataclass(frozen=True)
class VideoPlan:
    """A whole video: id, sub-dataset, subset, length (a whole number of frames) and its contents."""

    video_id: str
    kind: Kind
    subset: str
    num_frames: int
    fps: int
    scene: Scene
    ambience: Ambience
    events: tuple[PlannedEvent, ...] = field(default_factory=tuple)

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def annotated_events(self) -> tuple[PlannedEvent, ...]:
        return tuple(e for e in self.events if e.annotated)

    def annotation_record(self) -> dict:
        """The authors' per-video record: subset, duration (s), fps, annotations (segments in s, 3 decimals)."""
        anns = sorted(self.annotated_events, key=lambda e: (e.start, e.end, e.label_id))
        return {
            "subset": self.subset,
            "duration": self.duration,  # a whole number of frames: exact in 4 decimals
            "fps": self.fps,
            "annotations": [
                {"segment": [round(e.start, 3), round(e.end, 3)], "label": e.label, "label_id": e.label_id}
                for e in anns
            ],
        }
