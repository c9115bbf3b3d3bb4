"""The `features` encoder: precomputed per-video features in the UniAV authors' ONE-PEACE layout.

Files: ``{feature_dir}/{prefix}{id}_one_peace_video_finetune.npy`` and ``..._one_peace_audio.npy``, each
T x D (1536 for ONE-PEACE). As in the official loader both are cast to float32 and cut to the shorter
length. The "file" given to `encode_file` is a video id, or a path whose name or stem is the id
(``v_abc.mp4`` -> ``v_abc``). The features have one native grid: the grids passed in only decide which
keys the result has (every grid gets the same arrays); with the ``stride`` option set, a grid of another
stride is an error. Duration: from the ``durations`` file when given (a JSON ``{id: seconds}`` or an
ActivityNet-style annotation file ``{"database": {id: {"duration": s}}}``), else
``(T * stride + num_frames / 2) / fps`` of the first grid (the end of the last snippet's step, so that
``grid.num_snippets(duration) == T``).

Text: these features come with prompt embeddings computed by a text encoder that is not available here,
so `encode_text` can only return embeddings of prompts it has stored. ``text_embeddings`` maps a task
name to a C x D ``.npy`` file (the authors ship e.g. ``anet_prompt.npy``); beside each ``X.npy`` a
``X.txt`` (one prompt per line, row order) or ``X.json`` (a list of prompts, ``{"prompts": [...]}`` or
``{"labels": [...], "template": "A sound event of {label}."}``) says which prompt each row embeds.
A prompt found in none of them raises `UnknownPromptError` naming it: editing the vocabulary of a model
that uses this encoder needs a new embedding file.

Options: ``feature_dir``, ``text_embeddings`` ({task: path} or one path), ``durations``, ``prefix`` (""),
``video_suffix`` ("_one_peace_video_finetune.npy"), ``audio_suffix`` ("_one_peace_audio.npy"),
``visual_dim`` / ``audio_dim`` / ``text_dim`` (1536 each; checked against the files), ``stride``
(native stride, optional), ``name`` (free text, e.g. "one-peace").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from uniav.config import EncoderSpec
from uniav.encoders.base import (
    ClipFeatures,
    Encoder,
    EncoderError,
    ProgressFn,
    UnknownPromptError,
    check_options,
    options_digest,
    unique_grids,
)
from uniav.media.grid import SnippetGrid

KIND = "features"


@dataclass(frozen=True)
class FeaturesOptions:
    feature_dir: str | None = None
    text_embeddings: dict[str, str] = field(default_factory=dict)
    durations: str | None = None
    prefix: str = ""
    video_suffix: str = "_one_peace_video_finetune.npy"
    audio_suffix: str = "_one_peace_audio.npy"
    visual_dim: int = 1536
    audio_dim: int = 1536
    text_dim: int = 1536
    stride: int | None = None
    name: str = "one-peace"

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> FeaturesOptions:
        check_options(KIND, options, [f for f in cls.__dataclass_fields__])
        opts = dict(options)
        te = opts.get("text_embeddings") or {}
        opts["text_embeddings"] = (
            {"default": str(te)} if isinstance(te, str | Path) else {str(k): str(v) for k, v in te.items()}
        )
        return cls(**opts)


def _normalise_prompt(text: str) -> str:
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


class FeaturesEncoder(Encoder):
    """Precomputed visual/audio features per video id and stored prompt embeddings."""

    cacheable: ClassVar[bool] = False

    def __init__(self, spec: EncoderSpec | None = None) -> None:
        self.spec = spec if spec is not None else EncoderSpec(kind=KIND)
        if self.spec.kind != KIND:
            raise EncoderError(f"FeaturesEncoder got an encoder spec of kind {self.spec.kind!r}")
        self.options = FeaturesOptions.from_options(dict(self.spec.options))
        self._prompts: dict[str, np.ndarray] | None = None
        self._durations: dict[str, float] | None = None

    @property
    def visual_dim(self) -> int:
        return int(self.options.visual_dim)

    @property
    def audio_dim(self) -> int:
        return int(self.options.audio_dim)

    @property
    def text_dim(self) -> int:
        return int(self.options.text_dim)

    @property
    def cache_key(self) -> str:
        return f"{KIND}-{options_digest(self.spec.options)}"

    # ---- files ---------------------------------------------------------------------------------
    def _feature_dir(self) -> Path:
        if not self.options.feature_dir:
            raise EncoderError("encoder 'features' needs options['feature_dir'], the folder of the .npy features")
        d = Path(self.options.feature_dir)
        if not d.is_dir():
            raise EncoderError(f"encoder 'features': feature_dir {d} is not a folder")
        return d

    def feature_paths(self, video: str | Path) -> tuple[str, Path, Path]:
        """(id, visual path, audio path) of a video id or a path named after it."""
        folder = self._feature_dir()
        p = Path(video)
        candidates = list(dict.fromkeys([p.name, p.stem]))
        for vid in candidates:
            vis = folder / f"{self.options.prefix}{vid}{self.options.video_suffix}"
            aud = folder / f"{self.options.prefix}{vid}{self.options.audio_suffix}"
            if vis.is_file() and aud.is_file():
                return vid, vis, aud
        vid = candidates[-1]
        raise EncoderError(
            f"no precomputed features for video {vid!r}: expected "
            f"{folder / (self.options.prefix + vid + self.options.video_suffix)} and "
            f"{folder / (self.options.prefix + vid + self.options.audio_suffix)}"
        )

    def _duration_of(self, vid: str) -> float | None:
        if self.options.durations is None:
            return None
        if self._durations is None:
            data = json.loads(Path(self.options.durations).read_text(encoding="utf-8"))
            if isinstance(data, dict) and "database" in data:
                data = {k: v.get("duration") for k, v in data["database"].items()}
            self._durations = {str(k): float(v) for k, v in data.items() if v is not None}
        return self._durations.get(vid)

    def _load(self, path: Path, dim: int, what: str) -> np.ndarray:
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise EncoderError(f"cannot read {what} features {path}: {e}") from e
        if arr.ndim != 2 or arr.shape[1] != dim:
            raise EncoderError(f"{what} features {path} have shape {arr.shape}, expected (T, {dim})")
        return arr.astype(np.float32)

    def encode_file(
        self, path: str | Path, grids: Sequence[SnippetGrid], progress: ProgressFn | None = None
    ) -> dict[SnippetGrid, ClipFeatures]:
        grids = unique_grids(grids)
        if self.options.stride is not None:
            bad = [g.stride for g in grids if g.stride != int(self.options.stride)]
            if bad:
                raise EncoderError(f"precomputed features have stride {self.options.stride}; asked for {bad}")
        vid, vis_path, aud_path = self.feature_paths(path)
        visual = self._load(vis_path, self.visual_dim, "visual")
        audio = self._load(aud_path, self.audio_dim, "audio")
        t = min(len(visual), len(audio))
        if t == 0:
            raise EncoderError(f"precomputed features of {vid!r} are empty")
        visual, audio = visual[:t], audio[:t]
        g0 = grids[0]
        duration = self._duration_of(vid)
        if duration is None:
            duration = (t * g0.stride + 0.5 * g0.num_frames) / g0.fps
        if progress is not None:
            progress(1.0)
        return {
            g: ClipFeatures(
                visual=visual, audio=audio, duration=float(duration), has_video=True, has_audio=True, notes=()
            )
            for g in grids
        }

    # ---- text ----------------------------------------------------------------------------------
    def _prompt_table(self) -> dict[str, np.ndarray]:
        if self._prompts is None:
            table: dict[str, np.ndarray] = {}
            for task, file in self.options.text_embeddings.items():
                path = Path(file)
                if not path.is_file():
                    raise EncoderError(f"prompt embeddings of task {task}: {path} does not exist")
                emb = np.load(path, allow_pickle=False)
                if emb.ndim != 2 or emb.shape[1] != self.text_dim:
                    raise EncoderError(
                        f"prompt embeddings {path} have shape {emb.shape}, expected (C, {self.text_dim})"
                    )
                for prompt, row in zip(load_prompt_list(path, len(emb)), emb, strict=True):
                    table.setdefault(_normalise_prompt(prompt), row.astype(np.float32))
            self._prompts = table
        return self._prompts

    def known_prompts(self) -> list[str]:
        """Every prompt this encoder has an embedding for."""
        return list(self._prompt_table())

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        table = self._prompt_table()
        rows = []
        for p in prompts:
            key = _normalise_prompt(p)
            if key not in table:
                raise UnknownPromptError(
                    f"encoder 'features' has no stored embedding for the prompt {p!r}: precomputed features "
                    f"come with fixed prompt embeddings ({len(table)} known, from "
                    f"{sorted(self.options.text_embeddings.values()) or 'no text_embeddings files'}); add the "
                    "prompt's embedding to a text_embeddings file or use an encoder that embeds text"
                )
            rows.append(table[key])
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, self.text_dim), np.float32)
