"""The audio-visual backbone: embedding convs, uni-modal blocks, cross-modal pyramid."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from uniav.config import ModelConfig
from uniav.model.block import ExpertBlock
from uniav.model.layers import (
    CHANNELS_LAST_CONV_MIN_STEPS,
    ChannelLayerNorm,
    MaskedConv1d,
    SequenceMask,
    WeightPacks,
    interpolate_table,
    sinusoid_table,
    to_channels_last,
)


@dataclass
class PyramidFeatures:
    """Backbone output: per level the head input [V_l; A_l] (B, 2D, T_l) and its mask (B, 1, T_l).

    Large levels are channels-last in memory (transposed views of contiguous (B, T_l, 2D) tensors), small
    ones contiguous: see :func:`head_input`.
    """

    feats: list[torch.Tensor]
    masks: list[torch.Tensor]


def head_input(v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """[V_l; A_l] (B, 2D, T_l) from time-major (B, T_l, D) features, in the layout the heads' masked convs run
    fastest on: channels-last from ``CHANNELS_LAST_CONV_MIN_STEPS`` steps on, else contiguous."""
    if v.shape[0] * v.shape[1] >= CHANNELS_LAST_CONV_MIN_STEPS:
        return torch.cat((v, a), dim=2).transpose(1, 2)
    return torch.cat((v.transpose(1, 2), a.transpose(1, 2)), dim=1)


class AudioVisualBackbone(nn.Module):
    """Per modality: ``arch[0]`` masked convs (+LN, ReLU), position embedding, ``arch[1]-1``
    uni-modal blocks; then a full-resolution cross-modal pair and ``arch[2]`` down-sampling pairs.

    Parameter names follow the official checkpoint (``embd_V``, ``self_att_A``, ``ori_cross_att_Va``...).
    The embedding convs run channels-first (the input's layout); the blocks run time-major.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.embd_dim
        self.task_max_len = {t.name: t.max_seq_len for t in cfg.tasks}
        self.use_abs_pe = cfg.use_abs_pe
        if cfg.use_abs_pe:
            self.register_buffer("pos_embd", sinusoid_table(cfg.max_pe_len, d) / d**0.5, persistent=False)
        n_embd, n_stem, n_pyramid = cfg.backbone_arch
        self.relu = nn.ReLU()

        def conv_stack(in_dim: int) -> tuple[nn.ModuleList, nn.ModuleList]:
            convs = nn.ModuleList(
                MaskedConv1d(in_dim if i == 0 else d, d, cfg.embd_kernel_size, bias=not cfg.embd_with_ln)
                for i in range(n_embd)
            )
            norms = nn.ModuleList(ChannelLayerNorm(d) if cfg.embd_with_ln else nn.Identity() for _ in range(n_embd))
            return convs, norms

        self.embd_V, self.embd_norm_V = conv_stack(cfg.visual_dim)
        self.embd_A, self.embd_norm_A = conv_stack(cfg.audio_dim)

        names = cfg.task_names

        def block(stride: int, experts: bool) -> ExpertBlock:
            return ExpertBlock(
                d,
                cfg.n_head,
                names if experts else None,
                stride=stride,
                dropout=cfg.dropout,
                attn_dropout=cfg.attn_dropout,
                droppath=cfg.droppath,
            )

        self.self_att_V = nn.ModuleList(block(1, cfg.experts_in_unimodal) for _ in range(n_stem - 1))
        self.self_att_A = nn.ModuleList(block(1, cfg.experts_in_unimodal) for _ in range(n_stem - 1))
        self.ori_cross_att_Va = block(1, cfg.experts_in_pyramid)
        self.ori_cross_att_Av = block(1, cfg.experts_in_pyramid)
        self.scale_factor = s = cfg.scale_factor
        self.cross_att_Va = nn.ModuleList(block(s, cfg.experts_in_pyramid) for _ in range(n_pyramid))
        self.cross_att_Av = nn.ModuleList(block(s, cfg.experts_in_pyramid) for _ in range(n_pyramid))
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Conv1d) and m.bias is not None:
                nn.init.zeros_(m.bias)
        # the blocks' 1x1-conv weights laid out once for inference (not state: empty in copies and pickles)
        self.weight_packs = WeightPacks()

    def position_embedding(self, length: int, task: str) -> torch.Tensor:
        """The (1, D, length) table added to the embeddings (official train/test behaviour)."""
        pe = self.pos_embd
        if self.training:
            if length > pe.shape[-1]:
                raise ValueError(f"training length {length} exceeds the position table ({pe.shape[-1]})")
            return pe[:, :, :length]
        if length >= self.task_max_len[task]:
            return interpolate_table(pe, length)
        return pe[:, :, :length]

    def embed(self, x: torch.Tensor, mask: torch.Tensor, convs: nn.ModuleList, norms: nn.ModuleList) -> torch.Tensor:
        """The embedding convs of one modality: channels-first (B, C_in, T) in, time-major (B, T, D) out."""
        for i, (conv, norm) in enumerate(zip(convs, norms, strict=True)):
            x, _ = conv(x, mask)
            if i == len(convs) - 1:
                x = to_channels_last(x)  # the last norm runs fused, and the blocks take it as it is
            x = self.relu(norm(x))
        return x.transpose(1, 2)

    def level_masks(self, mask: torch.Tensor, dtype: torch.dtype) -> list[SequenceMask]:
        """The masks of the input level and of each down-sampled level, computed once."""
        masks = [SequenceMask.of(mask, dtype)]
        for _ in self.cross_att_Va:
            masks.append(masks[-1].downsample(self.scale_factor))
        return masks

    def forward(self, x_v: torch.Tensor, x_a: torch.Tensor, mask: torch.Tensor, task: str) -> PyramidFeatures:
        x_v = self.embed(x_v, mask, self.embd_V, self.embd_norm_V)
        x_a = self.embed(x_a, mask, self.embd_A, self.embd_norm_A)
        masks = self.level_masks(mask, x_v.dtype)
        packs = self.weight_packs
        if self.use_abs_pe:
            pe = self.position_embedding(x_v.shape[1], task).transpose(1, 2).to(x_v.dtype)
            x_v = torch.addcmul(x_v, pe, masks[0].weight)
            x_a = torch.addcmul(x_a, pe, masks[0].weight)
        for blk_v, blk_a in zip(self.self_att_V, self.self_att_A, strict=True):
            x_v = blk_v(x_v, x_v, masks[0], task, packs)
            x_a = blk_a(x_a, x_a, masks[0], task, packs)
        feats_v = [self.ori_cross_att_Va(x_v, x_a, masks[0], task, packs)]
        feats_a = [self.ori_cross_att_Av(x_a, x_v, masks[0], task, packs)]
        for blk_va, blk_av, level_mask in zip(self.cross_att_Va, self.cross_att_Av, masks[1:], strict=True):
            v, a = feats_v[-1], feats_a[-1]
            feats_v.append(blk_va(v, a, level_mask, task, packs))
            feats_a.append(blk_av(a, v, level_mask, task, packs))
        return PyramidFeatures(
            [head_input(v, a) for v, a in zip(feats_v, feats_a, strict=True)], [m.valid for m in masks]
        )
