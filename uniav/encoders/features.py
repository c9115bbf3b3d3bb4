"""The `features` encoder: precomputed per-video features in the UniAV authors' ONE-PEACE layout.

Files: ``{feature_dir}/{prefix}{id}_one_peace_video_finetune.npy`` and ``..._one_peace_audio.npy``, each
T x D (1536 for ONE-PEACE). As in the official loader both are cast to float32 and cut to the shorter
length, so the two modalities are inherently joint: a spec whose visual and audio parts are both
``features`` builds `FeaturesEncoder` (from a `FeaturesVisual`, a `FeaturesAudio` and any text part, the
paper's being `StoredText`); ``features`` on one side only is refused by the factory.

The "file" given to `encode_file` is a video id, or a path whose name or stem is the id
(``v_abc.mp4`` -> ``v_abc``). The features have one native grid: the grids passed in only decide which
keys the result has (every grid gets the same arrays); with the ``stride`` option set, a grid of another
stride is an error. Duration: from the ``durations`` file when given (a JSON ``{id: seconds}`` or an
ActivityNet-style annotation file ``{"database": {id: {"duration": s}}}``), else
``(T * stride + num_frames / 2) / fps`` of the first grid (the end of the last snippet's step, so that
``grid.num_snippets(duration) == T``).

Options of the visual part: ``feature_dir``, ``prefix`` (""), ``video_suffix``
("_one_peace_video_finetune.npy"), ``visual_dim`` (1536; checked against the files); of the audio part:
``feature_dir``, ``prefix``, ``audio_suffix`` ("_one_peace_audio.npy"), ``audio_dim`` (1536). Either part
may give the options they share, which must then agree: ``durations``, ``stride`` (native stride,
optional) and ``name`` (free text, e.g. "one-peace"). The two parts may read different folders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from uniav.config import EncoderSpec
from uniav.encoders.base import (
    ClipFeatures,
    Encoder,
    EncoderError,
    check_options,
    count_option,
    options_digest,
    unique_grids,
)
from uniav.encoders.parts import TextPart
from uniav.encoders.stored_text import StoredText
from uniav.media.grid import SnippetGrid
from uniav.progress import FractionFn

KIND = "features"
SHARED_OPTIONS = ("durations", "stride", "name")
DEFAULT_DIM = 1536
DEFAULT_SUFFIXES = {"visual": "_one_peace_video_finetune.npy", "audio": "_one_peace_audio.npy"}


@dataclass(frozen=True)
class FeatureFiles:
    """One modality's precomputed files, ``{feature_dir}/{prefix}{id}{suffix}``, each (T, dim)."""

    slot: str
    feature_dir: str | None
    prefix: str
    suffix: str
    dim: int
    shared: Mapping[str, Any]  # the SHARED_OPTIONS this part gives

    def folder(self) -> Path:
        if not self.feature_dir:
            raise EncoderError(
                f"{self.slot} encoder 'features' needs options['feature_dir'], the folder of the .npy features"
            )
        d = Path(self.feature_dir)
        if not d.is_dir():
            raise EncoderError(f"{self.slot} encoder 'features': feature_dir {d} is not a folder")
        return d

    def path(self, vid: str) -> Path:
        return self.folder() / f"{self.prefix}{vid}{self.suffix}"

    def load(self, path: Path) -> np.ndarray:
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise EncoderError(f"cannot read {self.slot} features {path}: {e}") from e
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise EncoderError(f"{self.slot} features {path} have shape {arr.shape}, expected (T, {self.dim})")
        return arr.astype(np.float32)


def _files(slot: str, options: Mapping[str, Any] | None, allowed: frozenset[str]) -> FeatureFiles:
    """The files of `slot` (``visual``: options ``video_suffix``, ``visual_dim``; ``audio``: ``audio_suffix``,
    ``audio_dim``) from a part's options."""
    what = f"{slot} encoder {KIND!r}"
    opts = dict(options or {})
    check_options(what, opts, allowed)
    suffix_option, dim_option = {"visual": ("video_suffix", "visual_dim"), "audio": ("audio_suffix", "audio_dim")}[slot]
    folder = opts.get("feature_dir")
    return FeatureFiles(
        slot=slot,
        feature_dir=None if folder is None else str(folder),
        prefix=str(opts.get("prefix", "")),
        suffix=str(opts.get(suffix_option, DEFAULT_SUFFIXES[slot])),
        dim=count_option(what, dim_option, opts.get(dim_option, DEFAULT_DIM)),
        shared={k: opts[k] for k in SHARED_OPTIONS if k in opts},
    )


