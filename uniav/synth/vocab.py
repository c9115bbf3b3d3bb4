"""The classes of UniAV-Synth: which picture and which sound make each label, per sub-dataset.

Each class ties a natural-phrase label to a visual pattern (how an object looks and moves),
a timbre (how it sounds) and, for events whose picture and sound are synchronized, a beat rule
(the instants of impacts, flashes, strikes...). TAL classes are seen only, SED classes heard
only, AVEL classes both. Vocabularies overlap partly across the three sub-datasets (e.g.
"bouncing ball" is a TAL and an AVEL class, "door knock" an AVEL and a SED class), and a shared
label uses the same generator everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class Kind(StrEnum):
    """The three sub-datasets, named by the task they mimic."""

    TAL = "tal"
    AVEL = "avel"
    SED = "sed"

    @property
    def task(self) -> str:
        return self.name


class VisualPattern(Enum):
    """How an object looks and moves (see `uniav.synth.visuals`)."""

    BOUNCE = "bounce"
    SPIN = "spin"
    SLIDE = "slide"
    BLINK = "blink"
    INFLATE = "inflate"
    SWING = "swing"
    ORBIT = "orbit"
    WAVE = "wave"
    ROLL = "roll"
    BUBBLES = "bubbles"
    FLASH = "flash"
    SHAKE = "shake"
    KNOCK = "knock"
    SIREN = "siren"
    BELL = "bell"
    HAMMER = "hammer"
    BIRD = "bird"
    FIREWORK = "firework"
    DRIP = "drip"
    WANDER = "wander"  # a slowly drifting blob: scenery, never annotated


class Timbre(Enum):
    """How a sound is synthesized (see `uniav.synth.sounds`)."""

    THUD = "thud"
    BEEP = "beep"
    RUMBLE = "rumble"
    KNOCK = "knock"
    SIREN = "siren"
    BELL = "bell"
    CLINK = "clink"
    CHIRP = "chirp"
    BANG = "bang"
    PLOP = "plop"
    ALARM = "alarm"
    DRUM = "drum"
    BUZZ = "buzz"
    HISS = "hiss"
    TICK = "tick"
    WHISTLE = "whistle"
    RECORDING = "recording"


@dataclass(frozen=True)
class BeatRule:
    """Instants of a rhythmic event: beats `period` apart (s, drawn per event) with relative `jitter`,
    in groups of `group` beats separated by `group_gap` seconds (groups of 1: a plain pulse train)."""

    period: tuple[float, float]
    jitter: float = 0.0
    group: tuple[int, int] = (1, 1)
    group_gap: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class SynthClass:
    """One label: its picture (or None), its sound (or None), its beats and its usual length.

    `hue` (turns) is the class's base colour; `duration` the range of event lengths in seconds
    (None: the sub-dataset's default range); `band` the frequency range in Hz holding most of
    the sound's energy (None for silent classes).
    """

    label: str
    visual: VisualPattern | None
    timbre: Timbre | None
    hue: float = 0.0
    beats: BeatRule | None = None
    duration: tuple[float, float] | None = None
    band: tuple[float, float] | None = None


# Shared beat rules and bands: a label shared by two sub-datasets uses the same generator.
BOUNCE_BEATS = BeatRule(period=(0.45, 0.9))
KNOCK_BEATS = BeatRule(period=(0.14, 0.2), jitter=0.05, group=(2, 4), group_gap=(0.3, 0.8))
CHIRP_BEATS = BeatRule(period=(0.09, 0.13), jitter=0.05, group=(2, 6), group_gap=(0.2, 0.5))
BANDS = {
    Timbre.THUD: (40.0, 400.0),
    Timbre.BEEP: (1700.0, 2900.0),
    Timbre.RUMBLE: (20.0, 260.0),
    Timbre.KNOCK: (150.0, 1300.0),
    Timbre.SIREN: (450.0, 1700.0),
    Timbre.BELL: (350.0, 3200.0),
    Timbre.CLINK: (2600.0, 6200.0),
    Timbre.CHIRP: (2300.0, 6000.0),
    Timbre.BANG: (80.0, 2500.0),
    Timbre.PLOP: (500.0, 1700.0),
    Timbre.ALARM: (850.0, 1400.0),
    Timbre.DRUM: (35.0, 260.0),
    Timbre.BUZZ: (90.0, 2000.0),
    Timbre.HISS: (3300.0, 7200.0),
    Timbre.TICK: (1800.0, 6500.0),
    Timbre.WHISTLE: (2350.0, 3500.0),
}

TAL_CLASSES: tuple[SynthClass, ...] = (
    SynthClass("bouncing ball", VisualPattern.BOUNCE, None, hue=0.06, beats=BOUNCE_BEATS),
    SynthClass("spinning windmill", VisualPattern.SPIN, None, hue=0.60),
    SynthClass("sliding box", VisualPattern.SLIDE, None, hue=0.33),
    SynthClass("blinking light", VisualPattern.BLINK, None, hue=0.15),
    SynthClass("inflating balloon", VisualPattern.INFLATE, None, hue=0.90),
    SynthClass("swinging pendulum", VisualPattern.SWING, None, hue=0.75),
    SynthClass("orbiting moon", VisualPattern.ORBIT, None, hue=0.50),
    SynthClass("waving flag", VisualPattern.WAVE, None, hue=0.99),
    SynthClass("rolling wheel", VisualPattern.ROLL, None, hue=0.03),
    SynthClass("rising bubbles", VisualPattern.BUBBLES, None, hue=0.55),
)

AVEL_CLASSES: tuple[SynthClass, ...] = (
    SynthClass(
        "bouncing ball", VisualPattern.BOUNCE, Timbre.THUD, hue=0.06, beats=BOUNCE_BEATS, band=BANDS[Timbre.THUD]
    ),
    SynthClass(
        "flashing alarm",
        VisualPattern.FLASH,
        Timbre.BEEP,
        hue=0.0,
        beats=BeatRule(period=(0.35, 0.8), jitter=0.05),
        band=BANDS[Timbre.BEEP],
    ),
    SynthClass("engine rumbling", VisualPattern.SHAKE, Timbre.RUMBLE, hue=0.60, band=BANDS[Timbre.RUMBLE]),
    SynthClass("door knock", VisualPattern.KNOCK, Timbre.KNOCK, hue=0.08, beats=KNOCK_BEATS, band=BANDS[Timbre.KNOCK]),
    SynthClass("siren wail", VisualPattern.SIREN, Timbre.SIREN, hue=0.62, band=BANDS[Timbre.SIREN]),
    SynthClass(
        "bell ringing",
        VisualPattern.BELL,
        Timbre.BELL,
        hue=0.13,
        beats=BeatRule(period=(0.55, 0.9)),
        band=BANDS[Timbre.BELL],
    ),
    SynthClass(
        "hammering nails",
        VisualPattern.HAMMER,
        Timbre.CLINK,
        hue=0.58,
        beats=BeatRule(period=(0.35, 0.7), jitter=0.05),
        band=BANDS[Timbre.CLINK],
    ),
    SynthClass(
        "bird chirping", VisualPattern.BIRD, Timbre.CHIRP, hue=0.22, beats=CHIRP_BEATS, band=BANDS[Timbre.CHIRP]
    ),
    SynthClass(
        "fireworks banging",
        VisualPattern.FIREWORK,
        Timbre.BANG,
        hue=0.85,
        beats=BeatRule(period=(0.55, 1.4), jitter=0.3),
        band=BANDS[Timbre.BANG],
    ),
    SynthClass(
        "water dripping",
        VisualPattern.DRIP,
        Timbre.PLOP,
        hue=0.57,
        beats=BeatRule(period=(0.5, 1.1), jitter=0.1),
        band=BANDS[Timbre.PLOP],
    ),
)

SED_CLASSES: tuple[SynthClass, ...] = (
    SynthClass(
        "alarm beep",
        None,
        Timbre.ALARM,
        beats=BeatRule(period=(0.16, 0.34)),
        duration=(0.3, 3.0),
        band=BANDS[Timbre.ALARM],
    ),
    SynthClass("bird chirping", None, Timbre.CHIRP, beats=CHIRP_BEATS, duration=(0.2, 2.5), band=BANDS[Timbre.CHIRP]),
    SynthClass("siren wail", None, Timbre.SIREN, duration=(1.0, 8.0), band=BANDS[Timbre.SIREN]),
    SynthClass("door knock", None, Timbre.KNOCK, beats=KNOCK_BEATS, duration=(0.3, 2.5), band=BANDS[Timbre.KNOCK]),
    SynthClass("drum hit", None, Timbre.DRUM, duration=(0.12, 0.5), band=BANDS[Timbre.DRUM]),
    SynthClass("electric buzz", None, Timbre.BUZZ, duration=(0.3, 8.0), band=BANDS[Timbre.BUZZ]),
    SynthClass("steam hiss", None, Timbre.HISS, duration=(0.2, 6.0), band=BANDS[Timbre.HISS]),
    SynthClass(
        "clock ticking",
        None,
        Timbre.TICK,
        beats=BeatRule(period=(0.16, 0.3)),
        duration=(0.5, 3.0),
        band=BANDS[Timbre.TICK],
    ),
    SynthClass("whistle blowing", None, Timbre.WHISTLE, duration=(0.3, 2.5), band=BANDS[Timbre.WHISTLE]),
    SynthClass("engine rumbling", None, Timbre.RUMBLE, duration=(1.0, 9.0), band=BANDS[Timbre.RUMBLE]),
)

CLASSES: dict[Kind, tuple[SynthClass, ...]] = {
    Kind.TAL: TAL_CLASSES,
    Kind.AVEL: AVEL_CLASSES,
    Kind.SED: SED_CLASSES,
}


def recording_class(label: str, band: tuple[float, float]) -> SynthClass:
    """A SED class made of real recordings (one `--sounds` sub-folder)."""
    return SynthClass(label, None, Timbre.RECORDING, duration=(0.1, 3.0), band=band)


def label_from_folder(name: str) -> str:
    """The label of a `--sounds` sub-folder: underscores and dashes become spaces, whitespace squeezed."""
    label = " ".join(name.replace("_", " ").replace("-", " ").split())
    if not label:
        raise ValueError(f"sound folder {name!r} gives an empty label")
    return label
