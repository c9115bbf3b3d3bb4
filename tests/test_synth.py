"""UniAV-Synth: determinism, file layout and format, and cues measurable in the decoded media.

Media are decoded with PyAV directly. A sound cue is the energy in its class's frequency band;
a visual cue is the share of pixels of the object's slot that change between frames. "Outside"
an event means times when nothing else with an overlapping band (or in the same slot) happens.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from uniav.commands import synth as synth_cmd
from uniav.synth.canvas import Box
from uniav.synth.config import SUBSETS, SynthConfig
from uniav.synth.dataset import annotation_database, generate, plan_dataset
from uniav.synth.plan import PlannedEvent, VideoPlan
from uniav.synth.render import iter_frames, render_audio
from uniav.synth.schedule import Planner, vocabulary, without_event
from uniav.synth.sounds import tail_seconds
from uniav.synth.stats import kind_stats
from uniav.synth.vocab import BANDS, CLASSES, Kind, Timbre
from uniav.synth.writer import write_mp4

SR = 16000
FPS = 16
CLI_ARGS = ["--videos", "3", "--seed", "7", "--max-duration", "12"]
ASSET_ARGS = ["--videos", "2", "--seed", "1", "--max-duration", "30"]  # how assets/synth was made (README, UniAV-Synth)
MIN_SOUND_DB = 6.0  # event band energy over the same band outside it
MIN_MOTION_RATIO = 3.0  # changed pixels in the object's slot, event over outside
CHANGED = 40  # a pixel "changes" when a channel moves by more than this (0-255): real motion, not camera sway


# ---------------------------------------------------------------- decoding and measuring


def decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frames (T, H, W, 3) uint8, mono audio float32) of an MP4, decoded with PyAV."""
    with av.open(str(path)) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    with av.open(str(path)) as c:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    return frames, audio


def band_power(
    audio: np.ndarray, lo: float, hi: float, win: int = 512, hop: int = 160
) -> tuple[np.ndarray, np.ndarray]:
    """Per-hop energy in [lo, hi] Hz and the hop centres (s)."""
    n = (len(audio) - win) // hop + 1
    idx = np.arange(n)[:, None] * hop + np.arange(win)[None, :]
    spec = np.abs(np.fft.rfft(audio[idx] * np.hanning(win), axis=1)) ** 2
    f = np.fft.rfftfreq(win, 1.0 / SR)
    return spec[:, (f >= lo) & (f <= hi)].sum(1), (np.arange(n) * hop + win / 2) / SR


def changed_pixels(frames: np.ndarray, box: Box) -> np.ndarray:
    """(T,) share of the box's pixels that changed from the previous frame (0 for the first)."""
    r = frames[:, box.y0 : box.y1, box.x0 : box.x1].astype(np.int16)
    d = (np.abs(np.diff(r, axis=0)).max(axis=3) > CHANGED).mean(axis=(1, 2))
    return np.concatenate([[0.0], d])


def sound_band(ev: PlannedEvent) -> tuple[float, float]:
    assert ev.sound is not None
    if ev.sound.timbre is Timbre.RECORDING:
        return (80.0, 7000.0)
    return BANDS[ev.sound.timbre]


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def sound_ratio_db(plan: VideoPlan, ev: PlannedEvent, audio: np.ndarray) -> float | None:
    """95th-percentile band energy (its bursts) inside the event over outside it, in dB (None: no clean outside)."""
    band = sound_band(ev)
    power, centre = band_power(audio, *band)
    inside = (centre >= ev.start) & (centre < ev.end)
    busy = np.zeros_like(inside)
    for other in plan.events:
        if other.sound is not None and overlaps(sound_band(other), band):
            busy |= (centre > other.sound.start - 0.12) & (centre < other.sound.end + 0.12)
    clean = ~busy
    if clean.sum() < 20 or inside.sum() < 2:
        return None
    return float(10 * np.log10(np.percentile(power[inside], 95) / np.percentile(power[clean], 95)))


