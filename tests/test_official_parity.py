"""Parity with the authors' official UniAV implementation.

Driven only by a fixture folder (``UNIAV_OFFICIAL_FIXTURES``, default
``../shared/fixtures/official-small``): ``config.json`` gives the model, ``cases.json`` the cases,
``cases.safetensors`` inputs and official outputs. Any folder of this layout must pass unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from uniav.model.uniav import UniAV
from uniav.official import config_from_official_json, convert_official, map_official_keys
from uniav.ops.decode import GridTiming
from uniav.ops.losses import uniav_loss
from uniav.ops.targets import assign_targets

ATOL_OUT = 1e-4
RTOL_LOSS = 1e-5


@pytest.fixture(scope="module")
def fixture(official_fixtures: Path):
    cfg_json = json.loads((official_fixtures / "config.json").read_text())
    cases = load_file(str(official_fixtures / "cases.safetensors"))
    meta = json.loads((official_fixtures / "cases.json").read_text())["cases"]
    return cfg_json, cases, meta


@pytest.fixture(scope="module")
def model(fixture, official_fixtures: Path) -> UniAV:
    cfg_json, _, _ = fixture
    m = UniAV(config_from_official_json(cfg_json))
    weights = load_file(str(official_fixtures / "weights.safetensors"))
    m.load_state_dict(map_official_keys(weights, m.config.task_names), strict=True)
    return m.eval()


@pytest.fixture(scope="module")
def imported_model(fixture, official_fixtures: Path, tmp_path_factory) -> UniAV:
    """The same weights through the importer: official .pth.tar -> model folder -> from_pretrained."""
    out = tmp_path_factory.mktemp("converted")
    base = config_from_official_json(fixture[0])
    convert_official(official_fixtures / "official_checkpoint.pth.tar", out, base=base)
    return UniAV.from_pretrained(out)


def eval_cases(meta):
    return [c for c in meta if c["mode"] == "eval"]


def train_cases(meta):
    return [c for c in meta if c["mode"] == "train"]


def batch_items(cases, name: str, key: str) -> list[torch.Tensor]:
    n = sum(1 for k in cases if k.startswith(f"{name}/{key}") and k[len(name) + len(key) + 1 :].isdigit())
    return [cases[f"{name}/{key}{b}"] for b in range(n)]


def run_case(m: UniAV, cases, case):
    name, task = case["name"], case["task"]
    vis, aud = batch_items(cases, name, "visual"), batch_items(cases, name, "audio")
    assert [v.shape[1] for v in vis] == case["lengths"]
    batch = m.make_batch(vis, aud, task)
    with torch.no_grad():
        out = m(batch.visual, batch.audio, batch.mask, task, cases[f"{task}/text_features"])
    return batch, out


def test_parameter_count(model, fixture):
    assert model.num_parameters() == fixture[0]["n_params"]


@pytest.mark.parametrize("which", ["direct", "imported"])
def test_eval_cases_match_official(which, model, imported_model, fixture):
    _, cases, meta = fixture
    m = model if which == "direct" else imported_model
    assert eval_cases(meta), "fixture has no eval cases"
    for case in eval_cases(meta):
        name, task = case["name"], case["task"]
        tcfg = m.config.task(task)
        batch, out = run_case(m, cases, case)
        n_levels = len(out.cls_logits)
        assert n_levels == sum(1 for k in cases if k.startswith(f"{name}/cls_logits/"))
        for lv in range(n_levels):
            ref_logits = cases[f"{name}/cls_logits/{lv}"]
            ref_off = cases[f"{name}/offsets/{lv}"]
            got_off = out.offsets[lv].reshape(ref_off.shape)
            assert out.cls_logits[lv].shape == ref_logits.shape, name
            torch.testing.assert_close(out.cls_logits[lv], ref_logits, atol=ATOL_OUT, rtol=0, msg=f"{name} lv{lv}")
            torch.testing.assert_close(got_off, ref_off, atol=ATOL_OUT, rtol=0, msg=f"{name} lv{lv} offsets")
            # masks: valid steps are ceil(length / stride); the official logits are zero exactly outside
            stride = m.config.fpn_strides[lv]
            expect = torch.stack([torch.arange(out.masks[lv].shape[1]) * stride < n for n in case["lengths"]])
            assert torch.equal(out.masks[lv], expect), f"{name} lv{lv} mask"
            assert torch.all(ref_logits[~expect] == 0)
        timings = [GridTiming(tcfg.feat_stride, tcfg.num_frames, tcfg.fps, d) for d in case["durations"]]
        dets = m.detect(out, task, timings)
        for b, det in enumerate(dets):
            pre = m.candidates(out, b)
            ref_pre = {k: cases[f"{name}/det{b}/pre_nms/{k}"] for k in ("segments", "scores", "labels")}
            assert_same_detections(pre.segments, pre.scores, pre.labels, ref_pre, f"{name} det{b} pre-NMS")
            ref = {k: cases[f"{name}/det{b}/{k}"] for k in ("segments", "scores", "labels")}
            assert_same_detections(det.segments, det.scores, det.labels, ref, f"{name} det{b}")


def assert_same_detections(segments, scores, labels, ref, what: str) -> None:
    assert scores.shape[0] == ref["scores"].shape[0], f"{what}: {scores.shape[0]} vs {ref['scores'].shape[0]}"
    o1 = torch.argsort(scores, descending=True, stable=True)
    o2 = torch.argsort(ref["scores"], descending=True, stable=True)
    s1, s2 = scores[o1], ref["scores"][o2]
    torch.testing.assert_close(s1, s2, atol=ATOL_OUT, rtol=0, msg=what)
    seg1, seg2, lab1, lab2 = segments[o1], ref["segments"][o2], labels[o1], ref["labels"][o2]
    # candidates whose scores differ by less than 1e-5 may swap places: compare them as sets
    for i in range(len(s1)):
        near = torch.nonzero((s2 - s1[i]).abs() < 1e-5).flatten()
        cand = torch.cat([near, torch.tensor([i])])
        d = (seg2[cand] - seg1[i]).abs().max(dim=1).values
        match = (d < ATOL_OUT) & (lab2[cand] == lab1[i])
        assert bool(match.any()), f"{what}: detection {i} {seg1[i].tolist()} label {int(lab1[i])} has no match"


def test_label_assignment_and_losses_match_official(model, fixture):
    _, cases, meta = fixture
    assert train_cases(meta), "fixture has no train cases"
    m = model
    m.train()
    try:
        for case in train_cases(meta):
            name, task = case["name"], case["task"]
            tcfg = m.config.task(task)
            vis, aud = batch_items(cases, name, "visual"), batch_items(cases, name, "audio")
            segs, labs = batch_items(cases, name, "segments"), batch_items(cases, name, "labels")
            batch = m.make_batch(vis, aud, task)
            points = torch.cat(m.points(batch.mask.shape[-1]))
            gt_cls, gt_off = assign_targets(points, segs, labs, tcfg.num_classes, tcfg.class_aware)
            for b in range(len(vis)):
                assert torch.equal(gt_cls[b], cases[f"{name}/gt_cls_labels{b}"]), f"{name}: class targets {b}"
                torch.testing.assert_close(gt_off[b], cases[f"{name}/gt_offsets{b}"], atol=1e-6, rtol=0)
            out = m(batch.visual, batch.audio, batch.mask, task, cases[f"{task}/text_features"])
            loss = uniav_loss(
                torch.cat(out.cls_logits, 1),
                torch.cat(out.offsets, 1),
                torch.cat(out.masks, 1),
                gt_cls,
                gt_off,
                case["loss_normalizer_before"],
                num_classes=tcfg.num_classes,
                class_aware=tcfg.class_aware,
                label_smoothing=tcfg.label_smoothing,
                loss_weight=tcfg.loss_weight,
            )
            assert loss.normalizer == pytest.approx(case["loss_normalizer_after"], rel=RTOL_LOSS)
            assert loss.cls_loss.item() == pytest.approx(case["cls_loss"], rel=RTOL_LOSS)
            assert loss.reg_loss.item() == pytest.approx(case["reg_loss"], rel=RTOL_LOSS)
            assert loss.final_loss.item() == pytest.approx(case["final_loss"], rel=RTOL_LOSS)
    finally:
        m.eval()


def test_raw_state_dict_differs_from_ema(fixture, official_fixtures: Path, tmp_path):
    """The importer takes state_dict_ema by default; state_dict (one optimiser step away) gives other outputs."""
    base = config_from_official_json(fixture[0])
    ema = convert_official(official_fixtures / "official_checkpoint.pth.tar", tmp_path / "ema", base=base)
    raw = convert_official(
        official_fixtures / "official_checkpoint.pth.tar", tmp_path / "raw", base=base, prefer_ema=False
    )
    diffs = [not torch.equal(a, b) for a, b in zip(ema.state_dict().values(), raw.state_dict().values(), strict=True)]
    assert any(diffs)
