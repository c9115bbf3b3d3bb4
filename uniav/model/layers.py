"""Basic layers of the UniAV network: masked 1-D convolution, channel layer norm, position table,
per-level scale and (affine) drop-path, and the time-major kernels the transformer blocks run on.

Tensors at module boundaries are channels-first (batch, channels, time), as in the official model.
Inside the backbone the blocks work time-major, (batch, time, channels) contiguous: there a layer norm
is one fused kernel and a 1x1 convolution one oneDNN matrix product (see :func:`pointwise_conv`).
A channels-first tensor may also be a transposed view of a time-major one ("channels-last" in
memory); the layers here accept both layouts and keep the cheaper one.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# From this many time steps (batch x length) a k>1 masked conv on a channels-last input runs channels-last
# (oneDNN NHWC); below it the channels-first kernel is faster even after a transposing copy (bench_layers).
CHANNELS_LAST_CONV_MIN_STEPS = 2048
# Below this many time steps (batch x length) a 1x1 conv is a BLAS matrix product: oneDNN would spend more
# on re-laying out the weights than on the product (bench_layers).
POINTWISE_ONEDNN_MIN_STEPS = 128
# Rows per chunk of the feed-forward at inference: the (rows, 4D) hidden activation stays in cache and
# below glibc's 32 MiB mmap threshold (a fresh mmap'd buffer costs a page fault per 4 KiB).
FFN_CHUNK_ROWS = 1024


def downsample_mask(mask: torch.Tensor, stride: int) -> torch.Tensor:
    """Nearest-neighbour down-sampling of a (B, 1, T) bool mask by an integer stride."""
    return mask if stride == 1 else mask[..., ::stride]


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether a (B, C, T) tensor is a transposed view of a contiguous (B, T, C) one."""
    return x.dim() == 3 and x.transpose(1, 2).is_contiguous()


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """The same (B, C, T) values stored time-major (a copy unless they already are)."""
    return x.transpose(1, 2).contiguous().transpose(1, 2)


