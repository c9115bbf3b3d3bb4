"""Feature extraction at scale: media files -> ``OUT/{id}.npz`` + ``OUT/manifest.json`` (`NpzFeatureStore`).

Sharding: with ``world_size`` processes (``torchrun`` sets ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``), rank
r takes ids ``sorted_ids[r::world_size]`` of the *whole* sorted id list, so every rank computes the same
partition without talking to the others, whatever is already on disk. Resumable: an id whose ``.npz``
exists is skipped. Every file is written to a temporary name and renamed, so a killed run leaves no
partial file. A file that cannot be decoded or encoded is reported, listed in
``OUT/failures-rank{r}.json`` and skipped; the next run retries it.

The manifest records the encoder (spec, cache key, widths) and the snippet grid; extracting into a
folder whose manifest names another encoder or grid is refused, so one folder never mixes features.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from uniav.config import TaskConfig
from uniav.data.config import FeatureFormat, TaskDataConfig
from uniav.data.features import (
    MANIFEST,
    FeatureError,
    FeatureManifest,
    NpzFeatureStore,
    atomic_write_bytes,
    write_npz_features,
)
from uniav.distributed import DistInfo
from uniav.encoders.base import Encoder
from uniav.media.grid import SnippetGrid

log = logging.getLogger(__name__)
MEDIA_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".wav", ".flac", ".mp3", ".ogg", ".m4a")
ANNOTATIONS_FILE = "annotations.json"
VIDEOS_DIR = "videos"


@dataclass(frozen=True)
class Failure:
    video_id: str
    path: str | None
    error: str


@dataclass
class ExtractSummary:
    """What one rank did: ids written, skipped (already there) and failed."""

    rank: int
    world_size: int
    assigned: int = 0
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"rank {self.rank}/{self.world_size}: {self.assigned} assigned, {len(self.written)} written, "
            f"{len(self.skipped)} already there, {len(self.failures)} failed"
        )


def shard(ids: Sequence[str], rank: int, world_size: int) -> list[str]:
    """Rank `rank`'s share of the sorted ids (every `world_size`-th, starting at `rank`)."""
    return sorted(ids)[rank::world_size]


def find_media(media_dir: str | Path, ids: Sequence[str]) -> dict[str, Path | None]:
    """For each id its media file ``media_dir/{id}.{ext}`` (known extensions, in `MEDIA_EXTENSIONS` order),
    or None when there is none. The folder is listed once."""
    folder = Path(media_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"media folder not found: {folder}")
    rank = {ext: i for i, ext in enumerate(MEDIA_EXTENSIONS)}
    best: dict[str, Path] = {}
    for entry in os.scandir(folder):
        p = Path(entry.path)
        ext = p.suffix.lower()
        if ext not in rank or not entry.is_file():
            continue
        current = best.get(p.stem)
        if current is None or rank[ext] < rank[current.suffix.lower()]:
            best[p.stem] = p
    return {vid: best.get(vid) for vid in ids}


def dataset_layout(dataset: str | Path, media_dir: str | Path | None = None) -> tuple[Path, Path]:
    """(annotation file, media folder) of DATASET: a folder with ``annotations.json`` and ``videos/`` (the
    UniAV-Synth layout), or an annotation JSON file with `media_dir`."""
    p = Path(dataset)
    if p.is_dir():
        ann = p / ANNOTATIONS_FILE
        if not ann.is_file():
            raise FileNotFoundError(
                f"{p}: no {ANNOTATIONS_FILE} (expected the layout DATASET/{ANNOTATIONS_FILE} + DATASET/{VIDEOS_DIR}/)"
            )
        media = Path(media_dir) if media_dir is not None else p / VIDEOS_DIR
    elif p.is_file():
        if media_dir is None:
            raise ValueError(f"{p} is an annotation file: give the folder of its media with --media-dir")
        ann, media = p, Path(media_dir)
    else:
        raise FileNotFoundError(f"dataset not found: {p}")
    if not media.is_dir():
        raise FileNotFoundError(f"media folder not found: {media}")
    return ann, media


def manifest_for(encoder: Encoder, grid: SnippetGrid) -> FeatureManifest:
    return FeatureManifest(
        encoder=encoder.spec,
        cache_key=encoder.cache_key,
        visual_dim=encoder.visual_dim,
        audio_dim=encoder.audio_dim,
        text_dim=encoder.text_dim,
        grid=grid,
    )


