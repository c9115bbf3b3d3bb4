"""The trainer end to end on a tiny learnable dataset: loss falls, resume is exact, the CLI works,
single-task and init-from variants, and a two-process gloo run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from tests.training_data import write_config
from uniav.cli import main
from uniav.model.uniav import UniAV
from uniav.training.config import load_train_config
from uniav.training.trainer import Trainer


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("train"))


def test_short_run_loss_falls_and_exports(tmp_path):
    cfg = load_train_config(write_config(tmp_path / "data", stop_and_go=False, epochs=4))
    trainer = Trainer(cfg, output=tmp_path / "run", progress=False, log=lambda _: None)
    state = trainer.fit()
    first, last = state.history[0]["train_loss"], state.history[-1]["train_loss"]
    for task in ("TAL", "SED"):
        assert last[task]["loss"] < 0.8 * first[task]["loss"], (task, first, last)
    assert all("val_average_mAP" in h for h in state.history)
    model = UniAV.from_pretrained(tmp_path / "run" / "model")
    assert model.config.task("SED").labels == ("beep", "click", "buzz")
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {x["type"] for x in lines} == {"train", "epoch"}
    report = trainer.evaluate("test")
    assert set(report.tasks) == {"TAL", "SED"}
    assert report.tasks["SED"].result.average_mAP > 0.1  # the events are learnable


def test_resume_continues_exactly(config_path, tmp_path):
    cfg = load_train_config(config_path)
    straight = Trainer(cfg, output=tmp_path / "a", progress=False, log=lambda _: None)
    straight.fit()
    first = Trainer(cfg, output=tmp_path / "b", progress=False, log=lambda _: None)
    first.fit(stop_after=2)  # interrupted after two epochs
    resumed = Trainer(cfg, output=tmp_path / "b", progress=False, log=lambda _: None)
    resumed.fit(resume=True)
    assert resumed.state.epoch == straight.state.epoch
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert straight.state.normalizers == resumed.state.normalizers


def test_cli_single_task_and_init_from(config_path, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                str(config_path),
                "--tasks",
                "sed",
                "--output",
                str(tmp_path / "single"),
                "--epochs",
                "1",
                "--quiet",
                "--no-prepare",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "SED" in out and (tmp_path / "single" / "test_report.json").is_file()
    single = UniAV.from_pretrained(tmp_path / "single" / "model")
    assert single.config.task_names == ("SED",)
    assert "backbone.self_att_V.0.mlp_TAL.0.weight" not in single.state_dict()
    # multi-task weights -> single-task fine-tuning (paper Table 1, row 7)
    assert (
        main(
            ["train", str(config_path), "--output", str(tmp_path / "multi"), "--epochs", "1", "--quiet", "--no-prepare"]
        )
        == 0
    )
    cfg = load_train_config(config_path).select_tasks(["sed"])
    tuned = Trainer(
        cfg, output=tmp_path / "tuned", init_from=str(tmp_path / "multi" / "model"), progress=False, log=lambda _: None
    )
    multi = UniAV.from_pretrained(tmp_path / "multi" / "model")
    key = "backbone.self_att_V.0.mlp_SED.0.weight"
    assert torch.equal(tuned.model.state_dict()[key], multi.state_dict()[key])


def test_two_process_gloo_run(config_path, tmp_path):
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "uniav",
            "train",
            str(config_path),
            "--output",
            str(tmp_path / "ddp"),
            "--epochs",
            "1",
            "--quiet",
            "--no-prepare",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "ddp" / "model" / "model.safetensors").is_file()
    history = [
        json.loads(x)
        for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
        if '"epoch"' in x and '"type": "epoch"' in x
    ]
    assert len(history) == 2  # warm-up + 1 epoch, logged once (rank 0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"classifier": "conv"},
        {"regression_loss": "giou"},
        {"experts_in_unimodal": False, "experts_in_pyramid": False},
    ],
)
def test_paper_variants_are_configuration_switches(tmp_path, overrides):
    import yaml

    path = write_config(tmp_path / "data", tasks=("SED",), epochs=1, warmup=0)
    raw = yaml.safe_load(path.read_text())
    raw["model"]["overrides"].update(overrides)
    path.write_text(yaml.safe_dump(raw))
    trainer = Trainer(load_train_config(path), output=tmp_path / "run", progress=False, log=lambda _: None)
    cfg = trainer.model_config
    for key, value in overrides.items():
        got = getattr(cfg, key)
        assert (got.value if hasattr(got, "value") else got) == value
    if overrides.get("classifier") == "conv":
        assert trainer.texts["SED"] is None
    losses = trainer.train_epoch(0)
    assert losses["SED"]["loss"] > 0
