"""The pre-LN transformer block with one feed-forward expert per task."""

from __future__ import annotations

import torch
from torch import nn

from uniav.model.attention import MaskedMHCA
from uniav.model.layers import (
    FFN_CHUNK_ROWS,
    AffineDropPath,
    ChannelLayerNorm,
    SequenceMask,
    WeightPacks,
    layer_norm_time_major,
    max_pool_time,
    pointwise_conv,
)


def feed_forward(dim: int, hidden: int, dropout: float) -> nn.Sequential:
    """Conv1d(D, 4D, 1) -> GELU -> Dropout -> Conv1d(4D, D, 1) -> Dropout (indices 0 and 3 hold weights)."""
    return nn.Sequential(
        nn.Conv1d(dim, hidden, 1),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Conv1d(hidden, dim, 1),
        nn.Dropout(dropout),
    )


def feed_forward_time_major(mlp: nn.Sequential, xt: torch.Tensor, packs: WeightPacks | None = None) -> torch.Tensor:
    """`mlp` (built by :func:`feed_forward`) on a time-major (B, T, D) tensor.

    Without autograd the rows go through in chunks of ``FFN_CHUNK_ROWS`` (the 1x1 convs treat
    every step alike, so chunking changes nothing but where the (rows, 4D) activation lives) and
    GELU runs in place.
    """
    first, act, drop1, second, drop2 = mlp
    grad = torch.is_grad_enabled() and (xt.requires_grad or first.weight.requires_grad)

    def run(x: torch.Tensor) -> torch.Tensor:
        h = pointwise_conv(x, first.weight, first.bias, packs)
        h = act(h) if grad else torch.ops.aten.gelu_(h, approximate=act.approximate)
        return drop2(pointwise_conv(drop1(h), second.weight, second.bias, packs))

    b, t, d = xt.shape
    if grad or b * t <= FFN_CHUNK_ROWS:
        return run(xt)
    flat = xt.reshape(b * t, 1, d)
    out = torch.empty((b * t, 1, second.out_channels), dtype=xt.dtype, device=xt.device)
    for start in range(0, b * t, FFN_CHUNK_ROWS):
        stop = min(start + FFN_CHUNK_ROWS, b * t)
        out[start:stop] = run(flat[start:stop])
    return out.view(b, t, -1)


class ExpertBlock(nn.Module):
    """``block(x1, x2, mask, task)``: cross-attention with keys/values/residual from `x1` and
    queries from `x2`, then the task's feed-forward expert.

    With `task_names`, one expert (``ln2_{task}``, ``mlp_{task}``) per task, chosen by name; with
    ``task_names=None`` a single shared feed-forward (``ln2``, ``mlp``) serves every task.
    Inputs and output are time-major (B, T, D); `mask` is the mask of the output level; `packs` the
    backbone's cache of laid-out weights (inference only, see :class:`WeightPacks`).
    """

    def __init__(
        self,
        dim: int,
        n_head: int,
        task_names: tuple[str, ...] | None,
        stride: int = 1,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        droppath: float = 0.0,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.ln11 = ChannelLayerNorm(dim)
        self.ln12 = ChannelLayerNorm(dim)
        self.attn = MaskedMHCA(dim, n_head, stride=stride, attn_dropout=attn_dropout, proj_dropout=dropout)
        self.task_names = task_names
        if task_names is None:
            self.ln2 = ChannelLayerNorm(dim)
            self.mlp = feed_forward(dim, 4 * dim, dropout)
        else:
            for name in task_names:
                self.add_module(f"ln2_{name}", ChannelLayerNorm(dim))
                self.add_module(f"mlp_{name}", feed_forward(dim, 4 * dim, dropout))
        if droppath > 0:
            self.drop_path_attn: nn.Module = AffineDropPath(dim, droppath)
            self.drop_path_mlp: nn.Module = AffineDropPath(dim, droppath)
        else:
            self.drop_path_attn = nn.Identity()
            self.drop_path_mlp = nn.Identity()

    def expert(self, task: str) -> tuple[nn.Module, nn.Module]:
        """(layer norm, feed-forward) used for `task`."""
        if self.task_names is None:
            return self.ln2, self.mlp
        if task not in self.task_names:
            raise KeyError(f"no expert for task {task!r}; experts: {list(self.task_names)}")
        return getattr(self, f"ln2_{task}"), getattr(self, f"mlp_{task}")

    def skip(self, x1: torch.Tensor) -> torch.Tensor:
        """The residual path: identity, or MaxPool1d(s + 1, s, (s + 1) // 2) when down-sampling."""
        s = self.stride
        return x1 if s == 1 else max_pool_time(x1, s + 1, s, (s + 1) // 2)

    @staticmethod
    def _branch(drop: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return drop.time_major(x) if isinstance(drop, AffineDropPath) else drop(x)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, mask: SequenceMask, task: str, packs: WeightPacks | None = None
    ) -> torch.Tensor:
        out = self.attn(layer_norm_time_major(x1, self.ln11), layer_norm_time_major(x2, self.ln12), mask, packs)
        out = torch.addcmul(self._branch(self.drop_path_attn, out), self.skip(x1), mask.weight)
        ln2, mlp = self.expert(task)
        ffn = feed_forward_time_major(mlp, layer_norm_time_major(out, ln2), packs) * mask.weight
        return out + self._branch(self.drop_path_mlp, ffn)
