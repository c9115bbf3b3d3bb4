"""The `clip` parts: CLIP image embeddings of frames (`ClipVisual`) and CLIP text embeddings (`ClipText`).

Visual: per snippet, the CLIP image embeddings of ``frames_per_snippet`` frames spread evenly over its
16 frames (default 1: the centre frame, index ``t * stride + 8``); each embedding is L2-normalised, the
snippet's row is their normalised mean. Every needed frame is embedded once, whatever the number of
grids (grids with strides 4 and 8 share their centre frames), while the video streams past; frames are
decoded with the shorter side at the processor's resize target (aspect kept). Snippets past the last
decoded frame use the last frame. Width: CLIP ``projection_dim`` (512 for the default model).

Text: the L2-normalised CLIP text embedding of each prompt (one batch). Width: ``projection_dim``.

Options: ``clip_model`` (default "openai/clip-vit-base-patch32", a Hub id or a local folder), ``device``
("cpu", "cuda", "cuda:N", "auto"); visual only: ``batch_size`` (32), ``frames_per_snippet`` (1).
``device`` and ``batch_size`` do not enter the cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from uniav.encoders.base import check_options, count_option, options_digest, text_option
from uniav.encoders.hub_models import HubFamily, HubModels, LoadedModel, SharesHubModels
from uniav.encoders.parts import PartOutput, TextPart, VisualPart
from uniav.media.grid import SnippetGrid

KIND = "clip"
DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
# bump whenever a change to this module changes the numbers: cached and extracted features are keyed by it
FEATURES_VERSION = 1


@dataclass(frozen=True)
class ClipVisualOptions:
    clip_model: str = DEFAULT_CLIP_MODEL
    device: str = "cpu"
    batch_size: int = 32
    frames_per_snippet: int = 1

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> ClipVisualOptions:
        what = f"visual encoder {KIND!r}"
        given = dict(options or {})
        check_options(what, given, ClipVisual.OPTIONS)
        opts = {**asdict(cls()), **given}
        return cls(
            clip_model=text_option(what, "clip_model", opts["clip_model"]),
            device=text_option(what, "device", opts["device"]),
            batch_size=count_option(what, "batch_size", opts["batch_size"]),
            frames_per_snippet=count_option(what, "frames_per_snippet", opts["frames_per_snippet"]),
        )


def embed_images(loaded: LoadedModel, frames: np.ndarray, batch_size: int) -> np.ndarray:
    """(n, H, W, 3) uint8 frames -> (n, projection_dim) L2-normalised CLIP image embeddings."""
    import torch

    out = []
    with torch.no_grad():
        for a in range(0, len(frames), batch_size):
            inputs = loaded.processor.image_processor(images=list(frames[a : a + batch_size]), return_tensors="pt")
            pixels = inputs["pixel_values"].to(loaded.device)
            emb = loaded.model.get_image_features(pixel_values=pixels).pooler_output
            out.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy())
    return np.concatenate(out, axis=0)


def embed_prompts(loaded: LoadedModel, prompts: Sequence[str]) -> np.ndarray:
    """(n, projection_dim) L2-normalised text embeddings of a CLIP or CLAP model (one batch)."""
    import torch

    with torch.no_grad():
        tok = loaded.processor.tokenizer(list(prompts), padding=True, truncation=True, return_tensors="pt")
        tok = tok.to(loaded.device)
        emb = loaded.model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
        return torch.nn.functional.normalize(emb.pooler_output.float(), dim=-1).cpu().numpy()


class ClipVisual(VisualPart, SharesHubModels):
    """CLIP image embeddings of each snippet's frames."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"clip_model", "device", "batch_size", "frames_per_snippet"})

    def __init__(self, options: Mapping[str, Any] | None = None, models: HubModels | None = None) -> None:
        self.options = ClipVisualOptions.parse(options)
        self.models = models if models is not None else HubModels()

    @property
    def loaded(self) -> LoadedModel:
        return self.models.get(HubFamily.CLIP, self.options.clip_model, self.options.device)

    @property
    def dim(self) -> int:
        return self.models.projection_dim(HubFamily.CLIP, self.options.clip_model)

    @property
    def cache_key(self) -> str:
        numeric = {"clip_model": self.options.clip_model, "frames_per_snippet": self.options.frames_per_snippet}
        return f"{KIND}-v{FEATURES_VERSION}-{options_digest(numeric)}"

    def embed_frames(self, frames: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) uint8 frames -> (n, dim) L2-normalised CLIP image embeddings."""
        if len(frames) == 0:
            return np.zeros((0, self.dim), np.float32)
        return embed_images(self.loaded, frames, self.options.batch_size)

    def decode_size(self, width: int | None, height: int | None) -> tuple[int, int] | None:
        """The shorter side at the CLIP processor's resize target, aspect kept (None: size unknown)."""
        size = getattr(self.loaded.processor.image_processor, "size", None) or {}
        target = size.get("shortest_edge") or size.get("height") or 224
        w, h = int(width or 0), int(height or 0)
        if w <= 0 or h <= 0:
            return None
        scale = target / min(w, h)
        return max(1, round(w * scale)), max(1, round(h * scale))

    def frame_indices(self, grid: SnippetGrid, count: int) -> np.ndarray:
        """(count, frames_per_snippet) indices of the frames each snippet embeds."""
        k = self.options.frames_per_snippet
        offsets = np.round((np.arange(k) + 0.5) * grid.num_frames / k - 0.5).astype(np.int64)
        return np.arange(count)[:, None] * grid.stride + offsets[None, :]

    def _embed_needed(
        self, chunks: Iterable[np.ndarray], needed: np.ndarray, progress: Callable[[int], None] | None
    ) -> tuple[np.ndarray, int]:
        """Embeddings of the `needed` frame indices (sorted, unique) while the chunks stream past, and the
        number of frames decoded; rows of indices past the last decoded frame hold the last frame's."""
        emb = np.zeros((len(needed), self.dim), np.float32)
        pending: list[np.ndarray] = []
        pending_rows: list[np.ndarray] = []
        batch = self.options.batch_size
        start = 0
        last = None

        def flush() -> None:
            if pending:
                emb[np.concatenate(pending_rows)] = self.embed_frames(np.concatenate(pending, axis=0))
                pending.clear()
                pending_rows.clear()

        for chunk in chunks:
            chunk = np.asarray(chunk)
            if len(chunk) == 0:
                continue
            lo, hi = np.searchsorted(needed, [start, start + len(chunk)])
            if hi > lo:
                pending.append(chunk[needed[lo:hi] - start])
                pending_rows.append(np.arange(lo, hi))
            if sum(len(p) for p in pending) >= batch:
                flush()
            start += len(chunk)
            last = chunk[-1:]
            if progress is not None:
                progress(start)
        flush()
        past = np.searchsorted(needed, start)
        if last is not None and past < len(needed):
            emb[past:] = self.embed_frames(last)[0]
        return emb, start

    def encode_frames(
        self,
        chunks: Iterable[np.ndarray],
        grids: Sequence[SnippetGrid],
        counts: Mapping[SnippetGrid, int],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[PartOutput, int]:
        frame_idx = {g: self.frame_indices(g, counts[g]) for g in grids}
        needed = np.unique(np.concatenate([i.ravel() for i in frame_idx.values()]))
        emb, n_decoded = self._embed_needed(chunks, needed, progress)
        if n_decoded == 0:
            return self.no_video(grids, counts), 0
        feats = {}
        for g in grids:
            mean = emb[np.searchsorted(needed, frame_idx[g])].mean(axis=1)
            norm = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
            feats[g] = (mean / norm).astype(np.float32)
        return PartOutput(feats), n_decoded

    def no_video(self, grids: Sequence[SnippetGrid], counts: Mapping[SnippetGrid, int]) -> PartOutput:
        return PartOutput({g: np.zeros((counts[g], self.dim), np.float32) for g in grids})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": KIND, "options": asdict(self.options)}


class ClipText(TextPart, SharesHubModels):
    """L2-normalised CLIP text embeddings."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"clip_model", "device"})

    def __init__(self, options: Mapping[str, Any] | None = None, models: HubModels | None = None) -> None:
        what = f"text encoder {KIND!r}"
        opts = dict(options or {})
        check_options(what, opts, self.OPTIONS)
        self.clip_model = text_option(what, "clip_model", opts.get("clip_model", DEFAULT_CLIP_MODEL))
        self.device = text_option(what, "device", opts.get("device", "cpu"))
        self.models = models if models is not None else HubModels()

    @property
    def dim(self) -> int:
        return self.models.projection_dim(HubFamily.CLIP, self.clip_model)

    @property
    def cache_key(self) -> str:
        return f"{KIND}-text-v{FEATURES_VERSION}-{options_digest({'clip_model': self.clip_model})}"

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        if not prompts:
            return np.zeros((0, self.dim), np.float32)
        return embed_prompts(self.models.get(HubFamily.CLIP, self.clip_model, self.device), prompts)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": KIND, "options": {"clip_model": self.clip_model, "device": self.device}}
