"""Typed configuration of a UniAV model and of the tasks it serves.

`ModelConfig` holds everything that shapes the network and its decoding; each `TaskConfig`
holds one task's vocabulary, prompt template, sequence regime and loss/decoding settings.
Task experts, regression heads and text prompts are keyed by task *name* (``"TAL"``,
``"AVEL"``, ``"SED"`` or any name a user picks), never by position.

Presets: ``paper`` reproduces the authors' release (ONE-PEACE 1536-d features, D=512, 4 heads,
arch (2, 3, 5), ActivityNet-200 / UnAV-100 / DESED-10 vocabularies); ``small`` is a CPU-sized
model with the same structure.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from uniav.vocabularies import load_vocabulary

TASK_NAMES = ("TAL", "AVEL", "SED")

DEFAULT_TEMPLATES = {
    "TAL": "A visual event of {label}.",
    "AVEL": "An audio visual event of {label}.",
    "SED": "A sound event of {label}.",
}


class NmsMethod(StrEnum):
    SOFT = "soft"
    HARD = "hard"
    NONE = "none"


class ClassifierKind(StrEnum):
    """Language-aware head (cosine to prompt embeddings) or per-task convolutional classifiers."""

    LANGUAGE = "language"
    CONV = "conv"


class RegressionLoss(StrEnum):
    DIOU = "diou"
    GIOU = "giou"


@dataclass(frozen=True)
class DecodeConfig:
    """Test-time decoding (the official ``test_cfg``)."""

    pre_nms_thresh: float = 0.001
    pre_nms_topk: int = 2000
    iou_threshold: float = 0.7  # hard NMS only
    min_score: float = 0.001
    max_seg_num: int = 100
    nms_method: NmsMethod = NmsMethod.SOFT
    duration_thresh: float = 0.05
    voting_thresh: float = 0.75  # class-agnostic NMS only
    multiclass_nms: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["nms_method"] = self.nms_method.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecodeConfig:
        d = {k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}}
        if "nms_method" in d:
            d["nms_method"] = NmsMethod(d["nms_method"])
        return cls(**d)


@dataclass(frozen=True)
class TaskConfig:
    """One localization task: its vocabulary, grid, training regime and decoding."""

    name: str
    labels: tuple[str, ...]
    class_aware: bool
    max_seq_len: int
    prompt_template: str = "{label}"
    label_smoothing: float = 0.0
    nms_sigma: float = 0.4
    feat_stride: int = 4
    num_frames: int = 16
    fps: float = 16.0
    init_loss_norm: float = 400.0
    loss_weight: float = 1.0
    trunc_thresh: float = 0.5
    # ActivityNet regime: features of any length are linearly resized to max_seq_len steps.
    resize_to_max_len: bool = False
    tiou_thresholds: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    # which tracks the task's events live in: a clip without one of them skips the task
    needs_video: bool = True
    needs_audio: bool = True

    def __post_init__(self) -> None:
        if not self.labels:
            raise ValueError(f"task {self.name}: the label vocabulary is empty")
        if len(set(self.labels)) != len(self.labels):
            dup = sorted({x for x in self.labels if self.labels.count(x) > 1})
            raise ValueError(f"task {self.name}: duplicate labels {dup}")
        if "{label}" not in self.prompt_template:
            raise ValueError(
                f"task {self.name}: prompt template {self.prompt_template!r} has no '{{label}}' placeholder"
            )

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def prompts(self, labels: tuple[str, ...] | list[str] | None = None, template: str | None = None) -> list[str]:
        """The text prompts of `labels` (default: the training vocabulary)."""
        tpl = self.prompt_template if template is None else template
        return [tpl.format(label=lab) for lab in (self.labels if labels is None else labels)]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["labels"] = list(self.labels)
        d["tiou_thresholds"] = list(self.tiou_thresholds)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskConfig:
        d = {k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}}
        d["labels"] = tuple(d["labels"])
        if "tiou_thresholds" in d:
            d["tiou_thresholds"] = tuple(float(x) for x in d["tiou_thresholds"])
        return cls(**d)


class VisualKind(StrEnum):
    """Visual encoders: weight-free statistics, EfficientNet-Lite0 (ImageNet, from pip), CLIP (Hub),
    precomputed features (ONE-PEACE ``.npy``)."""

    SIGNAL = "signal"
    EFFNET = "effnet"
    CLIP = "clip"
    FEATURES = "features"


class AudioKind(StrEnum):
    """Audio encoders: weight-free statistics, YAMNet (AudioSet, ONNX from pip), CLAP (Hub), precomputed."""

    SIGNAL = "signal"
    YAMNET = "yamnet"
    CLAP = "clap"
    FEATURES = "features"


class TextKind(StrEnum):
    """Text encoders: hashed character n-grams, all-MiniLM-L6-v2 (from pip), CLIP, CLAP or both (Hub),
    stored prompt embeddings (precomputed features)."""

    SIGNAL = "signal"
    MINILM = "minilm"
    CLIP = "clip"
    CLAP = "clap"
    CLIP_CLAP = "clip-clap"
    FEATURES = "features"


@dataclass(frozen=True)
class PartSpec:
    """One modality's encoder: its kind and options."""

    kind: VisualKind | AudioKind | TextKind
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "options": dict(self.options)}


