"""Time the ActivityNet-protocol evaluator on dataset-sized synthetic inputs.

    .venv/bin/python benchmarks/bench_evaluate.py [--videos 5000] [--per-video 100] [--repeat 3]

Settings (fixed seed):
- TAL: ActivityNet-like, 200 classes, 1-3 instances of one or two classes per video (30-240 s),
  predictions mostly on the video's classes (as with video-level class scores), 10 thresholds
  0.50:0.05:0.95.
- AVEL: UnAV-100-like, 100 classes, 1-6 overlapping events of several classes per video
  (10-60 s), 9 thresholds 0.1:0.1:0.9.
- stress: few videos with many predictions and instances of one class (heavy contention for
  the same ground truth), 9 thresholds.
Prints the best wall time of ``--repeat`` runs for evaluation alone, and the time to parse the
TAL predictions from the JSON-layout mapping.

Then (``--model-videos N``, default 200; 0 skips) the whole `evaluate_model` path per task on N videos of
random npz features: feature loading, grid transforms, the network (paper tasks and sequence lengths,
signal-encoder widths, D = 128), decoding, Soft-NMS and mAP; prints videos per second.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from uniav.data.annotations import Annotation, AnnotationDB, DetectionTable, VideoRecord, parse_predictions
from uniav.evaluation.map import evaluate_detections


def make_dataset(
    rng: np.random.Generator,
    n_videos: int,
    per_video: int,
    n_classes: int,
    duration: tuple[float, float],
    instances: tuple[int, int],
    classes_per_video: tuple[int, int],
    on_class: float,
) -> tuple[AnnotationDB, DetectionTable]:
    """Ground truth (validation subset) and ``per_video`` scored predictions per video."""
    videos: dict[str, VideoRecord] = {}
    vids, segs, labels, scores = [], [], [], []
    for v in range(n_videos):
        vid = f"v_{v:06d}"
        dur = float(rng.uniform(*duration))
        own = rng.choice(n_classes, size=rng.integers(classes_per_video[0], classes_per_video[1] + 1), replace=False)
        n_inst = int(rng.integers(instances[0], instances[1] + 1))
        length = rng.uniform(0.05, 0.6, n_inst) * dur
        start = rng.uniform(0, dur - length)
        lab = rng.choice(own, size=n_inst)
        anns = tuple(
            Annotation(round(float(s), 3), round(float(s + w), 3), f"c{c}", int(c))
            for s, w, c in zip(start, length, lab, strict=True)
        )
        videos[vid] = VideoRecord(vid, "validation", dur, None, anns)

        # predictions: jittered copies of instances (localisation noise) and random segments
        near = rng.random(per_video) < 0.5
        src = rng.integers(0, n_inst, per_video)
        centre = np.where(near, start[src] + length[src] / 2, rng.uniform(0, dur, per_video))
        width = np.where(near, length[src], rng.uniform(0.02, 0.5, per_video) * dur)
        centre = centre + rng.normal(0, 0.15, per_video) * width
        width = width * np.exp(rng.normal(0, 0.25, per_video))
        s = np.clip(centre - width / 2, 0, dur)
        e = np.clip(centre + width / 2, 0, dur)
        c = np.where(
            rng.random(per_video) < on_class, rng.choice(own, per_video), rng.integers(0, n_classes, per_video)
        )
        c = np.where(near & (rng.random(per_video) < on_class), lab[src], c)
        p = np.clip(rng.beta(2, 5, per_video) + 0.3 * near, 0, 1)
        vids.append(np.full(per_video, vid))
        segs.append(np.stack([s, e], axis=1))
        labels.append(c)
        scores.append(p)
    db = AnnotationDB(classes=tuple(f"c{i}" for i in range(n_classes)), videos=videos)
    dets = DetectionTable.from_arrays(
        np.concatenate(vids), np.concatenate(segs), np.concatenate(labels), np.concatenate(scores)
    )
    return db, dets


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=5000)
    parser.add_argument("--per-video", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model-videos", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    settings = {
        "TAL  (200 classes, 10 thr)": (
            dict(n_classes=200, duration=(30, 240), instances=(1, 3), classes_per_video=(1, 2), on_class=0.9),
            np.linspace(0.5, 0.95, 10),
            args.videos,
            args.per_video,
        ),
        "AVEL (100 classes,  9 thr)": (
            dict(n_classes=100, duration=(10, 60), instances=(1, 6), classes_per_video=(1, 4), on_class=0.7),
            np.linspace(0.1, 0.9, 9),
            args.videos,
            args.per_video,
        ),
        "stress (1 class, 2000 preds x 60 gt per video, 9 thr)": (
            dict(n_classes=1, duration=(60, 60), instances=(60, 60), classes_per_video=(1, 1), on_class=1.0),
            np.linspace(0.1, 0.9, 9),
            50,
            2000,
        ),
    }
    print(f"numpy {np.__version__}; best of {args.repeat}")
    for name, (kw, thr, n_videos, per_video) in settings.items():
        db, dets = make_dataset(rng, n_videos, per_video, **kw)
        secs, res = best_of(
            args.repeat, lambda db=db, dets=dets, thr=thr: evaluate_detections(db, dets, "validation", thr)
        )
        print(
            f"{name}: {n_videos} videos, {len(dets):,} predictions, {db.num_annotations:,} instances -> "
            f"{secs:.3f} s  (average mAP {100 * res.average_mAP:.2f} %)"
        )
        if name.startswith("TAL"):
            layout = {"database": {}}
            for vid, (s, e), c, p in zip(
                np.asarray(dets.video_ids)[dets.video_index].tolist(),
                dets.segments.tolist(),
                dets.label_ids.tolist(),
                dets.scores.tolist(),
                strict=True,
            ):
                layout["database"].setdefault(vid, []).append({"segment": [s, e], "label_id": c, "scores": p})
            secs, _ = best_of(args.repeat, lambda layout=layout: parse_predictions(layout))
            print(f"  parsing those predictions from the JSON-layout mapping: {secs:.3f} s")
    if args.model_videos > 0:
        bench_evaluate_model(args.model_videos, args.batch_size)


def bench_evaluate_model(n_videos: int, batch_size: int) -> None:
    """Time `evaluate_model` per task on `n_videos` videos of random features (see the module docstring)."""
    import dataclasses
    import json
    import tempfile
    from pathlib import Path

    import torch

    from uniav.config import EncoderSpec, ModelConfig, paper_tasks
    from uniav.data import FeatureManifest, NpzFeatureStore, TaskDataset, load_annotation_db, write_npz_features
    from uniav.evaluation.runner import evaluate_model
    from uniav.media.grid import SnippetGrid
    from uniav.model.uniav import UniAV
    from uniav.pipeline.prompts import PromptEmbedder, lazy_text_encoder

    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    tasks = tuple(dataclasses.replace(t, labels=t.labels[:20]) for t in paper_tasks())
    cfg = ModelConfig(
        tasks=tasks,
        visual_dim=384,
        audio_dim=256,
        text_dim=512,
        embd_dim=128,
        head_dim=128,
        droppath=0.0,
        encoder=EncoderSpec.uniform("signal"),
    )
    model = UniAV(cfg).eval()
    prompts = PromptEmbedder(model, lazy_text_encoder(cfg.encoder))  # the signal text part, as `uniav evaluate`
    steps = {"TAL": (60, 480), "AVEL": (40, 240), "SED": (40, 40)}  # native steps per video
    print(f"evaluate_model: {n_videos} videos per task, batch {batch_size}, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            folder = Path(tmp) / task.name
            db = {}
            for i in range(n_videos):
                t = int(rng.integers(steps[task.name][0], steps[task.name][1] + 1))
                dur = (t * task.feat_stride + 8) / 16
                write_npz_features(folder / f"v{i}.npz", rng.normal(size=(t, 384)), rng.normal(size=(t, 256)), dur)
                s, k = float(rng.uniform(0, dur / 2)), i % task.num_classes
                db[f"v{i}"] = {
                    "subset": "test",
                    "duration": dur,
                    "annotations": [{"segment": [s, s + dur / 4], "label": task.labels[k], "label_id": k}],
                }
            FeatureManifest(cfg.encoder, "bench", 384, 256, 512, SnippetGrid(task.feat_stride)).write(
                folder / "manifest.json"
            )
            (folder / "ann.json").write_text(json.dumps({"database": db}))
            ds = TaskDataset(task, load_annotation_db(folder / "ann.json"), NpzFeatureStore(folder), ["test"])
            t0 = time.perf_counter()
            report = evaluate_model(model, {task.name: ds}, prompts, batch_size=batch_size)
            secs = time.perf_counter() - t0
            print(
                f"  {task.name:<4} ({steps[task.name][0]}-{steps[task.name][1]} steps, max_seq_len "
                f"{task.max_seq_len}): {secs:.2f} s, {n_videos / secs:.1f} videos/s, "
                f"{report.metadata['predictions'][task.name]:,} predictions"
            )


if __name__ == "__main__":
    main()
