"""Typed training configuration, read from YAML (``uniav train CONFIG.yaml``).

Layout::

    model:                       # the network: a preset plus overrides (any ModelConfig field)
      preset: small
      encoder: {visual: signal, audio: signal, text: signal}   # or one kind of earlier releases: {kind: signal}
      overrides: {embd_dim: 128, head_dim: 128}
    tasks:                       # one entry per task trained; the vocabulary comes from the data
      TAL:
        annotations: data/synth/tal/annotations.json
        features: data/synth-features/tal          # features made by `uniav extract`
        media_dir: data/synth/tal/videos           # where to extract them from if missing
        batch_size: 16
        overrides: {max_seq_len: 256}              # any TaskConfig field
    synth: {root: data/synth, videos: 60, seed: 0, kinds: [tal]}   # optional: generate UniAV-Synth if missing
    sounds: {root: data/sounds, realsounds: ../shared/realsounds, realpictures: ../shared/realpictures}
                                 # optional: generate UniAV-Sounds (real recordings, pictures) if missing
    provenance:                  # optional: what each task is trained on, recorded with the model (shown to users)
      tasks: {TAL: {data: "UniAV-Synth synthetic actions", real: false}}
      note: "..."
    train:
      epochs: 5
      warmup_epochs: 2
      ...

Relative paths are resolved against the YAML file's folder.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from uniav.config import Provenance
from uniav.data.config import TaskDataConfig


class TrainConfigError(ValueError):
    """A training configuration that cannot be used (the message names the field)."""


@dataclass(frozen=True)
class SynthDataConfig:
    """Generate UniAV-Synth into `root` when its annotations are missing (only the sub-datasets `kinds`)."""

    root: str
    videos: int = 100
    seed: int = 0
    workers: int = 2
    kinds: tuple[str, ...] = ("tal", "avel", "sed")


@dataclass(frozen=True)
class SoundsDataConfig:
    """Generate UniAV-Sounds (real recordings and pictures) into `root` when its annotations are missing.

    `sed` / `avel`: clips of the seen classes (training / validation / testing); `zeroshot_sed` /
    `zeroshot_avel`: test clips of the held-out classes. `realsounds` / `realpictures`: the source folders
    (relative paths are resolved against the YAML file's folder)."""

    root: str
    realsounds: str
    realpictures: str
    seed: int = 0
    sed: int = 800
    avel: int = 300
    zeroshot_sed: int = 100
    zeroshot_avel: int = 60
    workers: int = 2
    held_out: tuple[str, ...] | None = None  # class folders kept out of training (None: UniAV-Sounds' 8)


@dataclass(frozen=True)
class StopAndGoConfig:
    enabled: bool = True
    patience: int = 1  # evaluations without improvement before a task is paused
    resume_after: int = 1  # evaluations a paused task waits before it resumes
    min_delta: float = 0.001  # improvement of validation average mAP that counts


@dataclass(frozen=True)
class OptimConfig:
    epochs: int = 5  # after warm-up
    warmup_epochs: int = 2
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    clip_grad_norm: float = 1.0
    ema_decay: float = 0.999
    seed: int = 1234567891
    eval_every: int = 1  # epochs
    crop_ratio: tuple[float, float] = (0.9, 1.0)
    iterations_per_epoch: int | None = None  # default: the largest task's batches per epoch
    log_every: int = 20  # iterations


@dataclass(frozen=True)
class ModelSection:
    preset: str = "small"
    # one part per modality, each a kind or {kind, options} (`EncoderSpec.from_dict`; {kind: signal} of earlier
    # releases still reads)
    encoder: dict[str, Any] = field(default_factory=lambda: {"visual": "signal", "audio": "signal", "text": "signal"})
    overrides: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = None  # a model folder / Hub id to start from (multi-task then single-task)


@dataclass(frozen=True)
class TrainConfig:
    model: ModelSection
    tasks: dict[str, TaskDataConfig]
    train: OptimConfig = field(default_factory=OptimConfig)
    stop_and_go: StopAndGoConfig = field(default_factory=StopAndGoConfig)
    synth: SynthDataConfig | None = None
    sounds: SoundsDataConfig | None = None
    provenance: Provenance = field(default_factory=Provenance)
    output: str = "runs/uniav"
    source: str | None = None  # the YAML file this came from

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(self.tasks)

    def select_tasks(self, names: list[str]) -> TrainConfig:
        """The same configuration restricted to `names` (case-insensitive), e.g. for single-task training."""
        lookup = {k.lower(): k for k in self.tasks}
        missing = [n for n in names if n.lower() not in lookup]
        if missing:
            raise TrainConfigError(f"tasks {missing} are not in the configuration (it has {list(self.tasks)})")
        keep = [lookup[n.lower()] for n in names]
        return dataclasses.replace(self, tasks={k: self.tasks[k] for k in keep})


def _build(cls, data: Any, where: str):
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise TrainConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise TrainConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(names)}")
    kw = {}
    for k, v in data.items():
        if isinstance(v, list) and k != "overrides":
            v = tuple(v)
        kw[k] = v
    try:
        return cls(**kw)
    except (TypeError, ValueError) as exc:
        raise TrainConfigError(f"{where}: {exc}") from exc


