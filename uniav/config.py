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
from typing import TYPE_CHECKING, Any

from uniav.vocabularies import Vocabulary, load_vocabulary

if TYPE_CHECKING:
    from uniav.media.grid import SnippetGrid

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


class UnknownTaskError(KeyError):
    """A task name the model does not serve (the message lists the ones it does)."""

    def __init__(self, name: str, served: tuple[str, ...]) -> None:
        self.name = name
        self.served = served
        super().__init__(f"unknown task {name!r}; this model serves {', '.join(served)}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def _without_legacy_fields(d: dict[str, Any]) -> dict[str, Any]:
    """A model config dict of an earlier release in today's form: ``use_prompt_template: false`` meant
    prompts of the bare labels, which a ``"{label}"`` template now says."""
    if "use_prompt_template" not in d:
        return d
    d = dict(d)
    if d.pop("use_prompt_template") is False:
        d["tasks"] = [{**t, "prompt_template": "{label}"} for t in d["tasks"]]
    return d


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
        vocab = Vocabulary(self.name, self.labels, self.prompt_template)  # the one validation of labels/template
        object.__setattr__(self, "labels", vocab.labels)
        object.__setattr__(self, "prompt_template", vocab.template)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def grid(self) -> SnippetGrid:
        """The snippet grid the task's features live on."""
        from uniav.media.grid import SnippetGrid  # the media package loads decoders: only when needed

        return SnippetGrid(stride=self.feat_stride, num_frames=self.num_frames, fps=self.fps)

    @property
    def vocabulary(self) -> Vocabulary:
        """The training vocabulary: labels and prompt template."""
        return Vocabulary(self.name, self.labels, self.prompt_template)

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
    if options is not None and not isinstance(options, dict):
        raise ValueError(f"encoder.{slot}: options must be a mapping of names to values, got {options!r}")
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
# which options of those encoders each part takes, by (slot, kind of the part): `EncoderSpec.uniform`
# routes them (the parts declare the same names in their `OPTIONS`, which tests/test_encoders_parts checks)
_FEATURES_SHARED = frozenset({"feature_dir", "prefix", "durations", "stride", "name"})
LEGACY_PART_OPTIONS: dict[tuple[str, VisualKind | AudioKind | TextKind], frozenset[str]] = {
    ("visual", VisualKind.SIGNAL): frozenset({"frame_size", "cells", "chunk"}),
    ("audio", AudioKind.SIGNAL): frozenset(),
    ("text", TextKind.SIGNAL): frozenset({"text_dim"}),
    ("visual", VisualKind.CLIP): frozenset({"clip_model", "device", "batch_size", "frames_per_snippet"}),
    ("audio", AudioKind.CLAP): frozenset({"clap_model", "device", "batch_size"}),
    ("text", TextKind.CLIP_CLAP): frozenset({"clip_model", "clap_model", "device"}),
    ("text", TextKind.CLIP): frozenset({"clip_model", "device"}),
    ("text", TextKind.CLAP): frozenset({"clap_model", "device"}),
    ("visual", VisualKind.FEATURES): _FEATURES_SHARED | {"video_suffix", "visual_dim"},
    ("audio", AudioKind.FEATURES): _FEATURES_SHARED | {"audio_suffix", "audio_dim"},
    ("text", TextKind.FEATURES): frozenset({"text_embeddings", "text_dim"}),
}
# the ``text`` option of the earlier clip-clap encoder chose its text embedding: now the text part
LEGACY_CLIP_CLAP_TEXT = {"concat": TextKind.CLIP_CLAP, "clip": TextKind.CLIP, "clap": TextKind.CLAP}
SLOTS = ("visual", "audio", "text")


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
        """The spec of an earlier single-kind encoder (``signal``, ``clip-clap``, ``features``): each of its
        options goes to the parts that take it (`LEGACY_PART_OPTIONS`; e.g. ``clip_model`` to the CLIP
        parts, ``device`` to all), clip-clap's ``text`` (concat | clip | clap) picks the text part. An option
        no part takes raises ValueError."""
        if kind not in LEGACY_KINDS:
            raise ValueError(f"unknown encoder {kind!r}; choose one of {sorted(LEGACY_KINDS)}")
        opts = dict(options or {})
        kinds: dict[str, VisualKind | AudioKind | TextKind] = dict(zip(SLOTS, LEGACY_KINDS[kind], strict=True))
        if kind == "clip-clap" and "text" in opts:
            mode = opts.pop("text")
            if mode not in LEGACY_CLIP_CLAP_TEXT:
                modes = tuple(LEGACY_CLIP_CLAP_TEXT)
                raise ValueError(f"encoder 'clip-clap': text must be one of {modes}, got {mode!r}")
            kinds["text"] = LEGACY_CLIP_CLAP_TEXT[mode]
        taken = {slot: LEGACY_PART_OPTIONS[(slot, k)] for slot, k in kinds.items()}
        known = frozenset().union(*taken.values())
        unknown = sorted(set(opts) - known)
        if unknown:
            extra = ["text"] if kind == "clip-clap" else []
            raise ValueError(f"encoder {kind!r}: unknown option(s) {unknown}; known: {sorted([*known, *extra])}")
        return cls(*(PartSpec(kinds[s], {k: v for k, v in opts.items() if k in taken[s]}) for s in SLOTS))

    @classmethod
    def parse(cls, text: str) -> EncoderSpec:
        """A spec from a command line: an earlier single kind (``signal``, ``clip-clap``, ``features``) or
        ``visual=KIND,audio=KIND,text=KIND`` (all three, any order)."""
        text = text.strip()
        if "=" not in text:
            return cls.uniform(text)
        kinds: dict[str, str] = {}
        for item in text.split(","):
            slot, _, kind = (x.strip() for x in item.partition("="))
            if slot not in SLOTS or slot in kinds or not kind:
                raise ValueError(f"encoder {text!r}: expected visual=KIND,audio=KIND,text=KIND, got {item.strip()!r}")
            kinds[slot] = kind
        missing = [s for s in SLOTS if s not in kinds]
        if missing:
            raise ValueError(f"encoder {text!r}: name the {', '.join(missing)} encoder too (visual=K,audio=K,text=K)")
        return cls(kinds["visual"], kinds["audio"], kinds["text"])

    @property
    def parts(self) -> dict[str, PartSpec]:
        return dict(zip(SLOTS, (self.visual, self.audio, self.text), strict=True))

    @property
    def label(self) -> str:
        """How people read it: ``visual signal · audio yamnet · text minilm``."""
        return " · ".join(f"{slot} {part.kind}" for slot, part in self.parts.items())

    def to_dict(self) -> dict[str, Any]:
        return {slot: part.to_dict() for slot, part in self.parts.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | str) -> EncoderSpec:
        """A spec from a model folder or a training YAML: ``{visual: K, audio: K, text: K}`` (each a kind or
        ``{kind, options}``), the ``{kind, options}`` of an earlier release, or a `parse` string."""
        if isinstance(d, str):
            return cls.parse(d)
        if not isinstance(d, dict):
            raise ValueError(f"encoder: expected {{visual, audio, text}} or a kind name, got {d!r}")
        if "kind" in d:  # a model folder of an earlier release: one kind for all modalities
            return cls.uniform(str(d["kind"]), dict(d.get("options", {})))
        unknown = sorted(set(d) - {"visual", "audio", "text"})
        if unknown:
            raise ValueError(f"encoder: unknown field(s) {unknown}; expected visual, audio and text")
        return cls(**{slot: d[slot] for slot in ("visual", "audio", "text") if slot in d})


@dataclass(frozen=True)
class TaskProvenance:
    """What a task was trained on, recorded with the model: `data` in words (dataset, classes, media), and
    whether that data is real-world media (`real`; None when unknown)."""

    data: str
    real: bool | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a model's knowledge comes from (shown by the studio and ``uniav predict``): per task its training
    data; `note`: anything else a user should know (free text)."""

    tasks: dict[str, TaskProvenance] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"tasks": {k: dataclasses.asdict(v) for k, v in self.tasks.items()}, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Provenance:
        tasks = {str(k): TaskProvenance(**v) for k, v in (d.get("tasks") or {}).items()}
        return cls(tasks=tasks, note=str(d.get("note", "")))


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
    regression_loss: RegressionLoss = RegressionLoss.DIOU
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    provenance: Provenance = field(default_factory=Provenance)

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
        """The task called `name` (any case): task names are made canonical here and only here."""
        for t in self.tasks:
            if t.name.lower() == str(name).lower():
                return t
        raise UnknownTaskError(name, self.task_names)

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
            elif f.name in ("decode", "encoder", "provenance"):
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
        d = _without_legacy_fields(d)
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
        if "provenance" in kw:
            kw["provenance"] = Provenance.from_dict(kw["provenance"])
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