def prepare_output(out_dir: str | Path, manifest: FeatureManifest) -> Path:
    """Create `out_dir` and write its manifest; refuse a folder made with another encoder or grid."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    if path.is_file():
        old = FeatureManifest.read(path)
        if (old.cache_key, old.grid) != (manifest.cache_key, manifest.grid):
            raise FeatureError(
                f"{out} holds features of encoder {old.cache_key} on a grid of {_describe(old.grid)}, not of "
                f"{manifest.cache_key} on {_describe(manifest.grid)}: use another --out folder (one folder never "
                "mixes features)"
            )
    manifest.write(path)
    return out


def _describe(grid: SnippetGrid) -> str:
    return f"stride {grid.stride}, {grid.num_frames} frames at {grid.fps:g} fps"


def failures_path(out_dir: str | Path, rank: int) -> Path:
    return Path(out_dir) / f"failures-rank{rank}.json"


def extract_features(
    media: Mapping[str, Path | None],
    encoder: Encoder,
    grid: SnippetGrid,
    out_dir: str | Path,
    dist: DistInfo | None = None,
    progress: bool = True,
    on_failure: Callable[[Failure], None] | None = None,
) -> ExtractSummary:
    """Extract this rank's share of `media` ({id: file or None}) into `out_dir` (see the module docstring).

    Returns the rank's summary; its failures are also written to ``failures-rank{r}.json`` (the file is
    removed when the rank has none).
    """
    from tqdm import tqdm

    dist = dist or DistInfo()
    out = prepare_output(out_dir, manifest_for(encoder, grid))
    store = NpzFeatureStore(out)
    mine = shard(list(media), dist.rank, dist.world_size)
    summary = ExtractSummary(dist.rank, dist.world_size, assigned=len(mine))
    todo = []
    for vid in mine:
        (summary.skipped if store.has(vid) else todo).append(vid)
    bar = tqdm(
        todo,
        desc=f"extract rank {dist.rank}/{dist.world_size}",
        unit="file",
        disable=not progress,
        position=dist.local_rank if dist.world_size > 1 else None,
        dynamic_ncols=True,
    )
    for vid in bar:
        path = media[vid]
        try:
            if path is None:
                raise FileNotFoundError(
                    f"media file not found (looked for {vid}.<ext>, ext one of "
                    f"{', '.join(e[1:] for e in MEDIA_EXTENSIONS)})"
                )
            feats = encoder.encode_file(path, [grid])[grid]
            write_npz_features(
                store.path(vid),
                feats.visual,
                feats.audio,
                feats.duration,
                visual_scores=feats.visual_scores,
                audio_scores=feats.audio_scores,
            )
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run; it is reported
            failure = Failure(vid, None if path is None else str(path), f"{type(exc).__name__}: {exc}")
            summary.failures.append(failure)
            message = f"skipping {vid}: {failure.error}"
            (bar.write if progress else log.warning)(message)
            if on_failure is not None:
                on_failure(failure)
            continue
        summary.written.append(vid)
    bar.close()
    fail_file = failures_path(out, dist.rank)
    if summary.failures:
        rows = [{"video_id": f.video_id, "path": f.path, "error": f.error} for f in summary.failures]
        atomic_write_bytes(fail_file, (json.dumps(rows, indent=2) + "\n").encode("utf-8"))
    else:
        fail_file.unlink(missing_ok=True)
    return summary


def ensure_features(
    task: TaskConfig,
    data: TaskDataConfig,
    encoder: Encoder,
    dist: DistInfo | None = None,
    progress: bool = True,
) -> ExtractSummary | None:
    """Extract the missing ``.npz`` features of a task (every video of its annotation file) from its
    ``media_dir`` into its ``features`` folder, on the task's grid. Nothing to do (None) for ONE-PEACE
    features or without ``media_dir``. Under DDP every rank calls this with its `dist`, then waits for the
    others (a barrier) before reading the features."""
    if data.feature_format is not FeatureFormat.NPZ or data.media_dir is None:
        return None
    from uniav.data.dataset import load_task_annotations

    ids = list(load_task_annotations(data).videos)
    return extract_features(find_media(data.media_dir, ids), encoder, task.grid, data.features, dist, progress)
