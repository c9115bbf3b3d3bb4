"""A tiny, learnable feature dataset for trainer tests: random signal-encoder-width features with
each event's class written into a few feature channels over its span."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from uniav.config import EncoderSpec
from uniav.data.features import FeatureManifest, write_npz_features
from uniav.encoders import build_encoder
from uniav.media.grid import SnippetGrid

DIMS = (384, 256, 512)  # the signal encoder's widths
KINDS = {"TAL": (8, ("spin", "bounce", "slide")), "SED": (4, ("beep", "click", "buzz"))}


def make_task_data(root: Path, task: str, videos: int = 24, seed: int = 0) -> dict:
    stride, classes = KINDS[task]
    rng = np.random.default_rng(seed)
    grid = SnippetGrid(stride)
    enc = build_encoder(EncoderSpec.uniform("signal"))
    feats_dir = root / task.lower() / "features"
    feats_dir.mkdir(parents=True, exist_ok=True)
    FeatureManifest(EncoderSpec.uniform("signal"), enc.cache_key, *DIMS, grid).write(feats_dir / "manifest.json")
    db = {}
    for i in range(videos):
        vid = f"{task.lower()}_{i:03d}"
        duration = float(rng.uniform(8, 14))
        t = grid.num_snippets(duration)
        visual = rng.normal(0, 0.3, (t, DIMS[0])).astype(np.float32)
        audio = rng.normal(0, 0.3, (t, DIMS[1])).astype(np.float32)
        anns = []
        for _ in range(int(rng.integers(1, 3))):
            c = int(rng.integers(len(classes)))
            s = float(rng.uniform(0, duration - 3))
            e = float(min(duration, s + rng.uniform(1.0, 3.0)))
            anns.append({"segment": [round(s, 2), round(e, 2)], "label": classes[c], "label_id": c})
            centres = grid.centres(t)
            on = (centres >= s) & (centres <= e)
            visual[on, c * 8 : (c + 1) * 8] += 2.0
            audio[on, c * 8 : (c + 1) * 8] += 2.0
        write_npz_features(feats_dir / f"{vid}.npz", visual, audio, duration)
        subset = "training" if i < videos * 2 // 3 else ("validation" if i % 2 else "testing")
        db[vid] = {"subset": subset, "duration": round(duration, 3), "fps": 16, "annotations": anns}
    ann = root / task.lower() / "annotations.json"
    ann.write_text(json.dumps({"database": db}))
    (root / task.lower() / "classes.txt").write_text("\n".join(classes) + "\n")
    return {
        "annotations": str(ann),
        "features": str(feats_dir),
        "batch_size": 4,
        "train_split": ["training"],
        "val_split": ["validation"],
        "test_split": ["testing"],
        "overrides": {"max_seq_len": 64},
    }


def write_config(
    root: Path, tasks=("TAL", "SED"), epochs: int = 3, warmup: int = 1, stop_and_go: bool = True, **train
) -> Path:
    cfg = {
        "model": {
            "preset": "small",
            "encoder": {"kind": "signal"},
            "overrides": {"embd_dim": 32, "head_dim": 32, "n_head": 2, "droppath": 0.1},
        },
        "tasks": {t: make_task_data(root, t, seed=k) for k, t in enumerate(tasks)},
        "train": {
            "epochs": epochs,
            "warmup_epochs": warmup,
            "learning_rate": 2e-3,
            "log_every": 2,
            "ema_decay": 0.8,
            **train,
        },
        "stop_and_go": {"enabled": stop_and_go},
        "output": str(root / "run"),
    }
    path = root / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
