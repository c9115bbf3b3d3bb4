"""Masked multi-head convolutional cross-attention (MHCA) with optional down-sampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uniav.model.layers import ChannelLayerNorm, MaskedConv1d


class MaskedMHCA(nn.Module):
    """Multi-head attention whose query, key and value first go through depthwise masked convs
    (stride `stride` down-samples them) and layer norms, then 1x1 projections.

    ``forward(kv_src, q_src, mask)``: keys and values come from `kv_src`, queries from `q_src`.
    Invalid keys get zero attention; the output is zeroed at invalid query positions.
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

    def forward(
        self, kv_src: torch.Tensor, q_src: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, _ = kv_src.shape
        q, q_mask = self.query_conv(q_src, mask)
        k, kv_mask = self.key_conv(kv_src, mask)
        v, _ = self.value_conv(kv_src, mask)
        q = self.query(self.query_norm(q))
        k = self.key(self.key_norm(k))
        v = self.value(self.value_norm(v)) * kv_mask.to(kv_src.dtype)

        def heads(x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, nh, T, C/nh)
            return x.view(b, self.n_head, c // self.n_head, -1).transpose(2, 3)

        attn_mask = kv_mask[:, :, None, :]  # (B, 1, 1, T_kv): True where a key is valid
        out = F.scaled_dot_product_attention(
            heads(q),
            heads(k),
            heads(v),
            attn_mask=attn_mask,
            dropout_p=self.attn_dropout if self.training else 0.0,
        )
        out = out.transpose(2, 3).reshape(b, c, -1)
        out = self.proj_drop(self.proj(out)) * q_mask.to(out.dtype)
        return out, q_mask
