"""Pure transforms from a video's features and annotations (seconds) to model inputs (grid units).

Grid units (DESIGN 3.5): ``t = seconds * fps / feat_stride - 0.5 * num_frames / feat_stride``, 0 at the
centre of the first snippet; the inverse is `GridTiming` (``(t * feat_stride + 0.5 * num_frames) / fps``).

Regimes (`to_grid`):

- a task with ``resize_to_max_len`` (TAL, the ActivityNet regime): the T steps are linearly resized to
  ``max_seq_len`` (`resize_to_length`, shared with the product's `Detector`) and the grid is stretched to
  ``feat_stride = ((T - 1) * stride + num_frames) / max_seq_len`` with ``num_frames = feat_stride``
  (`stretched_timing`);
- any other task: the features as they are, on the task's grid.

Training (`train_crop`, the official ``truncate_feats`` rule): see its docstring.
Nothing here reads files or holds state; randomness comes only from the generator passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from uniav.config import TaskConfig
from uniav.ops.decode import GridTiming

if TYPE_CHECKING:
    from uniav.data.dataset import VideoItem


@dataclass(frozen=True, eq=False)
class GridSample:
    """One video ready for the model: channels-first features on a grid and its ground truth in grid units.

    visual (Dv, T) and audio (Da, T) float32; segments (N, 2) float32 grid units; labels (N,) long (task
    label ids); timing maps grid units back to seconds (clipped to the video's duration).
    """

    video_id: str
    visual: torch.Tensor
    audio: torch.Tensor
    segments: torch.Tensor
    labels: torch.Tensor
    timing: GridTiming

    @property
    def length(self) -> int:
        return int(self.visual.shape[1])


@dataclass(frozen=True, eq=False)
class SampleBatch:
    """Zero-padded samples: visual (B, Dv, L), audio (B, Da, L), mask (B, 1, L) bool, and per sample the
    segments (N_i, 2), labels (N_i,), timing and video id."""

    visual: torch.Tensor
    audio: torch.Tensor
    mask: torch.Tensor
    segments: list[torch.Tensor]
    labels: list[torch.Tensor]
    timings: list[GridTiming]
    video_ids: list[str]


# ---- seconds <-> grid ---------------------------------------------------------------------------------


def task_timing(task: TaskConfig, duration: float) -> GridTiming:
    """The task's native grid (no resize) for a video of `duration` seconds."""
    return GridTiming(task.feat_stride, task.num_frames, task.fps, duration)


def stretched_timing(num_steps: int, task: TaskConfig, duration: float) -> GridTiming:
    """The ActivityNet grid after resizing `num_steps` native steps to ``task.max_seq_len``: the stride grows
    to ``((num_steps - 1) * feat_stride + num_frames) / max_seq_len`` frames and ``num_frames`` equals it."""
    if num_steps < 1:
        raise ValueError(f"cannot resize an empty sequence (num_steps={num_steps})")
    stride = ((num_steps - 1) * task.feat_stride + task.num_frames) / task.max_seq_len
    return GridTiming(stride, stride, task.fps, duration)


def seconds_to_grid(seconds: np.ndarray, timing: GridTiming) -> np.ndarray:
    """Seconds to grid units: ``seconds * fps / feat_stride - 0.5 * num_frames / feat_stride`` (float64)."""
    s = np.asarray(seconds, dtype=np.float64)
    return s * timing.fps / timing.feat_stride - 0.5 * timing.num_frames / timing.feat_stride


def grid_to_seconds(t: np.ndarray, timing: GridTiming) -> np.ndarray:
    """Grid units to seconds, not clipped (`GridTiming.to_seconds` clips to the duration)."""
    return (np.asarray(t, dtype=np.float64) * timing.feat_stride + 0.5 * timing.num_frames) / timing.fps


def grid_offset(timing: GridTiming) -> float:
    """Half a snippet in grid units (``0.5 * num_frames / feat_stride``): how far the first snippet reaches
    before t = 0 and the last one past T - 1."""
    return 0.5 * timing.num_frames / timing.feat_stride


# ---- the ActivityNet resize ----------------------------------------------------------------------------


def resize_to_length(visual: torch.Tensor, audio: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Linearly resize channels-first (Dv, T) / (Da, T) features to `length` steps (``align_corners=False``,
    the official ``F.interpolate`` call); returned unchanged when T already equals `length`."""
    if visual.dim() != 2 or audio.dim() != 2 or visual.shape[1] != audio.shape[1]:
        raise ValueError(f"expected (Dv, T) and (Da, T) features, got {tuple(visual.shape)} and {tuple(audio.shape)}")
    if length < 1:
        raise ValueError(f"length must be positive, got {length}")
    if visual.shape[1] == length:
        return visual, audio

    def resize(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x[None].float(), size=length, mode="linear", align_corners=False)[0]

    return resize(visual), resize(audio)


def to_grid(item: VideoItem, task: TaskConfig) -> GridSample:
    """A `VideoItem` (features (T, D), segments in seconds) as model input in the task's regime."""
    visual = torch.from_numpy(np.ascontiguousarray(item.visual.T, dtype=np.float32))
    audio = torch.from_numpy(np.ascontiguousarray(item.audio.T, dtype=np.float32))
    if task.resize_to_max_len:
        timing = stretched_timing(visual.shape[1], task, item.duration)
        visual, audio = resize_to_length(visual, audio, task.max_seq_len)
    else:
        timing = task_timing(task, item.duration)
    segments = torch.from_numpy(seconds_to_grid(item.segments, timing).astype(np.float32).reshape(-1, 2))
    labels = torch.from_numpy(np.asarray(item.labels, dtype=np.int64).reshape(-1))
    return GridSample(item.video_id, visual, audio, segments, labels, timing)


# ---- training crops -----------------------------------------------------------------------------------


def _visible_ratio(segments: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Share of each segment inside [lo, hi] (broadcast); NaN for zero-length segments (never kept)."""
    inter = np.clip(np.minimum(hi, segments[..., 1]) - np.maximum(lo, segments[..., 0]), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / np.abs(segments[..., 1] - segments[..., 0])


def clip_to_features(sample: GridSample, trunc_thresh: float) -> GridSample:
    """The official end rule (ActivityNet loader, applied to every task here): with ``end = T + offset``,
    drop segments starting at or after ``end`` or whose part before ``end`` is below `trunc_thresh`
    of their length (zero-length segments too); clip the others to ``end``."""
    seg = sample.segments.double().numpy().reshape(-1, 2)
    end = sample.length + grid_offset(sample.timing)
    keep = (seg[:, 0] < end) & (_visible_ratio(seg, np.float64(-np.inf), np.float64(end)) >= trunc_thresh)
    clipped = np.stack([seg[keep, 0], np.minimum(seg[keep, 1], end)], axis=1)
    return dataclasses.replace(
        sample, segments=torch.from_numpy(clipped.astype(np.float32)), labels=sample.labels[torch.from_numpy(keep)]
    )


def train_crop(
    sample: GridSample, task: TaskConfig, rng: np.random.Generator, crop_ratio: tuple[float, float] | None = (0.9, 1.0)
) -> GridSample:
    """The official training crop (``truncate_feats``), deterministic given `rng`.

    1. `clip_to_features` (segments past the features' end).
    2. Crop length L: ``max_seq_len`` when the sequence is longer; otherwise, with `crop_ratio` (lo, hi),
       a uniform integer in [max(round(lo T), 1), min(round(hi T), T)] (no crop when it is T or when
       `crop_ratio` is None). L never exceeds ``max_seq_len``.
    3. Window start: uniform among the starts whose window keeps at least one segment (any start when
       none does) - the limit of the official "try random starts until one keeps a segment". A segment is
       kept when its part inside [start - offset, start + L + offset] (offset = half a snippet in grid
       units) is at least ``task.trunc_thresh`` of its length; kept segments are clipped to that interval
       and shifted by -start.
    """
    sample = clip_to_features(sample, task.trunc_thresh)
    n = sample.length
    if n > task.max_seq_len:
        length = task.max_seq_len
    elif crop_ratio is None:
        return sample
    else:
        lo, hi = crop_ratio
        if not 0 < lo <= hi:
            raise ValueError(f"crop_ratio must satisfy 0 < low <= high, got {crop_ratio}")
        low, high = max(round(lo * n), 1), min(round(hi * n), n)
        length = int(rng.integers(low, high + 1)) if high >= low else n
        if length >= n:
            return sample

    offset = grid_offset(sample.timing)
    seg = sample.segments.double().numpy().reshape(-1, 2)
    starts = np.arange(n - length + 1, dtype=np.float64)
    ratio = _visible_ratio(seg[None, :, :], (starts - offset)[:, None], (starts + length + offset)[:, None])
    kept = ratio >= task.trunc_thresh  # (starts, segments)
    useful = np.flatnonzero(kept.any(axis=1))
    start = int(rng.choice(useful)) if useful.size else int(rng.integers(0, n - length + 1))

    keep = kept[start]
    lo_edge, hi_edge = start - offset, start + length + offset
    new_seg = np.stack([np.maximum(seg[keep, 0], lo_edge), np.minimum(seg[keep, 1], hi_edge)], axis=1) - start
    return dataclasses.replace(
        sample,
        visual=sample.visual[:, start : start + length].clone(),
        audio=sample.audio[:, start : start + length].clone(),
        segments=torch.from_numpy(new_seg.astype(np.float32)).reshape(-1, 2),
        labels=sample.labels[torch.from_numpy(keep)],
    )


# ---- batching -----------------------------------------------------------------------------------------


def pad_batch(samples: Sequence[GridSample], length: int | None = None) -> SampleBatch:
    """Zero-pad samples to `length` (default: the longest) with a validity mask.

    Training pads to the task's ``max_seq_len`` (what `UniAV.make_batch` does in training mode); this is the
    same padding without a model, e.g. for a DataLoader ``collate_fn``.
    """
    if not samples:
        raise ValueError("pad_batch needs at least one sample")
    lengths = torch.tensor([s.length for s in samples])
    target = int(lengths.max()) if length is None else int(length)
    if int(lengths.max()) > target:
        raise ValueError(f"a sample of {int(lengths.max())} steps does not fit a batch of length {target}")
    dv, da = samples[0].visual.shape[0], samples[0].audio.shape[0]
    visual = torch.zeros((len(samples), dv, target))
    audio = torch.zeros((len(samples), da, target))
    for i, s in enumerate(samples):
        if s.visual.shape[0] != dv or s.audio.shape[0] != da:
            raise ValueError(
                f"sample {s.video_id!r}: widths {s.visual.shape[0]}/{s.audio.shape[0]} differ from "
                f"the batch's {dv}/{da}"
            )
        visual[i, :, : s.length] = s.visual
        audio[i, :, : s.length] = s.audio
    mask = (torch.arange(target)[None, :] < lengths[:, None])[:, None, :]
    return SampleBatch(
        visual,
        audio,
        mask,
        [s.segments for s in samples],
        [s.labels for s in samples],
        [s.timing for s in samples],
        [s.video_id for s in samples],
    )