def quiet_frames(plan: VideoPlan, slot: Box, t: np.ndarray) -> np.ndarray:
    """Frames at which no object in `slot` acts, appears or vanishes."""
    quiet = t > 0
    for other in plan.events:
        o = other.visual
        if o is not None and o.slot == slot:
            quiet &= (t < o.start - 0.2) | (t > o.end + 0.5)
            quiet &= (np.abs(t - o.show_from) > 0.1) & (np.abs(t - o.show_to) > 0.1)
    return quiet


def motion_ratio(plan: VideoPlan, ev: PlannedEvent, frames: np.ndarray) -> float:
    """Mean changed-pixel share in the object's slot while it acts, over the same slot when quiet
    (or, when the event leaves the slot no quiet time, over the other slots' quiet frames)."""
    vis = ev.visual
    assert vis is not None
    t = np.arange(len(frames)) / FPS
    m = changed_pixels(frames, vis.slot)
    inside = (t >= vis.start + 1.0 / FPS) & (t < vis.end)
    quiet = quiet_frames(plan, vis.slot, t)
    if quiet.sum() >= 8:
        reference = m[quiet].mean()
    else:
        others = {o.visual.slot for o in plan.events if o.visual is not None and o.visual.slot != vis.slot}
        cells = [Box(x, y, x + vis.slot.w, y + vis.slot.h) for x in (0, vis.slot.w) for y in (0, vis.slot.h)]
        pooled = [changed_pixels(frames, c)[quiet_frames(plan, c, t)] for c in cells if c != vis.slot]
        assert others or pooled
        reference = np.concatenate(pooled).mean()
    return float(m[inside].mean() / max(reference, 1e-3))


# ---------------------------------------------------------------- fixtures


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    synth_cmd.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def cli_config() -> SynthConfig:
    return synth_cmd.config_from_args(_parse(["unused", *CLI_ARGS]))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_a")
    assert synth_cmd.run(_parse([str(out), *CLI_ARGS, "--workers", "2", "--quiet"])) == 0
    return out


