"""The time-major kernels of the backbone against the plain channels-first operations they replace, and the
transformer block against a channels-first transcription of the official block (masks, -inf softmax,
value mask, NaN for a sequence without any valid step)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import uniav.model.block as block_module
from uniav.model.block import ExpertBlock
from uniav.model.layers import (
    ChannelLayerNorm,
    MaskedConv1d,
    SequenceMask,
    depthwise_conv,
    is_channels_last,
    max_pool_time,
    pointwise_conv,
    to_channels_last,
)


@pytest.mark.parametrize("steps", [(1, 8), (2, 32), (1, 128), (1, 256), (3, 96), (16, 64)])
def test_pointwise_conv_equals_conv1d(steps):
    b, t = steps
    g = torch.Generator().manual_seed(b * 1000 + t)
    x = torch.randn(b, 24, t, generator=g)
    w, bias = torch.randn(40, 24, 1, generator=g), torch.randn(40, generator=g)
    got = pointwise_conv(x.transpose(1, 2).contiguous(), w, bias)
    torch.testing.assert_close(got, F.conv1d(x, w, bias).transpose(1, 2), atol=1e-5, rtol=1e-5)
    assert got.is_contiguous()


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_depthwise_conv_and_max_pool_equal_their_channels_first_forms(stride):
    g = torch.Generator().manual_seed(stride)
    x = torch.randn(2, 12, 32, generator=g)
    k = stride + 1 if stride > 1 else 3
    w = torch.randn(12, 1, k, generator=g)
    xt = x.transpose(1, 2).contiguous()
    ref = F.conv1d(x, w, stride=stride, padding=k // 2, groups=12).transpose(1, 2)
    torch.testing.assert_close(depthwise_conv(xt, w, stride), ref, atol=1e-5, rtol=1e-5)
    pool = F.max_pool1d(x, stride + 1, stride, (stride + 1) // 2).transpose(1, 2)
    assert torch.equal(max_pool_time(xt, stride + 1, stride, (stride + 1) // 2), pool)


@pytest.mark.parametrize("batch", [1, 64])  # below and above CHANNELS_LAST_CONV_MIN_STEPS (2048) at T=32
def test_masked_conv_and_layer_norm_agree_across_layouts(batch):
    torch.manual_seed(batch)
    conv, norm = MaskedConv1d(16, 8, 3), ChannelLayerNorm(8)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    x = torch.randn(batch, 16, 32)
    mask = torch.ones(batch, 1, 32, dtype=torch.bool)
    mask[0, :, 20:] = False
    y_first, _ = conv(x, mask)
    y_last, _ = conv(to_channels_last(x), mask)
    torch.testing.assert_close(y_last, y_first, atol=1e-5, rtol=1e-5)
    assert is_channels_last(y_last) == (batch * 32 >= 2048) and y_first.is_contiguous()
    assert torch.all(y_first[0, :, 20:] == 0)
    n_last = norm(to_channels_last(y_first))
    assert is_channels_last(n_last)
    torch.testing.assert_close(n_last, norm(y_first), atol=1e-5, rtol=1e-5)


def test_sequence_mask_levels_and_the_empty_sequence():
    valid = torch.zeros(2, 1, 8, dtype=torch.bool)
    valid[0, :, :5] = True  # sequence 1 has no valid step
    m = SequenceMask.of(valid, torch.float32)
    assert m.weight[0, :, 0].tolist() == [1, 1, 1, 1, 1, 0, 0, 0]
    assert torch.isnan(m.attention_weight[1]).all() and not torch.isnan(m.attention_weight[0]).any()
    assert m.keys.shape == (2, 1, 1, 8)
    down = m.downsample(2)
    assert down.valid[0, 0].tolist() == [True, True, True, False]
    with pytest.raises(ValueError, match="not divisible"):
        down.downsample(3)


def official_block(blk: ExpertBlock, x1, x2, mask, task):
    """The official block, channels-first: masked convs, layer norms over channels, explicit -inf softmax,
    values times the key mask, output times the query mask, max-pool skip, affine drop-path scales."""

    def ln(norm, x):
        mu = x.mean(1, keepdim=True)
        var = ((x - mu) ** 2).mean(1, keepdim=True)
        return (x - mu) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias

    s = blk.stride
    out_mask = mask[..., ::s]
    m = out_mask.to(x1.dtype)
    att = blk.attn

    def dw(conv, x):
        k = conv.conv.weight.shape[-1]
        return F.conv1d(x, conv.conv.weight, stride=s, padding=k // 2, groups=x.shape[1]) * m

    q = att.query(ln(att.query_norm, dw(att.query_conv, ln(blk.ln12, x2))))
    k = att.key(ln(att.key_norm, dw(att.key_conv, ln(blk.ln11, x1))))
    v = att.value(ln(att.value_norm, dw(att.value_conv, ln(blk.ln11, x1))))
    b, c, t = q.shape
    nh = att.n_head

    def heads(x):
        return x.view(b, nh, c // nh, -1).transpose(2, 3)

    scores = (heads(q) * (1 / math.sqrt(c // nh))) @ heads(k).transpose(-2, -1)
    scores = scores.masked_fill(~out_mask[:, :, None, :], float("-inf"))
    y = F.softmax(scores, dim=-1) @ (heads(v) * m[:, :, :, None])
    y = att.proj(y.transpose(2, 3).reshape(b, c, t)) * m
    skip = x1 if s == 1 else F.max_pool1d(x1, s + 1, s, (s + 1) // 2)
    scale_attn = blk.drop_path_attn.scale if hasattr(blk.drop_path_attn, "scale") else 1.0
    scale_mlp = blk.drop_path_mlp.scale if hasattr(blk.drop_path_mlp, "scale") else 1.0
    out = skip * m + scale_attn * y
    ln2, mlp = blk.expert(task)
    return out + scale_mlp * (mlp(ln(ln2, out)) * m)


def random_block(stride: int, droppath: float, seed: int) -> ExpertBlock:
    torch.manual_seed(seed)
    blk = ExpertBlock(16, 2, ("TAL", "SED"), stride=stride, droppath=droppath)
    for p in blk.parameters():  # away from the initial values (unit norms, zero biases, 1e-4 scales)
        torch.nn.init.normal_(p, std=0.3)
    return blk


@pytest.mark.parametrize(("stride", "droppath"), [(1, 0.0), (2, 0.1)])
def test_block_matches_the_official_block(stride, droppath):
    blk = random_block(stride, droppath, seed=stride).eval()
    x1, x2 = torch.randn(3, 16, 32), torch.randn(3, 16, 32)
    mask = torch.ones(3, 1, 32, dtype=torch.bool)
    mask[1, :, 25:] = False
    mask[2, :, 7:] = False
    with torch.no_grad():
        ref = official_block(blk, x1, x2, mask, "SED")
        got = blk(
            x1.transpose(1, 2).contiguous(),
            x2.transpose(1, 2).contiguous(),
            SequenceMask.of(mask, torch.float32).downsample(stride),
            "SED",
        )
    torch.testing.assert_close(got.transpose(1, 2), ref, atol=1e-4, rtol=1e-4)


def test_block_gradients_match_the_official_block():
    blk = random_block(2, 0.1, seed=5).eval()  # eval: drop-path off, its scales still in the graph
    x1, x2 = torch.randn(2, 16, 32), torch.randn(2, 16, 32)
    mask = torch.ones(2, 1, 32, dtype=torch.bool)
    mask[1, :, 19:] = False
    official_block(blk, x1, x2, mask, "TAL").square().sum().backward()
    ref = {n: p.grad.clone() for n, p in blk.named_parameters() if p.grad is not None}
    blk.zero_grad()
    out = blk(
        x1.transpose(1, 2).contiguous(),
        x2.transpose(1, 2).contiguous(),
        SequenceMask.of(mask, torch.float32).downsample(2),
        "TAL",
    )
    out.square().sum().backward()
    assert ref and set(ref) == {n for n, p in blk.named_parameters() if p.grad is not None}
    for name, grad in ref.items():
        if name.endswith("attn.key.bias"):  # a key bias shifts every score alike: its true gradient is 0
            continue
        torch.testing.assert_close(blk.get_parameter(name).grad, grad, atol=1e-4, rtol=1e-3, msg=name)


def test_a_sequence_without_valid_steps_is_nan_as_in_the_official_block():
    blk = random_block(1, 0.0, seed=9).eval()
    x = torch.randn(2, 16, 16)
    mask = torch.ones(2, 1, 16, dtype=torch.bool)
    mask[1] = False
    with torch.no_grad():
        ref = official_block(blk, x, x, mask, "TAL")
        xt = x.transpose(1, 2).contiguous()
        got = blk(xt, xt, SequenceMask.of(mask, torch.float32), "TAL").transpose(1, 2)
    assert torch.isnan(ref[1]).all() and torch.isnan(got[1]).all()
    torch.testing.assert_close(got[0], ref[0], atol=1e-4, rtol=1e-4)


def test_chunked_feed_forward_equals_one_pass(monkeypatch):
    blk = random_block(1, 0.0, seed=3).eval()
    xt = torch.randn(4, 40, 16)
    m = SequenceMask.of(torch.ones(4, 1, 40, dtype=torch.bool), torch.float32)
    with torch.no_grad():
        whole = blk(xt, xt, m, "TAL")
        monkeypatch.setattr(block_module, "FFN_CHUNK_ROWS", 7)  # 160 rows in chunks of 7, the last one short
        chunked = blk(xt, xt, m, "TAL")
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)


def test_weight_packs_serve_inference_only_and_follow_weight_updates():
    import copy
    import pickle

    from uniav.model.layers import WeightPacks

    torch.manual_seed(4)
    packs = WeightPacks()
    x = torch.randn(2, 128, 24)  # 256 steps: the oneDNN path
    conv = torch.nn.Conv1d(24, 40, 1)
    ref = F.conv1d(x.transpose(1, 2), conv.weight, conv.bias).transpose(1, 2)
    with torch.no_grad():
        torch.testing.assert_close(pointwise_conv(x, conv.weight, conv.bias, packs), ref, atol=1e-4, rtol=1e-4)
    assert len(packs) == (1 if packs.enabled else 0)
    with torch.no_grad():
        conv.weight.mul_(2.0)  # an update bumps the version: the packed copy is redone
        torch.testing.assert_close(
            pointwise_conv(x, conv.weight, conv.bias, packs),
            F.conv1d(x.transpose(1, 2), conv.weight, conv.bias).transpose(1, 2),
            atol=1e-4,
            rtol=1e-4,
        )
    # with autograd the plain path runs, and gradients flow
    out = pointwise_conv(x, conv.weight, conv.bias, packs)
    out.sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    assert len(copy.deepcopy(packs)) == 0 and len(pickle.loads(pickle.dumps(packs))) == 0
