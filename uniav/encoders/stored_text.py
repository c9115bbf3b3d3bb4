"""The `features` text part: prompt embeddings computed elsewhere and stored in ``.npy`` files.

Precomputed features (ONE-PEACE) come with prompt embeddings of a text encoder that is not available
here, so `StoredText.encode_text` can only return embeddings of prompts it has stored. It is a text part
like any other: with `FeaturesEncoder` (the paper's setting) or, as long as the widths match, with media
parts (e.g. signal visual and audio with text embeddings made by another tool).

``text_embeddings`` maps a task name to a C x D ``.npy`` file (the authors ship e.g. ``anet_prompt.npy``),
or is one path; beside each ``X.npy`` a ``X.txt`` (one prompt per line, row order) or ``X.json`` (a list of
prompts, ``{"prompts": [...]}`` or ``{"labels": [...], "template": "A sound event of {label}."}``) says
which prompt each row embeds. A prompt found in none of them raises `UnknownPromptError` naming it:
editing the vocabulary of a model that uses this part needs a new embedding file. Prompts match after
collapsing white space.

Options: ``text_embeddings`` ({task: path} or one path), ``text_dim`` (1536; checked against the files).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from uniav.encoders.base import EncoderError, UnknownPromptError, check_options, count_option, options_digest
from uniav.encoders.parts import TextPart

KIND = "features"
DEFAULT_DIM = 1536


def normalise_prompt(text: str) -> str:
    return " ".join(text.split())


def load_prompt_list(npy_path: Path, rows: int) -> list[str]:
    """The prompts embedded by the rows of `npy_path`, from its ``.txt`` or ``.json`` sidecar."""
    txt, js = npy_path.with_suffix(".txt"), npy_path.with_suffix(".json")
    if txt.is_file():
        prompts = [ln for ln in txt.read_text(encoding="utf-8").splitlines() if ln.strip()]
        source = txt
    elif js.is_file():
        data = json.loads(js.read_text(encoding="utf-8"))
        source = js
        if isinstance(data, list):
            prompts = [str(p) for p in data]
        elif isinstance(data, dict) and "prompts" in data:
            prompts = [str(p) for p in data["prompts"]]
        elif isinstance(data, dict) and "labels" in data and "template" in data:
            prompts = [str(data["template"]).format(label=lab) for lab in data["labels"]]
        else:
            raise EncoderError(
                f"{js}: expected a list of prompts, {{'prompts': [...]}} or "
                "{'labels': [...], 'template': '...{label}...'}"
            )
    else:
        raise EncoderError(
            f"prompt embeddings {npy_path} have no prompt list: write {txt.name} (one prompt per "
            f"line, in row order) or {js.name} beside it"
        )
    if len(prompts) != rows:
        raise EncoderError(f"{source} lists {len(prompts)} prompts but {npy_path} has {rows} rows")
    return prompts


class StoredText(TextPart):
    """Looks prompts up in stored embedding files (read on first use)."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"text_embeddings", "text_dim"})

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        what = f"text encoder {KIND!r}"
        opts = dict(options or {})
        check_options(what, opts, self.OPTIONS)
        files = opts.get("text_embeddings") or {}
        if isinstance(files, str | Path):
            files = {"default": files}
        if not isinstance(files, Mapping):
            raise EncoderError(f"{what}: text_embeddings must be a path or {{task: path}}, got {files!r}")
        self.files = {str(k): str(v) for k, v in files.items()}
        self.text_dim = count_option(what, "text_dim", opts.get("text_dim", DEFAULT_DIM))
        self._table: dict[str, np.ndarray] | None = None

    @property
    def dim(self) -> int:
        return self.text_dim

    @property
    def cache_key(self) -> str:
        return f"{KIND}-text-{options_digest({'files': self.files, 'text_dim': self.text_dim})}"

    def _prompt_table(self) -> dict[str, np.ndarray]:
        if self._table is None:
            table: dict[str, np.ndarray] = {}
            for task, file in self.files.items():
                path = Path(file)
                if not path.is_file():
                    raise EncoderError(f"prompt embeddings of task {task}: {path} does not exist")
                emb = np.load(path, allow_pickle=False)
                if emb.ndim != 2 or emb.shape[1] != self.text_dim:
                    raise EncoderError(
                        f"prompt embeddings {path} have shape {emb.shape}, expected (C, {self.text_dim})"
                    )
                for prompt, row in zip(load_prompt_list(path, len(emb)), emb, strict=True):
                    table.setdefault(normalise_prompt(prompt), row.astype(np.float32))
            self._table = table
        return self._table

    def known_prompts(self) -> list[str]:
        """Every prompt this part has an embedding for."""
        return list(self._prompt_table())

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        table = self._prompt_table()
        missing = [p for p in prompts if normalise_prompt(p) not in table]
        if missing:
            raise UnknownPromptError(
                f"text encoder 'features' has no stored embedding for the prompt {missing[0]!r}: precomputed "
                f"features come with fixed prompt embeddings ({len(table)} known, from "
                f"{sorted(self.files.values()) or 'no text_embeddings files'}); add the prompt's embedding to a "
                "text_embeddings file or use a text encoder that embeds text"
            )
        if not prompts:
            return np.zeros((0, self.text_dim), np.float32)
        return np.stack([table[normalise_prompt(p)] for p in prompts]).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        options = {"text_embeddings": dict(self.files), "text_dim": self.text_dim}
        return {**super().describe(), "kind": KIND, "options": options}