@pytest.fixture(scope="module")
def dataset_again(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_b")
    assert synth_cmd.run(_parse([str(out), *CLI_ARGS, "--workers", "1", "--quiet"])) == 0
    return out


@pytest.fixture(scope="module")
def plans(cli_config) -> dict[Kind, list[VideoPlan]]:
    return {k: p for k, (_, p) in plan_dataset(cli_config).items()}


@pytest.fixture(scope="module")
def decoded(dataset, plans) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {p.video_id: decode(dataset / k.value / "videos" / f"{p.video_id}.mp4") for k in Kind for p in plans[k]}


# ---------------------------------------------------------------- determinism, layout, format


def test_same_seed_gives_same_annotations_and_media(dataset, dataset_again):
    for kind in ("tal", "avel", "sed"):
        for name in ("annotations.json", "classes.txt"):
            assert (dataset / kind / name).read_bytes() == (dataset_again / kind / name).read_bytes()
        videos = sorted((dataset / kind / "videos").glob("*.mp4"))
        assert len(videos) == 3
        for path in videos:
            twin = dataset_again / kind / "videos" / path.name
            (fa, aa), (fb, ab) = decode(path), decode(twin)
            assert np.array_equal(fa, fb) and np.array_equal(aa, ab), path.name
            assert path.read_bytes() == twin.read_bytes(), f"{path.name}: same media but different bytes"


def test_other_seed_gives_other_data(tmp_path, cli_config):
    other = plan_dataset(replace(cli_config, seed=8, kinds=(Kind.AVEL,)))[Kind.AVEL][1]
    same = plan_dataset(replace(cli_config, kinds=(Kind.AVEL,)))[Kind.AVEL][1]
    assert [p.annotation_record() for p in other] != [p.annotation_record() for p in same]


def test_annotation_files_have_the_authors_layout(dataset, plans):
    for kind in Kind:
        folder = dataset / kind.value
        db = json.loads((folder / "annotations.json").read_text())
        assert list(db) == ["database"]
        classes = (folder / "classes.txt").read_text().splitlines()
        assert classes == [c.label for c in CLASSES[kind]] and len(classes) >= 8
        assert sorted(db["database"]) == sorted(p.stem for p in (folder / "videos").glob("*.mp4"))
        assert {r["subset"] for r in db["database"].values()} == set(SUBSETS)
        for vid, rec in db["database"].items():
            assert list(rec) == ["subset", "duration", "fps", "annotations"]
            assert rec["fps"] == FPS and rec["duration"] * FPS == int(rec["duration"] * FPS)
            for ann in rec["annotations"]:
                assert list(ann) == ["segment", "label", "label_id"]
                s, e = ann["segment"]
                assert 0 <= s < e <= rec["duration"], (vid, ann)
                assert classes[ann["label_id"]] == ann["label"]
        assert db == json.loads(json.dumps({"database": {p.video_id: p.annotation_record() for p in plans[kind]}}))
    settings = json.loads((dataset / "synth.json").read_text())
    assert settings["seed"] == 7 and settings["videos_per_kind"] == 3


def test_media_format_and_lengths(dataset, plans, decoded):
    for kind in Kind:
        for plan in plans[kind]:
            path = dataset / kind.value / "videos" / f"{plan.video_id}.mp4"
            with av.open(str(path)) as c:
                v, a = c.streams.video[0], c.streams.audio[0]
                assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
                assert (v.width, v.height) == (160, 120) and v.average_rate == FPS
                assert a.sample_rate == SR and a.codec_context.layout.nb_channels == 1
            frames, audio = decoded[plan.video_id]
            assert len(frames) == plan.num_frames
            # AAC pads the last frame: up to 1023 extra samples, never fewer than the video's length.
            assert plan.num_frames * SR // FPS <= len(audio) < plan.num_frames * SR // FPS + 1024


# ---------------------------------------------------------------- cues in the decoded media


def test_every_annotated_event_is_measurable_in_the_decoded_media(plans, decoded):
    checked_sound = checked_visual = 0
    for kind in Kind:
        for plan in plans[kind]:
            frames, audio = decoded[plan.video_id]
            for ev in plan.annotated_events:
                if kind is Kind.TAL:
                    assert ev.visual is not None and ev.sound is None
                if kind is Kind.SED:
                    assert ev.visual is None and ev.sound is not None
                if kind is Kind.AVEL:
                    assert ev.visual is not None and ev.sound is not None
                if ev.sound is not None:
                    db = sound_ratio_db(plan, ev, audio)
                    if db is not None:
                        checked_sound += 1
                        assert db >= MIN_SOUND_DB, f"{plan.video_id} {ev.label} {ev.start}-{ev.end}: {db:.1f} dB"
                if ev.visual is not None:
                    ratio = motion_ratio(plan, ev, frames)
                    checked_visual += 1
                    assert ratio >= MIN_MOTION_RATIO, f"{plan.video_id} {ev.label}: motion x{ratio:.1f}"
    n_sound = sum(1 for k in (Kind.AVEL, Kind.SED) for p in plans[k] for e in p.annotated_events)
    assert checked_sound >= 0.8 * n_sound and checked_visual >= 10


@pytest.fixture(scope="module")
def class_gallery(tmp_path_factory) -> list[tuple[VideoPlan, np.ndarray, np.ndarray]]:
    """One short video per class of every sub-dataset, the event at the lowest level of its range."""
    out = tmp_path_factory.mktemp("gallery")
    config = SynthConfig(seed=11, videos=1)
    result = []
    for kind in Kind:
        planner = Planner(config, kind, vocabulary(kind))
        for ci in range(len(CLASSES[kind])):
            plan = planner.single(0, ci, start=1.2, length=2.2, duration=4.0, idle=0.8)
            path = out / f"{plan.video_id}_{ci}.mp4"
            write_mp4(path, iter_frames(plan, config.media), render_audio(plan, config.media), config.media)
            result.append((plan, *decode(path)))
    return result


def test_every_class_cue_is_measurable(class_gallery):
    seen = set()
    for plan, frames, audio in class_gallery:
        ev = plan.annotated_events[0]
        seen.add((plan.kind, ev.label))
        if ev.sound is not None:
            db = sound_ratio_db(plan, ev, audio)
            assert db is not None and db >= MIN_SOUND_DB, f"{plan.kind.value} {ev.label}: {db} dB"
        if ev.visual is not None:
            assert motion_ratio(plan, ev, frames) >= MIN_MOTION_RATIO, f"{plan.kind.value} {ev.label}"
    assert len(seen) == sum(len(c) for c in CLASSES.values())


def test_avel_sounds_start_on_the_beats_the_picture_follows(class_gallery):
    """Each beat (an impact, flash or strike the picture shows) starts a burst of the class's sound."""
    for plan, _, audio in class_gallery:
        ev = plan.annotated_events[0]
        if plan.kind is not Kind.AVEL or not ev.sound.beats:
            continue
        assert ev.visual.beats == ev.sound.beats and ev.start == ev.sound.beats[0]
        power, centre = band_power(audio, *sound_band(ev), win=128, hop=32)
        for b in ev.sound.beats:
            after = power[(centre >= b + 0.004) & (centre < b + 0.03)].mean()
            before = power[(centre >= b - 0.03) & (centre < b - 0.006)].mean()
            assert after > 4 * before, f"{ev.label} beat {b}: {after:.3g} vs {before:.3g} before"
        assert ev.end == pytest.approx(ev.sound.beats[-1] + tail_seconds(ev.sound.timbre, ev.sound.hold))


@pytest.fixture(scope="module")
def avel_with_distractors(tmp_path_factory, cli_config) -> list[tuple[VideoPlan, np.ndarray, np.ndarray]]:
    """Decoded AVEL videos holding, between them, both kinds of distractors (seen only, heard only)."""
    out = tmp_path_factory.mktemp("distractors")
    config = replace(cli_config, seed=21, videos=12, kinds=(Kind.AVEL,))
    [(_, plans)] = plan_dataset(config).values()
    chosen, kinds = [], set()
    for plan in plans:
        new = {"seen" if e.visual is not None else "heard" for e in plan.events if not e.annotated} - kinds
        if new:
            chosen.append(plan)
            kinds |= new
    assert kinds == {"seen", "heard"}, "the AVEL plans hold no distractor of one kind"
    result = []
    for plan in chosen:
        path = out / f"{plan.video_id}.mp4"
        write_mp4(path, iter_frames(plan, config.media), render_audio(plan, config.media), config.media)
        result.append((plan, *decode(path)))
    return result


def test_avel_distractors_lack_one_modality(avel_with_distractors, cli_config):
    media = cli_config.media
    checked = set()
    for plan, frames, audio in avel_with_distractors:
        for i, ev in enumerate(plan.events):
            if ev.annotated:
                continue
            assert (ev.visual is None) != (ev.sound is None), "a distractor has exactly one modality"
            rest = without_event(plan, i)
            if ev.visual is None:  # heard only: the picture is exactly the one without it, the sound is there
                a = np.concatenate(list(iter_frames(plan, media)))
                assert np.array_equal(a, np.concatenate(list(iter_frames(rest, media))))
                db = sound_ratio_db(plan, ev, audio)
                assert db is None or db >= MIN_SOUND_DB, f"{plan.video_id} {ev.label}: {db} dB"
                checked.add("heard")
                continue
            # seen only: the sound track is exactly the one without it, the picture moves, its band is quiet
            assert np.array_equal(render_audio(plan, media), render_audio(rest, media))
            assert motion_ratio(plan, ev, frames) >= MIN_MOTION_RATIO
            cls = next(c for c in CLASSES[Kind.AVEL] if c.label == ev.label)
            power, centre = band_power(audio, *cls.band)
            inside = (centre >= ev.start) & (centre < ev.end)
            busy = np.zeros_like(inside)
            for other in plan.events:
                if other.sound is not None and overlaps(sound_band(other), cls.band):
                    busy |= (centre > other.sound.start - 0.12) & (centre < other.sound.end + 0.12)
            if (inside & ~busy).sum() >= 10 and (~busy & ~inside).sum() >= 20:
                level = np.percentile(power[inside & ~busy], 95) / np.percentile(power[~busy & ~inside], 95)
                assert 10 * np.log10(level) < 3.0, f"{plan.video_id} {ev.label}: a silent distractor is heard"
                checked.add("seen")
    assert checked == {"seen", "heard"}


# ---------------------------------------------------------------- statistics and vocabularies


def test_durations_spread_over_the_pyramid_levels():
    config = SynthConfig(seed=0, videos=100)
    planned = plan_dataset(config)
    stats = {k: kind_stats(k, plans, vocab.labels) for k, (vocab, plans) in planned.items()}
    assert all(n > 0 for n in stats[Kind.TAL].levels) and all(n > 0 for n in stats[Kind.AVEL].levels)
    assert all(n > 0 for n in stats[Kind.SED].levels[:4])  # 10-s clips: longest events sit at level 3
    assert stats[Kind.TAL].video_seconds[0] >= 30 and stats[Kind.TAL].video_seconds[2] <= 180
    assert stats[Kind.AVEL].video_seconds[0] >= 10 and stats[Kind.AVEL].video_seconds[2] <= 60
    assert stats[Kind.SED].video_seconds == (10.0, 10.0, 10.0)
    sed = stats[Kind.SED]
    assert sed.share_under_1s >= 0.3 and sed.event_seconds[0] >= 0.1 and sed.events_per_video >= 2.5
    assert stats[Kind.AVEL].distractors >= 100
    for s in stats.values():
        assert all(n > 0 for n in s.per_class.values()), s.per_class
    for plan in planned[Kind.SED][1]:  # SED clips are soundscapes: events overlap
        spans = sorted((e.start, e.end) for e in plan.annotated_events)
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)):
            break
    else:
        pytest.fail("no SED clip has overlapping events")


