"""Pure training rules: schedule, stop-and-go, round-robin sampling, optimizer groups, EMA, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers import tiny_config
from uniav.model.uniav import UniAV
from uniav.training.config import TrainConfigError, parse_train_config
from uniav.training.ema import ModelEma
from uniav.training.optim import parameter_groups
from uniav.training.round_robin import epoch_batches, iterations_per_epoch, sample_rng
from uniav.training.schedule import warmup_cosine
from uniav.training.stop_and_go import StopAndGo


def test_warmup_then_cosine():
    lrs = [warmup_cosine(s, 10, 30, 1e-3) for s in range(30)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert lrs[10] == pytest.approx(1e-3)
    assert lrs[20] == pytest.approx(0.5e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False)) and lrs[-1] < 2e-5


def test_stop_and_go_pauses_on_plateau_and_resumes_when_metric_falls():
    sg = StopAndGo(["TAL", "AVEL", "SED"], patience=1, min_delta=0.001, continue_threshold=0.005, cooldown=1)
    assert sg.update({"TAL": 0.30, "AVEL": 0.20, "SED": 0.10}) == ["TAL", "AVEL", "SED"]
    assert sg.update({"TAL": 0.35, "AVEL": 0.20, "SED": 0.12}) == ["TAL", "AVEL", "SED"]  # AVEL: 1 bad eval
    assert sg.update({"TAL": 0.40, "AVEL": 0.2001, "SED": 0.15}) == ["TAL", "SED"]  # 2 bad evals > patience
    # paused AVEL holds its best: stays paused (cool-down, then no drop)
    assert sg.update({"TAL": 0.42, "AVEL": 0.2, "SED": 0.16}) == ["TAL", "SED"]
    # the others moved the shared weights: AVEL's mAP fell more than 0.5% below its best -> resume
    assert sg.update({"TAL": 0.43, "AVEL": 0.19, "SED": 0.17}) == ["TAL", "AVEL", "SED"]
    state = sg.state_dict()
    again = StopAndGo(["TAL", "AVEL", "SED"])
    again.load_state_dict(state)
    assert again.state_dict() == state


def test_stop_and_go_never_pauses_every_task():
    sg = StopAndGo(["A", "B"], patience=0, cooldown=0)
    sg.update({"A": 0.5, "B": 0.5})
    assert sg.update({"A": 0.5, "B": 0.5}) == ["A", "B"]
    disabled = StopAndGo(["A", "B"], patience=0, enabled=False)
    for _ in range(3):
        assert disabled.update({"A": 0.1, "B": 0.1}) == ["A", "B"]


def test_round_robin_batches_cover_every_video_and_are_reproducible():
    assert iterations_per_epoch({"A": 100, "B": 30}, {"A": 16, "B": 8}) == 7
    b = epoch_batches(30, 8, 7, seed=1, task_index=1, epoch=0)
    assert b.shape == (7, 8)
    assert set(b[:3].ravel().tolist()) | set(b[3:4].ravel()[:6].tolist()) == set(range(30))  # first cycle
    assert np.array_equal(b, epoch_batches(30, 8, 7, seed=1, task_index=1, epoch=0))
    assert not np.array_equal(b, epoch_batches(30, 8, 7, seed=1, task_index=1, epoch=1))
    r0 = epoch_batches(30, 4, 3, seed=1, task_index=0, epoch=0, rank=0, world=2)
    r1 = epoch_batches(30, 4, 3, seed=1, task_index=0, epoch=0, rank=1, world=2)
    assert not set(r0.ravel()) & set(r1.ravel())  # ranks take disjoint videos
    assert sample_rng(1, 0, 0, 5).random() == sample_rng(1, 0, 0, 5).random()


def test_weight_decay_only_on_conv_and_linear_weights():
    model = UniAV(tiny_config())
    decay, no_decay = parameter_groups(model, 1e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].endswith("weight") and ("norm" not in names[id(p)]) for p in decay["params"])
    nd = {names[id(p)] for p in no_decay["params"]}
    assert "cls_head.logit_scale" in nd and "reg_head.scale.0.scale" in nd and "backbone.embd_norm_V.0.weight" in nd
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_ema_update():
    model = torch.nn.Linear(2, 1)
    ema = ModelEma(model, decay=0.9)
    before = ema.module.weight.clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, before + 0.1)


def test_config_parsing_and_errors(tmp_path):
    raw = {
        "model": {"preset": "small", "overrides": {"embd_dim": 64}},
        "tasks": {"sed": {"annotations": "a.json", "features": "f", "batch_size": 4}},
        "train": {"epochs": 2, "crop_ratio": [0.9, 1.0]},
    }
    cfg = parse_train_config(raw, base=tmp_path)
    assert cfg.task_names == ("SED",) and cfg.tasks["SED"].annotations == str(tmp_path / "a.json")
    assert cfg.train.crop_ratio == (0.9, 1.0) and cfg.train.epochs == 2
    with pytest.raises(TrainConfigError, match="unknown field"):
        parse_train_config({**raw, "train": {"epochz": 3}}, base=tmp_path)
    with pytest.raises(TrainConfigError, match="no tasks"):
        parse_train_config({"model": {}}, base=tmp_path)
    with pytest.raises(TrainConfigError, match="not in the configuration"):
        cfg.select_tasks(["tal"])