def _part(kinds: type[StrEnum], value: Any, slot: str) -> PartSpec:
    """A `PartSpec` of the enum `kinds` from a PartSpec, a kind name or a ``{"kind", "options"}`` mapping."""
    if isinstance(value, PartSpec):
        kind, options = value.kind, value.options
    elif isinstance(value, str):
        kind, options = value, {}
    elif isinstance(value, dict) and "kind" in value:
        kind, options = value["kind"], value.get("options", {})
    else:
        raise ValueError(f"encoder.{slot}: expected a kind name or {{kind, options}}, got {value!r}")
    try:
        return PartSpec(kinds(str(kind)), dict(options or {}))
    except ValueError:
        raise ValueError(f"unknown {slot} encoder {kind!r}; choose one of {[k.value for k in kinds]}") from None


# the single-kind encoders of earlier model folders ({"kind": ..., "options": ...}), per modality
LEGACY_KINDS: dict[str, tuple[VisualKind, AudioKind, TextKind]] = {
    "signal": (VisualKind.SIGNAL, AudioKind.SIGNAL, TextKind.SIGNAL),
    "clip-clap": (VisualKind.CLIP, AudioKind.CLAP, TextKind.CLIP_CLAP),
    "features": (VisualKind.FEATURES, AudioKind.FEATURES, TextKind.FEATURES),
}