def test_vocabularies_overlap_partly():
    labels = {k: {c.label for c in v} for k, v in CLASSES.items()}
    for a, b in ((Kind.TAL, Kind.AVEL), (Kind.AVEL, Kind.SED)):
        assert labels[a] & labels[b] and labels[a] != labels[b]
    for kind in Kind:  # a shared label is made by the same generator
        for cls in CLASSES[kind]:
            for other in CLASSES[Kind.AVEL]:
                if other.label == cls.label and cls.timbre is not None:
                    assert other.timbre is cls.timbre
                if other.label == cls.label and cls.visual is not None:
                    assert other.visual is cls.visual


# ---------------------------------------------------------------- real recordings and errors


def test_sounds_folder_adds_recorded_classes(tmp_path, media_dir):
    sounds = tmp_path / "sounds"
    for label, name in (("car_horn", "car_horn.wav"), ("dog bark", "dog_bark.wav"), ("door_knock", "dog_bark.wav")):
        (sounds / label).mkdir(parents=True)
        (sounds / label / name).symlink_to(media_dir / name)
    config = SynthConfig(seed=3, videos=2, kinds=(Kind.SED,), sounds_dir=sounds)
    [out] = generate(config, tmp_path / "out", workers=1)
    classes = (tmp_path / "out" / "sed" / "classes.txt").read_text().splitlines()
    synthetic = [c.label for c in CLASSES[Kind.SED]]
    assert classes == synthetic + ["car horn", "dog bark"]  # "door knock" recordings join the synthetic class
    assert list(out.classes) == classes
    # Each recorded class, alone in a clip: the recording (trimmed of silence) is heard at its annotated time.
    from uniav.synth.recordings import load_recordings

    bank = load_recordings(sounds, SR)
    planner = Planner(config, Kind.SED, vocabulary(Kind.SED, bank))
    for ci in (len(synthetic), len(synthetic) + 1):
        plan = planner.single(0, ci, start=2.0, length=2.0, duration=6.0)
        ev = plan.annotated_events[0]
        assert ev.sound.timbre is Timbre.RECORDING and 0.05 <= ev.end - ev.start <= 3.0
        clip = bank[ev.label][0].samples
        assert len(ev.sound.samples) == len(clip) and np.array_equal(ev.sound.samples, clip)
        path = tmp_path / f"{ev.label}.mp4"
        write_mp4(path, iter_frames(plan, config.media), render_audio(plan, config.media), config.media)
        _, audio = decode(path)
        db = sound_ratio_db(plan, ev, audio)
        assert db is not None and db >= MIN_SOUND_DB, f"{ev.label}: {db} dB"


