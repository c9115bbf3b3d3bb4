"""The network: presets, parameter counts, variants, batching and input checks."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import tiny_config
from uniav.config import ClassifierKind, ModelConfig
from uniav.model.uniav import UniAV


@pytest.mark.parametrize(("width", "expected"), [(512, 130_750_693), (424, 90_554_757), (352, 63_139_173)])
def test_paper_parameter_counts(width, expected):
    with torch.device("meta"):
        model = UniAV(ModelConfig.preset("paper", embd_dim=width, head_dim=width))
    assert model.num_parameters() == expected


def test_paper_preset_vocabularies_and_tasks():
    cfg = ModelConfig.preset("paper")
    assert cfg.task_names == ("TAL", "AVEL", "SED")
    assert [t.num_classes for t in cfg.tasks] == [200, 100, 10]
    assert cfg.task("sed").vocabulary.with_labels(["Dog"]).prompts() == ["A sound event of Dog."]
    assert cfg.task("TAL").tiou_thresholds[0] == 0.5 and len(cfg.task("TAL").tiou_thresholds) == 10
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(KeyError, match="unknown preset"):
        ModelConfig.preset("huge")


def test_forward_shapes_and_padding_rules():
    torch.manual_seed(0)
    model = UniAV(tiny_config()).eval()
    text = torch.randn(2, 16)
    vis, aud = [torch.randn(12, 20), torch.randn(12, 7)], [torch.randn(10, 20), torch.randn(10, 7)]
    batch = model.make_batch(vis, aud, "SED")
    assert batch.visual.shape == (2, 12, 32)  # padded to max_seq_len
    out = model(batch.visual, batch.audio, batch.mask, "SED", text)
    assert [x.shape[1] for x in out.cls_logits] == [32, 16, 8, 4, 2, 1]
    assert out.offsets[0].shape == (2, 32, 2, 2)  # class-aware: (B, T, C, 2)
    assert torch.all(out.cls_logits[0][1, 7:] == 0)
    long = model.make_batch([torch.randn(12, 70)], [torch.randn(10, 70)], "SED")
    assert long.visual.shape[-1] == 96  # longer than max_seq_len: next multiple of 32
    model.train()
    with pytest.raises(ValueError, match="exceeds SED max_seq_len"):
        model.make_batch([torch.randn(12, 70)], [torch.randn(10, 70)], "SED")


def test_padding_does_not_change_valid_outputs():
    torch.manual_seed(1)
    model = UniAV(tiny_config()).eval()
    v, a, text = torch.randn(12, 20), torch.randn(10, 20), torch.randn(3, 16)
    b1 = model.make_batch([v], [a], "TAL")
    b2 = model.make_batch([v, torch.randn(12, 64)], [a, torch.randn(10, 64)], "TAL")
    with torch.no_grad():
        o1 = model(b1.visual, b1.audio, b1.mask, "TAL", text)
        o2 = model(b2.visual, b2.audio, b2.mask, "TAL", text)
    torch.testing.assert_close(o1.cls_logits[0][0], o2.cls_logits[0][0], atol=1e-5, rtol=1e-5)


def test_input_errors_are_specific():
    model = UniAV(tiny_config()).eval()
    with pytest.raises(ValueError, match=r"expected visual \(12, T\)"):
        model.make_batch([torch.randn(11, 5)], [torch.randn(10, 5)], "TAL")
    with pytest.raises(ValueError, match="lengths differ"):
        model.make_batch([torch.randn(12, 5)], [torch.randn(10, 6)], "TAL")
    with pytest.raises(KeyError, match="unknown task"):
        model.make_batch([torch.randn(12, 5)], [torch.randn(10, 5)], "AVEL")
    b = model.make_batch([torch.randn(12, 5)], [torch.randn(10, 5)], "TAL")
    with pytest.raises(ValueError, match="text embeddings"):
        model(b.visual, b.audio, b.mask, "TAL", torch.randn(3, 15))


def test_task_experts_are_selected_by_name():
    torch.manual_seed(2)
    model = UniAV(tiny_config()).eval()
    keys = model.state_dict().keys()
    assert "backbone.self_att_V.0.mlp_TAL.0.weight" in keys and "backbone.cross_att_Av.4.ln2_SED.weight" in keys
    b = model.make_batch([torch.randn(12, 30)], [torch.randn(10, 30)], "TAL")
    with torch.no_grad():
        f_tal = model.encode(b.visual, b.audio, b.mask, "TAL").feats[0]
        # the same input through the SED experts (and SED position table) gives other features
        f_sed = model.encode(b.visual, b.audio, b.mask, "SED").feats[0]
    assert not torch.allclose(f_tal, f_sed)


@pytest.mark.parametrize(("unimodal", "pyramid"), [(False, True), (True, False), (False, False)])
def test_expert_placement_variants(unimodal, pyramid):
    model = UniAV(tiny_config(experts_in_unimodal=unimodal, experts_in_pyramid=pyramid)).eval()
    keys = set(model.state_dict())
    assert ("backbone.self_att_V.0.mlp_TAL.0.weight" in keys) == unimodal
    assert ("backbone.self_att_V.0.mlp.0.weight" in keys) == (not unimodal)
    assert ("backbone.cross_att_Va.0.mlp_SED.0.weight" in keys) == pyramid
    b = model.make_batch([torch.randn(12, 30)], [torch.randn(10, 30)], "SED")
    out = model(b.visual, b.audio, b.mask, "SED", torch.randn(2, 16))
    assert out.cls_logits[0].shape == (1, 32, 2)


def test_conv_classifier_variant():
    model = UniAV(tiny_config(classifier=ClassifierKind.CONV)).eval()
    assert "cls_head.cls_layer.TAL.conv.weight" in model.state_dict()
    b = model.make_batch([torch.randn(12, 30)], [torch.randn(10, 30)], "TAL")
    out = model(b.visual, b.audio, b.mask, "TAL")
    assert out.cls_logits[0].shape == (1, 64, 3)
    prob = torch.sigmoid(out.cls_logits[0][0, :30])
    assert prob.mean().item() < 0.05  # prior-probability initialisation (0.01)


def test_position_embedding_train_vs_eval():
    model = UniAV(tiny_config())
    bb = model.backbone
    model.train()
    assert torch.equal(bb.position_embedding(32, "SED"), bb.pos_embd[:, :, :32])
    model.eval()
    # SED (max_seq_len 32) at inference sees the 64-long table squeezed to 32
    squeezed = bb.position_embedding(32, "SED")
    assert not torch.allclose(squeezed, bb.pos_embd[:, :, :32])
    assert torch.equal(
        bb.position_embedding(64, "TAL"),
        torch.nn.functional.interpolate(bb.pos_embd, size=64, mode="linear", align_corners=False),
    )
