"""The plan of one UniAV-Sounds clip: which file slices are heard, which pictures are seen, and when.

Rendering is a pure function of a `ClipPlan` and the two data folders: every choice (files,
offsets, gains, positions, times) is made while planning, and the annotated segments are
computed then from the placed recordings' energy envelopes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from uniav.synth.plan import Scene
from uniav.synth.vocab import Kind


class Role(Enum):
    """What an item of a clip is."""

    EVENT = "event"  # annotated: a sound event (SED) or an audio-visual event (AVEL)
    NONTARGET = "non-target"  # SED: an unannotated small-class sound
    PICTURE_ONLY = "picture only"  # AVEL negative: a source picture while its sound is not heard
    SOUND_ONLY = "sound only"  # AVEL negative: a sound while no picture of its class is seen
    MISMATCH = "mismatch"  # AVEL negative: a sound shown, in sync, with another class's picture
    SCENERY = "scenery"  # a picture unrelated to the sounds (SED) or a backdrop / clutter (AVEL)


@dataclass(frozen=True)
class Take:
    """`length` samples of a realsounds `file` from sample `offset`, added at clip sample `at`, times `gain`."""

    file: str
    at: int
    offset: int
    length: int
    gain: float


@dataclass(frozen=True)
class Bed:
    """A background file looped back and forth (ping-pong, so without clicks) from sample `offset`, times `gain`."""

    file: str
    offset: int
    gain: float


@dataclass(frozen=True)
class Sprite:
    """A realpictures `file` drawn `width` x `height` px (mirrored or not) in the frames of
    `frames` ([first, last) ranges); its top-left corner moves linearly from `start` at time `t0`
    to `end` at `t1` (s), and stays put outside. It always lies wholly inside the frame."""

    file: str
    width: int
    height: int
    mirror: bool
    frames: tuple[tuple[int, int], ...]
    start: tuple[float, float]
    end: tuple[float, float]
    t0: float
    t1: float


@dataclass(frozen=True)
class ClipItem:
    """One thing in a clip. `class_name` is what is heard (or, with no takes, seen); `picture_class`
    what its sprite shows; `segments` (s) when it is active: the annotated segments of an EVENT
    (`label_id` set), the sound's active span or the picture's span of an unannotated item."""

    role: Role
    class_name: str
    label: str
    label_id: int | None
    segments: tuple[tuple[float, float], ...]
    takes: tuple[Take, ...] = ()
    sprite: Sprite | None = None
    picture_class: str | None = None

    @property
    def annotated(self) -> bool:
        return self.label_id is not None


@dataclass(frozen=True)
class Backdrop:
    """The picture behind everything: a still uniform `colour` (RGB in [0, 1]) or a synthetic `scene`."""

    colour: tuple[float, float, float] | None = None
    scene: Scene | None = None

    def __post_init__(self) -> None:
        if (self.colour is None) == (self.scene is None):
            raise ValueError("a backdrop is either a colour or a scene")


@dataclass(frozen=True)
class ClipPlan:
    """A whole clip: id, task, subset, length (whole frames) and contents, drawn in order."""

    video_id: str
    kind: Kind
    subset: str
    num_frames: int
    fps: int
    sample_rate: int
    backdrop: Backdrop
    bed: Bed | None
    items: tuple[ClipItem, ...] = field(default_factory=tuple)
    isolated: bool = False

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def num_samples(self) -> int:
        return self.num_frames * (self.sample_rate // self.fps)

    @property
    def events(self) -> tuple[ClipItem, ...]:
        return tuple(i for i in self.items if i.annotated)

    def files(self) -> set[str]:
        """Every realsounds and realpictures file the clip uses."""
        out = {t.file for i in self.items for t in i.takes} | {i.sprite.file for i in self.items if i.sprite}
        return out | ({self.bed.file} if self.bed else set())

    def annotation_record(self) -> dict:
        """The authors' per-video record: subset, duration (s), fps, annotations (one per segment, 3 decimals)."""
        anns = sorted((s, e, i.label_id, i.label) for i in self.events for s, e in i.segments)
        return {
            "subset": self.subset,
            "duration": self.duration,
            "fps": self.fps,
            "annotations": [
                {"segment": [round(s, 3), round(e, 3)], "label": lab, "label_id": lid} for s, e, lid, lab in anns
            ],
        }
