"""Build checkpoints/uniav-sounds, the bundled default model, and every figure of its model card.

    python scripts/build_default_model.py [--reuse] [--skip-variants]

1. Trains the recipe of `configs/uniav-sounds.yaml` (EfficientNet-Lite0 + YAMNet + MiniLM; UniAV-Sounds SED and
   AVEL, UniAV-Synth TAL) and, for comparison, the same recipe with `signal` vision and with all-`signal`
   encoders (each is exactly `uniav train` of a copy of the configuration with another `model.encoder`).
2. Measures, on the test split of UniAV-Sounds / UniAV-Synth: average mAP per task of the three models and of
   the training-free bridge (YAMNet / ImageNet scores bridged to the labels by MiniLM); zero-shot mAP on the
   held-out classes (`uniav evaluate --vocab`); top-3 recognition of the isolated test recordings with the
   42 main labels (what `tests/test_real_sounds.py` asserts); top detections on the real files of
   ../shared/media.
3. Writes the model with its card to checkpoints/uniav-sounds, and the figures to runs/uniav-sounds/figures.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "uniav-sounds.yaml"
OUT = ROOT / "checkpoints" / "uniav-sounds"
RUNS = ROOT / "runs"
# name -> (encoder, feature-folder suffix, run folder)
RECIPES = {
    "default": ({"visual": "effnet", "audio": "yamnet", "text": "minilm"}, "", "uniav-sounds"),
    "signal-vision": ({"visual": "signal", "audio": "yamnet", "text": "minilm"}, "-signal-vision", "uniav-sounds-sv"),
    "signal": ({"visual": "signal", "audio": "signal", "text": "signal"}, "-signal", "uniav-sounds-signal"),
}
EXTRA_LABELS = ("car horn", "dog barking", "rain", "music", "speech")  # beside the 42 main labels
REAL_MEDIA = (
    "big_buck_bunny_30s.webm",
    "chaplin.mp4",
    "video_with_failing_audio.mp4",
    "crunching.mp3",
    "rain_60s.mp3",
    "car_horn.wav",
    "dog_bark.wav",
    "human_voice_all_aboard.wav",
    "noise_16k.wav",
)


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def variant_config(name: str) -> Path:
    """The configuration of a recipe: the default one with another encoder, feature folders and output."""
    if name == "default":
        return CONFIG
    encoder, suffix, out = RECIPES[name]
    raw = yaml.safe_load(CONFIG.read_text())
    raw["model"]["encoder"] = encoder
    for task in raw["tasks"].values():
        task["features"] = task["features"].replace("uniav-sounds-features", f"uniav-sounds-features{suffix}")
    raw["output"] = f"../runs/{out}"
    path = ROOT / "configs" / f".variant-{name}.yaml"  # beside the original, so relative paths still hold
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def train(name: str, reuse: bool) -> Path:
    out = RUNS / RECIPES[name][2]
    if not (reuse and (out / "test_report.json").is_file()):
        run([sys.executable, "-m", "uniav", "train", str(variant_config(name)), "--quiet"])
    return out


def zero_shot(name: str, cfg, reuse: bool) -> dict[str, float]:
    """Average mAP of a recipe's model on the held-out classes (their own vocabulary, the model's template)."""
    from uniav.evaluation.report import read_report

    encoder, suffix, out = RECIPES[name]
    spec = ",".join(f"{k}={v}" for k, v in encoder.items())
    report_path = RUNS / out / "zeroshot_report.json"
    if not (reuse and report_path.is_file()):
        args = [sys.executable, "-m", "uniav", "evaluate", str(RUNS / out / "model"), "--subset", "testing_unseen"]
        for task in ("SED", "AVEL"):
            ann = Path(cfg.sounds.root) / task.lower() / "zeroshot" / "annotations.json"
            feats = ROOT / "data" / f"uniav-sounds-features{suffix}" / f"{task.lower()}-zeroshot"
            run(
                [sys.executable, "-m", "uniav", "extract", str(ann), "--media-dir", str(ann.parents[1] / "videos")]
                + ["--encoder", spec, "--task", task, "--out", str(feats), "--quiet"]
            )
            args += ["--data", f"{task}={ann}", "--features", f"{task}={feats}", "--vocab", f"{task}={ann.parent / 'classes.txt'}"]
        run(args + ["-o", str(report_path)])
    report = read_report(report_path)
    return {t: r.result.average_mAP for t, r in report.tasks.items()}


def bridge_reports(cfg) -> dict[str, dict[str, float]]:
    """The training-free bridge on the seen-class test split and on the held-out classes (default features)."""
    from uniav.baselines import BridgeDetector, evaluate_bridge
    from uniav.config import EncoderSpec
    from uniav.data.config import TaskDataConfig
    from uniav.data.dataset import load_task_dataset
    from uniav.encoders import build_encoder
    from uniav.model.uniav import UniAV

    model = UniAV.from_pretrained(RUNS / "uniav-sounds" / "model")
    encoder = build_encoder(EncoderSpec("effnet", "yamnet", "minilm"))
    bridge = BridgeDetector(encoder, encoder.encode_text, [model.config.task("SED"), model.config.task("AVEL")])
    seen, unseen = {}, {}
    for task in ("SED", "AVEL"):
        tcfg = model.config.task(task)
        ds = load_task_dataset(tcfg, cfg.tasks[task], "test")
        seen[task] = evaluate_bridge(bridge, ds).result.average_mAP
        ann = Path(cfg.sounds.root) / task.lower() / "zeroshot" / "annotations.json"
        labels = tuple((ann.parent / "classes.txt").read_text().split("\n"))
        zs_task = tcfg.__class__(**{**tcfg.to_dict(), "labels": tuple(x for x in labels if x)})
        data = TaskDataConfig(
            annotations=str(ann),
            features=str(ROOT / "data" / "uniav-sounds-features" / f"{task.lower()}-zeroshot"),
            test_split=("testing_unseen",),
        )
        unseen[task] = evaluate_bridge(bridge, load_task_dataset(zs_task, data, "test")).result.average_mAP
    return {"seen": seen, "unseen": unseen}


def main_labels() -> tuple[str, ...]:
    import csv

    from uniav.sounds.config import shared_folder

    with open(shared_folder("realsounds") / "clips.csv", newline="") as f:
        return tuple(dict.fromkeys(row["label"] for row in csv.DictReader(f)))


def recognition(cfg) -> dict[str, float]:
    """Top-3 / top-1 recognition of the test split's isolated recordings with the 42 main labels."""
    from uniav.baselines import BridgeDetector
    from uniav.encoders import FeatureCache
    from uniav.evaluation.recognition import ranked_labels, top_k_hits
    from uniav.pipeline.detector import Detector
    from uniav.sounds import SoundsConfig, evaluation_recordings

    sounds = SoundsConfig(root=Path(cfg.sounds.root), seed=cfg.sounds.seed, realsounds=Path(cfg.sounds.realsounds))
    recs = evaluation_recordings(sounds)
    labels = main_labels()
    det = Detector.from_pretrained(RUNS / "uniav-sounds" / "model", feature_cache=FeatureCache(ROOT / ".cache" / "f"))
    bridge = BridgeDetector(det.encoder, det.encoder.encode_text, [det.config.task("SED")])
    vocab = det.vocabulary("SED", labels)
    out = {}
    for name, rank in (
        ("model", lambda p: ranked_labels(det.run(p, ["SED"], [vocab], 0.0, None).tasks["SED"], labels)),
        ("bridge", lambda p: ranked_labels(bridge.run(p, [vocab.with_template("{label}")], 0.0, None).tasks["SED"], labels)),
    ):
        rankings = [rank(r.path) for r in recs]
        truths = [r.label for r in recs]
        held = [r.held_out for r in recs]
        for k in (1, 3):
            hits = top_k_hits(rankings, truths, k)
            out[f"{name} top-{k}"] = float(hits.mean())
            out[f"{name} top-{k} seen"] = float(hits[[not h for h in held]].mean())
            out[f"{name} top-{k} held-out"] = float(hits[held].mean())
    out["clips"] = len(recs)
    return out


