"""Model folders and the Hugging Face Hub: save, load (local folder or Hub repo id), publish.

A model folder holds ``config.json`` (the full `ModelConfig`: widths, tasks, vocabularies,
templates, decoding, encoder), ``model.safetensors`` (the weights), optionally
``prompt_embeddings.safetensors`` (per task, the text embeddings of its training vocabulary, for
encoders that cannot embed new text, e.g. precomputed ONE-PEACE features) and a ``README.md``
model card. Only safetensors are ever loaded from the Hub.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from uniav.config import ModelConfig
from uniav.model_card import default_model_card

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PROMPTS_FILE = "prompt_embeddings.safetensors"
CARD_FILE = "README.md"
HUB_PATTERNS = [CONFIG_FILE, WEIGHTS_FILE, PROMPTS_FILE, CARD_FILE]


class CheckpointError(ValueError):
    """A checkpoint that does not fit its configuration (names the tensors at fault)."""


def check_state_dict(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint"
) -> None:
    """Raise `CheckpointError` listing missing and unexpected keys and every shape mismatch."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    mismatched = [
        f"{k}: {source} {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state_dict))
        if tuple(own[k].shape) != tuple(state_dict[k].shape)
    ]
    problems = []

    def listing(title: str, items: list[str]) -> None:
        if items:
            shown = items[:25] + ([f"... and {len(items) - 25} more"] if len(items) > 25 else [])
            problems.append(f"{title} ({len(items)}):\n  " + "\n  ".join(shown))

    listing("shape mismatches", mismatched)
    listing("missing keys", missing)
    listing("unexpected keys", unexpected)
    if problems:
        raise CheckpointError(f"{source} does not fit the model configuration:\n" + "\n".join(problems))


def load_weights(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    check_state_dict(model, state_dict, source)
    model.load_state_dict(dict(state_dict), strict=True)


def resolve_model_dir(
    name_or_path: str | Path,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    token: str | bool | None = None,
) -> Path:
    """A local folder as is, else a Hub repository id downloaded (or found in the cache) with
    `huggingface_hub`; honours ``HF_HUB_OFFLINE`` and the cache, fetches safetensors only."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise FileNotFoundError(f"model not found: {name} is neither a model folder nor a Hub repo id (owner/name)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        local = snapshot_download(
            name, revision=revision, cache_dir=cache_dir, token=token, allow_patterns=HUB_PATTERNS
        )
    except LocalEntryNotFoundError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}
        why = (
            "offline mode (HF_HUB_OFFLINE=1) and it is not in the local Hub cache"
            if offline
            else ("the Hub cannot be reached and it is not in the local Hub cache")
        )
        raise FileNotFoundError(f"cannot load {name}@{revision or 'main'}: {why}") from exc
    except RepositoryNotFoundError as exc:
        raise FileNotFoundError(f"Hub repository {name} not found (or private without a token)") from exc
    except HfHubHTTPError as exc:
        raise FileNotFoundError(f"cannot download {name}@{revision or 'main'}: {exc}") from exc
    return Path(local)


class HubMixin:
    """Model folders and the Hub for a network built from a `ModelConfig` (`UniAV` inherits it).

    The class only needs ``config``, ``state_dict``/``load_state_dict``, ``prompt_embeddings`` (per task, the
    (C, text_dim) embeddings of the training prompts), ``attach_prompt_embeddings``, ``source`` and
    ``num_parameters``, and to be constructible as ``cls(config)``.
    """

    config: ModelConfig
    prompt_embeddings: dict[str, torch.Tensor]
    source: str | None

    def save_pretrained(self, directory: str | Path, model_card: str | None = None) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (+ attached prompt embeddings, a model card); returns
        the folder."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.config.save(out / CONFIG_FILE)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(tensors, str(out / WEIGHTS_FILE), metadata={"format": "pt", "library": "uniav"})
        if self.prompt_embeddings:
            embeddings = {k: v.detach().cpu().contiguous() for k, v in self.prompt_embeddings.items()}
            save_file(embeddings, str(out / PROMPTS_FILE))
        card = out / CARD_FILE
        if model_card is not None:
            card.write_text(model_card)
        elif not card.exists():
            card.write_text(default_model_card(self.config, self.num_parameters()))
        return out

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        token: str | bool | None = None,
        device: str | torch.device = "cpu",
        config_overrides: Mapping[str, Any] | None = None,
    ) -> Self:
        """Build from a model folder or a Hub repo id and load the weights (eval mode); safetensors only."""
        folder = resolve_model_dir(name_or_path, revision=revision, cache_dir=cache_dir, token=token)
        config = read_config(folder)
        if config_overrides:
            config = config.replace(**config_overrides)
        model = cls(config)
        load_weights(model, read_weights(folder), source=str(folder / WEIGHTS_FILE))
        prompts = folder / PROMPTS_FILE
        if prompts.is_file():
            model.attach_prompt_embeddings(load_file(str(prompts)))
        model.source = str(name_or_path)
        return model.to(device).eval()

    def push_to_hub(
        self,
        repo_id: str,
        *,
        private: bool | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        commit_message: str = "Upload UniAV model",
        model_card: str | None = None,
        folder: str | Path | None = None,
        api: Any = None,
    ) -> str:
        """Create (if needed) the Hub repository `repo_id` and upload the model folder; returns the commit URL.
        `folder` uploads an existing model folder (with its card) instead of saving this model afresh."""
        from huggingface_hub import HfApi

        api = api or HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(folder) if folder is not None else self.save_pretrained(tmp, model_card=model_card)
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=str(src),
                repo_type="model",
                revision=revision,
                commit_message=commit_message,
                allow_patterns=HUB_PATTERNS,
            )
        return str(getattr(info, "commit_url", info))


def read_config(folder: Path) -> ModelConfig:
    """The `ModelConfig` of a model folder (a clear error for a folder that is not one)."""
    cfg_path, w_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{folder}: no {CONFIG_FILE}; not a UniAV model folder")
    if not w_path.is_file():
        raise FileNotFoundError(f"{folder}: no {WEIGHTS_FILE} (UniAV loads safetensors weights only)")
    try:
        return ModelConfig.load(cfg_path)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{cfg_path}: invalid UniAV configuration: {exc}") from exc


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of a model folder's safetensors file."""
    path = folder / WEIGHTS_FILE
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable safetensors file ({exc})") from exc
