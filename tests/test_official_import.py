"""`uniav convert-official`: key mapping, width inference, refusals and the command line."""

from __future__ import annotations

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
def base(official_fixtures: Path) -> ModelConfig:
    return config_from_official_json(json.loads((official_fixtures / "config.json").read_text()))


def write_ckpt(path: Path, state: dict) -> Path:
    torch.save({"epoch": 1, "state_dict": state, "state_dict_ema": state}, path)
    return path


def test_reads_ema_and_strips_module_prefix(official_fixtures):
    sd = read_official_checkpoint(official_fixtures / "official_checkpoint.pth.tar")
    assert not any(k.startswith("module.") for k in sd)
    assert "reg_head.offset_head.TASK2.conv.weight" in sd


def test_widths_are_inferred_from_tensors(official_fixtures, base, tmp_path):
    # start from a base with the wrong widths: the tensors decide them
    wrong = base.replace(embd_dim=8, head_dim=8, visual_dim=3, audio_dim=3, text_dim=5, backbone_arch=(1, 1, 5))
    model = convert_official(official_fixtures / "official_checkpoint.pth.tar", tmp_path / "m", base=wrong)
    cfg = model.config
    assert (cfg.embd_dim, cfg.head_dim, cfg.visual_dim, cfg.audio_dim, cfg.text_dim) == (64, 64, 96, 80, 1536)
    assert cfg.backbone_arch == (2, 3, 5) and cfg.droppath == 0.0


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


def test_vocabulary_size_must_match_class_aware_heads(official_fixtures, tmp_path):
    with pytest.raises(ValueError, match="regresses 5 classes but the vocabulary has 100"):
        convert_official(official_fixtures / "official_checkpoint.pth.tar", tmp_path / "out")


def test_cli_with_labels_and_prompt_embeddings(official_fixtures, tmp_path, capsys):
    labels = {"TAL": 7, "AVEL": 5, "SED": 3}
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
    prompts = tmp_path / "sed_prompt.npy"
    np.save(prompts, np.random.default_rng(0).standard_normal((3, 1536)).astype(np.float32))
    args += ["--prompts", f"sed={prompts}"]
    assert main(args) == 0
    assert "2,127,385 parameters" in capsys.readouterr().out
    model = UniAV.from_pretrained(tmp_path / "out")
    assert model.config.task("SED").labels == ("sed label 0", "sed label 1", "sed label 2")
    np.testing.assert_array_equal(model.prompt_embeddings["SED"].numpy(), np.load(prompts))


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["convert-official", str(tmp_path / "missing.pth.tar"), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("uniav convert-official: error: checkpoint not found") and "Traceback" not in err
    junk = tmp_path / "junk.pth.tar"
    junk.write_bytes(b"garbage")
    assert main(["convert-official", str(junk), str(tmp_path / "o")]) == 2
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


def test_converted_model_predicts_from_one_peace_feature_files(official_fixtures, base, tmp_path, capsys):
    """The authors' checkpoint + precomputed features + attached prompts: `uniav predict` on a video id."""
    prompts = tmp_path / "sed_prompt.npy"
    np.save(prompts, np.random.default_rng(1).standard_normal((3, 1536)).astype(np.float32))
    convert_official(
        official_fixtures / "official_checkpoint.pth.tar", tmp_path / "model", base=base, prompt_files={"SED": prompts}
    )
    feats = tmp_path / "features"
    feats.mkdir()
    rng = np.random.default_rng(2)
    np.save(feats / "vid1_one_peace_video_finetune.npy", rng.standard_normal((40, 96)).astype(np.float32))
    np.save(feats / "vid1_one_peace_audio.npy", rng.standard_normal((41, 80)).astype(np.float32))
    args = [
        "predict",
        "vid1",
        "--model",
        str(tmp_path / "model"),
        "--tasks",
        "sed",
        "--threshold",
        "0",
        "--encoder-option",
        f"feature_dir={feats}",
        "--quiet",
    ]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tasks"]["SED"] and {d["label"] for d in doc["tasks"]["SED"]} <= {"class 0", "class 1", "class 2"}
    # a label outside the attached prompts cannot be embedded without a text encoder: a clear error
    vocab = tmp_path / "v.txt"
    vocab.write_text("dog\n")
    assert main(args + ["--vocab", f"sed={vocab}"]) == 2
    assert "no stored embedding for the prompt" in capsys.readouterr().err
