"""UniAV-Synth: a procedural audio-visual benchmark for the three tasks (TAL, AVEL, SED).

Modules, one job each: `vocab` (classes per sub-dataset), `config` (media format and dataset
statistics), `schedule` (drawing a video's plan from its seed), `plan` (the plan's types),
`canvas` / `visuals` (vectorised drawing), `sounds` (vectorised synthesis), `recordings` (real
sounds from `--sounds`), `render` (plan -> pixels and samples), `writer` (MP4 with PyAV),
`dataset` (the whole benchmark on disk) and `stats` (durations and pyramid levels).
"""

from uniav.synth.config import DEFAULT_SPECS, KindSpec, MediaSpec, SynthConfig
from uniav.synth.dataset import KindOutput, annotation_database, generate, plan_dataset, render_video
from uniav.synth.plan import PlannedEvent, SoundEvent, VideoPlan, VisualEvent
from uniav.synth.render import iter_frames, render_audio
from uniav.synth.schedule import Planner, SynthVocabulary, vocabulary
from uniav.synth.vocab import CLASSES, Kind, SynthClass

__all__ = [
    "CLASSES",
    "DEFAULT_SPECS",
    "Kind",
    "KindOutput",
    "KindSpec",
    "MediaSpec",
    "PlannedEvent",
    "Planner",
    "SoundEvent",
    "SynthClass",
    "SynthConfig",
    "VideoPlan",
    "VisualEvent",
    "SynthVocabulary",
    "annotation_database",
    "generate",
    "iter_frames",
    "plan_dataset",
    "render_audio",
    "render_video",
    "vocabulary",
]
