"""The `clip-clap` text part: CLIP and CLAP text embeddings of a prompt side by side.

Each half is L2-normalised by its model; the concatenation is divided by sqrt(2), so that rows have unit
norm and the cosine with a (CLIP visual, CLAP audio) pair weighs the two models equally. Width: CLIP
``projection_dim`` + CLAP ``projection_dim`` (1024 for the default models).

Options: ``clip_model``, ``clap_model`` (as `ClipText`, `ClapText`), ``device``. With `HubModels` shared
with a `ClipVisual` and a `ClapAudio` of the same models, nothing is loaded twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from uniav.encoders.base import check_options, options_digest
from uniav.encoders.clap_parts import ClapText
from uniav.encoders.clip_parts import ClipText
from uniav.encoders.hub_models import HubModels, SharesHubModels
from uniav.encoders.parts import TextPart

KIND = "clip-clap"


class ClipClapText(TextPart, SharesHubModels):
    """[CLIP text, CLAP text] / sqrt(2)."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"clip_model", "clap_model", "device"})

    def __init__(self, options: Mapping[str, Any] | None = None, models: HubModels | None = None) -> None:
        opts = dict(options or {})
        check_options(f"text encoder {KIND!r}", opts, self.OPTIONS)
        shared = models if models is not None else HubModels()
        self.clip = ClipText({k: v for k, v in opts.items() if k in ClipText.OPTIONS}, models=shared)
        self.clap = ClapText({k: v for k, v in opts.items() if k in ClapText.OPTIONS}, models=shared)

    @property
    def dim(self) -> int:
        return self.clip.dim + self.clap.dim

    @property
    def cache_key(self) -> str:
        names = {"clip_model": self.clip.clip_model, "clap_model": self.clap.clap_model}
        return f"{KIND}-text-v1-{options_digest(names)}"

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        both = np.concatenate([self.clip.encode_text(prompts), self.clap.encode_text(prompts)], axis=1)
        return (both / np.float32(math.sqrt(2))).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        options = {"clip_model": self.clip.clip_model, "clap_model": self.clap.clap_model, "device": self.clip.device}
        return {**super().describe(), "kind": KIND, "options": options}