def test_bad_sounds_folder_and_arguments_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        generate(SynthConfig(videos=1, kinds=(Kind.SED,), sounds_dir=tmp_path / "nope"), tmp_path / "o")
    (tmp_path / "s" / "empty_label").mkdir(parents=True)
    with pytest.raises(ValueError, match="no audio files"):
        generate(SynthConfig(videos=1, kinds=(Kind.SED,), sounds_dir=tmp_path / "s"), tmp_path / "o")
    (tmp_path / "s" / "empty_label" / "x.wav").write_text("not audio")
    with pytest.raises(ValueError, match="x.wav"):
        generate(SynthConfig(videos=1, kinds=(Kind.SED,), sounds_dir=tmp_path / "s"), tmp_path / "o")
    with pytest.raises(ValueError, match="--kinds"):
        synth_cmd.parse_kinds("tal,speech")
    with pytest.raises(ValueError, match="twice"):
        synth_cmd.parse_kinds("sed,sed")
    with pytest.raises(ValueError, match="--videos"):
        SynthConfig(videos=0)


# ---------------------------------------------------------------- the example clips


def test_example_assets_are_this_generators_output(repo_root):
    """assets/synth is `uniav synth assets/synth` + ASSET_ARGS: regenerate it when the generator changes."""
    config = synth_cmd.config_from_args(_parse(["unused", *ASSET_ARGS]))
    total = 0
    for kind, (vocab, plans) in plan_dataset(config).items():
        folder = repo_root / "assets" / "synth" / kind.value
        assert (folder / "annotations.json").read_text() == json.dumps(annotation_database(plans)) + "\n"
        assert (folder / "classes.txt").read_text().splitlines() == list(vocab.labels)
        for plan in plans:
            path = folder / "videos" / f"{plan.video_id}.mp4"
            total += path.stat().st_size
            with av.open(str(path)) as c:
                assert c.streams.video[0].frames == plan.num_frames
    assert total < 4 * 2**20


