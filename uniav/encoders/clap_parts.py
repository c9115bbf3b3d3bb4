"""The `clap` parts: CLAP audio embeddings of 1-s windows (`ClapAudio`) and CLAP text embeddings (`ClapText`).

Audio: the CLAP audio embedding (L2-normalised) of each snippet's window (``grid.audio_window_s``,
centred on the snippet; zeros outside the signal), at the CLAP feature extractor's rate (48 kHz for the
default model). Windows shared by several grids are embedded once; a silent waveform (a file without
sound) embeds one silent window per window width. Width: CLAP ``projection_dim`` (512).

Text: the L2-normalised CLAP text embedding of each prompt (one batch).

Options: ``clap_model`` (default "laion/clap-htsat-unfused", a Hub id or a local folder), ``device``
("cpu", "cuda", "cuda:N", "auto"); audio only: ``batch_size`` (32). ``device`` and ``batch_size`` do
not enter the cache key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from uniav.encoders.base import check_options, count_option, options_digest, text_option
from uniav.encoders.clip_parts import embed_prompts
from uniav.encoders.hub_models import HubFamily, HubModels, LoadedModel, SharesHubModels
from uniav.encoders.parts import AudioPart, FractionFn, PartOutput, TextPart, report_fraction
from uniav.media.grid import SnippetGrid

KIND = "clap"
DEFAULT_CLAP_MODEL = "laion/clap-htsat-unfused"
# bump whenever a change to this module changes the numbers: cached and extracted features are keyed by it
FEATURES_VERSION = 1


@dataclass(frozen=True)
class ClapAudioOptions:
    clap_model: str = DEFAULT_CLAP_MODEL
    device: str = "cpu"
    batch_size: int = 32

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> ClapAudioOptions:
        what = f"audio encoder {KIND!r}"
        given = dict(options or {})
        check_options(what, given, ClapAudio.OPTIONS)
        opts = {**asdict(cls()), **given}
        return cls(
            clap_model=text_option(what, "clap_model", opts["clap_model"]),
            device=text_option(what, "device", opts["device"]),
            batch_size=count_option(what, "batch_size", opts["batch_size"]),
        )


class ClapAudio(AudioPart, SharesHubModels):
    """CLAP audio embeddings of each snippet's window."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"clap_model", "device", "batch_size"})

    def __init__(self, options: Mapping[str, Any] | None = None, models: HubModels | None = None) -> None:
        self.options = ClapAudioOptions.parse(options)
        self.models = models if models is not None else HubModels()

    @property
    def loaded(self) -> LoadedModel:
        return self.models.get(HubFamily.CLAP, self.options.clap_model, self.options.device)

    @property
    def dim(self) -> int:
        return self.models.projection_dim(HubFamily.CLAP, self.options.clap_model)

    @property
    def cache_key(self) -> str:
        return f"{KIND}-v{FEATURES_VERSION}-{options_digest({'clap_model': self.options.clap_model})}"

    @property
    def sample_rate(self) -> int:
        """The CLAP feature extractor's rate (the model is loaded to read it)."""
        return int(self.loaded.processor.feature_extractor.sampling_rate)

    def embed_audio(self, windows: np.ndarray) -> np.ndarray:
        """(n, samples) windows at `sample_rate` -> (n, dim) L2-normalised CLAP audio embeddings."""
        import torch

        if len(windows) == 0:
            return np.zeros((0, self.dim), np.float32)
        loaded, sr, batch = self.loaded, self.sample_rate, self.options.batch_size
        out = []
        with torch.no_grad():
            for a in range(0, len(windows), batch):
                feats = loaded.processor.feature_extractor(
                    list(windows[a : a + batch]), sampling_rate=sr, return_tensors="pt"
                )
                feats = {k: v.to(loaded.device) for k, v in feats.items()}
                emb = loaded.model.get_audio_features(**feats).pooler_output
                out.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy())
        return np.concatenate(out, axis=0)

    def _embed_windows(
        self, wave: np.ndarray, starts: np.ndarray, width: int, report: FractionFn, done: int, total: int
    ) -> np.ndarray:
        """Embeddings of the windows [start, start + width) of `wave` (zeros outside), batch by batch."""
        pad_l = int(max(0, -starts.min()))
        pad_r = int(max(0, starts.max() + width - len(wave)))
        padded = np.pad(wave, (pad_l, pad_r))
        step = self.options.batch_size
        parts = []
        for a in range(0, len(starts), step):
            idx = (starts[a : a + step] + pad_l)[:, None] + np.arange(width)[None, :]
            parts.append(self.embed_audio(padded[idx]))
            report((done + min(a + step, len(starts))) / total)
        return np.concatenate(parts, axis=0)

    def encode_waveform(
        self,
        waveform: np.ndarray,
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: FractionFn | None = None,
    ) -> PartOutput:
        report = report_fraction(progress)
        wave = np.asarray(waveform, dtype=np.float32)
        sr = self.sample_rate
        widths = sorted({g.audio_window_s for g in grids})
        feats: dict[SnippetGrid, np.ndarray] = {}
        if not wave.any():  # silence everywhere (a file without sound): every window embeds the same zeros
            for width in widths:
                silence = self.embed_audio(np.zeros((1, int(round(width * sr))), np.float32))[0]
                feats.update({g: np.tile(silence, (counts[g], 1)) for g in grids if g.audio_window_s == width})
            report(1.0)
            return PartOutput({g: feats[g] for g in grids})
        groups = []
        for width in widths:
            group = [g for g in grids if g.audio_window_s == width]
            bounds = [g.audio_bounds(counts[g], sr) for g in group]
            starts, inverse = np.unique(np.concatenate([bd[:, 0] for bd in bounds]), return_inverse=True)
            groups.append((group, bounds, starts, inverse))
        total = sum(len(starts) for _, _, starts, _ in groups)
        done = 0
        for group, bounds, starts, inverse in groups:
            span = int(bounds[0][0, 1] - bounds[0][0, 0])
            emb = self._embed_windows(wave, starts, span, report, done, total)
            done += len(starts)
            offsets = np.cumsum([0] + [len(bd) for bd in bounds])
            for i, g in enumerate(group):
                feats[g] = emb[inverse[offsets[i] : offsets[i + 1]]]
        return PartOutput({g: feats[g] for g in grids})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": KIND, "options": asdict(self.options)}


class ClapText(TextPart, SharesHubModels):
    """L2-normalised CLAP text embeddings."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"clap_model", "device"})

    def __init__(self, options: Mapping[str, Any] | None = None, models: HubModels | None = None) -> None:
        what = f"text encoder {KIND!r}"
        opts = dict(options or {})
        check_options(what, opts, self.OPTIONS)
        self.clap_model = text_option(what, "clap_model", opts.get("clap_model", DEFAULT_CLAP_MODEL))
        self.device = text_option(what, "device", opts.get("device", "cpu"))
        self.models = models if models is not None else HubModels()

    @property
    def dim(self) -> int:
        return self.models.projection_dim(HubFamily.CLAP, self.clap_model)

    @property
    def cache_key(self) -> str:
        return f"{KIND}-text-v{FEATURES_VERSION}-{options_digest({'clap_model': self.clap_model})}"

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        if not prompts:
            return np.zeros((0, self.dim), np.float32)
        return embed_prompts(self.models.get(HubFamily.CLAP, self.clap_model, self.device), prompts)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": KIND, "options": {"clap_model": self.clap_model, "device": self.device}}