@dataclass(frozen=True)
class EncoderSpec:
    """Which frozen encoders produced the model's inputs, one per modality (recorded with the model).

    ``EncoderSpec("signal", "yamnet", "minilm")`` or with options ``EncoderSpec(PartSpec("clip", {...}), ...)``.
    """

    visual: PartSpec | str = VisualKind.FEATURES
    audio: PartSpec | str = AudioKind.FEATURES
    text: PartSpec | str = TextKind.FEATURES

    def __post_init__(self) -> None:
        object.__setattr__(self, "visual", _part(VisualKind, self.visual, "visual"))
        object.__setattr__(self, "audio", _part(AudioKind, self.audio, "audio"))
        object.__setattr__(self, "text", _part(TextKind, self.text, "text"))

    @classmethod
    def uniform(cls, kind: str, options: dict[str, Any] | None = None) -> EncoderSpec:
        """The spec of an earlier single-kind encoder (``signal``, ``clip-clap``, ``features``), its options
        given to every part."""
        if kind not in LEGACY_KINDS:
            raise ValueError(f"unknown encoder {kind!r}; choose one of {sorted(LEGACY_KINDS)}")
        v, a, t = LEGACY_KINDS[kind]
        opts = dict(options or {})
        return cls(PartSpec(v, opts), PartSpec(a, opts), PartSpec(t, opts))

    @property
    def parts(self) -> dict[str, PartSpec]:
        return {"visual": self.visual, "audio": self.audio, "text": self.text}

    @property
    def label(self) -> str:
        """How people read it: ``visual signal · audio yamnet · text minilm``."""
        return " · ".join(f"{slot} {part.kind}" for slot, part in self.parts.items())

    def to_dict(self) -> dict[str, Any]:
        return {slot: part.to_dict() for slot, part in self.parts.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncoderSpec:
        if "kind" in d:  # a model folder of an earlier release: one kind for all modalities
            return cls.uniform(str(d["kind"]), dict(d.get("options", {})))
        unknown = sorted(set(d) - {"visual", "audio", "text"})
        if unknown:
            raise ValueError(f"encoder: unknown field(s) {unknown}; expected visual, audio and text")
        return cls(**{slot: d[slot] for slot in ("visual", "audio", "text") if slot in d})


@dataclass(frozen=True)
class ModelConfig:
    """The network: input widths, widths, depth, heads, experts and the tasks it serves."""

    tasks: tuple[TaskConfig, ...]
    visual_dim: int = 1536
    audio_dim: int = 1536
    text_dim: int = 1536
    embd_dim: int = 512
    head_dim: int = 512
    n_head: int = 4
    backbone_arch: tuple[int, int, int] = (2, 3, 5)
    scale_factor: int = 2
    regression_range: tuple[tuple[float, float], ...] = (
        (0, 4),
        (4, 8),
        (8, 16),
        (16, 32),
        (32, 64),
        (64, 10000),
    )
    embd_kernel_size: int = 3
    head_kernel_size: int = 3
    head_num_layers: int = 3
    embd_with_ln: bool = True
    head_with_ln: bool = True
    use_abs_pe: bool = True
    dropout: float = 0.0
    attn_dropout: float = 0.0
    droppath: float = 0.1
    # Paper Table 3: task experts in the uni-modal (stem) blocks and/or the cross-modal pyramid blocks.
    experts_in_unimodal: bool = True
    experts_in_pyramid: bool = True
    classifier: ClassifierKind = ClassifierKind.LANGUAGE
    cls_prior_prob: float = 0.01
    use_prompt_template: bool = True
    regression_loss: RegressionLoss = RegressionLoss.DIOU
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    encoder: EncoderSpec = field(default_factory=EncoderSpec)

    def __post_init__(self) -> None:
        names = [t.name for t in self.tasks]
        if not names:
            raise ValueError("a model needs at least one task")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate task names {names}")
        if len(self.backbone_arch) != 3 or self.backbone_arch[1] < 1:
            raise ValueError(
                f"backbone_arch must be (#embedding convs, #stem blocks + 1, #pyramid blocks), got {self.backbone_arch}"
            )
        if len(self.regression_range) != self.num_levels:
            raise ValueError(f"{len(self.regression_range)} regression ranges for {self.num_levels} pyramid levels")
        if self.embd_dim % self.n_head:
            raise ValueError(f"embd_dim {self.embd_dim} is not divisible by n_head {self.n_head}")
        for t in self.tasks:
            if t.max_seq_len % self.max_div_factor:
                raise ValueError(
                    f"task {t.name}: max_seq_len {t.max_seq_len} is not divisible by the largest pyramid "
                    f"stride {self.max_div_factor}"
                )

    # ---- derived quantities ------------------------------------------------------------
    @property
    def num_levels(self) -> int:
        return self.backbone_arch[2] + 1

    @property
    def fpn_strides(self) -> tuple[int, ...]:
        return tuple(self.scale_factor**i for i in range(self.num_levels))

    @property
    def max_div_factor(self) -> int:
        return self.fpn_strides[-1]

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    @property
    def max_pe_len(self) -> int:
        return max(t.max_seq_len for t in self.tasks)

    def task(self, name: str) -> TaskConfig:
        for t in self.tasks:
            if t.name.lower() == name.lower():
                return t
        raise KeyError(f"unknown task {name!r}; this model serves {list(self.task_names)}")

    def replace(self, **overrides: Any) -> ModelConfig:
        return dataclasses.replace(self, **overrides)

    def with_task(self, task: TaskConfig) -> ModelConfig:
        return self.replace(tasks=tuple(task if t.name == task.name else t for t in self.tasks))

    # ---- (de)serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "tasks":
                v = [t.to_dict() for t in v]
            elif f.name in ("decode", "encoder"):
                v = v.to_dict()
            elif isinstance(v, Enum):
                v = v.value
            elif f.name == "regression_range":
                v = [list(r) for r in v]
            elif isinstance(v, tuple):
                v = list(v)
            d[f.name] = v
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known - {"model_type", "uniav_version"})
        if unknown:
            raise ValueError(f"unknown model config fields: {unknown}")
        kw = {k: v for k, v in d.items() if k in known}
        kw["tasks"] = tuple(TaskConfig.from_dict(t) for t in d["tasks"])
        if "backbone_arch" in kw:
            kw["backbone_arch"] = tuple(kw["backbone_arch"])
        if "regression_range" in kw:
            kw["regression_range"] = tuple(tuple(float(x) for x in r) for r in kw["regression_range"])
        if "decode" in kw:
            kw["decode"] = DecodeConfig.from_dict(kw["decode"])
        if "encoder" in kw:
            kw["encoder"] = EncoderSpec.from_dict(kw["encoder"])
        if "classifier" in kw:
            kw["classifier"] = ClassifierKind(kw["classifier"])
        if "regression_loss" in kw:
            kw["regression_loss"] = RegressionLoss(kw["regression_loss"])
        return cls(**kw)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"model_type": "uniav", **self.to_dict()}, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ModelConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))

    # ---- presets ------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A named configuration: ``paper`` (the authors' release) or ``small`` (CPU-sized)."""
        try:
            factory = _PRESETS[name]
        except KeyError:
            raise KeyError(f"unknown preset {name!r}; choose one of {sorted(_PRESETS)}") from None
        return factory().replace(**overrides) if overrides else factory()


