"""The UniAV network: backbone + language-aware classification head + regression heads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from uniav.config import ClassifierKind, ModelConfig
from uniav.hub import HubMixin
from uniav.model.backbone import AudioVisualBackbone, PyramidFeatures
from uniav.model.heads import RegressionHead, build_cls_head
from uniav.ops.decode import GridTiming, ScoredSegments, decode_candidates
from uniav.ops.postprocess import PostProcessor
from uniav.ops.targets import make_points
from uniav.ops.windows import WindowTable


@dataclass
class UniAVOutput:
    """Per pyramid level: class logits (B, T_l, C), offsets (B, T_l, 2) or (B, T_l, C, 2) and
    validity masks (B, T_l)."""

    cls_logits: list[torch.Tensor]
    offsets: list[torch.Tensor]
    masks: list[torch.Tensor]

    @property
    def padded_len(self) -> int:
        return int(self.masks[0].shape[-1])


@dataclass
class Batch:
    """Zero-padded inputs: visual (B, Dv, T), audio (B, Da, T), mask (B, 1, T) and the true lengths."""

    visual: torch.Tensor
    audio: torch.Tensor
    mask: torch.Tensor
    lengths: list[int]


class UniAV(HubMixin, nn.Module):
    """One network for TAL, AVEL and SED (Geng et al.).

    >>> model = UniAV(ModelConfig.preset("small"))
    >>> out = model(batch.visual, batch.audio, batch.mask, task="SED", text=prompt_embeddings)
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = AudioVisualBackbone(config)
        self.cls_head = build_cls_head(config)
        self.reg_head = RegressionHead(config)
        # per task, embeddings of the training prompts (rows follow the task's labels), for encoders
        # that cannot embed new text (precomputed ONE-PEACE features); empty otherwise
        self.prompt_embeddings: dict[str, torch.Tensor] = {}
        self.source: str | None = None  # where the weights came from (folder or Hub id), if loaded

    def attach_prompt_embeddings(self, embeddings: dict[str, torch.Tensor]) -> None:
        """Attach per-task (C, text_dim) embeddings of the training vocabulary's prompts."""
        for task, emb in embeddings.items():
            tcfg = self.config.task(task)
            emb = torch.as_tensor(emb, dtype=torch.float32)
            if emb.shape != (tcfg.num_classes, self.config.text_dim):
                raise ValueError(
                    f"prompt embeddings of {task}: expected ({tcfg.num_classes}, {self.config.text_dim}) "
                    f"(one row per label), got {tuple(emb.shape)}"
                )
            self.prompt_embeddings[tcfg.name] = emb

    # ---- batching ------------------------------------------------------------------------
    def padded_length(self, max_len: int, task: str) -> int:
        """Training pads to the task's max_seq_len; inference too, or for a longer input to the
        next multiple of the largest pyramid stride."""
        limit = self.config.task(task).max_seq_len
        if self.training:
            if max_len > limit:
                raise ValueError(f"training sequence of {max_len} steps exceeds {task} max_seq_len {limit}")
            return limit
        if max_len <= limit:
            return limit
        div = self.config.max_div_factor
        return (max_len + div - 1) // div * div

    def make_batch(self, visual: Sequence[torch.Tensor], audio: Sequence[torch.Tensor], task: str) -> Batch:
        """Pad lists of channels-first (Dv, T_i) / (Da, T_i) features into a batch."""
        if len(visual) != len(audio) or not visual:
            raise ValueError("make_batch needs one audio sequence per visual sequence (and at least one)")
        cfg = self.config
        lengths = []
        for i, (v, a) in enumerate(zip(visual, audio, strict=True)):
            if v.dim() != 2 or a.dim() != 2 or v.shape[0] != cfg.visual_dim or a.shape[0] != cfg.audio_dim:
                raise ValueError(
                    f"item {i}: expected visual ({cfg.visual_dim}, T) and audio ({cfg.audio_dim}, T) features, "
                    f"got {tuple(v.shape)} and {tuple(a.shape)}"
                )
            if v.shape[1] != a.shape[1] or v.shape[1] == 0:
                raise ValueError(
                    f"item {i}: visual and audio lengths differ or are empty: {v.shape[1]} vs {a.shape[1]}"
                )
            lengths.append(int(v.shape[1]))
        t = self.padded_length(max(lengths), task)
        device = next(self.parameters()).device
        vis = torch.zeros((len(visual), cfg.visual_dim, t), device=device)
        aud = torch.zeros((len(visual), cfg.audio_dim, t), device=device)
        for i, (v, a) in enumerate(zip(visual, audio, strict=True)):
            vis[i, :, : v.shape[1]] = v
            aud[i, :, : a.shape[1]] = a
        mask = (torch.arange(t, device=device)[None, :] < torch.tensor(lengths, device=device)[:, None])[:, None, :]
        return Batch(vis, aud, mask, lengths)

    def points(self, padded_len: int) -> list[torch.Tensor]:
        cfg = self.config
        return make_points(padded_len, cfg.fpn_strides, cfg.regression_range)

    # ---- forward -------------------------------------------------------------------------
    def encode(self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor, task: str) -> PyramidFeatures:
        """The backbone: the part of the network a vocabulary change does not touch."""
        return self.backbone(visual, audio, mask, self.config.task(task).name)

    def heads(self, pyramid: PyramidFeatures, task: str, text: torch.Tensor | None) -> UniAVOutput:
        """Classification (against `text`, the (C, text_dim) prompt embeddings) and regression."""
        task = self.config.task(task).name
        language = self.config.classifier is ClassifierKind.LANGUAGE
        if language and (text is None or text.dim() != 2 or text.shape[1] != self.config.text_dim):
            got = None if text is None else tuple(text.shape)
            raise ValueError(f"text embeddings must be (C, {self.config.text_dim}), got {got}")
        logits = self.cls_head(pyramid.feats, pyramid.masks, text, task)
        offsets = self.reg_head(pyramid.feats, pyramid.masks, task)
        return UniAVOutput(logits, offsets, [m.squeeze(1) for m in pyramid.masks])

    def forward(
        self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor, task: str, text: torch.Tensor | None = None
    ) -> UniAVOutput:
        return self.heads(self.encode(visual, audio, mask, task), task, text)

    # ---- decoding ------------------------------------------------------------------------
    def postprocessor(self, task: str, drop_empty: bool = True) -> PostProcessor:
        """The post-processing of `task`'s outputs (decoding, Soft-NMS, windows, seconds)."""
        return PostProcessor(self.config.decode, self.config.task(task).nms_sigma, drop_empty=drop_empty)

    def candidates(self, out: UniAVOutput, index: int) -> ScoredSegments:
        """Video `index`'s candidates in grid units, as they enter NMS."""
        return decode_candidates(
            [x[index] for x in out.cls_logits],
            [x[index] for x in out.offsets],
            [x[index] for x in out.masks],
            self.points(out.padded_len),
            self.config.decode,
        )

    def detect(self, out: UniAVOutput, task: str, timings: Sequence[GridTiming]) -> list[ScoredSegments]:
        """Final detections in seconds of every video of the batch, each video one whole sequence (the
        official evaluation; segments wholly outside a clip are kept, clipped to zero length, as there)."""
        lengths = [int(m.sum()) for m in out.masks[0]]
        with torch.no_grad():
            dets = self.postprocessor(task, drop_empty=False)(
                out.cls_logits, out.offsets, out.masks, self.points(out.padded_len), WindowTable.whole(lengths), timings
            )
        return [
            ScoredSegments(*(torch.from_numpy(np.ascontiguousarray(x)) for x in dets.of(i)))
            for i in range(len(timings))
        ]

    # ---- checkpoints ---------------------------------------------------------------------
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