def _provenance(raw: Any) -> Provenance:
    if raw is None:
        return Provenance()
    if not isinstance(raw, dict):
        raise TrainConfigError(f"provenance: expected a mapping, got {type(raw).__name__}")
    try:
        return Provenance.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise TrainConfigError(f"provenance: {exc}") from exc


def _resolve(path: str | None, base: Path) -> str | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    return os.path.normpath(p if p.is_absolute() else (base / p))


def load_train_config(path: str | Path) -> TrainConfig:
    """Read and validate a training YAML file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training configuration not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise TrainConfigError(f"{path}: invalid YAML: {exc}") from exc
    return parse_train_config(raw or {}, base=path.parent, source=str(path))


def parse_train_config(raw: dict[str, Any], base: Path = Path("."), source: str | None = None) -> TrainConfig:
    known = {"model", "tasks", "train", "stop_and_go", "synth", "sounds", "provenance", "output"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise TrainConfigError(f"unknown top-level section(s) {unknown}; known: {sorted(known)}")
    if not raw.get("tasks"):
        raise TrainConfigError("the configuration has no tasks")
    model = _build(ModelSection, raw.get("model"), "model")
    if model.init_from is not None and Path(_resolve(model.init_from, base)).exists():
        model = dataclasses.replace(model, init_from=_resolve(model.init_from, base))  # else: a Hub repo id
    tasks = {}
    for name, spec in raw["tasks"].items():
        t = _build(TaskDataConfig, spec, f"tasks.{name}")
        t = dataclasses.replace(
            t,
            annotations=_resolve(t.annotations, base),
            features=_resolve(t.features, base),
            media_dir=_resolve(t.media_dir, base),
            prompt_embeddings=_resolve(t.prompt_embeddings, base),
        )
        tasks[str(name).upper()] = t
    train = _build(OptimConfig, raw.get("train"), "train")
    if len(train.crop_ratio) != 2:
        raise TrainConfigError("train.crop_ratio must be [low, high]")
    synth = None
    if raw.get("synth") is not None:
        synth = _build(SynthDataConfig, raw["synth"], "synth")
        synth = dataclasses.replace(synth, root=_resolve(synth.root, base))
    sounds = None
    if raw.get("sounds") is not None:
        sounds = _build(SoundsDataConfig, raw["sounds"], "sounds")
        sounds = dataclasses.replace(
            sounds,
            root=_resolve(sounds.root, base),
            realsounds=_resolve(sounds.realsounds, base),
            realpictures=_resolve(sounds.realpictures, base),
        )
    return TrainConfig(
        model=model,
        tasks=tasks,
        train=train,
        stop_and_go=_build(StopAndGoConfig, raw.get("stop_and_go"), "stop_and_go"),
        synth=synth,
        sounds=sounds,
        provenance=_provenance(raw.get("provenance")),
        output=_resolve(raw.get("output", "runs/uniav"), base),
        source=source,
    )
