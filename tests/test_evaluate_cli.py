"""Evaluation runner (predict_dataset, evaluate_model, prompt_embeddings) and the `uniav evaluate` command."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.helpers import tiny_config
from uniav.commands import evaluate as evaluate_cmd
from uniav.config import ClassifierKind
from uniav.data import Detections, FeatureManifest, NpzFeatureStore, TaskDataset, load_annotation_db, write_npz_features
from uniav.evaluation.report import EvaluationReport, read_report, write_report
from uniav.evaluation.runner import evaluate_model, evaluate_predictions, predict_dataset, prompt_embeddings
from uniav.media.grid import SnippetGrid
from uniav.model.uniav import UniAV
from uniav.training.config import TaskDataConfig

LENGTHS = {"TAL": [20, 33, 70, 9], "SED": [12, 32, 45, 20, 80, 7]}  # SED max_seq_len 32: 45 and 80 are longer


def _model(seed: int = 0, **overrides) -> UniAV:
    torch.manual_seed(seed)
    return UniAV(tiny_config(**overrides)).eval()


def _dataset_files(root: Path, task_name: str, labels: tuple[str, ...], stride: int) -> tuple[Path, Path]:
    """annotations.json (test + train subsets) and an npz feature folder for a task of the tiny config."""
    rng = np.random.default_rng(len(task_name))
    db, feats = {}, root / task_name / "feats"
    for i, t in enumerate(LENGTHS[task_name]):
        vid = f"{task_name.lower()}{i}"
        duration = (t * stride + 8) / 16.0
        anns = []
        for _ in range(int(rng.integers(1, 4))):
            s = float(rng.uniform(0, duration * 0.7))
            e = float(min(duration, s + rng.uniform(0.3, duration * 0.5)))
            k = int(rng.integers(len(labels)))
            anns.append({"segment": [round(s, 3), round(e, 3)], "label": labels[k], "label_id": k})
        db[vid] = {"subset": "test" if i % 3 else "train", "duration": duration, "annotations": anns}
        write_npz_features(feats / f"{vid}.npz", rng.normal(size=(t, 12)), rng.normal(size=(t, 10)), duration)
    FeatureManifest(dataclasses.replace(tiny_config().encoder), "test", 12, 10, 16, SnippetGrid(stride)).write(
        feats / "manifest.json"
    )
    ann = root / task_name / "annotations.json"
    ann.write_text(json.dumps({"database": db}))
    return ann, feats


@pytest.fixture()
def data(tmp_path: Path) -> dict[str, TaskDataConfig]:
    out = {}
    for task in tiny_config().tasks:
        ann, feats = _dataset_files(tmp_path, task.name, task.labels, task.feat_stride)
        out[task.name] = TaskDataConfig(annotations=str(ann), features=str(feats))
    return out


def _datasets(model: UniAV, data: dict[str, TaskDataConfig], subsets=("test",)) -> dict[str, TaskDataset]:
    return {
        name: TaskDataset(
            model.config.task(name), load_annotation_db(d.annotations), NpzFeatureStore(d.features), subsets
        )
        for name, d in data.items()
    }


def _texts(model: UniAV) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {t.name: torch.randn(t.num_classes, model.config.text_dim, generator=g) for t in model.config.tasks}


def _detections_equal(a: Detections, b: Detections) -> None:
    assert a.video_ids == b.video_ids
    np.testing.assert_array_equal(a.video_index, b.video_index)
    np.testing.assert_array_equal(a.label_ids, b.label_ids)
    np.testing.assert_allclose(a.segments, b.segments, atol=1e-4)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


# --------------------------------------------------------------------------- runner


def test_predict_dataset_structure(data) -> None:
    model = _model()
    ds = _datasets(model, data)["SED"]
    dets = predict_dataset(model, ds, _texts(model)["SED"], batch_size=2)
    assert isinstance(dets, Detections) and len(dets) > 0
    assert set(dets.video_ids) <= set(ds.video_ids)
    assert list(dets.video_ids) == [v for v in ds.video_ids if v in dets.video_ids]  # dataset order
    durations = np.array([ds.ground_truth.videos[v].duration for v in dets.video_ids])[dets.video_index]
    assert (dets.segments[:, 0] >= 0).all() and (dets.segments[:, 1] <= durations + 1e-6).all()
    assert (dets.segments[:, 1] >= dets.segments[:, 0]).all()
    assert dets.label_ids.min() >= 0 and dets.label_ids.max() < 2
    assert (dets.scores > 0).all() and (dets.scores <= 1).all()
    assert np.bincount(dets.video_index).max() <= model.config.decode.max_seg_num
    assert not model.training


def test_predict_dataset_matches_one_video_at_a_time(data) -> None:
    """Batching groups videos by padded length, so results equal the official one-by-one evaluation."""
    model = _model()
    texts = _texts(model)
    for name, ds in _datasets(model, data, subsets=("test", "train")).items():
        one = predict_dataset(model, ds, texts[name], batch_size=1)
        many = predict_dataset(model, ds, texts[name], batch_size=4)
        _detections_equal(one, many)


def test_predict_dataset_restores_training_mode(data) -> None:
    model = _model().train()
    predict_dataset(model, _datasets(model, data)["TAL"], _texts(model)["TAL"])
    assert model.training


def test_ground_truth_as_predictions_scores_one_through_the_report(data, tmp_path: Path) -> None:
    model = _model()
    reports = {}
    for name, ds in _datasets(model, data).items():
        vids, segs, labels = [], [], []
        for vid in ds.video_ids:
            for a in ds.ground_truth.videos[vid].annotations:
                vids.append(vid)
                segs.append((a.start, a.end))
                labels.append(a.label_id)
        gt = Detections.from_arrays(vids, segs, labels, np.linspace(1.0, 0.5, len(vids)))
        reports[name] = evaluate_predictions(ds, gt)
    path = write_report(EvaluationReport(tasks=reports), tmp_path / "r.json")
    back = read_report(path)
    for name, tr in back.tasks.items():
        assert tr.result.average_mAP == 1.0
        np.testing.assert_array_equal(tr.result.mAP, 1.0)
        assert tuple(tr.result.tiou_thresholds) == model.config.task(name).tiou_thresholds
        assert tr.subset == ("test",)


def test_evaluate_model_report(data) -> None:
    model = _model()
    datasets = _datasets(model, data)
    report = evaluate_model(model, datasets, _texts(model), batch_size=3)
    assert set(report.tasks) == {"TAL", "SED"}
    for name, tr in report.tasks.items():
        task = model.config.task(name)
        assert tuple(tr.result.tiou_thresholds) == task.tiou_thresholds
        assert tr.classes == task.labels
        assert 0.0 <= tr.result.average_mAP <= 1.0
        assert report.metadata["videos"][name] == len(datasets[name])
    # the same numbers as evaluating the predictions directly
    dets = predict_dataset(model, datasets["SED"], _texts(model)["SED"])
    direct = evaluate_predictions(datasets["SED"], dets)
    np.testing.assert_allclose(report.tasks["SED"].result.mAP, direct.result.mAP)


def test_evaluate_model_rejects_a_dataset_with_another_vocabulary(data) -> None:
    model = _model()
    ds = _datasets(model, data)["SED"]
    other = dataclasses.replace(ds.task, labels=("horn", "dog"))
    ds2 = TaskDataset(other, load_annotation_db(data["SED"].annotations), ds.store, ("test",))
    with pytest.raises(ValueError, match="another vocabulary"):
        evaluate_model(model, {"SED": ds2}, _texts(model))


class _RecordingEncoder:
    def __init__(self, dim: int) -> None:
        self.dim, self.prompts = dim, None
        self.spec = tiny_config().encoder

    def encode_text(self, prompts):
        self.prompts = list(prompts)
        return np.ones((len(prompts), self.dim), np.float32)


def test_prompt_embeddings_sources(tmp_path: Path) -> None:
    model = _model()
    task = model.config.task("TAL")
    npy = tmp_path / "p.npy"
    np.save(npy, np.full((3, 16), 2.0))
    d = TaskDataConfig(annotations="a.json", features="f", prompt_embeddings=str(npy))
    assert torch.equal(prompt_embeddings(model, task, d), torch.full((3, 16), 2.0))
    np.save(npy, np.zeros((2, 16)))
    with pytest.raises(ValueError, match=r"\(3, 16\)"):
        prompt_embeddings(model, task, d)

    enc = _RecordingEncoder(16)
    emb = prompt_embeddings(model, task, None, encoder=enc)
    assert emb.shape == (3, 16) and enc.prompts == [
        "A visual event of run.",
        "A visual event of jump.",
        "A visual event of swim.",
    ]
    bare = UniAV(tiny_config(use_prompt_template=False))
    prompt_embeddings(bare, bare.config.task("TAL"), None, encoder=enc)
    assert enc.prompts == ["run", "jump", "swim"]

    model.attach_prompt_embeddings({"TAL": torch.full((3, 16), 5.0)})
    assert torch.equal(prompt_embeddings(model, task, None, encoder=enc), torch.full((3, 16), 5.0))
    conv = UniAV(tiny_config(classifier=ClassifierKind.CONV))
    assert prompt_embeddings(conv, conv.config.task("TAL"), None) is None


# --------------------------------------------------------------------------- the command


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    evaluate_cmd.add_arguments(parser)
    return evaluate_cmd.run(parser.parse_args(argv))


def _saved_model(tmp_path: Path) -> tuple[UniAV, Path]:
    model = _model()
    model.attach_prompt_embeddings(_texts(model))
    return model, model.save_pretrained(tmp_path / "model")


def test_evaluate_command_with_a_config(data, tmp_path: Path, capsys) -> None:
    model, folder = _saved_model(tmp_path)
    cfg = {
        "model": {"preset": "small"},
        "tasks": {
            name: {"annotations": d.annotations, "features": d.features, "test_split": ["test"]}
            for name, d in data.items()
        },
    }
    cfg_path = tmp_path / "train.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "report.json"
    assert _run_cli([str(folder), "--config", str(cfg_path), "-o", str(out), "--batch-size", "2"]) == 0
    printed = capsys.readouterr().out
    assert "[TAL] subset test" in printed and "[SED] subset test" in printed and "average mAP" in printed
    report = read_report(out)
    expected = evaluate_model(model, _datasets(model, data), _texts(model))
    for name in ("TAL", "SED"):
        np.testing.assert_allclose(report.tasks[name].result.mAP, expected.tasks[name].result.mAP, atol=1e-9)
    raw = json.loads(out.read_text())
    assert raw["metadata"]["split"] == "test" and raw["metadata"]["config"] == str(cfg_path)

    # --tasks restricts, --split val with --subset picks other annotation subsets
    out2 = tmp_path / "r2.json"
    assert (
        _run_cli(
            [
                str(folder),
                "--config",
                str(cfg_path),
                "--tasks",
                "sed",
                "--split",
                "val",
                "--subset",
                "train",
                "-o",
                str(out2),
            ]
        )
        == 0
    )
    r2 = read_report(out2)
    assert list(r2.tasks) == ["SED"] and r2.tasks["SED"].subset == ("train",)


def test_evaluate_command_with_data_arguments(data, tmp_path: Path) -> None:
    model, folder = _saved_model(tmp_path)
    out = tmp_path / "report.json"
    assert (
        _run_cli(
            [
                str(folder),
                "--data",
                f"SED={data['SED'].annotations}",
                "--features",
                f"sed={data['SED'].features}",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    report = read_report(out)
    assert list(report.tasks) == ["SED"]
    expected = evaluate_model(model, {"SED": _datasets(model, data)["SED"]}, _texts(model))
    np.testing.assert_allclose(report.tasks["SED"].result.mAP, expected.tasks["SED"].result.mAP, atol=1e-9)


def test_evaluate_command_with_data_finds_the_testing_subset(data, tmp_path: Path) -> None:
    _, folder = _saved_model(tmp_path)
    raw = json.loads(Path(data["SED"].annotations).read_text())
    for rec in raw["database"].values():
        rec["subset"] = {"test": "testing", "train": "training"}[rec["subset"]]
    ann = tmp_path / "synth_layout.json"
    ann.write_text(json.dumps(raw))
    out = tmp_path / "report.json"
    assert (
        _run_cli([str(folder), "--data", f"SED={ann}", "--features", f"SED={data['SED'].features}", "-o", str(out)])
        == 0
    )
    report = read_report(out)
    assert report.tasks["SED"].subset == ("testing",)
    assert report.metadata["videos"]["SED"] == sum(1 for i in range(len(LENGTHS["SED"])) if i % 3)


def test_evaluate_command_errors(data, tmp_path: Path) -> None:
    _, folder = _saved_model(tmp_path)
    with pytest.raises(ValueError, match="without --features"):
        _run_cli([str(folder), "--data", f"SED={data['SED'].annotations}"])
    with pytest.raises(ValueError, match="no data to evaluate"):
        _run_cli([str(folder)])
    with pytest.raises(ValueError, match="serves"):
        _run_cli(
            [str(folder), "--data", f"AVEL={data['SED'].annotations}", "--features", f"AVEL={data['SED'].features}"]
        )
