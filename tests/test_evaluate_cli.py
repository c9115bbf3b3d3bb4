"""Evaluation runner (predict_dataset, evaluate_model, prompt sources) and the `uniav evaluate` command."""

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
from uniav.data import (
    DetectionTable,
    FeatureManifest,
    NpzFeatureStore,
    TaskDataset,
    load_annotation_db,
    write_npz_features,
)
from uniav.data.config import TaskDataConfig
from uniav.evaluation.report import EvaluationReport, read_report, write_report
from uniav.evaluation.runner import evaluate_model, evaluate_predictions, load_prompt_embeddings, predict_dataset
from uniav.media.grid import SnippetGrid
from uniav.model.uniav import UniAV
from uniav.ops.windows import plan_windows
from uniav.pipeline.prompts import PromptEmbedder
from uniav.vocabularies import VocabularyError

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


def _prompts(model: UniAV) -> PromptEmbedder:
    """The model's training prompts as attached embeddings (no text encoder)."""
    model.attach_prompt_embeddings(_texts(model))
    return PromptEmbedder(model, None)


def _hash_text(dim: int):
    """A deterministic stand-in text encoder (one fixed random vector per prompt) that records its calls."""
    calls: list[list[str]] = []

    def encode(prompts):
        calls.append(list(prompts))
        rows = [np.random.default_rng(abs(hash(p)) % 2**32).standard_normal(dim) for p in prompts]
        return np.asarray(rows, dtype=np.float32)

    encode.calls = calls
    return encode


def _detections_equal(a: DetectionTable, b: DetectionTable) -> None:
    assert a.video_ids == b.video_ids
    np.testing.assert_array_equal(a.video_index, b.video_index)
    np.testing.assert_array_equal(a.label_ids, b.label_ids)
    np.testing.assert_allclose(a.segments, b.segments, atol=1e-4)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


# --------------------------------------------------------------------------- runner


def test_predict_dataset_structure(data) -> None:
    model = _model()
    ds = _datasets(model, data)["SED"]
    dets = predict_dataset(model, ds, _prompts(model), batch_size=2)
    assert isinstance(dets, DetectionTable) and len(dets) > 0
    assert set(dets.video_ids) <= set(ds.video_ids)
    assert list(dets.video_ids) == [v for v in ds.video_ids if v in dets.video_ids]  # dataset order
    durations = np.array([ds.ground_truth.videos[v].duration for v in dets.video_ids])[dets.video_index]
    assert (dets.segments[:, 0] >= 0).all() and (dets.segments[:, 1] <= durations + 1e-6).all()
    assert (dets.segments[:, 1] >= dets.segments[:, 0]).all()
    assert dets.label_ids.min() >= 0 and dets.label_ids.max() < 2
    assert (dets.scores > 0).all() and (dets.scores <= 1).all()
    # at most max_seg_num per window (videos longer than max_seq_len run in windows)
    task = model.config.task("SED")
    windows = {v: len(plan_windows(ds[i].visual.shape[0], task.max_seq_len)) for i, v in enumerate(ds.video_ids)}
    per_video = np.bincount(dets.video_index, minlength=len(dets.video_ids))
    caps = np.array([windows[v] for v in dets.video_ids]) * model.config.decode.max_seg_num
    assert (per_video <= caps).all() and (caps > model.config.decode.max_seg_num).any()
    assert not model.training


def test_predict_dataset_does_not_depend_on_the_batch_size(data) -> None:
    """Every window pads to max_seq_len, so batching windows of different videos equals one at a time."""
    model = _model()
    prompts = _prompts(model)
    for ds in _datasets(model, data, subsets=("test", "train")).values():
        one = predict_dataset(model, ds, prompts, batch_size=1)
        many = predict_dataset(model, ds, prompts, batch_size=4)
        _detections_equal(one, many)


