"""UniAV-Sounds: SED and AVEL clips made of real recordings and real pictures (deterministic by seed).

Modules, one job each: `sources` (a recording's source group), `catalog` (the CSVs as records),
`picture_map` (+ `picture_map.toml`: which pictures show which sound class), `splits` (training /
validation / testing by source, held-out classes), `pools` (one subset's material, the
vocabularies), `envelope` (when a recording is audible), `mixing` (levels, cuts, activity),
`timeline` (keeping sounds and pictures apart), `layout` (picture sizes, paths, frames),
`scenery` (backdrops, unrelated pictures), `context` (what planners share), `sed` / `avel` (the
planners), `plan` (their types), `media` (decoding), `render` (plan -> samples and pixels),
`benchmark` (what is planned), `dataset` (the whole benchmark on disk), `probes` (single test
clips), `readme` (README and licence note). The MP4 writer, the synthetic backdrops and the
annotation writer are UniAV-Synth's.

    from uniav.sounds import SoundsConfig, generate
    out = generate(SoundsConfig(root="data/uniav-sounds", seed=0, sed=800, avel=300), workers=2)
"""

from uniav.sounds.benchmark import Benchmark
from uniav.sounds.config import AvelSpec, SedSpec, SoundsConfig, VisualShares
from uniav.sounds.dataset import SoundsOutput, generate, plan_benchmark, render_clip
from uniav.sounds.envelope import EnvelopeSpec
from uniav.sounds.plan import ClipItem, ClipPlan, Role
from uniav.sounds.probes import ProbeKind, ProbeRecording, ProbeTruth, evaluation_recordings, render_avel_probe
from uniav.sounds.splits import HELD_OUT_CLASSES, Shares

__all__ = [
    "HELD_OUT_CLASSES",
    "AvelSpec",
    "Benchmark",
    "ClipItem",
    "ClipPlan",
    "EnvelopeSpec",
    "ProbeKind",
    "ProbeRecording",
    "ProbeTruth",
    "Role",
    "SedSpec",
    "Shares",
    "SoundsConfig",
    "SoundsOutput",
    "VisualShares",
    "generate",
    "plan_benchmark",
    "render_avel_probe",
    "render_clip",
    "evaluation_recordings",
]
