"""On-disk cache of encoded features, keyed by (file content, encoder, snippet grid).

Layout: ``{root}/{encoder cache_key}/{sha[:2]}/{sha256 of the file}/{grid}.npz``, one ``.npz`` per grid
holding ``visual``, ``audio``, the parts' classifier scores when they keep them (``visual_scores``,
``audio_scores``) and a JSON ``meta`` (duration, tracks, notes, which scores are there, and the key it
was written under). Entries of format 1 (before scores) still load. The root is
``$UNIAV_CACHE/features`` when ``UNIAV_CACHE`` is set, else ``~/.cache/uniav/features``. Writes go to a
temporary file in the same folder, then `os.replace`, so a reader never sees half an entry; an entry that
cannot be read or does not match its key is ignored (with a warning) and rewritten by the next store.

`CachedEncoder` wraps any encoder: grids found in the cache are returned without decoding; only the
missing ones are encoded (in one decode) and stored. Encoders whose input is not a media file
(``cacheable = False``, e.g. precomputed features) pass straight through.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uniav.encoders.base import ClipFeatures, Encoder, unique_grids
from uniav.media.grid import SnippetGrid
from uniav.progress import FractionFn

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FORMAT = 2  # 2: optional visual_scores / audio_scores
_READABLE_FORMATS = (1, 2)
_SCORES = ("visual_scores", "audio_scores")


def default_cache_root() -> Path:
    """``$UNIAV_CACHE/features`` if the variable is set, else ``~/.cache/uniav/features``."""
    env = os.environ.get("UNIAV_CACHE")
    return Path(env) / "features" if env else Path.home() / ".cache" / "uniav" / "features"


def file_sha256(path: str | Path, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def grid_slug(grid: SnippetGrid) -> str:
    """A file-name-safe, unambiguous name of a snippet grid."""
    return f"s{grid.stride}-n{grid.num_frames}-fps{grid.fps!r}-a{grid.audio_window_s!r}"


def _dir_name(cache_key: str) -> str:
    safe = _SAFE.sub("_", cache_key)
    if len(safe) > 80 or safe != cache_key:
        safe = f"{safe[:60]}-{hashlib.sha256(cache_key.encode()).hexdigest()[:16]}"
    return safe


class FeatureCache:
    """Features of (file content, encoder cache key, grid) on disk."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()

    def entry_path(self, content_sha: str, cache_key: str, grid: SnippetGrid) -> Path:
        return self.root / _dir_name(cache_key) / content_sha[:2] / content_sha / f"{grid_slug(grid)}.npz"

    def load(self, content_sha: str, cache_key: str, grid: SnippetGrid) -> ClipFeatures | None:
        """The cached features, or None when absent or unreadable (a bad entry is logged and ignored)."""
        path = self.entry_path(content_sha, cache_key, grid)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                visual = np.array(z["visual"], dtype=np.float32)
                audio = np.array(z["audio"], dtype=np.float32)
                scores = {k: np.array(z[k], dtype=np.float32) for k in meta.get("scores", [])}
            if meta.get("format") not in _READABLE_FORMATS:
                raise ValueError(f"entry of format {meta.get('format')!r}, this release reads {_READABLE_FORMATS}")
            expected = {"sha256": content_sha, "cache_key": cache_key, "grid": grid_slug(grid)}
            wrong = {k: meta.get(k) for k, v in expected.items() if meta.get(k) != v}
            if wrong:
                raise ValueError(f"entry written for another key: {wrong}")
            if visual.ndim != 2 or audio.ndim != 2 or len(visual) != len(audio) or len(visual) != meta["length"]:
                raise ValueError(f"inconsistent shapes visual {visual.shape}, audio {audio.shape}")
            if not all(np.isfinite(a).all() for a in (visual, audio, *scores.values())):
                raise ValueError("non-finite values")
            return ClipFeatures(
                visual=visual,
                audio=audio,
                duration=float(meta["duration"]),
                has_video=bool(meta["has_video"]),
                has_audio=bool(meta["has_audio"]),
                notes=tuple(str(n) for n in meta["notes"]),
                visual_scores=scores.get("visual_scores"),
                audio_scores=scores.get("audio_scores"),
            )
        except Exception as e:  # noqa: BLE001 - any unreadable entry is a miss, never a crash
            log.warning(
                "ignoring unreadable feature cache entry %s (%s: %s); it will be rewritten", path, type(e).__name__, e
            )
            return None

    def store(self, content_sha: str, cache_key: str, grid: SnippetGrid, feats: ClipFeatures) -> Path:
        """Write one entry atomically (temporary file + rename); returns its path."""
        path = self.entry_path(content_sha, cache_key, grid)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": _FORMAT,
            "sha256": content_sha,
            "cache_key": cache_key,
            "grid": grid_slug(grid),
            "length": int(len(feats.visual)),
            "duration": float(feats.duration),
            "has_video": bool(feats.has_video),
            "has_audio": bool(feats.has_audio),
            "notes": list(feats.notes),
            "scores": [k for k in _SCORES if getattr(feats, k) is not None],
        }
        scores = {k: np.ascontiguousarray(getattr(feats, k), dtype=np.float32) for k in meta["scores"]}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    visual=np.ascontiguousarray(feats.visual, dtype=np.float32),
                    audio=np.ascontiguousarray(feats.audio, dtype=np.float32),
                    meta=np.array(json.dumps(meta)),
                    **scores,
                )
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


