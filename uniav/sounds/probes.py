"""Single test clips as a user runs them, for acceptance tests (deterministic by seed).

* `evaluation_recordings(config)`: the testing-subset recordings of the main classes, each a real file
  with its label: run `uniav predict --tasks sed` on each and compare with its label.
* `render_avel_probe(config, kind, path)`: one short AVEL clip from testing material holding a
  single item of `kind` (an audio-visual event, a picture without its sound, a sound without its
  picture, or a sound shown with another class's picture), written to `path`; returns its truth
  (the AVEL segments a perfect model finds: the event's segments, none for the negatives).

Both depend on `config.seed` (it decides the splits) and read the data folders in `config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from uniav.sounds.avel import AvelPlanner
from uniav.sounds.config import SoundsConfig
from uniav.sounds.dataset import load_sources, render_clip
from uniav.sounds.plan import ClipItem, ClipPlan, Role
from uniav.sounds.splits import TESTING

PROBE_CODE = 31


class ProbeKind(Enum):
    """The single item of an AVEL probe clip."""

    AV_EVENT = "av event"
    PICTURE_ONLY = "picture only"
    SOUND_ONLY = "sound only"
    MISMATCH = "mismatch"

    @property
    def role(self) -> Role:
        return {
            ProbeKind.AV_EVENT: Role.EVENT,
            ProbeKind.PICTURE_ONLY: Role.PICTURE_ONLY,
            ProbeKind.SOUND_ONLY: Role.SOUND_ONLY,
            ProbeKind.MISMATCH: Role.MISMATCH,
        }[self]


@dataclass(frozen=True)
class ProbeRecording:
    """One testing-subset recording: absolute `path`, `file` (relative to realsounds), class, label,
    whether the class is held out (zero-shot), its source group and duration (s)."""

    path: Path
    file: str
    class_name: str
    label: str
    held_out: bool
    group: str
    duration: float


@dataclass(frozen=True)
class ProbeTruth:
    """What a probe clip holds. `annotations`: the AVEL ground truth (start, end, label), empty for
    negatives; `sound_segments` / `picture_segments` (s): when its sound is active and its picture
    drawn (frame spans), empty for the missing modality; `plan`: the full plan."""

    path: Path
    kind: ProbeKind
    duration: float
    sound_class: str | None
    picture_class: str | None
    annotations: tuple[tuple[float, float, str], ...]
    sound_segments: tuple[tuple[float, float], ...]
    picture_segments: tuple[tuple[float, float], ...]
    plan: ClipPlan


def evaluation_recordings(config: SoundsConfig, held_out: bool | None = None) -> tuple[ProbeRecording, ...]:
    """The main-class recordings of the testing subset, sorted by class then file; `held_out`
    True / False keeps only the held-out / seen classes."""
    src = load_sources(config)
    held = set(src.splits.held_out)
    out = []
    for r in src.catalog.recordings:
        if src.splits.sounds.get(r.file) != TESTING:
            continue
        is_held = r.class_name in held
        if held_out is not None and is_held != held_out:
            continue
        out.append(
            ProbeRecording(
                config.realsounds / r.file,
                r.file,
                r.class_name,
                r.label,
                is_held,
                src.splits.groups[r.file],
                r.duration,
            )
        )
    return tuple(sorted(out, key=lambda t: (t.class_name, t.file)))


def _truth(path: Path, kind: ProbeKind, plan: ClipPlan, item: ClipItem) -> ProbeTruth:
    fps = plan.fps
    picture = tuple((a / fps, b / fps) for a, b in item.sprite.frames) if item.sprite else ()
    sound = item.segments if item.takes else ()
    annotations = tuple((s, e, item.label) for s, e in item.segments) if item.annotated else ()
    return ProbeTruth(
        Path(path),
        kind,
        plan.duration,
        item.class_name if item.takes else None,
        item.picture_class,
        annotations,
        sound,
        picture,
        plan,
    )


def plan_avel_probe(
    config: SoundsConfig, kind: ProbeKind, index: int = 0, duration: float = 10.0, zeroshot: bool = False
) -> tuple[ClipPlan, ClipItem]:
    """The plan of probe `index` of `kind` (seen classes, or held-out ones with `zeroshot`) and its item."""
    src = load_sources(config)
    part = "avel_zeroshot" if zeroshot else "avel"
    planner = AvelPlanner(src.context, config.avel_spec, src.vocabularies[part])
    rng = np.random.default_rng([config.seed, PROBE_CODE, index, list(ProbeKind).index(kind), int(zeroshot)])
    vid = f"rs_probe_{kind.name.lower()}_{index:03d}"
    plan = planner.plan(vid, TESTING, src.pool(TESTING, zeroshot), rng, only=kind.role, duration=duration)
    [item] = [i for i in plan.items if i.role is kind.role]
    return plan, item


def render_avel_probe(
    config: SoundsConfig,
    kind: ProbeKind,
    path: Path,
    index: int = 0,
    duration: float = 10.0,
    zeroshot: bool = False,
) -> ProbeTruth:
    """Render probe `index` of `kind` to `path` (MP4, the benchmark's format) and return its truth."""
    plan, item = plan_avel_probe(config, kind, index, duration, zeroshot)
    render_clip(plan, Path(path), config.media, config.realsounds, config.realpictures)
    return _truth(Path(path), kind, plan, item)
