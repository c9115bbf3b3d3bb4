"""The encoder interface: a media file -> per-snippet visual and audio features; prompts -> text embeddings.

Every encoder implements `Encoder`: `PartsEncoder` (a visual, an audio and a text part, see
`uniav.encoders.parts`) for media files, `FeaturesEncoder` for precomputed ONE-PEACE features. An
encoder is frozen and deterministic for a given `EncoderSpec`; `Encoder.cache_key` names that (kinds,
options that change the numbers, and the features versions), so cached features are never reused
across encoders.

`MediaFunctions` is the encoders' one dependency on decoding: the three functions of `uniav.media`
(`probe_media`, `decode_audio`, `open_video`). It is an explicit argument so tests and tools can
substitute a decoder (e.g. one that counts or refuses calls) without patching modules.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from uniav.config import EncoderSpec
from uniav.media.grid import SnippetGrid
from uniav.progress import FractionFn

# remarks every media encoder gives for missing tracks
NOTE_NO_AUDIO = "no audio track: audio features computed on silence"
NOTE_NO_VIDEO = "no video track: visual features are zeros"
NOTE_NO_FRAMES = "no video frame could be decoded: visual features are zeros"


class EncoderError(ValueError):
    """Bad encoder configuration or an input the encoder cannot handle (the message says which)."""


class UnknownPromptError(KeyError):
    """`encode_text` of an encoder that can only look up stored prompt embeddings got a new prompt."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class ClipFeatures:
    """Features of one file on one snippet grid.

    visual: (T, visual_dim) float32, row t = snippet t of the grid (zeros when the file has no video).
    audio:  (T, audio_dim) float32, row t = the 1-s audio window centred on snippet t (computed on
            silence when the file has no audio track).
    duration: seconds of the clip the grid was laid on; has_video / has_audio: which tracks exist.
    notes: human-readable remarks to show the user (missing tracks, decode warnings, ...).
    visual_scores / audio_scores: (T, n_classes) float32 logits of the pretrained classifier of a part
            that keeps them (ImageNet classes of EfficientNet, AudioSet classes of YAMNet; the encoder's
            `visual_score_classes` / `audio_score_classes` name the columns), else None.
    """

    visual: np.ndarray
    audio: np.ndarray
    duration: float
    has_video: bool
    has_audio: bool
    notes: tuple[str, ...] = ()
    visual_scores: np.ndarray | None = None
    audio_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.visual.ndim != 2 or self.audio.ndim != 2:
            raise EncoderError(f"features must be 2-D (T, D), got visual {self.visual.shape}, audio {self.audio.shape}")
        if self.visual.shape[0] != self.audio.shape[0]:
            raise EncoderError(
                f"visual and audio features differ in length: {self.visual.shape[0]} vs {self.audio.shape[0]}"
            )
        for name in ("visual_scores", "audio_scores"):
            scores = getattr(self, name)
            if scores is not None and (scores.ndim != 2 or scores.shape[0] != self.visual.shape[0]):
                raise EncoderError(
                    f"{name} must be (T, n_classes) with T = {self.visual.shape[0]} snippets, got {scores.shape}"
                )

    @property
    def num_snippets(self) -> int:
        return int(self.visual.shape[0])


@dataclass(frozen=True)
class MediaFunctions:
    """The decoding functions an encoder calls (signatures of `uniav.media`)."""

    probe_media: Callable[..., Any]
    decode_audio: Callable[..., Any]
    open_video: Callable[..., Any]

    @classmethod
    def default(cls) -> MediaFunctions:
        """The project's decoders (`uniav.media`), imported on first use."""
        probe = importlib.import_module("uniav.media.probe")
        audio = importlib.import_module("uniav.media.audio")
        video = importlib.import_module("uniav.media.video")
        return cls(probe.probe_media, audio.decode_audio, video.open_video)


