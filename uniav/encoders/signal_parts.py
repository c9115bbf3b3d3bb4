"""The `signal` parts: weight-free, deterministic, no downloads; for the bundled offline model, tests, CI.

- `SignalVisual`: frames decoded small (``frame_size`` square, default 64 x 64) become per-frame rows
  (`signal_visual.FrameFeaturizer`) while the video streams past; only those rows are kept, and each
  grid pools its snippets from them (`signal_visual.window_features`). Width 384 (4 x 4 cells).
  Options: ``frame_size`` (int, default 64, a multiple of ``cells``), ``cells`` (int, cells per side,
  default 4; changes the width), ``chunk`` (frames per decoded chunk, default 64; not the numbers).
- `SignalAudio`: 16 kHz audio -> 10 ms frame descriptors (`signal_audio.frame_descriptors`) -> the
  statistics of each snippet's 1-s window (`signal_audio.window_features`). Width 256. No options.
- `SignalText`: hashed character n-grams and words (`signal_text.embed_texts`). Options: ``text_dim``
  (default 512, >= 16).

Each grid costs one pooling of rows computed once, so several grids share one decode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from uniav.encoders import signal_audio, signal_text, signal_visual
from uniav.encoders.base import EncoderError, check_options, options_digest
from uniav.encoders.parts import AudioPart, FractionFn, PartOutput, TextPart, VisualPart, report_fraction
from uniav.media.grid import SnippetGrid

KIND = "signal"
# bump whenever a change to signal_visual / signal_audio / this module changes the numbers: cached and
# extracted features are keyed by them
VISUAL_FEATURES_VERSION = 1
AUDIO_FEATURES_VERSION = 1


def _integers(what: str, options: Mapping[str, Any]) -> None:
    bad = {k: v for k, v in options.items() if isinstance(v, bool) or not isinstance(v, int)}
    if bad:
        raise EncoderError(f"{what}: options must be integers, got {bad}")


@dataclass(frozen=True)
class SignalVisualOptions:
    frame_size: int = 64
    cells: int = 4
    chunk: int = 64

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> SignalVisualOptions:
        what = f"visual encoder {KIND!r}"
        opts = dict(options or {})
        check_options(what, opts, SignalVisual.OPTIONS)
        _integers(what, opts)
        out = cls(**opts)
        if out.cells < 1 or out.frame_size < out.cells or out.frame_size % out.cells:
            raise EncoderError(f"{what}: frame_size {out.frame_size} must be a positive multiple of cells {out.cells}")
        if out.chunk < 1:
            raise EncoderError(f"{what}: chunk must be >= 1, got {out.chunk}")
        return out


class SignalVisual(VisualPart):
    """Colour, texture and motion statistics of small frames, pooled per snippet."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"frame_size", "cells", "chunk"})

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = SignalVisualOptions.parse(options)

    @property
    def dim(self) -> int:
        return signal_visual.visual_dim(self.options.cells)

    @property
    def cache_key(self) -> str:
        numeric = {"frame_size": self.options.frame_size, "cells": self.options.cells}
        return f"{KIND}-v{VISUAL_FEATURES_VERSION}-{options_digest(numeric)}"

    @property
    def chunk_frames(self) -> int:
        return self.options.chunk

    def decode_size(self, width: int | None, height: int | None) -> tuple[int, int] | None:
        return self.options.frame_size, self.options.frame_size

    def frame_rows(self, chunks: Iterable[np.ndarray], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(N, frame_dim) per-frame rows of consecutive chunks (the only thing kept of the video)."""
        featurize = signal_visual.FrameFeaturizer(cells=self.options.cells)
        rows: list[np.ndarray] = []
        done = 0
        for chunk in chunks:
            rows.append(featurize(np.asarray(chunk)))
            done += len(rows[-1])
            if progress is not None:
                progress(done)
        if not rows:
            return np.zeros((0, signal_visual.frame_dim(self.options.cells)), np.float32)
        return np.concatenate(rows, axis=0)

    def encode_frames(
        self,
        chunks: Iterable[np.ndarray],
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[PartOutput, int]:
        rows = self.frame_rows(chunks, progress)
        cells = self.options.cells
        feats = {g: signal_visual.window_features(rows, g, counts[g], cells) for g in grids}
        return PartOutput(feats), int(rows.shape[0])

    def no_video(self, grids: Sequence[SnippetGrid], counts: Mapping[SnippetGrid, int]) -> PartOutput:
        return PartOutput({g: np.zeros((counts[g], self.dim), np.float32) for g in grids})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": KIND, "options": asdict(self.options)}


class SignalAudio(AudioPart):
    """Log-mel statistics of each snippet's 1-s window at 16 kHz."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        check_options(f"audio encoder {KIND!r}", dict(options or {}), self.OPTIONS)

    @property
    def dim(self) -> int:
        return signal_audio.AUDIO_DIM

    @property
    def cache_key(self) -> str:
        return f"{KIND}-v{AUDIO_FEATURES_VERSION}"

    @property
    def sample_rate(self) -> int:
        return signal_audio.SAMPLE_RATE

    def encode_waveform(
        self,
        waveform: np.ndarray,
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: FractionFn | None = None,
    ) -> PartOutput:
        report = report_fraction(progress)
        desc = signal_audio.frame_descriptors(waveform, self.sample_rate)
        silence = signal_audio.silence_descriptor()
        feats = {}
        for i, g in enumerate(grids):
            feats[g] = signal_audio.window_features(desc, g, counts[g], self.sample_rate, silence=silence)
            report((i + 1) / len(grids))
        return PartOutput(feats)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": KIND, "options": {}}


class SignalText(TextPart):
    """Hashed character n-gram and word embeddings of prompts (L2-normalised)."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"text_dim"})

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        what = f"text encoder {KIND!r}"
        opts = dict(options or {})
        check_options(what, opts, self.OPTIONS)
        _integers(what, opts)
        self.text_dim = int(opts.get("text_dim", signal_text.TEXT_DIM))
        if self.text_dim < 16:
            raise EncoderError(f"{what}: text_dim must be >= 16, got {self.text_dim}")

    @property
    def dim(self) -> int:
        return self.text_dim

    @property
    def cache_key(self) -> str:
        return f"{KIND}-text-v1-{options_digest({'text_dim': self.text_dim})}"

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        return signal_text.embed_texts(list(prompts), dim=self.text_dim)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": KIND, "options": {"text_dim": self.text_dim}}