# ---------------------------------------------------------------- the project's loader


def test_annotations_load_with_the_project_loader(dataset):
    from uniav.data.annotations import load_annotation_db

    for kind in Kind:
        folder = dataset / kind.value
        classes = (folder / "classes.txt").read_text().splitlines()
        db = load_annotation_db(folder / "annotations.json", classes=classes)
        raw = json.loads((folder / "annotations.json").read_text())["database"]
        assert db.classes == tuple(c.label for c in CLASSES[kind])
        alone = load_annotation_db(folder / "annotations.json")  # names and ids agree without classes.txt too
        used = {a["label_id"]: a["label"] for r in raw.values() for a in r["annotations"]}
        assert all(alone.classes[i] == name for i, name in used.items())
        assert set(db.videos) == set(raw)
        for vid, rec in db.videos.items():
            assert rec.video_id == vid and rec.subset == raw[vid]["subset"] and rec.fps == FPS
            assert rec.duration == pytest.approx(raw[vid]["duration"])
            got = sorted((a.start, a.end, a.label, a.label_id) for a in rec.annotations)
            want = sorted((*a["segment"], a["label"], a["label_id"]) for a in raw[vid]["annotations"])
            assert [g[2:] for g in got] == [w[2:] for w in want]
            assert np.allclose(np.reshape([g[:2] for g in got], (-1, 2)), np.reshape([w[:2] for w in want], (-1, 2)))
