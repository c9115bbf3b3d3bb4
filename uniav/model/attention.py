"""Masked multi-head convolutional cross-attention (MHCA) with optional down-sampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uniav.model.layers import (
    ChannelLayerNorm,
    MaskedConv1d,
    SequenceMask,
    WeightPacks,
    depthwise_conv,
    layer_norm_time_major,
    pointwise_conv,
)


class MaskedMHCA(nn.Module):
    """Multi-head attention whose query, key and value first go through depthwise masked convs
    (stride `stride` down-samples them) and layer norms, then 1x1 projections.

    ``forward(kv_src, q_src, mask)`` on time-major (B, T, C) tensors: keys and values come from
    `kv_src`, queries from `q_src`; `mask` is the mask of the output level; `packs`, the backbone's
    cache of laid-out weights (inference). Invalid keys get zero
    attention (the fused kernel masks them to -inf before the softmax, as the official code does,
    so values there never count); the output is zeroed at invalid query positions, and is NaN for
    a sequence with no valid key at all (as the official softmax over all -inf gives).
    """

    def __init__(
        self, dim: int, n_head: int, stride: int = 1, attn_dropout: float = 0.0, proj_dropout: float = 0.0
    ) -> None:
        super().__init__()
        if dim % n_head:
            raise ValueError(f"dim {dim} not divisible by {n_head} heads")
        if stride > 1 and stride % 2:
            raise ValueError(f"down-sampling stride must be 1 or even, got {stride}")
        self.n_head = n_head
        self.stride = stride
        self.attn_dropout = attn_dropout
        kernel = stride + 1 if stride > 1 else 3
        self.query_conv = MaskedConv1d(dim, dim, kernel, stride=stride, groups=dim, bias=False)
        self.key_conv = MaskedConv1d(dim, dim, kernel, stride=stride, groups=dim, bias=False)
        self.value_conv = MaskedConv1d(dim, dim, kernel, stride=stride, groups=dim, bias=False)
        self.query_norm = ChannelLayerNorm(dim)
        self.key_norm = ChannelLayerNorm(dim)
        self.value_norm = ChannelLayerNorm(dim)
        self.query = nn.Conv1d(dim, dim, 1)
        self.key = nn.Conv1d(dim, dim, 1)
        self.value = nn.Conv1d(dim, dim, 1)
        self.proj = nn.Conv1d(dim, dim, 1)
        self.proj_drop = nn.Dropout(proj_dropout)

    def _project(
        self, x: torch.Tensor, conv: MaskedConv1d, norm: ChannelLayerNorm, proj: nn.Conv1d, packs: WeightPacks | None
    ) -> torch.Tensor:
        """Depthwise conv -> layer norm -> 1x1 projection, time-major.

        The official masked conv also zeroes its output at invalid steps; every op that follows is
        per step until the attention, which ignores invalid keys and whose output is zeroed at
        invalid queries, so those values never reach a valid output and the product is skipped.
        """
        y = depthwise_conv(x, conv.conv.weight, self.stride)
        return pointwise_conv(layer_norm_time_major(y, norm), proj.weight, proj.bias, packs)

    def forward(
        self, kv_src: torch.Tensor, q_src: torch.Tensor, mask: SequenceMask, packs: WeightPacks | None = None
    ) -> torch.Tensor:
        b, _, c = kv_src.shape
        q = self._project(q_src, self.query_conv, self.query_norm, self.query, packs)
        k = self._project(kv_src, self.key_conv, self.key_norm, self.key, packs)
        v = self._project(kv_src, self.value_conv, self.value_norm, self.value, packs)

        def heads(x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, nh, T, C/nh), a view
            return x.view(b, x.shape[1], self.n_head, c // self.n_head).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(q),
            heads(k),
            heads(v),
            attn_mask=mask.keys,
            dropout_p=self.attn_dropout if self.training else 0.0,
        )
        out = out.transpose(1, 2).reshape(b, -1, c)
        return self.proj_drop(pointwise_conv(out, self.proj.weight, self.proj.bias, packs)) * mask.attention_weight
