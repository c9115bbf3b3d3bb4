"""The `signal` encoder: weight-free, deterministic, no downloads; for the bundled offline model, tests, CI.

Per file: the audio track is decoded once at 16 kHz and turned into 10 ms frame descriptors
(`signal_audio`); the video is streamed once at 16 fps, decoded small (`frame_size` square, default
64 x 64), chunk by chunk into per-frame rows (`signal_visual`); only those rows are kept. Each requested
snippet grid then pools its windows from the same rows, so several grids cost one decode.

Widths: visual 384, audio 256, text 512 (with the default options).
Options (`EncoderSpec.options`): ``frame_size`` (int, default 64, a multiple of ``cells``), ``cells`` (int,
grid of cells per side, default 4; changes the visual width), ``text_dim`` (default 512), ``chunk``
(frames per decoded chunk, default 64; does not change the numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uniav.config import EncoderSpec
from uniav.encoders import signal_audio, signal_text, signal_visual
from uniav.encoders.base import (
    NOTE_NO_AUDIO,
    NOTE_NO_FRAMES,
    NOTE_NO_VIDEO,
    ClipFeatures,
    EncoderError,
    MediaEncoder,
    MediaFunctions,
    ProgressFn,
    ProgressSplitter,
    check_options,
    common_fps,
    merge_notes,
    options_digest,
    track_notes,
    unique_grids,
)
from uniav.media.grid import SnippetGrid

KIND = "signal"
# bump whenever a change to signal_audio / signal_visual / this module changes the numbers: cached and
# extracted features are keyed by it
FEATURES_VERSION = 1


@dataclass(frozen=True)
class SignalOptions:
    frame_size: int = 64
    cells: int = 4
    text_dim: int = signal_text.TEXT_DIM
    chunk: int = 64

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SignalOptions:
        check_options(KIND, options, ("frame_size", "cells", "text_dim", "chunk"))
        bad = {k: v for k, v in options.items() if isinstance(v, bool) or not isinstance(v, int)}
        if bad:
            raise EncoderError(f"encoder 'signal': options must be integers, got {bad}")
        opts = cls(**options)
        if opts.cells < 1 or opts.frame_size < opts.cells or opts.frame_size % opts.cells:
            raise EncoderError(
                f"encoder 'signal': frame_size {opts.frame_size} must be a positive multiple of cells {opts.cells}"
            )
        if opts.text_dim < 16 or opts.chunk < 1:
            raise EncoderError(f"encoder 'signal': text_dim must be >= 16 and chunk >= 1, got {opts}")
        return opts

    def numeric(self) -> dict[str, int]:
        """The options that change the numbers (everything but the chunk size)."""
        return {"frame_size": self.frame_size, "cells": self.cells, "text_dim": self.text_dim}


class SignalEncoder(MediaEncoder):
    """Log-mel audio statistics, colour/texture/motion statistics of frames, hashed n-gram text."""

    def __init__(self, spec: EncoderSpec | None = None, media: MediaFunctions | None = None) -> None:
        self.spec = spec if spec is not None else EncoderSpec(kind=KIND)
        if self.spec.kind != KIND:
            raise EncoderError(f"SignalEncoder got an encoder spec of kind {self.spec.kind!r}")
        self.options = SignalOptions.from_options(dict(self.spec.options))
        self._media = media
        self._cache_key: str | None = None

    @property
    def visual_dim(self) -> int:
        return signal_visual.visual_dim(self.options.cells)

    @property
    def audio_dim(self) -> int:
        return signal_audio.AUDIO_DIM

    @property
    def text_dim(self) -> int:
        return self.options.text_dim

    @property
    def cache_key(self) -> str:
        if self._cache_key is None:
            self._cache_key = f"{KIND}-v{FEATURES_VERSION}-{options_digest(self.options.numeric())}"
        return self._cache_key

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        return signal_text.embed_texts(list(prompts), dim=self.options.text_dim)

    def _frame_rows(
        self, path: str | Path, info: Any, fps: float, stages: ProgressSplitter
    ) -> tuple[np.ndarray, list[str]]:
        """(N, frame_dim) per-frame rows of the whole video, streamed chunk by chunk, and the stream's notes."""
        size = (self.options.frame_size, self.options.frame_size)
        stream = self.media.open_video(path, fps=fps, size=size, chunk=self.options.chunk, info=info)
        featurize = signal_visual.FrameFeaturizer(cells=self.options.cells)
        expected = max(int(getattr(stream, "expected_frames", 0) or 0), 1)
        rows: list[np.ndarray] = []
        done = 0
        for chunk in stream:
            rows.append(featurize(np.asarray(chunk)))
            done += len(rows[-1])
            stages.report(1, done / expected)
        notes = list(getattr(stream, "notes", []) or [])
        dim = signal_visual.frame_dim(self.options.cells)
        return (np.concatenate(rows, axis=0) if rows else np.zeros((0, dim), np.float32)), notes

    def encode_file(
        self, path: str | Path, grids: Sequence[SnippetGrid], progress: ProgressFn | None = None
    ) -> dict[SnippetGrid, ClipFeatures]:
        grids = unique_grids(grids)
        fps = common_fps(grids)
        stages = ProgressSplitter(progress, [1.0, 8.0, 1.0])
        info = self.media.probe_media(path)
        track = self.media.decode_audio(path, sample_rate=signal_audio.SAMPLE_RATE, info=info)
        desc = signal_audio.frame_descriptors(track.waveform, track.sample_rate)
        stages.report(0, 1.0)
        notes = track_notes(track.notes, bool(info.has_audio), NOTE_NO_AUDIO)
        if info.has_video:
            rows, video_notes = self._frame_rows(path, info, fps, stages)
            notes += video_notes
            if rows.shape[0] == 0:
                notes.append(NOTE_NO_FRAMES)
        else:
            rows = np.zeros((0, signal_visual.frame_dim(self.options.cells)), np.float32)
            notes.append(NOTE_NO_VIDEO)
        stages.report(1, 1.0)
        duration = float(info.duration or 0.0)
        if duration <= 0:
            duration = max(len(track.waveform) / track.sample_rate, rows.shape[0] / fps)
        silence = signal_audio.silence_descriptor()
        out: dict[SnippetGrid, ClipFeatures] = {}
        for i, grid in enumerate(grids):
            n = grid.num_snippets(duration)
            out[grid] = ClipFeatures(
                visual=signal_visual.window_features(rows, grid, n, self.options.cells),
                audio=signal_audio.window_features(desc, grid, n, track.sample_rate, silence=silence),
                duration=duration,
                has_video=bool(info.has_video),
                has_audio=bool(info.has_audio),
                notes=merge_notes(notes),
            )
            stages.report(2, (i + 1) / len(grids))
        return out
