"""The audio-visual backbone: embedding convs, uni-modal blocks, cross-modal pyramid."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from uniav.config import ModelConfig
from uniav.model.block import ExpertBlock
from uniav.model.layers import ChannelLayerNorm, MaskedConv1d, interpolate_table, sinusoid_table


@dataclass
class PyramidFeatures:
    """Backbone output: per level the head input [V_l; A_l] (B, 2D, T_l) and its mask (B, 1, T_l)."""

    feats: list[torch.Tensor]
    masks: list[torch.Tensor]

    def detach(self) -> PyramidFeatures:
        return PyramidFeatures([f.detach() for f in self.feats], [m.detach() for m in self.masks])


class AudioVisualBackbone(nn.Module):
    """Per modality: ``arch[0]`` masked convs (+LN, ReLU), position embedding, ``arch[1]-1``
    uni-modal blocks; then a full-resolution cross-modal pair and ``arch[2]`` down-sampling pairs.

    Parameter names follow the official checkpoint (``embd_V``, ``self_att_A``, ``ori_cross_att_Va``...).
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
        s = cfg.scale_factor
        self.cross_att_Va = nn.ModuleList(block(s, cfg.experts_in_pyramid) for _ in range(n_pyramid))
        self.cross_att_Av = nn.ModuleList(block(s, cfg.experts_in_pyramid) for _ in range(n_pyramid))
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Conv1d) and m.bias is not None:
                nn.init.zeros_(m.bias)

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

    def forward(self, x_v: torch.Tensor, x_a: torch.Tensor, mask: torch.Tensor, task: str) -> PyramidFeatures:
        mask_v = mask_a = mask
        for conv_v, norm_v, conv_a, norm_a in zip(
            self.embd_V, self.embd_norm_V, self.embd_A, self.embd_norm_A, strict=True
        ):
            x_v, mask_v = conv_v(x_v, mask_v)
            x_v = self.relu(norm_v(x_v))
            x_a, mask_a = conv_a(x_a, mask_a)
            x_a = self.relu(norm_a(x_a))
        if self.use_abs_pe:
            pe = self.position_embedding(x_v.shape[-1], task)
            x_v = x_v + pe * mask_v.to(x_v.dtype)
            x_a = x_a + pe * mask_a.to(x_a.dtype)
        for blk_v, blk_a in zip(self.self_att_V, self.self_att_A, strict=True):
            x_v, mask_v = blk_v(x_v, x_v, mask_v, task)
            x_a, mask_a = blk_a(x_a, x_a, mask_a, task)
        v, m = self.ori_cross_att_Va(x_v, x_a, mask_v, task)
        a, _ = self.ori_cross_att_Av(x_a, x_v, mask_a, task)
        feats_v, feats_a, masks = [v], [a], [m]
        for blk_va, blk_av in zip(self.cross_att_Va, self.cross_att_Av, strict=True):
            v_next, m_next = blk_va(feats_v[-1], feats_a[-1], masks[-1], task)
            a_next, _ = blk_av(feats_a[-1], feats_v[-1], masks[-1], task)
            feats_v.append(v_next)
            feats_a.append(a_next)
            masks.append(m_next)
        return PyramidFeatures([torch.cat((fv, fa), dim=1) for fv, fa in zip(feats_v, feats_a, strict=True)], masks)
