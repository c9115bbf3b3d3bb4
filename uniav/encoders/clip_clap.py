"""The `clip-clap` encoder: CLIP on frames, CLAP on 1-s audio windows, both from the Hugging Face Hub.

Visual: per snippet, CLIP image embeddings of ``frames_per_snippet`` frames spread evenly over its 16
frames (default 1: the centre frame, index ``t * stride + 8``); each embedding is L2-normalised, the
snippet's row is their normalised mean. Every needed frame is embedded once, whatever the number of
grids (grids with strides 4 and 8 share their centre frames), while the video streams past.
Audio: CLAP audio embeddings (already L2-normalised by the model) of each snippet's 1-s window, decoded at
the CLAP feature extractor's rate (48 kHz; resampled with torchaudio if the decoder returns another
rate); windows shared by several grids are embedded once; a file without audio gets the embedding of
silence. Text: ``text="concat"`` (default) concatenates the normalised CLIP and CLAP text embeddings of
the prompt and divides by sqrt(2) (unit norm); ``"clip"`` or ``"clap"`` keeps one of them.

Widths: visual = CLIP ``projection_dim`` (512 for the default), audio = CLAP ``projection_dim`` (512),
text = their sum (1024) for ``concat``.
Options: ``clip_model`` (default "openai/clip-vit-base-patch32"), ``clap_model`` (default
"laion/clap-htsat-unfused"), Hub ids or local folders; ``device`` ("cpu", "cuda", "auto");
``batch_size`` (32); ``frames_per_snippet`` (1); ``text`` ("concat" | "clip" | "clap"). ``device`` and
``batch_size`` do not enter the cache key. Models load on first use; nothing is downloaded when
``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uniav.config import EncoderSpec
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

KIND = "clip-clap"
# bump whenever a change to this module changes the numbers: cached and extracted features are keyed by it
FEATURES_VERSION = 1
TEXT_MODES = ("concat", "clip", "clap")


@dataclass(frozen=True)
class ClipClapOptions:
    clip_model: str = "openai/clip-vit-base-patch32"
    clap_model: str = "laion/clap-htsat-unfused"
    device: str = "cpu"
    batch_size: int = 32
    frames_per_snippet: int = 1
    text: str = "concat"

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ClipClapOptions:
        check_options(KIND, options, [f for f in cls.__dataclass_fields__])
        opts = cls(**options)
        if opts.text not in TEXT_MODES:
            raise EncoderError(f"encoder 'clip-clap': text must be one of {TEXT_MODES}, got {opts.text!r}")
        if int(opts.batch_size) < 1 or int(opts.frames_per_snippet) < 1:
            raise EncoderError(f"encoder 'clip-clap': batch_size and frames_per_snippet must be >= 1, got {opts}")
        return opts

    def numeric(self) -> dict[str, Any]:
        """The options that change the numbers."""
        d = asdict(self)
        d.pop("device")
        d.pop("batch_size")
        return d


def _load(loader: Any, name: str, what: str) -> Any:
    try:
        return loader.from_pretrained(name)
    except (OSError, ValueError) as e:
        raise EncoderError(
            f"could not load the {what} {name!r} ({e}); it must be a local folder or a Hub id that is "
            "downloaded (or downloadable when HF_HUB_OFFLINE is not set)"
        ) from e


class ClipClapEncoder(MediaEncoder):
    """CLIP image embeddings of frames, CLAP audio embeddings of 1-s windows, CLIP+CLAP text embeddings."""

    def __init__(self, spec: EncoderSpec | None = None, media: MediaFunctions | None = None) -> None:
        self.spec = spec if spec is not None else EncoderSpec(kind=KIND)
        if self.spec.kind != KIND:
            raise EncoderError(f"ClipClapEncoder got an encoder spec of kind {self.spec.kind!r}")
        self.options = ClipClapOptions.from_options(dict(self.spec.options))
        self._media = media
        self._clip: tuple[Any, Any] | None = None  # (model, processor)
        self._clap: tuple[Any, Any] | None = None
        self._dims: tuple[int, int] | None = None

    # ---- models (loaded on first use) -------------------------------------------------------
    @property
    def device(self) -> Any:
        import torch

        dev = self.options.device
        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.device(dev)

    def _clip_parts(self) -> tuple[Any, Any]:
        if self._clip is None:
            from transformers import CLIPModel, CLIPProcessor

            model = _load(CLIPModel, self.options.clip_model, "CLIP model")
            proc = _load(CLIPProcessor, self.options.clip_model, "CLIP processor")
            self._clip = (model.to(self.device).eval(), proc)
        return self._clip

    def _clap_parts(self) -> tuple[Any, Any]:
        if self._clap is None:
            from transformers import ClapModel, ClapProcessor

            model = _load(ClapModel, self.options.clap_model, "CLAP model")
            proc = _load(ClapProcessor, self.options.clap_model, "CLAP processor")
            self._clap = (model.to(self.device).eval(), proc)
        return self._clap

    def _widths(self) -> tuple[int, int]:
        if self._dims is None:
            from transformers import ClapConfig, CLIPConfig

            clip_cfg = _load(CLIPConfig, self.options.clip_model, "CLIP config")
            clap_cfg = _load(ClapConfig, self.options.clap_model, "CLAP config")
            self._dims = (int(clip_cfg.projection_dim), int(clap_cfg.projection_dim))
        return self._dims

    @property
    def visual_dim(self) -> int:
        return self._widths()[0]

    @property
    def audio_dim(self) -> int:
        return self._widths()[1]

    @property
    def text_dim(self) -> int:
        clip_d, clap_d = self._widths()
        return {"concat": clip_d + clap_d, "clip": clip_d, "clap": clap_d}[self.options.text]

    @property
    def cache_key(self) -> str:
        return f"{KIND}-v{FEATURES_VERSION}-{options_digest(self.options.numeric())}"

    # ---- forward passes ----------------------------------------------------------------------
    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) uint8 frames -> (n, visual_dim) L2-normalised CLIP image embeddings."""
        import torch

        model, proc = self._clip_parts()
        out = []
        bs = int(self.options.batch_size)
        with torch.no_grad():
            for a in range(0, len(frames), bs):
                inputs = proc.image_processor(images=list(frames[a : a + bs]), return_tensors="pt")
                pixels = inputs["pixel_values"].to(self.device)
                emb = model.get_image_features(pixel_values=pixels).pooler_output
                out.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy())
        return np.concatenate(out, axis=0) if out else np.zeros((0, self.visual_dim), np.float32)

    def embed_audio(self, windows: np.ndarray, sample_rate: int) -> np.ndarray:
        """(n, samples) windows at the CLAP rate -> (n, audio_dim) L2-normalised CLAP audio embeddings."""
        import torch

        model, proc = self._clap_parts()
        out = []
        bs = int(self.options.batch_size)
        with torch.no_grad():
            for a in range(0, len(windows), bs):
                feats = proc.feature_extractor(
                    list(windows[a : a + bs]), sampling_rate=sample_rate, return_tensors="pt"
                )
                feats = {k: v.to(self.device) for k, v in feats.items()}
                emb = model.get_audio_features(**feats).pooler_output
                out.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy())
        return np.concatenate(out, axis=0) if out else np.zeros((0, self.audio_dim), np.float32)

    def _embed_windows(
        self, wave: np.ndarray, starts: np.ndarray, width: int, sample_rate: int, report: ProgressFn | None = None
    ) -> np.ndarray:
        """CLAP embeddings of the windows [start, start + width) of `wave` (zeros outside), batch by batch."""
        pad_l = int(max(0, -starts.min()))
        pad_r = int(max(0, starts.max() + width - len(wave)))
        padded = np.pad(wave, (pad_l, pad_r))
        step = int(self.options.batch_size)
        parts = []
        for a in range(0, len(starts), step):
            idx = (starts[a : a + step] + pad_l)[:, None] + np.arange(width)[None, :]
            parts.append(self.embed_audio(padded[idx], sample_rate))
            if report is not None:
                report(min(a + step, len(starts)) / len(starts))
        return np.concatenate(parts, axis=0)

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        import torch

        prompts = list(prompts)
        parts = []
        with torch.no_grad():
            if self.options.text in ("concat", "clip"):
                model, proc = self._clip_parts()
                tok = proc.tokenizer(prompts, padding=True, truncation=True, return_tensors="pt").to(self.device)
                emb = model.get_text_features(
                    input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]
                ).pooler_output
                parts.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy())
            if self.options.text in ("concat", "clap"):
                model, proc = self._clap_parts()
                tok = proc.tokenizer(prompts, padding=True, truncation=True, return_tensors="pt").to(self.device)
                emb = model.get_text_features(
                    input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]
                ).pooler_output
                parts.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy())
        out = np.concatenate(parts, axis=1) / np.float32(math.sqrt(len(parts)))
        return out.astype(np.float32)

    # ---- files ---------------------------------------------------------------------------------
    def _frame_offsets(self, grid: SnippetGrid) -> np.ndarray:
        k = int(self.options.frames_per_snippet)
        return np.round((np.arange(k) + 0.5) * grid.num_frames / k - 0.5).astype(np.int64)

    def _decode_size(self, info: Any) -> tuple[int, int] | None:
        """Decode so the shorter side equals the CLIP processor's resize target (aspect kept)."""
        _, proc = self._clip_parts()
        size = getattr(proc.image_processor, "size", None) or {}
        target = size.get("shortest_edge") or size.get("height") or 224
        w, h = int(getattr(info, "width", 0) or 0), int(getattr(info, "height", 0) or 0)
        if w <= 0 or h <= 0:
            return None
        scale = target / min(w, h)
        return max(1, round(w * scale)), max(1, round(h * scale))

    def _visual(
        self, path: str | Path, info: Any, fps: float, needed: np.ndarray, stages: ProgressSplitter
    ) -> tuple[np.ndarray, int, list[str]]:
        """Embeddings of the needed frame indices (sorted unique) while streaming; (emb, #decoded, notes).

        Rows of indices past the last decoded frame hold the last frame's embedding."""
        stream = self.media.open_video(path, fps=fps, size=self._decode_size(info), chunk=64, info=info)
        expected = max(int(getattr(stream, "expected_frames", 0) or 0), 1)
        emb = np.zeros((len(needed), self.visual_dim), np.float32)
        pending: list[np.ndarray] = []
        pending_rows: list[np.ndarray] = []
        bs = int(self.options.batch_size)
        start = 0
        last = None

        def flush() -> None:
            if pending:
                emb[np.concatenate(pending_rows)] = self.embed_frames(np.concatenate(pending, axis=0))
                pending.clear()
                pending_rows.clear()

        for chunk in stream:
            chunk = np.asarray(chunk)
            if len(chunk) == 0:
                continue
            lo, hi = np.searchsorted(needed, [start, start + len(chunk)])
            if hi > lo:
                pending.append(chunk[needed[lo:hi] - start])
                pending_rows.append(np.arange(lo, hi))
            if sum(len(p) for p in pending) >= bs:
                flush()
            start += len(chunk)
            last = chunk[-1:]
            stages.report(1, start / expected)
        flush()
        past = np.searchsorted(needed, start)
        if last is not None and past < len(needed):
            emb[past:] = self.embed_frames(last)[0]
        return emb, start, list(getattr(stream, "notes", []) or [])

    def encode_file(
        self, path: str | Path, grids: Sequence[SnippetGrid], progress: ProgressFn | None = None
    ) -> dict[SnippetGrid, ClipFeatures]:
        grids = unique_grids(grids)
        fps = common_fps(grids)
        stages = ProgressSplitter(progress, [1.0, 5.0, 4.0])
        info = self.media.probe_media(path)
        _, clap_proc = self._clap_parts()
        sr = int(clap_proc.feature_extractor.sampling_rate)
        track = self.media.decode_audio(path, sample_rate=sr, info=info)
        wave = np.asarray(track.waveform, dtype=np.float32)
        if int(track.sample_rate) != sr:
            import torch
            import torchaudio

            wave = torchaudio.functional.resample(torch.from_numpy(wave), int(track.sample_rate), sr).numpy()
        stages.report(0, 1.0)
        duration = float(info.duration or 0.0) or len(wave) / sr
        counts = {g: g.num_snippets(duration) for g in grids}
        notes = track_notes(track.notes, bool(info.has_audio), NOTE_NO_AUDIO)

        # visual: the union of the frames every grid needs
        frame_idx = {g: (np.arange(counts[g])[:, None] * g.stride + self._frame_offsets(g)[None, :]) for g in grids}
        vis_rows: dict[SnippetGrid, np.ndarray] = {}
        if info.has_video:
            needed = np.unique(np.concatenate([i.ravel() for i in frame_idx.values()]))
            emb, n_decoded, vnotes = self._visual(path, info, fps, needed, stages)
            notes += vnotes
            if n_decoded == 0:
                notes.append(NOTE_NO_FRAMES)
            for g in grids:
                if n_decoded == 0:
                    vis_rows[g] = np.zeros((counts[g], self.visual_dim), np.float32)
                    continue
                mean = emb[np.searchsorted(needed, frame_idx[g])].mean(axis=1)
                vis_rows[g] = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
        else:
            notes.append(NOTE_NO_VIDEO)
            vis_rows = {g: np.zeros((counts[g], self.visual_dim), np.float32) for g in grids}
        stages.report(1, 1.0)

        # audio: each distinct window once
        aud_rows: dict[SnippetGrid, np.ndarray] = {}
        if not info.has_audio:
            span = int(round(grids[0].audio_window_s * sr))
            silence = self.embed_audio(np.zeros((1, span), np.float32), sr)[0]
            aud_rows = {g: np.tile(silence, (counts[g], 1)) for g in grids}
        else:
            for width in sorted({g.audio_window_s for g in grids}):
                group = [g for g in grids if g.audio_window_s == width]
                bounds = [g.audio_bounds(counts[g], sr) for g in group]
                starts, inverse = np.unique(np.concatenate([bd[:, 0] for bd in bounds]), return_inverse=True)
                span = int(bounds[0][0, 1] - bounds[0][0, 0])
                emb_a = self._embed_windows(wave, starts, span, sr, lambda f: stages.report(2, f))
                offsets = np.cumsum([0] + [len(bd) for bd in bounds])
                for i, g in enumerate(group):
                    aud_rows[g] = emb_a[inverse[offsets[i] : offsets[i + 1]]]
        stages.report(2, 1.0)
        return {
            g: ClipFeatures(
                visual=vis_rows[g].astype(np.float32),
                audio=aud_rows[g].astype(np.float32),
                duration=duration,
                has_video=bool(info.has_video),
                has_audio=bool(info.has_audio),
                notes=merge_notes(notes),
            )
            for g in grids
        }
