"""`PartsEncoder`: a media file through one visual, one audio and one text part (see `uniav.encoders.parts`).

Per file: probe once; decode the audio track once at the audio part's `sample_rate` (resampled with
torchaudio when the decoder returns another rate); stream the video once at the grids' frame rate and
the visual part's `decode_size`, in chunks of its `chunk_frames`, into `VisualPart.encode_frames`; give
the waveform to `AudioPart.encode_waveform`. Every part returns the rows of every requested grid, so
several grids cost one decode.

Missing tracks: a file without video gets the visual part's `no_video` rows (zeros) and
`NOTE_NO_VIDEO`; a stream that yields no frame the same and `NOTE_NO_FRAMES`; a file without audio is
encoded on the decoder's silence with `NOTE_NO_AUDIO` in place of the decoder's own remark. Duration:
the probe's; when it cannot tell (0), the longer of the audio and the video, the video then being
streamed once more to count its frames (rows need the number of snippets before the stream starts).

`cache_key` combines the visual and audio parts' keys: the text part does not change the features.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from uniav.config import EncoderSpec
from uniav.encoders.base import (
    NOTE_NO_AUDIO,
    NOTE_NO_FRAMES,
    NOTE_NO_VIDEO,
    ClipFeatures,
    MediaEncoder,
    MediaFunctions,
    ProgressSplitter,
    common_fps,
    merge_notes,
    track_notes,
    unique_grids,
)
from uniav.encoders.parts import AudioPart, PartOutput, TextPart, VisualPart
from uniav.media.grid import SnippetGrid
from uniav.media.resample import resample
from uniav.progress import FractionFn

# share of the progress bar: decoding the audio, streaming + encoding the video, encoding the audio
_STAGE_WEIGHTS = (1.0, 6.0, 3.0)


class PartsEncoder(MediaEncoder):
    """Visual, audio and text features of a file from three independent parts."""

    def __init__(
        self,
        spec: EncoderSpec,
        visual: VisualPart,
        audio: AudioPart,
        text: TextPart,
        media: MediaFunctions | None = None,
    ) -> None:
        self.spec = spec
        self.visual = visual
        self.audio = audio
        self.text = text
        self._media = media

    @property
    def visual_dim(self) -> int:
        return self.visual.dim

    @property
    def audio_dim(self) -> int:
        return self.audio.dim

    @property
    def text_dim(self) -> int:
        return self.text.dim

    @property
    def cache_key(self) -> str:
        return f"visual={self.visual.cache_key};audio={self.audio.cache_key}"

    @property
    def visual_score_classes(self) -> tuple[str, ...] | None:
        return self.visual.score_classes

    @property
    def audio_score_classes(self) -> tuple[str, ...] | None:
        return self.audio.score_classes

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        return self.text.encode_text(list(prompts))

    def describe(self) -> dict[str, Any]:
        parts = {"visual": self.visual.describe(), "audio": self.audio.describe(), "text": self.text.describe()}
        return {**super().describe(), "cache_key": self.cache_key, "parts": parts}

    # ---- files ---------------------------------------------------------------------------------
    def _open_video(self, path: str | Path, info: Any, fps: float) -> Any:
        size = self.visual.decode_size(getattr(info, "width", None), getattr(info, "height", None))
        return self.media.open_video(path, fps=fps, size=size, chunk=self.visual.chunk_frames, info=info)

    def _duration(self, path: str | Path, info: Any, wave: np.ndarray, fps: float) -> float:
        """The probe's duration, else the longer of the audio and the video (frames counted in a stream)."""
        duration = float(info.duration or 0.0)
        if duration > 0:
            return duration
        frames = sum(len(c) for c in self._open_video(path, info, fps)) if info.has_video else 0
        return max(len(wave) / self.audio.sample_rate, frames / fps)

    def _visual(
        self,
        path: str | Path,
        info: Any,
        fps: float,
        grids: Sequence[SnippetGrid],
        counts: dict[SnippetGrid, int],
        stages: ProgressSplitter,
    ) -> tuple[PartOutput, list[str]]:
        """The visual part's rows and the remarks on the video."""
        if not info.has_video:
            return self.visual.no_video(grids, counts), [NOTE_NO_VIDEO]
        stream = self._open_video(path, info, fps)
        expected = max(int(getattr(stream, "expected_frames", 0) or 0), 1)
        out, n_decoded = self.visual.encode_frames(
            (np.asarray(c) for c in stream), grids, counts, lambda done: stages.report(1, done / expected)
        )
        notes = list(getattr(stream, "notes", []) or [])
        if n_decoded == 0:
            return self.visual.no_video(grids, counts), [*notes, NOTE_NO_FRAMES]
        return out, notes

    def encode_file(
        self, path: str | Path, grids: Sequence[SnippetGrid], progress: FractionFn | None = None
    ) -> dict[SnippetGrid, ClipFeatures]:
        grids = unique_grids(grids)
        fps = common_fps(grids)
        stages = ProgressSplitter(progress, _STAGE_WEIGHTS)
        info = self.media.probe_media(path)
        sr = int(self.audio.sample_rate)
        track = self.media.decode_audio(path, sample_rate=sr, info=info)
        wave = resample(track.waveform, int(track.sample_rate), sr)
        stages.report(0, 1.0)
        duration = self._duration(path, info, wave, fps)
        counts = {g: g.num_snippets(duration) for g in grids}
        notes = track_notes(track.notes, bool(info.has_audio), NOTE_NO_AUDIO)
        vis, video_notes = self._visual(path, info, fps, grids, counts, stages)
        stages.report(1, 1.0)
        aud = self.audio.encode_waveform(wave, grids, counts, lambda f: stages.report(2, f))
        stages.report(2, 1.0)
        all_notes = merge_notes(notes, video_notes, vis.notes, aud.notes)
        return {
            g: ClipFeatures(
                visual=np.asarray(vis.features[g], dtype=np.float32),
                audio=np.asarray(aud.features[g], dtype=np.float32),
                duration=duration,
                has_video=bool(info.has_video),
                has_audio=bool(info.has_audio),
                notes=all_notes,
                visual_scores=_scores(vis, g),
                audio_scores=_scores(aud, g),
            )
            for g in grids
        }


def _scores(out: PartOutput, grid: SnippetGrid) -> np.ndarray | None:
    if out.scores is None or grid not in out.scores:
        return None
    return np.asarray(out.scores[grid], dtype=np.float32)
