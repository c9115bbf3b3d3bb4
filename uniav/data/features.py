"""Per-video feature files: where a dataset's precomputed visual and audio features are read from.

Two layouts:

- ``npz`` (written by ``uniav extract``)::

      folder/manifest.json          encoder spec, cache key, widths and snippet grid (`FeatureManifest`)
      folder/{video_id}.npz         arrays 'visual' (T, Dv), 'audio' (T, Da) float32, 'duration' (seconds)

- ``one-peace`` (the UniAV authors' release)::

      folder/{prefix}{video_id}_one_peace_video_finetune.npy    (T, 1536)
      folder/{prefix}{video_id}_one_peace_audio.npy             (T', 1536)

  As in the official loaders both are cast to float32 and cut to the shorter length. The authors'
  ActivityNet features carry the prefix ``v_`` (ids in the annotation file do not): with
  ``prefix=None`` a store looks for ``{id}`` first, then ``v_{id}``.

`FeatureStore.load` always returns ``(visual (T, Dv), audio (T, Da))`` float32 with the same T.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uniav.config import EncoderSpec
from uniav.data.config import FeatureFormat, TaskDataConfig
from uniav.media.grid import SnippetGrid

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "uniav-features"
MANIFEST_VERSION = 1
NPZ_SUFFIX = ".npz"
ONE_PEACE_VIDEO = "_one_peace_video_finetune.npy"
ONE_PEACE_AUDIO = "_one_peace_audio.npy"
ONE_PEACE_PREFIXES = ("", "v_")  # tried in this order when no prefix is given


class FeatureError(ValueError):
    """A feature file or folder that cannot be used (the message names the file and the problem)."""


@dataclass(frozen=True)
class FeatureManifest:
    """What produced a folder of ``.npz`` features: the encoder (spec, cache key, widths) and the grid."""

    encoder: EncoderSpec
    cache_key: str
    visual_dim: int
    audio_dim: int
    text_dim: int
    grid: SnippetGrid

    def to_dict(self) -> dict[str, Any]:
        g = self.grid
        return {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "encoder": self.encoder.to_dict(),
            "cache_key": self.cache_key,
            "visual_dim": self.visual_dim,
            "audio_dim": self.audio_dim,
            "text_dim": self.text_dim,
            "grid": {"stride": g.stride, "num_frames": g.num_frames, "fps": g.fps, "audio_window_s": g.audio_window_s},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<manifest>") -> FeatureManifest:
        if not isinstance(d, dict) or d.get("format") != MANIFEST_FORMAT:
            raise FeatureError(f"{source}: not a UniAV feature manifest (format {MANIFEST_FORMAT!r} expected)")
        if int(d.get("version", 0)) > MANIFEST_VERSION:
            raise FeatureError(f"{source}: manifest version {d['version']} is newer than {MANIFEST_VERSION}")
        try:
            g = d["grid"]
            return cls(
                encoder=EncoderSpec.from_dict(d["encoder"]),
                cache_key=str(d["cache_key"]),
                visual_dim=int(d["visual_dim"]),
                audio_dim=int(d["audio_dim"]),
                text_dim=int(d["text_dim"]),
                grid=SnippetGrid(
                    stride=int(g["stride"]),
                    num_frames=int(g["num_frames"]),
                    fps=float(g["fps"]),
                    audio_window_s=float(g.get("audio_window_s", 1.0)),
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FeatureError(f"{source}: malformed feature manifest ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def read(cls, path: str | Path) -> FeatureManifest:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise FeatureError(f"{p}: malformed JSON ({exc.msg} at line {exc.lineno})") from exc
        return cls.from_dict(data, source=str(p))

    def write(self, path: str | Path) -> Path:
        """Write atomically (temporary file + rename): concurrent writers of the same manifest are safe."""
        p = Path(path)
        atomic_write_bytes(p, (json.dumps(self.to_dict(), indent=2) + "\n").encode("utf-8"))
        return p


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_npz_features(
    path: str | Path,
    visual: np.ndarray,
    audio: np.ndarray,
    duration: float,
    visual_scores: np.ndarray | None = None,
    audio_scores: np.ndarray | None = None,
) -> Path:
    """Write one video's features as ``.npz`` atomically (a reader never sees a partial file), with the
    encoders' classifier scores per snippet when they keep them (for the training-free baselines)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "visual": np.ascontiguousarray(visual, dtype=np.float32),
        "audio": np.ascontiguousarray(audio, dtype=np.float32),
        "duration": np.float64(duration),
    }
    for name, scores in (("visual_scores", visual_scores), ("audio_scores", audio_scores)):
        if scores is not None:
            arrays[name] = np.ascontiguousarray(scores, dtype=np.float32)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _pair(visual: Any, audio: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (visual, audio) pair: 2-D, finite, non-empty; cast to float32 and cut to the shorter length."""
    visual = np.asarray(visual)
    audio = np.asarray(audio)
    if visual.ndim != 2 or audio.ndim != 2:
        raise FeatureError(f"{where}: features must be 2-D (T, D), got visual {visual.shape} and audio {audio.shape}")
    n = min(visual.shape[0], audio.shape[0])
    if n == 0:
        raise FeatureError(f"{where}: empty features (visual {visual.shape}, audio {audio.shape})")
    visual = np.ascontiguousarray(visual[:n], dtype=np.float32)
    audio = np.ascontiguousarray(audio[:n], dtype=np.float32)
    if not (np.isfinite(visual).all() and np.isfinite(audio).all()):
        raise FeatureError(f"{where}: features contain NaN or infinite values")
    return visual, audio


class FeatureStore(ABC):
    """Per-video features of a dataset, by video id."""

    @abstractmethod
    def load(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(visual (T, Dv), audio (T, Da)) float32 with the same T; FileNotFoundError when absent."""

    @abstractmethod
    def has(self, video_id: str) -> bool:
        """Whether features of `video_id` exist."""

    @property
    def manifest(self) -> FeatureManifest | None:
        """What produced the features, when the store records it."""
        return None


class NpzFeatureStore(FeatureStore):
    """``folder/{id}.npz`` files written by ``uniav extract`` (see the module docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"feature folder not found: {self.folder} (make it with `uniav extract`)")
        path = self.folder / MANIFEST
        self._manifest = FeatureManifest.read(path) if path.is_file() else None

    @property
    def manifest(self) -> FeatureManifest | None:
        return self._manifest

    def path(self, video_id: str) -> Path:
        return self.folder / f"{video_id}{NPZ_SUFFIX}"

    def has(self, video_id: str) -> bool:
        return self.path(video_id).is_file()

    def load(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        path = self.path(video_id)
        if not path.is_file():
            raise FileNotFoundError(f"no features for video {video_id!r}: {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in ("visual", "audio") if k not in z.files]
                if missing:
                    raise FeatureError(f"{path}: missing array(s) {missing} (has {sorted(z.files)})")
                visual, audio = z["visual"], z["audio"]
        except FeatureError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise FeatureError(f"{path}: unreadable feature file ({exc})") from exc
        return _pair(visual, audio, str(path))

    def scores(self, video_id: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The (visual, audio) classifier scores per snippet stored with the features (None where absent)."""
        with np.load(self.path(video_id), allow_pickle=False) as z:
            return tuple(np.array(z[k]) if k in z.files else None for k in ("visual_scores", "audio_scores"))

    def duration(self, video_id: str) -> float | None:
        """The duration stored with the features (seconds), if any."""
        with np.load(self.path(video_id), allow_pickle=False) as z:
            return float(z["duration"]) if "duration" in z.files else None


class OnePeaceFeatureStore(FeatureStore):
    """The authors' ``.npy`` pairs (see the module docstring); `prefix` None tries ``""`` then ``"v_"``."""

    def __init__(
        self,
        folder: str | Path,
        prefix: str | None = None,
        video_suffix: str = ONE_PEACE_VIDEO,
        audio_suffix: str = ONE_PEACE_AUDIO,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"feature folder not found: {self.folder}")
        self.prefix = prefix
        self.video_suffix = video_suffix
        self.audio_suffix = audio_suffix

    def paths(self, video_id: str) -> tuple[Path, Path] | None:
        """(visual file, audio file) of `video_id`, or None when either is missing."""
        prefixes = ONE_PEACE_PREFIXES if self.prefix is None else (self.prefix,)
        for p in prefixes:
            v = self.folder / f"{p}{video_id}{self.video_suffix}"
            a = self.folder / f"{p}{video_id}{self.audio_suffix}"
            if v.is_file() and a.is_file():
                return v, a
        return None

    def has(self, video_id: str) -> bool:
        return self.paths(video_id) is not None

    def load(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        found = self.paths(video_id)
        if found is None:
            pre = "" if self.prefix is None else self.prefix
            raise FileNotFoundError(
                f"no ONE-PEACE features for video {video_id!r} in {self.folder} (expected "
                f"{pre}{video_id}{self.video_suffix} and {pre}{video_id}{self.audio_suffix})"
            )
        v, a = found
        try:
            visual, audio = np.load(v, allow_pickle=False), np.load(a, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise FeatureError(f"{v.parent}: unreadable features of {video_id!r} ({exc})") from exc
        return _pair(visual, audio, f"{v} / {a.name}")


def open_feature_store(data: TaskDataConfig) -> FeatureStore:
    """The store of a task's ``features`` folder in its ``feature_format`` ("npz" or "one-peace")."""
    if data.feature_format is FeatureFormat.NPZ:
        return NpzFeatureStore(data.features)
    if data.feature_format is FeatureFormat.ONE_PEACE:
        return OnePeaceFeatureStore(data.features)
    raise FeatureError(f"unknown feature_format {data.feature_format!r}; use 'npz' or 'one-peace'")