class Encoder(ABC):
    """Frozen features for snippet grids of a media file, and text embeddings of prompts.

    Attributes: `spec` (what a model config records), `visual_dim`, `audio_dim`, `text_dim` (widths of
    the returned arrays). `cacheable` is False for encoders whose input is not a media file (precomputed
    features), which `CachedEncoder` then passes through.
    """

    spec: EncoderSpec
    cacheable: ClassVar[bool] = True

    @property
    @abstractmethod
    def visual_dim(self) -> int: ...

    @property
    @abstractmethod
    def audio_dim(self) -> int: ...

    @property
    @abstractmethod
    def text_dim(self) -> int: ...

    @property
    @abstractmethod
    def cache_key(self) -> str:
        """Identifies the encoder, the options that change its numbers and its features version."""

    @abstractmethod
    def encode_file(
        self, path: str | Path, grids: Sequence[SnippetGrid], progress: FractionFn | None = None
    ) -> dict[SnippetGrid, ClipFeatures]:
        """Decode `path` once and return its features on every grid in `grids`."""

    @abstractmethod
    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        """(len(prompts), text_dim) float32 embeddings of the prompts."""

    @property
    def visual_score_classes(self) -> tuple[str, ...] | None:
        """Names of the columns of `ClipFeatures.visual_scores` (None: no visual scores)."""
        return None

    @property
    def audio_score_classes(self) -> tuple[str, ...] | None:
        """Names of the columns of `ClipFeatures.audio_scores` (None: no audio scores)."""
        return None

    def describe(self) -> dict[str, Any]:
        """The spec and widths, as a model config or a model card records them."""
        return {
            **self.spec.to_dict(),
            "visual_dim": self.visual_dim,
            "audio_dim": self.audio_dim,
            "text_dim": self.text_dim,
        }


class MediaEncoder(Encoder):
    """An encoder that decodes media files itself, through `media` (the project's decoders unless a
    subclass was given others)."""

    _media: MediaFunctions | None = None

    @property
    def media(self) -> MediaFunctions:
        if self._media is None:
            self._media = MediaFunctions.default()
        return self._media


# ---- helpers shared by the backends ---------------------------------------------------------------


def unique_grids(grids: Iterable[SnippetGrid]) -> list[SnippetGrid]:
    """The grids in order, without repeats; at least one required."""
    out = list(dict.fromkeys(grids))
    if not out:
        raise EncoderError("encode_file needs at least one snippet grid")
    for g in out:
        if not isinstance(g, SnippetGrid):
            raise EncoderError(f"expected SnippetGrid objects, got {type(g).__name__}")
    return out


def common_fps(grids: Sequence[SnippetGrid]) -> float:
    """The frame rate shared by `grids` (frames are decoded once, at one rate)."""
    rates = sorted({g.fps for g in grids})
    if len(rates) != 1:
        raise EncoderError(f"snippet grids must share one frame rate to be encoded together, got {rates}")
    return float(rates[0])


def check_options(what: str, options: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Raise `EncoderError` naming any option `what` (e.g. ``"visual encoder 'signal'"``) does not know."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise EncoderError(f"{what}: unknown option(s) {unknown}; known: {sorted(allowed)}")


def text_option(what: str, name: str, value: Any) -> str:
    """`value` of option `name` of `what`, which must be a non-empty string."""
    if not isinstance(value, str) or not value:
        raise EncoderError(f"{what}: {name} must be a non-empty string, got {value!r}")
    return value


def count_option(what: str, name: str, value: Any) -> int:
    """`value` of option `name` of `what`, which must be an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EncoderError(f"{what}: {name} must be an integer >= 1, got {value!r}")
    return value


def options_digest(options: Mapping[str, Any]) -> str:
    """A short stable hash of JSON-able options (key order does not matter)."""
    blob = json.dumps(dict(options), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def merge_notes(*groups: Iterable[str]) -> tuple[str, ...]:
    """All notes in order, without repeats."""
    return tuple(dict.fromkeys(n for g in groups for n in g if n))


def track_notes(notes: Iterable[str], has_audio: bool, no_audio_note: str) -> list[str]:
    """The decoder's audio notes, with its "no audio track" remark replaced by the encoder's `no_audio_note`."""
    if has_audio:
        return list(notes)
    return [n for n in notes if not n.lower().startswith("no audio")] + [no_audio_note]


class ProgressSplitter:
    """Maps the progress of consecutive stages onto one [0, 1] callback (weights = share of the work)."""

    def __init__(self, progress: FractionFn | None, weights: Sequence[float]) -> None:
        total = float(sum(weights))
        self._fn = progress
        self._starts = np.concatenate([[0.0], np.cumsum(weights)[:-1]]) / total
        self._spans = np.asarray(weights, dtype=float) / total

    def report(self, stage: int, fraction: float) -> None:
        if self._fn is not None:
            f = min(max(float(fraction), 0.0), 1.0)
            self._fn(float(self._starts[stage] + self._spans[stage] * f))
