"""Typed configuration of UniAV-Sounds: where to read, what to make, and each sub-dataset's statistics.

The defaults are sized for the whole recipe (UniAV-Sounds + UniAV-Synth TAL, pretrained features,
training) to fit in under an hour on 2 CPU cores; `benchmarks/bench_sounds.py` measures them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from uniav.sounds.envelope import EnvelopeSpec
from uniav.sounds.splits import HELD_OUT_CLASSES, Shares
from uniav.synth.config import MediaSpec

GENERATOR_VERSION = "uniav-sounds-2"
SHARED_ENV = "UNIAV_SHARED"


def shared_folder(name: str) -> Path:
    """`$UNIAV_SHARED/<name>`, else `<checkout>/../shared/<name>` (where this project's data lives)."""
    root = os.environ.get(SHARED_ENV)
    return (Path(root) if root else Path(__file__).resolve().parents[3] / "shared") / name


def media_224() -> MediaSpec:
    """224 x 224 frames: what ImageNet encoders (EfficientNet-Lite0, CLIP) take, so a picture is
    neither squashed nor cropped away, and a source picture half the frame high or more stays
    recognisable (at 160 x 120 fewer events are: 5 of 29 pictures in the top 3 against 9 of 29)."""
    return MediaSpec(width=224, height=224)


def _range(name: str, r: tuple[float, float], lo: float = 0.0) -> None:
    if not lo <= r[0] <= r[1]:
        raise ValueError(f"{name} {r} must be an interval with both ends >= {lo}")


@dataclass(frozen=True)
class VisualShares:
    """How often a SED clip shows a plain still frame, a drifting synthetic scene, or a scene with
    pictures unrelated to its sounds (SED must not learn to rely on the picture)."""

    plain: float = 0.3
    scene: float = 0.3
    pictures: float = 0.4

    def as_tuple(self) -> tuple[float, float, float]:
        v = (self.plain, self.scene, self.pictures)
        if min(v) < 0 or sum(v) <= 0:
            raise ValueError(f"visual shares {v} must be non-negative and not all zero")
        return tuple(x / sum(v) for x in v)


@dataclass(frozen=True)
class SedSpec:
    """SED clips, DESED style: 10-s soundscapes of `events` sounds on a bed, at most
    `max_polyphony` at once, each `snr_db` over the bed (RMS of its active part over the bed's RMS);
    plus a share of isolated recordings (`isolated_share`) as long as the recording plus
    `isolated_pad` on each side (at least `isolated_min_duration` s: users run recordings as short as a
    third of a second, trimmed of their silence), on no bed or a faint one (`isolated_snr_db` under it).

    `fit_probability`: chance that an event that fits is placed whole (otherwise it may start late
    and is cut at a quiet point before the end). `nontarget_probability`: chance of one
    unannotated small-class sound. `bridge`: gaps (s) shorter than this inside one recording's
    activity are bridged.
    """

    duration: float = 10.0
    events: tuple[int, int] = (1, 4)
    max_polyphony: int = 2
    snr_db: tuple[float, float] = (0.0, 20.0)
    bed_dbfs: tuple[float, float] = (-40.0, -28.0)
    isolated_share: float = 0.4
    isolated_pad: tuple[float, float] = (0.0, 0.5)
    isolated_min_duration: float = 0.25
    isolated_bed_probability: float = 0.5
    isolated_snr_db: tuple[float, float] = (25.0, 40.0)
    fit_probability: float = 0.8
    nontarget_probability: float = 0.2
    bridge: float = 0.3
    visuals: VisualShares = field(default_factory=VisualShares)
    pictures: tuple[int, int] = (1, 3)  # unrelated pictures in a "pictures" clip

    def __post_init__(self) -> None:
        if self.duration < 1.0:
            raise ValueError(f"SED clips must last at least 1 s, got {self.duration}")
        if not 1 <= self.events[0] <= self.events[1] or self.max_polyphony < 1:
            raise ValueError(f"SED events {self.events} must be a range from 1; max_polyphony >= 1")
        _range("SED snr_db", self.snr_db, -30.0)
        _range("SED isolated_pad", self.isolated_pad)
        if not 0 <= self.isolated_share <= 1:
            raise ValueError(f"isolated_share {self.isolated_share} must be in [0, 1]")
        self.visuals.as_tuple()


@dataclass(frozen=True)
class AvelSpec:
    """AVEL clips (UnAV-100 style): `duration` s, `events` audio-visual events and `negatives`
    unannotated pairs only both modalities tell apart (a source picture without its sound, a sound
    without its picture, a sound shown with another class's picture).

    An event chains `takes` recordings of its class `take_gap` s apart; its picture (longest side
    `picture_size` of the frame height) is visible exactly while its sound is active (gaps under
    `bridge` s bridged), drifting at up to `max_speed` px/s. At most `max_polyphony` sounds and
    `max_on_screen` source pictures at once. `backdrop_probability`: chance of a large unrelated
    picture (a house, a tree...) over the synthetic scene; `clutter`: small unrelated pictures.
    `negative_span`: how long a picture without sound is shown (s).

    Sizes and clutter were set with EfficientNet-Lite0 on rendered frames (mid-event, 224 x 224):
    the class is in the ImageNet top 5 for 47 % of events with pictures 35-60 % of the frame
    height and up to 2 clutter pictures, 69 % with 50-80 % and at most one.
    """

    duration: tuple[float, float] = (10.0, 30.0)
    events: tuple[int, int] = (1, 3)
    negatives: tuple[int, int] = (0, 3)
    takes: tuple[int, int] = (1, 3)
    take_gap: tuple[float, float] = (0.1, 0.6)
    snr_db: tuple[float, float] = (0.0, 20.0)
    bed_dbfs: tuple[float, float] = (-40.0, -28.0)
    bridge: float = 1.0
    picture_size: tuple[float, float] = (0.5, 0.8)
    max_speed: float = 12.0
    max_polyphony: int = 2
    max_on_screen: int = 2
    backdrop_probability: float = 0.3
    clutter: tuple[int, int] = (0, 1)
    negative_span: tuple[float, float] = (1.0, 5.0)
    margin: float = 0.5  # s kept between a class's sound and a picture of it that is not its own

    def __post_init__(self) -> None:
        _range("AVEL duration", self.duration, 2.0)
        if not 1 <= self.events[0] <= self.events[1] or not 0 <= self.negatives[0] <= self.negatives[1]:
            raise ValueError(f"AVEL events {self.events} / negatives {self.negatives} must be ranges")
        if not 1 <= self.takes[0] <= self.takes[1]:
            raise ValueError(f"AVEL takes {self.takes} must be a range from 1")
        _range("AVEL picture_size", self.picture_size, 0.05)
        if self.picture_size[1] > 1:
            raise ValueError("AVEL picture_size must be at most 1 (the frame height)")
        _range("AVEL snr_db", self.snr_db, -30.0)


@dataclass(frozen=True)
class SoundsConfig:
    """What `uniav sounds` makes under `root`: `sed` and `avel` clips of the seen classes (split
    into training / validation / testing by `shares`), `zeroshot_sed` and `zeroshot_avel` test
    clips of the held-out classes, all drawn from `seed`."""

    root: Path
    seed: int = 0
    sed: int = 800
    avel: int = 300
    zeroshot_sed: int = 100
    zeroshot_avel: int = 60
    realsounds: Path = field(default_factory=lambda: shared_folder("realsounds"))
    realpictures: Path = field(default_factory=lambda: shared_folder("realpictures"))
    media: MediaSpec = field(default_factory=media_224)
    shares: Shares = field(default_factory=Shares)
    envelope: EnvelopeSpec = field(default_factory=EnvelopeSpec)
    sed_spec: SedSpec = field(default_factory=SedSpec)
    avel_spec: AvelSpec = field(default_factory=AvelSpec)
    held_out: tuple[str, ...] = HELD_OUT_CLASSES

    def __post_init__(self) -> None:
        for name in ("sed", "avel", "zeroshot_sed", "zeroshot_avel"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")
        if self.sed + self.avel + self.zeroshot_sed + self.zeroshot_avel == 0:
            raise ValueError("nothing to make: all clip counts are 0")
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "realsounds", Path(self.realsounds))
        object.__setattr__(self, "realpictures", Path(self.realpictures))
