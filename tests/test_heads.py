"""The heads run once over joined pyramid levels: the same numbers as one level at a time."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tests.helpers import tiny_config
from uniav.model.heads import LanguageAwareClsHead, RegressionHead, join_levels


def per_level_tower(head, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The official per-level tower: masked conv ('same' zero padding), layer norm, ReLU."""
    for conv, norm in zip(head.head, head.norm, strict=True):
        x = conv.conv(x) * mask.to(x.dtype)
        x = F.relu(norm(x))
    return x


def levels(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = (32, 16, 8, 4, 2, 1)
    feats = [torch.randn(3, 32, t, generator=g) for t in lengths]
    valid = torch.tensor([1.0, 0.6, 0.3])  # the second and third videos are shorter: invalid tails in every level
    masks = [(torch.arange(t)[None, :] < (valid[:, None] * t).ceil())[:, None, :] for t in lengths]
    return feats, masks


def test_join_levels_layout():
    feats, masks = levels()
    j = join_levels(feats, masks, gap=1)
    assert j.x.shape[-1] == sum(f.shape[-1] for f in feats) + len(feats) - 1
    assert [b - a for a, b in j.bounds] == [f.shape[-1] for f in feats]
    for (a, b), f in zip(j.bounds, feats, strict=True):
        assert torch.equal(j.x[..., a:b], f)
    gaps = torch.ones(j.x.shape[-1], dtype=torch.bool)
    for a, b in j.bounds:
        gaps[a:b] = False
    assert not j.x[..., gaps].any() and not j.mask[..., gaps].any() and not j.keep[..., gaps].any()


def test_joined_heads_equal_one_level_at_a_time():
    torch.manual_seed(0)
    cfg = tiny_config(embd_dim=16, head_dim=24)
    cls, reg = LanguageAwareClsHead(cfg).eval(), RegressionHead(cfg).eval()
    for p in [*cls.parameters(), *reg.parameters()]:  # away from the zero-bias initialisation
        p.data.add_(0.1 * torch.randn_like(p))
    feats, masks = levels()
    with torch.no_grad():
        emb = cls.clip_embeddings(feats, masks, "SED")
        offsets = reg(feats, masks, "SED")
        for level, (x, m) in enumerate(zip(feats, masks, strict=True)):
            ref = F.normalize(cls.vis_proj.conv(per_level_tower(cls, x, m)) * m, dim=1)
            torch.testing.assert_close(emb[level], ref, atol=1e-5, rtol=1e-5)
            y = reg.offset_head["SED"].conv(per_level_tower(reg, x, m)) * m
            y = F.relu(reg.scale[level](y)).transpose(1, 2)
            torch.testing.assert_close(offsets[level], y.reshape(3, x.shape[-1], -1, 2), atol=1e-5, rtol=1e-5)
