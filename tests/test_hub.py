"""Model folders, checkpoint checks, the Hub cache (offline) and publishing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.helpers import tiny_config
from uniav.hub import CheckpointError
from uniav.model.uniav import UniAV


@pytest.fixture()
def saved(tmp_path) -> tuple[UniAV, Path]:
    torch.manual_seed(0)
    model = UniAV(tiny_config()).eval()
    model.attach_prompt_embeddings({"SED": torch.randn(2, 16)})
    return model, model.save_pretrained(tmp_path / "model")


def outputs(model: UniAV):
    g = torch.Generator().manual_seed(5)
    b = model.make_batch([torch.randn(12, 25, generator=g)], [torch.randn(10, 25, generator=g)], "SED")
    with torch.no_grad():
        return model(b.visual, b.audio, b.mask, "SED", torch.randn(2, 16, generator=g))


def test_round_trip(saved):
    model, folder = saved
    assert {p.name for p in folder.iterdir()} == {
        "config.json",
        "model.safetensors",
        "prompt_embeddings.safetensors",
        "README.md",
    }
    loaded = UniAV.from_pretrained(folder)
    assert loaded.config == model.config
    assert not loaded.training
    for a, b in zip(outputs(model).cls_logits, outputs(loaded).cls_logits, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(loaded.prompt_embeddings["SED"], model.prompt_embeddings["SED"])
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: uniav") and "| SED | 2 |" in card


def test_mismatched_checkpoint_names_tensor_and_shapes(saved, tmp_path):
    _, folder = saved
    cfg = tiny_config(head_dim=24).to_dict()
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    import json

    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"cls_head\.clip_proj\.weight: .* \(16, 16\) vs model \(24, 16\)"):
        UniAV.from_pretrained(bad)


def test_missing_and_unexpected_keys_are_listed(saved, tmp_path):
    _, folder = saved
    sd = load_file(str(folder / "model.safetensors"))
    sd.pop("cls_head.logit_scale")
    sd["backbone.extra.weight"] = torch.zeros(1)
    save_file(sd, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError) as err:
        UniAV.from_pretrained(folder)
    assert "missing keys (1):\n  cls_head.logit_scale" in str(err.value)
    assert "unexpected keys (1):\n  backbone.extra.weight" in str(err.value)


def test_bad_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a model folder nor a Hub repo id"):
        UniAV.from_pretrained(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        UniAV.from_pretrained(tmp_path / "empty")


def test_corrupt_weights(saved):
    _, folder = saved
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="unreadable safetensors"):
        UniAV.from_pretrained(folder)


def fill_hub_cache(cache: Path, repo_id: str, folder: Path, revision: str, commit: str) -> None:
    """Lay out a Hub cache entry the way huggingface_hub writes it (refs + snapshots)."""
    root = cache / ("models--" + repo_id.replace("/", "--"))
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / revision).write_text(commit)
    snap = root / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in folder.iterdir():
        shutil.copy(f, snap / f.name)


def test_from_pretrained_hub_repo_from_offline_cache(saved, tmp_path, monkeypatch):
    model, folder = saved
    cache = tmp_path / "hub"
    fill_hub_cache(cache, "acme/uniav-tiny", folder, "main", "a" * 40)
    other = UniAV(tiny_config()).eval()
    fill_hub_cache(cache, "acme/uniav-tiny", other.save_pretrained(tmp_path / "v2"), "v2", "b" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    main = UniAV.from_pretrained("acme/uniav-tiny", cache_dir=cache)
    v2 = UniAV.from_pretrained("acme/uniav-tiny", revision="v2", cache_dir=cache)
    assert torch.equal(outputs(main).cls_logits[0], outputs(model).cls_logits[0])
    assert torch.equal(outputs(v2).cls_logits[0], outputs(other).cls_logits[0])
    assert main.source == "acme/uniav-tiny"
    with pytest.raises(FileNotFoundError, match=r"acme/uniav-tiny@v3: offline mode"):
        UniAV.from_pretrained("acme/uniav-tiny", revision="v3", cache_dir=cache)


def test_default_hub_cache_through_environment(saved, tmp_path):
    """A fresh process with HF_HUB_CACHE + HF_HUB_OFFLINE finds the model by repo id alone."""
    _, folder = saved
    cache = tmp_path / "hub"
    fill_hub_cache(cache, "acme/uniav-tiny", folder, "main", "c" * 40)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    code = "from uniav.model.uniav import UniAV; print(UniAV.from_pretrained('acme/uniav-tiny').num_parameters())"
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.strip()) == UniAV(tiny_config()).num_parameters()


class RecordingHubApi:
    """Stands in for the network side of HfApi (no Hub here): records what would be uploaded."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.repos: list[str] = []

    def create_repo(self, repo_id, private=None, exist_ok=False, repo_type=None):
        self.repos.append(repo_id)

    def upload_folder(self, repo_id, folder_path, repo_type, revision, commit_message, allow_patterns):
        dest = self.store / repo_id
        shutil.copytree(folder_path, dest, dirs_exist_ok=True)
        return type("Info", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/0"})()


def test_push_to_hub_uploads_a_loadable_folder(saved, tmp_path):
    model, _ = saved
    api = RecordingHubApi(tmp_path / "remote")
    url = model.push_to_hub("acme/pushed", api=api, model_card="---\nlibrary_name: uniav\n---\n# card\n")
    assert url.endswith("/commit/0") and api.repos == ["acme/pushed"]
    uploaded = tmp_path / "remote" / "acme" / "pushed"
    assert (uploaded / "README.md").read_text().endswith("# card\n")
    again = UniAV.from_pretrained(uploaded)
    assert torch.equal(outputs(again).cls_logits[0], outputs(model).cls_logits[0])


def test_push_command_uploads_the_folder_with_its_card(saved, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    from uniav.cli import main

    _, folder = saved
    (folder / "README.md").write_text("---\nlibrary_name: uniav\n---\n# my card\n")
    remote = tmp_path / "remote"
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: RecordingHubApi(remote))
    assert main(["push", str(folder), "acme/cli-pushed"]) == 0
    assert "pushed" in capsys.readouterr().out
    assert (remote / "acme" / "cli-pushed" / "README.md").read_text().endswith("# my card\n")
    assert (remote / "acme" / "cli-pushed" / "model.safetensors").is_file()
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    assert main(["push", str(bad), "acme/x"]) == 2
    assert "no config.json" in capsys.readouterr().err
