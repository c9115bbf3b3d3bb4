"""`uniav convert-official`: key mapping, width inference, refusals and the command line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from uniav.cli import main
from uniav.config import ModelConfig
from uniav.hub import CheckpointError
from uniav.model.uniav import UniAV
from uniav.official import config_from_official_json, convert_official, read_official_checkpoint


@pytest.fixture(scope="module")
def official(official_fixtures: Path) -> dict:
    """The fixture's official hyper-parameters: every expectation below is derived from them."""
    return json.loads((official_fixtures / "config.json").read_text())


@pytest.fixture(scope="module")
def base(official: dict) -> ModelConfig:
    return config_from_official_json(official)


def class_aware_task(official: dict) -> tuple[str, int]:
    """(name, number of classes) of the fixture's first class-aware task."""
    return next((name, int(t["num_classes"])) for name, t in official["tasks"].items() if t["class_aware"])


def write_ckpt(path: Path, state: dict) -> Path:
    torch.save({"epoch": 1, "state_dict": state, "state_dict_ema": state}, path)
    return path


def test_reads_ema_and_strips_module_prefix(official_fixtures):
    sd = read_official_checkpoint(official_fixtures / "official_checkpoint.pth.tar")
    assert not any(k.startswith("module.") for k in sd)
    assert "reg_head.offset_head.TASK2.conv.weight" in sd


def test_widths_are_inferred_from_tensors(official_fixtures, official, base, tmp_path):
    # start from a base with wrong widths and depths: the tensors decide them
    arch = tuple(official["backbone_arch"])
    wrong = base.replace(
        embd_dim=base.embd_dim * 2,
        head_dim=base.head_dim * 2,
        visual_dim=base.visual_dim + 3,
        audio_dim=base.audio_dim + 3,
        text_dim=base.text_dim + 5,
        backbone_arch=(arch[0] + 1, arch[1] + 1, arch[2]),
    )
    model = convert_official(official_fixtures / "official_checkpoint.pth.tar", tmp_path / "m", base=wrong)
    cfg = model.config
    assert (cfg.embd_dim, cfg.head_dim, cfg.visual_dim, cfg.audio_dim, cfg.text_dim) == (
        official["embd_dim"],
        official["head_dim"],
        official["input_dim_visual"],
        official["input_dim_audio"],
        official["text_dim"],
    )
    assert cfg.backbone_arch == arch and cfg.droppath == 0.0
    assert model.num_parameters() == official["n_params"]


def test_unknown_and_missing_keys_are_refused(official_fixtures, base, tmp_path):
    sd = read_official_checkpoint(official_fixtures / "official_checkpoint.pth.tar")
    sd["backbone.mystery.weight"] = torch.zeros(3)
    sd.pop("cls_head.vis_proj.conv.bias")
    ckpt = write_ckpt(tmp_path / "bad.pth.tar", {"module." + k: v for k, v in sd.items()})
    with pytest.raises(CheckpointError) as err:
        convert_official(ckpt, tmp_path / "out", base=base)
    msg = str(err.value)
    assert "missing keys (1):\n  cls_head.vis_proj.conv.bias" in msg
    assert "unexpected keys (1):\n  backbone.mystery.weight" in msg


def test_vocabulary_size_must_match_class_aware_heads(official_fixtures, official, base, tmp_path):
    name, n = class_aware_task(official)
    bigger = base.with_task(dataclasses.replace(base.task(name), labels=tuple(f"label {i}" for i in range(n + 1))))
    with pytest.raises(ValueError, match=f"regresses {n} classes but the vocabulary has {n + 1}"):
        convert_official(official_fixtures / "official_checkpoint.pth.tar", tmp_path / "out", base=bigger)


def test_cli_with_labels_and_prompt_embeddings(official_fixtures, official, tmp_path, capsys):
    labels = {task: int(t["num_classes"]) for task, t in official["tasks"].items()}
    args = [
        "convert-official",
        str(official_fixtures / "official_checkpoint.pth.tar"),
        str(tmp_path / "out"),
        "--config",
        str(official_fixtures / "config.json"),
    ]
    for task, n in labels.items():
        f = tmp_path / f"{task}.txt"
        f.write_text("\n".join(f"{task.lower()} label {i}" for i in range(n)))
        args += ["--labels", f"{task}={f}"]
    name, n = class_aware_task(official)
    prompts = tmp_path / "prompt.npy"
    np.save(prompts, np.random.default_rng(0).standard_normal((n, official["text_dim"])).astype(np.float32))
    args += ["--prompts", f"{name.lower()}={prompts}"]
    assert main(args) == 0
    assert f"{official['n_params']:,} parameters" in capsys.readouterr().out
    model = UniAV.from_pretrained(tmp_path / "out")
    assert model.config.task(name).labels == tuple(f"{name.lower()} label {i}" for i in range(n))
    np.testing.assert_array_equal(model.prompt_embeddings[name].numpy(), np.load(prompts))


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["convert-official", str(tmp_path / "missing.pth.tar"), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("uniav convert-official: error: checkpoint not found") and "Traceback" not in err
    junk = tmp_path / "junk.pth.tar"
    junk.write_bytes(b"garbage")
    assert main(["convert-official", str(junk), str(tmp_path / "o")]) == 2
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


def test_converted_model_predicts_from_one_peace_feature_files(official_fixtures, official, base, tmp_path, capsys):
    """The authors' checkpoint + precomputed features + attached prompts: `uniav predict` on a video id."""
    name, n = class_aware_task(official)
    prompts = tmp_path / "prompt.npy"
    np.save(prompts, np.random.default_rng(1).standard_normal((n, official["text_dim"])).astype(np.float32))
    convert_official(
        official_fixtures / "official_checkpoint.pth.tar", tmp_path / "model", base=base, prompt_files={name: prompts}
    )
    feats = tmp_path / "features"
    feats.mkdir()
    rng = np.random.default_rng(2)
    steps = int(official["tasks"][name]["max_seq_len"]) + 8  # longer than one window
    visual = rng.standard_normal((steps, official["input_dim_visual"])).astype(np.float32)
    np.save(feats / "vid1_one_peace_video_finetune.npy", visual)
    audio = rng.standard_normal((steps + 1, official["input_dim_audio"])).astype(np.float32)
    np.save(feats / "vid1_one_peace_audio.npy", audio)
    args = ["predict", "vid1", "--model", str(tmp_path / "model"), "--tasks", name.lower(), "--threshold", "0"]
    args += ["--encoder-option", f"feature_dir={feats}", "--quiet"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tasks"][name] and {d["label"] for d in doc["tasks"][name]} <= set(base.task(name).labels)
    # a label outside the attached prompts cannot be embedded without a text encoder: a clear error
    vocab = tmp_path / "v.txt"
    vocab.write_text("dog\n")
    assert main(args + ["--vocab", f"{name.lower()}={vocab}"]) == 2
    assert "no stored embedding for the prompt" in capsys.readouterr().err
