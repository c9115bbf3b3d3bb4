"""Encoders as composable parts: one frozen encoder per modality, mixed freely.

A model names a visual, an audio and a text part (``EncoderSpec.visual / .audio / .text``), e.g. visual
``signal``, audio ``yamnet``, text ``minilm``. `PartsEncoder` decodes a media file once: the audio track
at the audio part's rate goes to `AudioPart.encode_waveform`, the video stream at 16 fps, decoded at
the size the visual part asks for, goes chunk by chunk to `VisualPart.encode_frames`; prompts go to
`TextPart.encode_text`. Each part returns one row per snippet of every grid asked for.

A part is frozen and deterministic for its options; its `cache_key` names the kind, the options that
change its numbers and its ``FEATURES_VERSION`` (bump it whenever a change alters the numbers), so that
cached and extracted features are never reused across encoders. A part whose weights ship inside a pip
package finds them there and never downloads; a missing package raises `EncoderError` naming the pip
package to install.

Parts may keep a second output for the training-free baselines: the pretrained classifier's logits per
snippet (`scores`: AudioSet classes for YAMNet, ImageNet classes for EfficientNet), and name those
classes in `score_classes`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from uniav.media.grid import SnippetGrid
from uniav.progress import FractionFn, no_progress

__all__ = ["AudioPart", "EncoderPart", "FractionFn", "PartOutput", "TextPart", "VisualPart", "report_fraction"]


@dataclass(frozen=True)
class PartOutput:
    """What a visual or audio part returns: per grid, (T_grid, dim) float32 `features`, and optionally
    (T_grid, n_classes) float32 `scores` (the pretrained classifier's logits, for the baselines)."""

    features: Mapping[SnippetGrid, np.ndarray]
    scores: Mapping[SnippetGrid, np.ndarray] | None = None
    notes: tuple[str, ...] = field(default=())


class EncoderPart(ABC):
    """What every part has: its width, its cache key, and the classes of its scores (if any).

    `OPTIONS` names every option the constructor ``Cls(options)`` accepts: the factory refuses any other
    with an `EncoderError` naming the part and the option, and `with_options` routes an unprefixed
    option to the parts that declare it.
    """

    OPTIONS: ClassVar[frozenset[str]] = frozenset()

    @property
    @abstractmethod
    def dim(self) -> int:
        """Width of the rows (or embeddings) this part returns."""

    @property
    @abstractmethod
    def cache_key(self) -> str:
        """``kind-v{FEATURES_VERSION}-{digest of the options that change the numbers}``."""

    @property
    def score_classes(self) -> tuple[str, ...] | None:
        """Names of the columns of `PartOutput.scores` (None: this part keeps no scores)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Kind, options and width, as a model card records them."""
        return {"cache_key": self.cache_key, "dim": self.dim}


class VisualPart(EncoderPart):
    """Frames (uint8 chunks at the grids' frame rate) -> one row per snippet."""

    @property
    def chunk_frames(self) -> int:
        """Frames per decoded chunk (memory, not numbers: a part's rows must not depend on it)."""
        return 64

    @abstractmethod
    def decode_size(self, width: int | None, height: int | None) -> tuple[int, int] | None:
        """(width, height) to decode frames at, given the source size (None when unknown); None keeps the
        source size."""

    @abstractmethod
    def encode_frames(
        self,
        chunks: Iterable[np.ndarray],
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[PartOutput, int]:
        """Consume `chunks` ((n, H, W, 3) uint8, consecutive frames from frame 0) and return the rows of
        `counts[g]` snippets of every grid, and the number of frames decoded. `progress(frames_so_far)`.
        Snippets past the last decoded frame use the last frame (edge repeat)."""

    @abstractmethod
    def no_video(self, grids: Sequence[SnippetGrid], counts: Mapping[SnippetGrid, int]) -> PartOutput:
        """Rows for a file without pictures (zeros for features; scores may be None)."""


class AudioPart(EncoderPart):
    """A mono waveform at `sample_rate` -> one row per snippet (the window centred on the snippet)."""

    @property
    @abstractmethod
    def sample_rate(self) -> int:
        """The rate the waveform must be decoded at."""

    @abstractmethod
    def encode_waveform(
        self,
        waveform: np.ndarray,
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: FractionFn | None = None,
    ) -> PartOutput:
        """Rows of `counts[g]` snippets of every grid from a float32 (N,) waveform at `sample_rate`, time 0
        at sample 0 (a file without sound is given silence of the clip's duration)."""


class TextPart(EncoderPart):
    """Prompts -> (n, dim) float32 embeddings."""

    @abstractmethod
    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        """(len(prompts), dim) float32 embeddings."""


def report_fraction(progress: FractionFn | None) -> FractionFn:
    """`progress`, or a no-op."""
    return progress if progress is not None else no_progress
