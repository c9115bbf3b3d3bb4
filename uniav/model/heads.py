"""Classification and regression heads, shared by all pyramid levels."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from uniav.config import ClassifierKind, ModelConfig
from uniav.model.layers import ChannelLayerNorm, MaskedConv1d, Scale, prior_bias


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

    def tower(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.head, self.norm, strict=True):
            x, _ = conv(x, mask)
            x = self.act(norm(x))
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
        out = []
        for x, m in zip(feats, masks, strict=True):
            y, _ = self.vis_proj(self.tower(x, m), m)
            out.append(F.normalize(y, dim=1))
        return out

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
        out = []
        for x, m in zip(feats, masks, strict=True):
            y, _ = self.cls_layer[task](self.tower(x, m), m)
            out.append(y.transpose(1, 2))
        return out

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
        out = []
        for level, (x, m) in enumerate(zip(feats, masks, strict=True)):
            y, _ = self.offset_head[task](self.tower(x, m), m)
            y = F.relu(self.scale[level](y)).transpose(1, 2)
            out.append(y.reshape(y.shape[0], y.shape[1], -1, 2) if self.class_aware[task] else y)
        return out


def build_cls_head(cfg: ModelConfig) -> nn.Module:
    return LanguageAwareClsHead(cfg) if cfg.classifier is ClassifierKind.LANGUAGE else ConvClsHead(cfg)
