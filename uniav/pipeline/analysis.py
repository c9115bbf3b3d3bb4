"""Features of a clip -> the task's vocabulary-independent network outputs, and those -> detections.

The one inference path of the project, shared by the `Detector` (``uniav predict``, the studio) and by
``uniav evaluate``:

1. `prepare_sequence`: a clip's (T, D) features in the task's regime (DESIGN 8): TAL resampled to
   ``max_seq_len`` steps on a stretched grid; AVEL/SED as they are, cut into windows of ``max_seq_len``
   steps with 50% overlap when longer.
2. `analyze_sequences`: backbone, classification tower and regression heads on every window (batched
   across windows and clips); kept per clip in a `TaskAnalysis`. Nothing here depends on the vocabulary.
3. `score_analyses`: the head's cosine with a vocabulary's prompt embeddings, offsets of the training class
   each label borrows, and the task's `PostProcessor` (decoding, Soft-NMS, window merging, seconds), for
   many clips at once. Everything above the decoding floor comes out: a threshold only filters afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from uniav.config import TaskConfig
from uniav.data.transforms import resize_to_length, stretched_timing, task_timing
from uniav.model.uniav import UniAV
from uniav.ops.decode import GridTiming
from uniav.ops.postprocess import SequenceDetections
from uniav.ops.windows import Window, WindowTable, plan_windows


@dataclass(frozen=True, eq=False)
class TaskSequence:
    """One clip's features in a task's regime: channels-first visual (Dv, L) and audio (Da, L), the grid
    timing of those L steps, the windows to run, and the clip's native number of snippets."""

    visual: torch.Tensor
    audio: torch.Tensor
    timing: GridTiming
    windows: tuple[Window, ...]
    native_steps: int


@dataclass(frozen=True, eq=False)
class TaskAnalysis:
    """A task's cached outputs on one clip: per pyramid level, for the clip's W windows, the clip embeddings
    (W, D', T_l) of the language-aware head (class logits (W, T_l, C) for a convolutional one), the offsets
    (W, T_l, 2) or (W, T_l, C, 2) and the masks (W, 1, T_l); or why the task cannot run on the clip."""

    task: str
    windows: tuple[Window, ...] = ()
    clip: tuple[torch.Tensor, ...] = ()
    offsets: tuple[torch.Tensor, ...] = ()
    masks: tuple[torch.Tensor, ...] = ()
    timing: GridTiming | None = None
    steps: int = 0
    skipped: str | None = None

    @property
    def ran(self) -> bool:
        return self.skipped is None


def prepare_sequence(task: TaskConfig, visual: np.ndarray, audio: np.ndarray, duration: float) -> TaskSequence:
    """(T, Dv) / (T, Da) features of a clip of `duration` seconds on the task's grid -> the task's regime."""
    vis = torch.from_numpy(np.ascontiguousarray(visual.T, dtype=np.float32))
    aud = torch.from_numpy(np.ascontiguousarray(audio.T, dtype=np.float32))
    steps = int(vis.shape[1])
    if steps == 0:
        raise ValueError(f"{task.name}: the clip has no snippet on the task's grid")
    if task.resize_to_max_len:  # the ActivityNet regime: the whole clip as max_seq_len steps of a stretched grid
        timing = stretched_timing(steps, task, duration)
        vis, aud = resize_to_length(vis, aud, task.max_seq_len)
    else:
        timing = task_timing(task, duration)
    return TaskSequence(vis, aud, timing, tuple(plan_windows(int(vis.shape[1]), task.max_seq_len)), steps)


def analyze_sequences(
    model: UniAV, task: TaskConfig, sequences: Sequence[TaskSequence], batch_size: int = 16
) -> list[TaskAnalysis]:
    """Run the vocabulary-independent part of the network on every window of every sequence, `batch_size`
    windows per forward pass (windows never exceed ``max_seq_len``, so all pad to the same length)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    flat = [(i, w) for i, seq in enumerate(sequences) for w in seq.windows]
    clip: list[list[torch.Tensor]] = []
    offsets: list[list[torch.Tensor]] = []
    masks: list[list[torch.Tensor]] = []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for a in range(0, len(flat), batch_size):
                chunk = flat[a : a + batch_size]
                batch = model.make_batch(
                    [sequences[i].visual[:, w.start : w.end] for i, w in chunk],
                    [sequences[i].audio[:, w.start : w.end] for i, w in chunk],
                    task.name,
                )
                pyr = model.encode(batch.visual, batch.audio, batch.mask, task.name)
                clip.append([x.cpu() for x in model.cls_head.clip_embeddings(pyr.feats, pyr.masks, task.name)])
                offsets.append([x.cpu() for x in model.reg_head(pyr.feats, pyr.masks, task.name)])
                masks.append([m.cpu() for m in pyr.masks])
    finally:
        model.train(was_training)
    levels = [torch.cat(parts) for parts in zip(*clip, strict=True)] if clip else []
    offs = [torch.cat(parts) for parts in zip(*offsets, strict=True)] if offsets else []
    msks = [torch.cat(parts) for parts in zip(*masks, strict=True)] if masks else []
    out, a = [], 0
    for seq in sequences:
        b = a + len(seq.windows)
        out.append(
            TaskAnalysis(
                task.name,
                seq.windows,
                tuple(x[a:b] for x in levels),
                tuple(x[a:b] for x in offs),
                tuple(x[a:b] for x in msks),
                seq.timing,
                seq.native_steps,
            )
        )
        a = b
    return out


def score_analyses(
    model: UniAV,
    task: TaskConfig,
    analyses: Sequence[TaskAnalysis],
    text: torch.Tensor | None,
    class_map: torch.Tensor,
) -> SequenceDetections:
    """Detections (seconds, vocabulary class indices, down to the decoding floor) of every analysis.

    `text`: (C, text_dim) prompt embeddings of the vocabulary (None for a convolutional classifier);
    `class_map` (C,): for each vocabulary class, the training class whose regression offsets it uses
    (class-aware tasks)."""
    if not analyses or any(not a.ran for a in analyses):
        raise ValueError("score_analyses needs analyses of clips the task ran on")
    clip = [torch.cat(level) for level in zip(*(a.clip for a in analyses), strict=True)]
    masks = [torch.cat(level) for level in zip(*(a.masks for a in analyses), strict=True)]
    offsets = [torch.cat(level) for level in zip(*(a.offsets for a in analyses), strict=True)]
    if task.class_aware:
        offsets = [o[:, :, class_map] for o in offsets]
    device = next(model.parameters()).device
    with torch.inference_mode():
        text = None if text is None else text.to(device=device, dtype=torch.float32)
        on_device = [x.to(device) for x in clip], [m.to(device) for m in masks]
        logits = [x.float().cpu() for x in model.cls_head.logits(*on_device, text)]
        return model.postprocessor(task.name)(
            logits,
            offsets,
            [m[:, 0] for m in masks],
            model.points(int(masks[0].shape[-1])),
            WindowTable.from_plans([a.windows for a in analyses]),
            [a.timing for a in analyses],
        )