def real_media() -> dict[str, dict[str, list]]:
    """Top detections of the default model and of the bridge on the real files of ../shared/media."""
    from uniav.baselines import BridgeDetector
    from uniav.encoders import FeatureCache
    from uniav.pipeline.detector import Detector
    from uniav.sounds.config import shared_folder

    det = Detector.from_pretrained(RUNS / "uniav-sounds" / "model", feature_cache=FeatureCache(ROOT / ".cache" / "f"))
    bridge = BridgeDetector(det.encoder, det.encoder.encode_text, [det.config.task("SED"), det.config.task("AVEL")])
    labels = (*main_labels(), *EXTRA_LABELS)
    table = {}
    for name in REAL_MEDIA:
        path = shared_folder("media") / name
        vocabs = [det.vocabulary(t, labels) for t in ("SED", "AVEL")]
        model = det.run(path, ["SED", "AVEL"], vocabs, threshold=0.0, top_k=3)
        base = bridge.run(path, [v.with_template("{label}") for v in vocabs], threshold=0.0, top_k=3)
        table[name] = {
            "model": {t: [d.to_dict() for d in r.detections] for t, r in model.ran.items()},
            "bridge": {t: [d.to_dict() for d in r.detections] for t, r in base.ran.items()},
        }
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reuse", action="store_true", help="keep runs and reports that already exist")
    ap.add_argument("--skip-variants", action="store_true", help="train only the default recipe")
    args = ap.parse_args()

    from uniav.evaluation.report import read_report
    from uniav.training.config import load_train_config

    cfg = load_train_config(CONFIG)
    figures: dict[str, object] = {"test": {}, "zero_shot": {}}
    start = time.time()
    for name in RECIPES if not args.skip_variants else ("default",):
        out = train(name, args.reuse)
        figures["test"][name] = {t: r.result.average_mAP for t, r in read_report(out / "test_report.json").tasks.items()}
        figures["zero_shot"][name] = zero_shot(name, cfg, args.reuse)
        records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        figures.setdefault("train_minutes", {})[name] = sum(r["seconds"] for r in records if r["type"] == "epoch") / 60
    figures["bridge"] = bridge_reports(cfg)
    figures["recognition"] = recognition(cfg)
    figures["real_media"] = real_media()
    figures["build_minutes"] = (time.time() - start) / 60
    (RUNS / "uniav-sounds" / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")

    from uniav.model.uniav import UniAV
    from uniav.model_card import sounds_model_card

    model = UniAV.from_pretrained(RUNS / "uniav-sounds" / "model")
    card = sounds_model_card(model.config, model.num_parameters(), figures)
    if OUT.exists():
        shutil.rmtree(OUT)
    model.save_pretrained(OUT, model_card=card)
    size = sum(f.stat().st_size for f in OUT.iterdir()) / 2**20
    print(f"wrote {OUT} ({size:.1f} MiB)")
    print(json.dumps({k: v for k, v in figures.items() if k != "real_media"}, indent=2))


if __name__ == "__main__":
    main()