def _nhwc(xt: torch.Tensor, rows: int = 1) -> torch.Tensor:
    """A contiguous (B, T, C) tensor as a channels-last (B*rows, C, 1, T/rows) image, without a copy."""
    b, t, c = xt.shape
    return xt.view(b * rows, 1, t // rows, c).permute(0, 3, 1, 2)


def _from_nhwc(y: torch.Tensor, batch: int) -> torch.Tensor:
    """A (N, C, 1, W) conv output back to a contiguous (batch, N*W/batch, C) tensor (a view when channels-last)."""
    return y.permute(0, 2, 3, 1).reshape(batch, -1, y.shape[1])


def _rows_per_item(steps: int) -> int:
    """How to split `steps` positions into (N, W) images for a 1x1 conv: oneDNN's brgemm 1x1 kernel is
    2x faster on at least 16 images of up to 16 positions than on one long row (and PyTorch routes
    single-threaded 1x1 convs of fewer than 16 images to a slower im2col + BLAS path)."""
    w = 16
    while w > 1 and (steps % w or steps // w < 16):
        w //= 2
    return w


class WeightPacks:
    """Inference-time cache of 1x1-conv weights laid out once in oneDNN's blocked format, which
    ``F.conv2d`` otherwise redoes on every call (a copy of the whole weight: a third of the time of
    a 1x1 conv at one clip). Owned by the backbone and handed to its blocks.

    An entry is tied to its weight tensor and that tensor's version, so updating the weights (an
    optimiser step, ``load_state_dict``) drops it; a copy or a pickle of the cache starts empty. It
    serves only CPU float32 products without autograd, and turns itself off (falling back to
    ``F.conv2d``) if this PyTorch build lacks the oneDNN operators it calls.
    """

    def __init__(self) -> None:
        self._packs: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}
        self.enabled = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")

    def __deepcopy__(self, memo: dict) -> WeightPacks:
        return WeightPacks()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def __len__(self) -> int:
        return len(self._packs)

    def serves(self, x: torch.Tensor, weight: torch.Tensor) -> bool:
        """Whether the packed path applies to this product."""
        return (
            self.enabled
            and x.device.type == "cpu"
            and x.dtype == weight.dtype == torch.float32
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
        )

    def conv(self, x4: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor | None:
        """The 1x1 conv of a channels-last (N, C_in, 1, W) image with weight (C_out, C_in, 1), or None
        when the oneDNN operators fail (the cache then stays off)."""
        try:
            entry = self._packs.get(id(weight))
            if entry is None or entry[0]() is not weight or entry[1] != weight._version:
                with torch.inference_mode(False), torch.no_grad():
                    packed = torch.ops.mkldnn._reorder_convolution_weight(
                        weight.detach().unsqueeze(-1), [0, 0], [1, 1], [1, 1], 1, list(x4.shape)
                    )
                entry = (weakref.ref(weight), weight._version, packed)
                self._packs[id(weight)] = entry
            return torch.ops.mkldnn._convolution_pointwise(
                x4, entry[2], bias, [0, 0], [1, 1], [1, 1], 1, "none", [], ""
            )
        except (RuntimeError, TypeError, AttributeError):
            self.enabled = False
            self._packs.clear()
            return None


def pointwise_conv(
    xt: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, packs: WeightPacks | None = None
) -> torch.Tensor:
    """A 1x1 Conv1d (weight (C_out, C_in, 1)) on a contiguous time-major (B, T, C_in) tensor -> (B, T, C_out);
    with `packs`, through weights laid out once (inference only, see :class:`WeightPacks`)."""
    b, t, c = xt.shape
    if b * t < POINTWISE_ONEDNN_MIN_STEPS:
        return F.linear(xt, weight.squeeze(-1), bias)
    w = _rows_per_item(b * t)
    x4 = xt.reshape(b * t // w, 1, w, c).permute(0, 3, 1, 2)
    if packs is not None and packs.serves(xt, weight):
        y = packs.conv(x4, weight, bias)
        if y is not None:
            return _from_nhwc(y, b)
    return _from_nhwc(F.conv2d(x4, weight.unsqueeze(-1), bias), b)


def depthwise_conv(xt: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
    """A depthwise Conv1d (weight (C, 1, K), 'same' padding K//2, no bias) on a time-major (B, T, C) tensor."""
    k = weight.shape[-1]
    y = F.conv2d(_nhwc(xt), weight.unsqueeze(2), None, stride=(1, stride), padding=(0, k // 2), groups=xt.shape[-1])
    return _from_nhwc(y, xt.shape[0])


def max_pool_time(xt: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """MaxPool1d over the time axis of a time-major (B, T, C) tensor."""
    return _from_nhwc(F.max_pool2d(_nhwc(xt), (1, kernel), (1, stride), (0, padding)), xt.shape[0])


def layer_norm_time_major(xt: torch.Tensor, norm: nn.Module) -> torch.Tensor:
    """A :class:`ChannelLayerNorm` (or identity) applied to a time-major (B, T, C) tensor."""
    if isinstance(norm, ChannelLayerNorm):
        return F.layer_norm(xt, xt.shape[-1:], norm.weight.view(-1), norm.bias.view(-1), norm.eps)
    return norm(xt)


@dataclass(frozen=True)
class SequenceMask:
    """The validity mask of one pyramid level in the forms the time-major layers use, computed once per
    level and shared by every block there.

    ``weight`` (B, T, 1) is 1.0 on valid steps and 0.0 on padding. ``attention_weight`` is the same
    except for a sequence without any valid step, where it is NaN: the official attention gives NaN
    there (a softmax over keys that are all -inf), and so does this model.
    """

    valid: torch.Tensor  # (B, 1, T) bool, channels-first as the heads take it
    weight: torch.Tensor  # (B, T, 1)
    attention_weight: torch.Tensor  # (B, T, 1)
    keys: torch.Tensor  # (B, 1, 1, T) bool: the keys each query may attend to

    @classmethod
    def of(cls, valid: torch.Tensor, dtype: torch.dtype) -> SequenceMask:
        """From a (B, 1, T) bool mask; float forms in `dtype`."""
        weight = valid.transpose(1, 2).to(dtype)
        empty = ~valid.any(dim=2, keepdim=True)  # (B, 1, 1)
        attention_weight = weight.masked_fill(empty, float("nan"))
        return cls(valid, weight, attention_weight, valid[:, :, None, :])

    def downsample(self, stride: int) -> SequenceMask:
        """The mask of the next level (nearest-neighbour, every `stride`-th step)."""
        if self.valid.shape[-1] % stride:
            raise ValueError(f"length {self.valid.shape[-1]} is not divisible by the stride {stride}")
        return SequenceMask.of(downsample_mask(self.valid, stride), self.weight.dtype)


class MaskedConv1d(nn.Module):
    """Conv1d (odd kernel, 'same' padding, optional stride) whose output is zeroed where the
    (down-sampled) mask is false. State-dict layout: ``conv.weight`` / ``conv.bias``.

    Takes a (B, C, T) tensor in either memory layout; a channels-last input of at least
    ``CHANNELS_LAST_CONV_MIN_STEPS`` steps gives a channels-last output, anything else a contiguous one.
    """

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
        if is_channels_last(x) and x.shape[0] * x.shape[-1] >= CHANNELS_LAST_CONV_MIN_STEPS:
            c = self.conv
            y = F.conv2d(
                _nhwc(x.transpose(1, 2)),
                c.weight.unsqueeze(2),
                c.bias,
                stride=(1, self.stride),
                padding=(0, c.padding[0]),
                groups=c.groups,
            )
            y = _from_nhwc(y, x.shape[0]).transpose(1, 2)
        else:
            y = self.conv(x.contiguous())
        return y * out_mask.to(y.dtype), out_mask


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channels of a (B, C, T) tensor; affine weight/bias of shape (1, C, 1).

    A channels-last input is normalised by one fused kernel (and stays channels-last).
    """

    def __init__(self, num_channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, num_channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, num_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if is_channels_last(x):
            return layer_norm_time_major(x.transpose(1, 2), self).transpose(1, 2)
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

    def time_major(self, xt: torch.Tensor) -> torch.Tensor:
        """The same on a time-major (B, T, C) tensor."""
        return drop_path(xt * self.scale.view(-1), self.drop_prob, self.training)


def interpolate_table(table: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resample a (1, C, L) table to `length` (align_corners=False)."""
    return F.interpolate(table, size=length, mode="linear", align_corners=False)


def prior_bias(prior_prob: float) -> float:
    """Bias that makes a sigmoid classifier start at probability `prior_prob`."""
    return -math.log((1 - prior_prob) / prior_prob)
