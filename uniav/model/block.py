"""The pre-LN transformer block with one feed-forward expert per task."""

from __future__ import annotations

import torch
from torch import nn

from uniav.model.attention import MaskedMHCA
from uniav.model.layers import AffineDropPath, ChannelLayerNorm


def feed_forward(dim: int, hidden: int, dropout: float) -> nn.Sequential:
    """Conv1d(D, 4D, 1) -> GELU -> Dropout -> Conv1d(4D, D, 1) -> Dropout (indices 0 and 3 hold weights)."""
    return nn.Sequential(
        nn.Conv1d(dim, hidden, 1),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Conv1d(hidden, dim, 1),
        nn.Dropout(dropout),
    )


class ExpertBlock(nn.Module):
    """``block(x1, x2, mask, task)``: cross-attention with keys/values/residual from `x1` and
    queries from `x2`, then the task's feed-forward expert.

    With `task_names`, one expert (``ln2_{task}``, ``mlp_{task}``) per task, chosen by name; with
    ``task_names=None`` a single shared feed-forward (``ln2``, ``mlp``) serves every task.
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
        self.ln11 = ChannelLayerNorm(dim)
        self.ln12 = ChannelLayerNorm(dim)
        self.attn = MaskedMHCA(dim, n_head, stride=stride, attn_dropout=attn_dropout, proj_dropout=dropout)
        self.pool_skip: nn.Module = (
            nn.MaxPool1d(stride + 1, stride=stride, padding=(stride + 1) // 2) if stride > 1 else nn.Identity()
        )
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

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, mask: torch.Tensor, task: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out, out_mask = self.attn(self.ln11(x1), self.ln12(x2), mask)
        m = out_mask.to(out.dtype)
        out = self.pool_skip(x1) * m + self.drop_path_attn(out)
        ln2, mlp = self.expert(task)
        return out + self.drop_path_mlp(mlp(ln2(out)) * m), out_mask