def paper_tasks() -> tuple[TaskConfig, ...]:
    """The three tasks of the paper with the official per-task settings."""
    return (
        TaskConfig(
            name="TAL",
            labels=load_vocabulary("activitynet13"),
            class_aware=False,
            max_seq_len=256,
            prompt_template=DEFAULT_TEMPLATES["TAL"],
            label_smoothing=0.1,
            nms_sigma=0.75,
            feat_stride=8,
            init_loss_norm=400,
            trunc_thresh=0.5,
            resize_to_max_len=True,
            needs_audio=False,
            tiou_thresholds=tuple(round(0.5 + 0.05 * i, 2) for i in range(10)),
        ),
        TaskConfig(
            name="AVEL",
            labels=load_vocabulary("unav100"),
            class_aware=True,
            max_seq_len=256,
            prompt_template=DEFAULT_TEMPLATES["AVEL"],
            nms_sigma=0.4,
            feat_stride=4,
            init_loss_norm=300,
            trunc_thresh=0.5,
        ),
        TaskConfig(
            name="SED",
            labels=load_vocabulary("desed"),
            class_aware=True,
            max_seq_len=64,
            prompt_template=DEFAULT_TEMPLATES["SED"],
            nms_sigma=0.4,
            feat_stride=4,
            init_loss_norm=400,
            trunc_thresh=0.3,
            needs_video=False,
        ),
    )


def _paper() -> ModelConfig:
    return ModelConfig(tasks=paper_tasks(), encoder=EncoderSpec.uniform("features", {"name": "one-peace"}))


def _small() -> ModelConfig:
    return ModelConfig(
        tasks=paper_tasks(),
        embd_dim=128,
        head_dim=128,
        n_head=4,
        droppath=0.1,
        encoder=EncoderSpec.uniform("features", {"name": "one-peace"}),
    )


_PRESETS = {"paper": _paper, "small": _small}