class FeaturesVisual:
    """The visual side of precomputed features (its options; `FeaturesEncoder` reads the files)."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset(
        {"feature_dir", "prefix", "video_suffix", "visual_dim", *SHARED_OPTIONS}
    )

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.files = _files("visual", options, self.OPTIONS)

    @property
    def dim(self) -> int:
        return self.files.dim


class FeaturesAudio:
    """The audio side of precomputed features (its options; `FeaturesEncoder` reads the files)."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset(
        {"feature_dir", "prefix", "audio_suffix", "audio_dim", *SHARED_OPTIONS}
    )

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.files = _files("audio", options, self.OPTIONS)

    @property
    def dim(self) -> int:
        return self.files.dim


@dataclass(frozen=True)
class SharedOptions:
    durations: str | None = None
    stride: int | None = None
    name: str = "one-peace"

    @classmethod
    def merge(cls, visual: Mapping[str, Any], audio: Mapping[str, Any]) -> SharedOptions:
        """The options both parts share: given by either, equal where given by both."""
        clash = {k: (visual[k], audio[k]) for k in visual.keys() & audio.keys() if visual[k] != audio[k]}
        if clash:
            raise EncoderError(
                f"the visual and audio 'features' parts disagree on {sorted(clash)} {clash}: they read the "
                "same videos, give these once or equal"
            )
        merged = {**audio, **visual}
        stride = merged.get("stride")
        if stride is not None:
            count_option("encoder 'features'", "stride", stride)
        durations = merged.get("durations")
        return cls(None if durations is None else str(durations), stride, str(merged.get("name", "one-peace")))


class FeaturesEncoder(Encoder):
    """Precomputed visual/audio features per video id; text from a text part (stored embeddings in the paper)."""

    cacheable: ClassVar[bool] = False

    def __init__(self, spec: EncoderSpec, visual: FeaturesVisual, audio: FeaturesAudio, text: TextPart) -> None:
        self.spec = spec
        self.visual = visual
        self.audio = audio
        self.text = text
        self.shared = SharedOptions.merge(visual.files.shared, audio.files.shared)
        self._durations: dict[str, float] | None = None

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
        files = {"visual": asdict(self.visual.files), "audio": asdict(self.audio.files)}
        return f"{KIND}-{options_digest(files)}"

    # ---- files ---------------------------------------------------------------------------------
    def feature_paths(self, video: str | Path) -> tuple[str, Path, Path]:
        """(id, visual path, audio path) of a video id or a path named after it."""
        p = Path(video)
        candidates = list(dict.fromkeys([p.name, p.stem]))
        for vid in candidates:
            vis, aud = self.visual.files.path(vid), self.audio.files.path(vid)
            if vis.is_file() and aud.is_file():
                return vid, vis, aud
        vid = candidates[-1]
        raise EncoderError(
            f"no precomputed features for video {vid!r}: expected "
            f"{self.visual.files.path(vid)} and {self.audio.files.path(vid)}"
        )

    def _duration_of(self, vid: str) -> float | None:
        if self.shared.durations is None:
            return None
        if self._durations is None:
            data = json.loads(Path(self.shared.durations).read_text(encoding="utf-8"))
            if isinstance(data, dict) and "database" in data:
                data = {k: v.get("duration") for k, v in data["database"].items()}
            self._durations = {str(k): float(v) for k, v in data.items() if v is not None}
        return self._durations.get(vid)

    def encode_file(
        self, path: str | Path, grids: Sequence[SnippetGrid], progress: FractionFn | None = None
    ) -> dict[SnippetGrid, ClipFeatures]:
        grids = unique_grids(grids)
        if self.shared.stride is not None:
            bad = [g.stride for g in grids if g.stride != self.shared.stride]
            if bad:
                raise EncoderError(f"precomputed features have stride {self.shared.stride}; asked for {bad}")
        vid, vis_path, aud_path = self.feature_paths(path)
        visual = self.visual.files.load(vis_path)
        audio = self.audio.files.load(aud_path)
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
    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        return self.text.encode_text(prompts)

    def known_prompts(self) -> list[str]:
        """Every prompt the stored text embeddings hold (a text part that embeds any prompt has no list)."""
        if not isinstance(self.text, StoredText):
            raise EncoderError(f"the text part {type(self.text).__name__} embeds any prompt: it keeps no list")
        return self.text.known_prompts()
