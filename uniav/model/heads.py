"""Classification and regression heads, shared by all pyramid levels.

The heads' convolutions run once over all pyramid levels laid side by side on the time axis (`join_levels`),
with ``kernel // 2`` zero columns between levels: a 'same' convolution of kernel k sees exactly k // 2 steps
beyond each end of a level, so those columns stand for each level's own zero padding (they are zeroed again
after every layer). One call per layer instead of one per level: the same numbers, fewer small convolutions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from uniav.config import ClassifierKind, ModelConfig
from uniav.model.layers import ChannelLayerNorm, MaskedConv1d, Scale, prior_bias


@dataclass(frozen=True, eq=False)
class JoinedLevels:
    """Pyramid levels side by side: x (B, C, N), mask (B, 1, N) (false on the separators), `keep` (1, 1, N)
    (0 on the separators, 1 elsewhere) and each level's [start, end) columns."""

    x: torch.Tensor
    mask: torch.Tensor
    keep: torch.Tensor
    bounds: tuple[tuple[int, int], ...]

    def split(self, y: torch.Tensor) -> list[torch.Tensor]:
        """The per-level pieces of a (B, C', N) tensor computed on the joined levels."""
        return [y[..., a:b] for a, b in self.bounds]


def join_levels(feats: list[torch.Tensor], masks: list[torch.Tensor], gap: int) -> JoinedLevels:
    """Levels (B, C, T_l) with masks (B, 1, T_l) joined with `gap` zero columns between consecutive levels."""
    b, c = feats[0].shape[:2]
    xs, ms, keeps, bounds, start = [], [], [], [], 0
    for i, (x, m) in enumerate(zip(feats, masks, strict=True)):
        if i and gap:
            xs.append(x.new_zeros((b, c, gap)))
            ms.append(m.new_zeros((b, 1, gap)))
            keeps.append(x.new_zeros((1, 1, gap)))
            start += gap
        xs.append(x)
        ms.append(m)
        keeps.append(x.new_ones((1, 1, x.shape[-1])))
        bounds.append((start, start + x.shape[-1]))
        start += x.shape[-1]
    return JoinedLevels(torch.cat(xs, dim=-1), torch.cat(ms, dim=-1), torch.cat(keeps, dim=-1), tuple(bounds))