def test_predict_dataset_restores_training_mode(data) -> None:
    model = _model().train()
    predict_dataset(model, _datasets(model, data)["TAL"], _prompts(model))
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
        gt = DetectionTable.from_arrays(vids, segs, labels, np.linspace(1.0, 0.5, len(vids)))
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
    report = evaluate_model(model, datasets, _prompts(model), batch_size=3)
    assert set(report.tasks) == {"TAL", "SED"}
    for name, tr in report.tasks.items():
        task = model.config.task(name)
        assert tuple(tr.result.tiou_thresholds) == task.tiou_thresholds
        assert tr.classes == task.labels
        assert 0.0 <= tr.result.average_mAP <= 1.0
        assert report.metadata["videos"][name] == len(datasets[name])
    # the same numbers as evaluating the predictions directly
    dets = predict_dataset(model, datasets["SED"], _prompts(model))
    direct = evaluate_predictions(datasets["SED"], dets)
    np.testing.assert_allclose(report.tasks["SED"].result.mAP, direct.result.mAP)


def test_evaluate_model_with_other_labels_is_an_open_vocabulary_evaluation(data) -> None:
    model = _model()
    ds = _datasets(model, data)["SED"]
    other = dataclasses.replace(ds.task, labels=("horn", "dog", "cat"))  # the file's two labels, reordered, + one
    ds2 = TaskDataset(other, load_annotation_db(data["SED"].annotations), ds.store, ("test",))
    encode = _hash_text(model.config.text_dim)
    report = evaluate_model(model, {"SED": ds2}, PromptEmbedder(model, encode))
    assert report.tasks["SED"].classes == ("horn", "dog", "cat")
    template = model.config.task("SED").prompt_template
    assert encode.calls[0] == [template.format(label=x) for x in ("horn", "dog", "cat")]


def test_prompt_sources(tmp_path: Path) -> None:
    model = _model()
    task = model.config.task("TAL")
    npy = tmp_path / "p.npy"
    np.save(npy, np.full((3, 16), 2.0))
    d = TaskDataConfig(annotations="a.json", features="f", prompt_embeddings=str(npy))
    assert torch.equal(load_prompt_embeddings(task, d, 16), torch.full((3, 16), 2.0))
    assert load_prompt_embeddings(task, dataclasses.replace(d, prompt_embeddings=None), 16) is None
    np.save(npy, np.zeros((2, 16)))
    with pytest.raises(ValueError, match=r"\(3, 16\)"):
        load_prompt_embeddings(task, d, 16)

    # the text encoder embeds the task's prompts, once each
    encode = _hash_text(16)
    prompts = PromptEmbedder(model, encode)
    emb = prompts.text(task.vocabulary)
    assert emb.shape == (3, 16) and encode.calls == [
        ["A visual event of run.", "A visual event of jump.", "A visual event of swim."]
    ]
    assert torch.equal(prompts.text(task.vocabulary), emb) and len(encode.calls) == 1
    # a "{label}" template prompts with the bare labels (the paper's "without prompt templates" variant)
    prompts.text(task.vocabulary.with_template("{label}"))
    assert encode.calls[-1] == ["run", "jump", "swim"]
    # attached embeddings serve the training prompts; without a text encoder a new prompt is refused
    model.attach_prompt_embeddings({"TAL": torch.full((3, 16), 5.0)})
    attached = PromptEmbedder(model, None)
    assert torch.equal(attached.text(task.vocabulary), torch.full((3, 16), 5.0))
    with pytest.raises(VocabularyError, match="no stored embedding for 'A visual event of dance.'"):
        attached.text(task.vocabulary.with_labels(["dance"]))
    conv = _model(classifier=ClassifierKind.CONV)
    assert PromptEmbedder(conv, encode).text(conv.config.task("TAL").vocabulary) is None


# --------------------------------------------------------------------------- the command


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    evaluate_cmd.add_arguments(parser)
    return evaluate_cmd.run(parser.parse_args(argv))


def _saved_model(tmp_path: Path) -> tuple[UniAV, Path]:
    model = _model()
    _prompts(model)  # attaches the training prompts' embeddings, saved with the model
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
    expected = evaluate_model(model, _datasets(model, data), _prompts(model))
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
    expected = evaluate_model(model, {"SED": _datasets(model, data)["SED"]}, _prompts(model))
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
