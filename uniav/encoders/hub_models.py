"""CLIP and CLAP from the Hugging Face Hub through `transformers`, loaded on first use, shared by parts.

The parts of one encoder are given one `HubModels` (the factory makes it), so a CLIP visual part and a
CLIP text part naming the same model and device load that model once; so do a CLAP audio part and a CLAP
text part. A part built alone gets its own. Widths come from the model's config only (`projection_dim`),
without loading weights. A model name is a Hub id or a local folder; nothing is downloaded when
``HF_HUB_OFFLINE=1``, and a model that cannot be loaded raises `EncoderError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, assert_never

from uniav.encoders.base import EncoderError

DEVICES = ("cpu", "cuda", "auto")


class HubFamily(StrEnum):
    """The model families parts load: CLIP (image-text) and CLAP (audio-text)."""

    CLIP = "CLIP"
    CLAP = "CLAP"


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode on `device` and its processor (tokenizer + image processor or feature extractor)."""

    model: Any
    processor: Any
    device: Any  # torch.device


def resolve_device(name: str) -> Any:
    """The torch device an option names: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when available)."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise EncoderError(f"unknown device {name!r}; use one of {DEVICES} or cuda:N") from e


def _classes(family: HubFamily) -> tuple[Any, Any, Any]:
    """(model, processor, config) classes of a family."""
    match family:
        case HubFamily.CLIP:
            from transformers import CLIPConfig, CLIPModel, CLIPProcessor

            return CLIPModel, CLIPProcessor, CLIPConfig
        case HubFamily.CLAP:
            from transformers import ClapConfig, ClapModel, ClapProcessor

            return ClapModel, ClapProcessor, ClapConfig
        case unreachable:
            assert_never(unreachable)


def _load(loader: Any, name: str, what: str) -> Any:
    try:
        return loader.from_pretrained(name)
    except (OSError, ValueError) as e:
        raise EncoderError(
            f"could not load the {what} {name!r} ({e}); it must be a local folder or a Hub id that is "
            "downloaded (or downloadable when HF_HUB_OFFLINE is not set)"
        ) from e


class HubModels:
    """Models loaded on first use, one per (family, name, device); widths per (family, name)."""

    def __init__(self) -> None:
        self._models: dict[tuple[HubFamily, str, str], LoadedModel] = {}
        self._dims: dict[tuple[HubFamily, str], int] = {}

    def get(self, family: HubFamily, name: str, device: str) -> LoadedModel:
        """The model `name` of `family` on `device` (loaded now if it is not yet)."""
        dev = resolve_device(device)
        key = (family, name, str(dev))
        if key not in self._models:
            model_cls, proc_cls, _ = _classes(family)
            model = _load(model_cls, name, f"{family} model")
            proc = _load(proc_cls, name, f"{family} processor")
            self._models[key] = LoadedModel(model.to(dev).eval(), proc, dev)
        return self._models[key]

    def projection_dim(self, family: HubFamily, name: str) -> int:
        """The width of the model's embeddings, from its config (no weights loaded)."""
        key = (family, name)
        if key not in self._dims:
            _, _, config_cls = _classes(family)
            self._dims[key] = int(_load(config_cls, name, f"{family} config").projection_dim)
        return self._dims[key]

    @property
    def loaded(self) -> tuple[tuple[HubFamily, str, str], ...]:
        """(family, name, device) of every model loaded so far."""
        return tuple(self._models)


class SharesHubModels:
    """Marks a part constructed as ``Cls(options, models=HubModels)``: the factory passes the encoder's one
    `HubModels` to every such part."""