class ConvTower(nn.Module):
    """``num_layers - 1`` masked convs (k, 'same'), each with layer norm (or identity) and ReLU.
    State-dict layout: ``head.{i}.conv.*`` and ``norm.{i}.*`` (official names)."""

    def __init__(self, in_dim: int, dim: int, num_layers: int, kernel_size: int, with_ln: bool) -> None:
        super().__init__()
        self.head = nn.ModuleList(
            MaskedConv1d(in_dim if i == 0 else dim, dim, kernel_size, bias=not with_ln) for i in range(num_layers - 1)
        )
        self.norm = nn.ModuleList(ChannelLayerNorm(dim) if with_ln else nn.Identity() for _ in range(num_layers - 1))
        self.act = nn.ReLU()

    def join(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> JoinedLevels:
        return join_levels(feats, masks, self.head[0].conv.kernel_size[0] // 2 if len(self.head) else 0)

    def tower(self, levels: JoinedLevels) -> torch.Tensor:
        """The tower on joined levels (the separators zeroed after every layer, like the convs' zero padding)."""
        x = levels.x
        for conv, norm in zip(self.head, self.norm, strict=True):
            x, _ = conv(x, levels.mask)
            x = self.act(norm(x)) * levels.keep
        return x


class LanguageAwareClsHead(ConvTower):
    """Logits = exp(logit_scale) * cos(vis_proj(tower(x)), clip_proj(text)), times the mask.

    Split in two so a vocabulary change re-runs only the cosine: :meth:`clip_embeddings` (depends on the
    clip) and :meth:`logits` (the one place where prompts meet the clip). Every caller (training, official
    evaluation, the product's cached re-scoring) goes through these two.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(2 * cfg.embd_dim, cfg.head_dim, cfg.head_num_layers, cfg.head_kernel_size, cfg.head_with_ln)
        self.clip_proj = nn.Linear(cfg.text_dim, cfg.head_dim)
        nn.init.xavier_uniform_(self.clip_proj.weight)
        nn.init.zeros_(self.clip_proj.bias)
        self.vis_proj = MaskedConv1d(cfg.head_dim, cfg.head_dim, cfg.head_kernel_size)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def clip_embeddings(self, feats: list[torch.Tensor], masks: list[torch.Tensor], task: str) -> list[torch.Tensor]:
        """Per level the L2-normalised (B, D', T_l) embeddings of the clip (all a vocabulary edit reuses)."""
        levels = self.join(feats, masks)
        y, _ = self.vis_proj(self.tower(levels), levels.mask)
        return [F.normalize(v, dim=1) for v in levels.split(y)]

    def text_embeddings(self, text: torch.Tensor) -> torch.Tensor:
        """(C, text_dim) prompt embeddings -> L2-normalised (C, D')."""
        return F.normalize(self.clip_proj(text), dim=1)

    def logits(
        self, vis: list[torch.Tensor], masks: list[torch.Tensor], text: torch.Tensor | None
    ) -> list[torch.Tensor]:
        """Per level (B, T_l, C) logits of the clip embeddings `vis` against the (C, text_dim) prompt embeddings
        `text`, zero where the mask (B, 1, T_l) is false."""
        if text is None:
            raise ValueError("the language-aware classifier needs prompt embeddings")
        t = self.text_embeddings(text.to(vis[0].dtype))
        scale = self.logit_scale.exp()
        return [
            scale * (v.transpose(1, 2) @ t.T) * m.transpose(1, 2).to(v.dtype) for v, m in zip(vis, masks, strict=True)
        ]

    def forward(
        self, feats: list[torch.Tensor], masks: list[torch.Tensor], text: torch.Tensor, task: str | None = None
    ) -> list[torch.Tensor]:
        return self.logits(self.clip_embeddings(feats, masks, task), masks, text)


class ConvClsHead(ConvTower):
    """The ablation of paper Table 4: per-task convolutional classifiers (fixed vocabularies)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(2 * cfg.embd_dim, cfg.head_dim, cfg.head_num_layers, cfg.head_kernel_size, cfg.head_with_ln)
        self.cls_layer = nn.ModuleDict()
        for t in cfg.tasks:
            layer = MaskedConv1d(cfg.head_dim, t.num_classes, cfg.head_kernel_size)
            nn.init.constant_(layer.conv.bias, prior_bias(cfg.cls_prior_prob))
            self.cls_layer[t.name] = layer

    def clip_embeddings(self, feats: list[torch.Tensor], masks: list[torch.Tensor], task: str) -> list[torch.Tensor]:
        """Per level the (B, T_l, C) class logits: with a fixed vocabulary they are the clip's whole output."""
        levels = self.join(feats, masks)
        y, _ = self.cls_layer[task](self.tower(levels), levels.mask)
        return [v.transpose(1, 2) for v in levels.split(y)]

    def logits(
        self, vis: list[torch.Tensor], masks: list[torch.Tensor], text: torch.Tensor | None
    ) -> list[torch.Tensor]:
        """The logits computed by `clip_embeddings` (no prompts: the classes are the training labels)."""
        return vis

    def forward(
        self, feats: list[torch.Tensor], masks: list[torch.Tensor], text: torch.Tensor | None, task: str
    ) -> list[torch.Tensor]:
        return self.clip_embeddings(feats, masks, task)


class RegressionHead(ConvTower):
    """Shared tower, a last masked conv per task (2 channels, or 2C when class-aware, laid out
    class-major: channel 2c + side), a learnable scale per level, ReLU.

    Returns per level (B, T_l, 2) or (B, T_l, C, 2) offsets in units of the level's stride.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(2 * cfg.embd_dim, cfg.head_dim, cfg.head_num_layers, cfg.head_kernel_size, cfg.head_with_ln)
        self.class_aware = {t.name: t.class_aware for t in cfg.tasks}
        self.scale = nn.ModuleList(Scale() for _ in range(cfg.num_levels))
        self.offset_head = nn.ModuleDict(
            {
                t.name: MaskedConv1d(cfg.head_dim, 2 * t.num_classes if t.class_aware else 2, cfg.head_kernel_size)
                for t in cfg.tasks
            }
        )

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor], task: str) -> list[torch.Tensor]:
        levels = self.join(feats, masks)
        y, _ = self.offset_head[task](self.tower(levels), levels.mask)
        out = []
        for level, piece in enumerate(levels.split(y)):
            piece = F.relu(self.scale[level](piece)).transpose(1, 2)
            out.append(piece.reshape(piece.shape[0], piece.shape[1], -1, 2) if self.class_aware[task] else piece)
        return out


def build_cls_head(cfg: ModelConfig) -> nn.Module:
    return LanguageAwareClsHead(cfg) if cfg.classifier is ClassifierKind.LANGUAGE else ConvClsHead(cfg)
