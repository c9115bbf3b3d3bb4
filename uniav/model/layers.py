"""Basic layers of the UniAV network: masked 1-D convolution, channel layer norm, position table,
per-level scale and (affine) drop-path. Tensors are channels-first: (batch, channels, time)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def downsample_mask(mask: torch.Tensor, stride: int) -> torch.Tensor:
    """Nearest-neighbour down-sampling of a (B, 1, T) bool mask by an integer stride."""
    return mask if stride == 1 else mask[..., ::stride]


class MaskedConv1d(nn.Module):
    """Conv1d (odd kernel, 'same' padding, optional stride) whose output is zeroed where the
    (down-sampled) mask is false. State-dict layout: ``conv.weight`` / ``conv.bias``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1, bias: bool = True
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel size must be odd, got {kernel_size}")
        self.stride = stride
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=bias
        )
        if bias:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] % self.stride:
            raise ValueError(f"length {x.shape[-1]} is not divisible by the stride {self.stride}")
        out_mask = downsample_mask(mask, self.stride)
        return self.conv(x) * out_mask.to(x.dtype), out_mask


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channels of a (B, C, T) tensor; affine weight/bias of shape (1, C, 1)."""

    def __init__(self, num_channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, num_channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, num_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(dim=1, keepdim=True)
        res = x - mu
        var = (res * res).mean(dim=1, keepdim=True)
        return res * torch.rsqrt(var + self.eps) * self.weight + self.bias


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """The (1, dim, length) sinusoid position table: sin on even channels, cos on odd ones."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    table = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float().T.unsqueeze(0).contiguous()


class Scale(nn.Module):
    """A learnable scalar multiplier (one per pyramid level in the regression head)."""

    def __init__(self, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(init_value, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop whole samples of a residual branch with probability `drop_prob`."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mask = torch.floor(keep + torch.rand(shape, dtype=x.dtype, device=x.device))
    return x / keep * mask


class AffineDropPath(nn.Module):
    """Drop-path with a learnable per-channel scale (initialised to 1e-4), as in the official model
    when drop-path > 0. State-dict key: ``scale`` of shape (1, C, 1)."""

    def __init__(self, num_channels: int, drop_prob: float, init_scale: float = 1e-4) -> None:
        super().__init__()
        self.drop_prob = drop_prob
        self.scale = nn.Parameter(torch.full((1, num_channels, 1), init_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(self.scale * x, self.drop_prob, self.training)


def interpolate_table(table: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resample a (1, C, L) table to `length` (align_corners=False)."""
    return F.interpolate(table, size=length, mode="linear", align_corners=False)


def prior_bias(prior_prob: float) -> float:
    """Bias that makes a sigmoid classifier start at probability `prior_prob`."""
    return -math.log((1 - prior_prob) / prior_prob)
