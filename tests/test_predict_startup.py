"""A cached rerun of `uniav predict` loads neither PyTorch nor the model: what the command line imports, and
the result cache that answers a rerun (same detections as the `Detector`, keyed by everything they depend on)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import signal_model_config, write_test_clip
from uniav.cli import main
from uniav.encoders import FeatureCache
from uniav.model.uniav import UniAV
from uniav.pipeline.detector import Detector
from uniav.pipeline.predictor import ClipPredictor, ModelRef, PredictRequest
from uniav.pipeline.result_cache import ResultCache
from uniav.vocabularies import Vocabulary

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "gradio", "transformers", "onnxruntime", "pandas", "plotly", "huggingface_hub")
LOADED = "import sys; print(sorted({{m.split('.')[0] for m in sys.modules}} & {packages}))"


def imported_after(code: str, env: dict[str, str] | None = None, packages: tuple[str, ...] = HEAVY) -> list[str]:
    """Which of `packages` a fresh interpreter has imported after running `code`."""
    probe = f"{code}\n{LOADED.format(packages=set(packages))}"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return UniAV(signal_model_config()).save_pretrained(tmp_path_factory.mktemp("model") / "m")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "clip.mp4"
    write_test_clip(path, seconds=3.0, size=(64, 48))
    return path


def test_the_command_line_imports_nothing_heavy():
    light = (*HEAVY, "numpy", "av")
    assert imported_after("from uniav.cli import build_parser; build_parser('predict')", packages=light) == []
    assert imported_after("from uniav.cli import build_parser; build_parser()") == []
    assert imported_after("import uniav.cli, numpy", packages=light) == ["numpy"]  # the probe sees imports


def test_a_cached_rerun_loads_neither_torch_nor_the_model(model_dir, clip, tmp_path):
    env = {**os.environ, "UNIAV_CACHE": str(tmp_path / "cache")}
    run = f"from uniav.cli import main; main(['predict', {str(clip)!r}, '--model', {str(model_dir)!r}, '--quiet'"
    assert "torch" in imported_after(run + "])", env)  # the first run needs the model
    assert imported_after(run + "])", env) == []
    assert imported_after(run + ", '--threshold', '0.3', '--tasks', 'sed'])", env) == []  # filtering only

    # what a rerun gives is what the Detector gives, at any threshold and top-k
    detector = Detector(UniAV.from_pretrained(model_dir), feature_cache=FeatureCache(tmp_path / "direct"))
    for extra, threshold, top_k in (([], 0.1, 20), (["--threshold", "0.3", "--top-k", "2"], 0.3, 2)):
        out = tmp_path / f"rerun{threshold}.json"
        code = f"{run}, '-o', {str(out)!r}, *{extra!r}])"
        assert imported_after(code, env) == []
        expected = detector.run(clip, threshold=threshold, top_k=top_k).to_dict()
        assert json.loads(out.read_text()) == {**expected, "model": str(model_dir)}


def test_results_are_keyed_by_model_vocabulary_and_content(model_dir, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("UNIAV_CACHE", str(tmp_path / "cache"))
    results = ResultCache(tmp_path / "results")

    def predictor(folder: Path, *vocabs: Vocabulary) -> ClipPredictor:
        return ClipPredictor(PredictRequest.build(ModelRef.resolve(folder), ["sed"], vocabs, threshold=0.0), results)

    first = predictor(model_dir)
    result = first.predict(clip)
    sha = first.content_sha(clip)
    assert predictor(model_dir).cached(clip, sha) == result

    # other weights, another template, other labels: not the same detections
    other = tmp_path / "other"
    torch.manual_seed(1)
    UniAV(signal_model_config()).save_pretrained(other)
    assert predictor(other).cached(clip, sha) is None
    labels = first.request.vocabularies[0].labels
    assert predictor(model_dir, Vocabulary("SED", labels, "a sound of {label}")).cached(clip, sha) is None
    assert predictor(model_dir, Vocabulary("sed", labels[:2])).cached(clip, sha) is None
    assert predictor(model_dir).cached(clip, "0" * 64) is None

    # a damaged entry is a miss, then rewritten by the next run
    for entry in (tmp_path / "results").rglob("*.json"):
        entry.write_text("{not json")
    again = predictor(model_dir)
    assert again.cached(clip, sha) is None
    assert again.predict(clip) == result and again.cached(clip, sha) == result


def test_a_vocabulary_for_a_task_not_run_is_refused(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("UNIAV_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="a vocabulary is given for SED, which is not among the tasks to run"):
        PredictRequest.build(ModelRef.resolve(model_dir), ["tal"], [Vocabulary("sed", ("beep",))])
    with pytest.raises(FileNotFoundError, match="no config.json"):
        ModelRef.resolve(model_dir.parent)
    assert main(["predict", str(model_dir / "missing.mp4"), "--model", str(model_dir), "--quiet"]) == 2