@dataclass
class CacheStats:
    """Counts of grids served from the cache (hits) and encoded (misses) by a `CachedEncoder`."""

    hits: int = 0
    misses: int = 0


class CachedEncoder(Encoder):
    """An encoder whose `encode_file` results are read from / written to a `FeatureCache`."""

    def __init__(self, inner: Encoder, cache: FeatureCache | None = None) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.cache = cache if cache is not None else FeatureCache()
        self.stats = CacheStats()
        self._sha_memo: dict[tuple[str, int, int], str] = {}

    @property
    def visual_dim(self) -> int:
        return self.inner.visual_dim

    @property
    def audio_dim(self) -> int:
        return self.inner.audio_dim

    @property
    def text_dim(self) -> int:
        return self.inner.text_dim

    @property
    def cache_key(self) -> str:
        return self.inner.cache_key

    @property
    def visual_score_classes(self) -> tuple[str, ...] | None:
        return self.inner.visual_score_classes

    @property
    def audio_score_classes(self) -> tuple[str, ...] | None:
        return self.inner.audio_score_classes

    @property
    def cacheable(self) -> bool:  # type: ignore[override]
        return self.inner.cacheable

    def content_sha(self, path: str | Path) -> str:
        """SHA-256 of the file, remembered per (path, size, mtime) for this encoder's lifetime.

        For an input that is not a file (a video id of precomputed features, a missing path) it is the
        SHA-256 of ``"name:" + str(path)``, so callers can key their own caches the same way.
        """
        if not self.inner.cacheable or not Path(path).is_file():
            return hashlib.sha256(f"name:{path}".encode()).hexdigest()
        st = os.stat(path)
        key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
        if key not in self._sha_memo:
            self._sha_memo[key] = file_sha256(path)
        return self._sha_memo[key]

    def lookup(self, path: str | Path, grids: Sequence[SnippetGrid]) -> dict[SnippetGrid, ClipFeatures]:
        """The grids of `path` already in the cache (nothing is decoded)."""
        if not self.inner.cacheable:
            return {}
        sha, key = self.content_sha(path), self.cache_key
        found = {g: self.cache.load(sha, key, g) for g in unique_grids(grids)}
        return {g: f for g, f in found.items() if f is not None}

    def encode_file(
        self, path: str | Path, grids: Sequence[SnippetGrid], progress: FractionFn | None = None
    ) -> dict[SnippetGrid, ClipFeatures]:
        grids = unique_grids(grids)
        if not self.inner.cacheable:
            return self.inner.encode_file(path, grids, progress)
        if not Path(path).is_file():
            # let the decoder report a missing or unreadable file with its own specific error
            return self.inner.encode_file(path, grids, progress)
        found = self.lookup(path, grids)
        missing = [g for g in grids if g not in found]
        self.stats.hits += len(found)
        self.stats.misses += len(missing)
        if missing:
            fresh = self.inner.encode_file(path, missing, progress)
            sha, key = self.content_sha(path), self.cache_key
            for g in missing:
                try:
                    self.cache.store(sha, key, g, fresh[g])
                except OSError as e:  # a full or read-only cache must not lose the result
                    log.warning("could not write the feature cache under %s: %s", self.cache.root, e)
            found.update(fresh)
        elif progress is not None:
            progress(1.0)
        return {g: found[g] for g in grids}

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_text(prompts)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()
